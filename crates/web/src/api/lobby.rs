//! The lobby queue API: tickets for kiosks, guides and the provincial app; window actions for acceptors.

use crate::auth::{CurrentStaff, MaybeStaff};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onewindow_core::ids::PhoneNumber;
use onewindow_core::lobby::Priority;
use onewindow_core::place::PlaceCode;
use onewindow_store::{NewTicket, Placement, Queue, Role, TicketView, WindowAction, WindowView};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRequest {
    /// Queue code (`general`, `realestate`…) or prefix (`A`).
    pub queue: String,
    /// Mobile number for SMS; optional (guides issue printed tickets without one).
    pub phone: Option<String>,
    /// normal (default), elderly, disabled, pregnant, appointment — anything but normal needs a guide.
    pub priority: Option<String>,
    pub priority_reason: Option<String>,
    /// The item the citizen came for, if chosen at the kiosk.
    pub item: Option<String>,
    /// The hall (county code); the installation's county when absent.
    pub place: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TicketIssued {
    pub id: i64,
    pub number: String,
    pub ahead: usize,
    pub estimated_wait_minutes: i64,
    pub status_url: String,
    pub token: String,
    pub queue_name: String,
    pub issued_at: i64,
}

pub(crate) fn hall_of(state: &AppState, place: Option<&str>) -> ApiResult<PlaceCode> {
    match place.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Ok(PlaceCode::parse(p)?),
        None => Ok(state.default_place.clone()),
    }
}

/// Take a ticket (kiosk, guide desk, apps). A priority ticket needs a signed-in guide.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "lobby", request_body = TicketRequest,
    responses((status = 201, body = TicketIssued), (status = 403), (status = 409, description = "numbers used up"), (status = 422)))]
pub async fn issue(
    State(s): State<AppState>,
    MaybeStaff(me): MaybeStaff,
    Json(r): Json<TicketRequest>,
) -> ApiResult<Response> {
    let mut errs = onewindow_core::Invalid::default();
    let phone = match r.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => PhoneNumber::parse(p).map_err(|e| errs.push(e)).ok(),
        None => None,
    };
    let priority = match r.priority.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Priority::parse(p).map_err(|e| errs.push(e)).ok().unwrap_or(Priority::Normal),
        None => Priority::Normal,
    };
    let reason = r.priority_reason.clone().unwrap_or_default();
    if priority.is_priority() && reason.trim().is_empty() {
        errs.push(onewindow_core::FieldError::new(
            "priority_reason",
            "优先取号需填写原因",
            "a priority ticket needs a reason",
        ));
    }
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    let hall = hall_of(&s, r.place.as_deref())?;
    let (actor, issued_by) = match &me {
        Some(m) => (m.staff().actor(), if m.staff().role == Role::Guide { "guide" } else { "staff" }),
        None => (onewindow_store::Actor { staff_id: None, name: "kiosk".into() }, "kiosk"),
    };
    if priority.is_priority() {
        match &me {
            Some(m) => {
                m.require(&[Role::Guide, Role::Consultant, Role::Admin])?;
                m.require_within(&hall)?;
            }
            None => return Err(ApiError::Unauthorized),
        }
    }
    let t = s
        .store
        .issue_ticket(
            &actor,
            &NewTicket {
                place: hall,
                queue: r.queue,
                phone,
                priority,
                priority_reason: reason,
                item: r.item.filter(|i| !i.trim().is_empty()),
                issued_by: issued_by.into(),
            },
            &s.lobby,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(TicketIssued::from(t))).into_response())
}

impl From<TicketView> for TicketIssued {
    fn from(t: TicketView) -> Self {
        TicketIssued {
            id: t.id,
            number: t.number.clone(),
            ahead: t.ahead.unwrap_or(0),
            estimated_wait_minutes: t.estimated_wait_minutes.unwrap_or(0),
            status_url: format!("/t/{}", t.token),
            token: t.token,
            queue_name: t.queue_name,
            issued_at: t.issued_at,
        }
    }
}

/// A ticket's status by its unguessable token (the link in the SMS).
#[utoipa::path(get, path = "/api/v1/tickets/{token}", tag = "lobby", params(("token" = String, Path)), responses((status = 200), (status = 404)))]
pub async fn status(State(s): State<AppState>, Path(token): Path<String>) -> ApiResult<Json<TicketView>> {
    if token.len() > 100 {
        return Err(ApiError::not_found("ticket"));
    }
    Ok(Json(s.store.ticket_by_token(&token, &s.lobby).await?))
}

/// "I'm running late": move back a few places, once.
#[utoipa::path(post, path = "/api/v1/tickets/{token}/late", tag = "lobby", params(("token" = String, Path)), responses((status = 200), (status = 404), (status = 409)))]
pub async fn late(State(s): State<AppState>, Path(token): Path<String>) -> ApiResult<Json<TicketView>> {
    Ok(Json(s.store.running_late(&token, &s.lobby).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct HallParam {
    pub place: Option<String>,
}

/// Queues of a hall with their waiting counts.
#[utoipa::path(get, path = "/api/v1/queues", tag = "lobby", params(HallParam), responses((status = 200)))]
pub async fn queues(State(s): State<AppState>, Query(p): Query<HallParam>) -> ApiResult<Json<Vec<Queue>>> {
    Ok(Json(s.store.queues(&hall_of(&s, p.place.as_deref())?).await?))
}

/// Window staff act on their own county's windows.
fn window_staff(me: &CurrentStaff) -> ApiResult<PlaceCode> {
    me.require(&[Role::Acceptor, Role::Admin])?;
    me.county()
}

/// A window's console state.
#[utoipa::path(get, path = "/api/v1/windows/{window}", tag = "lobby", params(("window" = String, Path)), responses((status = 200), (status = 403), (status = 404)))]
pub async fn window(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(window): Path<String>,
) -> ApiResult<Json<WindowView>> {
    let place = window_staff(&me)?;
    Ok(Json(s.store.window_view(&place, &window).await?))
}

/// Call the next ticket by the call rule; 204 when nobody waits.
#[utoipa::path(post, path = "/api/v1/windows/{window}/call-next", tag = "lobby", params(("window" = String, Path)),
    responses((status = 200, body = Object), (status = 204), (status = 403), (status = 409, description = "the window is busy or paused")))]
pub async fn call_next(State(s): State<AppState>, me: CurrentStaff, Path(window): Path<String>) -> ApiResult<Response> {
    let place = window_staff(&me)?;
    match s.store.call_next(&me.staff().actor(), &place, &window, &s.lobby).await? {
        Some(t) => Ok(Json(t).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn act(s: AppState, me: CurrentStaff, window: String, action: WindowAction) -> ApiResult<Json<TicketView>> {
    let place = window_staff(&me)?;
    Ok(Json(s.store.window_action(&me.staff().actor(), &place, &window, action, &s.lobby).await?))
}

/// Announce the current ticket again (no state change).
#[utoipa::path(post, path = "/api/v1/windows/{window}/recall", tag = "lobby", params(("window" = String, Path)), responses((status = 200), (status = 409)))]
pub async fn recall(State(s): State<AppState>, me: CurrentStaff, Path(w): Path<String>) -> ApiResult<Json<TicketView>> {
    act(s, me, w, WindowAction::Recall).await
}

/// The citizen has arrived: service starts.
#[utoipa::path(post, path = "/api/v1/windows/{window}/start", tag = "lobby", params(("window" = String, Path)), responses((status = 200), (status = 409)))]
pub async fn start(State(s): State<AppState>, me: CurrentStaff, Path(w): Path<String>) -> ApiResult<Json<TicketView>> {
    act(s, me, w, WindowAction::Start).await
}

/// Service finished.
#[utoipa::path(post, path = "/api/v1/windows/{window}/finish", tag = "lobby", params(("window" = String, Path)), responses((status = 200), (status = 409)))]
pub async fn finish(State(s): State<AppState>, me: CurrentStaff, Path(w): Path<String>) -> ApiResult<Json<TicketView>> {
    act(s, me, w, WindowAction::Finish).await
}

/// Nobody came after the configured number of recalls.
#[utoipa::path(post, path = "/api/v1/windows/{window}/no-show", tag = "lobby", params(("window" = String, Path)), responses((status = 200), (status = 409)))]
pub async fn no_show(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(w): Path<String>,
) -> ApiResult<Json<TicketView>> {
    act(s, me, w, WindowAction::NoShow).await
}

/// Put the current ticket on hold (the citizen fetches a document); the window is free meanwhile.
#[utoipa::path(post, path = "/api/v1/windows/{window}/hold", tag = "lobby", params(("window" = String, Path)), responses((status = 200), (status = 409)))]
pub async fn hold(State(s): State<AppState>, me: CurrentStaff, Path(w): Path<String>) -> ApiResult<Json<TicketView>> {
    act(s, me, w, WindowAction::Hold).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberRequest {
    /// The ticket number, e.g. `A023`.
    pub number: String,
}

/// Resume a ticket on hold at this window.
#[utoipa::path(post, path = "/api/v1/windows/{window}/resume", tag = "lobby", params(("window" = String, Path)), request_body = NumberRequest, responses((status = 200), (status = 404), (status = 409)))]
pub async fn resume(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(w): Path<String>,
    Json(r): Json<NumberRequest>,
) -> ApiResult<Json<TicketView>> {
    let place = window_staff(&me)?;
    Ok(Json(s.store.resume_ticket(&me.staff().actor(), &place, &w, &r.number).await?))
}

/// Call one waiting ticket by number.
#[utoipa::path(post, path = "/api/v1/windows/{window}/call", tag = "lobby", params(("window" = String, Path)), request_body = NumberRequest, responses((status = 200), (status = 404), (status = 409)))]
pub async fn call(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(w): Path<String>,
    Json(r): Json<NumberRequest>,
) -> ApiResult<Json<TicketView>> {
    let place = window_staff(&me)?;
    Ok(Json(s.store.call_ticket(&me.staff().actor(), &place, &w, &r.number, &s.lobby).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// A queue code or prefix…
    pub to_queue: Option<String>,
    /// …or one window.
    pub to_window: Option<String>,
    /// first, last or original (by first arrival); default original.
    #[schema(value_type = Option<String>)]
    pub placement: Option<Placement>,
}

/// Transfer the current ticket to another queue or window; its number never changes.
#[utoipa::path(post, path = "/api/v1/windows/{window}/transfer", tag = "lobby", params(("window" = String, Path)), request_body = TransferRequest, responses((status = 200), (status = 409), (status = 422)))]
pub async fn transfer(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(w): Path<String>,
    Json(r): Json<TransferRequest>,
) -> ApiResult<Json<TicketView>> {
    let place = window_staff(&me)?;
    Ok(Json(
        s.store
            .transfer(
                &me.staff().actor(),
                &place,
                &w,
                r.to_queue.as_deref().filter(|q| !q.trim().is_empty()),
                r.to_window.as_deref().filter(|q| !q.trim().is_empty()),
                r.placement.unwrap_or(Placement::Original),
                &s.lobby,
            )
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    pub reason: String,
}

/// Pause the window (with a reason); it calls nobody until resumed.
#[utoipa::path(post, path = "/api/v1/windows/{window}/pause", tag = "lobby", params(("window" = String, Path)), request_body = PauseRequest, responses((status = 204), (status = 409), (status = 422)))]
pub async fn pause(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(w): Path<String>,
    Json(r): Json<PauseRequest>,
) -> ApiResult<StatusCode> {
    let place = window_staff(&me)?;
    s.store.pause_window(&me.staff().actor(), &place, &w, true, &r.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End a pause.
#[utoipa::path(post, path = "/api/v1/windows/{window}/unpause", tag = "lobby", params(("window" = String, Path)), responses((status = 204)))]
pub async fn unpause(State(s): State<AppState>, me: CurrentStaff, Path(w): Path<String>) -> ApiResult<StatusCode> {
    let place = window_staff(&me)?;
    s.store.pause_window(&me.staff().actor(), &place, &w, false, "").await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowQueuesRequest {
    /// Queue codes or prefixes, in the order the window serves them.
    pub queues: Vec<String>,
}

/// Set which queues a window serves, in order (admin).
#[utoipa::path(put, path = "/api/v1/windows/{window}/queues", tag = "lobby", params(("window" = String, Path)), request_body = WindowQueuesRequest, responses((status = 204), (status = 403), (status = 422)))]
pub async fn set_queues(
    State(s): State<AppState>,
    crate::auth::Admin(me): crate::auth::Admin,
    Path(w): Path<String>,
    Json(r): Json<WindowQueuesRequest>,
) -> ApiResult<StatusCode> {
    let place = me.county()?;
    s.store.set_window_queues(&me.staff().actor(), &place, &w, &r.queues).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Close the day: tickets still waiting or on hold are closed as expired (admin or leader).
#[utoipa::path(post, path = "/api/v1/halls/{hall}/close", tag = "lobby", params(("hall" = String, Path)), responses((status = 200)))]
pub async fn close_hall(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(hall): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    me.require(&[Role::Admin, Role::Leader])?;
    let hall = PlaceCode::parse(&hall)?;
    me.require_within(&hall)?;
    let n = s.store.expire_tickets(Some(&hall), true).await?;
    Ok(Json(serde_json::json!({"expired": n})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberingRequest {
    pub prefix: String,
    pub start_number: i64,
    pub daily_max: i64,
}

/// Set a queue's numbering: prefix, first number of the day, daily maximum (admin).
#[utoipa::path(put, path = "/api/v1/queues/{queue}", tag = "lobby", params(("queue" = String, Path)), request_body = NumberingRequest,
    responses((status = 204), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn set_numbering(
    State(s): State<AppState>,
    crate::auth::Admin(me): crate::auth::Admin,
    Path(queue): Path<String>,
    Json(r): Json<NumberingRequest>,
) -> ApiResult<StatusCode> {
    let place = me.county()?;
    s.store.set_queue_numbering(&me.staff().actor(), &place, &queue, &r.prefix, r.start_number, r.daily_max).await?;
    Ok(StatusCode::NO_CONTENT)
}
