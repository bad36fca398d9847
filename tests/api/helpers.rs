use onewindow_store::{seed, Store, StoreOptions};
use onewindow_web::{AppOptions, AppState};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub store: Store,
    /// Where the SQLite file lives (kept until the test ends).
    pub dir: PathBuf,
    /// The database URL the app runs on.
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the body once per backend: SQLite always, PostgreSQL when ONEWINDOW_TEST_DATABASE_URL is set.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Db::Sqlite).await }) +
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if $crate::helpers::postgres_url().is_none() {
                    eprintln!("ONEWINDOW_TEST_DATABASE_URL is not set: PostgreSQL variant not run");
                    return;
                }
                super::$name($crate::helpers::Db::Postgres).await
            }) +
        }
    };
}

pub fn postgres_url() -> Option<String> {
    std::env::var("ONEWINDOW_TEST_DATABASE_URL").ok().filter(|s| !s.is_empty())
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{}_{}", std::process::id(), nanos % 1_000_000_000, N.fetch_add(1, Ordering::Relaxed))
}

/// A fresh, empty database of the kind asked for.
pub async fn fresh_store(db: Db) -> (Store, PathBuf, String) {
    let dir = std::env::temp_dir().join(unique("onewindow_test"));
    std::fs::create_dir_all(&dir).unwrap();
    let opts = match db {
        Db::Sqlite => StoreOptions::sqlite_in(&dir),
        Db::Postgres => {
            let base = postgres_url().expect("ONEWINDOW_TEST_DATABASE_URL");
            let name = unique("ow_test");
            let mut admin = <sqlx::postgres::PgConnection as sqlx::Connection>::connect(&base).await.unwrap();
            sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str()).await.unwrap();
            let (prefix, _) = base.rsplit_once('/').expect("a database URL with a path");
            StoreOptions {
                url: format!("{prefix}/{name}"),
                max_connections: 8,
                keys: onewindow_store::vault::KeyRing::generate(),
            }
        }
    };
    (Store::open(&opts).await.unwrap(), dir, opts.url)
}

/// The demo county, loaded once per process and reused as a template would be.
pub fn demo() -> seed::DemoCounty {
    seed::demo().unwrap()
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_with(db, |_| {}).await
}

/// Spawns the app on the demo county, after letting the test change the county first.
pub async fn spawn_with(db: Db, change: impl FnOnce(&mut seed::DemoCounty)) -> TestApp {
    let (store, dir, url) = fresh_store(db).await;
    let mut county = demo();
    change(&mut county);
    store.load_county(&county, seed::DEMO_PASSWORD).await.unwrap();
    serve(store, dir, url).await
}

pub async fn serve(store: Store, dir: PathBuf, url: String) -> TestApp {
    serve_with(store, dir, url, AppOptions::default()).await
}

/// Spawns the app on the demo county with its own options (an HTTP SMS gateway, say).
pub async fn spawn_app_with(db: Db, opts: AppOptions) -> TestApp {
    let (store, dir, url) = fresh_store(db).await;
    store.load_county(&demo(), seed::DEMO_PASSWORD).await.unwrap();
    serve_with(store, dir, url, opts).await
}

pub async fn serve_with(store: Store, dir: PathBuf, url: String, opts: AppOptions) -> TestApp {
    // Server-side errors show in the failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,sqlx=error".into()),
        )
        .with_test_writer()
        .try_init();
    let state = AppState::new(store.clone(), opts).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = onewindow_web::service(state);
    let server = tokio::spawn(async move {
        axum::serve(onewindow_web::listener(listener), app).await.unwrap();
    });
    let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    TestApp { base: format!("http://{addr}"), client, store, dir, url, server }
}

impl TestApp {
    pub fn store_url(&self) -> String {
        self.url.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    /// GET as a signed-in member (a bearer token); 200 expected.
    pub async fn get_json_as(&self, token: &str, path: &str) -> Value {
        let r = self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    /// Logs in through the API and returns the bearer token.
    pub async fn login(&self, username: &str) -> String {
        let r = self
            .client
            .post(self.url("/api/v1/session"))
            .json(&serde_json::json!({"username": username, "password": seed::DEMO_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "login {username}");
        r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
    }

    /// Waits until the in-memory catalogue has caught up with the committed changes.
    pub async fn settle_catalogue(&self, expect_total: usize) {
        for _ in 0..100 {
            let v = self.get_json("/api/v1/items?limit=1").await;
            if v["total"].as_u64() == Some(expect_total as u64) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("catalogue did not reach {expect_total} items");
    }
}

/// The names of a search's hits, best first.
pub async fn search_names(app: &TestApp, q: &str) -> Vec<String> {
    let v = app.get_json(&format!("/api/v1/items?q={}&limit=50", urlencode(q))).await;
    v["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every material of MZJ-002 (特困人员救助供养), received.
pub fn mzj_002_materials() -> Vec<Value> {
    [
        "居民身份证",
        "户口簿",
        "特困人员救助供养申请书",
        "本人及法定义务人履行能力情况说明",
        "残疾人证（残疾人申请时提供）",
    ]
    .iter()
    .map(|n| serde_json::json!({"name": n, "status": "received"}))
    .collect()
}

/// The text messages as they reach the phone, newest first, in the shape of `Store::outbox_recent`'s rows
/// (`id`, `destination`, `payload`, `idempotency_key`): the outbox read directly and opened with the
/// store's keys, as the sender does. The admin's view masks sign-in and pick-up codes, so a test that
/// needs a code reads it here, as the citizen reads it on their phone.
pub async fn sms_as_sent(app: &TestApp) -> Vec<Value> {
    let pool = sqlx::AnyPool::connect(&app.url).await.unwrap();
    let rows: Vec<(i64, String, String, String)> =
        sqlx::query_as("SELECT id, destination, payload, idempotency_key FROM outbox ORDER BY id DESC")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    let vault = app.store.vault();
    rows.into_iter()
        .map(|(id, destination, payload, key)| {
            assert!(payload.starts_with("pd1:"), "outbox payloads are sealed at rest: {payload}");
            let payload: Value = serde_json::from_str(&vault.open(&payload).unwrap()).unwrap();
            let destination = vault.open(&destination).unwrap();
            serde_json::json!({"id": id, "destination": destination, "payload": payload, "idempotency_key": key})
        })
        .collect()
}
