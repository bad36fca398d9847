//! Group commit: many write transactions share one database commit, and each is acknowledged only
//! after that commit.
//!
//! Writers take turns on one connection (an async FIFO lock). The first writer of a batch opens a
//! database transaction; each writer works inside its own savepoint, so a writer that fails or goes
//! away rolls back only its own changes. A writer that has released its savepoint queues again for
//! the lock and, if nobody has committed its batch by the time it gets there, commits everything
//! released so far: whoever waited behind the commit in progress rides on the next one. So under
//! load one fsync (SQLite) or one commit round trip and one advisory lock (PostgreSQL) serves a
//! whole queue of writers, and alone a writer pays what it paid before, plus one savepoint.
//!
//! On SQLite a batch runs either on sqlx's writer connection or on the store's own connection
//! (native.rs), which the busiest writers use ([`How::Native`]): their statements run on the writer
//! thread itself instead of a hop to sqlx's connection thread and back for each. A writer that needs
//! the other connection first commits the batch open on this one; both never hold a transaction.
//!
//! The tail of a commit runs as its own task, so a request cancelled while waiting (a client that
//! hangs up) can never leave a batch of other people's changes open; a writer dropped without
//! committing does the same to roll back its savepoint and settle the batch.

use crate::db::{Backend, Store};
use crate::error::StoreError;
use crate::write::{Event, GENESIS};
use sqlx::{Any, Transaction};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

/// A day's counter key: (county, day, metric, dimension).
pub(crate) type CounterKey = (String, String, &'static str, String);

use crate::wal_sync::Outcome;

/// The open batch, behind the writers' lock.
#[derive(Default)]
pub(crate) struct Batch {
    tx: Option<Transaction<'static, Any>>,
    /// The store's own SQLite connection (native.rs), opened by the first native batch…
    native: Option<rusqlite::Connection>,
    /// …and whether a transaction is open on it (never while `tx` is)…
    native_open: bool,
    /// …and whether its `COMMIT` syncs the disk itself (otherwise wal_sync.rs does, outside the lock).
    native_syncs: bool,
    /// The writer holding the lock last went away inside its savepoint; undo it before anyone writes.
    abandoned: bool,
    /// The audit chain's head inside this batch (so each writer need not read it back).
    pub(crate) last_hash: Option<String>,
    /// Writers whose changes are in the batch, waiting for its commit.
    members: Vec<oneshot::Sender<Outcome>>,
    /// Writers in the batch that are not members: actions written by a member on their behalf
    /// (case_actions/combined.rs), which hear the outcome from it.
    riders: u64,
    events: Vec<Event>,
    /// Dashboard counters of the released writers, summed: written once per batch, just before commit.
    counters: BTreeMap<CounterKey, i64>,
    /// Batches committed, and writers in them (for /metrics and the benchmark).
    pub(crate) stats: GroupStats,
}

#[derive(Default, Clone, Copy, Debug)]
pub struct GroupStats {
    pub commits: u64,
    pub transactions: u64,
    /// The most writers one commit has served.
    pub largest: u64,
    /// Time the writers' lock was held by writers doing their work, and by commits.
    pub writing: std::time::Duration,
    pub committing: std::time::Duration,
    /// Of `writing`, the time spent running writers' joined statements (the hand-over to the
    /// connection and the database's work), as against building them and the rest.
    pub statements: std::time::Duration,
    /// Optimistic writers whose guard found the row changed since their read, and that were planned
    /// again under the lock (case_actions.rs).
    pub replanned: u64,
    /// On PostgreSQL, statements that wrote several case actions at once, and the actions they wrote
    /// (case_actions/combined.rs).
    pub combined: u64,
    pub combined_actions: u64,
    /// Of `statements`, the time those statements took.
    pub combining: std::time::Duration,
    /// On SQLite, syncs of the WAL outside the writers' lock (wal_sync.rs), their time, and the
    /// batches they made durable.
    pub wal_syncs: u64,
    pub wal_syncing: std::time::Duration,
    pub wal_synced_batches: u64,
}

pub(crate) type Writers = Arc<Mutex<Batch>>;

/// One writer's turn: the lock, with a savepoint open in the batch's transaction. Dropped before
/// [`Turn::commit`] has put it into the batch (an error, or a cancelled request), its changes are
/// undone as its [`Undo`] says.
pub(crate) struct Turn {
    guard: Option<OwnedMutexGuard<Batch>>,
    store: Store,
    undo: Undo,
    since: std::time::Instant,
}

/// How a writer's changes are undone if it fails or goes away before committing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Undo {
    /// The first writer of a batch: nobody else's changes are in the transaction yet, so the whole
    /// transaction rolls back.
    Transaction,
    /// A later writer works inside its own savepoint, and rolls back to it.
    Savepoint,
    /// A checked writer (`Store::begin_checked`) reads and checks everything first, then writes in one
    /// statement: it needs no savepoint (two statements fewer), since until it writes there is nothing
    /// to undo…
    NothingYet,
    /// …and once it has written, its changes can only go with the batch's: every writer in the batch
    /// hears the failure and nothing of the batch is kept. Its checks are done by then, so only a
    /// database error gets here.
    WithTheBatch,
}

/// A full batch commits before the next writer starts: it bounds how long the first writer of a batch
/// waits, and on PostgreSQL keeps a transaction within the 64 subtransactions a backend caches (beyond
/// them every other session's visibility checks slow down).
pub const MAX_WRITERS_PER_COMMIT: usize = 60;

const SAVEPOINT: &str = "SAVEPOINT writer";
const RELEASE: &str = "RELEASE SAVEPOINT writer";
const ROLLBACK: &str = "ROLLBACK TO SAVEPOINT writer";

/// How a writer will write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum How {
    /// Through sqlx, in statements of its own, inside a savepoint.
    Plain,
    /// Through sqlx, after all its checks, in one statement (see [`Undo::NothingYet`]).
    Checked,
    /// Checked, and on SQLite's own connection (native.rs): only through joined writes and
    /// [`Turn::native`], never through [`Turn::conn`].
    Native,
}

impl Turn {
    /// Takes the writers' lock, with the batch open on the connection the writer needs.
    pub(crate) async fn take(store: &Store, how: How) -> Result<Turn, StoreError> {
        let mut guard = store.inner.writers.clone().lock_owned().await;
        let elsewhere = match how {
            How::Native => guard.tx.is_some(),
            How::Plain | How::Checked => guard.native_open,
        };
        if guard.members.len() >= MAX_WRITERS_PER_COMMIT || elsewhere {
            settle(&mut guard, store).await;
        }
        match open(&mut guard, store, how).await {
            Ok(undo) => Ok(Turn { guard: Some(guard), store: store.clone(), undo, since: std::time::Instant::now() }),
            Err(e) => {
                fail(&mut guard, &e.to_string());
                Err(e)
            }
        }
    }

    pub(crate) fn batch(&mut self) -> &mut Batch {
        match self.guard.as_mut() {
            Some(g) => g,
            None => unreachable!("a turn holds the lock until it commits or is dropped"),
        }
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        // `take` leaves a transaction open, and nothing closes it while this turn holds the lock; a
        // native turn never asks (How::Native).
        match self.batch().tx.as_mut() {
            Some(tx) => tx,
            None => unreachable!("a writer's sqlx turn always has the batch's transaction open"),
        }
    }

    /// The store's own SQLite connection, with the batch's transaction open, for a native turn.
    pub(crate) fn native(&mut self) -> Option<&rusqlite::Connection> {
        let b = self.batch();
        if b.native_open {
            b.native.as_ref()
        } else {
            None
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// A checked writer that finds it must write in several statements after all opens its savepoint
    /// now, before its first write.
    pub(crate) async fn savepoint_now(&mut self) -> Result<(), StoreError> {
        if self.undo == Undo::NothingYet {
            sqlx::query(SAVEPOINT).execute(self.conn()).await?;
            self.undo = Undo::Savepoint;
        }
        Ok(())
    }

    /// Called before a write is sent: from here a checked writer without a savepoint can only be
    /// undone with its batch. Returns whether this is its first write.
    pub(crate) fn writing(&mut self) -> bool {
        let first = self.undo == Undo::NothingYet;
        if first {
            self.undo = Undo::WithTheBatch;
        }
        first
    }

    /// This writer wrote for `n` others too, who count as writers of the batch (see `Batch::riders`).
    pub(crate) fn wrote_for(&mut self, n: u64) {
        self.batch().riders += n;
    }

    /// The first write turned out to write nothing (a guard that did not hold): back to nothing to undo.
    pub(crate) fn wrote_nothing(&mut self) {
        if self.undo == Undo::WithTheBatch {
            self.undo = Undo::NothingYet;
        }
    }

    /// Puts this writer's changes into the batch and waits until the batch has committed.
    pub(crate) async fn commit(
        mut self,
        events: &[Event],
        counters: Vec<(CounterKey, i64)>,
        last_hash: Option<String>,
    ) -> Result<(), StoreError> {
        if self.undo == Undo::Savepoint {
            sqlx::query(RELEASE).execute(self.conn()).await?;
        }
        let (done, outcome) = oneshot::channel();
        let Some(mut b) = self.guard.take() else { unreachable!("checked by batch()") };
        b.members.push(done);
        b.events.extend_from_slice(events);
        for (k, v) in counters {
            *b.counters.entry(k).or_default() += v;
        }
        if last_hash.is_some() {
            b.last_hash = last_hash;
        }
        b.stats.writing += self.since.elapsed();
        // Commits before this one's batch.
        let before = b.stats.commits;
        drop(b);
        // Its own task: the batch is settled even if this request is dropped while waiting.
        let store = self.store.clone();
        let tail = tokio::spawn(async move { wait_or_commit(&store, outcome, before).await });
        match tail.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(StoreError::Db(sqlx::Error::Protocol(format!("group commit failed: {why}")))),
            Err(e) => Err(StoreError::Db(sqlx::Error::Protocol(format!("group commit task failed: {e}")))),
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(mut guard) = self.guard.take() {
            match self.undo {
                Undo::Savepoint => {
                    guard.abandoned = true;
                    tidy_later(guard);
                }
                // Alone in the batch: roll the whole transaction back.
                Undo::Transaction => fail(&mut guard, "abandoned"),
                Undo::WithTheBatch => fail(&mut guard, "a writer of this batch failed after writing"),
                // Nothing written; the released writers are waiting for the lock to commit.
                Undo::NothingYet => {}
            }
        }
    }
}

/// Opens the batch's transaction if none is open, undoes an abandoned savepoint, and opens this
/// writer's savepoint if others' changes are in the batch and it is not a checked writer.
async fn open(b: &mut Batch, store: &Store, how: How) -> Result<Undo, StoreError> {
    undo_abandoned(b).await?;
    if how == How::Native {
        if !b.native_open {
            if b.native.is_none() {
                let (conn, syncs) = store.native()?.writer()?;
                b.native = Some(conn);
                b.native_syncs = syncs;
            }
            if let Some(c) = &b.native {
                c.execute_batch("BEGIN IMMEDIATE")?;
            }
            b.native_open = true;
            b.last_hash = None;
        }
        return Ok(if b.members.is_empty() { Undo::Transaction } else { Undo::NothingYet });
    }
    let checked = how == How::Checked;
    if b.tx.is_none() {
        let mut tx = store.inner.writer.begin().await?;
        b.last_hash = None;
        if store.backend() == Backend::Postgres {
            // One writer at a time across every instance keeps the audit chain linear and event
            // sequence numbers in commit order (readers resume by sequence). Released at commit.
            // The same round trip answers the chain's head as committed before the lock was ours
            // (migration 0014), so no writer of the batch reads it.
            let head: Option<String> = sqlx::query_scalar("SELECT writers_turn()").fetch_one(&mut *tx).await?;
            b.last_hash = Some(head.unwrap_or_else(|| GENESIS.to_string()));
        }
        b.tx = Some(tx);
    }
    match b.tx.as_mut() {
        Some(_) if b.members.is_empty() => Ok(Undo::Transaction),
        Some(_) if checked => Ok(Undo::NothingYet),
        Some(tx) => {
            sqlx::query(SAVEPOINT).execute(&mut **tx).await?;
            Ok(Undo::Savepoint)
        }
        None => Err(StoreError::Corrupt("the batch's transaction did not open".into())),
    }
}

async fn undo_abandoned(b: &mut Batch) -> Result<(), StoreError> {
    if !b.abandoned {
        return Ok(());
    }
    b.abandoned = false;
    if let Some(tx) = b.tx.as_mut() {
        sqlx::query(ROLLBACK).execute(&mut **tx).await?;
        sqlx::query(RELEASE).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Ends the batch without committing: every writer in it hears why, and the transaction rolls back.
fn fail(b: &mut Batch, why: &str) {
    let why: Arc<str> = Arc::from(why);
    for m in b.members.drain(..) {
        let _ = m.send(Err(why.clone()));
    }
    b.tx = None;
    if b.native_open {
        b.native_open = false;
        // A connection that cannot roll back is closed, which rolls back.
        if b.native.as_ref().is_some_and(|c| c.execute_batch("ROLLBACK").is_err()) {
            b.native = None;
        }
    }
    b.abandoned = false;
    b.riders = 0;
    b.last_hash = None;
    b.events.clear();
    b.counters.clear();
}

/// Commits the batch: undoes an abandoned savepoint, writes the summed counters, commits, announces
/// the events in commit order and tells every writer. A batch with no released writer rolls back.
async fn settle(b: &mut Batch, store: &Store) {
    if b.native_open {
        settle_native(b, store);
        return;
    }
    if let Err(e) = undo_abandoned(b).await {
        fail(b, &e.to_string());
        return;
    }
    if b.members.is_empty() {
        b.tx = None;
        b.last_hash = None;
        return;
    }
    let Some(mut tx) = b.tx.take() else {
        fail(b, "the batch's transaction is gone");
        return;
    };
    let counters = std::mem::take(&mut b.counters);
    let since = std::time::Instant::now();
    let result = async {
        crate::stats::write_counters(&mut tx, store.backend(), &counters).await?;
        tx.commit().await?;
        Ok::<(), StoreError>(())
    }
    .await;
    match result {
        Ok(()) => committed(b, store, since, true),
        Err(e) => fail(b, &e.to_string()),
    }
}

/// [`settle`] for a batch on the store's own SQLite connection. Its `COMMIT` hands the WAL's frames to
/// the kernel; the disk is waited for outside the lock (wal_sync.rs).
fn settle_native(b: &mut Batch, store: &Store) {
    if b.members.is_empty() {
        fail(b, "nobody's changes are in the batch");
        return;
    }
    let counters = std::mem::take(&mut b.counters);
    let since = std::time::Instant::now();
    let result = match b.native.as_ref() {
        Some(c) => blocking(|| {
            crate::stats::write_counters_native(c, &counters)?;
            c.execute_batch("COMMIT")?;
            Ok::<(), StoreError>(())
        }),
        None => Err(StoreError::Corrupt("the batch's connection is gone".into())),
    };
    match result {
        Ok(()) => {
            b.native_open = false;
            let synced = b.native_syncs;
            committed(b, store, since, synced);
        }
        Err(e) => fail(b, &e.to_string()),
    }
}

/// Runs work that waits (a commit's fsync) where waiting does not hold up other tasks' threads.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// After a commit: the events are announced in commit order and every writer of the batch is told —
/// on a SQLite file once the WAL is synced (`synced`: the commit did that itself), through the queue
/// every batch there goes through so that the order holds (wal_sync.rs).
fn committed(b: &mut Batch, store: &Store, since: std::time::Instant, synced: bool) {
    let events = std::mem::take(&mut b.events);
    b.stats.commits += 1;
    b.stats.committing += since.elapsed();
    let writers = b.members.len() as u64 + std::mem::take(&mut b.riders);
    b.stats.transactions += writers;
    b.stats.largest = b.stats.largest.max(writers);
    b.last_hash = None;
    let members = std::mem::take(&mut b.members);
    match store.inner.native.as_ref().map(|n| n.acknowledgements()) {
        Some(Ok(queue)) => {
            queue.acknowledge(crate::wal_sync::Committed { members, events, synced, store: store.clone() });
        }
        Some(Err(e)) if !synced => {
            // Committed but not known to be on disk: nobody may hear it succeeded.
            let why: Arc<str> = Arc::from(format!("the commit could not be made durable: {e}"));
            for m in members {
                let _ = m.send(Err(why.clone()));
            }
        }
        _ => {
            store.publish(&events, true);
            for m in members {
                let _ = m.send(Ok(()));
            }
        }
    }
}

/// Waits for this writer's batch to commit, or commits it if nobody has by the time this writer's
/// turn comes round again. `before`: the commits made before its batch; a batch committed and
/// waiting for its sync (wal_sync.rs) is not committed again, nor the next one early.
async fn wait_or_commit(store: &Store, mut outcome: oneshot::Receiver<Outcome>, before: u64) -> Outcome {
    let lock = store.inner.writers.clone().lock_owned();
    tokio::select! {
        biased;
        r = &mut outcome => r.unwrap_or_else(|_| Err(Arc::from("the batch was dropped"))),
        mut guard = lock => {
            if let Ok(r) = outcome.try_recv() {
                return r;
            }
            if guard.stats.commits == before {
                settle(&mut guard, store).await;
            }
            drop(guard);
            outcome.await.unwrap_or_else(|_| Err(Arc::from("the batch was dropped")))
        }
    }
}

/// After an abandoned turn, from a task of its own: rolls its savepoint back and, if nobody's changes
/// are in the batch, ends the transaction (on PostgreSQL that frees the advisory lock for other
/// instances). Released writers are all waiting for the lock, so they commit what is there.
fn tidy_later(mut guard: OwnedMutexGuard<Batch>) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(async move {
                match undo_abandoned(&mut guard).await {
                    Err(e) => fail(&mut guard, &e.to_string()),
                    Ok(()) if guard.members.is_empty() => {
                        guard.tx = None;
                        guard.last_hash = None;
                    }
                    Ok(()) => {}
                }
            });
        }
        // No runtime left (shutting down): roll the whole batch back rather than leave it open.
        Err(_) => fail(&mut guard, "shutting down"),
    }
}

/// A thread of its own for the busiest write transactions. Every statement of a transaction is a hop
/// to the database connection and back; on the request runtime each hop back waits its turn behind
/// every request being parsed and answered, and the writers' lock is held all that time. On this
/// thread the transaction resumes as soon as the database answers, so the lock is held for the work.
pub(crate) struct WriterThread {
    handle: tokio::runtime::Handle,
    /// Dropped with the store: the thread ends.
    _stop: oneshot::Sender<()>,
}

impl WriterThread {
    pub(crate) fn start() -> Result<WriterThread, StoreError> {
        // Writers arrive from the request runtime (this runtime's global queue); the commit tails
        // of writers that have written are spawned here (its local queue). Polling the global queue
        // first at every tick lets every writer that has arrived write before a tail commits, so
        // they share its commit; by default (every 31st tick) each tail would commit alone.
        let rt = tokio::runtime::Builder::new_current_thread()
            .global_queue_interval(1)
            .enable_all()
            .build()
            .map_err(|e| StoreError::Corrupt(format!("writer thread: {e}")))?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("onewindow-writer".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                })
            })
            .map_err(|e| StoreError::Corrupt(format!("writer thread: {e}")))?;
        Ok(WriterThread { handle, _stop: stop })
    }

    /// Runs work on the writer thread without waiting for it.
    pub(crate) fn spawn(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        self.handle.spawn(work);
    }
}

impl Store {
    /// Runs a write transaction on the writer thread and waits for it. It runs to its end even if the
    /// caller stops waiting.
    pub(crate) async fn on_writer_thread<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self.inner.writer_thread.handle.spawn(work).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Corrupt(format!("writer thread: {e}"))),
        }
    }

    /// How many commits served how many write transactions since start.
    pub async fn group_commit_stats(&self) -> GroupStats {
        let mut stats = self.inner.writers.lock().await.stats;
        if let Some(n) = &self.inner.native {
            let s = n.sync_stats();
            stats.wal_syncs = s.syncs;
            stats.wal_syncing = s.syncing;
            stats.wal_synced_batches = s.batches;
        }
        stats
    }

    /// Commits the open batch, if any, and closes the store's own SQLite connections (native.rs): the
    /// store is closing, and the file may be replaced next (restore).
    pub(crate) async fn close_writers(&self) {
        let mut b = self.inner.writers.lock().await;
        settle(&mut b, self).await;
        b.native = None;
        if let Some(n) = &self.inner.native {
            n.flush_acknowledgements().await;
            n.close();
        }
    }
}
