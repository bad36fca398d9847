//! SQLite without the hop, for the busiest paths. sqlx runs every SQLite statement on a thread of the
//! connection's own and hands rows back through channels: a hop there and back, with its thread
//! wake-ups, for every statement (measured: about 70 µs of CPU for `SELECT 1` over HTTP, against a
//! few microseconds for SQLite's own work). Here the same database file is opened directly (rusqlite,
//! on the same libsqlite3 that sqlx links) and statements run on the caller's thread:
//!
//! - **readers**: a small pool of connections for short reads outside the writers' lock (a case read
//!   to plan an action). A read takes microseconds and blocks nothing else: WAL readers never wait
//!   for the writer.
//! - **the native writer**: one more connection that group commit (group_commit.rs) uses for batches
//!   of writers that write only through joined writes and read through [`Native`]-style closures. A
//!   batch is either on this connection or on sqlx's writer connection, never both; the writers' lock
//!   orders them, so the two connections never hold SQLite's write lock at once.
//!
//! Only SQLite uses this; PostgreSQL keeps sqlx (its statements are round trips to another process
//! anyway).

use crate::error::StoreError;
use rusqlite::types::{ToSqlOutput, Value as SqlValue};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Readers kept open between reads; more may open under a burst, and close again after it.
const IDLE_READERS: usize = 8;
/// Statements each connection keeps prepared.
const PREPARED: usize = 256;

/// A value bound to a statement: typed even when null, since PostgreSQL (through sqlx) needs the
/// parameter's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
}

impl Param {
    /// The value as JSON (a number, a string or null), for values that travel in a JSON array.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Param::Int(v) => v.map(serde_json::Value::from).unwrap_or_default(),
            Param::Real(v) => v.map(serde_json::Value::from).unwrap_or_default(),
            Param::Text(v) => v.clone().map(serde_json::Value::from).unwrap_or_default(),
        }
    }
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(Some(v))
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        Param::Int(v)
    }
}
impl From<f64> for Param {
    fn from(v: f64) -> Self {
        Param::Real(Some(v))
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(Some(v))
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        Param::Text(v)
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(Some(v.to_string()))
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Param::Text(Some(v.clone()))
    }
}
impl From<&Option<String>> for Param {
    fn from(v: &Option<String>) -> Self {
        Param::Text(v.clone())
    }
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Int(Some(v)) => ToSqlOutput::from(*v),
            Param::Real(Some(v)) => ToSqlOutput::from(*v),
            Param::Text(Some(v)) => ToSqlOutput::from(v.as_str()),
            Param::Int(None) | Param::Real(None) | Param::Text(None) => ToSqlOutput::Owned(SqlValue::Null),
        })
    }
}

impl Param {
    /// Adds this value to sqlx arguments, keeping its type when null.
    pub(crate) fn add_to(&self, args: &mut sqlx::any::AnyArguments<'static>) -> Result<(), String> {
        use sqlx::Arguments;
        let r = match self {
            Param::Int(v) => args.add(*v),
            Param::Real(v) => args.add(*v),
            Param::Text(v) => args.add(v.clone()),
        };
        r.map_err(|e| e.to_string())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

/// `$N` as `?N`: SQLite then binds parameter N at index N, whatever order they appear in (it numbers
/// `$N` names in order of appearance).
pub(crate) fn positional(sql: &str) -> String {
    // Copies the runs between markers whole: this runs for every joined statement under the
    // writers' lock (a char at a time it was 1 % of a benchmark's CPU). `$` is ASCII, so every cut
    // is at a character boundary.
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut from = 0;
    for (i, _) in sql.match_indices('$') {
        if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            out.push_str(&sql[from..i]);
            out.push('?');
            from = i + 1;
        }
    }
    out.push_str(&sql[from..]);
    out
}

/// Opens a connection to the file as the store's sqlx connections are set up (sqlite_setup in db.rs).
pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;",
    )?;
    conn.set_prepared_statement_cache_capacity(PREPARED);
    Ok(conn)
}

/// Runs one statement with its parameters (bound at their `?N` positions); returns the first column
/// of each row it returns, as BIGINT (RETURNING seq), or nothing.
pub(crate) fn run(conn: &Connection, sql: &str, params: &[Param]) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    for (i, p) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, p)?;
    }
    if stmt.column_count() == 0 {
        stmt.raw_execute()?;
        return Ok(Vec::new());
    }
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(row.get::<_, i64>(0)?);
    }
    Ok(out)
}

/// Runs statements in turn, each binding the leading parameters it uses; answers the last one's
/// first row of (BIGINT, TEXT) (a write with `RETURNING`: a new case's id and number).
pub(crate) fn row_int_text(
    conn: &Connection,
    statements: &[String],
    params: &[Param],
) -> Result<(i64, String), StoreError> {
    let mut last = None;
    for sql in statements {
        let mut stmt = conn.prepare_cached(&positional(sql))?;
        let wanted = stmt.parameter_count();
        let Some(bound) = params.get(..wanted) else {
            return Err(StoreError::Corrupt(format!("a statement wants {wanted} parameters, {} given", params.len())));
        };
        for (i, p) in bound.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, p)?;
        }
        let columns = stmt.column_count();
        let mut rows = stmt.raw_query();
        last = match rows.next()? {
            Some(row) if columns >= 2 => Some((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
            _ => None,
        };
        // Stepped to its end, so that the write is complete.
        while rows.next()?.is_some() {}
    }
    last.ok_or_else(|| StoreError::Corrupt("an insert returned no row".into()))
}

/// The first column of the first row, if any, as text.
pub(crate) fn optional_text(conn: &Connection, sql: &str) -> Result<Option<String>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.raw_query();
    Ok(match rows.next()? {
        Some(row) => Some(row.get::<_, String>(0)?),
        None => None,
    })
}

/// The store's direct connections to its SQLite file.
pub(crate) struct Native {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    /// Where committed batches wait for the WAL's sync (wal_sync.rs), started by the first commit.
    acknowledgements: std::sync::OnceLock<crate::wal_sync::WalSync>,
}

impl Native {
    /// For a `sqlite:` URL naming a file; none for an in-memory database (nothing else can open it).
    pub(crate) fn for_url(url: &str) -> Result<Option<Native>, StoreError> {
        use std::str::FromStr;
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
        let path = opts.get_filename();
        let name = path.to_string_lossy();
        if name.is_empty() || name.contains(":memory:") || url.contains("mode=memory") {
            return Ok(None);
        }
        Ok(Some(Native {
            path: path.to_path_buf(),
            readers: Mutex::new(Vec::new()),
            acknowledgements: Default::default(),
        }))
    }

    /// A new connection for the native writer, and whether its `COMMIT` syncs the disk itself. In WAL
    /// mode it does not (`synchronous=NORMAL`): wal_sync.rs syncs the WAL outside the writers' lock
    /// before anyone hears of the commit. Without WAL (a file system that refuses it) it keeps FULL.
    pub(crate) fn writer(&self) -> Result<(Connection, bool), StoreError> {
        let conn = connect(&self.path)?;
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Ok((conn, true));
        }
        conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
        Ok((conn, false))
    }

    /// The queue committed batches are acknowledged through (wal_sync.rs).
    pub(crate) fn acknowledgements(&self) -> Result<&crate::wal_sync::WalSync, StoreError> {
        if let Some(a) = self.acknowledgements.get() {
            return Ok(a);
        }
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let started = crate::wal_sync::WalSync::start(PathBuf::from(wal))
            .map_err(|e| StoreError::Corrupt(format!("WAL sync thread: {e}")))?;
        // Two first commits cannot race: commits happen under the writers' lock.
        Ok(self.acknowledgements.get_or_init(|| started))
    }

    /// Waits until every committed batch has been acknowledged.
    pub(crate) async fn flush_acknowledgements(&self) {
        if let Some(a) = self.acknowledgements.get() {
            a.flush().await;
        }
    }

    pub(crate) fn sync_stats(&self) -> crate::wal_sync::SyncStats {
        self.acknowledgements.get().map(|a| a.stats()).unwrap_or_default()
    }

    /// A reader connection for short reads outside the writers' lock, back among the idle ones when
    /// dropped. Reads must be short: the caller's thread (a request's) does nothing else meanwhile.
    pub(crate) fn reader(&self) -> Result<Reader<'_>, StoreError> {
        let conn = match self.lock().pop() {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        Ok(Reader { conn: Some(conn), from: self })
    }

    /// Closes the idle readers (the store is closing; a read in progress closes its own when done).
    pub(crate) fn close(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        match self.readers.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// A reader connection of [`Native`] (deref to it).
pub(crate) struct Reader<'a> {
    conn: Option<Connection>,
    from: &'a Native,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match &self.conn {
            Some(c) => c,
            None => unreachable!("a reader holds its connection until dropped"),
        }
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        match &mut self.conn {
            Some(c) => c,
            None => unreachable!("a reader holds its connection until dropped"),
        }
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        // A reader is left outside any transaction by its statements' ends; one that is not (a
        // fault) is not reused.
        if let Some(conn) = self.conn.take().filter(Connection::is_autocommit) {
            let mut idle = self.from.lock();
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_positional() {
        assert_eq!(positional("a = $1 AND b = $12, $1"), "a = ?1 AND b = ?12, ?1");
        assert_eq!(positional("cost $ 5, price$"), "cost $ 5, price$");
    }

    #[test]
    fn parameters_bind_at_their_numbers_in_any_order() {
        let dir = std::env::temp_dir().join(format!("ow-native-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| unreachable!("{e}"));
        let path = dir.join("n.db");
        let _ = std::fs::remove_file(&path);
        let c = Connection::open(&path).unwrap_or_else(|e| unreachable!("{e}"));
        c.execute_batch("CREATE TABLE t (a INTEGER, b TEXT, c TEXT)").unwrap_or_else(|e| unreachable!("{e}"));
        drop(c);
        let c = connect(&path).unwrap_or_else(|e| unreachable!("{e}"));
        let sql = positional("INSERT INTO t (b, a, c) VALUES ($2, $1, $3) RETURNING a");
        let got = run(&c, &sql, &[Param::from(7), Param::from("x"), Param::Text(None)])
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(got, vec![7]);
        let (a, b, null): (i64, String, Option<String>) = c
            .query_row("SELECT a, b, c FROM t", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!((a, b.as_str(), null), (7, "x", None));
        assert!(run(&c, &positional("UPDATE t SET a = $1"), &[Param::from(8)])
            .unwrap_or_else(|e| unreachable!("{e}"))
            .is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
