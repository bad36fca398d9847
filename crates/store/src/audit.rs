//! Verifying the audit chain: each row's hash covers its content and its predecessor's hash, so an
//! edited, inserted or deleted row breaks the chain at that row.

use crate::db::Store;
use crate::error::StoreError;
use crate::write::{audit_hash, GENESIS};
use futures_lite::StreamExt;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditReport {
    pub rows: i64,
    /// The first row whose hash or link does not hold, if any.
    pub first_broken: Option<i64>,
}

impl Store {
    pub async fn verify_audit(&self) -> Result<AuditReport, StoreError> {
        let mut rows = sqlx::query_as::<_, (i64, i64, String, String, String, String, String, String, String)>(
            "SELECT seq, at, actor, action, place_code, subject, detail, prev_hash, hash FROM audit ORDER BY seq",
        )
        .fetch(self.pool());
        let mut prev = GENESIS.to_string();
        let mut count = 0;
        while let Some(row) = rows.next().await {
            let (seq, at, actor, action, place, subject, detail, prev_hash, hash) = row?;
            count += 1;
            let expected = audit_hash(&prev, at, &actor, &action, &place, &subject, &detail);
            if prev_hash != prev || hash != expected {
                return Ok(AuditReport { rows: count, first_broken: Some(seq) });
            }
            prev = hash;
        }
        Ok(AuditReport { rows: count, first_broken: None })
    }
}
