//! The WAL's fsync, outside the writers' lock. With `synchronous=FULL` SQLite syncs the WAL inside
//! `COMMIT`, holding its write lock (and so the writers' lock) while the disk works: measured, half
//! the time the lock was held (a 580 µs commit per 15 writers of 43 µs each). The native writer
//! connection commits with `synchronous=NORMAL` instead: `COMMIT` hands the WAL's new frames to the
//! kernel and returns; this thread then syncs the WAL file and only then are the batch's writers told
//! and its events announced. Meanwhile the next batch writes, and one sync covers every batch committed
//! before it started. The guarantee is FULL's: nothing is acknowledged before it is on disk.
//!
//! Why this is safe with SQLite: a sync of the WAL file makes durable every frame written to it so
//! far, whichever connection wrote them; with `synchronous=NORMAL` SQLite itself syncs the WAL before
//! every checkpoint and the database after, so frames are never lost to a checkpoint; and a WAL
//! restarted after a checkpoint is the same file. Until its sync, a commit is visible to readers
//! of this file (for at most one sync, some hundreds of microseconds) although not yet acknowledged;
//! nothing is announced or acknowledged that a power cut could take back.
//!
//! Every batch on SQLite (sqlx's, whose `COMMIT` syncs itself, too) is acknowledged through this
//! queue, so acknowledgements and events keep commit order. A sync that fails ends the process, as
//! PostgreSQL does: after a failed fsync the kernel may have dropped the pages and a later sync may
//! succeed without them, so no later acknowledgement could be trusted; a restart recovers what the
//! WAL holds.

use crate::db::Store;
use crate::write::Event;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Why a batch did not commit, as every writer in it hears it (group_commit.rs).
pub(crate) type Outcome = Result<(), Arc<str>>;

/// A committed batch waiting to be acknowledged.
pub(crate) struct Committed {
    pub(crate) members: Vec<oneshot::Sender<Outcome>>,
    pub(crate) events: Vec<Event>,
    /// Its `COMMIT` synced the WAL itself (sqlx's connection, `synchronous=FULL`).
    pub(crate) synced: bool,
    /// Announces the events (held only while the batch is queued).
    pub(crate) store: Store,
}

enum Job {
    Batch(Committed),
    /// Answered once every batch queued before it is acknowledged.
    Flush(oneshot::Sender<()>),
}

/// Syncs done, and the time they took.
#[derive(Default, Clone, Copy, Debug)]
pub struct SyncStats {
    pub syncs: u64,
    pub syncing: Duration,
    /// Batches acknowledged after a sync of this thread (rather than their own).
    pub batches: u64,
}

/// The queue of committed batches and the thread that syncs and acknowledges them. The thread ends
/// when this is dropped (with the store).
pub(crate) struct WalSync {
    queue: mpsc::Sender<Job>,
    stats: Arc<Mutex<SyncStats>>,
}

impl WalSync {
    pub(crate) fn start(wal: PathBuf) -> std::io::Result<WalSync> {
        let (queue, jobs) = mpsc::channel();
        let stats = Arc::new(Mutex::new(SyncStats::default()));
        let counted = stats.clone();
        std::thread::Builder::new().name("onewindow-walsync".into()).spawn(move || run(&wal, &jobs, &counted))?;
        Ok(WalSync { queue, stats })
    }

    /// Queues a committed batch; its writers hear the outcome once it is on disk.
    pub(crate) fn acknowledge(&self, batch: Committed) {
        if let Err(mpsc::SendError(Job::Batch(b))) = self.queue.send(Job::Batch(batch)) {
            // The thread is gone (it only ends with this queue): nobody can be told it is durable.
            for m in b.members {
                let _ = m.send(Err(Arc::from("the WAL sync thread is gone")));
            }
        }
    }

    /// Waits until every batch queued so far is acknowledged.
    pub(crate) async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.queue.send(Job::Flush(done)).is_ok() {
            let _ = flushed.await;
        }
    }

    pub(crate) fn stats(&self) -> SyncStats {
        *lock(&self.stats)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn run(wal: &std::path::Path, jobs: &mpsc::Receiver<Job>, stats: &Mutex<SyncStats>) {
    while let Ok(first) = jobs.recv() {
        // Everything committed by now shares this sync.
        let mut queued = vec![first];
        queued.extend(jobs.try_iter());
        let unsynced = queued.iter().filter(|j| matches!(j, Job::Batch(b) if !b.synced)).count();
        if unsynced > 0 {
            let since = Instant::now();
            if let Err(e) = sync(wal) {
                tracing::error!(wal = %wal.display(), error = %e, "the WAL could not be synced; stopping so that nothing unsynced is acknowledged");
                std::process::abort();
            }
            let mut s = lock(stats);
            s.syncs += 1;
            s.syncing += since.elapsed();
            s.batches += unsynced as u64;
        }
        for job in queued {
            match job {
                Job::Batch(b) => {
                    b.store.publish(&b.events, true);
                    // Dropped before the writers hear: each of them holds the store until it has
                    // heard, so this is never the last handle (the store's end needs no runtime here).
                    drop(b.store);
                    for m in b.members {
                        let _ = m.send(Ok(()));
                    }
                }
                Job::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }
}

/// fdatasync(2) of the WAL file: any descriptor of the file flushes every write to it.
fn sync(wal: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(wal)?.sync_data()
}
