//! Admin pages: staff, departments, places, zones, windows, items, catalogue import and export.

use super::{render, Tr};
use crate::auth::MaybeStaff;
use crate::AppState;
use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin", get(index))
}

#[derive(Template)]
#[template(path = "admin/index.html")]
struct Index {
    t: Tr,
    role: String,
}

async fn index(t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    let Some(me) = me else { return Redirect::to("/login?next=/admin").into_response() };
    render(&Index { t, role: me.staff().role.zh().to_string() })
}
