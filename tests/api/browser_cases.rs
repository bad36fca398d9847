//! The case pages in real headless Chromium: `tests/browser/cases.mjs` takes a ticket at the kiosk, accepts
//! a case at window A1 with a non-key material missing (容缺受理; a missing key material gets the one-time
//! notice instead), has the department claim and approve it in its work queue, hands the result over at
//! the unified delivery window with the SMS pick-up code, and checks the timeline, the single trip, the
//! public tracking page, the township's 403 on a county-level step and the trip report; axe on every page.
//!
//! The SMS goes through the real HTTP gateway to a stand-in provider (`SMS_INBOX` for the script): the
//! pick-up code is read "on the phone", while the admin outbox page shows it masked.

use crate::backend_tests;
use crate::browser::{run_script_env, sms_stand_in};
use crate::helpers::{spawn_app_with, Db};

async fn case_pages(db: Db) {
    let (opts, inbox) = sms_stand_in().await;
    let app = spawn_app_with(db, opts).await;
    run_script_env(&app, "cases", &[("SMS_INBOX", inbox)]).await;
}

backend_tests!(case_pages);
