//! Pages in real headless Chromium (Debian's `chromium`), driven by playwright-core from Node; each
//! script in tests/browser/ drives one journey against the app spawned here and exits non-zero on any
//! failed check. axe-core runs inside the same Chromium for accessibility checks.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db, TestApp};
use std::path::Path;
use std::process::Command;

/// A stand-in SMS provider for the browser journeys, keeping every message it gets: the app's options
/// sending SMS to it through the HTTP gateway, and the URL of its inbox (`[{to, text}]`, `SMS_INBOX` for a
/// script), where a script reads a code "on the phone" (the admin's outbox page masks codes). Serves
/// until the test ends.
pub async fn sms_stand_in() -> (onewindow_web::AppOptions, String) {
    use axum::extract::State;
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use serde_json::{json, Value};
    use std::sync::{Arc, Mutex};
    type Inbox = Arc<Mutex<Vec<Value>>>;
    async fn receive(State(inbox): State<Inbox>, Json(body): Json<Value>) -> axum::http::StatusCode {
        inbox.lock().unwrap().push(json!({"to": body["to"], "text": body["text"]}));
        axum::http::StatusCode::OK
    }
    async fn list(State(inbox): State<Inbox>) -> Json<Value> {
        Json(Value::Array(inbox.lock().unwrap().clone()))
    }
    let inbox: Inbox = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let provider = Router::new().route("/sms", post(receive)).route("/inbox", get(list)).with_state(inbox);
    tokio::spawn(async move { axum::serve(listener, provider).await.unwrap() });
    let opts = onewindow_web::AppOptions {
        sms: onewindow_web::outbox::SmsOptions {
            gateway: onewindow_web::outbox::Gateway::Http {
                url: format!("http://{addr}/sms"),
                timeout: std::time::Duration::from_secs(5),
            },
            poll_interval: std::time::Duration::from_millis(100),
            ..Default::default()
        },
        ..Default::default()
    };
    (opts, format!("http://{addr}/inbox"))
}

/// Runs `tests/browser/<script>.mjs` against the app and fails the test with its output if it fails.
pub async fn run_script(app: &TestApp, script: &str) {
    run_script_env(app, script, &[]).await
}

/// Runs a script with extra environment variables (e.g. where the stand-in SMS provider's inbox is).
pub async fn run_script_env(app: &TestApp, script: &str, env: &[(&str, String)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        root.join("node_modules/playwright-core").exists(),
        "browser test dependencies are missing: run `npm ci --prefix tests/browser` (scripts/test does this)"
    );
    let base = app.base.clone();
    let path = root.join(format!("{script}.mjs"));
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node").arg(&path).env("BASE_URL", &base).envs(env).current_dir(&root).output()
    })
    .await
    .unwrap()
    .expect("node must be installed to run the browser tests");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "browser script {script} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    println!("{stdout}");
}

async fn catalogue_pages(db: Db) {
    let app = spawn_app(db).await;
    run_script(&app, "catalogue").await;
}

async fn login_page(db: Db) {
    let app = spawn_app(db).await;
    run_script(&app, "login").await;
}

async fn admin_pages(db: Db) {
    let app = spawn_app(db).await;
    run_script(&app, "admin").await;
}

async fn dashboard_page(db: Db) {
    let app = spawn_app(db).await;
    run_script(&app, "dashboard").await;
}

async fn bundle_pages(db: Db) {
    let app = spawn_app(db).await;
    run_script(&app, "bundles").await;
}

backend_tests!(catalogue_pages, login_page, admin_pages, bundle_pages, dashboard_page, hotline_pages);

async fn hotline_pages(db: Db) {
    let app = spawn_app(db).await;
    run_script(&app, "hotline").await;
}
