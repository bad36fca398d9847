//! Catalogue import and export, the outbox ("messages sent") and the audit-chain check.

use super::FormErrors;
use crate::auth::MaybeStaff;
use crate::pages::{error_page, render, Tr};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onewindow_store::AuditReport;

#[derive(Template)]
#[template(path = "admin/catalogue.html")]
struct CataloguePage {
    t: Tr,
    ok: Option<String>,
    errors: FormErrors,
    /// The county the files are for.
    county: String,
}

fn catalogue_page(t: Tr, county: String, errors: FormErrors) -> Response {
    let status = if errors.summary.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    (status, render(&CataloguePage { t, ok: None, errors, county })).into_response()
}

pub async fn catalogue(t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    let (t, me) = gate!(t, me);
    let county = me.county().map(|c| c.to_string()).unwrap_or_default();
    catalogue_page(t, county, FormErrors::default())
}

/// The import form posted without JavaScript: the file cannot be read here (no multipart), so say how.
pub async fn import_without_js(t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    let (t, me) = gate!(t, me);
    let county = me.county().map(|c| c.to_string()).unwrap_or_default();
    let errors = FormErrors {
        summary: Some(
            t.t(
                "导入需要浏览器启用 JavaScript；也可以在服务器上运行命令 onewindow catalog import 文件名",
                "Importing needs JavaScript in the browser; or run `onewindow catalog import FILE` on the server",
            )
            .to_string(),
        ),
        fields: Vec::new(),
    };
    catalogue_page(t, county, errors)
}

/// One outbox row as the page shows it.
struct Message {
    at: i64,
    channel: String,
    destination: String,
    text: String,
    status: String,
    attempts: i64,
}

fn message(v: &serde_json::Value) -> Message {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
    let payload = v.get("payload").cloned().unwrap_or_default();
    let text = ["text", "message", "content", "body"]
        .iter()
        .find_map(|k| payload.get(k).and_then(|x| x.as_str()).map(str::to_string))
        .unwrap_or_else(|| if payload.is_null() { String::new() } else { payload.to_string() });
    // (Sign-in and pick-up codes arrive masked: Store::outbox_recent.)
    let destination = s("destination");
    // Phone numbers are personal data: lists show them masked.
    let destination = if destination.chars().all(|c| c.is_ascii_digit() || c == '+') && destination.len() >= 7 {
        onewindow_core::mask::mask_phone(&destination)
    } else {
        destination
    };
    Message {
        at: v.get("created_at").and_then(|x| x.as_i64()).unwrap_or_default(),
        channel: s("channel"),
        destination,
        text,
        status: s("status"),
        attempts: v.get("attempts").and_then(|x| x.as_i64()).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "admin/messages.html")]
struct MessagesPage {
    t: Tr,
    messages: Vec<Message>,
}

pub async fn messages(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    let (t, _me) = gate!(t, me);
    match s.store.outbox_recent(200).await {
        Ok(rows) => render(&MessagesPage { t, messages: rows.iter().map(message).collect() }),
        Err(e) => error_page(t, e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    t: Tr,
    report: AuditReport,
}

pub async fn audit(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    let (t, _me) = gate!(t, me);
    match s.store.verify_audit().await {
        Ok(report) => render(&AuditPage { t, report }),
        Err(e) => error_page(t, e.into()),
    }
}
