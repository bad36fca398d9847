//! The citizen's portal in real headless Chromium at a phone-sized viewport: `tests/browser/portal.mjs`
//! signs in with the SMS code, applies for a zero-trip item with uploads, has staff pre-accept, approve
//! and ship by free express, confirms receipt and rates 非常满意 (trips 0), saves a draft, answers a
//! correction, books an appointment, and runs axe on every citizen page.
//!
//! The SMS goes through the real HTTP gateway to a stand-in provider here that keeps an inbox per phone
//! (`SMS_INBOX` for the script): the citizen reads the code "on their phone", while the admin outbox page
//! shows it masked.

use crate::backend_tests;
use crate::browser::{run_script_env, sms_stand_in};
use crate::helpers::{spawn_app_with, Db};

async fn portal_pages(db: Db) {
    let (opts, inbox) = sms_stand_in().await;
    let app = spawn_app_with(db, opts).await;
    run_script_env(&app, "portal", &[("SMS_INBOX", inbox)]).await;
}

backend_tests!(portal_pages);
