//! Stored flow definitions: versioned, so a case keeps the flow it started under, and which flow an
//! item uses.

use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::write::Actor;
use onewindow_core::flow::{builtin_flows, Flow};
use std::sync::Arc;

impl Store {
    /// Stores the shipped flows when they are new or changed (as a new version). The comparison runs
    /// inside the write transaction, so instances starting together store each version once.
    pub(crate) async fn install_builtin_flows(&self) -> Result<(), StoreError> {
        let flows = builtin_flows().map_err(|e| StoreError::Corrupt(format!("built-in flows: {e}")))?;
        let mut codes: Vec<&String> = flows.keys().collect();
        codes.sort();
        let mut tx = self.begin(&Actor::system()).await?;
        let mut stored = 0;
        for code in codes {
            let latest: Option<(i64, String)> =
                sqlx::query_as("SELECT version, definition FROM flows WHERE code = $1 ORDER BY version DESC LIMIT 1")
                    .bind(code)
                    .fetch_optional(tx.conn())
                    .await?;
            let definition = serde_json::to_string(&flows[code])?;
            if latest.as_ref().map(|(_, d)| d) == Some(&definition) {
                continue;
            }
            let version = latest.map(|(v, _)| v + 1).unwrap_or(1);
            sqlx::query("INSERT INTO flows (code, version, definition, created_at) VALUES ($1, $2, $3, $4)")
                .bind(code)
                .bind(version)
                .bind(&definition)
                .bind(now_ms())
                .execute(tx.conn())
                .await?;
            tx.record(
                "flow.saved",
                "",
                &format!("flow:{code}"),
                serde_json::json!({"version": version, "builtin": true}),
            )
            .await?;
            stored += 1;
        }
        if stored > 0 {
            tx.commit().await?;
        }
        Ok(())
    }

    /// Saves a checked definition as the next version of its code; returns the version.
    pub async fn save_flow(&self, actor: &Actor, flow: &Flow) -> Result<i64, StoreError> {
        flow.check()?;
        let mut tx = self.begin(actor).await?;
        let version: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM flows WHERE code = $1")
            .bind(&flow.code)
            .fetch_one(tx.conn())
            .await?;
        sqlx::query("INSERT INTO flows (code, version, definition, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&flow.code)
            .bind(version)
            .bind(serde_json::to_string(flow)?)
            .bind(now_ms())
            .execute(tx.conn())
            .await?;
        tx.record("flow.saved", "", &format!("flow:{}", flow.code), serde_json::json!({"version": version})).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// One version of a flow (cached: stored versions never change).
    pub async fn flow(&self, code: &str, version: i64) -> Result<Arc<Flow>, StoreError> {
        let key = (code.to_string(), version);
        if let Some(f) = self.inner.flows.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(f);
        }
        let def: Option<String> = sqlx::query_scalar("SELECT definition FROM flows WHERE code = $1 AND version = $2")
            .bind(code)
            .bind(version)
            .fetch_optional(self.pool())
            .await?;
        let flow: Arc<Flow> = Arc::new(serde_json::from_str(
            &def.ok_or_else(|| StoreError::not_found(format!("flow {code} v{version}")))?,
        )?);
        if let Ok(mut m) = self.inner.flows.lock() {
            m.insert(key, flow.clone());
        }
        Ok(flow)
    }

    /// The newest version of a flow.
    pub async fn latest_flow(&self, code: &str) -> Result<(i64, Arc<Flow>), StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM flows WHERE code = $1")
            .bind(code)
            .fetch_one(self.pool())
            .await?;
        let v = v.ok_or_else(|| StoreError::not_found(format!("flow {code}")))?;
        Ok((v, self.flow(code, v).await?))
    }

    /// Every flow's newest version: (code, version, name).
    pub async fn flows(&self) -> Result<Vec<(String, i64, String)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT code, MAX(version) FROM flows GROUP BY code ORDER BY code")
                .fetch_all(self.pool())
                .await?;
        let mut out = Vec::new();
        for (code, v) in rows {
            let f = self.flow(&code, v).await?;
            out.push((code, v, f.name.clone()));
        }
        Ok(out)
    }

    /// Which flow an item uses; `None` means the default for its channel.
    pub async fn item_flow(&self, item: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT flow_code FROM item_flows WHERE item_code = $1")
            .bind(item)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn set_item_flow(&self, actor: &Actor, item: &str, flow: &str) -> Result<(), StoreError> {
        self.latest_flow(flow).await?;
        let stored = self.item(item).await?;
        let mut tx = self.begin(actor).await?;
        sqlx::query("INSERT INTO item_flows (item_code, flow_code) VALUES ($1, $2) ON CONFLICT (item_code) DO UPDATE SET flow_code = excluded.flow_code")
            .bind(item)
            .bind(flow)
            .execute(tx.conn())
            .await?;
        tx.record("item.flow", &stored.place, item, serde_json::json!({"flow": flow})).await?;
        tx.commit().await?;
        Ok(())
    }
}
