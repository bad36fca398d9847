//! Who is calling: a staff session from a bearer token (API clients) or a cookie (pages). Cookie
//! sessions must show their CSRF token on every unsafe request; bearer tokens cannot be sent by a
//! browser on its own, so they need none.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use onewindow_core::place::PlaceCode;
use onewindow_core::secret::same_secret;
use onewindow_store::{Role, SessionInfo, Staff};

pub const SESSION_COOKIE: &str = "ow_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct CurrentStaff {
    pub session: SessionInfo,
    pub token: String,
    /// True when the session came from a cookie (then forms must carry the CSRF token).
    pub via_cookie: bool,
}

impl CurrentStaff {
    pub fn staff(&self) -> &Staff {
        &self.session.staff
    }

    /// Refuses unless the member has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.session.staff.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                zh: format!("需要以下角色之一：{}", roles.iter().map(|r| r.zh()).collect::<Vec<_>>().join("、")),
                en: format!(
                    "requires one of the roles: {}",
                    roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(", ")
                ),
            })
        }
    }

    /// The member's own place: the root of what they may see and change.
    pub fn place(&self) -> Result<PlaceCode, ApiError> {
        PlaceCode::parse(&self.session.staff.place).map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// The county the member works in (their own place's county).
    pub fn county(&self) -> Result<PlaceCode, ApiError> {
        self.place()?.county().ok_or_else(|| ApiError::Forbidden {
            zh: "该账号不属于任何县".into(),
            en: "this account belongs to no county".into(),
        })
    }

    /// Refuses unless `place` lies within the member's jurisdiction.
    pub fn require_within(&self, place: &PlaceCode) -> Result<(), ApiError> {
        if place.is_within(&self.place()?) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                zh: format!("区划 {place} 不在您的管辖范围内"),
                en: format!("place {place} is outside your jurisdiction"),
            })
        }
    }

    /// For form posts: the token must match the session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), ApiError> {
        if !self.via_cookie || same_secret(token, &self.session.csrf) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                zh: "表单已过期，请刷新页面后重试".into(),
                en: "the form expired; reload the page and retry".into(),
            })
        }
    }
}

pub fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts.headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(
        |kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        },
    )
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<CurrentStaff>, ApiError> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|s| s.trim().to_string());
    let (token, via_cookie) = match bearer {
        Some(t) => (t, false),
        None => match cookie_value(parts, SESSION_COOKIE) {
            Some(t) => (t, true),
            None => return Ok(None),
        },
    };
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let Some(session) = state.store.session(&token).await? else { return Ok(None) };
    let me = CurrentStaff { session, token, via_cookie };
    // JSON calls from pages carry the token in a header; form posts are checked by their handlers.
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let is_api = parts.uri.path().starts_with("/api/");
    if via_cookie && unsafe_method && is_api {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        me.check_csrf(sent)?;
    }
    Ok(Some(me))
}

impl FromRequestParts<AppState> for CurrentStaff {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        resolve(parts, state).await?.ok_or(ApiError::Unauthorized)
    }
}

/// A staff member if signed in; nobody otherwise.
pub struct MaybeStaff(pub Option<CurrentStaff>);

impl FromRequestParts<AppState> for MaybeStaff {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(MaybeStaff(resolve(parts, state).await?))
    }
}

/// A signed-in admin. As an extractor it refuses before the body is read, so a caller without the
/// role gets 403 whatever they sent.
pub struct Admin(pub CurrentStaff);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let me = CurrentStaff::from_request_parts(parts, state).await?;
        me.require(&[Role::Admin])?;
        Ok(Admin(me))
    }
}
