//! Admin pages: the workbench, staff, the organisation (departments, places, zones, windows), catalogue
//! items, import and export, the outbox and the audit check. Each page follows the rules of its JSON API
//! twin in `crate::api` (admin role, jurisdiction); forms post with the session's CSRF token and answer
//! with redirect-after-post (`?ok=…`) or the same form again with the errors and the values kept.

/// Unwraps the admin gate or returns its answer (login redirect or 403 page).
macro_rules! gate {
    ($t:expr, $me:expr) => {
        match $crate::pages::admin::admin_only($t, $me) {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

/// Checks the CSRF token of a form post.
macro_rules! csrf {
    ($t:expr, $me:expr, $token:expr) => {
        if let Err(e) = $me.check_csrf($token) {
            return $crate::pages::error_page($t, e);
        }
    };
}

mod items;
mod org;
mod places;
mod staff;
mod system;

use super::{error_page, render, Tr};
use crate::auth::{CurrentStaff, MaybeStaff};
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use onewindow_core::place::PlaceCode;
use onewindow_store::{Department, Place, Role};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/staff", get(staff::list).post(staff::create))
        .route("/admin/staff/{id}", get(staff::edit).post(staff::update))
        .route("/admin/departments", get(org::departments).post(org::save_department))
        .route("/admin/places", get(places::places).post(places::save_place))
        .route("/admin/zones", get(org::zones).post(org::save_zone))
        .route("/admin/windows", get(places::windows).post(places::save_window))
        .route("/admin/items", get(items::list))
        .route("/admin/items/new", get(items::new_form).post(items::create))
        .route("/admin/items/{code}/edit", get(items::edit).post(items::update))
        .route("/admin/catalogue", get(system::catalogue).post(system::import_without_js))
        .route("/admin/messages", get(system::messages))
        .route("/admin/audit", get(system::audit))
}

#[allow(clippy::result_large_err)] // the error is the page to answer with
/// Any signed-in staff member; nobody else is sent to the login page and back.
fn signed_in(t: Tr, me: Option<CurrentStaff>) -> Result<(Tr, CurrentStaff), Response> {
    match me {
        Some(me) => Ok((t, me)),
        None => Err(crate::pages::to_login(&t.path)),
    }
}

#[allow(clippy::result_large_err)]
/// Admins only: others get a 403 page.
fn admin_only(t: Tr, me: Option<CurrentStaff>) -> Result<(Tr, CurrentStaff), Response> {
    let (t, me) = signed_in(t, me)?;
    if me.require(&[Role::Admin]).is_err() {
        return Err(error_page(t, ApiError::forbidden()));
    }
    Ok((t, me))
}

/// The query of a list page: a success message after a redirect, and what to edit.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    ok: Option<String>,
    subject: Option<String>,
    edit: Option<String>,
}

impl PageQuery {
    /// The success message named by `ok` (never text from the URL beyond a code-like subject).
    fn ok_message(&self, t: &Tr) -> Option<String> {
        let what = match self.ok.as_deref()? {
            "created" => t.t("已添加", "Added"),
            "saved" => t.t("已保存", "Saved"),
            _ => return None,
        };
        let subject: String = self
            .subject
            .as_deref()
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .take(60)
            .collect();
        Some(if subject.is_empty() { what.to_string() } else { format!("{what}：{subject}") })
    }
}

/// Where to go after a successful post.
fn saved(path: &str, ok: &str, subject: &str) -> Response {
    Redirect::to(&format!("{path}?ok={ok}&subject={}", crate::pages::encode_path(subject))).into_response()
}

pub(super) fn status(errors: &FormErrors) -> StatusCode {
    if errors.summary.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

pub(super) fn code_taken(what_zh: &str, what_en: &str, code: &str) -> ApiError {
    ApiError::Conflict {
        field: Some("code".into()),
        zh: format!("{what_zh}编码“{code}”已存在，请从列表中选择“编辑”来修改"),
        en: format!("{what_en} code \"{code}\" exists; use its Edit link to change it"),
    }
}

pub(super) fn outcome(path: &str, mode: &str, code: &str) -> Response {
    saved(path, if mode == "edit" { "saved" } else { "created" }, code)
}

/// Errors of a form: a summary for the alert box and each field's message for next to the field.
#[derive(Default)]
pub struct FormErrors {
    pub summary: Option<String>,
    pub fields: Vec<(String, String)>,
}

/// `materials[2].count` → `materials`: the form field an error belongs to.
fn form_field(f: &str) -> &str {
    f.split(['[', '.']).next().unwrap_or(f)
}

impl FormErrors {
    pub fn new(e: ApiError, en: bool) -> Self {
        let summary = Some(e.message(en));
        let pick = |zh: &str, eng: &str| if en { eng.to_string() } else { zh.to_string() };
        let fields = match &e {
            ApiError::Invalid(inv) => {
                inv.0.iter().map(|f| (form_field(&f.field).to_string(), pick(&f.zh, &f.en))).collect()
            }
            ApiError::Conflict { field: Some(f), zh, en: eng }
            | ApiError::BadRequest { field: Some(f), zh, en: eng } => {
                vec![(form_field(f).to_string(), pick(zh, eng))]
            }
            _ => Vec::new(),
        };
        let summary = match &e {
            ApiError::Invalid(inv) if inv.0.len() > 1 => Some(if en {
                format!("Please correct the {} marked fields", inv.0.len())
            } else {
                format!("请修正标出的 {} 处错误", inv.0.len())
            }),
            _ => summary,
        };
        FormErrors { summary, fields }
    }

    /// The message(s) for one field, if it has any.
    pub fn field(&self, name: &str) -> Option<String> {
        let msgs: Vec<&str> = self.fields.iter().filter(|(f, _)| f == name).map(|(_, m)| m.as_str()).collect();
        (!msgs.is_empty()).then(|| msgs.join("；"))
    }

    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(f, _)| f == name)
    }

    /// Every field message, for the summary list.
    pub fn list(&self) -> &[(String, String)] {
        &self.fields
    }
}

/// A role's name in the page's language.
pub fn role_name(r: Role, en: bool) -> &'static str {
    if !en {
        return r.zh();
    }
    match r {
        Role::Admin => "Administrator",
        Role::Leader => "Leader",
        Role::Guide => "Guide",
        Role::Consultant => "Consultant",
        Role::Acceptor => "Front-desk acceptor",
        Role::Approver => "Back-office approver",
        Role::VillageClerk => "Village clerk",
    }
}

/// A place's or department's name in the page's language.
pub fn local_name<'a>(zh: &'a str, en_name: &'a str, en: bool) -> &'a str {
    if en && !en_name.is_empty() {
        en_name
    } else {
        zh
    }
}

/// The counties an admin may manage departments of: the own county, or the counties under a city or
/// province admin's place.
async fn counties_of(s: &AppState, me: &CurrentStaff) -> Result<Vec<Place>, ApiError> {
    let places = s.store.places_within(&me.place()?).await?;
    let mut counties: Vec<Place> =
        places.into_iter().filter(|p| p.level == onewindow_core::place::PlaceLevel::County).collect();
    if counties.is_empty() {
        if let Ok(c) = me.county() {
            counties.push(s.store.place(c.as_str()).await?);
        }
    }
    Ok(counties)
}

/// The departments an admin may assign: those of the counties in their jurisdiction.
async fn departments_of(s: &AppState, me: &CurrentStaff) -> Result<Vec<Department>, ApiError> {
    let mut out = Vec::new();
    for c in counties_of(s, me).await? {
        out.extend(s.store.departments(Some(&PlaceCode::parse(&c.code)?)).await?);
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "admin/workbench.html")]
struct Index {
    t: Tr,
    display_name: String,
    role: String,
    username: String,
    place_name: String,
    is_admin: bool,
    /// The pages this member works in: (path, Chinese, English).
    links: Vec<(String, &'static str, &'static str)>,
}

/// Where each role works, so the workbench is the way in to every page of the hall.
fn work_links(role: Role, county: Option<&str>) -> Vec<(String, &'static str, &'static str)> {
    let v: Vec<(&'static str, &'static str, &'static str)> = match role {
        Role::Acceptor => vec![
            ("/console", "窗口叫号", "Window console"),
            ("/cases/new", "受理办件", "Accept a case"),
            ("/bundles/new", "一件事申请", "One-stop application"),
            ("/worklist", "待办", "Work queue"),
            ("/delivery", "统一出件", "Unified delivery"),
        ],
        Role::Approver => vec![("/worklist", "待办", "Work queue"), ("/hotline", "热线工单", "Hotline orders")],
        Role::VillageClerk => vec![
            ("/cases/new", "代办受理", "Accept for a villager"),
            ("/bundles/new", "一件事申请", "One-stop application"),
            ("/worklist", "待办", "Work queue"),
        ],
        Role::Guide => vec![("/guide", "导服取号", "Guide desk"), ("/kiosk", "自助取号机", "Kiosk")],
        Role::Consultant => vec![
            ("/hotline", "12345热线工单", "Hotline work orders"),
            ("/guide", "导服取号", "Guide desk"),
            ("/kiosk", "自助取号机", "Kiosk"),
        ],
        Role::Leader | Role::Admin => vec![
            ("/dashboard", "指挥中心驾驶舱", "Dashboard"),
            ("/stats/lobby", "大厅运行报表", "Lobby report"),
            ("/stats/trips", "跑动次数报表", "Trips report"),
            ("/cases/overdue", "超期办件", "Overdue cases"),
            ("/hotline/report", "热线报表", "Hotline report"),
        ],
    };
    let mut v: Vec<(String, &'static str, &'static str)> =
        v.into_iter().map(|(p, zh, en)| (p.to_string(), zh, en)).collect();
    if let Some(c) = county {
        v.push((format!("/display/{c}"), "叫号显示屏", "Hall display"));
    }
    v
}

async fn index(axum::extract::State(s): axum::extract::State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    let (t, me) = match signed_in(t, me) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let staff = me.staff();
    let place_name = s.store.place(&staff.place).await.map(|p| local_name(&p.name, &p.name_en, t.en).to_string());
    render(&Index {
        display_name: staff.display_name.clone(),
        role: role_name(staff.role, t.en).to_string(),
        username: staff.username.clone(),
        place_name: place_name.unwrap_or_else(|_| staff.place.clone()),
        is_admin: staff.role == Role::Admin,
        links: work_links(staff.role, me.county().ok().as_ref().map(|c| c.as_str())),
        t,
    })
}
