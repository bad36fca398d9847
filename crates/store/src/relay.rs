//! Committed events across instances. Every committed event is announced once in this process through
//! [`Store::subscribe`]; with PostgreSQL several instances share one database, and each must also learn
//! of the events the others commit (a call made on instance A reaches a display connected to B).
//!
//! How (PostgreSQL only, started by [`Store::follow_other_instances`]):
//! - After a local commit, a notifier task sends `NOTIFY onewindow_events, '<instance>:<seq>'` (coalesced:
//!   one notification for a burst of commits). The payload is tiny; the events themselves stay in the
//!   event table.
//! - A listener task on its own connection (`LISTEN onewindow_events`) reads the event table after its
//!   cursor whenever another instance notifies, and every 2 s in any case: NOTIFY alone loses messages
//!   (a dropped listener connection, a crash between commit and notify), the event table does not.
//!   After a reconnect the next read picks up whatever was missed.
//! - Every event, local or read back, goes through one gate ([`Store::publish`]) that announces each
//!   sequence number at most once. So an event this instance committed, and also read back from the
//!   table, is not delivered twice, whichever path gets there first.
//!
//! On PostgreSQL writers hold one advisory lock from their first event to their commit, so sequence
//! numbers become visible in order and a cursor that has read up to `seq` has missed nothing below it.

use crate::db::{Backend, Store};
use crate::error::StoreError;
use crate::write::Event;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "onewindow_events";
/// How often the listener reads the event table without being notified.
const POLL: Duration = Duration::from_secs(2);
/// Sequence numbers remembered as announced; anything at or below the oldest forgotten one counts as seen.
const REMEMBER: usize = 16_384;

/// The sequence numbers announced so far (the newest [`REMEMBER`]).
#[derive(Default)]
struct Announced {
    seqs: BTreeSet<i64>,
    /// Every seq at or below this was announced (or is too old to matter).
    floor: i64,
}

impl Announced {
    /// True the first time a seq is offered.
    fn first_time(&mut self, seq: i64) -> bool {
        if seq <= self.floor || !self.seqs.insert(seq) {
            return false;
        }
        while self.seqs.len() > REMEMBER {
            if let Some(oldest) = self.seqs.pop_first() {
                self.floor = oldest;
            }
        }
        true
    }
}

/// The store's part of the relay: the announce gate and, on PostgreSQL once following, the notifier.
pub(crate) struct Relay {
    announced: Mutex<Announced>,
    /// This process's id in notifications, so it can ignore its own.
    instance: String,
    /// The database URL, for the listener's own connection.
    url: String,
    notify: std::sync::OnceLock<mpsc::UnboundedSender<i64>>,
}

impl Relay {
    pub(crate) fn new(url: &str) -> Self {
        Relay {
            announced: Mutex::new(Announced::default()),
            instance: format!("{:016x}", rand::random::<u64>()),
            url: url.to_string(),
            notify: std::sync::OnceLock::new(),
        }
    }
}

impl Store {
    /// Announces committed events to this process's subscribers, each sequence number once. `local`:
    /// committed by this process (other instances are then notified).
    pub(crate) fn publish(&self, events: &[Event], local: bool) {
        // Before anyone hears of a sign-out or a deactivation, no cached session outlives it.
        self.forget_sessions_after(events);
        self.forget_catalogue_facts_after(events);
        let relay = &self.inner.relay;
        let fresh: Vec<&Event> = {
            let mut a = match relay.announced.lock() {
                Ok(a) => a,
                Err(p) => p.into_inner(),
            };
            events.iter().filter(|e| a.first_time(e.seq)).collect()
        };
        self.forget_written_cases_after(&fresh);
        for e in fresh {
            // No subscribers is fine.
            let _ = self.inner.events.send(e.clone());
        }
        if local {
            if let (Some(tx), Some(last)) = (relay.notify.get(), events.iter().map(|e| e.seq).max()) {
                let _ = tx.send(last);
            }
        }
    }

    /// On PostgreSQL, makes this process learn of events committed by other instances on the same
    /// database (and tell them of its own); see the module notes. A no-op on SQLite, and when already
    /// following.
    pub async fn follow_other_instances(&self) -> Result<(), StoreError> {
        if self.backend() != Backend::Postgres || self.inner.relay.notify.get().is_some() {
            return Ok(());
        }
        let mut listener = sqlx::postgres::PgListener::connect(&self.inner.relay.url).await?;
        listener.listen(CHANNEL).await?;
        let cursor = self.last_event_seq().await?;
        let (tx, rx) = mpsc::unbounded_channel();
        if self.inner.relay.notify.set(tx).is_err() {
            return Ok(());
        }
        tokio::spawn(notifier(self.clone(), rx));
        tokio::spawn(listen(self.clone(), listener, cursor));
        Ok(())
    }
}

/// Sends one notification per burst of local commits, carrying the newest seq.
async fn notifier(store: Store, mut rx: mpsc::UnboundedReceiver<i64>) {
    while let Some(mut last) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            last = last.max(more);
        }
        let payload = format!("{}:{last}", store.inner.relay.instance);
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(&payload).execute(store.pool()).await
        {
            // The others still find the events by their periodic read.
            tracing::warn!(error = %e, "notifying other instances failed");
        }
    }
}

/// Reads other instances' events after `cursor` when notified, after a reconnect, and every [`POLL`].
async fn listen(store: Store, mut listener: sqlx::postgres::PgListener, mut cursor: i64) {
    let own = format!("{}:", store.inner.relay.instance);
    loop {
        match tokio::time::timeout(POLL, listener.try_recv()).await {
            // Our own commit: already announced here.
            Ok(Ok(Some(n))) if n.payload().starts_with(&own) => continue,
            // Another instance committed; or the connection dropped (it reconnects on the next call,
            // and notifications sent meanwhile are lost: read the table); or nothing for a while.
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "listening for other instances' events failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        if store.inner.pool.is_closed() {
            return;
        }
        loop {
            match store.events_after(cursor, 500).await {
                Ok(events) => {
                    let Some(last) = events.last().map(|e| e.seq) else { break };
                    cursor = last;
                    store.publish(&events, false);
                    if events.len() < 500 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading other instances' events failed");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_seq_is_announced_once_and_old_ones_are_not_again() {
        let mut a = Announced::default();
        assert!(a.first_time(5));
        assert!(!a.first_time(5));
        assert!(a.first_time(3), "an earlier seq not seen yet still counts");
        for s in 10..(10 + REMEMBER as i64) {
            assert!(a.first_time(s));
        }
        assert_eq!(a.seqs.len(), REMEMBER);
        assert!(!a.first_time(3) && !a.first_time(4), "below the floor counts as seen");
    }
}
