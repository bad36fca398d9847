//! Reports.

use crate::error::{ApiResult, Json, Query};
use crate::AppState;
use axum::extract::State;
use onewindow_core::place::PlaceCode;
use onewindow_store::Coverage;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CoverageQuery {
    /// Division code; the installation's county when absent.
    pub place: Option<String>,
}

/// Zero-trip coverage of the catalogue: overall, by department, by zone.
#[utoipa::path(get, path = "/api/v1/stats/coverage", tag = "stats", params(CoverageQuery), responses((status = 200)))]
pub async fn coverage(State(s): State<AppState>, Query(q): Query<CoverageQuery>) -> ApiResult<Json<Coverage>> {
    let place = match q.place.as_deref() {
        Some(p) => PlaceCode::parse(p)?,
        None => s.default_place.clone(),
    };
    Ok(Json(s.store.coverage(&place).await?))
}
