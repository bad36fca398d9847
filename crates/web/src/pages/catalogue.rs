//! Public catalogue pages: search, item, coverage.

use super::{error_page, render, Tr};
use crate::api::catalogue::{run_search, ItemSummary, SearchParams};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use onewindow_core::catalogue::{Channel, Item, TripLevel};
use onewindow_core::place::PlaceCode;
use onewindow_store::{Coverage, Department, StoredItem, Zone};

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    t: Tr,
    zones: Vec<Zone>,
    coverage: Coverage,
}

pub async fn home(State(s): State<AppState>, t: Tr) -> Response {
    let zones = s.store.zones().await;
    let coverage = s.store.coverage(&s.default_place).await;
    match (zones, coverage) {
        (Ok(zones), Ok(coverage)) => render(&Home { t, zones, coverage }),
        (Err(e), _) | (_, Err(e)) => error_page(t, e.into()),
    }
}

#[derive(Template)]
#[template(path = "items.html")]
struct List {
    t: Tr,
    q: String,
    department: String,
    zone: String,
    trip_level: String,
    channel: String,
    departments: Vec<Department>,
    zones: Vec<Zone>,
    channels: &'static [Channel],
    total: usize,
    items: Vec<ItemSummary>,
    error: Option<String>,
    /// Where the previous and next pages are, when there are any.
    prev_url: Option<String>,
    next_url: Option<String>,
    first_shown: usize,
    last_shown: usize,
}

/// The list URL for another page of the same search.
fn page_url(p: &SearchParams, offset: usize) -> String {
    let mut q: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("q", &p.q),
        ("department", &p.department),
        ("zone", &p.zone),
        ("trip_level", &p.trip_level),
        ("channel", &p.channel),
    ] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            q.push((k, v.clone()));
        }
    }
    q.push(("offset", offset.to_string()));
    let encoded: Vec<String> = q
        .into_iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={v}")
        })
        .collect();
    format!("/items?{}", encoded.join("&"))
}

impl List {
    fn trip_label(&self, level: &i64) -> &'static str {
        let l = TripLevel::try_from(*level).unwrap_or(TripLevel::More);
        if self.t.en {
            l.en()
        } else {
            l.zh()
        }
    }
    fn channel_label(&self, c: &Channel) -> &'static str {
        if self.t.en {
            c.en()
        } else {
            c.zh()
        }
    }
}

pub async fn list(State(s): State<AppState>, t: Tr, Query(mut p): Query<SearchParams>) -> Response {
    let limit = p.limit.unwrap_or(50).clamp(1, 200);
    p.limit = Some(limit);
    let offset = p.offset.unwrap_or(0);
    let (total, items, error) = match run_search(&s, &p) {
        Ok(a) => (a.total, a.items, None),
        Err(e) => (0, Vec::new(), Some(e.message(t.en))),
    };
    let prev_url = (offset > 0).then(|| page_url(&p, offset.saturating_sub(limit)));
    let next_url = (offset + items.len() < total).then(|| page_url(&p, offset + limit));
    let (first_shown, last_shown) = if items.is_empty() { (0, 0) } else { (offset + 1, offset + items.len()) };
    let departments = s.store.departments(Some(&s.default_place)).await.unwrap_or_default();
    let zones = s.store.zones().await.unwrap_or_default();
    render(&List {
        t,
        q: p.q.unwrap_or_default(),
        department: p.department.unwrap_or_default(),
        zone: p.zone.unwrap_or_default(),
        trip_level: p.trip_level.unwrap_or_default(),
        channel: p.channel.unwrap_or_default(),
        departments,
        zones,
        channels: Channel::ALL,
        total,
        items,
        error,
        prev_url,
        next_url,
        first_shown,
        last_shown,
    })
}

#[derive(Template)]
#[template(path = "item.html")]
struct ItemPage {
    t: Tr,
    s: StoredItem,
    i: Item,
    place_name: String,
}

impl ItemPage {
    fn trip(&self) -> &'static str {
        if self.t.en {
            self.i.trip_level.en()
        } else {
            self.i.trip_level.zh()
        }
    }
    fn kind(&self) -> &'static str {
        if self.t.en {
            self.i.kind.en()
        } else {
            self.i.kind.zh()
        }
    }
    fn channel(&self, c: &Channel) -> &'static str {
        if self.t.en {
            c.en()
        } else {
            c.zh()
        }
    }
    fn level(&self) -> &'static str {
        use onewindow_core::place::PlaceLevel::*;
        match (self.i.lowest_level, self.t.en) {
            (Village, false) => "村（社区）便民服务中心",
            (Village, true) => "Village service centre",
            (Township, false) => "乡镇（街道）便民服务中心",
            (Township, true) => "Township service centre",
            (_, false) => "县行政服务中心",
            (_, true) => "County service centre",
        }
    }
    fn zero_trip(&self) -> bool {
        self.i.trip_level == TripLevel::Zero
    }
    fn online(&self) -> bool {
        self.i.has_channel(onewindow_core::catalogue::Channel::Online)
            || self.i.has_channel(onewindow_core::catalogue::Channel::Mobile)
    }
}

pub async fn item(State(s): State<AppState>, t: Tr, Path(code): Path<String>) -> Response {
    match s.store.item(&code).await {
        Ok(stored) => {
            let place_name = s.store.place(&stored.place).await.map(|p| p.name).unwrap_or_default();
            let i = stored.item.clone();
            render(&ItemPage { t, s: stored, i, place_name })
        }
        Err(e) => error_page(t, e.into()),
    }
}

#[derive(Template)]
#[template(path = "coverage.html")]
struct CoveragePage {
    t: Tr,
    c: Coverage,
}

impl CoveragePage {
    fn pct(&self, share: &f64) -> String {
        format!("{:.1}%", share * 100.0)
    }
}

#[derive(serde::Deserialize)]
pub struct PlaceQuery {
    place: Option<String>,
}

pub async fn coverage(State(s): State<AppState>, t: Tr, Query(q): Query<PlaceQuery>) -> Response {
    let place = match q.place.as_deref().filter(|p| !p.is_empty()).map(PlaceCode::parse).transpose() {
        Ok(p) => p.unwrap_or_else(|| s.default_place.clone()),
        Err(e) => return error_page(t, e.into()),
    };
    match s.store.coverage(&place).await {
        Ok(c) => render(&CoveragePage { t, c }),
        Err(e) => error_page(t, e.into()),
    }
}

#[derive(Template)]
#[template(path = "lobby_report.html")]
struct LobbyReportPage {
    t: Tr,
    r: onewindow_store::LobbyReport,
}

impl LobbyReportPage {
    fn sections(&self) -> Vec<(&'static str, &'static str, &'static str, &Vec<onewindow_store::LobbyRow>)> {
        vec![
            ("按队列", "By queue", "by-queue", &self.r.by_queue),
            ("按窗口", "By window", "by-window", &self.r.by_window),
            ("按工作人员", "By staff", "by-staff", &self.r.by_staff),
            ("按部门", "By department", "by-department", &self.r.by_department),
        ]
    }
}

/// The lobby report page (leaders and admins).
pub async fn lobby_report(
    State(s): State<AppState>,
    t: Tr,
    crate::auth::MaybeStaff(me): crate::auth::MaybeStaff,
    Query(q): Query<crate::api::stats::LobbyQuery>,
) -> Response {
    let Some(me) = me else { return super::to_login(&t.path) };
    let scope = crate::api::stats::lobby_scope(&me, &q);
    match scope {
        Ok((place, day)) => match s.store.lobby_report(&place, &day).await {
            Ok(r) => render(&LobbyReportPage { t, r }),
            Err(e) => error_page(t, e.into()),
        },
        Err(e) => error_page(t, e),
    }
}
