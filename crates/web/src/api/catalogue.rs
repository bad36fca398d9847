//! The catalogue: public search and item pages; admins edit, import and export.

use crate::auth::{Admin, CurrentStaff};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use onewindow_core::catalogue::{Channel, ItemInput, TripLevel};
use onewindow_core::place::PlaceCode;
use onewindow_core::search::SearchQuery;
use onewindow_core::sheet::Format;
use onewindow_store::{ImportOutcome, StoredItem};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Chinese text, full pinyin or pinyin initials (`社保`, `shebao`, `sb`); words are ANDed.
    pub q: Option<String>,
    /// Division code of the county; the installation's county when absent.
    pub place: Option<String>,
    /// Department code.
    pub department: Option<String>,
    /// Zone code.
    pub zone: Option<String>,
    /// 0 zero-trip, 1 at most one, 2 more.
    pub trip_level: Option<String>,
    /// window, online, mobile or village.
    pub channel: Option<String>,
    /// Default 20, at most 200.
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    /// Pages only: the language toggle travels with the query.
    pub lang: Option<String>,
}

/// A search hit as lists show it.
#[derive(Serialize, Clone)]
pub struct ItemSummary {
    pub code: String,
    pub name: String,
    pub place: String,
    pub department: String,
    pub department_name: String,
    pub zone: String,
    pub zone_name: String,
    pub trip_level: i64,
    pub channels: Vec<&'static str>,
    pub promised_days: u32,
    pub statutory_days: u32,
    pub score: u32,
}

#[derive(Serialize)]
pub struct SearchAnswer {
    pub total: usize,
    pub items: Vec<ItemSummary>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Runs a search on the in-memory catalogue; shared by the API and the pages.
pub fn run_search(state: &AppState, p: &SearchParams) -> ApiResult<SearchAnswer> {
    let place = match nonempty(&p.place) {
        Some(s) => PlaceCode::parse(s)?,
        None => state.default_place.clone(),
    };
    let q = p.q.clone().unwrap_or_default();
    if q.chars().count() > 100 {
        return Err(ApiError::bad(Some("q"), "搜索词不超过100个字", "the query is at most 100 characters"));
    }
    let query = SearchQuery {
        q,
        place_prefix: Some(place.jurisdiction_prefix().to_string()),
        department: nonempty(&p.department).map(str::to_string),
        zone: nonempty(&p.zone).map(str::to_string),
        trip_level: nonempty(&p.trip_level).map(TripLevel::parse).transpose()?,
        channel: nonempty(&p.channel).map(Channel::parse).transpose()?,
        limit: p.limit.unwrap_or(20).clamp(1, 200),
        offset: p.offset.unwrap_or(0),
    };
    let snap = state.catalogue.snapshot();
    let result = snap.index.search(&query);
    let items = result
        .hits
        .iter()
        .filter_map(|h| {
            let s = snap.stored(h.index)?;
            Some(ItemSummary {
                code: s.item.code.to_string(),
                name: s.item.name.clone(),
                place: s.place.clone(),
                department: s.item.department.clone(),
                department_name: s.department_name.clone(),
                zone: s.item.zone.clone(),
                zone_name: s.zone_name.clone(),
                trip_level: i64::from(s.item.trip_level),
                channels: s.item.channels.iter().map(|c| c.code()).collect(),
                promised_days: s.item.promised_days.get(),
                statutory_days: s.item.statutory_days.get(),
                score: h.score,
            })
        })
        .collect();
    Ok(SearchAnswer { total: result.total, items })
}

/// Search the catalogue. No login needed.
#[utoipa::path(get, path = "/api/v1/items", tag = "catalogue", params(SearchParams),
    responses((status = 200, description = "{total, items}"), (status = 400), (status = 422)))]
pub async fn search(State(s): State<AppState>, Query(p): Query<SearchParams>) -> ApiResult<Json<SearchAnswer>> {
    Ok(Json(run_search(&s, &p)?))
}

/// One item with everything a citizen must prepare, and its version history.
#[utoipa::path(get, path = "/api/v1/items/{code}", tag = "catalogue", params(("code" = String, Path)),
    responses((status = 200), (status = 404)))]
pub async fn get(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult<Json<Value>> {
    let item = s.store.item(&code).await?;
    let history = s.store.item_history(&code).await?;
    Ok(Json(json!({
        "item": item,
        "versions": history.into_iter().map(|(v, at, who)| json!({"version": v, "at": at, "actor": who})).collect::<Vec<_>>(),
    })))
}

/// One earlier version of an item, as a case accepted under it keeps it.
#[utoipa::path(get, path = "/api/v1/items/{code}/versions/{version}", tag = "catalogue",
    params(("code" = String, Path), ("version" = i64, Path)), responses((status = 200), (status = 404)))]
pub async fn version(State(s): State<AppState>, Path((code, version)): Path<(String, i64)>) -> ApiResult<Json<Value>> {
    Ok(Json(
        serde_json::to_value(s.store.item_version(&code, version).await?)
            .map_err(|e| ApiError::Internal(e.to_string()))?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PlaceParam {
    /// The county; the admin's own county when absent.
    pub place: Option<String>,
}

fn county_for(me: &CurrentStaff, place: Option<&str>) -> ApiResult<PlaceCode> {
    let county = match place.map(str::trim).filter(|s| !s.is_empty()) {
        Some(p) => PlaceCode::parse(p)?,
        None => me.county()?,
    };
    me.require_within(&county)?;
    Ok(county)
}

/// Add an item (admin). The body is an item; a code that exists is a conflict.
#[utoipa::path(post, path = "/api/v1/items", tag = "catalogue", params(PlaceParam), request_body = crate::api::item_body::ItemBody,
    responses((status = 201), (status = 401), (status = 403), (status = 409), (status = 422)))]
pub async fn create(
    State(s): State<AppState>,
    Admin(me): Admin,
    Query(p): Query<PlaceParam>,
    Json(input): Json<ItemInput>,
) -> ApiResult<(axum::http::StatusCode, Json<StoredItem>)> {
    let county = county_for(&me, p.place.as_deref())?;
    if let Some(code) = input.code.as_ref().and_then(|v| v.as_str()) {
        if s.store.item(code.trim()).await.is_ok() {
            return Err(ApiError::Conflict {
                field: Some("code".into()),
                zh: format!("事项编码“{code}”已存在"),
                en: format!("item code \"{code}\" exists"),
            });
        }
    }
    let saved = s.store.save_item(&county, &input, &me.staff().actor()).await?;
    Ok((axum::http::StatusCode::CREATED, Json(saved)))
}

/// Edit an item (admin): a new version; cases keep the version they were accepted under.
#[utoipa::path(put, path = "/api/v1/items/{code}", tag = "catalogue", params(("code" = String, Path)), request_body = crate::api::item_body::ItemBody,
    responses((status = 200), (status = 401), (status = 403), (status = 404), (status = 422)))]
pub async fn update(
    State(s): State<AppState>,
    Admin(me): Admin,
    Path(code): Path<String>,
    Json(mut input): Json<ItemInput>,
) -> ApiResult<Json<StoredItem>> {
    let existing = s.store.item(&code).await?;
    let county = PlaceCode::parse(&existing.place)?;
    me.require_within(&county)?;
    if input.code.as_ref().and_then(|v| v.as_str()).is_some_and(|c| c.trim() != code) {
        return Err(ApiError::bad(Some("code"), "事项编码不能修改", "the item code cannot change"));
    }
    input.code = Some(json!(code));
    Ok(Json(s.store.save_item(&county, &input, &me.staff().actor()).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct FileParams {
    /// csv, json or xlsx; else from the Content-Type.
    pub format: Option<String>,
    pub place: Option<String>,
}

fn format_of(name: Option<&str>, headers: &HeaderMap) -> ApiResult<Format> {
    if let Some(f) = name {
        return Format::from_name(&format!(".{}", f.trim())).ok_or_else(|| {
            ApiError::bad(Some("format"), "格式应为 csv、json 或 xlsx", "format must be csv, json or xlsx")
        });
    }
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if ct.starts_with("text/csv") {
        Ok(Format::Csv)
    } else if ct.starts_with("application/json") {
        Ok(Format::Json)
    } else if ct.contains("spreadsheetml") {
        Ok(Format::Xlsx)
    } else {
        Err(ApiError::bad(Some("format"), "请指明格式：csv、json 或 xlsx", "say the format: csv, json or xlsx"))
    }
}

/// Import a whole catalogue file (admin): all or nothing; every bad row is reported with row and column.
#[utoipa::path(post, path = "/api/v1/catalogue/import", tag = "catalogue", params(FileParams),
    request_body(content = Vec<u8>, description = "the file", content_type = "application/octet-stream"),
    responses((status = 200, description = "{created, updated, unchanged}"), (status = 422, description = "bad rows; nothing written")))]
pub async fn import(
    State(s): State<AppState>,
    Admin(me): Admin,
    Query(p): Query<FileParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportOutcome>> {
    let county = county_for(&me, p.place.as_deref())?;
    let format = format_of(p.format.as_deref(), &headers)?;
    Ok(Json(s.store.import_catalogue(&county, format, &body, &me.staff().actor()).await?))
}

/// Export the catalogue of a county as CSV, JSON or XLSX. No login needed: the catalogue is public.
#[utoipa::path(get, path = "/api/v1/catalogue/export", tag = "catalogue", params(FileParams), responses((status = 200)))]
pub async fn export(State(s): State<AppState>, Query(p): Query<FileParams>) -> ApiResult<Response> {
    let format = format_of(Some(p.format.as_deref().unwrap_or("csv")), &HeaderMap::new())?;
    let place = match p.place.as_deref() {
        Some(pl) => PlaceCode::parse(pl)?,
        None => s.default_place.clone(),
    };
    let bytes = s.store.export_catalogue(Some(&place), format).await?;
    let disposition = format!("attachment; filename=\"catalogue-{}.{}\"", place, format.extension());
    Ok(([(header::CONTENT_TYPE, format.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response())
}
