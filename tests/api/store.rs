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

backend_tests!(a_rolled_back_change_leaves_no_trace, audit_verify_names_the_edited_row);
