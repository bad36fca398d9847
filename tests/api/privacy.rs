//! Personal data at rest: sealed in the database, masked in lists, unmasked only with a purpose that is
//! recorded; keys rotate. Secrets sent by SMS (a sign-in code, a pick-up code) are sealed with the outbox
//! payload and masked in the admin's outbox view.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PHONE: &str = "13912345678";
const ID_NUMBER: &str = "11010519491231002X";
const NAME: &str = "欧阳娜娜";

async fn citizen_data_everywhere(app: &TestApp) -> i64 {
    let acceptor = app.login("acceptor").await;
    let post = |path: &str, body: Value| app.client.post(app.url(path)).bearer_auth(&acceptor).json(&body).send();
    assert_eq!(
        post("/api/v1/tickets", json!({"queue": "general", "phone": PHONE})).await.unwrap().status(),
        StatusCode::CREATED
    );
    post("/api/v1/windows/A1/call-next", json!({})).await.unwrap();
    post("/api/v1/windows/A1/start", json!({})).await.unwrap();
    let materials = crate::helpers::mzj_002_materials();
    let r = post(
        "/api/v1/cases",
        json!({"item": "MZJ-002", "applicant": {"name": NAME, "id_number": ID_NUMBER, "phone": PHONE}, "materials": materials, "window": "A1"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let c: Value = r.json().await.unwrap();
    assert_eq!((c["applicant_name"].as_str(), c["applicant_phone"].as_str()), (Some("欧***"), Some("139****5678")));
    assert_eq!(c["applicant_id_number"], "110***********002X");
    // The same citizen on the portal: signed in by SMS, an online application with a file, the name as
    // the express recipient, and an appointment.
    let token = crate::portal::citizen(app, PHONE).await;
    let form = crate::portal::application_of(NAME, ID_NUMBER, true);
    let r = app
        .client
        .post(app.url("/api/v1/citizen/applications"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let place = onewindow_core::place::PlaceCode::parse("330822").unwrap();
    let queue = app.store.queues(&place).await.unwrap()[0].code.clone();
    let day = app.store.appointment_days(onewindow_store::now_ms()).unwrap().last().unwrap().to_string();
    let r = app
        .client
        .post(app.url("/api/v1/citizen/appointments"))
        .bearer_auth(&token)
        .json(&json!({"queue": queue, "day": day, "slot": "16:30"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // The SMS worker has sent the messages (the log gateway) before we look at the bytes.
    for _ in 0..100 {
        if app.store.outbox_counts().await.unwrap().pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    c["id"].as_i64().unwrap()
}

/// Waits (at most 10 s) until the SMS sender has sent everything queued.
async fn sms_drained(app: &TestApp) {
    for _ in 0..200 {
        let c = app.store.outbox_counts().await.unwrap();
        if c.pending == 0 && c.sending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the outbox did not drain");
}

/// The secrets the citizen got by SMS: the sign-in code (from [`citizen_data_everywhere`]) and, once the
/// case is approved here (its result waits at the delivery window), the pick-up code.
struct Codes {
    sign_in: String,
    pickup: String,
}

async fn codes_sent(app: &TestApp, case: i64) -> Codes {
    let approver = app.login("approver").await;
    for action in ["claim", "approve"] {
        let r = app
            .client
            .post(app.url(&format!("/api/v1/cases/{case}/actions")))
            .bearer_auth(&approver)
            .json(&json!({"action": action}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{action}: {}", r.text().await.unwrap());
    }
    sms_drained(app).await;
    let sms = crate::helpers::sms_as_sent(app).await;
    let text = |kind: &str| {
        sms.iter()
            .find(|m| m["payload"]["kind"] == kind && m["destination"] == PHONE)
            .and_then(|m| m["payload"]["text"].as_str())
            .unwrap_or_else(|| panic!("an SMS of kind {kind}: {sms:#?}"))
            .to_string()
    };
    let digits_after = |text: &str, mark: &str| -> String {
        text.split(mark).nth(1).unwrap_or_default().chars().take_while(|c| c.is_ascii_digit()).collect()
    };
    let codes = Codes {
        sign_in: digits_after(&text("citizen.code"), "验证码为"),
        pickup: digits_after(&text("case.approve"), "取件码"),
    };
    assert_eq!((codes.sign_in.len(), codes.pickup.len()), (6, 6), "{sms:#?}");
    codes
}

/// Whether `needle` (digits) occurs in `haystack` as a number of its own: not inside a longer run of
/// letters or digits, where any six digits turn up by chance (a timestamp, a hash, sealed base64).
fn holds_number(haystack: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    haystack.windows(n.len()).enumerate().any(|(i, w)| {
        w == n
            && (i == 0 || !haystack[i - 1].is_ascii_alphanumeric())
            && haystack.get(i + n.len()).is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}

/// Every `table.column` whose stored value holds `number` as a number of its own.
async fn columns_holding(pool: &sqlx::AnyPool, db: Db, number: &str) -> Vec<String> {
    let columns: Vec<(String, String)> = match db {
        Db::Sqlite => {
            sqlx::query_as(
                "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(pool)
            .await
            .unwrap()
        }
        Db::Postgres => sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'text'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    assert!(columns.len() > 20);
    let mut found = Vec::new();
    for (table, column) in columns {
        let values: Vec<Option<String>> = sqlx::query_scalar(&format!(
            "SELECT CAST({column} AS TEXT) FROM {table} WHERE CAST({column} AS TEXT) LIKE $1"
        ))
        .bind(format!("%{number}%"))
        .fetch_all(pool)
        .await
        .unwrap();
        if values.iter().flatten().any(|v| holds_number(v.as_bytes(), number)) {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

/// No plaintext ID number, phone number or name of a citizen anywhere in the stored data, nor the
/// sign-in code or the pick-up code texted to them.
async fn nothing_personal_in_plaintext(db: Db) {
    let app = spawn_app(db).await;
    let id = citizen_data_everywhere(&app).await;
    let codes = codes_sent(&app, id).await;
    match db {
        Db::Sqlite => {
            app.store.close().await;
            let mut found = Vec::new();
            for entry in std::fs::read_dir(&app.dir).unwrap() {
                let path = entry.unwrap().path();
                // SQLite removes its -wal and -shm files as the last connection closes (their content is then in
                // the database file): a file that is gone holds nothing.
                let bytes = match std::fs::read(&path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => panic!("reading {}: {e}", path.display()),
                };
                for needle in [PHONE, ID_NUMBER, NAME] {
                    if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                        found.push(format!("{} in {}", needle, path.display()));
                    }
                }
                // The sign-in code nowhere; the pick-up code not in a message. (Six bare digits may occur in
                // a file's bytes by chance; the columns are searched for it below.)
                if holds_number(&bytes, &codes.sign_in) {
                    found.push(format!("the sign-in code {} in {}", codes.sign_in, path.display()));
                }
                let pickup_text = format!("取件码{}", codes.pickup);
                if bytes.windows(pickup_text.len()).any(|w| w == pickup_text.as_bytes()) {
                    found.push(format!("the pick-up code {} in a message in {}", codes.pickup, path.display()));
                }
            }
            assert!(found.is_empty(), "{found:?}");
            let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
            let pickup = columns_holding(&pool, db, &codes.pickup).await;
            assert!(pickup.is_empty(), "the pick-up code {} in {pickup:?}", codes.pickup);
            pool.close().await;
        }
        Db::Postgres => {
            // Every text column of every table, as the database stores it.
            let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
            let columns: Vec<(String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'text'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            assert!(columns.len() > 20);
            for (table, column) in columns {
                for needle in [PHONE, ID_NUMBER, NAME] {
                    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {column} LIKE $1"))
                        .bind(format!("%{needle}%"))
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    assert_eq!(n, 0, "{needle} in {table}.{column}");
                }
            }
            let sign_in = columns_holding(&pool, db, &codes.sign_in).await;
            assert!(sign_in.is_empty(), "the sign-in code {} in {sign_in:?}", codes.sign_in);
            let pickup = columns_holding(&pool, db, &codes.pickup).await;
            assert!(pickup.is_empty(), "the pick-up code {} in {pickup:?}", codes.pickup);
        }
    }
}

/// The admin's outbox view (the store's list and the /admin/messages page) shows that a sign-in code and
/// a pick-up code were sent, never the codes.
async fn the_admin_outbox_view_reveals_no_code(db: Db) {
    let app = spawn_app(db).await;
    let id = citizen_data_everywhere(&app).await;
    let codes = codes_sent(&app, id).await;
    let rows = app.store.outbox_recent(200).await.unwrap();
    let text = |kind: &str| {
        rows.iter()
            .find(|m| m["payload"]["kind"] == kind)
            .and_then(|m| m["payload"]["text"].as_str())
            .unwrap_or_else(|| panic!("an SMS of kind {kind}: {rows:#?}"))
            .to_string()
    };
    let sign_in = text("citizen.code");
    assert!(sign_in.starts_with("您的登录验证码为******，"), "{sign_in}");
    let pickup = text("case.approve");
    assert!(pickup.contains("取件码******") && pickup.contains("已办结"), "{pickup}");
    for code in [&codes.sign_in, &codes.pickup] {
        for m in &rows {
            let payload = m["payload"].to_string();
            assert!(!holds_number(payload.as_bytes(), code), "the code {code} shows in {payload}");
        }
    }
    // Other messages stay readable: the acceptance SMS names the case number.
    let number = app.store.case_for(id, None).await.unwrap().number;
    assert!(
        rows.iter().any(|m| m["payload"]["kind"] == "case.accepted"
            && m["payload"]["text"].as_str().is_some_and(|t| t.contains(&format!("办件号{number}")))),
        "{rows:#?}"
    );
    // The page an admin reads.
    let admin = app.login("admin").await;
    let r = app.client.get(app.url("/admin/messages")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("验证码为******") && page.contains("取件码******"), "the page lists both messages");
    for code in [&codes.sign_in, &codes.pickup] {
        assert!(!holds_number(page.as_bytes(), code), "the code {code} shows on /admin/messages");
    }
}

/// An outbox row queued before payloads were sealed (plaintext JSON) is still sent and listed (masked),
/// and re-sealing seals it.
async fn plaintext_payloads_from_before_still_work(db: Db) {
    let app = spawn_app(db).await;
    let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
    let old = json!({"text": "您的办件已办结，可凭取件码314159领取。", "kind": "case.approve"}).to_string();
    sqlx::query(
        "INSERT INTO outbox (created_at, channel, destination, payload, idempotency_key, next_attempt_at) \
         VALUES ($1, 'sms', $2, $3, 'before-sealing:1', $1)",
    )
    .bind(onewindow_store::now_ms())
    .bind(app.store.vault().seal(PHONE))
    .bind(&old)
    .execute(&pool)
    .await
    .unwrap();
    sms_drained(&app).await;
    let rows = app.store.outbox_recent(10).await.unwrap();
    let m = rows.iter().find(|m| m["idempotency_key"] == "before-sealing:1").unwrap();
    assert_eq!(m["status"], "sent", "the sender read the plaintext payload: {m}");
    assert_eq!(m["payload"]["text"], "您的办件已办结，可凭取件码******领取。");
    assert_eq!(app.store.reseal_personal_data().await.unwrap(), 1, "only the plaintext payload");
    let stored: String = sqlx::query_scalar("SELECT payload FROM outbox WHERE idempotency_key = 'before-sealing:1'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(stored.starts_with("pd1:1:") && !stored.contains("314159"), "{stored}");
    pool.close().await;
    let rows = app.store.outbox_recent(10).await.unwrap();
    let m = rows.iter().find(|m| m["idempotency_key"] == "before-sealing:1").unwrap();
    assert_eq!(m["payload"]["text"], "您的办件已办结，可凭取件码******领取。");
}

/// Unmasking needs a purpose and is recorded; lists stay masked.
async fn unmasking_is_recorded(db: Db) {
    let app = spawn_app(db).await;
    let id = citizen_data_everywhere(&app).await;
    let approver = app.login("approver").await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/cases/{id}/unmask")))
        .bearer_auth(&approver)
        .json(&json!({"purpose": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .client
        .post(app.url(&format!("/api/v1/cases/{id}/unmask")))
        .bearer_auth(&approver)
        .json(&json!({"purpose": "电话核实家庭情况"}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["name"].as_str(), v["id_number"].as_str(), v["phone"].as_str()),
        (Some(NAME), Some(ID_NUMBER), Some(PHONE))
    );
    let events = app.store.events_after(0, 100_000).await.unwrap();
    let e = events.iter().find(|e| e.kind == "personal.unmasked").unwrap();
    assert_eq!(e.data["purpose"], "电话核实家庭情况");
    assert_eq!(e.subject, format!("case:{id}"));
    // Another department cannot unmask (it cannot see the case at all).
    let other = app.login("clerk").await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/cases/{id}/unmask")))
        .bearer_auth(&other)
        .json(&json!({"purpose": "好奇"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// Rotating the keys re-seals every value under the new key; with only the new key everything still
/// opens; a store holding only an unknown key opens nothing and re-seals nothing.
async fn keys_rotate(db: Db) {
    use onewindow_store::vault::KeyRing;
    use onewindow_store::{seed, Store, StoreOptions};
    let (first, _dir, url) = crate::helpers::fresh_store(db).await;
    first.close().await;
    let open = |keys: KeyRing| {
        let opts = StoreOptions { url: url.clone(), max_connections: 2, keys };
        async move { Store::open(&opts).await }
    };
    let ring1 = KeyRing::generate();
    let store = open(ring1.clone()).await.unwrap();
    store.load_county(&seed::demo().unwrap(), seed::DEMO_PASSWORD).await.unwrap();
    // The app's own directory (removed when it drops) is a throwaway one inside the test's.
    let scratch = _dir.join("app");
    std::fs::create_dir_all(&scratch).unwrap();
    let app = crate::helpers::serve(store.clone(), scratch, url.clone()).await;
    let id = citizen_data_everywhere(&app).await;
    drop(app);
    store.close().await;

    let mut ring2 = ring1.clone();
    assert_eq!(ring2.rotate(), 2);
    let rotated = open(ring2.clone()).await.unwrap();
    let n = rotated.reseal_personal_data().await.unwrap();
    assert!(n >= 16, "ticket phone, case name/id/phone, SMS destinations, portal session, application, file, upload, appointment: {n}");
    assert_eq!(rotated.reseal_personal_data().await.unwrap(), 0, "nothing left under the old key");
    rotated.close().await;

    ring2.keys.remove(&1);
    let only_new = open(ring2).await.unwrap();
    let c = only_new.case_for(id, None).await.unwrap();
    assert_eq!((c.applicant_name.as_str(), c.applicant_phone.as_deref()), ("欧***", Some("139****5678")));
    let msgs = only_new.outbox_recent(50).await.unwrap();
    assert!(msgs.iter().all(|m| m["destination"] == PHONE), "SMS destinations open under the new key");
    assert!(msgs.iter().all(|m| m["payload"]["text"].is_string()), "and their payloads: {msgs:#?}");
    only_new.close().await;

    let stranger = open(KeyRing::generate()).await.unwrap();
    assert_eq!(stranger.case_for(id, None).await.unwrap().applicant_phone, None, "a wrong key opens nothing");
    assert!(stranger.reseal_personal_data().await.is_err(), "and refuses to re-seal what it cannot open");
    stranger.close().await;
}

backend_tests!(
    nothing_personal_in_plaintext,
    the_admin_outbox_view_reveals_no_code,
    plaintext_payloads_from_before_still_work,
    unmasking_is_recorded,
    keys_rotate
);

/// The real binary: after a citizen's ticket and case, neither its data directory nor its logs hold
/// their phone number, ID number or name in plaintext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_server_writes_no_plaintext_to_disk_or_logs() {
    let dir = std::env::temp_dir().join(format!("onewindow_bin_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.join("data"))
        .env("RUST_LOG", "debug,sqlx=debug")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not start");
    let token: Value = client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"username": "acceptor", "password": onewindow_store::seed::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let post = |path: &str, body: Value| client.post(format!("{base}{path}")).bearer_auth(&token).json(&body).send();
    assert!(post("/api/v1/tickets", json!({"queue": "general", "phone": PHONE})).await.unwrap().status().is_success());
    post("/api/v1/windows/A1/call-next", json!({})).await.unwrap();
    post("/api/v1/windows/A1/start", json!({})).await.unwrap();
    let materials = crate::helpers::mzj_002_materials();
    let r = post(
        "/api/v1/cases",
        json!({"item": "MZJ-002", "applicant": {"name": NAME, "id_number": ID_NUMBER, "phone": PHONE}, "materials": materials, "window": "A1"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // A bad phone number in a request is not echoed into the logs either.
    post("/api/v1/tickets", json!({"queue": "general", "phone": "1391234567"})).await.unwrap();
    // Give the SMS worker time to send (the log gateway logs each message, masked).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    // An online backup while the server runs.
    let backup = std::process::Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args(["backup", "--data-dir"])
        .arg(dir.join("data"))
        .arg(dir.join("backup.db"))
        .output()
        .unwrap();
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    let copy = onewindow_store::Store::open(&onewindow_store::StoreOptions {
        url: format!("sqlite://{}", dir.join("backup.db").display()),
        max_connections: 1,
        keys: onewindow_store::vault::KeyRing::generate(),
    })
    .await
    .unwrap_or_else(|e| panic!("opening the backup: {e}"));
    assert_eq!(copy.verify_audit().await.unwrap().first_broken, None, "the backup is consistent");
    assert!(!copy.items(None).await.unwrap().is_empty());
    copy.close().await;
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(log.contains("onewindow::sms"), "the log gateway logged the messages");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir.join("data")).unwrap().chain(std::fs::read_dir(&dir).unwrap()) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        // SQLite removes its -wal and -shm files as the last connection closes (their content is then in
        // the database file): a file that is gone holds nothing.
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("reading {}: {e}", path.display()),
        };
        for needle in [PHONE, ID_NUMBER, NAME, "1391234567"] {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(format!("{needle} in {}", path.display()));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(found.is_empty(), "{found:?}");
}
