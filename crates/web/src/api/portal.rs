//! The citizen's API (`/api/v1/citizen/…`): SMS one-time-code sign-in, online applications with
//! uploads, the citizen's own cases (track, correct, withdraw, delivery, rating), appointments and
//! who used their data. A citizen only ever reaches their own records: anything else is 404.

use crate::api::lobby::{hall_of, TicketIssued};
use crate::citizen::{ClientAddress, CurrentCitizen};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::upload::{application_input, material_files, Upload};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use onewindow_core::ids::PhoneNumber;
use onewindow_store::{ActionInput, ApplicationView, AppointmentView, CaseView, DeliveryChoice, FileView};
use serde::Deserialize;
use serde_json::{json, Value};

/// The name that signs the portal's SMS: the county's.
pub async fn sms_sign(s: &AppState) -> String {
    let name = s.store.place(s.default_place.as_str()).await.map(|p| p.name).unwrap_or_default();
    format!("{name}政务服务")
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub phone: String,
}

/// Send a one-time sign-in code by SMS (6 digits, valid 5 minutes). At most one a minute and five an
/// hour per number; 429 with Retry-After beyond that.
#[utoipa::path(post, path = "/api/v1/citizen/code", tag = "citizen", request_body = CodeRequest,
    responses((status = 202), (status = 422), (status = 429)))]
pub async fn request_code(
    State(s): State<AppState>,
    ClientAddress(addr): ClientAddress,
    Json(r): Json<CodeRequest>,
) -> ApiResult<Response> {
    let phone = PhoneNumber::parse(&r.phone)?;
    s.store.request_login_code(&phone, &addr, &sms_sign(&s).await).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"sent": true, "expires_in": 300}))).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub phone: String,
    pub code: String,
}

/// Sign in with the code: a bearer token (`c.…`) for `Authorization: Bearer`. Five wrong codes lock it.
#[utoipa::path(post, path = "/api/v1/citizen/session", tag = "citizen", request_body = SignInRequest,
    responses((status = 200), (status = 422, description = "wrong, expired or locked code")))]
pub async fn sign_in(State(s): State<AppState>, Json(r): Json<SignInRequest>) -> ApiResult<Json<Value>> {
    let phone = PhoneNumber::parse(&r.phone)?;
    if r.code.len() > 20 {
        return Err(ApiError::bad(Some("code"), "验证码为6位数字", "the code is 6 digits"));
    }
    let (token, c) = s.store.sign_in_citizen(&phone, &r.code).await?;
    Ok(Json(json!({"token": token, "csrf": c.csrf, "phone": c.phone_masked, "expires_at": c.expires_at})))
}

#[utoipa::path(get, path = "/api/v1/citizen/session", tag = "citizen", responses((status = 200), (status = 401)))]
pub async fn current(me: CurrentCitizen) -> Json<Value> {
    Json(json!({"phone": me.citizen.phone_masked, "expires_at": me.citizen.expires_at}))
}

#[utoipa::path(delete, path = "/api/v1/citizen/session", tag = "citizen", responses((status = 204), (status = 401)))]
pub async fn sign_out(State(s): State<AppState>, me: CurrentCitizen) -> ApiResult<StatusCode> {
    s.store.sign_out_citizen(&me.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The citizen's cases, newest first.
#[utoipa::path(get, path = "/api/v1/citizen/cases", tag = "citizen", responses((status = 200), (status = 401)))]
pub async fn cases(State(s): State<AppState>, me: CurrentCitizen) -> ApiResult<Json<Vec<CaseView>>> {
    Ok(Json(s.store.citizen_cases(&me.citizen).await?))
}

fn number_ok(number: &str) -> ApiResult<()> {
    if number.is_empty() || number.len() > 40 {
        return Err(ApiError::not_found("case"));
    }
    Ok(())
}

/// One of the citizen's cases with its files, delivery choice and rating (404 for anyone else's).
#[utoipa::path(get, path = "/api/v1/citizen/cases/{number}", tag = "citizen", params(("number" = String, Path)),
    responses((status = 200), (status = 401), (status = 404)))]
pub async fn case(State(s): State<AppState>, me: CurrentCitizen, Path(number): Path<String>) -> ApiResult<Json<Value>> {
    number_ok(&number)?;
    let c = s.store.citizen_case(&me.citizen, &number).await?;
    let files = s.store.case_files(c.id).await?;
    let delivery = s.store.delivery_choice(c.id).await?;
    let rating = s.store.rating_of(c.id).await?.map(|(score, comment)| json!({"score": score, "comment": comment}));
    Ok(Json(json!({"case": c, "files": files, "delivery_choice": delivery, "rating": rating})))
}

/// The citizen's own action: `cancel` (before pre-acceptance), `download` (electronic result),
/// `deliver` (express received), `supplement` (after a correction request).
#[utoipa::path(post, path = "/api/v1/citizen/cases/{number}/actions", tag = "citizen", params(("number" = String, Path)),
    request_body = ActionInput, responses((status = 200), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn act(
    State(s): State<AppState>,
    me: CurrentCitizen,
    Path(number): Path<String>,
    Json(input): Json<ActionInput>,
) -> ApiResult<Json<CaseView>> {
    number_ok(&number)?;
    Ok(Json(s.store.citizen_act(&me.citizen, &number, &input, &[], None).await?))
}

/// Answer a correction request: the files (`file.<n>` = the case's n-th material, or
/// `files.<material>`) and an optional `comment`, supplied in one commit.
#[utoipa::path(post, path = "/api/v1/citizen/cases/{number}/correction", tag = "citizen", params(("number" = String, Path)),
    responses((status = 200), (status = 400), (status = 404), (status = 409), (status = 422)))]
pub async fn correction(
    State(s): State<AppState>,
    me: CurrentCitizen,
    Path(number): Path<String>,
    Upload(parts): Upload,
) -> ApiResult<Json<CaseView>> {
    number_ok(&number)?;
    if me.via_cookie {
        me.check_csrf(parts.get("csrf").unwrap_or_default())?;
    }
    Ok(Json(send_correction(&s, &me.citizen, &number, &parts).await?))
}

/// A correction from a form (API or page): its files for the case's materials and its comment, supplied
/// in one commit.
pub(crate) async fn send_correction(
    s: &AppState,
    citizen: &onewindow_store::Citizen,
    number: &str,
    parts: &crate::upload::FormParts,
) -> ApiResult<CaseView> {
    let c = s.store.citizen_case(citizen, number).await?;
    let materials: Vec<String> = c.materials.iter().map(|m| m.name.clone()).collect();
    let files = material_files(parts, &materials)?;
    if files.is_empty() {
        return Err(ApiError::bad(Some("files"), "请选择补正材料文件", "choose the files of the correction"));
    }
    let input = ActionInput {
        action: "supplement".into(),
        comment: parts.get("comment").unwrap_or_default().trim().to_string(),
        data: json!({}),
    };
    Ok(s.store.citizen_act(citizen, number, &input, &files, None).await?)
}

/// Choose how the result reaches you: `pickup`, `express` (recipient, address) or `electronic`.
#[utoipa::path(put, path = "/api/v1/citizen/cases/{number}/delivery", tag = "citizen", params(("number" = String, Path)),
    request_body = DeliveryChoice, responses((status = 204), (status = 404), (status = 409), (status = 422)))]
pub async fn choose_delivery(
    State(s): State<AppState>,
    me: CurrentCitizen,
    Path(number): Path<String>,
    Json(choice): Json<DeliveryChoice>,
) -> ApiResult<StatusCode> {
    number_ok(&number)?;
    s.store.choose_delivery(&me.citizen, &number, &choice).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意.
    pub score: i64,
    #[serde(default)]
    pub comment: String,
}

/// Rate a finished case (好差评), once. 不满意 or worse opens a follow-up for the department.
#[utoipa::path(post, path = "/api/v1/citizen/cases/{number}/rating", tag = "citizen", params(("number" = String, Path)),
    request_body = RatingRequest, responses((status = 204), (status = 404), (status = 409), (status = 422)))]
pub async fn rate(
    State(s): State<AppState>,
    me: CurrentCitizen,
    Path(number): Path<String>,
    Json(r): Json<RatingRequest>,
) -> ApiResult<StatusCode> {
    number_ok(&number)?;
    s.store.rate_case(&me.citizen, &number, r.score, &r.comment, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The citizen's drafts and submitted applications.
#[utoipa::path(get, path = "/api/v1/citizen/applications", tag = "citizen", responses((status = 200), (status = 401)))]
pub async fn applications(State(s): State<AppState>, me: CurrentCitizen) -> ApiResult<Json<Vec<ApplicationView>>> {
    Ok(Json(s.store.applications_of(&me.citizen).await?))
}

async fn save(
    s: &AppState,
    me: &CurrentCitizen,
    id: Option<i64>,
    parts: &crate::upload::FormParts,
) -> ApiResult<ApplicationView> {
    if me.via_cookie {
        me.check_csrf(parts.get("csrf").unwrap_or_default())?;
    }
    let code = match id {
        Some(id) => s.store.application(&me.citizen, id).await?.item_code,
        None => parts.get("item").unwrap_or_default().trim().to_string(),
    };
    let item = s.store.item(&code).await.map_err(|_| {
        ApiError::Invalid(onewindow_core::Invalid::one(onewindow_core::FieldError::new(
            "item",
            format!("事项“{code}”不存在"),
            format!("item \"{code}\" does not exist"),
        )))
    })?;
    let (input, uploads) = application_input(parts, &item.item)?;
    let submit = matches!(parts.get("submit"), Some("1" | "true" | "yes"));
    Ok(s.store.save_application(&me.citizen, id, &code, &input, &uploads, submit, None).await?)
}

/// Start an application (multipart/form-data): `item`, `applicant_name`, `applicant_id_number`,
/// `answers.<key>`, `delivery.method|recipient|address`, files `file.<n>`; `submit=1` submits at once.
#[utoipa::path(post, path = "/api/v1/citizen/applications", tag = "citizen",
    responses((status = 201), (status = 400), (status = 401), (status = 422)))]
pub async fn create_application(
    State(s): State<AppState>,
    me: CurrentCitizen,
    Upload(parts): Upload,
) -> ApiResult<Response> {
    let v = save(&s, &me, None, &parts).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

#[utoipa::path(get, path = "/api/v1/citizen/applications/{id}", tag = "citizen", params(("id" = i64, Path)),
    responses((status = 200), (status = 404)))]
pub async fn application(
    State(s): State<AppState>,
    me: CurrentCitizen,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(s.store.application(&me.citizen, id).await?))
}

/// Save a draft again (multipart, the same fields; new files are added); `submit=1` submits it.
#[utoipa::path(put, path = "/api/v1/citizen/applications/{id}", tag = "citizen", params(("id" = i64, Path)),
    responses((status = 200), (status = 400), (status = 404), (status = 409), (status = 422)))]
pub async fn update_application(
    State(s): State<AppState>,
    me: CurrentCitizen,
    Path(id): Path<i64>,
    Upload(parts): Upload,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(save(&s, &me, Some(id), &parts).await?))
}

/// Discard a draft.
#[utoipa::path(delete, path = "/api/v1/citizen/applications/{id}", tag = "citizen", params(("id" = i64, Path)),
    responses((status = 204), (status = 404), (status = 409)))]
pub async fn discard_application(
    State(s): State<AppState>,
    me: CurrentCitizen,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.store.discard_draft(&me.citizen, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove one file from a draft.
#[utoipa::path(delete, path = "/api/v1/citizen/applications/{id}/files/{file}", tag = "citizen",
    params(("id" = i64, Path), ("file" = i64, Path)), responses((status = 204), (status = 404), (status = 409)))]
pub async fn remove_file(
    State(s): State<AppState>,
    me: CurrentCitizen,
    Path((id, file)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    s.store.discard_draft(&me.citizen, id, Some(file)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A file the citizen uploaded (its bytes, checked against its SHA-256 address).
#[utoipa::path(get, path = "/api/v1/citizen/applications/{id}/files/{file}", tag = "citizen",
    params(("id" = i64, Path), ("file" = i64, Path)), responses((status = 200), (status = 404)))]
pub async fn download_file(
    State(s): State<AppState>,
    me: CurrentCitizen,
    Path((id, file)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    let (f, bytes) = s.store.draft_file(&me.citizen, id, file).await?;
    Ok(file_response(&f, bytes))
}

/// A stored file as a download: the type from the content check, never sniffed again by the browser.
pub fn file_response(f: &FileView, bytes: Vec<u8>) -> Response {
    let disposition = format!("inline; filename*=UTF-8''{}", crate::pages::encode_path(&f.file_name));
    (
        [
            (header::CONTENT_TYPE, f.mime.clone()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            (header::CACHE_CONTROL, "private, no-store".into()),
        ],
        bytes,
    )
        .into_response()
}

/// Who used the citizen's data: exchange lookups and unmaskings across all their cases.
#[utoipa::path(get, path = "/api/v1/citizen/data-use", tag = "citizen", responses((status = 200), (status = 401)))]
pub async fn data_use(State(s): State<AppState>, me: CurrentCitizen) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"uses": s.store.data_use_of_citizen(&me.citizen).await?})))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlotQuery {
    pub place: Option<String>,
    pub queue: String,
    /// YYYY-MM-DD.
    pub day: String,
}

/// A queue's half-hour appointment slots on a day, with what is left (public).
#[utoipa::path(get, path = "/api/v1/appointments/slots", tag = "citizen", params(SlotQuery), responses((status = 200), (status = 422)))]
pub async fn slots(State(s): State<AppState>, Query(q): Query<SlotQuery>) -> ApiResult<Json<Value>> {
    let place = hall_of(&s, q.place.as_deref())?;
    let day = chrono::NaiveDate::parse_from_str(q.day.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::bad(Some("day"), "日期格式应为 YYYY-MM-DD", "day must be YYYY-MM-DD"))?;
    let days: Vec<String> =
        s.store.appointment_days(onewindow_store::now_ms())?.iter().map(|d| d.to_string()).collect();
    Ok(Json(json!({"days": days, "slots": s.store.appointment_slots(&place, &q.queue, day).await?})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub place: Option<String>,
    pub queue: String,
    pub day: String,
    pub slot: String,
    pub item: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/citizen/appointments", tag = "citizen", responses((status = 200), (status = 401)))]
pub async fn appointments(State(s): State<AppState>, me: CurrentCitizen) -> ApiResult<Json<Vec<AppointmentView>>> {
    Ok(Json(s.store.appointments_of(&me.citizen).await?))
}

/// Book a slot (one live booking a day; the slot's capacity holds).
#[utoipa::path(post, path = "/api/v1/citizen/appointments", tag = "citizen", request_body = BookingRequest,
    responses((status = 201), (status = 409, description = "full, or already booked that day"), (status = 422)))]
pub async fn book(State(s): State<AppState>, me: CurrentCitizen, Json(r): Json<BookingRequest>) -> ApiResult<Response> {
    let place = hall_of(&s, r.place.as_deref())?;
    let a = s.store.book_appointment(&me.citizen, &place, &r.queue, &r.day, &r.slot, r.item.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

#[utoipa::path(delete, path = "/api/v1/citizen/appointments/{id}", tag = "citizen", params(("id" = i64, Path)),
    responses((status = 200), (status = 404), (status = 409)))]
pub async fn cancel_booking(
    State(s): State<AppState>,
    me: CurrentCitizen,
    Path(id): Path<i64>,
) -> ApiResult<Json<AppointmentView>> {
    Ok(Json(s.store.cancel_appointment(&me.citizen, id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    pub place: Option<String>,
    pub phone: String,
}

/// The kiosk's appointment check-in: today's booking of this number becomes a priority ticket.
#[utoipa::path(post, path = "/api/v1/appointments/check-in", tag = "lobby", request_body = CheckInRequest,
    responses((status = 201, body = TicketIssued), (status = 422, description = "no booking today"), (status = 409, description = "too early or too late"), (status = 422)))]
pub async fn check_in(State(s): State<AppState>, Json(r): Json<CheckInRequest>) -> ApiResult<Response> {
    let place = hall_of(&s, r.place.as_deref())?;
    let phone = PhoneNumber::parse(&r.phone)?;
    let t = s.store.check_in_appointment(&place, &phone, &s.lobby).await?;
    Ok((StatusCode::CREATED, Json(TicketIssued::from(t))).into_response())
}
