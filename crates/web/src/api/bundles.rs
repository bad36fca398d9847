//! "One thing" bundles: one application, several departments.

use crate::api::cases::{case_actor, Applicant, MaterialStatus};
use crate::auth::CurrentStaff;
use crate::error::{ApiError, ApiResult, Json, Path};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use onewindow_core::ids::{IdNumber, PhoneNumber};
use onewindow_core::place::PlaceCode;
use onewindow_core::Invalid;
use onewindow_store::{BundleView, NewCase, Role};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The bundles on offer, with their children and eligibility rules.
#[utoipa::path(get, path = "/api/v1/bundles", tag = "bundles", responses((status = 200)))]
pub async fn list(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(serde_json::to_value(s.store.bundles()?).map_err(|e| ApiError::Internal(e.to_string()))?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleRequest {
    /// The bundle code, e.g. `dibao`.
    pub bundle: String,
    pub applicant: Applicant,
    /// The household's facts the eligibility rules read (e.g. school_age_children, electricity_account).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub facts: Map<String, Value>,
    /// The parent item's materials.
    #[serde(default)]
    pub materials: Vec<MaterialStatus>,
    #[serde(default)]
    pub tolerant: bool,
    pub supplement_days: Option<u32>,
    /// Where it is accepted; the member's own place by default (a village for the village clerk).
    pub place: Option<String>,
}

/// Apply for a bundle: the parent case opens now; each linked benefit opens by itself when its trigger
/// fires, if the household is eligible.
#[utoipa::path(post, path = "/api/v1/bundles", tag = "bundles", request_body = BundleRequest,
    responses((status = 201), (status = 403), (status = 404), (status = 422)))]
pub async fn apply(
    State(s): State<AppState>,
    me: CurrentStaff,
    Json(r): Json<BundleRequest>,
) -> ApiResult<(StatusCode, Json<BundleView>)> {
    me.require(&[Role::Acceptor, Role::VillageClerk])?;
    let by = case_actor(&me)?;
    let def = s
        .store
        .bundles()?
        .into_iter()
        .find(|b| b.code == r.bundle)
        .ok_or_else(|| ApiError::not_found(format!("bundle {}", r.bundle)))?;
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
    if r.facts.len() > 50 {
        errs.push(onewindow_core::FieldError::new("facts", "家庭情况最多50项", "at most 50 facts"));
    }
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    let place = place.ok_or_else(|| ApiError::Internal("place".into()))?;
    me.require_within(&place)?;
    let parent = NewCase {
        item: def.parent_item.clone(),
        applicant_name: r.applicant.name,
        applicant_id_number: id_number,
        applicant_phone: phone,
        channel: if me.staff().role == Role::VillageClerk { "village".into() } else { "window".into() },
        materials: r.materials.into_iter().map(|m| (m.name, m.status)).collect(),
        tolerant: r.tolerant,
        supplement_days: r.supplement_days.unwrap_or(5).clamp(1, 60),
        ticket_id: None,
        place,
    };
    Ok((StatusCode::CREATED, Json(s.store.apply_bundle(&by, &r.bundle, &parent, &r.facts).await?)))
}

/// A bundle: the parent case and every child's state.
#[utoipa::path(get, path = "/api/v1/bundles/{id}", tag = "bundles", params(("id" = i64, Path)), responses((status = 200), (status = 404)))]
pub async fn get(State(s): State<AppState>, me: CurrentStaff, Path(id): Path<i64>) -> ApiResult<Json<BundleView>> {
    let b = s.store.bundle(id).await?;
    // Visible to whoever may see the parent case.
    let by = case_actor(&me)?;
    s.store.case_for(b.parent_case_id, Some(&by)).await?;
    Ok(Json(b))
}

/// The bundle a case belongs to, and what its department receives from the application.
#[utoipa::path(get, path = "/api/v1/cases/{id}/bundle", tag = "bundles", params(("id" = i64, Path)), responses((status = 200), (status = 404)))]
pub async fn of_case(State(s): State<AppState>, me: CurrentStaff, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let by = case_actor(&me)?;
    s.store.case_for(id, Some(&by)).await?;
    let bundle =
        s.store.bundle_of_case(id).await?.ok_or_else(|| ApiError::not_found(format!("bundle of case {id}")))?;
    let data = onewindow_store::child_data(&s.store, id).await?;
    Ok(Json(json!({"bundle": s.store.bundle(bundle).await?, "data": data})))
}
