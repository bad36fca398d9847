//! The write path: state, event and audit row commit together; the audit chain shows tampering.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db};
use onewindow_store::{Actor, Zone};

async fn a_rolled_back_change_leaves_no_trace(db: Db) {
    let app = spawn_app(db).await;
    let before = app.store.verify_audit().await.unwrap().rows;
    let mut rx = app.store.subscribe();
    {
        let mut tx = app.store.begin(&Actor::system()).await.unwrap();
        tx.save_zone(&Zone { code: "ghost".into(), name: "幽灵".into(), name_en: String::new() }).await.unwrap();
        // Dropped without commit.
    }
    assert!(app.store.zones().await.unwrap().iter().all(|z| z.code != "ghost"));
    assert_eq!(app.store.verify_audit().await.unwrap().rows, before);
    assert!(rx.try_recv().is_err(), "nothing is announced before commit");

    let mut tx = app.store.begin(&Actor::system()).await.unwrap();
    tx.save_zone(&Zone { code: "real".into(), name: "真实".into(), name_en: String::new() }).await.unwrap();
    let events = tx.commit().await.unwrap();
    assert_eq!(events.len(), 1);
    let announced = rx.recv().await.unwrap();
    assert_eq!(announced.seq, events[0].seq);
    assert_eq!(announced.kind, "zone.saved");
    let after = app.store.events_after(events[0].seq - 1, 10).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].subject, "real");
    // A transaction that records nothing is refused.
    let tx = app.store.begin(&Actor::system()).await.unwrap();
    assert!(tx.commit().await.is_err());
}

async fn audit_verify_names_the_edited_row(db: Db) {
    let app = spawn_app(db).await;
    let report = app.store.verify_audit().await.unwrap();
    assert!(report.rows > 200, "the demo load is audited row by row");
    assert_eq!(report.first_broken, None);
    // Edit one row by hand, as an intruder with database access would.
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", app.dir.join("onewindow.db").display()),
        Db::Postgres => app.store_url(),
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit SET detail = '{\"name\":\"篡改\"}' WHERE seq = 57").execute(&pool).await.unwrap();
    let report = app.store.verify_audit().await.unwrap();
    assert_eq!(report.first_broken, Some(57));
    pool.close().await;
}

/// Several instances starting at once on one database: migrations take a lock, nothing races.
async fn instances_start_together(db: Db) {
    let (first, dir, url) = crate::helpers::fresh_store(db).await;
    first.close().await;
    // A brand-new database for the race: drop what fresh_store migrated by using a new one.
    let url = match db {
        Db::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("race.db").display()),
        Db::Postgres => {
            let base = crate::helpers::postgres_url().unwrap();
            let name = format!("ow_test_race_{}", std::process::id());
            let mut admin = <sqlx::postgres::PgConnection as sqlx::Connection>::connect(&base).await.unwrap();
            let _ = sqlx::Executor::execute(&mut admin, format!("DROP DATABASE IF EXISTS {name}").as_str()).await;
            sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str()).await.unwrap();
            let _ = url;
            format!("{}/{name}", base.rsplit_once('/').unwrap().0)
        }
    };
    let keys = onewindow_store::vault::KeyRing::generate();
    let opts = onewindow_store::StoreOptions { url, max_connections: 4, keys };
    // Several instances share a PostgreSQL database; a SQLite file belongs to one instance, so there
    // the three open one after another.
    let (a, b, c) = match db {
        Db::Postgres => {
            let (a, b, c) = tokio::join!(
                onewindow_store::Store::open(&opts),
                onewindow_store::Store::open(&opts),
                onewindow_store::Store::open(&opts)
            );
            (a.unwrap(), b.unwrap(), c.unwrap())
        }
        Db::Sqlite => (
            onewindow_store::Store::open(&opts).await.unwrap(),
            onewindow_store::Store::open(&opts).await.unwrap(),
            onewindow_store::Store::open(&opts).await.unwrap(),
        ),
    };
    // All three see one schema, and the built-in flows were stored once per version.
    assert_eq!(a.flows().await.unwrap().len(), 4);
    assert!(b.flows().await.unwrap().iter().all(|(_, v, _)| *v == 1));
    assert!(c.is_empty().await.unwrap());
    for s in [a, b, c] {
        s.close().await;
    }
}

fn zone(code: &str) -> Zone {
    Zone { code: code.into(), name: format!("区{code}"), name_en: String::new() }
}

async fn zone_codes(app: &crate::helpers::TestApp, prefix: &str) -> std::collections::BTreeSet<String> {
    app.store.zones().await.unwrap().into_iter().map(|z| z.code).filter(|c| c.starts_with(prefix)).collect()
}

/// Group commit: writers queued together share one commit; one that fails (even with a database error,
/// which on PostgreSQL aborts the whole transaction) or is dropped takes back only its own changes; each
/// committed change is announced once, in commit order; the audit chain stays linear; no commit takes
/// more writers than the cap.
async fn writers_share_commits_and_failures_stay_their_own(db: Db) {
    let app = spawn_app(db).await;
    let audit_before = app.store.verify_audit().await.unwrap().rows;
    let stats_before = app.store.group_commit_stats().await;
    let mut rx = app.store.subscribe();
    let n = 200;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (store, start) = (app.store.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let mut tx = store.begin(&Actor::system()).await.unwrap();
            tx.save_zone(&zone(&format!("gc{i:03}"))).await.unwrap();
            match i % 4 {
                // Dropped without commit.
                0 => false,
                // A statement the database refuses, after a change of its own.
                1 => {
                    let r = sqlx::query("INSERT INTO zones (code, name, name_en) VALUES (NULL, NULL, NULL)")
                        .execute(tx.conn())
                        .await;
                    assert!(r.is_err());
                    false
                }
                _ => {
                    tx.commit().await.unwrap();
                    true
                }
            }
        }));
    }
    let mut expected = std::collections::BTreeSet::new();
    for (i, t) in tasks.into_iter().enumerate() {
        if t.await.unwrap() {
            expected.insert(format!("gc{i:03}"));
        }
    }
    assert_eq!(zone_codes(&app, "gc").await, expected, "exactly the committed writers' changes are there");
    let report = app.store.verify_audit().await.unwrap();
    assert_eq!(report.first_broken, None);
    assert_eq!(report.rows, audit_before + expected.len() as i64);
    let stats = app.store.group_commit_stats().await;
    let (commits, transactions) =
        (stats.commits - stats_before.commits, stats.transactions - stats_before.transactions);
    assert_eq!(transactions, expected.len() as u64);
    assert!(commits * 2 <= transactions, "{transactions} writers queued together took {commits} commits");
    // 100 writers were queued at once: more than one commit may take.
    assert!(commits >= 2 && stats.largest as usize <= onewindow_store::MAX_WRITERS_PER_COMMIT, "{stats:?}");
    let mut seqs = Vec::new();
    while seqs.len() < expected.len() {
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        assert!(expected.contains(&e.subject), "only committed changes are announced: {}", e.subject);
        seqs.push(e.seq);
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "announced once each, in commit order");
    assert!(rx.try_recv().is_err());
}

/// A request dropped at any point of its write (a client hanging up) leaves the store consistent and
/// never blocks the next writer: its change is all there (with its event and audit row) or not at all.
async fn a_writer_cancelled_anywhere_blocks_nobody(db: Db) {
    let app = spawn_app(db).await;
    for i in 0..40u64 {
        let store = app.store.clone();
        let write = async move {
            let mut tx = store.begin(&Actor::system()).await?;
            tx.save_zone(&zone(&format!("cx{i:02}"))).await?;
            tx.commit().await
        };
        // Cut short after 0, 50, 100 … µs: before, during and after the commit.
        let _ = tokio::time::timeout(std::time::Duration::from_micros(i * 50), write).await;
        let mut tx = tokio::time::timeout(std::time::Duration::from_secs(10), app.store.begin(&Actor::system()))
            .await
            .expect("the next writer is not blocked")
            .unwrap();
        tx.save_zone(&zone(&format!("ok{i:02}"))).await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), tx.commit()).await.unwrap().unwrap();
    }
    assert_eq!(zone_codes(&app, "ok").await.len(), 40);
    let kept = zone_codes(&app, "cx").await;
    let events = app.store.events_after(0, 100_000).await.unwrap();
    for i in 0..40 {
        let code = format!("cx{i:02}");
        let announced = events.iter().any(|e| e.kind == "zone.saved" && e.subject == code);
        assert_eq!(kept.contains(&code), announced, "{code}: the zone and its event commit together");
    }
    assert_eq!(app.store.verify_audit().await.unwrap().first_broken, None);
}

backend_tests!(
    a_rolled_back_change_leaves_no_trace,
    audit_verify_names_the_edited_row,
    instances_start_together,
    writers_share_commits_and_failures_stay_their_own,
    a_writer_cancelled_anywhere_blocks_nobody
);
