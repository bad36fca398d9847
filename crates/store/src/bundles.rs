//! Bundles in the store: one application opens the parent case and records, child by child, whether the
//! household is eligible; when the parent (or a child) reaches a trigger state, the eligible children
//! open as cases in their departments in the same transaction; the bundle completes by its join rule.

use crate::cases::{CaseActor, CaseRow, NewCase};
use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::write::WriteTx;
use chrono::NaiveDate;
use onewindow_core::bundle::{builtin_bundles, Bundle};
use onewindow_core::ids::{IdNumber, PhoneNumber};
use onewindow_core::place::PlaceCode;
use onewindow_core::FieldError;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct BundleChildView {
    pub key: String,
    pub item: String,
    pub item_name: String,
    /// waiting (for its trigger), ineligible, open, closed.
    pub status: String,
    pub reason: String,
    pub case_id: Option<i64>,
    pub case_number: Option<String>,
    pub state_name: Option<String>,
    pub department_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BundleView {
    pub id: i64,
    pub bundle: String,
    pub name: String,
    /// open or complete.
    pub status: String,
    pub parent_case_id: i64,
    pub parent_number: String,
    pub parent_state_name: String,
    pub children: Vec<BundleChildView>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

fn bundle_def(code: &str) -> Result<Bundle, StoreError> {
    builtin_bundles()
        .map_err(|e| StoreError::Corrupt(format!("built-in bundles: {e}")))?
        .into_iter()
        .find(|b| b.code == code)
        .ok_or_else(|| StoreError::not_found(format!("bundle {code}")))
}

impl Store {
    /// The bundles on offer: (code, name, parent item).
    pub fn bundles(&self) -> Result<Vec<Bundle>, StoreError> {
        builtin_bundles().map_err(|e| StoreError::Corrupt(format!("built-in bundles: {e}")))
    }

    /// One application: the parent case is accepted (its own flow and checks), and each child is
    /// recorded as waiting for its trigger or as ineligible with the rule that failed — all or nothing.
    pub async fn apply_bundle(
        &self,
        by: &CaseActor,
        code: &str,
        parent: &NewCase,
        facts: &Map<String, Value>,
    ) -> Result<BundleView, StoreError> {
        let def = bundle_def(code)?;
        if parent.item != def.parent_item {
            return Err(FieldError::new(
                "item",
                format!("该一件事的主事项是 {}", def.parent_item),
                format!("this bundle's parent item is {}", def.parent_item),
            )
            .into());
        }
        for c in &def.children {
            self.item(&c.item)
                .await
                .map_err(|_| StoreError::Corrupt(format!("bundle {code}: item {} is not in the catalogue", c.item)))?;
        }
        let now = now_ms();
        let mut tx = self.begin(&by.actor).await?;
        let parent_id = self.accept_case_in(&mut tx, by, parent, None).await?;
        let bundle_id: i64 = sqlx::query_scalar(
            "INSERT INTO bundle_cases (bundle_code, parent_case_id, facts, status, created_at) VALUES ($1, $2, $3, 'open', $4) RETURNING id",
        )
        .bind(code)
        .bind(parent_id)
        .bind(self.vault().seal(&Value::Object(facts.clone()).to_string()))
        .bind(now)
        .fetch_one(tx.conn())
        .await?;
        for c in &def.children {
            let (status, reason) = match c.eligibility(facts) {
                Ok(()) => ("waiting", String::new()),
                Err(failing) => ("ineligible", failing.join("；")),
            };
            sqlx::query("INSERT INTO bundle_children (bundle_case_id, child_key, item_code, status, reason) VALUES ($1, $2, $3, $4, $5)")
                .bind(bundle_id)
                .bind(&c.key)
                .bind(&c.item)
                .bind(status)
                .bind(&reason)
                .execute(tx.conn())
                .await?;
        }
        tx.record(
            "bundle.applied",
            parent.place.as_str(),
            &format!("bundle:{bundle_id}"),
            json!({"bundle": code, "parent_case": parent_id}),
        )
        .await?;
        tx.commit().await?;
        self.bundle(bundle_id).await
    }

    pub async fn bundle(&self, id: i64) -> Result<BundleView, StoreError> {
        let row: Option<(String, i64, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT bundle_code, parent_case_id, status, created_at, completed_at FROM bundle_cases WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let (code, parent_case_id, status, created_at, completed_at) =
            row.ok_or_else(|| StoreError::not_found(format!("bundle {id}")))?;
        let def = bundle_def(&code)?;
        let parent = self.case_for(parent_case_id, None).await?;
        let rows: Vec<(String, String, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT child_key, item_code, status, reason, case_id FROM bundle_children WHERE bundle_case_id = $1",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let mut children = Vec::new();
        for c in &def.children {
            let Some((key, item, status, reason, case_id)) = rows.iter().find(|r| r.0 == c.key).cloned() else {
                continue;
            };
            let case = match case_id {
                Some(cid) => Some(self.case_for(cid, None).await?),
                None => None,
            };
            children.push(BundleChildView {
                item_name: self.item(&item).await.map(|i| i.item.name).unwrap_or_default(),
                key,
                item,
                status,
                reason,
                case_id,
                case_number: case.as_ref().map(|c| c.number.clone()),
                state_name: case.as_ref().map(|c| c.state_name.clone()),
                department_name: case.as_ref().map(|c| c.department_name.clone()),
            });
        }
        Ok(BundleView {
            id,
            bundle: code,
            name: def.name,
            status,
            parent_case_id,
            parent_number: parent.number,
            parent_state_name: parent.state_name,
            children,
            created_at,
            completed_at,
        })
    }

    /// The bundle a case belongs to (as parent or child), if any.
    pub async fn bundle_of_case(&self, case: i64) -> Result<Option<i64>, StoreError> {
        let parent: Option<i64> = sqlx::query_scalar("SELECT id FROM bundle_cases WHERE parent_case_id = $1")
            .bind(case)
            .fetch_optional(self.pool())
            .await?;
        if parent.is_some() {
            return Ok(parent);
        }
        Ok(sqlx::query_scalar("SELECT bundle_case_id FROM bundle_children WHERE case_id = $1")
            .bind(case)
            .fetch_optional(self.pool())
            .await?)
    }

    /// After a case moved to `state` (in `tx`): start the children it triggers, note a child's end, and
    /// complete the bundle when its join rule holds.
    pub(crate) async fn bundle_progress(
        &self,
        tx: &mut WriteTx,
        case: &CaseRow,
        state: &str,
        terminal: bool,
        by: &CaseActor,
        today: NaiveDate,
    ) -> Result<(), StoreError> {
        // One read for both roles a case can play in an open bundle: its parent, or one of its children.
        let found: Option<(i64, String, String, String)> = sqlx::query_as(
            "SELECT id, bundle_code, facts, 'parent' FROM bundle_cases WHERE parent_case_id = $1 AND status = 'open' \
             UNION ALL SELECT b.id, b.bundle_code, b.facts, c.child_key FROM bundle_children c \
             JOIN bundle_cases b ON b.id = c.bundle_case_id WHERE c.case_id = $1 AND b.status = 'open'",
        )
        .bind(case.id)
        .fetch_optional(tx.conn())
        .await?;
        let Some((bundle_id, code, facts, key)) = found else { return Ok(()) };
        let def = bundle_def(&code)?;
        let vault = self.vault().clone();
        let facts: Map<String, Value> =
            serde_json::from_str(&vault.open(&facts).map_err(|e| StoreError::Corrupt(e.to_string()))?)?;
        if key != "parent" && terminal {
            sqlx::query("UPDATE bundle_children SET status = 'closed' WHERE bundle_case_id = $1 AND child_key = $2")
                .bind(bundle_id)
                .bind(&key)
                .execute(tx.conn())
                .await?;
        }
        for child in def.triggered_by(&key, state) {
            let status: Option<String> =
                sqlx::query_scalar("SELECT status FROM bundle_children WHERE bundle_case_id = $1 AND child_key = $2")
                    .bind(bundle_id)
                    .bind(&child.key)
                    .fetch_optional(tx.conn())
                    .await?;
            if status.as_deref() != Some("waiting") {
                continue;
            }
            // The citizen handed in one set of materials: the child's are covered by the parent's
            // (and by data exchange), so they are verified, not asked again.
            let item = self.item(&child.item).await?;
            let materials = item.item.materials.iter().map(|m| (m.name.clone(), "verified".to_string())).collect();
            let n = NewCase {
                item: child.item.clone(),
                applicant_name: vault.open(&case.applicant_name).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                applicant_id_number: vault
                    .open_opt(case.applicant_id_number.as_deref())
                    .and_then(|v| IdNumber::parse(&v).ok()),
                applicant_phone: vault
                    .open_opt(case.applicant_phone.as_deref())
                    .and_then(|v| PhoneNumber::parse(&v).ok()),
                channel: "bundle".into(),
                materials,
                tolerant: false,
                supplement_days: 5,
                ticket_id: None,
                place: PlaceCode::parse(&case.place_code)?,
            };
            let child_id = self.accept_case_in(tx, by, &n, Some(today)).await?;
            sqlx::query(
                "UPDATE bundle_children SET status = 'open', case_id = $1, data = $2, started_at = $3 WHERE bundle_case_id = $4 AND child_key = $5",
            )
            .bind(child_id)
            .bind(vault.seal(&Value::Object(child.data(&facts)).to_string()))
            .bind(now_ms())
            .bind(bundle_id)
            .bind(&child.key)
            .execute(tx.conn())
            .await?;
            tx.record(
                "bundle.child_started",
                &case.place_code,
                &format!("bundle:{bundle_id}"),
                json!({"child": child.key, "case": child_id}),
            )
            .await?;
        }
        let statuses: BTreeMap<String, String> = sqlx::query_as::<_, (String, String)>(
            "SELECT child_key, status FROM bundle_children WHERE bundle_case_id = $1",
        )
        .bind(bundle_id)
        .fetch_all(tx.conn())
        .await?
        .into_iter()
        .collect();
        if def.complete(&statuses) {
            sqlx::query("UPDATE bundle_cases SET status = 'complete', completed_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(bundle_id)
                .execute(tx.conn())
                .await?;
            tx.record("bundle.completed", &case.place_code, &format!("bundle:{bundle_id}"), json!({"bundle": code}))
                .await?;
        }
        Ok(())
    }
}

/// The child's own data (the facts mapped to it), for its department.
pub async fn child_data(store: &Store, case: i64) -> Result<Option<Value>, StoreError> {
    let sealed: Option<Option<String>> = sqlx::query_scalar("SELECT data FROM bundle_children WHERE case_id = $1")
        .bind(case)
        .fetch_optional(store.pool())
        .await?;
    Ok(sealed.flatten().and_then(|s| store.vault().open(&s).ok()).and_then(|s| serde_json::from_str(&s).ok()))
}
