//! The leaders' dashboard page (big screen and phone), live over SSE: the stream sends the live part
//! of the page rendered by the server, and the page's script swaps it in — no figure is formatted twice.

use super::chart::{bars, Series};
use super::{error_page, render, Tr};
use crate::api::dashboard::{scope, snapshots};
use crate::auth::MaybeStaff;
use crate::dashboard_hub::today;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::sse::Event as SseEvent;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use onewindow_store::Dashboard;
use std::sync::Arc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(page))
        .route("/dashboard/live", get(live))
        .route("/simulate", get(super::simulate::page))
}

/// The part of the page that changes: every figure.
#[derive(Template)]
#[template(path = "dashboard_live.html")]
pub struct DashboardLive {
    t: Tr,
    d: Dashboard,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    t: Tr,
    place: String,
    live: DashboardLive,
}

impl DashboardLive {
    fn pct(&self, v: &f64) -> String {
        format!("{:.1}%", v * 100.0)
    }
    fn opt_pct(&self, v: &Option<f64>) -> String {
        v.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_else(|| "—".into())
    }
    fn opt_num(&self, v: &Option<f64>) -> String {
        v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into())
    }
    /// The 30-day chart: tickets and cases accepted per day.
    fn trend_chart(&self) -> String {
        let labels: Vec<String> = self.d.trend.iter().map(|f| f.day.clone()).collect();
        bars(
            "trend",
            self.t.t("近30天每日受理办件与取号", "Cases and tickets per day, last 30 days"),
            &labels,
            &[
                Series {
                    name: self.t.t("取号", "tickets"),
                    fill: "#9bb7dc",
                    values: self.d.trend.iter().map(|f| f.tickets_issued as f64).collect(),
                },
                Series {
                    name: self.t.t("受理", "cases"),
                    fill: "#0b4f9c",
                    values: self.d.trend.iter().map(|f| f.cases_accepted as f64).collect(),
                },
            ],
            None,
        )
    }
    /// Download links for one figure (CSV and XLSX), named for screen readers.
    fn downloads(&self, figure: &str, zh: &str, en: &str) -> String {
        let what = self.t.t(zh, en);
        let lang = if self.t.en { "&amp;lang=en" } else { "" };
        let base = format!("/api/v1/dashboard/figures/{figure}");
        let place = &self.d.place;
        format!(
            r#"<span class="downloads">{dl} <a href="{base}.csv?place={place}{lang}" aria-label="{what} CSV" download>CSV</a> · <a href="{base}.xlsx?place={place}{lang}" aria-label="{what} XLSX" download>XLSX</a></span>"#,
            dl = self.t.t("下载", "Download"),
        )
    }
}

#[derive(serde::Deserialize)]
pub struct PlaceQuery {
    place: Option<String>,
}

fn live_tr(en: bool) -> Tr {
    Tr { en, user: None, csrf: String::new(), path: String::new() }
}

/// The leaders' dashboard page.
pub async fn page(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<PlaceQuery>,
) -> Response {
    let Some(me) = me else { return super::to_login(&t.path) };
    let county = match scope(&me, q.place.as_deref()) {
        Ok(c) => c,
        Err(e) => return error_page(t, e),
    };
    match s.store.dashboard(&county, today()).await {
        Ok(d) => {
            let live = DashboardLive { t: live_tr(t.en), d };
            render(&DashboardPage { t, place: county.to_string(), live })
        }
        Err(e) => error_page(t, e.into()),
    }
}

/// The live part of the page over SSE: an `html` event with the rendered figures at once and after
/// every change; the page swaps it in.
pub async fn live(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<PlaceQuery>,
) -> Response {
    let Some(me) = me else { return crate::error::ApiError::Unauthorized.into_response() };
    let county = match scope(&me, q.place.as_deref()) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let rx = s.dashboards.subscribe(&county);
    let first = match s.store.dashboard(&county, today()).await {
        Ok(d) => Arc::new(d),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let en = t.en;
    snapshots(first, rx, move |d| {
        let html = DashboardLive { t: live_tr(en), d: d.clone() }.render().unwrap_or_default().replace('\r', "");
        SseEvent::default().event("html").data(html)
    })
    .into_response()
}
