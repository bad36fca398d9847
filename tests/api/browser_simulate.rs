//! The staffing simulation page in Chromium, with axe.

use crate::backend_tests;
use crate::browser::run_script;
use crate::helpers::{spawn_app, Db};

async fn simulate_page(db: Db) {
    let app = spawn_app(db).await;
    run_script(&app, "simulate").await;
}

backend_tests!(simulate_page);
