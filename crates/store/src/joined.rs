//! Several writes sent to the database as one statement: one round trip (PostgreSQL) or one hop to
//! SQLite's connection thread, however many rows a change writes.
//!
//! Each piece is written with its own parameters numbered from `$1`; they are renumbered as the
//! pieces are joined, and their values go into one argument list. SQLite runs the pieces in turn (sqlx
//! binds numbered parameters of every statement from that one list); PostgreSQL runs them as
//! data-modifying CTEs of one statement. Pieces must not depend on each other's effects (on
//! PostgreSQL they all see the statement's snapshot) and must not change the same row twice.

use crate::db::Backend;
use crate::error::StoreError;
use crate::group_commit::CounterKey;
use crate::native::{positional, Param};
use crate::write::Event;
use sqlx::any::AnyArguments;
use sqlx::Row;

/// Writes to be sent as one statement with [`crate::WriteTx::send`]. What they record (events, the
/// audit chain's head, dashboard counters) joins the transaction only when they are sent.
pub(crate) struct JoinedWrites {
    backend: Backend,
    pieces: Vec<Piece>,
    /// Every piece's values, in order: bound into one argument list for sqlx, or piece by piece on
    /// the store's own SQLite connection (native.rs).
    params: Vec<Param>,
    /// A piece that cannot be sent (a misplaced guard), found when the writes are finished.
    fault: Option<String>,
    /// The first piece is a guard: an UPDATE the others happen only if it changed a row.
    guarded: bool,
    /// Events recorded into these writes; their sequence numbers come back from the send.
    pub(crate) events: Vec<Event>,
    /// The audit chain's head after these writes.
    pub(crate) head: Option<String>,
    pub(crate) counters: Vec<(CounterKey, i64)>,
}

struct Piece {
    sql: String,
    /// On SQLite, the piece on its own with its parameters as `?N` (run on the store's own connection).
    native: String,
    /// The first parameter number of this piece in the joined statement, less one.
    offset: usize,
    /// The highest parameter number the piece uses, before renumbering.
    highest: usize,
    /// The piece returns one row with one BIGINT (an event's sequence number).
    returns: bool,
}

impl JoinedWrites {
    pub(crate) fn new(backend: Backend) -> Self {
        JoinedWrites {
            backend,
            pieces: Vec::new(),
            params: Vec::new(),
            fault: None,
            guarded: false,
            events: Vec::new(),
            head: None,
            counters: Vec::new(),
        }
    }

    /// Adds a statement that returns nothing; bind its parameters next, in order.
    pub(crate) fn write(&mut self, sql: &str) -> &mut Self {
        self.piece(sql, false)
    }

    /// Adds a statement ending in `RETURNING <one BIGINT>`; [`crate::WriteTx::send`] hands back what
    /// these return, in the order they were added.
    pub(crate) fn write_returning(&mut self, sql: &str) -> &mut Self {
        self.piece(sql, true)
    }

    /// Adds a guard, first: an UPDATE of one row whose WHERE checks what the writes were planned on
    /// (a version). Every later piece, which must be an `INSERT … VALUES (…)` writing one row, then
    /// happens only if the guard changed its row; SQLite chains them on `changes()` (so a piece that
    /// may write no row, such as an upsert doing nothing, goes last), PostgreSQL selects them from the
    /// guard's result. A guarded write needs a returning piece: none returns when the guard fails.
    pub(crate) fn guard(&mut self, update: &str) -> &mut Self {
        if !self.pieces.is_empty() {
            self.fault.get_or_insert("a guard must be the first piece".into());
        }
        self.guarded = true;
        let update = match self.backend {
            Backend::Sqlite => update.to_string(),
            Backend::Postgres => format!("{update} RETURNING 1"),
        };
        self.push(&update, false);
        self
    }

    pub(crate) fn is_guarded(&self) -> bool {
        self.guarded
    }

    fn piece(&mut self, sql: &str, returns: bool) -> &mut Self {
        let conditional;
        let sql = if self.guarded {
            match only_if_guarded(sql, self.backend) {
                Some(c) => {
                    conditional = c;
                    conditional.as_str()
                }
                None => {
                    self.fault.get_or_insert(format!("a guarded piece must be INSERT … VALUES (…): {sql}"));
                    sql
                }
            }
        } else {
            sql
        };
        self.push(sql, returns);
        self
    }

    fn push(&mut self, sql: &str, returns: bool) {
        let offset = self.params.len();
        let (joined, highest) = renumber(sql, offset);
        let native = match self.backend {
            Backend::Sqlite => positional(sql),
            Backend::Postgres => String::new(),
        };
        self.pieces.push(Piece { sql: joined, native, offset, highest, returns });
    }

    pub(crate) fn bind(&mut self, value: impl Into<Param>) -> &mut Self {
        self.params.push(value.into());
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Checks that each piece got exactly its parameters; answers how many pieces return a row.
    fn check(&mut self) -> Result<usize, StoreError> {
        if let Some(e) = self.fault.take() {
            return Err(StoreError::Corrupt(e));
        }
        for (i, p) in self.pieces.iter().enumerate() {
            let next = self.pieces.get(i + 1).map(|n| n.offset).unwrap_or(self.params.len());
            if p.offset + p.highest != next {
                return Err(StoreError::Corrupt(format!(
                    "joined write {i} uses {} parameters but {} were bound",
                    p.highest,
                    next - p.offset
                )));
            }
        }
        let returning = self.pieces.iter().filter(|p| p.returns).count();
        if self.guarded && returning == 0 {
            return Err(StoreError::Corrupt("guarded writes need a returning piece".into()));
        }
        Ok(returning)
    }

    /// The joined statement and its arguments; checks that each piece got exactly its parameters.
    pub(crate) fn finish(&mut self) -> Result<(String, AnyArguments<'static>, usize), StoreError> {
        let returning = self.check()?;
        let sql = match self.backend {
            Backend::Sqlite => self.pieces.iter().map(|p| p.sql.as_str()).collect::<Vec<_>>().join("; "),
            Backend::Postgres => {
                let ctes: Vec<String> =
                    self.pieces.iter().enumerate().map(|(i, p)| format!("w{i} AS ({})", p.sql)).collect();
                // What the returning pieces return, in the order they were added.
                let returns: Vec<usize> =
                    self.pieces.iter().enumerate().filter(|(_, p)| p.returns).map(|(i, _)| i).collect();
                let tail = match returns.as_slice() {
                    [] => "SELECT 0".to_string(),
                    [one] => format!("SELECT * FROM w{one}"),
                    many => format!(
                        "SELECT x FROM ({}) r ORDER BY k",
                        many.iter()
                            .map(|i| format!("SELECT {i} AS k, (SELECT * FROM w{i}) AS x"))
                            .collect::<Vec<_>>()
                            .join(" UNION ALL ")
                    ),
                };
                format!("WITH {} {tail}", ctes.join(", "))
            }
        };
        let mut args = AnyArguments::default();
        for p in &self.params {
            p.add_to(&mut args).map_err(|e| StoreError::Corrupt(format!("a value could not be bound: {e}")))?;
        }
        Ok((sql, args, returning))
    }
}

impl JoinedWrites {
    /// Sends the writes as one statement on `conn`; returns what the returning pieces returned.
    pub(crate) async fn run(&mut self, conn: &mut sqlx::AnyConnection) -> Result<Vec<i64>, StoreError> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, args, returning) = self.finish()?;
        let rows = sqlx::query_with(&sql, args).fetch_all(conn).await?;
        let returned: Vec<i64> = if returning == 0 {
            Vec::new()
        } else {
            rows.iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<_, _>>()?
        };
        self.check_returned(&returned, returning)?;
        Ok(returned)
    }

    /// Runs the writes on the store's own SQLite connection (native.rs), piece by piece as SQLite
    /// runs the joined statement: a guard's `changes()` chain holds the same way.
    pub(crate) fn run_native(&mut self, conn: &rusqlite::Connection) -> Result<Vec<i64>, StoreError> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Corrupt("joined writes for PostgreSQL run through sqlx".into()));
        }
        let returning = self.check()?;
        let mut returned = Vec::with_capacity(returning);
        for p in &self.pieces {
            let got = crate::native::run(conn, &p.native, &self.params[p.offset..p.offset + p.highest])?;
            if p.returns {
                returned.extend(got);
            }
        }
        self.check_returned(&returned, returning)?;
        Ok(returned)
    }

    fn check_returned(&self, returned: &[i64], returning: usize) -> Result<(), StoreError> {
        // A failed guard: nothing was written, so nothing returns.
        if returned.len() != returning && !(self.guarded && returned.is_empty()) {
            return Err(StoreError::Corrupt(format!(
                "joined writes returned {} rows for {returning} returning statements",
                returned.len()
            )));
        }
        Ok(())
    }
}

/// `INSERT INTO t (…) VALUES (…) rest` as an insert that happens only if the guard (the first piece)
/// changed a row.
fn only_if_guarded(sql: &str, backend: Backend) -> Option<String> {
    let at = sql.find(" VALUES (")?;
    let (head, values) = (&sql[..at], &sql[at + " VALUES (".len()..]);
    let mut depth = 1;
    let mut close = None;
    for (i, c) in values.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    let (list, rest) = (&values[..close], &values[close + 1..]);
    let condition = match backend {
        Backend::Sqlite => "WHERE changes() = 1",
        Backend::Postgres => "FROM w0",
    };
    Some(format!("{head} SELECT {list} {condition}{rest}"))
}

/// Shifts every `$N` in `sql` by `offset`; returns the new text and the highest N seen.
fn renumber(sql: &str, offset: usize) -> (String, usize) {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut highest = 0;
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut n = 0usize;
        let mut digits = 0;
        while let Some(&(_, d)) = chars.peek() {
            match d.to_digit(10) {
                Some(v) => {
                    n = n * 10 + v as usize;
                    digits += 1;
                    chars.next();
                }
                None => break,
            }
        }
        if digits == 0 {
            out.push('$');
        } else {
            highest = highest.max(n);
            out.push('$');
            out.push_str(&(n + offset).to_string());
        }
    }
    (out, highest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_renumbered_across_pieces() {
        assert_eq!(renumber("a = $1 AND b = $12, $1", 3), ("a = $4 AND b = $15, $4".to_string(), 12));
        assert_eq!(renumber("no params, cost $ 5", 7), ("no params, cost $ 5".to_string(), 0));
    }

    #[test]
    fn joined_statements_check_their_parameters() {
        let mut w = JoinedWrites::new(Backend::Sqlite);
        w.write("UPDATE t SET a = $1 WHERE id = $2").bind(1i64).bind(2i64);
        w.write_returning("INSERT INTO e (x) VALUES ($1) RETURNING seq").bind("x".to_string());
        let (sql, _, returning) = w.finish().unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(sql, "UPDATE t SET a = $1 WHERE id = $2; INSERT INTO e (x) VALUES ($3) RETURNING seq");
        assert_eq!(returning, 1);

        let mut pg = JoinedWrites::new(Backend::Postgres);
        pg.write("UPDATE t SET a = $1").bind(1i64);
        pg.write_returning("INSERT INTO e (x) VALUES ($1) RETURNING seq").bind(2i64);
        let (sql, _, _) = pg.finish().unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            sql,
            "WITH w0 AS (UPDATE t SET a = $1), w1 AS (INSERT INTO e (x) VALUES ($2) RETURNING seq) \
             SELECT * FROM w1"
        );

        // Guarded: the inserts happen only if the guard changed its row.
        let mut g = JoinedWrites::new(Backend::Sqlite);
        g.guard("UPDATE t SET a = $1 WHERE id = $2 AND version = $3").bind(1i64).bind(2i64).bind(7i64);
        g.write_returning("INSERT INTO e (x, y) VALUES ($1, 'k') RETURNING seq").bind(4i64);
        g.write("INSERT INTO o (k) VALUES ($1) ON CONFLICT (k) DO NOTHING").bind(5i64);
        let (sql, _, _) = g.finish().unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            sql,
            "UPDATE t SET a = $1 WHERE id = $2 AND version = $3; \
             INSERT INTO e (x, y) SELECT $4, 'k' WHERE changes() = 1 RETURNING seq; \
             INSERT INTO o (k) SELECT $5 WHERE changes() = 1 ON CONFLICT (k) DO NOTHING"
        );
        let mut g = JoinedWrites::new(Backend::Postgres);
        g.guard("UPDATE t SET a = $1 WHERE version = $2").bind(1i64).bind(7i64);
        g.write_returning("INSERT INTO e (x) VALUES ($1) RETURNING seq").bind(4i64);
        let (sql, _, _) = g.finish().unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            sql,
            "WITH w0 AS (UPDATE t SET a = $1 WHERE version = $2 RETURNING 1), \
             w1 AS (INSERT INTO e (x) SELECT $3 FROM w0 RETURNING seq) SELECT * FROM w1"
        );
        // A guard with nothing returning could not tell whether it held.
        let mut g = JoinedWrites::new(Backend::Sqlite);
        g.guard("UPDATE t SET a = $1").bind(1i64);
        g.write("INSERT INTO o (k) VALUES ($1)").bind(5i64);
        assert!(g.finish().is_err());

        // A piece given one value too few is caught before anything is sent.
        let mut short = JoinedWrites::new(Backend::Sqlite);
        short.write("UPDATE t SET a = $1 WHERE id = $2").bind(1i64);
        assert!(short
            .run_native(&rusqlite::Connection::open_in_memory().unwrap_or_else(|e| unreachable!("{e}")))
            .is_err());
        let mut short = JoinedWrites::new(Backend::Sqlite);
        short.write("UPDATE t SET a = $1 WHERE id = $2").bind(1i64);
        short.write("DELETE FROM t WHERE id = $1").bind(3i64);
        assert!(short.finish().is_err());
    }

    /// On the store's own connection the pieces run in turn as SQLite runs the joined statement: a
    /// guard that holds lets the rest write and return; one that does not writes and returns nothing.
    #[test]
    fn joined_writes_run_natively_piece_by_piece() {
        let c = rusqlite::Connection::open_in_memory().unwrap_or_else(|e| unreachable!("{e}"));
        c.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, version INTEGER); INSERT INTO t VALUES (2, 0, 7); \
             CREATE TABLE e (seq INTEGER PRIMARY KEY, x TEXT, y TEXT); CREATE TABLE o (k INTEGER UNIQUE)",
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let guarded = |version: i64, k: i64| {
            let mut g = JoinedWrites::new(Backend::Sqlite);
            g.guard("UPDATE t SET a = $1, version = version + 1 WHERE id = $2 AND version = $3")
                .bind(k)
                .bind(2i64)
                .bind(version);
            g.write_returning("INSERT INTO e (x, y) VALUES ($1, $1) RETURNING seq").bind(format!("x{k}"));
            g.write("INSERT INTO o (k) VALUES ($1) ON CONFLICT (k) DO NOTHING").bind(k);
            g
        };
        assert_eq!(guarded(7, 1).run_native(&c).unwrap_or_else(|e| unreachable!("{e}")), vec![1]);
        // The version moved on: nothing is written and nothing returns.
        assert!(guarded(7, 2).run_native(&c).unwrap_or_else(|e| unreachable!("{e}")).is_empty());
        let count = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            (count("SELECT COUNT(*) FROM e"), count("SELECT COUNT(*) FROM o"), count("SELECT a FROM t")),
            (1, 1, 1)
        );
        let mut plain = JoinedWrites::new(Backend::Sqlite);
        plain.write("UPDATE t SET a = $2 WHERE id = $1").bind(2i64).bind(9i64);
        plain.write_returning("INSERT INTO e (x, y) VALUES ($1, NULL) RETURNING seq").bind(Option::<String>::None);
        assert_eq!(plain.run_native(&c).unwrap_or_else(|e| unreachable!("{e}")), vec![2]);
        assert_eq!(count("SELECT a FROM t"), 9);
        assert_eq!(count("SELECT COUNT(*) FROM e WHERE x IS NULL"), 1);
    }
}
