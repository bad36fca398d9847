//! Lobby pages (一键取号, 叫号): the kiosk, the guide desk, the window console, the hall display and the
//! citizen's ticket page. The server renders each page's first state; `static/lobby.js` then drives it
//! through the JSON lobby API (`crate::api::lobby`) and the display stream (`crate::display`). No inline
//! script or style: data reaches the script through `data-*` attributes. See docs/lobby.md.

use super::{error_page, render, Tr};
use crate::auth::{CurrentStaff, MaybeStaff};
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use onewindow_core::place::PlaceCode;
use onewindow_store::{Queue, Role, TicketView};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/kiosk", get(kiosk))
        .route("/guide", get(guide))
        .route("/console", get(console))
        .route("/display/{hall}", get(display))
        .route("/t/{token}", get(ticket))
}

/// A queue as the kiosk, the guide desk and the console show it.
pub struct QueueTile {
    pub code: String,
    pub prefix: String,
    /// In the page's language.
    pub name: String,
    /// What the queue is for, one short line.
    pub hint: String,
    pub waiting: i64,
    /// The undifferentiated queue (综合受理): any general item, any general window.
    pub general: bool,
    pub zone: String,
}

fn is_general(q: &Queue) -> bool {
    q.code == "general" || q.name.contains("综合受理")
}

/// The hall's queues, the general (综合受理) queue first, named in the page's language.
async fn queue_tiles(s: &AppState, t: &Tr, hall: &PlaceCode) -> Result<Vec<QueueTile>, ApiError> {
    let queues = s.store.queues(hall).await?;
    let zones = s.store.zones().await?;
    let mut tiles: Vec<QueueTile> = queues
        .into_iter()
        .map(|q| {
            let general = is_general(&q);
            let zone = zones.iter().find(|z| z.code == q.zone);
            let name = if general {
                t.t("综合受理", "General service").to_string()
            } else if t.en {
                zone.map(|z| z.name_en.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| q.name.clone())
            } else {
                q.name.clone()
            };
            let hint = if general {
                t.t("各类事项均可办理（无差别受理）", "Any item, at any general window").to_string()
            } else {
                let zone_name = if t.en {
                    zone.map(|z| z.name_en.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| q.name.clone())
                } else {
                    zone.map(|z| z.name.clone()).unwrap_or_else(|| q.name.clone())
                };
                if t.en {
                    format!("{zone_name} zone, numbers {}", q.prefix)
                } else {
                    format!("{zone_name}专区，{}字头号码", q.prefix)
                }
            };
            QueueTile { code: q.code, prefix: q.prefix, name, hint, waiting: q.waiting, general, zone: q.zone }
        })
        .collect();
    tiles.sort_by_key(|q| (!q.general, q.prefix.clone()));
    Ok(tiles)
}

/// "常山县行政服务中心" (or its English name).
async fn hall_name(s: &AppState, t: &Tr, hall: &PlaceCode) -> String {
    match s.store.place(hall.as_str()).await {
        Ok(p) if t.en && !p.name_en.is_empty() => format!("{} Administrative Service Centre", p.name_en),
        Ok(p) => format!("{}行政服务中心", p.name),
        Err(_) => t.t("行政服务中心", "Administrative Service Centre").to_string(),
    }
}

/// Staff with one of `roles`; nobody signed in goes to the login page and back, others get a 403 page.
#[allow(clippy::result_large_err)] // the error is the page to answer with
fn staff_only(t: Tr, me: Option<CurrentStaff>, roles: &[Role]) -> Result<(Tr, CurrentStaff), Response> {
    let Some(me) = me else {
        return Err(super::to_login(&t.path));
    };
    if let Err(e) = me.require(roles) {
        return Err(error_page(t, e));
    }
    Ok((t, me))
}

#[derive(Deserialize)]
pub struct HallQuery {
    hall: Option<String>,
}

fn hall_param(s: &AppState, q: Option<&str>) -> Result<PlaceCode, ApiError> {
    match q.map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => Ok(PlaceCode::parse(h)?),
        None => Ok(s.default_place.clone()),
    }
}

// --- kiosk -----------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "lobby/kiosk.html")]
struct KioskPage {
    t: Tr,
    hall: String,
    hall_name: String,
    queues: Vec<QueueTile>,
    public_url: String,
}

/// The self-service kiosk: choose a queue (or find an item), enter a mobile number, take a ticket.
async fn kiosk(State(s): State<AppState>, t: Tr, Query(q): Query<HallQuery>) -> Response {
    let hall = match hall_param(&s, q.hall.as_deref()) {
        Ok(h) => h,
        Err(e) => return error_page(t, e),
    };
    let queues = match queue_tiles(&s, &t, &hall).await {
        Ok(q) => q,
        Err(e) => return error_page(t, e),
    };
    let hall_name = hall_name(&s, &t, &hall).await;
    let public_url = s.lobby.public_url.trim_end_matches('/').to_string();
    render(&KioskPage { t, hall: hall.to_string(), hall_name, queues, public_url })
}

// --- guide desk ------------------------------------------------------------------------------------

pub struct PriorityOption {
    pub code: &'static str,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "lobby/guide.html")]
struct GuidePage {
    t: Tr,
    hall: String,
    hall_name: String,
    queues: Vec<QueueTile>,
    priorities: Vec<PriorityOption>,
    public_url: String,
}

/// The guide desk: printed tickets for people without a phone, and priority tickets with a reason.
async fn guide(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    let (t, me) = match staff_only(t, me, &[Role::Guide, Role::Consultant, Role::Admin]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let hall = match me.county() {
        Ok(h) => h,
        Err(e) => return error_page(t, e),
    };
    let queues = match queue_tiles(&s, &t, &hall).await {
        Ok(q) => q,
        Err(e) => return error_page(t, e),
    };
    let priorities = onewindow_core::lobby::Priority::ALL
        .into_iter()
        .map(|p| PriorityOption { code: p.code(), label: if t.en { p.en() } else { p.zh() } })
        .collect();
    let hall_name = hall_name(&s, &t, &hall).await;
    let public_url = s.lobby.public_url.trim_end_matches('/').to_string();
    render(&GuidePage { t, hall: hall.to_string(), hall_name, queues, priorities, public_url })
}

// --- window console --------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct ConsoleQuery {
    window: Option<String>,
}

pub struct WindowOption {
    pub code: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "lobby/console.html")]
struct ConsolePage {
    t: Tr,
    hall: String,
    hall_name: String,
    windows: Vec<WindowOption>,
    /// The window chosen (empty: none yet; the script may pick the remembered one).
    window: String,
    window_name: String,
    queues: Vec<QueueTile>,
}

/// The window console for acceptors: call, recall, start, finish, no-show, hold, transfer, pause.
async fn console(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let (t, me) = match staff_only(t, me, &[Role::Acceptor, Role::Admin]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let hall = match me.county() {
        Ok(h) => h,
        Err(e) => return error_page(t, e),
    };
    let all = match s.store.windows(Some(&hall)).await {
        Ok(w) => w,
        Err(e) => return error_page(t, e.into()),
    };
    let wanted = q.window.as_deref().map(str::trim).unwrap_or_default().to_uppercase();
    let chosen = all.iter().find(|w| w.active && w.code == wanted);
    if !wanted.is_empty() && chosen.is_none() {
        return error_page(t, ApiError::not_found(format!("window {wanted}")));
    }
    let window = chosen.map(|w| w.code.clone()).unwrap_or_default();
    let window_name = chosen.map(|w| w.name.clone()).unwrap_or_default();
    let windows = all
        .iter()
        .filter(|w| w.active && w.place == hall.as_str())
        .map(|w| WindowOption { code: w.code.clone(), name: w.name.clone(), selected: w.code == window })
        .collect();
    let queues = match queue_tiles(&s, &t, &hall).await {
        Ok(q) => q,
        Err(e) => return error_page(t, e),
    };
    let hall_name = hall_name(&s, &t, &hall).await;
    render(&ConsolePage { t, hall: hall.to_string(), hall_name, windows, window, window_name, queues })
}

// --- hall display ----------------------------------------------------------------------------------

pub struct CallRow {
    pub number: String,
    pub window: String,
    pub text: String,
    pub at: i64,
}

#[derive(Template)]
#[template(path = "lobby/display.html")]
struct DisplayPage {
    t: Tr,
    hall: String,
    hall_name: String,
    current: Option<CallRow>,
    /// The last calls, newest first, one row per ticket (a recall does not add a row).
    calls: Vec<CallRow>,
    queues: Vec<QueueTile>,
}

/// The screen above the windows: the current call, the last calls and the waiting counts, live.
async fn display(State(s): State<AppState>, t: Tr, Path(hall): Path<String>) -> Response {
    let hall = match PlaceCode::parse(&hall) {
        Ok(h) => h,
        Err(e) => return error_page(t, e.into()),
    };
    let snap = match crate::display::snapshot_of(&s, &hall).await {
        Ok(v) => v,
        Err(e) => return error_page(t, e),
    };
    let queues = match queue_tiles(&s, &t, &hall).await {
        Ok(q) => q,
        Err(e) => return error_page(t, e),
    };
    let mut calls: Vec<CallRow> = Vec::new();
    for c in snap.calls {
        if !calls.iter().any(|x| x.number == c.number) {
            calls.push(CallRow { number: c.number, window: c.window, text: c.text, at: c.at });
        }
    }
    let current = calls.first().map(|c| CallRow {
        number: c.number.clone(),
        window: c.window.clone(),
        text: c.text.clone(),
        at: c.at,
    });
    let hall_name = hall_name(&s, &t, &hall).await;
    render(&DisplayPage { t, hall: hall.to_string(), hall_name, current, calls, queues })
}

// --- the citizen's ticket page ---------------------------------------------------------------------

#[derive(Template)]
#[template(path = "lobby/ticket.html")]
struct TicketPage {
    t: Tr,
    hall_name: String,
    ticket: TicketView,
    /// How many places "I'm running late" moves a ticket back.
    late_moves: usize,
}

impl TicketPage {
    fn status_label(&self) -> &'static str {
        status_label(&self.t, &self.ticket.status)
    }
    fn priority_label(&self) -> &'static str {
        if self.t.en {
            self.ticket.priority.en()
        } else {
            self.ticket.priority.zh()
        }
    }
    fn is_priority(&self) -> bool {
        self.ticket.priority.is_priority()
    }
    fn can_be_late(&self) -> bool {
        self.ticket.status == "waiting" && !self.ticket.late_used
    }
    fn window_or_empty(&self) -> &str {
        self.ticket.window.as_deref().unwrap_or_default()
    }
    fn ahead_text(&self) -> String {
        self.ticket.ahead.map(|a| a.to_string()).unwrap_or_default()
    }
    fn wait_text(&self) -> String {
        self.ticket.estimated_wait_minutes.map(|a| a.to_string()).unwrap_or_default()
    }
}

/// A ticket's status in the page's language.
fn status_label(t: &Tr, status: &str) -> &'static str {
    match status {
        "waiting" => t.t("等候中", "Waiting"),
        "called" => t.t("已叫号", "Called"),
        "serving" => t.t("办理中", "Being served"),
        "done" => t.t("已办结", "Done"),
        "no_show" => t.t("已过号", "Missed"),
        "on_hold" => t.t("暂挂中", "On hold"),
        "expired" => t.t("已过期", "Expired"),
        _ => t.t("未知", "Unknown"),
    }
}

/// The page the SMS links to: the ticket's status, live, and "I'm running late".
async fn ticket(State(s): State<AppState>, t: Tr, Path(token): Path<String>) -> Response {
    if token.len() > 100 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return error_page(t, ApiError::not_found("ticket"));
    }
    let ticket = match s.store.ticket_by_token(&token, &s.lobby).await {
        Ok(v) => v,
        Err(e) => return error_page(t, e.into()),
    };
    let hall_name = hall_name(&s, &t, &s.default_place).await;
    render(&TicketPage { t, hall_name, ticket, late_moves: s.lobby.late_moves })
}
