//! The lobby pages (kiosk, guide desk, window console, hall display, ticket page) in real headless
//! Chromium: `tests/browser/lobby.mjs` drives the whole journey from taking a number to the call on the
//! display, its voice and its SMS; `tests/browser/a11y-lobby.mjs` checks accessibility (axe), touch
//! targets and the kiosk at 200 % zoom. Each runs against a fresh app (the demo county, hall 330822).

use crate::backend_tests;
use crate::browser::run_script;
use crate::helpers::{spawn_app, Db};

async fn lobby_pages(db: Db) {
    let app = spawn_app(db).await;
    run_script(&app, "lobby").await;
}

async fn lobby_accessibility(db: Db) {
    let app = spawn_app(db).await;
    run_script(&app, "a11y-lobby").await;
}

backend_tests!(lobby_pages, lobby_accessibility);
