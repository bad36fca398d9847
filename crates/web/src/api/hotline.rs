//! Hotline work orders (一条热线全整合): the operator records a call, dispatches it to a department with a
//! time limit, the department replies or returns it, the operator calls back and closes. A wrong
//! transition is 409 naming the allowed actions; the wrong role or department is 403.

use crate::api::cases::case_actor;
use crate::auth::CurrentStaff;
use crate::error::{ApiResult, Json, Path, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use onewindow_core::ids::PhoneNumber;
use onewindow_core::place::PlaceCode;
use onewindow_core::Invalid;
use onewindow_store::{HotlineFilter, HotlineInput, HotlineReport, HotlineView, NewHotlineOrder, Role};
use serde::Deserialize;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Caller {
    pub name: String,
    pub phone: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// consultation (咨询), complaint (投诉), suggestion (建议) or help (求助).
    pub category: String,
    /// Township or village code within the operator's county; the operator's own place by default.
    pub place: Option<String>,
    pub description: String,
    pub caller: Caller,
}

/// Record a call as a work order (hotline operators).
#[utoipa::path(post, path = "/api/v1/hotline/orders", tag = "hotline", request_body = OrderRequest,
    responses((status = 201, description = "the order"), (status = 403), (status = 422)))]
pub async fn create(
    State(s): State<AppState>,
    me: CurrentStaff,
    Json(r): Json<OrderRequest>,
) -> ApiResult<(StatusCode, Json<HotlineView>)> {
    me.require(&[Role::Consultant, Role::Admin])?;
    let by = case_actor(&me)?;
    let mut errs = Invalid::default();
    let phone = PhoneNumber::parse(r.caller.phone.trim()).map_err(|e| errs.push(e.at("caller.phone"))).ok();
    let place = match r.place.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(p) => PlaceCode::parse(p.trim()).map_err(|e| errs.push(e.at("place"))).ok(),
        None => Some(by.place.clone()),
    };
    let (Some(phone), Some(place)) = (phone, place) else {
        return Err(errs.into());
    };
    me.require_within(&place)?;
    let n = NewHotlineOrder {
        category: r.category,
        place,
        description: r.description,
        caller_name: r.caller.name,
        caller_phone: phone,
    };
    Ok((StatusCode::CREATED, Json(s.store.create_hotline_order(&by, &n, None).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// registered, dispatched, replied, called_back or closed.
    pub state: Option<String>,
    /// Department code.
    pub department: Option<String>,
    /// true: only overdue orders; false: only those not overdue.
    pub overdue: Option<bool>,
}

/// The orders the caller may see: operators and leaders all of their county, a department its own.
#[utoipa::path(get, path = "/api/v1/hotline/orders", tag = "hotline", params(ListParams), responses((status = 200)))]
pub async fn list(
    State(s): State<AppState>,
    me: CurrentStaff,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<Vec<HotlineView>>> {
    let by = case_actor(&me)?;
    let f = HotlineFilter { state: p.state, department: p.department, overdue: p.overdue };
    Ok(Json(s.store.hotline_orders(&by, &f, None).await?))
}

/// One order with its timeline and the actions the caller may take now.
#[utoipa::path(get, path = "/api/v1/hotline/orders/{id}", tag = "hotline", params(("id" = i64, Path)), responses((status = 200), (status = 404)))]
pub async fn get(State(s): State<AppState>, me: CurrentStaff, Path(id): Path<i64>) -> ApiResult<Json<HotlineView>> {
    let by = case_actor(&me)?;
    Ok(Json(s.store.hotline_order(id, &by, None).await?))
}

async fn act(
    s: &AppState,
    me: &CurrentStaff,
    id: i64,
    action: &str,
    input: HotlineInput,
) -> ApiResult<Json<HotlineView>> {
    let by = case_actor(me)?;
    Ok(Json(s.store.act_on_hotline(id, &by, action, &input, None).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    /// Department code, e.g. mzj.
    pub department: String,
    /// Working days to reply (default 5).
    pub days: Option<i64>,
}

/// Dispatch to a department with a time limit in working days (operators).
#[utoipa::path(post, path = "/api/v1/hotline/orders/{id}/dispatch", tag = "hotline", params(("id" = i64, Path)), request_body = DispatchRequest,
    responses((status = 200), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn dispatch(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Json(r): Json<DispatchRequest>,
) -> ApiResult<Json<HotlineView>> {
    act(&s, &me, id, "dispatch", HotlineInput { department: Some(r.department), days: r.days, ..Default::default() })
        .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    pub text: String,
}

/// The department's reply (its own staff).
#[utoipa::path(post, path = "/api/v1/hotline/orders/{id}/reply", tag = "hotline", params(("id" = i64, Path)), request_body = ReplyRequest,
    responses((status = 200), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn reply(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Json(r): Json<ReplyRequest>,
) -> ApiResult<Json<HotlineView>> {
    act(&s, &me, id, "reply", HotlineInput { text: r.text, ..Default::default() }).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    pub reason: String,
}

/// The department returns a wrongly dispatched order (back to registered).
#[utoipa::path(post, path = "/api/v1/hotline/orders/{id}/return", tag = "hotline", params(("id" = i64, Path)), request_body = ReturnRequest,
    responses((status = 200), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn return_order(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Json(r): Json<ReturnRequest>,
) -> ApiResult<Json<HotlineView>> {
    act(&s, &me, id, "return", HotlineInput { text: r.reason, ..Default::default() }).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackRequest {
    pub note: String,
    /// satisfied (满意), basic (基本满意) or dissatisfied (不满意).
    pub satisfaction: String,
}

/// The operator's call-back with the caller's satisfaction.
#[utoipa::path(post, path = "/api/v1/hotline/orders/{id}/callback", tag = "hotline", params(("id" = i64, Path)), request_body = CallbackRequest,
    responses((status = 200), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn callback(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Json(r): Json<CallbackRequest>,
) -> ApiResult<Json<HotlineView>> {
    act(
        &s,
        &me,
        id,
        "callback",
        HotlineInput { text: r.note, satisfaction: Some(r.satisfaction), ..Default::default() },
    )
    .await
}

/// Close a called-back order (operators).
#[utoipa::path(post, path = "/api/v1/hotline/orders/{id}/close", tag = "hotline", params(("id" = i64, Path)),
    responses((status = 200), (status = 403), (status = 404), (status = 409)))]
pub async fn close(State(s): State<AppState>, me: CurrentStaff, Path(id): Path<i64>) -> ApiResult<Json<HotlineView>> {
    act(&s, &me, id, "close", HotlineInput::default()).await
}

/// Escalate every overdue dispatched order to the leaders (housekeeping; idempotent).
#[utoipa::path(post, path = "/api/v1/hotline/escalate", tag = "hotline", responses((status = 200, description = "ids newly escalated"), (status = 403)))]
pub async fn escalate(State(s): State<AppState>, me: CurrentStaff) -> ApiResult<Json<Vec<i64>>> {
    me.require(&[Role::Consultant, Role::Leader, Role::Admin])?;
    Ok(Json(s.store.escalate_overdue_hotline(None).await?))
}

/// Orders by category, township and department: count, open, overdue, satisfaction (leaders, admin).
#[utoipa::path(get, path = "/api/v1/stats/hotline", tag = "stats", responses((status = 200), (status = 403)))]
pub async fn report(State(s): State<AppState>, me: CurrentStaff) -> ApiResult<Json<HotlineReport>> {
    me.require(&[Role::Leader, Role::Admin, Role::Consultant])?;
    let by = case_actor(&me)?;
    Ok(Json(s.store.hotline_report(&by, None).await?))
}
