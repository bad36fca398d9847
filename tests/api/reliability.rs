//! Scale-out: two instances on one PostgreSQL database.

use crate::helpers::{postgres_url, serve, spawn_app, Db, TestApp};
use onewindow_store::{Store, StoreOptions};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// A display's SSE stream, parsed into (event name, data) pairs as they arrive.
fn screen(app: &TestApp, hall: &str) -> tokio::sync::mpsc::UnboundedReceiver<(String, Value)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (client, url) = (app.client.clone(), app.url(&format!("/api/v1/display/{hall}/events")));
    tokio::spawn(async move {
        let mut r = client.get(url).send().await.unwrap();
        let mut buf = String::new();
        while let Ok(Some(chunk)) = r.chunk().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let field = |name: &str| {
                    block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_default()
                };
                let data = serde_json::from_str(&field("data:")).unwrap_or(Value::Null);
                if tx.send((field("event:"), data)).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

async fn next_named(rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Value)>, name: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (event, data) = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {name} event on the stream"))
            .expect("the stream ended");
        if event == name {
            return data;
        }
    }
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut req = app.client.post(app.url(path)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "POST {path}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

/// A second instance on the database of `a` (PostgreSQL), with its own pools and in-process hub.
async fn second_instance(a: &TestApp) -> TestApp {
    let opts =
        StoreOptions { url: a.store_url(), max_connections: 8, keys: onewindow_store::vault::KeyRing::generate() };
    let store = Store::open(&opts).await.unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("onewindow_test_b_{}_{nanos}", std::process::id()));
    serve(store, dir, a.store_url()).await
}

/// Two instances on one PostgreSQL database: calls made on either reach the displays connected to both,
/// each exactly once (the instance that made a call does not get it again from the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_call_on_one_instance_reaches_displays_on_the_other_once() {
    if postgres_url().is_none() {
        eprintln!("ONEWINDOW_TEST_DATABASE_URL is not set: the scale-out test needs PostgreSQL");
        return;
    }
    let a = spawn_app(Db::Postgres).await;
    let b = second_instance(&a).await;
    let mut screen_a = screen(&a, "330822");
    let mut screen_b = screen(&b, "330822");
    next_named(&mut screen_a, "snapshot").await;
    next_named(&mut screen_b, "snapshot").await;

    // A session made on one instance is good on the other: both read the same database.
    let acceptor = a.login("acceptor").await;
    let instances = [&a, &b, &a, &b, &a, &b];
    for app in instances {
        post(app, "/api/v1/tickets", None, json!({"queue": "general"})).await;
    }
    let mut called = Vec::new();
    for app in instances {
        let v = post(app, "/api/v1/windows/A1/call-next", Some(&acceptor), json!({})).await;
        called.push(v["number"].as_str().unwrap().to_string());
        for step in ["start", "finish"] {
            post(app, &format!("/api/v1/windows/A1/{step}"), Some(&acceptor), json!({})).await;
        }
    }

    for (name, rx) in [("A", &mut screen_a), ("B", &mut screen_b)] {
        let mut seen: HashMap<String, usize> = HashMap::new();
        while called.iter().any(|n| !seen.contains_key(n)) {
            let call = next_named(rx, "call").await;
            *seen.entry(call["number"].as_str().unwrap().to_string()).or_default() += 1;
        }
        // The last call reached this screen after every earlier one had been read back from the
        // database on this instance, so a duplicate of those would have shown by now.
        for n in &called {
            assert_eq!(seen[n], 1, "screen on {name}: {n} shown {} times ({seen:?})", seen[n]);
        }
        assert_eq!(seen.len(), called.len(), "screen on {name}: {seen:?}");
    }
    assert!(a.store.verify_audit().await.unwrap().first_broken.is_none());
}
