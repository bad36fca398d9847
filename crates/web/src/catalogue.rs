//! The catalogue held in memory for search: rebuilt from the store when a catalogue event commits,
//! and swapped in whole so readers never wait on a rebuild.

use onewindow_core::search::{ItemContext, SearchIndex};
use onewindow_store::{Store, StoreError, StoredItem};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct CatalogueSnapshot {
    pub index: SearchIndex,
    /// Per index position: the stored row's extras (names, version).
    pub stored: Vec<StoredItem>,
    by_code: HashMap<String, usize>,
}

impl CatalogueSnapshot {
    pub fn stored(&self, index: usize) -> Option<&StoredItem> {
        self.by_code.get(self.index.item(index)?.code.as_str()).and_then(|i| self.stored.get(*i))
    }
}

#[derive(Clone)]
pub struct CatalogueCache {
    current: Arc<RwLock<Arc<CatalogueSnapshot>>>,
}

async fn load(store: &Store) -> Result<CatalogueSnapshot, StoreError> {
    let stored = store.items(None).await?;
    let departments = store.departments(None).await?;
    let zones = store.zones().await?;
    let entries = stored
        .iter()
        .map(|s| {
            let department_names = departments
                .iter()
                .filter(|d| d.place == s.place && d.code == s.item.department)
                .flat_map(|d| [d.name.clone(), d.short_name.clone()])
                .filter(|n| !n.is_empty())
                .collect();
            let zone_names = zones.iter().filter(|z| z.code == s.item.zone).map(|z| z.name.clone()).collect();
            (s.item.clone(), ItemContext { place: s.place.clone(), department_names, zone_names })
        })
        .collect();
    let by_code = stored.iter().enumerate().map(|(i, s)| (s.item.code.to_string(), i)).collect();
    Ok(CatalogueSnapshot { index: SearchIndex::build(entries), stored, by_code })
}

impl CatalogueCache {
    pub async fn new(store: &Store) -> Result<Self, StoreError> {
        Ok(CatalogueCache { current: Arc::new(RwLock::new(Arc::new(load(store).await?))) })
    }

    pub fn snapshot(&self) -> Arc<CatalogueSnapshot> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub async fn reload(&self, store: &Store) -> Result<(), StoreError> {
        let fresh = Arc::new(load(store).await?);
        match self.current.write() {
            Ok(mut g) => *g = fresh,
            Err(p) => *p.into_inner() = fresh,
        }
        Ok(())
    }

    /// Keeps the snapshot current: reloads after any committed catalogue change.
    pub fn follow(&self, store: Store) {
        let cache = self.clone();
        let mut rx = store.subscribe();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(e)
                        if e.kind.starts_with("item.")
                            || e.kind.starts_with("department.")
                            || e.kind.starts_with("zone.") =>
                    {
                        // Coalesce a burst (an import is many events) into one reload.
                        while let Ok(_more) = rx.try_recv() {}
                        if let Err(err) = cache.reload(&store).await {
                            tracing::error!(error = %err, "catalogue reload failed");
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let _ = cache.reload(&store).await;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }
}
