//! The JSON API, `/api/v1`. Every route says who may call it; `ROUTE_ROLES` lists that for the
//! access-matrix test.

pub mod catalogue;
pub mod org;
pub mod session;
pub mod stats;

use crate::AppState;
use axum::routing::{get, post, put};
use axum::Router;

/// Most JSON bodies are small; catalogue imports get their own, larger limit.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;
pub const IMPORT_BODY_LIMIT: usize = 20 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/session", post(session::login).get(session::current).delete(session::logout))
        .route("/api/v1/items", get(catalogue::search).post(catalogue::create))
        .route("/api/v1/items/{code}", get(catalogue::get).put(catalogue::update))
        .route("/api/v1/items/{code}/versions/{version}", get(catalogue::version))
        .route(
            "/api/v1/catalogue/import",
            post(catalogue::import).layer(axum::extract::DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/api/v1/catalogue/export", get(catalogue::export))
        .route("/api/v1/places", get(org::places).post(org::save_place))
        .route("/api/v1/zones", get(org::zones).post(org::save_zone))
        .route("/api/v1/departments", get(org::departments).post(org::save_department))
        .route("/api/v1/windows", get(org::windows).post(org::save_window))
        .route("/api/v1/staff", get(org::staff_list).post(org::create_staff))
        .route("/api/v1/staff/{id}", put(org::update_staff))
        .route("/api/v1/stats/coverage", get(stats::coverage))
}
