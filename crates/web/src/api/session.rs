//! Staff sign-in for API clients: a bearer token.

use crate::auth::CurrentStaff;
use crate::error::{ApiError, ApiResult, Json};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Log in; returns a bearer token for `Authorization: Bearer …`.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = LoginRequest,
    responses((status = 200, description = "token, staff, csrf"), (status = 401, description = "wrong username or password")))]
pub async fn login(State(s): State<AppState>, Json(req): Json<LoginRequest>) -> ApiResult<Json<Value>> {
    if req.username.len() > 100 || req.password.len() > 1000 {
        return Err(ApiError::Unauthorized);
    }
    match s.store.login(&req.username, &req.password).await? {
        Some((token, session)) => Ok(Json(json!({
            "token": token, "staff": session.staff, "csrf": session.csrf, "expires_at": session.expires_at
        }))),
        None => Err(ApiError::Unauthorized),
    }
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/session", tag = "session", responses((status = 200), (status = 401)))]
pub async fn current(me: CurrentStaff) -> Json<Value> {
    Json(json!({"staff": me.session.staff, "expires_at": me.session.expires_at}))
}

/// Log out: the token stops working at once.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204), (status = 401)))]
pub async fn logout(State(s): State<AppState>, me: CurrentStaff) -> ApiResult<StatusCode> {
    s.store.logout(&me.token).await?;
    Ok(StatusCode::NO_CONTENT)
}
