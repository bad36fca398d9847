//! The outbox worker's side of the `outbox` table. Rows are queued by [`WriteTx::outbox`] in the same
//! transaction as the change they announce; a worker then claims due rows, delivers them and marks the
//! outcome. Every status change is a [`WriteTx`] with a recorded event and audit row.
//!
//! Statuses: `pending` (waiting for `next_attempt_at`) → `sending` (claimed; `next_attempt_at` is the end
//! of the lease) → `sent`, or back to `pending` after a failed attempt, or `dead` when the worker gives
//! up. A `sending` row whose lease has run out (the worker crashed) is due again, and is re-sent with
//! the same idempotency key. An admin can put a `dead` row back to `pending` ([`Store::retry_dead`]).
//!
//! Claims and marks run inside a write transaction: on SQLite there is one writer connection, on
//! PostgreSQL `begin` takes the writers' advisory lock, so a SELECT followed by an UPDATE cannot race
//! with another worker, in this process or another instance.
//!
//! The destination and the payload are sealed at rest (a payload's text may carry a sign-in code or a
//! pick-up code); a claim hands them over opened, and the admin's view (`Store::outbox_recent`) shows the
//! payload with its secrets masked ([`mask_secrets`]). Rows queued before payloads were sealed hold
//! plaintext JSON and are read as they are.

use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::vault::Vault;
use crate::write::{Actor, WriteTx};
use serde::Serialize;
use serde_json::{json, Value};

/// A claimed message, to be delivered by the worker that claimed it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub channel: String,
    pub destination: String,
    /// At least `{"text": …, "kind": …}`, opened (it is sealed at rest); null when the keys loaded here
    /// do not open it.
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    /// Attempts completed before this one.
    pub attempts: i64,
}

/// How many outbox rows are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub dead: i64,
}

/// The longest error text kept on a row.
const MAX_ERROR_CHARS: usize = 500;

fn short(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

/// A stored payload as JSON. Payloads are sealed (`pd1:…`, see `write::outbox_into`); a row queued before
/// that holds plaintext JSON, read as it is. None when the payload is sealed under a key not loaded here.
pub(crate) fn open_payload(vault: &Vault, stored: &str) -> Option<Value> {
    match vault.open(stored) {
        Ok(plain) => serde_json::from_str(&plain).ok(),
        Err(_) if stored.starts_with("pd1:") => None,
        Err(_) => serde_json::from_str(stored).ok(),
    }
}

fn kind_of(vault: &Vault, payload: &str) -> String {
    open_payload(vault, payload)
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// The kind of a sign-in code message (citizens.rs).
const CODE_KIND: &str = "citizen.code";
/// What introduces a pick-up code in a message (case actions).
const PICKUP_MARK: &str = "取件码";
/// The characters that may stand between [`PICKUP_MARK`] and the code (`取件码为 123456`, `取件码：123456`).
const PICKUP_GAP: usize = 2;

/// A payload as staff may see it, in the admin's outbox view: the secrets in its texts masked, each digit
/// replaced by `*`. The rule, for every string of the payload but its `kind`:
/// - a sign-in code message (kind `citizen.code`): every digit (the code, whatever its length);
/// - any message: the run of digits right after 取件码 (the pick-up code), after at most two other
///   characters (为, ：, a space).
///
/// Nothing else is masked: case numbers, dates and times in texts stay readable.
pub(crate) fn mask_secrets(mut payload: Value) -> Value {
    let code_message = payload.get("kind").and_then(|k| k.as_str()) == Some(CODE_KIND);
    if let Some(fields) = payload.as_object_mut() {
        for (name, value) in fields.iter_mut() {
            if let (false, Value::String(text)) = (name == "kind", &mut *value) {
                *text = mask_text(text, code_message);
            }
        }
    }
    payload
}

fn mask_text(text: &str, every_digit: bool) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    if every_digit {
        for c in chars.iter_mut().filter(|c| c.is_ascii_digit()) {
            *c = '*';
        }
    }
    let mark: Vec<char> = PICKUP_MARK.chars().collect();
    let mut i = 0;
    while i + mark.len() <= chars.len() {
        if chars[i..i + mark.len()] != mark[..] {
            i += 1;
            continue;
        }
        i += mark.len();
        let start = (i..chars.len()).take(PICKUP_GAP + 1).find(|&j| chars[j].is_ascii_digit());
        if let Some(start) = start {
            i = start;
            while i < chars.len() && chars[i].is_ascii_digit() {
                chars[i] = '*';
                i += 1;
            }
        }
    }
    chars.into_iter().collect()
}

impl Store {
    /// When the next row of `channel` falls due (pending, or sending with its lease running out), if
    /// any: a cheap read, so that an idle worker does not take the writer lock to find nothing.
    pub async fn outbox_next_due(&self, channel: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE channel = $1 AND status IN ('pending', 'sending')",
        )
        .bind(channel)
        .fetch_one(self.pool())
        .await?)
    }

    /// Claims up to `limit` due rows of `channel`, oldest due first: marks them `sending` with a lease
    /// of `lease_ms`, after which they fall due again if nobody marked them. Records one
    /// `outbox.claimed` event per non-empty batch; an empty claim writes nothing.
    pub async fn claim_due_outbox(
        &self,
        channel: &str,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut tx = self.begin(&Actor::system()).await?;
        let now = now_ms();
        let rows: Vec<(i64, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT id, channel, destination, payload, idempotency_key, attempts FROM outbox \
             WHERE channel = $1 AND status IN ('pending', 'sending') AND next_attempt_at <= $2 \
             ORDER BY next_attempt_at, id LIMIT $3",
        )
        .bind(channel)
        .bind(now)
        .bind(limit.max(1))
        .fetch_all(tx.conn())
        .await?;
        if rows.is_empty() {
            // Dropping the transaction rolls back; it wrote nothing.
            return Ok(Vec::new());
        }
        let lease_until = now + lease_ms.max(1);
        let placeholders: Vec<String> = (0..rows.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "UPDATE outbox SET status = 'sending', next_attempt_at = $1 WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut update = sqlx::query(&sql).bind(lease_until);
        for r in &rows {
            update = update.bind(r.0);
        }
        update.execute(tx.conn()).await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        tx.record("outbox.claimed", "", "outbox", json!({"channel": channel, "ids": ids, "lease_until": lease_until}))
            .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(id, channel, destination, payload, idempotency_key, attempts)| OutboxMessage {
                id,
                channel,
                destination: self.vault().open(&destination).unwrap_or(destination),
                // One row that does not open must not hold back the others: the worker fails it alone.
                payload: open_payload(self.vault(), &payload).unwrap_or_default(),
                idempotency_key,
                attempts,
            })
            .collect())
    }

    /// The gateway accepted the message. Returns false (and writes nothing) when the row was already
    /// sent. A row that another worker had meanwhile given up on is still marked sent: it was delivered.
    pub async fn mark_outbox_sent(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin(&Actor::system()).await?;
        let Some((status, attempts, payload)) = outbox_row(&mut tx, id).await? else {
            return Err(StoreError::not_found(format!("outbox message {id}")));
        };
        if status == "sent" {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, last_error = '' WHERE id = $2",
        )
        .bind(now_ms())
        .bind(id)
        .execute(tx.conn())
        .await?;
        tx.record(
            "outbox.sent",
            "",
            &format!("outbox:{id}"),
            json!({"kind": kind_of(self.vault(), &payload), "attempts": attempts + 1}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An attempt failed: back to `pending` until `next_attempt_at`, or `dead` when it is `None`
    /// (the worker gives up). Only a claimed (`sending`) row changes; returns whether it did.
    pub async fn mark_outbox_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin(&Actor::system()).await?;
        let Some((status, attempts, payload)) = outbox_row(&mut tx, id).await? else {
            return Err(StoreError::not_found(format!("outbox message {id}")));
        };
        if status != "sending" {
            return Ok(false);
        }
        let error = short(error);
        let kind = match next_attempt_at {
            Some(at) => {
                sqlx::query(
                    "UPDATE outbox SET status = 'pending', attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3",
                )
                .bind(at)
                .bind(&error)
                .bind(id)
                .execute(tx.conn())
                .await?;
                "outbox.failed"
            }
            None => {
                sqlx::query(
                    "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = $1 WHERE id = $2",
                )
                .bind(&error)
                .bind(id)
                .execute(tx.conn())
                .await?;
                "outbox.dead"
            }
        };
        tx.record(
            kind,
            "",
            &format!("outbox:{id}"),
            json!({"kind": kind_of(self.vault(), &payload), "attempts": attempts + 1, "error": error, "next_attempt_at": next_attempt_at}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// How many rows are pending, sending, sent and dead.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, CAST(COUNT(*) AS BIGINT) FROM outbox GROUP BY status")
                .fetch_all(self.pool())
                .await?;
        let mut c = OutboxCounts::default();
        for (status, n) in rows {
            match status.as_str() {
                "pending" => c.pending = n,
                "sending" => c.sending = n,
                "sent" => c.sent = n,
                "dead" => c.dead = n,
                _ => {}
            }
        }
        Ok(c)
    }

    /// The last error of a row (empty after a success), for the admin page and diagnostics.
    pub async fn outbox_last_error(&self, id: i64) -> Result<String, StoreError> {
        sqlx::query_scalar::<_, String>("SELECT last_error FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found(format!("outbox message {id}")))
    }

    /// An admin puts a dead message back in the queue: `pending`, due now, with a fresh attempt budget.
    pub async fn retry_dead(&self, actor: &Actor, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin(actor).await?;
        let Some((status, attempts, payload)) = outbox_row(&mut tx, id).await? else {
            return Err(StoreError::not_found(format!("outbox message {id}")));
        };
        if status != "dead" {
            return Err(StoreError::conflict(
                "status",
                format!("只有发送失败（dead）的消息可以重发，该消息状态为 {status}"),
                format!("only a dead message can be retried; this one is {status}"),
            ));
        }
        sqlx::query("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.record(
            "outbox.retry",
            "",
            &format!("outbox:{id}"),
            json!({"kind": kind_of(self.vault(), &payload), "attempts_before": attempts}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// (status, attempts, payload) of a row, read inside the write transaction.
async fn outbox_row(tx: &mut WriteTx, id: i64) -> Result<Option<(String, i64, String)>, StoreError> {
    Ok(sqlx::query_as("SELECT status, attempts, payload FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_optional(tx.conn())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::KeyRing;

    #[test]
    fn sealed_and_plaintext_payloads_open() {
        let vault = Vault::new(&KeyRing::generate()).unwrap();
        let payload = json!({"text": "您的登录验证码为042137", "kind": "citizen.code"});
        assert_eq!(open_payload(&vault, &vault.seal(&payload.to_string())), Some(payload.clone()));
        assert_eq!(open_payload(&vault, &payload.to_string()), Some(payload.clone()), "a row from before sealing");
        let other = Vault::new(&KeyRing::generate()).unwrap();
        assert_eq!(open_payload(&other, &vault.seal(&payload.to_string())), None, "not another store's keys");
        assert_eq!(kind_of(&vault, &vault.seal(&payload.to_string())), "citizen.code");
    }

    #[test]
    fn secrets_are_masked() {
        let code =
            mask_secrets(json!({"text": "您的登录验证码为042137，5分钟内有效。【常山县】", "kind": "citizen.code"}));
        assert_eq!(code["text"], "您的登录验证码为******，*分钟内有效。【常山县】");
        assert_eq!(code["kind"], "citizen.code");
        let pickup = mask_secrets(json!({
            "text": "您的办件330822-20261202-00001（特困供养）已办结，可到统一出件窗口凭取件码904512领取。",
            "kind": "case.approve"
        }));
        assert_eq!(
            pickup["text"], "您的办件330822-20261202-00001（特困供养）已办结，可到统一出件窗口凭取件码******领取。",
            "only the pick-up code"
        );
        for (text, masked) in [
            ("取件码：904512", "取件码：******"),
            ("取件码为 904512，取件码 1234", "取件码为 ******，取件码 ****"),
            ("凭取件码领取，办件号330822", "凭取件码领取，办件号330822"),
        ] {
            assert_eq!(mask_secrets(json!({"text": text, "kind": "x"}))["text"], masked);
        }
        let other = json!({"text": "请A001号到A1窗口办理【常山县】", "kind": "ticket.called"});
        assert_eq!(mask_secrets(other.clone()), other);
        assert_eq!(mask_secrets(Value::Null), Value::Null);
    }
}
