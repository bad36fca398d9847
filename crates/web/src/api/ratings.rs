//! The staff's side of the citizen's portal: ratings by department (好差评), follow-up tasks of
//! dissatisfied ratings, and the files an online application brought with it.

use crate::api::cases::case_actor;
use crate::api::portal::file_response;
use crate::auth::CurrentStaff;
use crate::error::{ApiResult, Json, Path, Query};
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use onewindow_store::{FollowupView, RatingRow, Role};
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FollowupQuery {
    /// Only open follow-ups (default true).
    pub open: Option<bool>,
}

/// Follow-ups of dissatisfied ratings: an approver sees their department's, leaders and admins the
/// county's.
#[utoipa::path(get, path = "/api/v1/followups", tag = "ratings", params(FollowupQuery), responses((status = 200), (status = 403)))]
pub async fn followups(
    State(s): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<FollowupQuery>,
) -> ApiResult<Json<Vec<FollowupView>>> {
    me.require(&[Role::Approver, Role::Leader, Role::Admin])?;
    let by = case_actor(&me)?;
    Ok(Json(s.store.followups(&by, q.open.unwrap_or(true)).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseFollowup {
    /// What the call-back found and what was done (required).
    pub note: String,
}

/// Close a follow-up with the call-back note.
#[utoipa::path(post, path = "/api/v1/followups/{id}/close", tag = "ratings", params(("id" = i64, Path)), request_body = CloseFollowup,
    responses((status = 200), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn close_followup(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Json(r): Json<CloseFollowup>,
) -> ApiResult<Json<FollowupView>> {
    me.require(&[Role::Approver, Role::Leader, Role::Admin])?;
    let by = case_actor(&me)?;
    Ok(Json(s.store.close_followup(&by, id, &r.note).await?))
}

/// Ratings by department for the member's county.
#[utoipa::path(get, path = "/api/v1/stats/ratings", tag = "ratings", responses((status = 200), (status = 403)))]
pub async fn report(State(s): State<AppState>, me: CurrentStaff) -> ApiResult<Json<Vec<RatingRow>>> {
    me.require(&[Role::Leader, Role::Admin, Role::Approver, Role::Acceptor])?;
    Ok(Json(s.store.rating_report(&me.county()?).await?))
}

/// A file of a case's online application, for staff who may see the case.
#[utoipa::path(get, path = "/api/v1/cases/{id}/files/{file}", tag = "cases", params(("id" = i64, Path), ("file" = i64, Path)),
    responses((status = 200), (status = 403), (status = 404)))]
pub async fn case_file(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path((id, file)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    let by = case_actor(&me)?;
    s.store.case_for(id, Some(&by)).await?;
    let (f, bytes) = s.store.case_file(id, file).await?;
    Ok(file_response(&f, bytes))
}
