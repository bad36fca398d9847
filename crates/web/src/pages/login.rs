//! Staff sign-in for pages: a server-side session in an HttpOnly cookie.

use super::{render, Tr};
use crate::auth::{MaybeStaff, SESSION_COOKIE};
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: Tr,
    error: Option<String>,
    username: String,
    next: String,
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only local paths: never an open redirect.
fn safe_next(n: Option<String>) -> String {
    n.filter(|n| super::is_local_path(n)).unwrap_or_else(|| "/admin".into())
}

pub async fn form(t: Tr, Query(q): Query<Next>) -> Response {
    render(&LoginPage { t, error: None, username: String::new(), next: safe_next(q.next) })
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn submit(State(s): State<AppState>, t: Tr, Form(f): Form<LoginForm>) -> Response {
    let next = safe_next(f.next);
    match s.store.login(&f.username, &f.password).await {
        Ok(Some((token, _))) => {
            let mut res = Redirect::to(&next).into_response();
            let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200");
            if let Ok(v) = cookie.parse() {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Ok(None) => {
            let error = Some(t.t("用户名或密码错误", "Wrong username or password").to_string());
            (StatusCode::UNAUTHORIZED, render(&LoginPage { t, error, username: f.username, next })).into_response()
        }
        Err(e) => super::error_page(t, e.into()),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(State(s): State<AppState>, MaybeStaff(me): MaybeStaff, Form(f): Form<CsrfForm>) -> Response {
    if let Some(me) = me {
        if me.check_csrf(&f.csrf).is_ok() {
            let _ = s.store.logout(&me.token).await;
        }
    }
    let mut res = Redirect::to("/").into_response();
    if let Ok(v) = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0").parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}
