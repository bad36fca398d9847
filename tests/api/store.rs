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

backend_tests!(a_rolled_back_change_leaves_no_trace, audit_verify_names_the_edited_row, instances_start_together);
