//! Housekeeping: sign-in codes and sessions past their retention are purged through the write path (one
//! audited `housekeeping.purged` event with the counts); younger ones stay, and so do the codes the
//! rate limits count.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db};
use onewindow_store::{now_ms, Purged, CODE_RETENTION_MS, SESSION_RETENTION_MS};
use reqwest::StatusCode;
use serde_json::json;

const MINUTE_MS: i64 = 60 * 1000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;

async fn count(pool: &sqlx::AnyPool, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql).bind(bind.to_string()).fetch_one(pool).await.unwrap()
}

async fn expired_codes_and_sessions_are_purged(db: Db) {
    assert_eq!((CODE_RETENTION_MS, SESSION_RETENTION_MS), (DAY_MS, 30 * DAY_MS));
    let app = spawn_app(db).await;
    let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
    let phones = ["13900000001", "13900000002", "13900000003", "13900000004"];
    let hashes: Vec<String> = phones.iter().map(|p| app.store.vault().lookup_hash("phone", p)).collect();
    // Four citizens sign in (a code and a session each); staff sign in three times.
    let mut citizens = Vec::new();
    for p in phones {
        citizens.push(crate::portal::citizen(&app, p).await);
    }
    let mut staff = Vec::new();
    for _ in 0..3 {
        staff.push(app.login("acceptor").await);
    }
    let staff_ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM sessions ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(staff_ids.len(), 3);

    // Age them. Sign-in codes (valid 5 minutes): expired 25 h ago (purged), 23 h ago (kept), 50 minutes
    // ago (kept: the hourly rate limits count it), just now (kept).
    let now = now_ms();
    for (hash, age) in hashes.iter().zip([25 * 60 + 5, 23 * 60 + 5, 50, 0]) {
        sqlx::query(
            "UPDATE citizen_codes SET created_at = created_at - $1, expires_at = expires_at - $1 WHERE phone_hash = $2",
        )
        .bind(age * MINUTE_MS)
        .bind(hash.clone())
        .execute(&pool)
        .await
        .unwrap();
    }
    // Citizen sessions: expired 31 days ago (purged), revoked 31 days ago (purged), revoked 29 days ago
    // (kept), live (kept).
    let citizen_session = |set: &'static str, at: i64, hash: &str| {
        let hash = hash.to_string();
        let pool = pool.clone();
        async move {
            sqlx::query(&format!("UPDATE citizen_sessions SET {set} = $1 WHERE phone_hash = $2"))
                .bind(at)
                .bind(hash)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    citizen_session("expires_at", now - 31 * DAY_MS, &hashes[0]).await;
    citizen_session("revoked_at", now - 31 * DAY_MS, &hashes[1]).await;
    citizen_session("revoked_at", now - 29 * DAY_MS, &hashes[2]).await;
    // Staff sessions: expired 31 days ago (purged), revoked and expired 29 days ago (kept), live (kept).
    for (id, set) in staff_ids.iter().zip(["expires_at = $1", "expires_at = $1 + 2 * 86400000, revoked = 1"]) {
        sqlx::query(&format!("UPDATE sessions SET {set} WHERE id = $2"))
            .bind(now - 31 * DAY_MS)
            .bind(*id)
            .execute(&pool)
            .await
            .unwrap();
    }

    let purged = app.store.purge_expired().await.unwrap();
    assert_eq!(purged, Purged { citizen_codes: 1, staff_sessions: 1, citizen_sessions: 2 });
    let codes = "SELECT COUNT(*) FROM citizen_codes WHERE phone_hash = $1";
    let sessions = "SELECT COUNT(*) FROM citizen_sessions WHERE phone_hash = $1";
    let mut left = Vec::new();
    for hash in &hashes {
        left.push((count(&pool, codes, hash).await, count(&pool, sessions, hash).await));
    }
    assert_eq!(left, [(0, 0), (1, 0), (1, 1), (1, 1)], "(codes, sessions) per citizen");
    let staff_left: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM sessions ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(staff_left, staff_ids[1..]);

    // The live sessions still work; the latest code still counts for the rate limit.
    let r = app.client.get(app.url("/api/v1/session")).bearer_auth(&staff[2]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.client.get(app.url("/api/v1/citizen/session")).bearer_auth(&citizens[3]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.client.post(app.url("/api/v1/citizen/code")).json(&json!({"phone": phones[3]})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "a code was just sent to this number");

    // Audited like any change: one event with the counts, by the system, in the chain.
    let events = app.store.events_after(0, 1_000_000).await.unwrap();
    let purges: Vec<_> = events.iter().filter(|e| e.kind == "housekeeping.purged").collect();
    assert_eq!(purges.len(), 1);
    let data = &purges[0].data;
    assert_eq!(
        (&data["citizen_codes"], &data["staff_sessions"], &data["citizen_sessions"]),
        (&json!(1), &json!(1), &json!(2))
    );
    let actor: String = sqlx::query_scalar("SELECT actor FROM audit WHERE action = 'housekeeping.purged'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(actor, "system");
    assert!(app.store.verify_audit().await.unwrap().first_broken.is_none());

    // Nothing more to purge: nothing is written, not even an event.
    assert_eq!(app.store.purge_expired().await.unwrap(), Purged::default());
    let events = app.store.events_after(0, 1_000_000).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "housekeeping.purged").count(), 1);
    pool.close().await;
}

backend_tests!(expired_codes_and_sessions_are_purged);
