//! Live dashboards: one task follows committed events and, for each county someone is watching,
//! computes a fresh dashboard at most a few times a second (events arriving together are coalesced)
//! and every 30 seconds (waits grow while nothing happens). Every stream of that county gets the same
//! snapshot: it is computed once per change, not once per screen.

use onewindow_core::place::PlaceCode;
use onewindow_store::{Dashboard, Store};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// How long the hub waits for more events before it computes (events come in bursts: a case action
/// is often followed by another within milliseconds).
const COALESCE: Duration = Duration::from_millis(150);
/// Snapshots are also sent this often without events, so waiting times stay current.
const REFRESH: Duration = Duration::from_secs(30);

#[derive(Clone, Default)]
pub struct DashboardHub {
    counties: Arc<Mutex<HashMap<String, broadcast::Sender<Arc<Dashboard>>>>>,
}

/// Today in the hall's time zone.
pub fn today() -> chrono::NaiveDate {
    onewindow_core::lobby::local_day(chrono::Utc::now().timestamp_millis())
}

impl DashboardHub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Arc<Dashboard>>>> {
        match self.counties.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }

    /// Snapshots of a county's dashboard from now on.
    pub fn subscribe(&self, county: &PlaceCode) -> broadcast::Receiver<Arc<Dashboard>> {
        self.lock().entry(county.to_string()).or_insert_with(|| broadcast::channel(16).0).subscribe()
    }

    /// Counties someone watches, forgetting those nobody does any more.
    fn watched(&self) -> Vec<(String, broadcast::Sender<Arc<Dashboard>>)> {
        let mut m = self.lock();
        m.retain(|_, tx| tx.receiver_count() > 0);
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Follows the store's committed events and publishes fresh dashboards.
    pub fn follow(&self, store: Store) {
        let hub = self.clone();
        let mut rx = store.subscribe();
        tokio::spawn(async move {
            let mut dirty: BTreeSet<String> = BTreeSet::new();
            loop {
                let mut all = false;
                match tokio::time::timeout(REFRESH, rx.recv()).await {
                    Ok(Ok(e)) => {
                        dirty.insert(e.place.chars().take(6).collect());
                    }
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) | Err(_) => all = true,
                    Ok(Err(broadcast::error::RecvError::Closed)) => break,
                }
                // Gather the rest of the burst.
                let until = tokio::time::Instant::now() + COALESCE;
                while let Ok(r) = tokio::time::timeout_at(until, rx.recv()).await {
                    match r {
                        Ok(e) => {
                            dirty.insert(e.place.chars().take(6).collect());
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => all = true,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
                for (county, tx) in hub.watched() {
                    if !(all || dirty.contains(&county)) {
                        continue;
                    }
                    let Ok(place) = PlaceCode::parse(&county) else { continue };
                    match store.dashboard(&place, today()).await {
                        Ok(d) => {
                            let _ = tx.send(Arc::new(d));
                        }
                        Err(e) => tracing::warn!(error = %e, county, "live dashboard"),
                    }
                }
                dirty.clear();
            }
        });
    }
}
