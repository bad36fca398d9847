//! What an acceptance reads of the catalogue — the item, the flow it is handled by and that flow's
//! latest version, the item's department — kept for a few seconds (recent.rs): every acceptance of an
//! item otherwise reads the same four rows again, a hop to a database connection each.
//!
//! Each of them changes only with an event: `catalogue.imported` / `item.*` (an item's new version, its
//! flow), `flow.saved`, `department.saved`, `place.saved`; after any of these every entry is forgotten
//! before the event is announced (`Store::publish`).

use crate::cases::invalid;
use crate::catalogue::StoredItem;
use crate::db::Store;
use crate::error::StoreError;
use crate::recent::Recent;
use crate::write::Event;
use onewindow_core::flow::Flow;
use std::sync::Arc;
use std::time::Duration;

/// How long facts answer without being read again (bounds a change made outside the application).
const FRESH_FOR: Duration = Duration::from_secs(5);
const MOST: usize = 10_000;

#[derive(Clone)]
pub(crate) struct CatalogueFacts {
    pub stored: StoredItem,
    pub flow_code: String,
    pub flow_version: i64,
    pub flow: Arc<Flow>,
    pub department_id: i64,
}

/// By item code and whether the application is online (an item with no flow of its own takes the
/// channel's default).
pub(crate) struct FactsCache(Recent<(String, bool), CatalogueFacts>);

impl Default for FactsCache {
    fn default() -> Self {
        FactsCache(Recent::new(FRESH_FOR, MOST))
    }
}

fn changes_facts(kind: &str) -> bool {
    ["catalogue.", "item.", "flow.", "department.", "place."].iter().any(|p| kind.starts_with(p))
}

impl Store {
    /// The catalogue facts of an acceptance of `item`; an unknown item is invalid input.
    pub(crate) async fn catalogue_facts(&self, item: &str, online: bool) -> Result<CatalogueFacts, StoreError> {
        let key = (item.to_string(), online);
        let read_in = match self.inner.catalogue_facts.0.get(&key, |_| true) {
            Ok(facts) => return Ok(facts),
            Err(generation) => generation,
        };
        let stored = self
            .item(item)
            .await
            .map_err(|_| invalid("item", format!("事项“{item}”不存在"), format!("item \"{item}\" does not exist")))?;
        let flow_code = match self.item_flow(item).await? {
            Some(f) => f,
            None if online => "online".into(),
            None => "general".into(),
        };
        let (flow_version, flow) = self.latest_flow(&flow_code).await?;
        let department_id: i64 = sqlx::query_scalar("SELECT id FROM departments WHERE place_code = $1 AND code = $2")
            .bind(&stored.place)
            .bind(&stored.item.department)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("item {item}: department {} is missing", stored.item.department))
            })?;
        let facts = CatalogueFacts { stored, flow_code, flow_version, flow, department_id };
        self.inner.catalogue_facts.0.keep(key, facts.clone(), read_in);
        Ok(facts)
    }

    /// Called with every committed event, before it is announced.
    pub(crate) fn forget_catalogue_facts_after(&self, events: &[Event]) {
        if events.iter().any(|e| changes_facts(&e.kind)) {
            self.inner.catalogue_facts.0.forget_all();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_catalogue_changes_forget() {
        for kind in
            ["catalogue.imported", "item.flow", "item.unchanged", "flow.saved", "department.saved", "place.saved"]
        {
            assert!(super::changes_facts(kind), "{kind}");
        }
        for kind in ["case.accepted", "zone.saved", "window.saved", "staff.updated"] {
            assert!(!super::changes_facts(kind), "{kind}");
        }
    }
}
