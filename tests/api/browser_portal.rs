//! The citizen's portal in real headless Chromium at a phone-sized viewport: `tests/browser/portal.mjs`
//! signs in with the SMS code from the log gateway, applies for a zero-trip item with uploads, has staff
//! pre-accept, approve and ship by free express, confirms receipt and rates 非常满意 (trips 0), books an
//! appointment, and runs axe on every citizen page.

use crate::backend_tests;
use crate::browser::run_script;
use crate::helpers::{spawn_app, Db};

async fn portal_pages(db: Db) {
    let app = spawn_app(db).await;
    run_script(&app, "portal").await;
}

backend_tests!(portal_pages);
