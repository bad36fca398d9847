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

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LobbyQuery {
    /// The hall (county code); the leader's own county when absent.
    pub place: Option<String>,
    /// Local day, YYYY-MM-DD; today when absent.
    pub day: Option<String>,
}

/// Parses the report's place and day for a leader or admin.
pub fn lobby_scope(me: &crate::auth::CurrentStaff, q: &LobbyQuery) -> ApiResult<(PlaceCode, String)> {
    me.require(&[onewindow_store::Role::Leader, onewindow_store::Role::Admin])?;
    let place = match q.place.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => PlaceCode::parse(p)?,
        None => me.county()?,
    };
    me.require_within(&place)?;
    let day = match q.day.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| {
                onewindow_core::FieldError::new("day", "日期格式应为 YYYY-MM-DD", "the day must be YYYY-MM-DD")
            })?
            .to_string(),
        None => onewindow_core::lobby::local_day(chrono::Utc::now().timestamp_millis()).to_string(),
    };
    Ok((place, day))
}

/// The lobby report of a day: by queue, window, staff and department, with the load balance (leader).
#[utoipa::path(get, path = "/api/v1/stats/lobby", tag = "stats", params(LobbyQuery), responses((status = 200), (status = 403)))]
pub async fn lobby(
    State(s): State<AppState>,
    me: crate::auth::CurrentStaff,
    Query(q): Query<LobbyQuery>,
) -> ApiResult<Json<onewindow_store::LobbyReport>> {
    let (place, day) = lobby_scope(&me, &q)?;
    Ok(Json(s.store.lobby_report(&place, &day).await?))
}

/// The leaders' dashboard: the lobby now, today's and 30 days' figures, zero-trip shares, trips per
/// case, time-limit compliance and overdue cases by department, today's department load balance,
/// activity per township.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "stats", params(CoverageQuery), responses((status = 200), (status = 403)))]
pub async fn dashboard(
    State(s): State<AppState>,
    me: crate::auth::CurrentStaff,
    Query(q): Query<CoverageQuery>,
) -> ApiResult<Json<onewindow_store::Dashboard>> {
    let county = super::dashboard::scope(&me, q.place.as_deref())?;
    Ok(Json(s.store.dashboard(&county, crate::dashboard_hub::today()).await?))
}
