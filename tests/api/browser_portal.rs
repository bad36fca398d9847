//! The citizen's portal in real headless Chromium at a phone-sized viewport: `tests/browser/portal.mjs`
//! signs in with the SMS code, applies for a zero-trip item with uploads, has staff pre-accept, approve
//! and ship by free express, confirms receipt and rates 非常满意 (trips 0), saves a draft, answers a
//! correction, books an appointment, and runs axe on every citizen page.
//!
//! The SMS goes through the real HTTP gateway to a stand-in provider here that keeps an inbox per phone
//! (`SMS_INBOX` for the script): the citizen reads the code "on their phone", while the admin outbox page
//! shows it masked.

use crate::backend_tests;
use crate::browser::run_script_env;
use crate::helpers::{spawn_app_with, Db};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use onewindow_web::outbox::{Gateway, SmsOptions};
use onewindow_web::AppOptions;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Inbox = Arc<Mutex<Vec<Value>>>;

async fn receive(State(inbox): State<Inbox>, Json(body): Json<Value>) -> axum::http::StatusCode {
    inbox.lock().unwrap().push(json!({"to": body["to"], "text": body["text"]}));
    axum::http::StatusCode::OK
}

async fn list(State(inbox): State<Inbox>) -> Json<Value> {
    Json(Value::Array(inbox.lock().unwrap().clone()))
}

async fn portal_pages(db: Db) {
    let inbox: Inbox = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let provider = Router::new().route("/sms", post(receive)).route("/inbox", get(list)).with_state(inbox);
    let server = tokio::spawn(async move { axum::serve(listener, provider).await.unwrap() });
    let opts = AppOptions {
        sms: SmsOptions {
            gateway: Gateway::Http { url: format!("http://{addr}/sms"), timeout: Duration::from_secs(5) },
            poll_interval: Duration::from_millis(100),
            ..SmsOptions::default()
        },
        ..AppOptions::default()
    };
    let app = spawn_app_with(db, opts).await;
    run_script_env(&app, "portal", &[("SMS_INBOX", format!("http://{addr}/inbox"))]).await;
    server.abort();
}

backend_tests!(portal_pages);
