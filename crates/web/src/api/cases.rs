//! Cases: acceptance at any window, the back office's work queues and actions, unified delivery,
//! trips, refusals with the one-time notice, and public tracking.

use super::prefer::{self, ReturnMinimal};
use crate::auth::CurrentStaff;
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use onewindow_core::ids::{IdNumber, PhoneNumber};
use onewindow_core::place::PlaceCode;
use onewindow_core::{FieldError, Invalid};
use onewindow_store::{ActionInput, CaseActor, CaseView, NewCase, Role, TripReport, WorkView};
use serde::Deserialize;
use serde_json::{json, Value};

/// The member as a case actor: role, place and department code.
pub fn case_actor(me: &CurrentStaff) -> ApiResult<CaseActor> {
    let staff = me.staff();
    Ok(CaseActor {
        actor: staff.actor(),
        role: staff.role.code().to_string(),
        place: me.place()?,
        department: staff.department_code.clone(),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    pub name: String,
    pub id_number: Option<String>,
    pub phone: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterialStatus {
    pub name: String,
    /// received, missing or verified.
    pub status: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    /// Item code.
    pub item: String,
    pub applicant: Applicant,
    /// window (default for acceptors), village (default for village clerks), online or api.
    pub channel: Option<String>,
    #[serde(default)]
    pub materials: Vec<MaterialStatus>,
    /// Accept with non-key materials missing (容缺受理).
    #[serde(default)]
    pub tolerant: bool,
    /// Working days to supply what is missing (default 5).
    pub supplement_days: Option<u32>,
    /// The window serving the citizen's ticket: the case links to that ticket.
    pub window: Option<String>,
    /// Where the case is accepted; the member's own place by default.
    pub place: Option<String>,
}

/// Accept a case at a window or a village centre.
/// With `Prefer: return=minimal` the answer is only what was written (`CaseOutcome`).
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = CaseRequest,
    params(("Prefer" = Option<String>, Header, description = "return=minimal: answer only what was written: {id, number, action, state, due_on, trips, closed_at}")),
    responses((status = 201, description = "the case, or with Prefer: return=minimal only what was written"), (status = 403), (status = 409), (status = 422, description = "a key material is missing, or input is invalid")))]
pub async fn accept(
    State(s): State<AppState>,
    me: CurrentStaff,
    ReturnMinimal(brief): ReturnMinimal,
    Json(r): Json<CaseRequest>,
) -> ApiResult<Response> {
    me.require(&[Role::Acceptor, Role::VillageClerk])?;
    let by = case_actor(&me)?;
    let mut errs = Invalid::default();
    let id_number = r
        .applicant
        .id_number
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| IdNumber::parse(v).map_err(|e| errs.push(e.at("applicant.id_number"))).ok());
    let phone = r
        .applicant
        .phone
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| PhoneNumber::parse(v).map_err(|e| errs.push(e.at("applicant.phone"))).ok());
    let place = match r.place.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(p) => PlaceCode::parse(p).map_err(|e| errs.push(e.at("place"))).ok(),
        None => Some(by.place.clone()),
    };
    errs.clone().into_result(())?;
    let place = place.ok_or(ApiError::Invalid(errs))?;
    me.require_within(&place)?;
    let channel = r.channel.unwrap_or_else(|| {
        if me.staff().role == Role::VillageClerk {
            "village".into()
        } else {
            "window".into()
        }
    });
    let ticket_id = match r.window.as_deref().filter(|w| !w.trim().is_empty()) {
        Some(w) => {
            let view = s.store.window_view(&me.county()?, w).await?;
            match view.ticket {
                Some(t) if t.status == "serving" => Some(t.id),
                _ => {
                    return Err(ApiError::Conflict {
                        field: Some("window".into()),
                        zh: format!("窗口 {w} 当前没有正在办理的号"),
                        en: format!("window {w} is serving no ticket now"),
                    })
                }
            }
        }
        None => None,
    };
    let n = NewCase {
        item: r.item.trim().to_string(),
        applicant_name: r.applicant.name,
        applicant_id_number: id_number,
        applicant_phone: phone,
        channel,
        materials: r.materials.into_iter().map(|m| (m.name, m.status)).collect(),
        tolerant: r.tolerant,
        supplement_days: r.supplement_days.unwrap_or(5).clamp(1, 60),
        ticket_id,
        place,
    };
    Ok(if brief {
        prefer::minimal((StatusCode::CREATED, Json(s.store.accept_case_briefly(&by, &n, None).await?)))
    } else {
        prefer::whole((StatusCode::CREATED, Json(s.store.accept_case(&by, &n, None).await?)))
    })
}

/// A case with its timeline and the actions the caller may take now.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = i64, Path)), responses((status = 200), (status = 404)))]
pub async fn get(State(s): State<AppState>, me: CurrentStaff, Path(id): Path<i64>) -> ApiResult<Json<CaseView>> {
    let by = case_actor(&me)?;
    Ok(Json(s.store.case_for(id, Some(&by)).await?))
}

/// A case by its number (e.g. from a receipt).
#[utoipa::path(get, path = "/api/v1/cases/by-number/{number}", tag = "cases", params(("number" = String, Path)), responses((status = 200), (status = 404)))]
pub async fn by_number(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(number): Path<String>,
) -> ApiResult<Json<CaseView>> {
    let by = case_actor(&me)?;
    Ok(Json(s.store.case_by_number(&number, Some(&by)).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// claim, approve, reject, return, supplement, forward, supply, collect, ship, deliver, download, … (see the case's `actions`).
    pub action: String,
    pub comment: Option<String>,
    /// forward: {department}; supply: {material}; ship: {address, carrier, tracking}; collect: {pickup_code}.
    pub data: Option<Value>,
}

/// Take an action on a case. 409 names the actions allowed now; 403 when the flow says it is not yours.
/// With `Prefer: return=minimal` the answer is only what the action did (`CaseOutcome`).
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions", tag = "cases", request_body = ActionRequest,
    params(("id" = i64, Path), ("Prefer" = Option<String>, Header, description = "return=minimal: answer only what was written: {id, number, action, state, due_on, trips, closed_at}")),
    responses((status = 200, description = "the case, or with Prefer: return=minimal only what the action did"), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn act(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    ReturnMinimal(brief): ReturnMinimal,
    Json(r): Json<ActionRequest>,
) -> ApiResult<Response> {
    let by = case_actor(&me)?;
    let data = r.data.unwrap_or(json!({}));
    if !data.is_object() {
        return Err(FieldError::new("data", "data 应为对象", "data must be an object").into());
    }
    let input = ActionInput { action: r.action.trim().to_string(), comment: r.comment.unwrap_or_default(), data };
    Ok(if brief {
        prefer::minimal(Json(s.store.act_on_case_briefly(id, &by, &input, None).await?))
    } else {
        prefer::whole(Json(s.store.act_on_case(id, &by, &input, None).await?))
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TripRequest {
    /// Required from the second trip on.
    #[serde(default)]
    pub reason: String,
}

/// Record a physical visit of the citizen by hand.
#[utoipa::path(post, path = "/api/v1/cases/{id}/trips", tag = "cases", params(("id" = i64, Path)), request_body = TripRequest, responses((status = 200), (status = 422)))]
pub async fn trip(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Json(r): Json<TripRequest>,
) -> ApiResult<Json<CaseView>> {
    me.require(&[Role::Acceptor, Role::VillageClerk, Role::Approver, Role::Guide])?;
    let by = case_actor(&me)?;
    Ok(Json(s.store.record_trip(id, &by, &r.reason, None).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct WorkParams {
    /// all (default), new, mine, due_soon, overdue.
    pub view: Option<String>,
}

/// The caller's work queue.
#[utoipa::path(get, path = "/api/v1/worklist", tag = "cases", params(WorkParams), responses((status = 200), (status = 400)))]
pub async fn worklist(
    State(s): State<AppState>,
    me: CurrentStaff,
    Query(p): Query<WorkParams>,
) -> ApiResult<Json<Vec<CaseView>>> {
    let view = WorkView::parse(p.view.as_deref().unwrap_or("all")).ok_or_else(|| {
        ApiError::bad(
            Some("view"),
            "view 应为 all、new、mine、due_soon 或 overdue",
            "view must be all, new, mine, due_soon or overdue",
        )
    })?;
    let by = case_actor(&me)?;
    Ok(Json(s.store.worklist(&by, view).await?))
}

/// Overdue open cases of the caller's jurisdiction (leaders).
#[utoipa::path(get, path = "/api/v1/cases/overdue", tag = "cases", responses((status = 200), (status = 403)))]
pub async fn overdue(State(s): State<AppState>, me: CurrentStaff) -> ApiResult<Json<Vec<CaseView>>> {
    me.require(&[Role::Leader, Role::Admin])?;
    Ok(Json(s.store.overdue_cases(&me.place()?).await?))
}

/// Public tracking by the link on the receipt: state, due date and timeline, personal data masked.
#[utoipa::path(get, path = "/api/v1/track/{token}", tag = "cases", params(("token" = String, Path)), responses((status = 200), (status = 404)))]
pub async fn track(State(s): State<AppState>, Path(token): Path<String>) -> ApiResult<Json<Value>> {
    if token.len() > 100 {
        return Err(ApiError::not_found("case"));
    }
    let c = s.store.case_by_token(&token).await?;
    Ok(Json(json!({
        "number": c.number, "item_name": c.item_name, "state": c.state, "state_name": c.state_name,
        "department_name": c.department_name, "accepted_on": c.accepted_on, "due_on": c.due_on, "paused": c.paused,
        "trips": c.trips, "materials": c.materials, "supplement_due_on": c.supplement_due_on, "delivery": c.delivery,
        "timeline": c.timeline.iter().map(|t| json!({"action": t.action_name, "to_state": t.to_state, "at": t.at})).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusalRequest {
    pub item: String,
    #[serde(default)]
    pub applicant_name: String,
    pub reason: String,
    /// The materials still needed.
    #[serde(default)]
    pub missing: Vec<String>,
}

/// Refuse at the window and print the one-time notice (一次性告知) of everything still needed.
#[utoipa::path(post, path = "/api/v1/refusals", tag = "cases", request_body = RefusalRequest, responses((status = 201), (status = 422)))]
pub async fn refuse(
    State(s): State<AppState>,
    me: CurrentStaff,
    Json(r): Json<RefusalRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    me.require(&[Role::Acceptor, Role::VillageClerk, Role::Consultant])?;
    let by = case_actor(&me)?;
    let id = s.store.record_refusal(&by, &r.item, &r.applicant_name, &r.reason, &r.missing).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "notice_url": format!("/refusals/{id}")}))))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PlaceParams {
    pub place: Option<String>,
}

/// Trips per case, by item and department (leaders).
#[utoipa::path(get, path = "/api/v1/stats/trips", tag = "stats", params(PlaceParams), responses((status = 200), (status = 403)))]
pub async fn trips(
    State(s): State<AppState>,
    me: CurrentStaff,
    Query(p): Query<PlaceParams>,
) -> ApiResult<Json<TripReport>> {
    me.require(&[Role::Leader, Role::Admin])?;
    let place = match p.place.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => PlaceCode::parse(p)?,
        None => me.place()?,
    };
    me.require_within(&place)?;
    Ok(Json(s.store.trip_report(&place).await?))
}

/// The flows (newest versions).
#[utoipa::path(get, path = "/api/v1/flows", tag = "cases", responses((status = 200)))]
pub async fn flows(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let list = s.store.flows().await?;
    Ok(Json(json!(list
        .into_iter()
        .map(|(code, version, name)| json!({"code": code, "version": version, "name": name}))
        .collect::<Vec<_>>())))
}

/// One flow version's definition.
#[utoipa::path(get, path = "/api/v1/flows/{code}/{version}", tag = "cases", params(("code" = String, Path), ("version" = i64, Path)), responses((status = 200), (status = 404)))]
pub async fn flow(
    State(s): State<AppState>,
    Path((code, version)): Path<(String, i64)>,
) -> ApiResult<Json<onewindow_core::flow::Flow>> {
    Ok(Json((*s.store.flow(&code, version).await?).clone()))
}

/// Load a flow definition (TOML or JSON text), checked, as a new version (admin).
#[utoipa::path(post, path = "/api/v1/flows", tag = "cases", request_body(content = String, content_type = "text/plain"),
    responses((status = 201), (status = 403), (status = 422, description = "every problem of the definition")))]
pub async fn load_flow(
    State(s): State<AppState>,
    crate::auth::Admin(me): crate::auth::Admin,
    body: String,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let flow = onewindow_core::flow::Flow::parse(&body)?;
    let version = s.store.save_flow(&me.staff().actor(), &flow).await?;
    Ok((StatusCode::CREATED, Json(json!({"code": flow.code, "version": version}))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemFlowRequest {
    pub flow: String,
}

/// Choose the flow an item's new cases use (admin).
#[utoipa::path(put, path = "/api/v1/items/{code}/flow", tag = "cases", params(("code" = String, Path)), request_body = ItemFlowRequest, responses((status = 204), (status = 404)))]
pub async fn set_item_flow(
    State(s): State<AppState>,
    crate::auth::Admin(me): crate::auth::Admin,
    Path(code): Path<String>,
    Json(r): Json<ItemFlowRequest>,
) -> ApiResult<StatusCode> {
    let item = s.store.item(&code).await?;
    me.require_within(&PlaceCode::parse(&item.place)?)?;
    s.store.set_item_flow(&me.staff().actor(), &code, &r.flow).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmaskRequest {
    /// Why the full data is needed; recorded.
    pub purpose: String,
}

/// The applicant's full name, ID number and phone, for a stated purpose (recorded in the audit trail).
#[utoipa::path(post, path = "/api/v1/cases/{id}/unmask", tag = "cases", params(("id" = i64, Path)), request_body = UnmaskRequest,
    responses((status = 200), (status = 404), (status = 422)))]
pub async fn unmask(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Json(r): Json<UnmaskRequest>,
) -> ApiResult<Json<Value>> {
    me.require(&[Role::Acceptor, Role::Approver, Role::VillageClerk])?;
    let by = case_actor(&me)?;
    Ok(Json(s.store.unmask_applicant(id, &by, &r.purpose).await?))
}
