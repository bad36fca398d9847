//! Opening the database: the URL scheme picks the backend, migrations run under the backend's lock
//! (sqlx takes a PostgreSQL advisory lock, so several instances may start at once).

use crate::error::StoreError;
use crate::write::Event;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://…`.
    pub url: String,
    pub max_connections: u32,
    /// The keys that seal personal data.
    pub keys: crate::vault::KeyRing,
}

impl StoreOptions {
    /// The default: a SQLite file inside `data_dir`, created if missing, with fresh keys (the binary
    /// replaces them with the installation's key file).
    pub fn sqlite_in(data_dir: &Path) -> Self {
        StoreOptions {
            url: format!("sqlite://{}?mode=rwc", data_dir.join("onewindow.db").display()),
            max_connections: 8,
            keys: crate::vault::KeyRing::generate(),
        }
    }
}

/// A cheap handle to the database; clone it freely.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) backend: Backend,
    /// Reads.
    pub(crate) pool: AnyPool,
    /// Writes. On SQLite one connection: a single writer never meets SQLITE_BUSY from another writer
    /// of this process. On PostgreSQL a few (writers serialise on an advisory lock anyway); tools such
    /// as `generate` use them directly.
    pub(crate) writer: AnyPool,
    /// The writers' turns and the open batch of group commit (group_commit.rs).
    pub(crate) writers: crate::group_commit::Writers,
    /// Where the busiest write transactions run (group_commit.rs).
    pub(crate) writer_thread: crate::group_commit::WriterThread,
    /// On PostgreSQL, case actions waiting to be written together (case_actions/combined.rs).
    pub(crate) combiner: crate::case_actions::Combiner,
    /// On PostgreSQL, cases as this server last wrote them, to plan the next action from (written.rs).
    pub(crate) written_cases: crate::case_actions::WrittenCases,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) vault: crate::vault::Vault,
    /// Working days for time limits: the built-in years plus any the operator loads.
    pub(crate) calendar: std::sync::RwLock<onewindow_core::calendar::WorkingCalendar>,
    /// Parsed flow definitions by (code, version); definitions never change once stored.
    pub(crate) flows: std::sync::Mutex<std::collections::HashMap<(String, i64), Arc<onewindow_core::flow::Flow>>>,
    /// Announces each event once; on PostgreSQL, relays events between instances (relay.rs).
    pub(crate) relay: crate::relay::Relay,
    /// Dashboard counter totals of days that no longer change (stats.rs).
    pub(crate) settled_totals: std::sync::Mutex<crate::stats::SettledTotals>,
    /// Staff sessions read recently (session_cache.rs).
    pub(crate) sessions: crate::session_cache::SessionCache,
    /// What acceptances read of the catalogue, read recently (catalogue_facts.rs).
    pub(crate) catalogue_facts: crate::catalogue_facts::FactsCache,
    /// On a SQLite file, the store's own connections to it for the busiest paths (native.rs).
    pub(crate) native: Option<crate::native::Native>,
}

/// WAL lets readers run beside the writer; synchronous=FULL keeps every acknowledged commit on disk
/// through a power cut.
fn sqlite_setup(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        conn.execute(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;",
        )
        .await?;
        Ok(())
    })
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
pub(crate) static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    pub async fn open(opts: &StoreOptions) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let vault = crate::vault::Vault::new(&opts.keys).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let backend = if opts.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if opts.url.starts_with("postgres:") || opts.url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::conflict(
                "database_url",
                "数据库地址应以 sqlite:// 或 postgres:// 开头",
                "the database URL must start with sqlite:// or postgres://",
            ));
        };
        let connect = AnyConnectOptions::from_str(&opts.url)?.disable_statement_logging();
        let native = match backend {
            Backend::Sqlite => crate::native::Native::for_url(&opts.url)?,
            Backend::Postgres => None,
        };
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let setup = sqlite_setup;
                let writer = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(setup)
                    .connect_with(connect.clone())
                    .await?;
                // Migrate through the writer before any reader opens the file.
                SQLITE_MIGRATIONS.run(&writer).await?;
                let pool = AnyPoolOptions::new()
                    .max_connections(opts.max_connections.max(1))
                    .after_connect(setup)
                    .connect_with(connect)
                    .await?;
                (pool, writer)
            }
            Backend::Postgres => {
                // Writers wait for one advisory lock; giving them their own few connections keeps a
                // burst of writes from taking every connection that reads need.
                let writer = AnyPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(60))
                    .connect_with(connect.clone())
                    .await?;
                POSTGRES_MIGRATIONS.run(&writer).await?;
                let pool = AnyPoolOptions::new()
                    .max_connections(opts.max_connections.max(2))
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(connect)
                    .await?;
                (pool, writer)
            }
        };
        let (events, _) = broadcast::channel(4096);
        let calendar = onewindow_core::calendar::WorkingCalendar::builtin()
            .map_err(|e| StoreError::Corrupt(format!("built-in calendar: {e}")))?;
        let store = Store {
            inner: Arc::new(Inner {
                backend,
                pool,
                writer,
                writers: Default::default(),
                writer_thread: crate::group_commit::WriterThread::start()?,
                combiner: Default::default(),
                written_cases: Default::default(),
                events,
                vault,
                calendar: std::sync::RwLock::new(calendar),
                flows: Default::default(),
                relay: crate::relay::Relay::new(&opts.url),
                settled_totals: Default::default(),
                sessions: Default::default(),
                catalogue_facts: Default::default(),
                native,
            }),
        };
        store.install_builtin_flows().await?;
        Ok(store)
    }

    /// Seals and opens personal data.
    pub fn vault(&self) -> &crate::vault::Vault {
        &self.inner.vault
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// The store's own connections to its SQLite file (native.rs).
    pub(crate) fn native(&self) -> Result<&crate::native::Native, StoreError> {
        self.inner.native.as_ref().ok_or_else(|| StoreError::Corrupt("no direct SQLite connection here".into()))
    }

    /// Committed events, as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// A trivial query, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.close_writers().await;
        self.inner.pool.close().await;
        self.inner.writer.close().await;
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?)
    }
}

impl Store {
    /// An online, consistent copy of the database: SQLite writes a complete database file with
    /// `VACUUM INTO` while the server keeps running. Personal data stays sealed in the copy; the keys are
    /// not in it (back them up separately). PostgreSQL installations back up with pg_dump.
    pub async fn backup(&self, path: &Path) -> Result<(), StoreError> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::conflict(
                "backend",
                "PostgreSQL 请使用 pg_dump 备份",
                "back up PostgreSQL with pg_dump",
            ));
        }
        if path.exists() {
            return Err(StoreError::conflict(
                "file",
                format!("{} 已存在", path.display()),
                format!("{} exists", path.display()),
            ));
        }
        sqlx::query("VACUUM INTO $1").bind(path.to_string_lossy().to_string()).execute(self.pool()).await?;
        Ok(())
    }
}
