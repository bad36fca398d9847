//! Rows that would otherwise only grow: sign-in codes and sessions, staff and citizen, long after they
//! stopped working. The purge is a change like any other: one write transaction, one
//! `housekeeping.purged` event (and audit row) with the counts. The server runs it with its other
//! housekeeping (crates/web/src/lib.rs), at start and every ten minutes.
//!
//! Retention:
//! - **sign-in codes** (`citizen_codes`): a day after they expired. A code lives 5 minutes; the rate
//!   limits of `request_login_code` count the codes of the last hour per phone and per network address,
//!   so every code they count is kept, and a day of codes stays for a look into abuse.
//! - **staff sessions** (`sessions`): 30 days after they expired. A revoked session keeps no time of
//!   revocation, but it expires at most 12 hours after it began, so it goes at most 30 days and 12 hours
//!   after it was revoked.
//! - **citizen sessions** (`citizen_sessions`): 30 days after they expired or were revoked.
//!
//! Pick-up codes stored as their six digits (before codes were kept as a keyed hash) are replaced by
//! their hash, once, in the same way: one transaction, one `housekeeping.pickup_codes_hashed` event.
//!
//! Thirty days leave a month of sign-ins to look into ("was this session still valid when …?"); who did
//! what stays in the audit trail, which names the actor, not the session, and is never purged.

use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::write::Actor;
use serde::Serialize;

const DAY_MS: i64 = 24 * 3600 * 1000;
/// How long a sign-in code is kept after it expired.
pub const CODE_RETENTION_MS: i64 = DAY_MS;
/// How long a session is kept after it expired or was revoked.
pub const SESSION_RETENTION_MS: i64 = 30 * DAY_MS;

/// How many rows a purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub citizen_codes: u64,
    pub staff_sessions: u64,
    pub citizen_sessions: u64,
}

impl Store {
    /// Deletes the sign-in codes and sessions past their retention (see the module's documentation), in
    /// one write transaction that records `housekeeping.purged` with the counts. When there is nothing to
    /// delete it writes nothing, not even the event.
    pub async fn purge_expired(&self) -> Result<Purged, StoreError> {
        let now = now_ms();
        let (code_cutoff, session_cutoff) = (now - CODE_RETENTION_MS, now - SESSION_RETENTION_MS);
        let mut tx = self.begin(&Actor::system()).await?;
        let citizen_codes = sqlx::query("DELETE FROM citizen_codes WHERE expires_at < $1")
            .bind(code_cutoff)
            .execute(tx.conn())
            .await?
            .rows_affected();
        let staff_sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(session_cutoff)
            .execute(tx.conn())
            .await?
            .rows_affected();
        let citizen_sessions = sqlx::query("DELETE FROM citizen_sessions WHERE expires_at < $1 OR revoked_at < $1")
            .bind(session_cutoff)
            .execute(tx.conn())
            .await?
            .rows_affected();
        let purged = Purged { citizen_codes, staff_sessions, citizen_sessions };
        if purged == Purged::default() {
            // Dropped, the transaction rolls back: it deleted nothing.
            return Ok(purged);
        }
        tx.record(
            "housekeeping.purged",
            "",
            "housekeeping",
            serde_json::json!({
                "citizen_codes": citizen_codes,
                "staff_sessions": staff_sessions,
                "citizen_sessions": citizen_sessions,
                "codes_expired_before": code_cutoff,
                "sessions_ended_before": session_cutoff,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// Replaces every pick-up code still stored as six digits with its keyed hash, recording
    /// `housekeeping.pickup_codes_hashed` with the count; returns the count. Writes nothing when there
    /// are none.
    pub async fn hash_plaintext_pickup_codes(&self) -> Result<u64, StoreError> {
        // Looked for outside the writers' lock: the scan of every case runs every ten minutes and
        // almost always finds nothing; each update below is guarded by the digits it read.
        let plain: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, pickup_code FROM cases WHERE pickup_code IS NOT NULL AND LENGTH(pickup_code) = 6",
        )
        .fetch_all(self.pool())
        .await?;
        if plain.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin(&Actor::system()).await?;
        let mut hashed = 0;
        for (id, code) in &plain {
            let hash = self.vault().lookup_hash(crate::case_actions::PICKUP_CODE_HASH, code);
            hashed += sqlx::query(
                "UPDATE cases SET pickup_code = $1, version = version + 1 WHERE id = $2 AND pickup_code = $3",
            )
            .bind(hash)
            .bind(id)
            .bind(code)
            .execute(tx.conn())
            .await?
            .rows_affected();
        }
        if hashed == 0 {
            // Every one changed since it was read (collected, or given a fresh code): nothing to record.
            return Ok(0);
        }
        tx.record("housekeeping.pickup_codes_hashed", "", "housekeeping", serde_json::json!({ "cases": hashed }))
            .await?;
        tx.commit().await?;
        Ok(hashed)
    }
}
