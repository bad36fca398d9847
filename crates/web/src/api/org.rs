//! Places, zones, departments, windows and staff. Reading the organisation is public (citizens pick a
//! department or window); changing it is for admins, within their own jurisdiction.

use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use onewindow_core::place::PlaceCode;
use onewindow_store::{Department, NewStaff, Place, Role, Staff, Window, Zone};
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct Within {
    /// Division code; the installation's county when absent.
    pub place: Option<String>,
}

fn within(s: &AppState, w: &Within) -> ApiResult<PlaceCode> {
    match w.place.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Ok(PlaceCode::parse(p)?),
        None => Ok(s.default_place.clone()),
    }
}

/// Places at or under a place (default: the installation's county).
#[utoipa::path(get, path = "/api/v1/places", tag = "organisation", params(Within), responses((status = 200)))]
pub async fn places(State(s): State<AppState>, Query(w): Query<Within>) -> ApiResult<Json<Vec<Place>>> {
    Ok(Json(s.store.places_within(&within(&s, &w)?).await?))
}

/// Add or rename a place (admin, within their jurisdiction).
#[utoipa::path(post, path = "/api/v1/places", tag = "organisation", request_body = Place, responses((status = 200), (status = 403), (status = 422)))]
pub async fn save_place(State(s): State<AppState>, Admin(me): Admin, Json(p): Json<Place>) -> ApiResult<Json<Place>> {
    me.require_within(&PlaceCode::parse(&p.code)?)?;
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    tx.save_place(&p).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// The zones of the hall.
#[utoipa::path(get, path = "/api/v1/zones", tag = "organisation", responses((status = 200)))]
pub async fn zones(State(s): State<AppState>) -> ApiResult<Json<Vec<Zone>>> {
    Ok(Json(s.store.zones().await?))
}

/// Add or rename a zone (admin). Zones are shared by every county of the installation.
#[utoipa::path(post, path = "/api/v1/zones", tag = "organisation", request_body = Zone, responses((status = 200), (status = 403), (status = 422)))]
pub async fn save_zone(State(s): State<AppState>, Admin(me): Admin, Json(z): Json<Zone>) -> ApiResult<Json<Zone>> {
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    tx.save_zone(&z).await?;
    tx.commit().await?;
    Ok(Json(z))
}

/// Departments of a county.
#[utoipa::path(get, path = "/api/v1/departments", tag = "organisation", params(Within), responses((status = 200)))]
pub async fn departments(State(s): State<AppState>, Query(w): Query<Within>) -> ApiResult<Json<Vec<Department>>> {
    Ok(Json(s.store.departments(Some(&within(&s, &w)?)).await?))
}

/// Add or rename a department (admin). `place` defaults to the admin's county.
#[utoipa::path(post, path = "/api/v1/departments", tag = "organisation", request_body = Department, responses((status = 200), (status = 403), (status = 422)))]
pub async fn save_department(
    State(s): State<AppState>,
    Admin(me): Admin,
    Json(mut d): Json<Department>,
) -> ApiResult<Json<Department>> {
    if d.place.trim().is_empty() {
        d.place = me.county()?.to_string();
    }
    me.require_within(&PlaceCode::parse(&d.place).map_err(|e| e.at("place"))?)?;
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    d.id = tx.save_department(&d).await?;
    tx.commit().await?;
    Ok(Json(d))
}

/// Windows of a hall.
#[utoipa::path(get, path = "/api/v1/windows", tag = "organisation", params(Within), responses((status = 200)))]
pub async fn windows(State(s): State<AppState>, Query(w): Query<Within>) -> ApiResult<Json<Vec<Window>>> {
    Ok(Json(s.store.windows(Some(&within(&s, &w)?)).await?))
}

/// Add or change a window (admin).
#[utoipa::path(post, path = "/api/v1/windows", tag = "organisation", request_body = Window, responses((status = 200), (status = 403), (status = 422)))]
pub async fn save_window(
    State(s): State<AppState>,
    Admin(me): Admin,
    Json(mut w): Json<Window>,
) -> ApiResult<Json<Window>> {
    if w.place.trim().is_empty() {
        w.place = me.county()?.to_string();
    }
    me.require_within(&PlaceCode::parse(&w.place).map_err(|e| e.at("place"))?)?;
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    w.id = tx.save_window(&w).await?;
    tx.commit().await?;
    Ok(Json(w))
}

/// Staff within the admin's jurisdiction.
#[utoipa::path(get, path = "/api/v1/staff", tag = "organisation", responses((status = 200), (status = 401), (status = 403)))]
pub async fn staff_list(State(s): State<AppState>, Admin(me): Admin) -> ApiResult<Json<Vec<Staff>>> {
    Ok(Json(s.store.staff_list(Some(&me.place()?)).await?))
}

/// Create a staff account (admin).
#[utoipa::path(post, path = "/api/v1/staff", tag = "organisation", request_body = NewStaff,
    responses((status = 201), (status = 403), (status = 409), (status = 422)))]
pub async fn create_staff(
    State(s): State<AppState>,
    Admin(me): Admin,
    Json(n): Json<NewStaff>,
) -> ApiResult<(StatusCode, Json<Staff>)> {
    me.require_within(&PlaceCode::parse(&n.place).map_err(|e| e.at("place"))?)?;
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    let id = tx.create_staff(&n).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(s.store.staff(id).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffUpdate {
    pub role: String,
    pub department_id: Option<i64>,
    pub place: String,
    pub active: bool,
    pub password: Option<String>,
}

/// Change a staff account (admin): role, department, place, active; a new password if given.
#[utoipa::path(put, path = "/api/v1/staff/{id}", tag = "organisation", params(("id" = i64, Path)), request_body = StaffUpdate,
    responses((status = 200), (status = 403), (status = 404), (status = 422)))]
pub async fn update_staff(
    State(s): State<AppState>,
    Admin(me): Admin,
    Path(id): Path<i64>,
    Json(u): Json<StaffUpdate>,
) -> ApiResult<Json<Staff>> {
    let target = s.store.staff(id).await?;
    me.require_within(&target.place_code()?)?;
    let place = PlaceCode::parse(&u.place).map_err(|e| e.at("place"))?;
    me.require_within(&place)?;
    let role = Role::parse(&u.role)?;
    if id == me.staff().id && (!u.active || role != Role::Admin) {
        return Err(ApiError::Conflict {
            field: Some("active".into()),
            zh: "不能停用自己或取消自己的管理员角色".into(),
            en: "you cannot deactivate yourself or drop your own admin role".into(),
        });
    }
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    tx.update_staff(id, role, u.department_id, &place, u.active, u.password.filter(|p| !p.is_empty())).await?;
    tx.commit().await?;
    Ok(Json(s.store.staff(id).await?))
}
