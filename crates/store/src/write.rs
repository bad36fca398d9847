//! The one write path. A change opens a [`WriteTx`], writes its state through [`WriteTx::conn`],
//! records what happened with [`WriteTx::record`] (an event row and a hash-chained audit row), queues
//! messages with [`WriteTx::outbox`], and commits. Events are broadcast only after the commit, so
//! nothing is announced that might still roll back.

use crate::db::Store;
use crate::error::StoreError;
use crate::group_commit::{CounterKey, How, Turn};
use crate::joined::JoinedWrites;
use crate::now_ms;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

/// Who makes a change: a staff member, a citizen, or the system itself.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    pub staff_id: Option<i64>,
    /// What the audit trail shows: `admin`, `citizen:138****8000`, `system`, `cli`.
    pub name: String,
}

impl Actor {
    pub fn system() -> Self {
        Actor { staff_id: None, name: "system".into() }
    }
    pub fn cli() -> Self {
        Actor { staff_id: None, name: "cli".into() }
    }
}

/// A committed change, as streams and subscribers see it.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Monotonic: a reader that has seen `seq` resumes after it.
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub place: String,
    pub subject: String,
    pub data: serde_json::Value,
}

/// The hash that chains an audit row to its predecessor. The fields are hashed as one JSON array so
/// that no two different rows can serialise alike.
pub(crate) fn audit_hash(
    prev: &str,
    at: i64,
    actor: &str,
    action: &str,
    place: &str,
    subject: &str,
    detail: &str,
) -> String {
    let canonical = serde_json::json!([prev, at, actor, action, place, subject, detail]).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An open write transaction; dropped without [`WriteTx::commit`] it rolls back. It shares its
/// database commit with the writers queued beside it (group_commit.rs).
pub struct WriteTx {
    turn: Turn,
    actor: Actor,
    last_hash: Option<String>,
    pending: Vec<Event>,
    /// Dashboard counters this change adds (stats.rs), written with the batch's commit.
    pub(crate) counters: Vec<(CounterKey, i64)>,
}

impl Store {
    pub async fn begin(&self, actor: &Actor) -> Result<WriteTx, StoreError> {
        self.begin_as(actor, How::Plain).await
    }

    /// A write transaction that reads and checks everything first and then writes in one statement
    /// ([`WriteTx::send`]), for the busiest changes: it needs no savepoint in the batch. It must not
    /// write through [`WriteTx::conn`] unless it has called [`WriteTx::savepoint_now`] first.
    pub(crate) async fn begin_checked(&self, actor: &Actor) -> Result<WriteTx, StoreError> {
        self.begin_as(actor, How::Checked).await
    }

    /// A checked transaction ([`Store::begin_checked`]) that on a SQLite file runs on the store's own
    /// connection (native.rs): it writes only through [`WriteTx::send`], [`WriteTx::send_guarded`] and
    /// [`WriteTx::insert_returning`], and must never ask for [`WriteTx::conn`] (see
    /// [`WriteTx::is_native`]). Elsewhere it is a checked transaction.
    pub(crate) async fn begin_native(&self, actor: &Actor) -> Result<WriteTx, StoreError> {
        let how = if self.inner.native.is_some() { How::Native } else { How::Checked };
        self.begin_as(actor, how).await
    }

    async fn begin_as(&self, actor: &Actor, how: How) -> Result<WriteTx, StoreError> {
        let mut turn = Turn::take(self, how).await?;
        let last_hash = turn.batch().last_hash.clone();
        Ok(WriteTx { turn, actor: actor.clone(), last_hash, pending: Vec::new(), counters: Vec::new() })
    }
}

impl WriteTx {
    pub fn conn(&mut self) -> &mut AnyConnection {
        self.turn.conn()
    }

    /// Whether this transaction runs on the store's own SQLite connection ([`Store::begin_native`]).
    pub(crate) fn is_native(&mut self) -> bool {
        self.turn.native().is_some()
    }

    /// Sends statements (on PostgreSQL, one) of which the last returns one row of (BIGINT, TEXT), on
    /// whichever connection this transaction runs; `$N` parameters as everywhere, each statement
    /// using the leading ones it needs.
    pub(crate) async fn insert_returning(
        &mut self,
        statements: &[String],
        params: &[crate::native::Param],
    ) -> Result<(i64, String), StoreError> {
        let _ = self.turn.writing();
        if let Some(conn) = self.turn.native() {
            return crate::native::row_int_text(conn, statements, params);
        }
        let sql = statements.join("; ");
        let mut args = sqlx::any::AnyArguments::default();
        for p in params {
            p.add_to(&mut args).map_err(|e| StoreError::Corrupt(format!("a value could not be bound: {e}")))?;
        }
        sqlx::query_as_with::<_, (i64, String), _>(&sql, args)
            .fetch_all(self.turn.conn())
            .await?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("an insert returned no row".into()))
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn vault(&self) -> &crate::vault::Vault {
        &self.turn.store().inner.vault
    }

    /// Records what happened: one event row and one audit row, in this transaction.
    pub async fn record(
        &mut self,
        kind: &str,
        place: &str,
        subject: &str,
        data: serde_json::Value,
    ) -> Result<i64, StoreError> {
        let mut w = self.writes();
        self.record_into(&mut w, kind, place, subject, data).await?;
        let seqs = self.send(w).await?;
        seqs.first().copied().ok_or_else(|| StoreError::Corrupt("an event insert returned no sequence number".into()))
    }

    /// Empty joined writes for this transaction's database.
    pub(crate) fn writes(&self) -> JoinedWrites {
        JoinedWrites::new(self.turn.store().backend())
    }

    /// Adds an event row and its audit row to `w`; they take effect when `w` is sent.
    pub(crate) async fn record_into(
        &mut self,
        w: &mut JoinedWrites,
        kind: &str,
        place: &str,
        subject: &str,
        data: serde_json::Value,
    ) -> Result<(), StoreError> {
        let at = now_ms();
        let detail = data.to_string();
        let prev = match w.head.clone() {
            Some(h) => h,
            None => self.chain_head().await?,
        };
        let actor = self.actor.name.clone();
        let hash = audit_hash(&prev, at, &actor, kind, place, subject, &detail);
        // The audit hash does not depend on the event's sequence number, so both go in one statement.
        w.write_returning(
            "INSERT INTO events (at, kind, place_code, subject, data) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
        )
        .bind(at)
        .bind(kind.to_string())
        .bind(place.to_string())
        .bind(subject.to_string())
        .bind(detail.clone());
        w.write(
            "INSERT INTO audit (at, actor, action, place_code, subject, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(at)
        .bind(actor)
        .bind(kind.to_string())
        .bind(place.to_string())
        .bind(subject.to_string())
        .bind(detail)
        .bind(prev)
        .bind(hash.clone());
        w.head = Some(hash);
        w.counters.extend(crate::stats::counters_at(kind, place, &data, at));
        w.events.push(Event { seq: 0, at, kind: kind.into(), place: place.into(), subject: subject.into(), data });
        Ok(())
    }

    /// The audit chain's head as this transaction sees it: what it or its batch chained last, or the
    /// last row written. On PostgreSQL the batch always knows it (read with the writers' lock).
    pub(crate) async fn chain_head(&mut self) -> Result<String, StoreError> {
        if let Some(h) = &self.last_hash {
            return Ok(h.clone());
        }
        const HEAD: &str = "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1";
        let head = match self.turn.native() {
            Some(conn) => crate::native::optional_text(conn, HEAD)?,
            None => sqlx::query_scalar::<_, String>(HEAD).fetch_optional(self.conn()).await?,
        };
        Ok(head.unwrap_or_else(|| GENESIS.to_string()))
    }

    /// From here the changes are made on behalf of `actor` (a writer writing for others).
    pub(crate) fn act_as(&mut self, actor: &Actor) {
        self.actor = actor.clone();
    }

    /// Sends one statement that writes several changes at once (case_actions/combined.rs), given as
    /// a JSON array (`$1`) and a count (`$2`); answers its rows. A statement guarded as a whole
    /// answers none when its guard did not hold, and then it wrote nothing. What it recorded is
    /// added with [`WriteTx::recorded`].
    pub(crate) async fn send_json<R>(&mut self, sql: &str, json: String, rows: i64) -> Result<Vec<R>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let first_write = self.turn.writing();
        let started = std::time::Instant::now();
        let returned: Vec<R> = sqlx::query_as(sql).bind(json).bind(rows).fetch_all(self.turn.conn()).await?;
        let stats = &mut self.turn.batch().stats;
        stats.statements += started.elapsed();
        if returned.is_empty() {
            if first_write {
                self.turn.wrote_nothing();
            }
            return Ok(returned);
        }
        stats.combining += started.elapsed();
        Ok(returned)
    }

    /// What a statement sent by [`WriteTx::send_json`] recorded: its events (with their sequence
    /// numbers) and the audit chain's new head; the statement wrote their dashboard counters itself.
    /// Counted as one statement combining that many changes (statistics).
    pub(crate) fn recorded(&mut self, mut events: Vec<Event>, head: String) {
        let stats = &mut self.turn.batch().stats;
        stats.combined += 1;
        stats.combined_actions += events.len() as u64;
        self.pending.append(&mut events);
        self.last_hash = Some(head);
    }

    /// This transaction wrote for `n` other writers too (they count as writers of its batch).
    pub(crate) fn wrote_for(&mut self, n: u64) {
        self.turn.wrote_for(n);
    }

    /// Sends joined writes as one statement; what they recorded joins this transaction. Returns what
    /// their returning pieces returned (an event's sequence number each), in order.
    pub(crate) async fn send(&mut self, mut w: JoinedWrites) -> Result<Vec<i64>, StoreError> {
        if w.is_empty() {
            return Ok(Vec::new());
        }
        let _ = self.turn.writing();
        let returned = self.run(&mut w).await?;
        if w.events.len() > returned.len() {
            return Err(StoreError::Corrupt("an event insert returned no sequence number".into()));
        }
        self.merge(w, &returned);
        Ok(returned)
    }

    /// Runs joined writes on the batch's connection, counting the time in the batch's statistics.
    async fn run(&mut self, w: &mut JoinedWrites) -> Result<Vec<i64>, StoreError> {
        let started = std::time::Instant::now();
        let returned = match self.turn.native() {
            Some(conn) => w.run_native(conn)?,
            None => w.run(self.turn.conn()).await?,
        };
        self.turn.batch().stats.statements += started.elapsed();
        Ok(returned)
    }

    /// What sent writes recorded joins this transaction. Events are the returning pieces, added in
    /// order; nothing else returns.
    fn merge(&mut self, mut w: JoinedWrites, returned: &[i64]) {
        for (e, seq) in w.events.iter_mut().zip(returned) {
            e.seq = *seq;
        }
        self.pending.append(&mut w.events);
        self.counters.append(&mut w.counters);
        if w.head.is_some() {
            self.last_hash = w.head;
        }
    }

    /// Sends guarded joined writes ([`JoinedWrites::guard`]); returns false if the guard did not hold,
    /// in which case nothing was written and the transaction is as it was.
    pub(crate) async fn send_guarded(&mut self, mut w: JoinedWrites) -> Result<bool, StoreError> {
        if !w.is_guarded() {
            return Err(StoreError::Corrupt("send_guarded needs guarded writes".into()));
        }
        let first_write = self.turn.writing();
        let returned = self.run(&mut w).await?;
        if returned.is_empty() {
            if first_write {
                self.turn.wrote_nothing();
            }
            return Ok(false);
        }
        self.merge(w, &returned);
        Ok(true)
    }

    /// Counts an optimistic plan that had to be made again under the lock (for the statistics).
    pub(crate) fn note_replanned(&mut self) {
        self.turn.batch().stats.replanned += 1;
    }

    /// A checked transaction ([`Store::begin_checked`]) that must write in several statements after
    /// all opens its savepoint here, before writing; a no-op for any other.
    pub(crate) async fn savepoint_now(&mut self) -> Result<(), StoreError> {
        self.turn.savepoint_now().await
    }

    /// Queues a message (SMS, webhook) to be sent after commit by the outbox worker. A destination that
    /// is personal data (a phone number) is passed sealed; the worker opens it to send. The idempotency
    /// key makes a second queueing of the same message a no-op, and travels to the gateway so that a
    /// retried delivery is not sent twice.
    pub async fn outbox(
        &mut self,
        channel: &str,
        destination: &str,
        payload: &serde_json::Value,
        idempotency_key: &str,
    ) -> Result<(), StoreError> {
        let mut w = self.writes();
        outbox_into(&mut w, self.vault(), channel, destination, payload, idempotency_key);
        self.send(w).await?;
        Ok(())
    }

    /// Commits (with whatever else is queued: group commit), then the recorded events are announced.
    /// Returns only once the change is durable. A change that recorded nothing is refused: every
    /// state change must leave an event and an audit row.
    pub async fn commit(self) -> Result<Vec<Event>, StoreError> {
        if self.pending.is_empty() {
            return Err(StoreError::Corrupt("a write transaction must record at least one event".into()));
        }
        self.turn.commit(&self.pending, self.counters, self.last_hash).await?;
        Ok(self.pending)
    }
}

/// Adds a queued message to joined writes (see [`WriteTx::outbox`]). The payload is sealed at rest like
/// the destination: its text may carry a secret (a sign-in code, a pick-up code), and the table is read
/// by admins and kept in backups. The worker opens it to send (outbox.rs).
pub(crate) fn outbox_into(
    w: &mut JoinedWrites,
    vault: &crate::vault::Vault,
    channel: &str,
    destination: &str,
    payload: &serde_json::Value,
    idempotency_key: &str,
) {
    let now = now_ms();
    w.write(
        "INSERT INTO outbox (created_at, channel, destination, payload, idempotency_key, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $1) ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(now)
    .bind(channel.to_string())
    .bind(destination.to_string())
    .bind(vault.seal(&payload.to_string()))
    .bind(idempotency_key.to_string());
}

impl Store {
    /// Events after `seq`, oldest first: how a stream resumes from `Last-Event-ID`.
    pub async fn events_after(&self, seq: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<(i64, i64, String, String, String, String)> = sqlx::query_as(
            "SELECT seq, at, kind, place_code, subject, data FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(seq, at, kind, place, subject, data)| {
                Ok(Event { seq, at, kind, place, subject, data: serde_json::from_str(&data)? })
            })
            .collect()
    }

    /// Outbox rows, newest first (the admin "messages sent" page), with the payload opened and its
    /// secrets masked (outbox.rs, `mask_secrets`).
    pub async fn outbox_recent(&self, limit: i64) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows: Vec<(i64, i64, String, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT id, created_at, channel, destination, payload, idempotency_key, status, attempts FROM outbox ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, at, channel, dest, payload, key, status, attempts)| {
                // Destinations that are personal data are sealed; this is the admin's own view.
                let dest = self.inner.vault.open(&dest).unwrap_or(dest);
                // The payload opens (or is plaintext JSON from before payloads were sealed) with its
                // secrets masked: staff see that a code was sent, never the code. Null when the keys
                // loaded here do not open it.
                let payload = crate::outbox::open_payload(&self.inner.vault, &payload)
                    .map(crate::outbox::mask_secrets)
                    .unwrap_or_default();
                serde_json::json!({"id": id, "created_at": at, "channel": channel, "destination": dest,
                    "payload": payload, "idempotency_key": key, "status": status, "attempts": attempts})
            })
            .collect())
    }
}
