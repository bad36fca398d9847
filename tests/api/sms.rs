//! SMS through the outbox: the sender delivers every queued message to the gateway exactly once per
//! idempotency key, retries with backoff while the gateway fails or is down, dead-letters after the
//! attempt budget, and the log gateway (the default) marks messages sent.

use crate::backend_tests;
use crate::helpers::{demo, fresh_store, spawn_app, Db};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use onewindow_store::{seed, Actor, Store, StoreError};
use onewindow_web::outbox::{Gateway, SmsOptions};
use onewindow_web::{AppOptions, AppState};
use reqwest::Client;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

backend_tests!(
    sms_retries_until_accepted_once_per_key,
    sms_backlog_drains_after_gateway_outage,
    sms_dead_after_max_attempts_and_admin_retry,
    sms_log_gateway_by_default,
    sms_goes_out_on_commit_without_waiting_for_a_poll,
    sms_gateway_outage_under_ticket_load,
);

// --- a provider adapter stand-in -------------------------------------------------------------------------

/// What the stand-in gateway saw.
#[derive(Default)]
struct Receiver {
    /// Answer 503 to this many requests first.
    fail_first: AtomicUsize,
    /// Answer 503 to everything while set.
    failing: AtomicBool,
    requests: AtomicUsize,
    /// Accepted deliveries per idempotency key, with the phone and text of the last one.
    accepted: Mutex<HashMap<String, (usize, String, String)>>,
    /// Requests that broke the contract (header and body keys differ, fields missing).
    bad: Mutex<Vec<String>>,
}

impl Receiver {
    fn accepted(&self) -> HashMap<String, (usize, String, String)> {
        self.accepted.lock().unwrap().clone()
    }
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn accept(State(r): State<Arc<Receiver>>, headers: HeaderMap, Json(body): Json<Value>) -> StatusCode {
    r.requests.fetch_add(1, Ordering::SeqCst);
    let key = body["idempotency_key"].as_str().unwrap_or_default().to_string();
    let header = headers.get("idempotency-key").and_then(|h| h.to_str().ok()).unwrap_or_default();
    let to = body["to"].as_str().unwrap_or_default().to_string();
    let text = body["text"].as_str().unwrap_or_default().to_string();
    if key.is_empty() || header != key || to.is_empty() || text.is_empty() {
        r.bad.lock().unwrap().push(body.to_string());
        return StatusCode::BAD_REQUEST;
    }
    if r.failing.load(Ordering::SeqCst)
        || r.fail_first.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let mut accepted = r.accepted.lock().unwrap();
    let e = accepted.entry(key).or_insert((0, String::new(), String::new()));
    e.0 += 1;
    e.1 = to;
    e.2 = text;
    StatusCode::OK
}

/// Serves the stand-in gateway at `POST /sms` on an already bound listener.
fn run_receiver(listener: tokio::net::TcpListener, r: Arc<Receiver>) -> tokio::task::JoinHandle<()> {
    let app = Router::new().route("/sms", post(accept)).with_state(r);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    })
}

async fn start_receiver(r: Arc<Receiver>) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, run_receiver(listener, r))
}

/// A free port below the ephemeral range, where nothing listens: no client socket can take it as its own
/// port (a connection to a closed ephemeral port can, rarely, connect to itself).
fn closed_port() -> SocketAddr {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let start = 20000 + (std::process::id() % 5000) as u16;
    (start..low.max(start + 1))
        .chain(20000..start)
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
        .find(|addr| std::net::TcpListener::bind(addr).is_ok())
        .expect("a free port below the ephemeral range")
}

// --- the app with chosen options ---------------------------------------------------------------------------

struct SmsApp {
    base: String,
    client: Client,
    store: Store,
    dir: PathBuf,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SmsApp {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Like `helpers::spawn_app`, with the application options given.
async fn spawn_with_options(db: Db, opts: AppOptions) -> SmsApp {
    let (store, dir, _url) = fresh_store(db).await;
    store.load_county(&demo(), seed::DEMO_PASSWORD).await.unwrap();
    let state = AppState::new(store.clone(), opts).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = onewindow_web::router(state);
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    SmsApp { base: format!("http://{addr}"), client, store, dir, server }
}

/// An HTTP gateway at `addr` with a fast backoff, so that a test sees many retries in little time.
fn http_sms(addr: SocketAddr, max_attempts: u32) -> AppOptions {
    AppOptions {
        sms: SmsOptions {
            gateway: Gateway::Http { url: format!("http://{addr}/sms"), timeout: Duration::from_secs(5) },
            max_attempts,
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
            poll_interval: Duration::from_millis(50),
            ..SmsOptions::default()
        },
        ..AppOptions::default()
    }
}

async fn login(client: &Client, base: &str, username: &str) -> String {
    let r = client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"username": username, "password": seed::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "login {username}");
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

async fn ok(r: reqwest::Response) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn take_ticket(client: &Client, base: &str, phone: &str) -> Value {
    ok(client
        .post(format!("{base}/api/v1/tickets"))
        .json(&json!({"queue": "general", "phone": phone}))
        .send()
        .await
        .unwrap())
    .await
}

async fn window(client: &Client, base: &str, token: &str, window: &str, action: &str) -> Value {
    ok(client
        .post(format!("{base}/api/v1/windows/{window}/{action}"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap())
    .await
}

/// Five tickets with phones; the acceptor calls two of them at A1 (call, start, finish, call again).
async fn lobby_morning(app: &SmsApp) {
    for i in 0..5 {
        take_ticket(&app.client, &app.base, &format!("1380013800{i}")).await;
    }
    let acceptor = login(&app.client, &app.base, "acceptor").await;
    window(&app.client, &app.base, &acceptor, "A1", "call-next").await;
    window(&app.client, &app.base, &acceptor, "A1", "start").await;
    window(&app.client, &app.base, &acceptor, "A1", "finish").await;
    window(&app.client, &app.base, &acceptor, "A1", "call-next").await;
}

async fn rows(store: &Store) -> Vec<Value> {
    store.outbox_recent(1000).await.unwrap()
}

fn keys(rows: &[Value]) -> BTreeSet<String> {
    rows.iter().map(|m| m["idempotency_key"].as_str().unwrap().to_string()).collect()
}

/// Waits (at most 20 s) until no message is pending or being sent.
async fn drained(store: &Store) -> onewindow_store::OutboxCounts {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c = store.outbox_counts().await.unwrap();
        if c.pending == 0 && c.sending == 0 {
            return c;
        }
        assert!(Instant::now() < deadline, "the outbox did not drain: {c:?}\n{:#?}", rows(store).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every row sent, the gateway accepted each key exactly once, with the queued phone and text.
fn assert_each_delivered_once(rows: &[Value], r: &Receiver) {
    assert!(rows.iter().all(|m| m["status"] == "sent"), "{rows:#?}");
    let accepted = r.accepted();
    assert_eq!(accepted.keys().cloned().collect::<BTreeSet<_>>(), keys(rows), "the gateway got every message");
    for m in rows {
        let key = m["idempotency_key"].as_str().unwrap();
        let (n, to, text) = &accepted[key];
        assert_eq!(*n, 1, "{key} was delivered {n} times");
        assert_eq!(to, m["destination"].as_str().unwrap(), "{key}: phone");
        assert_eq!(text, m["payload"]["text"].as_str().unwrap(), "{key}: text");
    }
    assert!(r.bad.lock().unwrap().is_empty(), "requests that broke the contract: {:?}", r.bad.lock().unwrap());
}

fn total_attempts(rows: &[Value]) -> usize {
    rows.iter().map(|m| m["attempts"].as_i64().unwrap() as usize).sum()
}

// --- tests ------------------------------------------------------------------------------------------------

/// The gateway answers 503 three times, then accepts: every message arrives once, after retries.
async fn sms_retries_until_accepted_once_per_key(db: Db) {
    let r = Arc::new(Receiver { fail_first: AtomicUsize::new(3), ..Receiver::default() });
    let (addr, _gw) = start_receiver(r.clone()).await;
    let app = spawn_with_options(db, http_sms(addr, 10)).await;
    lobby_morning(&app).await;

    drained(&app.store).await;
    let rows = rows(&app.store).await;
    let kinds = |k: &str| rows.iter().filter(|m| m["payload"]["kind"] == k).count();
    assert_eq!(kinds("ticket.issued"), 5, "{rows:#?}");
    assert_eq!(kinds("ticket.called"), 2, "{rows:#?}");
    assert_each_delivered_once(&rows, &r);
    assert_eq!(r.requests(), rows.len() + 3, "three refusals, then one accepted request per message");
    assert_eq!(total_attempts(&rows), r.requests(), "each request is counted as an attempt");
    assert!(rows.iter().any(|m| m["attempts"].as_i64().unwrap() > 1), "some message was retried");
    assert!(app.store.verify_audit().await.unwrap().first_broken.is_none(), "the audit chain holds");
}

/// Nothing listens at the gateway's address for a while: messages wait and retry; once it is up, the
/// backlog drains, nothing lost, nothing twice.
async fn sms_backlog_drains_after_gateway_outage(db: Db) {
    // Connections are refused until the gateway starts at this address.
    let addr = closed_port();
    let app = spawn_with_options(db, http_sms(addr, 1000)).await;
    lobby_morning(&app).await;

    // Every message has been tried (and refused) at least twice while the gateway is down.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = rows(&app.store).await;
        if !rows.is_empty() && rows.iter().all(|m| m["attempts"].as_i64().unwrap() >= 2) {
            break;
        }
        assert!(Instant::now() < deadline, "messages were not retried while the gateway was down: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let c = app.store.outbox_counts().await.unwrap();
    assert_eq!((c.sent, c.dead), (0, 0), "nothing is sent or given up while the gateway is down: {c:?}");

    let r = Arc::new(Receiver::default());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let _gw = run_receiver(listener, r.clone());
    let c = drained(&app.store).await;
    let rows = rows(&app.store).await;
    assert_eq!(c.sent as usize, rows.len());
    assert!(rows.len() >= 7, "{rows:#?}");
    assert_each_delivered_once(&rows, &r);
    assert_eq!(r.requests(), rows.len(), "once up, one request per message");
}

/// A gateway that always fails: after max attempts each message is dead (visible in the outbox list with
/// its error); an admin's retry sends it once the gateway works again.
async fn sms_dead_after_max_attempts_and_admin_retry(db: Db) {
    let r = Arc::new(Receiver::default());
    r.failing.store(true, Ordering::SeqCst);
    let (addr, _gw) = start_receiver(r.clone()).await;
    let app = spawn_with_options(db, http_sms(addr, 3)).await;
    take_ticket(&app.client, &app.base, "13800138001").await;
    take_ticket(&app.client, &app.base, "13800138002").await;

    let c = drained(&app.store).await;
    let rows = rows(&app.store).await;
    assert_eq!(rows.len(), 2);
    assert_eq!((c.dead, c.sent), (2, 0), "{rows:#?}");
    assert!(rows.iter().all(|m| m["status"] == "dead" && m["attempts"] == 3), "{rows:#?}");
    assert_eq!(r.requests(), 6, "three attempts per message, then no more");
    let id = rows[0]["id"].as_i64().unwrap();
    let error = app.store.outbox_last_error(id).await.unwrap();
    assert!(error.contains("503"), "the last error is kept: {error}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.requests(), 6, "a dead message is not tried again by itself");

    // The gateway works again; an admin retries one message: it is sent, the other stays dead.
    r.failing.store(false, Ordering::SeqCst);
    app.store.retry_dead(&Actor::cli(), id).await.unwrap();
    drained(&app.store).await;
    let after = self::rows(&app.store).await;
    let status = |id: i64| after.iter().find(|m| m["id"] == id).unwrap()["status"].as_str().unwrap().to_string();
    assert_eq!(status(id), "sent");
    assert_eq!(status(rows[1]["id"].as_i64().unwrap()), "dead");
    assert_eq!(r.accepted().keys().cloned().collect::<Vec<_>>(), vec![rows[0]["idempotency_key"].as_str().unwrap()]);
    // Only a dead message can be retried.
    assert!(matches!(app.store.retry_dead(&Actor::cli(), id).await, Err(StoreError::Conflict { .. })));
    assert!(app.store.verify_audit().await.unwrap().first_broken.is_none(), "the audit chain holds");
}

/// With no configuration the log gateway delivers: every row becomes sent after one attempt.
async fn sms_log_gateway_by_default(db: Db) {
    let app = spawn_app(db).await;
    for phone in ["13800138001", "13800138002"] {
        let r = app
            .client
            .post(app.url("/api/v1/tickets"))
            .json(&json!({"queue": "general", "phone": phone}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let c = drained(&app.store).await;
    let rows = rows(&app.store).await;
    assert_eq!((c.sent, rows.len()), (2, 2), "{rows:#?}");
    assert!(rows.iter().all(|m| m["status"] == "sent" && m["attempts"] == 1), "{rows:#?}");
}

/// A committed SMS wakes the sender: it goes out at once, not at the next poll (here a minute away).
async fn sms_goes_out_on_commit_without_waiting_for_a_poll(db: Db) {
    let opts = AppOptions {
        sms: SmsOptions { poll_interval: Duration::from_secs(60), ..SmsOptions::default() },
        ..AppOptions::default()
    };
    let app = spawn_with_options(db, opts).await;
    // Let the sender reach its idle wait first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    take_ticket(&app.client, &app.base, "13800138001").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if app.store.outbox_counts().await.unwrap().sent == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the SMS waited for a poll: {:#?}", rows(&app.store).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The gateway fails (503) while eight clients keep taking tickets with phone numbers, then recovers:
/// every message is delivered exactly once per key, the backlog drains, and nothing is given up.
async fn sms_gateway_outage_under_ticket_load(db: Db) {
    let r = Arc::new(Receiver::default());
    r.failing.store(true, Ordering::SeqCst);
    let (addr, _gw) = start_receiver(r.clone()).await;
    let app = spawn_with_options(db, http_sms(addr, 1000)).await;
    let admin = login(&app.client, &app.base, "admin").await;
    let raised = app
        .client
        .put(format!("{}/api/v1/queues/general", app.base))
        .bearer_auth(&admin)
        .json(&json!({"prefix": "A", "start_number": 1, "daily_max": 99999}))
        .send()
        .await
        .unwrap();
    assert!(raised.status().is_success(), "raising the daily maximum: {}", raised.status());
    let load = |from: usize| {
        let (client, base) = (app.client.clone(), app.base.clone());
        futures::future::join_all((0..8).map(move |c| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                for i in 0..15 {
                    take_ticket(&client, &base, &format!("139{:08}", from + c * 100 + i)).await;
                }
            }
        }))
    };
    // Half the load while the gateway is down…
    load(0).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while r.requests() < 240 {
        assert!(Instant::now() < deadline, "messages were not retried while the gateway was down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.store.outbox_counts().await.unwrap().sent, 0);
    // …the other half as it recovers.
    r.failing.store(false, Ordering::SeqCst);
    load(10_000).await;
    let c = drained(&app.store).await;
    let rows = rows(&app.store).await;
    assert_eq!(rows.len(), 240, "one message per ticket");
    assert_eq!((c.sent, c.dead), (240, 0), "{c:?}");
    assert_each_delivered_once(&rows, &r);
    assert!(total_attempts(&rows) > rows.len(), "messages were retried");
    assert!(app.store.verify_audit().await.unwrap().first_broken.is_none(), "the audit chain holds");
}
