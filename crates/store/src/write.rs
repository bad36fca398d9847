//! The one write path. A change opens a [`WriteTx`], writes its state through [`WriteTx::conn`],
//! records what happened with [`WriteTx::record`] (an event row and a hash-chained audit row), queues
//! messages with [`WriteTx::outbox`], and commits. Events are broadcast only after the commit, so
//! nothing is announced that might still roll back.

use crate::db::{Backend, Store};
use crate::error::StoreError;
use crate::group_commit::{CounterKey, Turn};
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
        let mut turn = Turn::take(self).await?;
        let last_hash = turn.batch().last_hash.clone();
        Ok(WriteTx { turn, actor: actor.clone(), last_hash, pending: Vec::new(), counters: Vec::new() })
    }
}

impl WriteTx {
    pub fn conn(&mut self) -> &mut AnyConnection {
        self.turn.conn()
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
        let at = now_ms();
        let detail = data.to_string();
        let prev = match self.last_hash.take() {
            Some(h) => h,
            None => sqlx::query_scalar::<_, String>("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1")
                .fetch_optional(self.conn())
                .await?
                .unwrap_or_else(|| GENESIS.to_string()),
        };
        let actor = self.actor.name.clone();
        let hash = audit_hash(&prev, at, &actor, kind, place, subject, &detail);
        // The event and its audit row in one round trip (the audit hash does not depend on the seq).
        let sql = self.turn.store().two_writes(
            "INSERT INTO events (at, kind, place_code, subject, data) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
            "INSERT INTO audit (at, actor, action, place_code, subject, detail, prev_hash, hash) \
             VALUES ($1, $6, $2, $3, $4, $5, $7, $8)",
        );
        let seq: i64 = sqlx::query_scalar(&sql)
            .bind(at)
            .bind(kind)
            .bind(place)
            .bind(subject)
            .bind(&detail)
            .bind(&actor)
            .bind(&prev)
            .bind(&hash)
            .fetch_all(self.conn())
            .await?
            .first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("an event insert returned no sequence number".into()))?;
        self.last_hash = Some(hash);
        self.tally(kind, place, &data, at);
        self.pending.push(Event { seq, at, kind: kind.into(), place: place.into(), subject: subject.into(), data });
        Ok(seq)
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
        let now = now_ms();
        sqlx::query(
            "INSERT INTO outbox (created_at, channel, destination, payload, idempotency_key, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(now)
        .bind(channel)
        .bind(destination)
        .bind(payload.to_string())
        .bind(idempotency_key)
        .bind(now)
        .execute(self.conn())
        .await?;
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

impl Store {
    /// Two writes in one round trip, for the hottest paths: `first` ends in `RETURNING`, whose rows the
    /// query returns; `second` returns nothing and does not depend on `first`. SQLite runs the two
    /// statements in turn (sqlx binds numbered parameters of every statement from one list; fetch all
    /// rows so that both run); PostgreSQL runs them as data-modifying CTEs of one statement.
    pub(crate) fn two_writes(&self, first: &str, second: &str) -> String {
        match self.backend() {
            Backend::Sqlite => format!("{first}; {second}"),
            Backend::Postgres => format!("WITH first AS ({first}), second AS ({second}) SELECT * FROM first"),
        }
    }

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

    /// Outbox rows, newest first (the admin "messages sent" page).
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
                serde_json::json!({"id": id, "created_at": at, "channel": channel, "destination": dest,
                    "payload": serde_json::from_str::<serde_json::Value>(&payload).unwrap_or_default(),
                    "idempotency_key": key, "status": status, "attempts": attempts})
            })
            .collect())
    }
}
