//! Server-rendered pages (askama), Chinese first with an English toggle. Assets are embedded in the
//! binary; there is no inline script or style, so the CSP can forbid them.

mod admin;
mod bundles;
mod cases;
mod catalogue;
mod chart;
mod dashboard;
mod exchange;
mod followups;
mod hotline;
mod lobby;
mod login;
mod portal;
mod portal_case;
mod simulate;

use crate::auth::{cookie_value, MaybeStaff};
use crate::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(catalogue::home))
        .route("/items", get(catalogue::list))
        .route("/items/{code}", get(catalogue::item))
        .route("/stats/coverage", get(catalogue::coverage))
        .route("/stats/lobby", get(catalogue::lobby_report))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", axum::routing::post(login::logout))
        .route("/lang", get(switch_lang))
        .route("/static/{file}", get(asset))
        .merge(admin::routes())
        .merge(bundles::routes())
        .merge(lobby::routes())
        .merge(cases::routes())
        .merge(exchange::routes())
        .merge(hotline::routes())
        .merge(portal::routes())
        .merge(followups::routes())
        .merge(dashboard::routes())
}

/// What every page needs: the language, who is signed in, the CSRF token for forms, the current path.
pub struct Tr {
    pub en: bool,
    pub user: Option<String>,
    pub csrf: String,
    pub path: String,
}

impl Tr {
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        if self.en {
            en
        } else {
            zh
        }
    }
    pub fn html_lang(&self) -> &'static str {
        if self.en {
            "en"
        } else {
            "zh-CN"
        }
    }
    pub fn other_lang(&self) -> &'static str {
        if self.en {
            "zh"
        } else {
            "en"
        }
    }
    /// A date-time in Asia/Shanghai (UTC+8, no daylight saving) from unix milliseconds.
    pub fn time(&self, ms: &i64) -> String {
        chrono::DateTime::from_timestamp_millis(*ms)
            .map(|t| (t + chrono::Duration::hours(8)).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    }
}

impl FromRequestParts<AppState> for Tr {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let en = cookie_value(parts, "lang").as_deref() == Some("en")
            || parts.uri.query().is_some_and(|q| q.split('&').any(|kv| kv == "lang=en"));
        let me = MaybeStaff::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        Ok(Tr {
            en,
            user: me.0.as_ref().map(|m| m.session.staff.display_name.clone()),
            csrf: me.0.map(|m| m.session.csrf).unwrap_or_default(),
            path,
        })
    }
}

/// Renders a template, or a plain error page if rendering fails.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面渲染失败 / the page failed to render").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub t: Tr,
    pub title: String,
    pub message: String,
}

pub fn not_found_page(path: &str) -> Response {
    let t = Tr { en: false, user: None, csrf: String::new(), path: path.to_string() };
    let page =
        MessagePage {
            t, title: "页面不存在 / Not found".into(), message: format!("{path} 不存在 / does not exist")
        };
    (StatusCode::NOT_FOUND, render(&page)).into_response()
}

/// An error shown as a page in the user's language.
pub fn error_page(t: Tr, e: crate::error::ApiError) -> Response {
    let status = e.status();
    let message = e.message(t.en);
    let title = t.t("出错了", "Something went wrong").to_string();
    (status, render(&MessagePage { t, title, message })).into_response()
}

/// Sends someone who is not signed in to the login page, coming back to `path` (the page they asked
/// for, query included) afterwards.
pub fn to_login(path: &str) -> Response {
    Redirect::to(&format!("/login?next={}", encode_path(path))).into_response()
}

/// Percent-encodes a local path for a query parameter (slashes kept, so `/admin` stays readable).
pub fn encode_path(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A path on this site and nothing else, so a redirect to it is never an open redirect: browsers read
/// `//host` and `/\host` as another site, so both are refused, as are control characters.
pub fn is_local_path(p: &str) -> bool {
    p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && !p.chars().any(|c| c.is_control())
}

#[derive(Deserialize)]
struct LangSwitch {
    to: String,
    back: Option<String>,
}

async fn switch_lang(Query(q): Query<LangSwitch>) -> Response {
    let lang = if q.to == "en" { "en" } else { "zh" };
    let back = q.back.filter(|b| is_local_path(b)).unwrap_or_else(|| "/".into());
    let back = back.replace("lang=en", "").trim_end_matches(['?', '&']).to_string();
    let mut res = Redirect::to(if back.is_empty() { "/" } else { &back }).into_response();
    if let Ok(v) = format!("lang={lang}; Path=/; Max-Age=31536000; SameSite=Lax").parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (ct, body) = match file.as_str() {
        "app.css" => ("text/css; charset=utf-8", APP_CSS),
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "lobby.css" => ("text/css; charset=utf-8", include_str!("../../static/lobby.css")),
        "lobby.js" => ("text/javascript; charset=utf-8", include_str!("../../static/lobby.js")),
        "cases.css" => ("text/css; charset=utf-8", include_str!("../../static/cases.css")),
        "cases.js" => ("text/javascript; charset=utf-8", include_str!("../../static/cases.js")),
        "my.css" => ("text/css; charset=utf-8", include_str!("../../static/my.css")),
        _ => return not_found_page(&format!("/static/{file}")),
    };
    ([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::is_local_path;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        for ok in ["/", "/items?q=社保", "/admin"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example", "evil", "/\tx", ""] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }
}
