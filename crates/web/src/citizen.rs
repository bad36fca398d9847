//! Who is calling on the citizen's side: a citizen session from the `ow_citizen` cookie (pages) or a
//! bearer token starting `c.` (apps). Staff and citizen sessions never stand in for each other.

use crate::auth::{cookie_value, CSRF_HEADER};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Method};
use onewindow_core::secret::same_secret;
use onewindow_store::Citizen;
use std::net::SocketAddr;

pub const CITIZEN_COOKIE: &str = "ow_citizen";

#[derive(Debug, Clone)]
pub struct CurrentCitizen {
    pub citizen: Citizen,
    pub token: String,
    pub via_cookie: bool,
}

impl CurrentCitizen {
    pub fn check_csrf(&self, token: &str) -> Result<(), ApiError> {
        if !self.via_cookie || same_secret(token, &self.citizen.csrf) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                zh: "表单已过期，请刷新页面后重试".into(),
                en: "the form expired; reload the page and retry".into(),
            })
        }
    }
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<CurrentCitizen>, ApiError> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|s| s.trim().to_string())
        .filter(|t| t.starts_with(onewindow_store::CITIZEN_TOKEN_PREFIX));
    let (token, via_cookie) = match bearer {
        Some(t) => (t, false),
        None => match cookie_value(parts, CITIZEN_COOKIE) {
            Some(t) => (t, true),
            None => return Ok(None),
        },
    };
    let Some(citizen) = state.store.citizen_session(&token).await? else { return Ok(None) };
    let me = CurrentCitizen { citizen, token, via_cookie };
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if via_cookie && unsafe_method && parts.uri.path().starts_with("/api/") {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        me.check_csrf(sent)?;
    }
    Ok(Some(me))
}

impl FromRequestParts<AppState> for CurrentCitizen {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        resolve(parts, state).await?.ok_or(ApiError::Unauthorized)
    }
}

/// A citizen if signed in.
pub struct MaybeCitizen(pub Option<CurrentCitizen>);

impl FromRequestParts<AppState> for MaybeCitizen {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(MaybeCitizen(resolve(parts, state).await?))
    }
}

/// The caller's network address (for rate limits): the peer of the connection.
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}
