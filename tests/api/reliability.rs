//! Scale-out (two instances on one PostgreSQL database), restore from a backup, and moving a SQLite
//! installation to PostgreSQL.

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

/// Two instances writing at the same moments keep one audit chain: each batch takes the writers' lock
/// and reads the chain's head in one round trip, and must read it after the lock is its own (a head
/// read before the wait would chain two rows to the same predecessor).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_instances_writing_at_once_keep_one_audit_chain() {
    if postgres_url().is_none() {
        eprintln!("ONEWINDOW_TEST_DATABASE_URL is not set: the scale-out test needs PostgreSQL");
        return;
    }
    let a = spawn_app(Db::Postgres).await;
    let b = second_instance(&a).await;
    let before = a.store.verify_audit().await.unwrap().rows;
    let issue = |app| async move {
        for _ in 0..15 {
            post(app, "/api/v1/tickets", None, json!({"queue": "general"})).await;
        }
    };
    let writers: Vec<_> = (0..8).map(|n| issue(if n % 2 == 0 { &a } else { &b })).collect();
    futures::future::join_all(writers).await;

    let report = a.store.verify_audit().await.unwrap();
    assert_eq!(report.first_broken, None, "the chain forked or broke: {report:?}");
    assert_eq!(report.rows - before, 120, "one audit row per ticket");
}

/// A sign-out on one instance ends the session on the other as soon as the other hears of it, although
/// the other answered that session from memory a moment before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sign_out_on_one_instance_ends_the_session_on_the_other() {
    if postgres_url().is_none() {
        eprintln!("ONEWINDOW_TEST_DATABASE_URL is not set: the scale-out test needs PostgreSQL");
        return;
    }
    let a = spawn_app(Db::Postgres).await;
    let b = second_instance(&a).await;
    let token = a.login("approver").await;
    let me = |app: &TestApp| app.client.get(app.url("/api/v1/session")).bearer_auth(&token).send();
    assert_eq!(me(&b).await.unwrap().status(), reqwest::StatusCode::OK);
    assert!(b.store.cached_sessions() > 0, "B answers the session from memory now");

    let mut heard_on_b = b.store.subscribe();
    let r = a.client.delete(a.url("/api/v1/session")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NO_CONTENT);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let e = tokio::time::timeout_at(deadline, heard_on_b.recv())
            .await
            .expect("B never heard of the sign-out")
            .expect("B's events ended");
        if e.kind == "session.closed" {
            break;
        }
    }
    assert_eq!(
        me(&b).await.unwrap().status(),
        reqwest::StatusCode::UNAUTHORIZED,
        "B still answered a signed-out session from memory"
    );
}

// --- restore and migrate ------------------------------------------------------------------------------------

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("onewindow_test_{tag}_{}_{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An instance plans each case action from the case as it last wrote it (no read), and that is never
/// the case as it was: each kept row is the database's, column by column; a row the other instance
/// made older is forgotten when this one hears of it; and when the case moved unheard of, the action
/// is planned from the database instead — a step the kept row would refuse is taken, and one it would
/// allow is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_actions_plan_from_the_case_as_written_and_never_from_an_older_one() {
    if postgres_url().is_none() {
        eprintln!("ONEWINDOW_TEST_DATABASE_URL is not set: the scale-out test needs PostgreSQL");
        return;
    }
    let a = spawn_app(Db::Postgres).await;
    let b = second_instance(&a).await;
    actions_plan_from_the_case_as_written(&a, Some(&b)).await;
}

/// The same on SQLite, one instance: the case as written is kept, what its own changes make older is
/// forgotten, and a change made by another program on the file is caught by the version guard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_actions_plan_from_the_case_as_written_and_never_from_an_older_one() {
    let a = spawn_app(Db::Sqlite).await;
    actions_plan_from_the_case_as_written(&a, None).await;
}

/// `other`: a second instance on the same database, which moves a case behind `a`'s back.
async fn actions_plan_from_the_case_as_written(a: &TestApp, other: Option<&TestApp>) {
    let (acceptor, approver) = (a.login("acceptor").await, a.login("approver").await);
    let new_case = json!({"item": "MZJ-002", "applicant": {"name": "王五", "phone": "13900001111"},
                          "materials": crate::helpers::mzj_002_materials()});
    let act = |app: &TestApp, id: i64, token: &str, action: &str, extra: Value| {
        let mut body = extra;
        body["action"] = json!(action);
        let (client, url, token) =
            (app.client.clone(), app.url(&format!("/api/v1/cases/{id}/actions")), token.to_string());
        async move { client.post(url).bearer_auth(token).json(&body).send().await.unwrap() }
    };
    let state = |v: Value| v["state"].as_str().unwrap().to_string();

    // A whole lifecycle on one instance: after each step the kept row is the database's.
    let id = post(&a, "/api/v1/cases", Some(&acceptor), new_case.clone()).await["id"].as_i64().unwrap();
    let ship = json!({"data": {"address": "天马街道1号", "carrier": "EMS", "tracking": "E1"}});
    for (token, action, extra) in [
        (&approver, "claim", json!({})),
        (&approver, "return", json!({"comment": "补正"})),
        (&acceptor, "supplement", json!({})),
        (&approver, "approve", json!({})),
        (&acceptor, "ship", ship.clone()),
    ] {
        let r = act(&a, id, token, action, extra).await;
        assert_eq!(r.status(), reqwest::StatusCode::OK, "{action}: {}", r.text().await.unwrap());
        assert_eq!(a.store.kept_case_matches_database(id).await.unwrap(), Some(true), "after {action}");
    }
    assert_eq!(act(&a, id, &acceptor, "deliver", json!({})).await.status(), reqwest::StatusCode::OK);
    assert_eq!(a.store.kept_case_matches_database(id).await.unwrap(), None, "a closed case is not kept");

    // The other instance moves the case after this one kept it: once A hears of it, A forgets its row.
    let id = post(&a, "/api/v1/cases", Some(&acceptor), new_case.clone()).await["id"].as_i64().unwrap();
    assert_eq!(act(&a, id, &approver, "claim", json!({})).await.status(), reqwest::StatusCode::OK);
    assert_eq!(a.store.kept_case_matches_database(id).await.unwrap(), Some(true));
    let mut heard_on_a = a.store.subscribe();
    let r = act(other.unwrap_or(a), id, &approver, "return", json!({"comment": "补正"})).await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let returned = state(r.json().await.unwrap());
    if other.is_some() {
        let subject = format!("case:{id}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let e = tokio::time::timeout_at(deadline, heard_on_a.recv()).await.expect("A never heard of B's action");
            if e.as_ref().is_ok_and(|e| e.subject == subject && e.kind == "case.return") {
                break;
            }
        }
        assert_eq!(a.store.kept_case_matches_database(id).await.unwrap(), None, "A forgot what B made older");
    } else {
        assert_eq!(a.store.kept_case_matches_database(id).await.unwrap(), Some(true), "after return");
    }
    assert_eq!(act(&a, id, &acceptor, "supplement", json!({})).await.status(), reqwest::StatusCode::OK);
    assert_eq!(a.store.kept_case_matches_database(id).await.unwrap(), Some(true));
    // A change on A that is not an action (a visit recorded by hand) makes the row older too: forgotten.
    post(&a, &format!("/api/v1/cases/{id}/trips"), Some(&acceptor), json!({"reason": "补交原件"})).await;
    assert_eq!(a.store.kept_case_matches_database(id).await.unwrap(), None, "A forgot what its own visit made older");
    assert_eq!(act(&a, id, &approver, "approve", json!({})).await.status(), reqwest::StatusCode::OK);
    assert_eq!(a.store.kept_case_matches_database(id).await.unwrap(), Some(true));

    // Changed where A hears nothing of it (another program on the database): A's row is older and A
    // does not know. Supplying is not allowed in the state A kept, but it is in the case's state: taken.
    let id = post(&a, "/api/v1/cases", Some(&acceptor), new_case).await["id"].as_i64().unwrap();
    assert_eq!(act(&a, id, &approver, "claim", json!({})).await.status(), reqwest::StatusCode::OK);
    let pool = sqlx::AnyPool::connect(&a.store_url()).await.unwrap();
    let behind_a = |to: &str| {
        sqlx::query("UPDATE cases SET state = $1, version = version + 1 WHERE id = $2").bind(to.to_string()).bind(id)
    };
    behind_a(&returned).execute(&pool).await.unwrap();
    assert_eq!(a.store.kept_case_matches_database(id).await.unwrap(), Some(false), "A's row is older now");
    let r = act(&a, id, &acceptor, "supplement", json!({})).await;
    assert_eq!(r.status(), reqwest::StatusCode::OK, "{}", r.text().await.unwrap());
    assert_eq!(state(r.json().await.unwrap()), "review");
    // Returning is allowed in the state A kept ("review"), not in the case's: refused.
    behind_a(&returned).execute(&pool).await.unwrap();
    let r = act(&a, id, &approver, "return", json!({"comment": "再补正"})).await;
    assert_eq!(r.status(), reqwest::StatusCode::CONFLICT, "{}", r.text().await.unwrap());
    pool.close().await;
    let on_b = other.unwrap_or(a).get_json_as(&acceptor, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(on_b["state"], returned.as_str());
    let steps: Vec<&str> = on_b["timeline"].as_array().unwrap().iter().map(|t| t["action"].as_str().unwrap()).collect();
    assert_eq!(steps, ["accept", "claim", "supplement"]);
    assert!(a.store.verify_audit().await.unwrap().first_broken.is_none());
}

/// A SQLite installation with the demo county, three tickets with phone numbers (sealed) and one call,
/// served over HTTP; returns the app and its keys.
async fn sqlite_with_data() -> (TestApp, onewindow_store::vault::KeyRing) {
    let dir = temp_dir("src");
    let opts = StoreOptions::sqlite_in(&dir);
    let store = Store::open(&opts).await.unwrap();
    store.load_county(&crate::helpers::demo(), onewindow_store::seed::DEMO_PASSWORD).await.unwrap();
    let app = serve(store, dir, opts.url.clone()).await;
    for phone in ["13800138001", "13800138002", "13800138003"] {
        post(&app, "/api/v1/tickets", None, json!({"queue": "general", "phone": phone})).await;
    }
    let acceptor = app.login("acceptor").await;
    post(&app, "/api/v1/windows/A1/call-next", Some(&acceptor), json!({})).await;
    (app, opts.keys)
}

/// Rows in a table of the database at `url`.
async fn count_rows(url: &str, table: &str) -> i64 {
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let n = sqlx::query_scalar::<_, i64>(&format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}"))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// Restore: refuses a running installation, a non-backup file, one that holds data (unless --force), and
/// keys that do not open the backup's personal data; restores the backup whole otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_checks_before_replacing_and_restores_everything() {
    use onewindow_store::moving::{restore_sqlite, sqlite_file};
    let (app, keys) = sqlite_with_data().await;
    let backup = temp_dir("backup").join("backup.db");
    app.store.backup(&backup).await.unwrap();
    let tickets = count_rows(&app.store_url(), "tickets").await;
    assert_eq!(tickets, 3);

    // The running installation itself.
    let running = sqlite_file(&app.store_url()).unwrap();
    let e = restore_sqlite(&backup, &running, &keys, true).await.unwrap_err().to_string();
    assert!(e.contains("in use"), "{e}");

    // Something that is not a backup.
    let target_dir = temp_dir("target");
    let target = target_dir.join("onewindow.db");
    let junk = target_dir.join("junk.db");
    std::fs::write(&junk, "not a database").unwrap();
    let e = restore_sqlite(&junk, &target, &keys, false).await.unwrap_err().to_string();
    assert!(e.contains("not a SQLite backup"), "{e}");
    assert!(!target.exists(), "nothing was written");

    // An installation that holds data: refused without --force.
    let other = Store::open(&StoreOptions {
        url: format!("sqlite://{}?mode=rwc", target.display()),
        max_connections: 2,
        keys: keys.clone(),
    })
    .await
    .unwrap();
    other.load_county(&crate::helpers::demo(), onewindow_store::seed::DEMO_PASSWORD).await.unwrap();
    other.close().await;
    drop(other);
    // In one process a closed pool's SQLite handles can linger for a moment (seen under a loaded full
    // run); a stopped server's cannot. Until they are gone the refusal is "in use"; then "--force".
    let mut e = String::new();
    for _ in 0..100 {
        e = restore_sqlite(&backup, &target, &keys, false).await.unwrap_err().to_string();
        if !e.contains("in use") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(e.contains("--force"), "{e}");

    // Keys that do not open the backup's personal data: refused, the installation untouched.
    let wrong = onewindow_store::vault::KeyRing::generate();
    let e = restore_sqlite(&backup, &target, &wrong, true).await.unwrap_err().to_string();
    assert!(e.contains("keys"), "{e}");
    assert!(!target_dir.join("onewindow.db.restoring").exists());

    // With --force and the right keys: everything is back, the old database kept aside.
    let report = restore_sqlite(&backup, &target, &keys, true).await.unwrap();
    assert!(report.audit.first_broken.is_none());
    let tickets_row = report.tables.iter().find(|(t, _, _)| t == "tickets").unwrap();
    assert_eq!(tickets_row.1, tickets);
    let kept = std::fs::read_dir(&target_dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".replaced-"))
        .count();
    assert_eq!(kept, 1, "the replaced database is kept");
    let restored = Store::open(&StoreOptions {
        url: format!("sqlite://{}", target.display()),
        max_connections: 2,
        keys: keys.clone(),
    })
    .await
    .unwrap();
    assert_eq!(restored.verify_audit().await.unwrap(), report.audit);
    let backup_url = format!("sqlite://{}", backup.display());
    assert_eq!(report.audit.rows, count_rows(&backup_url, "audit").await, "the backup's whole audit trail");
    assert_eq!(count_rows(&format!("sqlite://{}", target.display()), "tickets").await, tickets);
    restored.close().await;
    let _ = std::fs::remove_dir_all(&target_dir);
    let _ = std::fs::remove_dir_all(backup.parent().unwrap());
}

/// Migrate (PostgreSQL): a SQLite installation with data moves to an empty PostgreSQL database; every
/// table's count matches, the audit chain and the sealed phone numbers hold there, new rows continue after
/// the copied ids, and a second move into the now full database is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_sqlite_to_empty_postgres() {
    let Some(base) = postgres_url() else {
        eprintln!("ONEWINDOW_TEST_DATABASE_URL is not set: the migrate test needs PostgreSQL");
        return;
    };
    let (app, keys) = sqlite_with_data().await;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000;
    let name = format!("ow_test_migrate_{}_{nanos}", std::process::id());
    let mut admin = <sqlx::postgres::PgConnection as sqlx::Connection>::connect(&base).await.unwrap();
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let target = format!("{}/{name}", base.rsplit_once('/').unwrap().0);

    let report = app.store.copy_to_postgres(&target, &keys).await.unwrap();
    assert!(report.audit.first_broken.is_none());
    let audit_rows = report.tables.iter().find(|(t, _, _)| t == "audit").unwrap().2;
    assert_eq!(report.audit.rows, audit_rows, "the whole chain verifies on PostgreSQL");
    for table in ["places", "staff", "tickets", "flows"] {
        let row = report.tables.iter().find(|(t, _, _)| t == table).unwrap_or_else(|| panic!("{table} copied"));
        assert_eq!(row.1, count_rows(&app.store_url(), table).await, "{table} in SQLite");
        assert_eq!(row.2, row.1, "{table} in PostgreSQL");
    }
    assert!(report.tables.iter().all(|(_, s, d)| s == d), "{:?}", report.tables);

    // The moved installation runs: sealed data opens with the same keys, new rows get fresh ids.
    let moved =
        Store::open(&StoreOptions { url: target.clone(), max_connections: 4, keys: keys.clone() }).await.unwrap();
    let pg = serve(moved, temp_dir("pg"), target.clone()).await;
    let t = post(&pg, "/api/v1/tickets", None, json!({"queue": "general", "phone": "13800138004"})).await;
    assert_eq!(t["number"].as_str().unwrap(), "A004", "numbering continues: {t}");
    let first = pg.store.ticket_by_id(1).await.unwrap();
    assert_eq!(first.number, "A001");
    let messages = pg.store.outbox_recent(10).await.unwrap();
    assert!(messages.iter().any(|m| m["destination"] == "13800138001"), "sealed phones open: {messages:?}");
    assert!(pg.store.verify_audit().await.unwrap().first_broken.is_none());

    let e = app.store.copy_to_postgres(&target, &keys).await.unwrap_err().to_string();
    assert!(e.contains("not empty"), "{e}");
    drop(pg);
}
