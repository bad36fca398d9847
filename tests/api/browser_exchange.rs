//! Data exchange in real headless Chromium: `tests/browser/exchange.mjs` accepts 补领婚姻登记证 with the
//! marriage archive certificate missing, looks the marriage record up on the case page, sees the checklist
//! mark it verified, and finds the lookup on the citizen's "who used my data" page; axe on both pages.

use crate::backend_tests;
use crate::browser::run_script;
use crate::helpers::{spawn_app, Db};

async fn exchange_pages(db: Db) {
    let app = spawn_app(db).await;
    run_script(&app, "exchange").await;
}

backend_tests!(exchange_pages);
