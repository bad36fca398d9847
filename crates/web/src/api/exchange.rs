//! Data exchange (大数据交换): the services departments publish, the rights of consumer departments,
//! records pushed by the providers (JSON or CSV), lookups for a case (200 result, 202 pending, 403 denied
//! — and recorded), the provider's decisions, and the citizen's "who used my data" list. See
//! docs/exchange.md.

use crate::api::cases::case_actor;
use crate::auth::{Admin, CurrentStaff};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use onewindow_core::sheet::RowError;
use onewindow_store::{DataUse, ExchangeField, ExchangeRight, ExchangeService, LookupView, Role, ServiceView};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The services, each with the right the caller's department holds on it (`my_mode`, `my_fields`).
#[utoipa::path(get, path = "/api/v1/exchange/services", tag = "exchange", responses((status = 200), (status = 401)))]
pub async fn services(State(s): State<AppState>, me: CurrentStaff) -> ApiResult<Json<Vec<ServiceView>>> {
    let by = case_actor(&me)?;
    Ok(Json(s.store.exchange_services(by.department.as_deref()).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    pub name: String,
    pub label: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRequest {
    pub name: String,
    /// Department code of the provider.
    pub provider_department: String,
    pub fields: Vec<FieldDef>,
    /// The provider approves each lookup by hand (default: automatic).
    #[serde(default)]
    pub requires_approval: bool,
    /// Working days the provider has to decide (1–30; with approval).
    pub approval_days: Option<i64>,
}

/// Define or replace a data service (admin).
#[utoipa::path(put, path = "/api/v1/exchange/services/{code}", tag = "exchange", params(("code" = String, Path)),
    request_body = ServiceRequest, responses((status = 204), (status = 403), (status = 409), (status = 422)))]
pub async fn save_service(
    State(s): State<AppState>,
    Admin(me): Admin,
    Path(code): Path<String>,
    Json(r): Json<ServiceRequest>,
) -> ApiResult<StatusCode> {
    let by = case_actor(&me)?;
    let service = ExchangeService {
        code: code.trim().to_string(),
        name: r.name,
        provider_department: r.provider_department.trim().to_string(),
        county: me.county()?.to_string(),
        fields: r.fields.into_iter().map(|f| ExchangeField { name: f.name.trim().into(), label: f.label }).collect(),
        requires_approval: r.requires_approval,
        approval_days: r.approval_days.unwrap_or(if r.requires_approval { 3 } else { 0 }),
    };
    s.store.save_exchange_service(&by, &service).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RightRequest {
    /// Department code of the consumer.
    pub consumer_department: String,
    pub service: String,
    /// `exists` (yes/no), `fields` (the listed fields), or `none` (revoke).
    pub mode: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// Every right (admin).
#[utoipa::path(get, path = "/api/v1/exchange/rights", tag = "exchange", responses((status = 200), (status = 403)))]
pub async fn rights(State(s): State<AppState>, Admin(_me): Admin) -> ApiResult<Json<Vec<ExchangeRight>>> {
    Ok(Json(s.store.exchange_rights().await?))
}

/// Grant, change or (mode `none`) revoke a consumer department's right on a service (admin).
#[utoipa::path(put, path = "/api/v1/exchange/rights", tag = "exchange", request_body = RightRequest,
    responses((status = 204), (status = 403), (status = 404), (status = 422)))]
pub async fn set_right(
    State(s): State<AppState>,
    Admin(me): Admin,
    Json(r): Json<RightRequest>,
) -> ApiResult<StatusCode> {
    let by = case_actor(&me)?;
    let right = ExchangeRight {
        consumer_department: r.consumer_department.trim().into(),
        service: r.service.trim().into(),
        mode: r.mode.trim().into(),
        fields: r.fields.into_iter().map(|f| f.trim().to_string()).collect(),
    };
    s.store.set_exchange_right(&by, &right).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct RecordParams {
    /// `csv` for a sheet `id_number,field1,field2…` (header first; all rows or none); JSON otherwise.
    pub format: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRequest {
    pub id_number: String,
    /// Field name → text.
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecordsOutcome {
    pub records: usize,
}

/// Put records of a service: one JSON record, or `?format=csv` with a sheet (the provider
/// department's staff, or an admin). A sheet with bad rows is refused whole (422 with every row and
/// column).
#[utoipa::path(post, path = "/api/v1/exchange/services/{code}/records", tag = "exchange", params(("code" = String, Path), RecordParams),
    request_body(content = RecordRequest, description = "JSON record, or text/csv with ?format=csv"),
    responses((status = 200, body = RecordsOutcome), (status = 403), (status = 404), (status = 422)))]
pub async fn put_records(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(code): Path<String>,
    Query(p): Query<RecordParams>,
    body: Bytes,
) -> ApiResult<Json<RecordsOutcome>> {
    let by = case_actor(&me)?;
    match p.format.as_deref() {
        Some("csv") => {
            let text = std::str::from_utf8(&body)
                .map_err(|_| ApiError::bad(Some("file"), "CSV 文件应为 UTF-8 编码", "the CSV file must be UTF-8"))?;
            let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
            let mut grid = Vec::new();
            for (i, rec) in r.records().enumerate() {
                let rec = rec.map_err(|e| {
                    ApiError::Rows(vec![RowError {
                        row: i + 1,
                        column: None,
                        field: "file".into(),
                        zh: format!("CSV 格式错误：{e}"),
                        en: format!("malformed CSV: {e}"),
                    }])
                })?;
                grid.push(rec.iter().map(str::to_string).collect::<Vec<_>>());
            }
            let n = s.store.import_exchange_records(&by, &code, &grid).await?;
            Ok(Json(RecordsOutcome { records: n }))
        }
        None | Some("json") => {
            let r: RecordRequest = serde_json::from_slice(&body).map_err(|e| {
                ApiError::bad(None, format!("请求内容不是有效的记录：{e}"), format!("not a valid record: {e}"))
            })?;
            s.store.put_exchange_record(&by, &code, &r.id_number, &r.data).await?;
            Ok(Json(RecordsOutcome { records: 1 }))
        }
        Some(_) => Err(ApiError::bad(Some("format"), "format 应为 csv 或 json", "format must be csv or json")),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// Service code.
    pub service: String,
    /// Why; recorded and shown to the citizen.
    pub purpose: String,
    /// A material of the case the result stands for (免证办): it becomes verified.
    pub material: Option<String>,
}

/// Look up the case's applicant in a data service. 200 with the result (existence or the fields the
/// caller's department may see), 202 when the provider must approve first, 403 without a right — the
/// refused attempt is recorded too.
#[utoipa::path(post, path = "/api/v1/cases/{id}/lookups", tag = "exchange", params(("id" = i64, Path)), request_body = LookupRequest,
    responses((status = 200, description = "the result"), (status = 202, description = "pending the provider's approval"),
        (status = 403, description = "no right (recorded)"), (status = 404), (status = 409), (status = 422)))]
pub async fn lookup(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Json(r): Json<LookupRequest>,
) -> ApiResult<(StatusCode, Json<LookupView>)> {
    me.require(&[Role::Acceptor, Role::Approver, Role::VillageClerk])?;
    let by = case_actor(&me)?;
    let v = s.store.exchange_lookup(id, &by, r.service.trim(), &r.purpose, r.material).await?;
    let status = if v.outcome == "pending" { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, Json(v)))
}

/// The lookups of a case, newest first, with their results.
#[utoipa::path(get, path = "/api/v1/cases/{id}/lookups", tag = "exchange", params(("id" = i64, Path)), responses((status = 200), (status = 404)))]
pub async fn case_lookups(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<LookupView>>> {
    let by = case_actor(&me)?;
    Ok(Json(s.store.case_lookups(id, &by).await?))
}

/// Lookups waiting for the caller's department (a provider) to approve.
#[utoipa::path(get, path = "/api/v1/exchange/lookups", tag = "exchange", responses((status = 200)))]
pub async fn pending(State(s): State<AppState>, me: CurrentStaff) -> ApiResult<Json<Vec<LookupView>>> {
    let by = case_actor(&me)?;
    Ok(Json(s.store.pending_exchange_lookups(&by).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub approve: bool,
    /// Required when rejecting.
    #[serde(default)]
    pub comment: String,
}

/// Approve or reject a pending lookup (an approver of the provider department); the consumer then sees
/// the result.
#[utoipa::path(post, path = "/api/v1/exchange/lookups/{id}/decision", tag = "exchange", params(("id" = i64, Path)), request_body = DecisionRequest,
    responses((status = 200), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn decide(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Json(r): Json<DecisionRequest>,
) -> ApiResult<Json<LookupView>> {
    let by = case_actor(&me)?;
    Ok(Json(s.store.decide_exchange_lookup(id, &by, r.approve, &r.comment).await?))
}

/// The citizen's "who used my data" list for the applicant of the case with this tracking token: every
/// lookup of their data and every unmasking of their cases (department, time, case, purpose, outcome).
#[utoipa::path(get, path = "/api/v1/track/{token}/data-use", tag = "exchange", params(("token" = String, Path)), responses((status = 200), (status = 404)))]
pub async fn data_use(State(s): State<AppState>, Path(token): Path<String>) -> ApiResult<Json<Value>> {
    if token.is_empty() || token.len() > 100 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::not_found("case"));
    }
    let (number, list): (String, Vec<DataUse>) = s.store.data_use_by_token(&token).await?;
    Ok(Json(json!({"case_number": number, "uses": list})))
}
