//! Case pages (前台综合受理、后台分类审批、统一窗口出件): acceptance at a window or a village centre, the
//! printable receipt (受理回执) and one-time notice (一次性告知书), the case page with its timeline and the
//! actions the flow allows the viewer, the back office's work queues, the unified delivery window, the
//! citizen's tracking page, and the leaders' overdue list and trip report.
//!
//! The server renders what it reads from the store (the same calls the JSON API makes); every change is
//! a `fetch` from `static/cases.js` to the JSON API (`crate::api::cases`) with the page's CSRF token in
//! `x-csrf-token`, after which the page reloads. No inline script or style. See docs/cases.md.

use super::{error_page, render, Tr};
use crate::api::cases::case_actor;
use crate::auth::{CurrentStaff, MaybeStaff};
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use onewindow_core::flow::{Flow, Holder};
use onewindow_core::place::{PlaceCode, PlaceLevel};
use onewindow_store::{CaseView, Department, Role, TripReport, WorkView};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cases/new", get(new_case))
        .route("/cases/overdue", get(overdue))
        .route("/cases/{id}", get(case_page))
        .route("/cases/{id}/receipt", get(receipt))
        .route("/refusals/{id}", get(refusal))
        .route("/worklist", get(worklist))
        .route("/delivery", get(delivery))
        .route("/track/{token}", get(track))
        .route("/stats/trips", get(trips))
}

// --- shared ----------------------------------------------------------------------------------------

/// The staff links of the cases layout, by the viewer's role.
pub struct Nav {
    /// Role code of the signed-in member; empty on public pages.
    pub role: String,
    /// Which link is the current page: accept, worklist, delivery, overdue, trips or nothing.
    pub current: &'static str,
}

impl Nav {
    pub(crate) fn of(me: &CurrentStaff, current: &'static str) -> Nav {
        Nav { role: me.staff().role.code().to_string(), current }
    }
    fn public() -> Nav {
        Nav { role: String::new(), current: "" }
    }
    pub fn staff(&self) -> bool {
        !self.role.is_empty()
    }
    pub fn accept(&self) -> bool {
        matches!(self.role.as_str(), "acceptor" | "village_clerk")
    }
    pub fn delivery(&self) -> bool {
        self.role == "acceptor"
    }
    pub fn work(&self) -> bool {
        matches!(self.role.as_str(), "acceptor" | "approver" | "village_clerk")
    }
    pub fn leader(&self) -> bool {
        matches!(self.role.as_str(), "leader" | "admin")
    }
    /// Follow-ups of dissatisfied ratings: approvers (their department's) and leaders.
    pub fn followups(&self) -> bool {
        matches!(self.role.as_str(), "approver" | "leader" | "admin")
    }
    pub fn is(&self, link: &str) -> bool {
        self.current == link
    }
}

/// Staff with one of `roles` (any staff when empty); nobody signed in goes to the login page and back,
/// others get a 403 page.
#[allow(clippy::result_large_err)] // the error is the page to answer with
pub(crate) fn staff_only(t: Tr, me: Option<CurrentStaff>, roles: &[Role]) -> Result<(Tr, CurrentStaff), Response> {
    let Some(me) = me else {
        return Err(super::to_login(&t.path));
    };
    if !roles.is_empty() {
        if let Err(e) = me.require(roles) {
            return Err(error_page(t, e));
        }
    }
    Ok((t, me))
}

fn parse_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| ApiError::not_found(format!("{what} {raw}")))
}

fn department_label(t: &Tr, d: &Department) -> String {
    if t.en && !d.name_en.is_empty() {
        d.name_en.clone()
    } else {
        d.name.clone()
    }
}

/// A due date's badge: yellow when at most one working day is left, red when overdue.
pub struct Badge {
    /// CSS class: due-ok, due-soon, due-overdue, due-paused or due-closed.
    pub class: &'static str,
    pub label: String,
}

fn due_badge(t: &Tr, v: &CaseView) -> Badge {
    match v.urgency.as_str() {
        "due_soon" => Badge {
            class: "due-soon",
            label: match v.working_days_left {
                Some(0) => t.t("今日到期", "Due today").to_string(),
                _ => t.t("即将到期", "Due soon").to_string(),
            },
        },
        "overdue" => Badge {
            class: "due-overdue",
            label: match v.working_days_left {
                Some(d) if d < 0 => {
                    if t.en {
                        format!("Overdue by {} working day(s)", -d)
                    } else {
                        format!("已超期{}个工作日", -d)
                    }
                }
                _ => t.t("已超期", "Overdue").to_string(),
            },
        },
        "paused" => Badge { class: "due-paused", label: t.t("计时暂停", "Clock paused").to_string() },
        "closed" => Badge { class: "due-closed", label: t.t("已办结", "Closed").to_string() },
        _ => Badge {
            class: "due-ok",
            label: match v.working_days_left {
                Some(d) if t.en => format!("{d} working day(s) left"),
                Some(d) => format!("剩{d}个工作日"),
                None => String::new(),
            },
        },
    }
}

fn state_label(t: &Tr, flow: &Flow, code: &str) -> String {
    match flow.state(code) {
        Some(s) if t.en && !s.name_en.is_empty() => s.name_en.clone(),
        Some(s) => s.name.clone(),
        None => code.to_string(),
    }
}

fn action_label(t: &Tr, flow: &Flow, code: &str, fallback: &str) -> String {
    match flow.action(code) {
        Some(a) if t.en && !a.name_en.is_empty() => a.name_en.clone(),
        Some(a) => a.name.clone(),
        None => match code {
            "accept" => t.t("受理", "Accepted").to_string(),
            "trip" => t.t("记录到场", "Visit recorded").to_string(),
            _ => fallback.to_string(),
        },
    }
}

fn channel_label(t: &Tr, c: &str) -> String {
    match c {
        "window" => t.t("窗口受理", "At a window"),
        "village" => t.t("村（社区）代办", "By the village clerk"),
        "online" => t.t("网上申报", "Online"),
        "api" => t.t("系统对接", "By interface"),
        other => other,
    }
    .to_string()
}

fn material_status_label(t: &Tr, s: &str) -> String {
    match s {
        "received" => t.t("已收取", "Received"),
        "missing" => t.t("待补齐", "Missing"),
        "verified" => t.t("已核验（数据共享）", "Verified (data exchange)"),
        other => other,
    }
    .to_string()
}

/// One line of a case's materials checklist, labelled.
pub struct MaterialRow {
    pub name: String,
    pub key: bool,
    pub original: bool,
    pub count: u32,
    pub status: String,
    pub status_label: String,
    pub supplied_at: Option<i64>,
    pub late: bool,
}

/// One row of the timeline, labelled.
pub struct Entry {
    pub code: String,
    pub what: String,
    pub who: String,
    pub at: i64,
    /// The state after, when the action moved the case.
    pub to: String,
    pub comment: String,
    /// What the action carried: the supplied material, the department forwarded to, the carrier…
    pub detail: String,
}

/// An action the viewer may take now, with the fields it needs.
pub struct ActionForm {
    pub code: String,
    pub name: String,
    pub needs_comment: bool,
    /// forward, supply, ship, collect or empty: which extra fields the form shows.
    pub fields: &'static str,
    /// primary (moves the case on), danger (reject, refuse, return) or secondary.
    pub style: &'static str,
    /// Shown folded (a summary to open): refusals and forwarding, which need a reason.
    pub folded: bool,
}

/// A case as the pages show it.
pub struct CaseVm {
    pub v: CaseView,
    pub state: String,
    pub department: String,
    pub channel: String,
    pub due: Badge,
    pub materials: Vec<MaterialRow>,
    pub missing: Vec<String>,
    pub actions: Vec<ActionForm>,
    pub timeline: Vec<Entry>,
    /// How the result left, in words, or empty.
    pub delivery: String,
    /// Other departments of the county (for "forward").
    pub departments: Vec<(String, String)>,
    /// Who claimed the case, by display name.
    pub assignee_name: String,
    /// Files of the online application, and the delivery the citizen chose (online cases).
    pub files: Vec<onewindow_store::FileView>,
    pub choice: Option<onewindow_store::DeliveryChoice>,
}

impl CaseVm {
    /// The citizen's chosen delivery in words (staff pages), or empty.
    pub fn choice_text(&self, en: &bool) -> String {
        match &self.choice {
            None => String::new(),
            Some(c) => match (c.method.as_str(), *en) {
                ("express", false) => format!("免费快递：{} {}", c.recipient, c.address),
                ("express", true) => format!("Free express: {} {}", c.recipient, c.address),
                ("pickup", false) => "窗口领取".into(),
                ("pickup", true) => "Collect at the window".into(),
                (_, false) => "电子送达".into(),
                (_, true) => "Electronic".into(),
            },
        }
    }
    /// The express address the citizen gave, for the shipping form.
    pub fn express_address(&self) -> String {
        match &self.choice {
            Some(c) if c.method == "express" => format!("{}（{}）", c.address, c.recipient),
            _ => String::new(),
        }
    }
}

impl CaseVm {
    pub fn closed(&self) -> bool {
        self.v.closed_at.is_some()
    }
    pub fn has_action(&self, code: &str) -> bool {
        self.actions.iter().any(|a| a.code == code)
    }
    pub fn supplement_due(&self) -> &str {
        self.v.supplement_due_on.as_deref().unwrap_or_default()
    }
    pub fn assignee(&self) -> &str {
        &self.assignee_name
    }
    pub fn phone(&self) -> &str {
        self.v.applicant_phone.as_deref().unwrap_or_default()
    }
    pub fn id_number(&self) -> &str {
        self.v.applicant_id_number.as_deref().unwrap_or_default()
    }
    pub fn at_window(&self) -> bool {
        self.v.holder == Holder::Window
    }
}

/// Usernames → display names, for the timeline's "who".
async fn staff_names(s: &AppState, county: &PlaceCode) -> HashMap<String, String> {
    s.store
        .staff_list(Some(county))
        .await
        .map(|l| l.into_iter().map(|m| (m.username, m.display_name)).collect())
        .unwrap_or_default()
}

/// Builds the page model of a case. `names` maps usernames to display names (empty for the public page,
/// which shows no names at all).
pub(crate) async fn case_vm(
    s: &AppState,
    t: &Tr,
    v: CaseView,
    names: Option<&HashMap<String, String>>,
) -> Result<CaseVm, ApiError> {
    let flow = s.store.flow(&v.flow_code, v.flow_version).await?;
    let county = PlaceCode::parse(&v.place)?.county();
    let all_departments = match &county {
        Some(c) => s.store.departments(Some(c)).await?,
        None => Vec::new(),
    };
    let dept_name = |code: &str| {
        all_departments.iter().find(|d| d.code == code).map(|d| department_label(t, d)).unwrap_or_else(|| code.into())
    };
    let department = all_departments
        .iter()
        .find(|d| d.code == v.department)
        .map(|d| department_label(t, d))
        .unwrap_or_else(|| v.department_name.clone());
    let materials = v
        .materials
        .iter()
        .map(|m| MaterialRow {
            name: m.name.clone(),
            key: m.key,
            original: m.original,
            count: m.count,
            status: m.status.clone(),
            status_label: material_status_label(t, &m.status),
            supplied_at: m.supplied_at,
            late: m.late,
        })
        .collect();
    let missing = v.materials.iter().filter(|m| m.status == "missing").map(|m| m.name.clone()).collect();
    let mut actions = v
        .actions
        .iter()
        // Supplying needs something missing; the flow allows it whether or not anything is.
        .filter(|a| a.code != "supply" || v.materials.iter().any(|m| m.status == "missing"))
        .map(|a| ActionForm {
            code: a.code.clone(),
            name: action_label(t, &flow, &a.code, &a.name),
            needs_comment: a.needs_comment,
            fields: match a.code.as_str() {
                "forward" => "forward",
                "supply" => "supply",
                "ship" => "ship",
                "collect" => "collect",
                _ => "",
            },
            style: match a.code.as_str() {
                "reject" | "refuse" | "return" | "cancel" => "danger",
                c if flow.action(c).is_some_and(|x| x.to != onewindow_core::flow::SAME) => "primary",
                _ => "secondary",
            },
            folded: a.needs_comment,
        })
        .collect::<Vec<ActionForm>>();
    // Claim first, then what moves the case on, then the rest, then refusals.
    actions.sort_by_key(|a| match (a.code.as_str(), a.style) {
        ("claim", _) => 0,
        (_, "primary") => 1,
        (_, "secondary") => 2,
        _ => 3,
    });
    let timeline = v
        .timeline
        .iter()
        .map(|e| {
            let detail = match e.action.as_str() {
                "accept" => {
                    let mut d = channel_label(t, e.data["channel"].as_str().unwrap_or_default());
                    let missing: Vec<&str> = e.data["missing"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    if !missing.is_empty() {
                        d.push_str(if t.en {
                            "; tolerant acceptance, missing: "
                        } else {
                            "；容缺受理，待补："
                        });
                        d.push_str(&missing.join(if t.en { ", " } else { "、" }));
                    }
                    d
                }
                "supply" => e.data["material"].as_str().unwrap_or_default().to_string(),
                "forward" => {
                    let code = e.data["department"].as_str().unwrap_or_default();
                    format!("{} {}", t.t("转至", "to"), dept_name(code))
                }
                "ship" => format!(
                    "{} {}",
                    e.data["carrier"].as_str().unwrap_or_default(),
                    e.data["tracking"].as_str().unwrap_or_default()
                ),
                "trip" => match e.data["trips"].as_i64() {
                    Some(n) if t.en => format!("visit no. {n}"),
                    Some(n) => format!("第{n}次到场"),
                    None => String::new(),
                },
                _ => String::new(),
            };
            let who = match names {
                Some(n) => n.get(&e.actor).cloned().unwrap_or_else(|| e.actor.clone()),
                None => String::new(),
            };
            Entry {
                code: e.action.clone(),
                what: action_label(t, &flow, &e.action, &e.action_name),
                who,
                at: e.at,
                to: if e.to_state != e.from_state { state_label(t, &flow, &e.to_state) } else { String::new() },
                comment: e.comment.clone(),
                detail: detail.trim().to_string(),
            }
        })
        .collect();
    let delivery = match &v.delivery {
        Some(d) => match d["method"].as_str() {
            Some("pickup") => t.t("窗口凭取件码领取", "Collected at the window with the pick-up code").to_string(),
            Some("express") => format!(
                "{}：{} {}",
                t.t("免费快递", "Free express"),
                d["carrier"].as_str().unwrap_or_default(),
                d["tracking"].as_str().unwrap_or_default()
            ),
            Some("electronic") => t.t("电子证照送达", "Delivered electronically").to_string(),
            _ => String::new(),
        },
        None => String::new(),
    };
    let departments = all_departments
        .iter()
        .filter(|d| d.code != v.department)
        .map(|d| (d.code.clone(), department_label(t, d)))
        .collect();
    let assignee_name = match (&v.assignee, names) {
        (Some(a), Some(n)) => n.get(a).cloned().unwrap_or_else(|| a.clone()),
        _ => String::new(),
    };
    let (files, choice) = if v.channel == "online" {
        (s.store.case_files(v.id).await?, s.store.delivery_choice(v.id).await?)
    } else {
        (Vec::new(), None)
    };
    Ok(CaseVm {
        files,
        choice,
        assignee_name,
        state: state_label(t, &flow, &v.state),
        channel: channel_label(t, &v.channel),
        due: due_badge(t, &v),
        department,
        materials,
        missing,
        actions,
        timeline,
        delivery,
        departments,
        v,
    })
}

/// Loads a case as `me` sees it.
async fn load_case(s: &AppState, t: &Tr, me: &CurrentStaff, id: i64) -> Result<CaseVm, ApiError> {
    let by = case_actor(me)?;
    let v = s.store.case_for(id, Some(&by)).await?;
    let names = staff_names(s, &me.county()?).await;
    Ok(not_again(case_vm(s, t, v, Some(&names)).await?, me))
}

/// Claiming a case one has already claimed changes nothing: no button for it.
fn not_again(mut c: CaseVm, me: &CurrentStaff) -> CaseVm {
    if c.v.assignee.as_deref() == Some(me.staff().username.as_str()) {
        c.actions.retain(|a| a.code != "claim");
    }
    c
}

/// The office a printed sheet names: "常山县行政服务中心" for the county, "天马街道便民服务中心" below it.
async fn office_name(s: &AppState, t: &Tr, place: &str) -> String {
    let p = match s.store.place(place).await {
        Ok(p) => p,
        Err(_) => return t.t("行政服务中心", "Administrative Service Centre").to_string(),
    };
    let county = PlaceCode::parse(place).map(|c| c.level() == PlaceLevel::County).unwrap_or(true);
    let name = if t.en && !p.name_en.is_empty() { p.name_en } else { p.name };
    match (county, t.en) {
        (true, false) => format!("{name}行政服务中心"),
        (false, false) => format!("{name}便民服务中心"),
        (true, true) => format!("{name} Administrative Service Centre"),
        (false, true) => format!("{name} Service Centre"),
    }
}

fn public_base(s: &AppState) -> String {
    s.lobby.public_url.trim_end_matches('/').to_string()
}

// --- acceptance ------------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct NewCaseQuery {
    window: Option<String>,
    item: Option<String>,
}

#[derive(Template)]
#[template(path = "cases/new.html")]
struct NewCasePage {
    t: Tr,
    nav: Nav,
    /// The window from the address (the script may fill in the one this computer remembers).
    window: String,
    /// Windows of the hall, for the list next to the field.
    windows: Vec<(String, String)>,
    /// A village clerk accepts for the village (不出村): no window, no trip.
    clerk: bool,
    item: String,
    place_name: String,
}

/// Accept a case: the window serving the citizen's ticket, the item, its materials checklist, the
/// applicant, tolerant acceptance; or refuse with the one-time notice.
async fn new_case(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<NewCaseQuery>,
) -> Response {
    let (t, me) = match staff_only(t, me, &[Role::Acceptor, Role::VillageClerk]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let clerk = me.staff().role == Role::VillageClerk;
    let windows = match me.county() {
        Ok(c) if !clerk => s
            .store
            .windows(Some(&c))
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|w| w.active && w.place == c.as_str())
            .map(|w| (w.code, w.name))
            .collect(),
        _ => Vec::new(),
    };
    let window = if clerk { String::new() } else { q.window.unwrap_or_default().trim().to_uppercase() };
    let place_name = s.store.place(&me.staff().place).await.map(|p| p.name).unwrap_or_default();
    render(&NewCasePage {
        nav: Nav::of(&me, "accept"),
        t,
        window,
        windows,
        clerk,
        item: q.item.unwrap_or_default().trim().to_string(),
        place_name,
    })
}

#[derive(Template)]
#[template(path = "cases/receipt.html")]
struct ReceiptPage {
    t: Tr,
    nav: Nav,
    c: CaseVm,
    track_url: String,
    place_name: String,
    accepted_by: String,
}

fn case_link(l: &CaseLine) -> String {
    format!("/cases/{}", l.id)
}

impl WorklistPage {
    fn case_href(&self, l: &CaseLine) -> String {
        case_link(l)
    }
}

impl OverduePage {
    fn case_href(&self, l: &CaseLine) -> String {
        case_link(l)
    }
}

impl DeliveryPage {
    fn case_href(&self, l: &CaseLine) -> String {
        format!("/delivery?number={}", l.number)
    }
}

impl ReceiptPage {
    fn received(&self) -> Vec<&MaterialRow> {
        self.c.materials.iter().filter(|m| m.status != "missing").collect()
    }
    fn to_supply(&self) -> Vec<&MaterialRow> {
        self.c.materials.iter().filter(|m| m.status == "missing").collect()
    }
}

/// The printable receipt (受理回执).
async fn receipt(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff, Path(id): Path<String>) -> Response {
    let (t, me) = match staff_only(t, me, &[]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = match parse_id(&id, "case") {
        Ok(i) => i,
        Err(e) => return error_page(t, e),
    };
    match load_case(&s, &t, &me, id).await {
        Ok(c) => {
            let track_url = format!("{}/track/{}", public_base(&s), c.v.track_token);
            let place_name = office_name(&s, &t, &c.v.place).await;
            let names = staff_names(&s, &me.county().unwrap_or_else(|_| s.default_place.clone())).await;
            let accepted_by = names.get(&c.v.accepted_by).cloned().unwrap_or_else(|| c.v.accepted_by.clone());
            render(&ReceiptPage { nav: Nav::of(&me, ""), t, c, track_url, place_name, accepted_by })
        }
        Err(e) => error_page(t, e),
    }
}

/// A material on the one-time notice.
pub struct NoticeLine {
    pub name: String,
    pub key: bool,
    pub original: bool,
    pub count: u32,
    /// Still needed (as opposed to the rest of the item's list, shown for reference).
    pub needed: bool,
}

#[derive(Template)]
#[template(path = "cases/refusal.html")]
struct RefusalPage {
    t: Tr,
    nav: Nav,
    id: i64,
    item_code: String,
    item_name: String,
    department: String,
    reason: String,
    lines: Vec<NoticeLine>,
    legal_basis: String,
    promised_days: u32,
    at: i64,
    place_name: String,
}

impl RefusalPage {
    fn needed(&self) -> Vec<&NoticeLine> {
        self.lines.iter().filter(|l| l.needed).collect()
    }
}

/// The printable one-time notice (一次性告知书): every material still needed, at once.
async fn refusal(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff, Path(id): Path<String>) -> Response {
    let (t, me) = match staff_only(t, me, &[]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = match parse_id(&id, "refusal") {
        Ok(i) => i,
        Err(e) => return error_page(t, e),
    };
    let (item, reason, missing, at) = match s.store.refusal(id).await {
        Ok(r) => r,
        Err(e) => return error_page(t, e.into()),
    };
    let stored = s.store.item(item.code.as_str()).await.ok();
    // A notice of another county's item is not this member's to read.
    if stored.as_ref().is_some_and(|i| me.county().map(|c| c.as_str() != i.place).unwrap_or(true)) {
        return error_page(t, ApiError::not_found(format!("refusal {id}")));
    }
    let department = stored.as_ref().map(|i| i.department_name.clone()).unwrap_or_else(|| item.department.clone());
    let mut lines: Vec<NoticeLine> = item
        .materials
        .iter()
        .map(|m| NoticeLine {
            name: m.name.clone(),
            key: m.key,
            original: m.original,
            count: m.count,
            needed: missing.iter().any(|x| x == &m.name),
        })
        .collect();
    // A material named on the notice but no longer in the item's list is still shown.
    for m in &missing {
        if !lines.iter().any(|l| &l.name == m) {
            lines.push(NoticeLine { name: m.clone(), key: false, original: false, count: 1, needed: true });
        }
    }
    let place_name = office_name(&s, &t, &me.staff().place).await;
    render(&RefusalPage {
        nav: Nav::of(&me, ""),
        t,
        id,
        item_code: item.code.to_string(),
        item_name: item.name.clone(),
        department,
        reason,
        lines,
        legal_basis: item.legal_basis.clone(),
        promised_days: item.promised_days.get(),
        at,
        place_name,
    })
}

// --- the case page ---------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "cases/case.html")]
struct CasePage {
    t: Tr,
    nav: Nav,
    c: CaseVm,
    /// The viewer may record a visit (acceptors, village clerks, approvers, guides) while the case is open.
    can_trip: bool,
}

/// A case for staff: header, materials, timeline, the actions the flow allows the viewer, visits.
async fn case_page(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff, Path(id): Path<String>) -> Response {
    let (t, me) = match staff_only(t, me, &[]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = match parse_id(&id, "case") {
        Ok(i) => i,
        Err(e) => return error_page(t, e),
    };
    match load_case(&s, &t, &me, id).await {
        Ok(c) => {
            let can_trip = c.v.closed_at.is_none()
                && matches!(me.staff().role, Role::Acceptor | Role::VillageClerk | Role::Approver | Role::Guide);
            render(&CasePage { nav: Nav::of(&me, ""), t, c, can_trip })
        }
        Err(e) => error_page(t, e),
    }
}

// --- work queues -----------------------------------------------------------------------------------

/// One line of a case list.
pub struct CaseLine {
    pub id: i64,
    pub number: String,
    pub item: String,
    pub state: String,
    pub department: String,
    pub due_on: String,
    pub due: Badge,
    pub applicant: String,
    pub assignee: String,
}

async fn lines(s: &AppState, t: &Tr, list: Vec<CaseView>) -> Vec<CaseLine> {
    let mut out = Vec::with_capacity(list.len());
    let names: HashMap<String, String> = s
        .store
        .staff_list(None)
        .await
        .map(|l| l.into_iter().map(|m| (m.username, m.display_name)).collect())
        .unwrap_or_default();
    let departments = s.store.departments(None).await.unwrap_or_default();
    for v in list {
        let state = match s.store.flow(&v.flow_code, v.flow_version).await {
            Ok(f) => state_label(t, &f, &v.state),
            Err(_) => v.state_name.clone(),
        };
        let department = departments
            .iter()
            .find(|d| d.code == v.department && v.place.starts_with(&d.place))
            .map(|d| department_label(t, d))
            .unwrap_or_else(|| v.department_name.clone());
        out.push(CaseLine {
            id: v.id,
            due: due_badge(t, &v),
            number: v.number,
            item: v.item_name,
            state,
            department,
            due_on: v.due_on,
            applicant: v.applicant_name,
            assignee: v.assignee.map(|a| names.get(&a).cloned().unwrap_or(a)).unwrap_or_default(),
        });
    }
    out
}

pub struct Tab {
    pub view: &'static str,
    pub label: &'static str,
    pub count: usize,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "cases/worklist.html")]
struct WorklistPage {
    t: Tr,
    nav: Nav,
    tabs: Vec<Tab>,
    cases: Vec<CaseLine>,
    department: String,
}

#[derive(Deserialize)]
pub struct ViewQuery {
    view: Option<String>,
}

/// The member's work queue, in tabs: all, to claim, mine, due soon, overdue.
async fn worklist(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<ViewQuery>,
) -> Response {
    let (t, me) = match staff_only(t, me, &[]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let wanted = q.view.as_deref().unwrap_or("all");
    let Some(view) = WorkView::parse(wanted) else {
        return error_page(
            t,
            ApiError::bad(
                Some("view"),
                "view 应为 all、new、mine、due_soon 或 overdue",
                "view must be all, new, mine, due_soon or overdue",
            ),
        );
    };
    let by = match case_actor(&me) {
        Ok(b) => b,
        Err(e) => return error_page(t, e),
    };
    let mut tabs = Vec::new();
    let mut chosen = Vec::new();
    for (code, w, label) in [
        ("all", WorkView::All, t.t("全部", "All")),
        ("new", WorkView::New, t.t("待认领", "To claim")),
        ("mine", WorkView::Mine, t.t("我的", "Mine")),
        ("due_soon", WorkView::DueSoon, t.t("即将到期", "Due soon")),
        ("overdue", WorkView::Overdue, t.t("已超期", "Overdue")),
    ] {
        let list = match s.store.worklist(&by, w).await {
            Ok(l) => l,
            Err(e) => return error_page(t, e.into()),
        };
        tabs.push(Tab { view: code, label, count: list.len(), current: w == view });
        if w == view {
            chosen = list;
        }
    }
    let cases = lines(&s, &t, chosen).await;
    let department = match me.staff().department_id {
        Some(id) => s
            .store
            .departments(None)
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|d| d.id == id)
            .map(|d| department_label(&t, &d))
            .unwrap_or_default(),
        None => String::new(),
    };
    render(&WorklistPage { nav: Nav::of(&me, "worklist"), t, tabs, cases, department })
}

#[derive(Template)]
#[template(path = "cases/overdue.html")]
struct OverduePage {
    t: Tr,
    nav: Nav,
    cases: Vec<CaseLine>,
}

/// Every overdue open case of the leader's jurisdiction.
async fn overdue(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    let (t, me) = match staff_only(t, me, &[Role::Leader, Role::Admin]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let place = match me.place() {
        Ok(p) => p,
        Err(e) => return error_page(t, e),
    };
    match s.store.overdue_cases(&place).await {
        Ok(list) => {
            let cases = lines(&s, &t, list).await;
            render(&OverduePage { nav: Nav::of(&me, "overdue"), t, cases })
        }
        Err(e) => error_page(t, e.into()),
    }
}

// --- unified delivery ------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct NumberQuery {
    number: Option<String>,
}

#[derive(Template)]
#[template(path = "cases/delivery.html")]
struct DeliveryPage {
    t: Tr,
    nav: Nav,
    number: String,
    c: Option<CaseVm>,
    error: Option<String>,
    /// Results waiting at the window (the acceptor's work at the delivery window).
    ready: Vec<CaseLine>,
}

/// The unified delivery window (统一窗口出件): find a case by number, supply what is missing, hand the
/// result over with the pick-up code or ship it by free express.
async fn delivery(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<NumberQuery>,
) -> Response {
    let (t, me) = match staff_only(t, me, &[Role::Acceptor]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let by = match case_actor(&me) {
        Ok(b) => b,
        Err(e) => return error_page(t, e),
    };
    let number = q.number.unwrap_or_default().trim().to_string();
    let (mut c, mut error) = (None, None);
    if !number.is_empty() {
        if number.chars().count() > 40 {
            error = Some(t.t("办件号格式不正确", "That is not a case number").to_string());
        } else {
            match s.store.case_by_number(&number, Some(&by)).await {
                Ok(v) => {
                    let names = staff_names(&s, &me.county().unwrap_or_else(|_| s.default_place.clone())).await;
                    match case_vm(&s, &t, v, Some(&names)).await {
                        Ok(vm) => {
                            let mut vm = not_again(vm, &me);
                            // At the delivery window what is missing comes first: nothing leaves without it.
                            vm.actions.sort_by_key(|a| a.code != "supply");
                            c = Some(vm)
                        }
                        Err(e) => error = Some(e.message(t.en)),
                    }
                }
                Err(e) => {
                    let e: ApiError = e.into();
                    error = Some(match e {
                        ApiError::NotFound { .. } => {
                            if t.en {
                                format!("No case numbered {number}")
                            } else {
                                format!("未找到办件号为 {number} 的办件")
                            }
                        }
                        other => other.message(t.en),
                    });
                }
            }
        }
    }
    let ready = match s.store.worklist(&by, WorkView::All).await {
        Ok(list) => lines(&s, &t, list.into_iter().filter(|v| v.holder == Holder::Window).collect()).await,
        Err(_) => Vec::new(),
    };
    render(&DeliveryPage { nav: Nav::of(&me, "delivery"), t, number, c, error, ready })
}

// --- public tracking -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "cases/track.html")]
struct TrackPage {
    t: Tr,
    nav: Nav,
    c: CaseVm,
}

/// The citizen's tracking page from the receipt's link: no login, personal data masked, no staff names.
async fn track(State(s): State<AppState>, t: Tr, Path(token): Path<String>) -> Response {
    if token.is_empty() || token.len() > 100 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return error_page(t, ApiError::not_found("case"));
    }
    let v = match s.store.case_by_token(&token).await {
        Ok(v) => v,
        Err(e) => return error_page(t, e.into()),
    };
    match case_vm(&s, &t, v, None).await {
        Ok(mut c) => {
            c.actions.clear();
            render(&TrackPage { nav: Nav::public(), t, c })
        }
        Err(e) => error_page(t, e),
    }
}

// --- trip report -----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "cases/trips.html")]
struct TripsPage {
    t: Tr,
    nav: Nav,
    r: TripReport,
    place_name: String,
}

impl TripsPage {
    fn pct(&self, share: &f64) -> String {
        format!("{:.1}%", share * 100.0)
    }
    fn sections(&self) -> Vec<(&'static str, &'static str, &Vec<onewindow_store::TripRow>)> {
        vec![
            (self.t.t("按部门", "By department"), "by-department", &self.r.by_department),
            (self.t.t("按事项", "By item"), "by-item", &self.r.by_item),
        ]
    }
}

#[derive(Deserialize)]
pub struct PlaceQuery {
    place: Option<String>,
}

/// Trips per case (跑动次数) by item and department, and the cases that needed more than one trip.
async fn trips(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff, Query(q): Query<PlaceQuery>) -> Response {
    let (t, me) = match staff_only(t, me, &[Role::Leader, Role::Admin]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let place = match q.place.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => match PlaceCode::parse(p) {
            Ok(p) => p,
            Err(e) => return error_page(t, e.into()),
        },
        None => match me.place() {
            Ok(p) => p,
            Err(e) => return error_page(t, e),
        },
    };
    if let Err(e) = me.require_within(&place) {
        return error_page(t, e);
    }
    match s.store.trip_report(&place).await {
        Ok(r) => {
            let place_name = s.store.place(place.as_str()).await.map(|p| p.name).unwrap_or_default();
            render(&TripsPage { nav: Nav::of(&me, "trips"), t, r, place_name })
        }
        Err(e) => error_page(t, e.into()),
    }
}
