//! The lobby queue over HTTP: numbering under concurrency, the call rule, window actions, SMS rows, SSE.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db, TestApp};
use futures::future::join_all;
use onewindow_core::lobby::{call_order, CallRule, QueueState, Waiting};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;

async fn issue(app: &TestApp, body: Value, token: Option<&str>) -> reqwest::Response {
    let mut rb = app.client.post(app.url("/api/v1/tickets")).json(&body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb.send().await.unwrap()
}

async fn window(app: &TestApp, token: &str, window: &str, action: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/windows/{window}/{action}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn ok_json(r: reqwest::Response) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn raise_daily_max(app: &TestApp, admin: &str) {
    let r = app
        .client
        .put(app.url("/api/v1/queues/general"))
        .bearer_auth(admin)
        .json(&json!({"prefix": "A", "start_number": 1, "daily_max": 5000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

/// 1,000 concurrent ticket issues → 1,000 distinct numbers, then 4 windows calling concurrently call
/// every ticket exactly once, in the documented order.
async fn concurrent_issue_and_call(db: Db) {
    let app = spawn_app(db).await;
    let admin = app.login("admin").await;
    let guide = app.login("guide").await;
    raise_daily_max(&app, &admin).await;

    let issued = join_all((0..1000).map(|i| {
        let app = &app;
        let guide = guide.clone();
        async move {
            // Every tenth ticket is a priority ticket issued by a guide.
            if i % 10 == 0 {
                issue(app, json!({"queue": "general", "priority": "elderly", "priority_reason": "80岁"}), Some(&guide))
                    .await
            } else {
                issue(app, json!({"queue": "general"}), None).await
            }
        }
    }))
    .await;
    let mut numbers = HashSet::new();
    for r in issued {
        let v = ok_json(r).await;
        assert!(numbers.insert(v["number"].as_str().unwrap().to_string()), "duplicate {}", v["number"]);
    }
    assert_eq!(numbers.len(), 1000);
    assert!(numbers.contains("A001") && numbers.contains("A1000"));

    // The documented order, computed by the rule from the waiting tickets as they are now.
    let waiting: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT id, priority, sort_key FROM tickets WHERE status = 'waiting'")
            .fetch_all(&sqlx::AnyPool::connect(&app.store_url()).await.unwrap())
            .await
            .unwrap();
    let state = QueueState {
        waiting: waiting
            .into_iter()
            .map(|(id, p, sort_key)| Waiting { id, priority: p != "normal", sort_key })
            .collect(),
        priority_streak: 0,
    };
    let expected = call_order(&state, CallRule::default());

    let acceptor = app.login("acceptor").await;
    let per_window = join_all(["A1", "A2", "A3", "A4"].map(|w| {
        let app = &app;
        let token = acceptor.clone();
        async move {
            let mut mine = Vec::new();
            loop {
                let r = window(app, &token, w, "call-next", json!({})).await;
                if r.status() == StatusCode::NO_CONTENT {
                    break;
                }
                let t = ok_json(r).await;
                mine.push(t["id"].as_i64().unwrap());
                ok_json(window(app, &token, w, "start", json!({})).await).await;
                ok_json(window(app, &token, w, "finish", json!({})).await).await;
            }
            mine
        }
    }))
    .await;
    let all: Vec<i64> = per_window.iter().flatten().copied().collect();
    assert_eq!(all.len(), 1000);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 1000, "a ticket was called twice");
    assert!(
        per_window.iter().all(|w| w.len() > 50),
        "every window took its share: {:?}",
        per_window.iter().map(Vec::len).collect::<Vec<_>>()
    );
    // The calls, in commit order, follow the rule exactly.
    let called: Vec<String> = app
        .store
        .events_after(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "ticket.called")
        .map(|e| e.subject)
        .collect();
    let expected: Vec<String> = expected.iter().map(|id| format!("ticket:{id}")).collect();
    assert_eq!(called, expected);
}

/// A window serves one ticket at a time: simultaneous clicks cannot double-call or double-start.
async fn one_ticket_per_window(db: Db) {
    let app = spawn_app(db).await;
    for _ in 0..5 {
        issue(&app, json!({"queue": "A"}), None).await;
    }
    let acceptor = app.login("acceptor").await;
    let calls = join_all((0..10).map(|_| window(&app, &acceptor, "A1", "call-next", json!({})))).await;
    let ok = calls.iter().filter(|r| r.status() == StatusCode::OK).count();
    let conflict = calls.iter().filter(|r| r.status() == StatusCode::CONFLICT).count();
    assert_eq!((ok, conflict), (1, 9));
    let starts = join_all((0..5).map(|_| window(&app, &acceptor, "A1", "start", json!({})))).await;
    assert_eq!(starts.iter().filter(|r| r.status() == StatusCode::OK).count(), 1);
    let r = starts.into_iter().find(|r| r.status() == StatusCode::CONFLICT).unwrap();
    let e: Value = r.json().await.unwrap();
    assert!(
        e["message"].as_str().unwrap().contains("serving") || e["message"].as_str().unwrap().contains("状态"),
        "{e}"
    );
    assert_eq!(app.get_json("/api/v1/queues").await[0]["waiting"], 4);
}

async fn window_actions_keep_every_period(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = app.login("acceptor").await;
    let a = ok_json(issue(&app, json!({"queue": "general", "phone": "13800138000"}), None).await).await;
    let b = ok_json(issue(&app, json!({"queue": "general"}), None).await).await;
    let c = ok_json(issue(&app, json!({"queue": "general"}), None).await).await;
    assert_eq!((a["ahead"].as_i64(), b["ahead"].as_i64(), c["ahead"].as_i64()), (Some(0), Some(1), Some(2)));

    // Call A001 to A1; no-show needs recalls first; a recall changes nothing but the count.
    let t = ok_json(window(&app, &acceptor, "A1", "call-next", json!({})).await).await;
    assert_eq!(
        (t["number"].as_str(), t["window"].as_str(), t["status"].as_str()),
        (Some("A001"), Some("A1"), Some("called"))
    );
    assert_eq!(window(&app, &acceptor, "A1", "no-show", json!({})).await.status(), StatusCode::CONFLICT);
    let r = ok_json(window(&app, &acceptor, "A1", "recall", json!({})).await).await;
    assert_eq!((r["status"].as_str(), r["recalls"].as_i64()), (Some("called"), Some(1)));
    // Transfer to the social-insurance queue, placed first: the number never changes.
    let tr =
        ok_json(window(&app, &acceptor, "A1", "transfer", json!({"to_queue": "social", "placement": "first"})).await)
            .await;
    assert_eq!(
        (tr["number"].as_str(), tr["queue"].as_str(), tr["status"].as_str()),
        (Some("A001"), Some("social"), Some("waiting"))
    );
    assert_eq!(tr["transfers"], 1);
    // A social window calls it; start, hold (fetching a document), resume at another window, finish.
    let g = ok_json(window(&app, &acceptor, "G1", "call-next", json!({})).await).await;
    assert_eq!(g["number"], "A001");
    ok_json(window(&app, &acceptor, "G1", "start", json!({})).await).await;
    let h = ok_json(window(&app, &acceptor, "G1", "hold", json!({})).await).await;
    assert_eq!(h["status"], "on_hold");
    let res = ok_json(window(&app, &acceptor, "G2", "resume", json!({"number": "A001"})).await).await;
    assert_eq!((res["status"].as_str(), res["window"].as_str()), (Some("serving"), Some("G2")));
    ok_json(window(&app, &acceptor, "G2", "finish", json!({})).await).await;

    // Pause blocks calls; a reason is required.
    assert_eq!(
        window(&app, &acceptor, "A2", "pause", json!({"reason": " "})).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        window(&app, &acceptor, "A2", "pause", json!({"reason": "午休"})).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(window(&app, &acceptor, "A2", "call-next", json!({})).await.status(), StatusCode::CONFLICT);
    assert_eq!(window(&app, &acceptor, "A2", "unpause", json!({})).await.status(), StatusCode::NO_CONTENT);
    // Call a specific number; then no-show after two recalls.
    let s = ok_json(window(&app, &acceptor, "A2", "call", json!({"number": "a003"})).await).await;
    assert_eq!(s["number"], "A003");
    for _ in 0..2 {
        ok_json(window(&app, &acceptor, "A2", "recall", json!({})).await).await;
    }
    assert_eq!(ok_json(window(&app, &acceptor, "A2", "no-show", json!({})).await).await["status"], "no_show");

    // Every period of A001 is kept with its window and staff.
    let periods: Vec<(String, Option<String>, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT p.kind, w.code, p.staff_id, p.ended_at FROM ticket_periods p LEFT JOIN windows w ON w.id = p.window_id \
         WHERE p.ticket_id = $1 ORDER BY p.id",
    )
    .bind(a["id"].as_i64().unwrap())
    .fetch_all(&sqlx::AnyPool::connect(&app.store_url()).await.unwrap())
    .await
    .unwrap();
    let kinds: Vec<(&str, Option<&str>)> = periods.iter().map(|(k, w, _, _)| (k.as_str(), w.as_deref())).collect();
    assert_eq!(
        kinds,
        vec![
            ("waiting", None),
            ("called", Some("A1")),
            ("waiting", None),
            ("called", Some("G1")),
            ("serving", Some("G1")),
            ("on_hold", Some("G1")),
            ("serving", Some("G2")),
        ]
    );
    assert!(periods.iter().all(|p| p.3.is_some()), "all periods closed");
    assert!(periods[1].2.is_some(), "the staff member is recorded");

    // SMS rows: at issue (with the ticket link) and at each call, signed with the hall's name.
    let msgs = app.store.outbox_recent(50).await.unwrap();
    let texts: Vec<&str> = msgs.iter().map(|m| m["payload"]["text"].as_str().unwrap()).collect();
    assert!(texts.iter().any(|t| t.starts_with("您已取号A001") && t.contains("/t/")), "{texts:?}");
    assert!(texts.contains(&"请A001号到A1窗口办理【常山县行政服务中心】"), "{texts:?}");
    assert!(texts.contains(&"请A001号到G1窗口办理【常山县行政服务中心】"), "{texts:?}");
    assert!(msgs.iter().all(|m| m["destination"] == "13800138000"));
}

/// The "N ahead" SMS goes once, only to tickets that started with more than N ahead.
async fn reminder_when_three_are_ahead(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = app.login("acceptor").await;
    for i in 0..6 {
        ok_json(issue(&app, json!({"queue": "general", "phone": format!("1390000000{i}")}), None).await).await;
    }
    let reminders = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            store
                .outbox_recent(100)
                .await
                .unwrap()
                .into_iter()
                .filter(|m| m["payload"]["kind"] == "ticket.remind")
                .map(|m| m["destination"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    // Tickets 0-3 started with 0..3 ahead: never reminded. Ticket 4 (4 ahead) is reminded at the first call,
    // ticket 5 at the second.
    assert!(reminders(&app).await.is_empty());
    ok_json(window(&app, &acceptor, "A1", "call-next", json!({})).await).await;
    assert_eq!(reminders(&app).await, vec!["13900000004"]);
    ok_json(window(&app, &acceptor, "A2", "call-next", json!({})).await).await;
    let mut r = reminders(&app).await;
    r.sort();
    assert_eq!(r, vec!["13900000004", "13900000005"]);
    ok_json(window(&app, &acceptor, "A3", "call-next", json!({})).await).await;
    assert_eq!(reminders(&app).await.len(), 2, "once only");
}

async fn ticket_page_running_late_and_expiry(db: Db) {
    let app = spawn_app(db).await;
    let first = ok_json(issue(&app, json!({"queue": "general"}), None).await).await;
    for _ in 0..7 {
        ok_json(issue(&app, json!({"queue": "general"}), None).await).await;
    }
    let token = first["token"].as_str().unwrap();
    let t = app.get_json(&format!("/api/v1/tickets/{token}")).await;
    assert_eq!((t["status"].as_str(), t["ahead"].as_i64()), (Some("waiting"), Some(0)));
    let r = app.client.post(app.url(&format!("/api/v1/tickets/{token}/late"))).send().await.unwrap();
    let moved = ok_json(r).await;
    assert_eq!(moved["ahead"], 5, "moved back five places");
    assert_eq!(moved["late_used"], true);
    let again = app.client.post(app.url(&format!("/api/v1/tickets/{token}/late"))).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT, "only once");
    assert_eq!(app.get(&format!("/api/v1/tickets/{}", "0".repeat(64))).await.status(), StatusCode::NOT_FOUND);

    // Bad input: a bad phone names the field; a priority without a guide is refused.
    let r = issue(&app, json!({"queue": "general", "phone": "12345"}), None).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "phone");
    let r = issue(&app, json!({"queue": "general", "priority": "elderly", "priority_reason": "x"}), None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = issue(&app, json!({"queue": "mars"}), None).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Yesterday's tickets are closed as expired, with a record.
    let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
    sqlx::query("UPDATE tickets SET day = '2020-01-01'").execute(&pool).await.unwrap();
    let n = app.store.expire_tickets(None, false).await.unwrap();
    assert_eq!(n, 8);
    assert_eq!(app.get_json(&format!("/api/v1/tickets/{token}")).await["status"], "expired");
    let expired =
        app.store.events_after(0, 100_000).await.unwrap().into_iter().filter(|e| e.kind == "ticket.expired").count();
    assert_eq!(expired, 8);
    // A new day starts numbering again.
    assert_eq!(ok_json(issue(&app, json!({"queue": "general"}), None).await).await["number"], "A009");
}

/// The display stream: a snapshot first, then calls live; a reconnect with Last-Event-ID replays.
async fn display_stream_follows_calls(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = app.login("acceptor").await;
    ok_json(issue(&app, json!({"queue": "general"}), None).await).await;
    ok_json(issue(&app, json!({"queue": "general"}), None).await).await;
    let r = app.get("/api/v1/display/330822/events").await;
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut body = r;
    let mut text = String::new();
    let next_event = |text: &mut String, needle: &str| !text.contains(needle);
    while next_event(&mut text, "event: snapshot") {
        text.push_str(&String::from_utf8_lossy(&body.chunk().await.unwrap().unwrap()));
    }
    ok_json(window(&app, &acceptor, "A3", "call-next", json!({})).await).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while next_event(&mut text, "请 A001 号到 A3 窗口办理") {
        let chunk =
            tokio::time::timeout_at(deadline, body.chunk()).await.expect("call reached the stream").unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: call"));
    let snapshot_id: i64 = text.split("id: ").nth(1).unwrap().lines().next().unwrap().trim().parse().unwrap();
    drop(body);
    // Missed while disconnected: another call. The reconnect replays it, then current counts.
    ok_json(window(&app, &acceptor, "A4", "call-next", json!({})).await).await;
    let r = app
        .client
        .get(app.url("/api/v1/display/330822/events"))
        .header("last-event-id", snapshot_id.to_string())
        .send()
        .await
        .unwrap();
    let mut body = r;
    let mut text = String::new();
    while next_event(&mut text, "event: queues") {
        text.push_str(&String::from_utf8_lossy(&body.chunk().await.unwrap().unwrap()));
    }
    assert!(text.contains("请 A001 号到 A3 窗口办理") && text.contains("请 A002 号到 A4 窗口办理"), "{text}");
    assert!(!text.contains("event: snapshot"));
    let snap = app.get_json("/api/v1/display/330822").await;
    assert_eq!(snap["calls"][0]["number"], "A002");
    assert_eq!(snap["hall_name"], "常山县行政服务中心");
}

/// The day's report counts what happened: tickets, served, no-shows, transfers, by queue and window.
async fn lobby_report_counts_the_day(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = app.login("acceptor").await;
    for _ in 0..4 {
        ok_json(issue(&app, json!({"queue": "general"}), None).await).await;
    }
    ok_json(issue(&app, json!({"queue": "social"}), None).await).await;
    // A001 served at A1; A002 no-show at A2; A003 transferred to social and served at G1.
    ok_json(window(&app, &acceptor, "A1", "call-next", json!({})).await).await;
    ok_json(window(&app, &acceptor, "A1", "start", json!({})).await).await;
    ok_json(window(&app, &acceptor, "A1", "finish", json!({})).await).await;
    ok_json(window(&app, &acceptor, "A2", "call-next", json!({})).await).await;
    for _ in 0..2 {
        ok_json(window(&app, &acceptor, "A2", "recall", json!({})).await).await;
    }
    ok_json(window(&app, &acceptor, "A2", "no-show", json!({})).await).await;
    ok_json(window(&app, &acceptor, "A3", "call-next", json!({})).await).await;
    ok_json(window(&app, &acceptor, "A3", "transfer", json!({"to_queue": "G", "placement": "first"})).await).await;
    let g = ok_json(window(&app, &acceptor, "G1", "call-next", json!({})).await).await;
    assert_eq!(g["number"], "A003", "placed first in the social queue, ahead of G001");
    ok_json(window(&app, &acceptor, "G1", "start", json!({})).await).await;
    ok_json(window(&app, &acceptor, "G1", "finish", json!({})).await).await;

    let leader = app.login("leader").await;
    let r: Value =
        ok_json(app.client.get(app.url("/api/v1/stats/lobby")).bearer_auth(&leader).send().await.unwrap()).await;
    assert_eq!(r["overall"]["tickets"], 5);
    assert_eq!(r["overall"]["served"], 2);
    assert_eq!(r["overall"]["no_shows"], 1);
    assert_eq!(r["overall"]["transfers"], 1);
    let row = |list: &str, key: &str| r[list].as_array().unwrap().iter().find(|x| x["key"] == key).cloned().unwrap();
    // A003 now belongs to the social queue: 3 tickets stay general, 2 are social.
    assert_eq!(row("by_queue", "general")["tickets"], 3);
    assert_eq!(row("by_queue", "social")["tickets"], 2);
    assert_eq!(row("by_window", "A1")["served"], 1);
    assert_eq!(row("by_window", "G1")["served"], 1);
    assert_eq!(row("by_staff", "acceptor")["served"], 2);
    assert!(r["overall"]["mean_wait_minutes"].as_f64().unwrap() >= 0.0);
    // Leaders and admins only.
    let r = app.client.get(app.url("/api/v1/stats/lobby")).bearer_auth(&acceptor).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.client.get(app.url("/api/v1/stats/lobby?day=2026-13-01")).bearer_auth(&leader).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

backend_tests!(
    lobby_report_counts_the_day,
    concurrent_issue_and_call,
    one_ticket_per_window,
    window_actions_keep_every_period,
    reminder_when_three_are_ahead,
    ticket_page_running_late_and_expiry,
    display_stream_follows_calls,
);
