//! Moving an installation: restoring a SQLite backup (the counterpart of [`Store::backup`]) and copying a
//! SQLite installation into an empty PostgreSQL database. Both check the result: SQLite's
//! `integrity_check`, the audit chain, every table's row count, and that the keys open the sealed data.

use crate::db::{Backend, Store, StoreOptions, POSTGRES_MIGRATIONS};
use crate::error::StoreError;
use crate::AuditReport;
use futures_lite::StreamExt;
use sqlx::{Connection, Executor, Row};
use std::path::{Path, PathBuf};

/// Rows per table, in copy order: (table, rows in the source, rows in the target).
pub type TableCounts = Vec<(String, i64, i64)>;

/// What a restore or a move checked.
#[derive(Debug, Clone)]
pub struct MoveReport {
    pub tables: TableCounts,
    pub audit: AuditReport,
}

fn refused(field: &str, zh: impl Into<String>, en: impl Into<String>) -> StoreError {
    StoreError::conflict(field, zh.into(), en.into())
}

/// The file behind a `sqlite://` URL.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// True when another connection (a running server, another command) has the SQLite database open: in
/// WAL mode every open connection holds a shared lock, so an exclusive one cannot be had. Locks taken for
/// a moment (a connection closing checkpoints the WAL) are waited for, up to two seconds.
pub async fn sqlite_in_use(path: &Path) -> Result<bool, StoreError> {
    if !path.exists() {
        return Ok(false);
    }
    let mut conn = sqlx::SqliteConnection::connect(&sqlite_url(path)).await?;
    conn.execute("PRAGMA busy_timeout=2000; PRAGMA locking_mode=EXCLUSIVE;").await?;
    let busy = conn.execute("BEGIN EXCLUSIVE").await.is_err();
    if !busy {
        conn.execute("ROLLBACK").await?;
    }
    conn.close().await?;
    Ok(busy)
}

/// `PRAGMA integrity_check` of a SQLite store: "ok", or the first problems found.
async fn integrity(store: &Store) -> Result<(), StoreError> {
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(store.pool()).await?;
    if rows != ["ok"] {
        return Err(StoreError::Corrupt(format!("integrity_check: {}", rows.join("; "))));
    }
    Ok(())
}

/// The tables of a SQLite database, parents before children (by their foreign keys), without SQLite's
/// and sqlx's own.
async fn tables_in_order(store: &Store) -> Result<Vec<String>, StoreError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(store.pool())
    .await?;
    let mut parents = std::collections::BTreeMap::new();
    for t in &names {
        let p: Vec<String> = sqlx::query_scalar(&format!("SELECT \"table\" FROM pragma_foreign_key_list('{t}')"))
            .fetch_all(store.pool())
            .await?;
        parents.insert(t.clone(), p);
    }
    let mut ordered: Vec<String> = Vec::new();
    while ordered.len() < names.len() {
        let before = ordered.len();
        for t in &names {
            if !ordered.contains(t) && parents[t].iter().all(|p| p == t || ordered.contains(p) || !names.contains(p)) {
                ordered.push(t.clone());
            }
        }
        if ordered.len() == before {
            return Err(StoreError::Corrupt("the tables' foreign keys form a cycle".into()));
        }
    }
    Ok(ordered)
}

async fn count(pool: &sqlx::AnyPool, table: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(&format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}")).fetch_one(pool).await?)
}

/// Checks an open store: the audit chain holds and the keys open a sealed value of each kind.
async fn check(store: &Store) -> Result<AuditReport, StoreError> {
    let audit = store.verify_audit().await?;
    if let Some(seq) = audit.first_broken {
        return Err(StoreError::Corrupt(format!("the audit chain is broken at row {seq}")));
    }
    for (table, column) in crate::vault::SEALED_COLUMNS {
        let sample: Option<String> =
            sqlx::query_scalar(&format!("SELECT {column} FROM {table} WHERE {column} LIKE 'pd1:%' LIMIT 1"))
                .fetch_optional(store.pool())
                .await?;
        if let Some(sealed) = sample {
            store.vault().open(&sealed).map_err(|_| {
                StoreError::Corrupt(format!(
                    "the keys do not open the personal data ({table}.{column}): use the key file that belongs to this database"
                ))
            })?;
        }
    }
    Ok(audit)
}

async fn sqlite_counts(store: &Store) -> Result<TableCounts, StoreError> {
    let mut out = Vec::new();
    for t in tables_in_order(store).await? {
        let n = count(store.pool(), &t).await?;
        out.push((t, n, n));
    }
    Ok(out)
}

/// Restores a backup made by `onewindow backup` into the SQLite database at `target` (the server must be
/// stopped). Refuses a target that holds data unless `force`; the replaced database is kept beside it as
/// `…db.replaced-<time>`. The backup is checked (integrity, audit chain, keys) on a copy before anything is
/// replaced, and the restored database is checked again.
pub async fn restore_sqlite(
    backup: &Path,
    target: &Path,
    keys: &crate::vault::KeyRing,
    force: bool,
) -> Result<MoveReport, StoreError> {
    let mut header = [0u8; 16];
    let readable = std::fs::File::open(backup).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header));
    if readable.is_err() || &header != b"SQLite format 3\0" {
        return Err(refused(
            "file",
            format!("{} 不是 onewindow 的 SQLite 备份文件", backup.display()),
            format!("{} is not a SQLite backup made by onewindow backup", backup.display()),
        ));
    }
    if sqlite_in_use(target).await? {
        return Err(refused(
            "database",
            "数据库正在使用中（服务器在运行？），请先停止服务器",
            "the database is in use (is the server running?): stop it first",
        ));
    }
    let opts = |path: &Path| StoreOptions { url: sqlite_url(path), max_connections: 2, keys: keys.clone() };
    if target.exists() && !force {
        let current = Store::open(&opts(target)).await?;
        let empty = current.is_empty().await?;
        current.close().await;
        if !empty {
            return Err(refused(
                "database",
                "目标数据库已有数据；确认覆盖请加 --force（原数据库会保留为 .replaced 文件）",
                "the installation already holds data: add --force to replace it (the old database is kept as a .replaced file)",
            ));
        }
    }
    // Check the backup on a copy beside the target, then move the copy into place.
    let staged = target.with_extension("db.restoring");
    remove_with_wal(&staged)?;
    std::fs::copy(backup, &staged).map_err(|e| StoreError::Corrupt(format!("copying the backup: {e}")))?;
    {
        let store = Store::open(&opts(&staged)).await?;
        let checked = async {
            integrity(&store).await?;
            check(&store).await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&store.inner.writer).await?;
            Ok::<_, StoreError>(())
        }
        .await;
        store.close().await;
        if let Err(e) = checked {
            let _ = remove_with_wal(&staged);
            return Err(e);
        }
    }
    if target.exists() {
        // Fold the old WAL into the file so that the kept copy is whole, then set it aside.
        let old = Store::open(&opts(target)).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&old.inner.writer).await?;
        old.close().await;
        let aside = PathBuf::from(format!("{}.replaced-{}", target.display(), crate::now_ms()));
        std::fs::rename(target, &aside)
            .map_err(|e| StoreError::Corrupt(format!("setting the old database aside: {e}")))?;
    }
    remove_with_wal(target)?;
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", staged.display()));
    }
    std::fs::rename(&staged, target).map_err(|e| StoreError::Corrupt(format!("moving the restored database: {e}")))?;
    let store = Store::open(&opts(target)).await?;
    let result = async {
        integrity(&store).await?;
        let audit = check(&store).await?;
        Ok(MoveReport { tables: sqlite_counts(&store).await?, audit })
    }
    .await;
    store.close().await;
    result
}

/// Removes a SQLite file and its -wal and -shm companions, if present.
fn remove_with_wal(path: &Path) -> Result<(), StoreError> {
    for ext in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{ext}", path.display()));
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| StoreError::Corrupt(format!("removing {}: {e}", p.display())))?;
        }
    }
    Ok(())
}

impl Store {
    /// Copies this SQLite installation into the empty PostgreSQL database at `url`: the schema by the
    /// PostgreSQL migrations, then every table in foreign-key order from one consistent snapshot, in one
    /// PostgreSQL transaction (all or nothing); identity sequences continue after the copied ids. Then
    /// every table's row count is compared and the audit chain and keys are checked on the target.
    pub async fn copy_to_postgres(&self, url: &str, keys: &crate::vault::KeyRing) -> Result<MoveReport, StoreError> {
        if self.backend() != Backend::Sqlite {
            return Err(refused("database_url", "只能从 SQLite 迁移", "the source must be a SQLite installation"));
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(refused("to", "目标应为 postgres:// 地址", "the target must be a postgres:// URL"));
        }
        let target = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(url).await?;
        let tables = tables_in_order(self).await?;
        // Empty: no table of ours with a row (a schema made by an earlier, failed attempt is fine).
        let existing: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&target)
        .await?;
        for t in existing.iter().filter(|t| t.as_str() != "_sqlx_migrations") {
            let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{t}\"")).fetch_one(&target).await?;
            if rows > 0 {
                return Err(refused(
                    "to",
                    format!("目标数据库不是空的（{t} 表有 {rows} 行）"),
                    format!("the target database is not empty ({t} has {rows} rows)"),
                ));
            }
        }
        POSTGRES_MIGRATIONS.run(&target).await?;

        let mut source = self.pool().acquire().await?;
        // One read transaction: every table from the same snapshot, even if a server is writing.
        source.execute("BEGIN").await?;
        let copied = copy_tables(&mut source, &target, &tables).await;
        let _ = source.execute("ROLLBACK").await;
        let copied = copied?;
        target.close().await;

        let opened =
            Store::open(&StoreOptions { url: url.to_string(), max_connections: 2, keys: keys.clone() }).await?;
        let result = async {
            let mut counts = Vec::new();
            for (t, n) in copied {
                counts.push((t.clone(), n, count(opened.pool(), &t).await?));
            }
            if let Some((t, s, d)) = counts.iter().find(|(_, s, d)| s != d) {
                return Err(StoreError::Corrupt(format!("{t}: {s} rows in SQLite but {d} in PostgreSQL")));
            }
            let audit = check(&opened).await?;
            Ok(MoveReport { tables: counts, audit })
        }
        .await;
        opened.close().await;
        result
    }
}

/// Copies `tables` (all columns are BIGINT or TEXT) from the source connection's snapshot into the target
/// in one transaction. Returns the rows copied per table.
async fn copy_tables(
    source: &mut sqlx::pool::PoolConnection<sqlx::Any>,
    target: &sqlx::PgPool,
    tables: &[String],
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut tx = target.begin().await?;
    let mut copied = Vec::new();
    for table in tables {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&mut *tx)
        .await?;
        if columns.is_empty() {
            return Err(StoreError::Corrupt(format!("PostgreSQL has no table {table}: the schemas differ")));
        }
        let list = columns.iter().map(|(c, _)| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        let select = format!("SELECT {list} FROM {table} ORDER BY rowid");
        let mut rows = sqlx::query(&select).fetch(&mut **source);
        let per_batch = (30_000 / columns.len()).max(1);
        let mut batch: Vec<sqlx::any::AnyRow> = Vec::with_capacity(per_batch);
        let mut n = 0i64;
        loop {
            let next = rows.next().await.transpose()?;
            let done = next.is_none();
            if let Some(r) = next {
                batch.push(r);
            }
            if batch.len() >= per_batch || (done && !batch.is_empty()) {
                n += batch.len() as i64;
                insert_batch(&mut tx, table, &list, &columns, &batch).await?;
                batch.clear();
            }
            if done {
                break;
            }
        }
        drop(rows);
        // Identity columns continue after the largest copied id.
        for (c, _) in &columns {
            let seq: Option<String> = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, $2)")
                .bind(table)
                .bind(c)
                .fetch_one(&mut *tx)
                .await?;
            if let Some(seq) = seq {
                sqlx::query(&format!(
                    "SELECT setval('{seq}', COALESCE(MAX(\"{c}\"), 1), MAX(\"{c}\") IS NOT NULL) FROM {table}"
                ))
                .execute(&mut *tx)
                .await?;
            }
        }
        copied.push((table.clone(), n));
    }
    tx.commit().await?;
    Ok(copied)
}

async fn insert_batch(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &str,
    list: &str,
    columns: &[(String, String)],
    rows: &[sqlx::any::AnyRow],
) -> Result<(), StoreError> {
    let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!("INSERT INTO {table} ({list}) "));
    let mut failed = None;
    q.push_values(rows, |mut b, row| {
        for (i, (name, ty)) in columns.iter().enumerate() {
            match ty.as_str() {
                "bigint" | "integer" | "smallint" => match row.try_get::<Option<i64>, _>(i) {
                    Ok(v) => {
                        b.push_bind(v);
                    }
                    Err(e) => failed = Some(format!("{table}.{name}: {e}")),
                },
                _ => match row.try_get::<Option<String>, _>(i) {
                    Ok(v) => {
                        b.push_bind(v);
                    }
                    Err(e) => failed = Some(format!("{table}.{name}: {e}")),
                },
            }
        }
    });
    if let Some(f) = failed {
        return Err(StoreError::Corrupt(format!("reading {f}")));
    }
    q.build().execute(&mut **tx).await?;
    Ok(())
}
