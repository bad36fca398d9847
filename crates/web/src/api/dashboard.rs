//! The leaders' dashboard beyond its JSON: every figure as a CSV or XLSX table, and a live stream of
//! snapshots (SSE).

use crate::auth::CurrentStaff;
use crate::error::{ApiError, ApiResult, Path, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use onewindow_core::place::PlaceCode;
use onewindow_core::sheet::{write_table, Cell, Format};
use onewindow_store::{Dashboard, Role};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DashboardQuery {
    /// Division code of a county (or a place within it); the leader's own county when absent.
    pub place: Option<String>,
    /// `en` for English column headers; Chinese by default.
    pub lang: Option<String>,
}

/// The county a leader or admin may see the dashboard of.
pub fn scope(me: &CurrentStaff, place: Option<&str>) -> ApiResult<PlaceCode> {
    me.require(&[Role::Leader, Role::Admin])?;
    let place = match place.filter(|p| !p.is_empty()) {
        Some(p) => PlaceCode::parse(p)?,
        None => me.county()?,
    };
    me.require_within(&place)?;
    place.county().ok_or_else(|| ApiError::bad(Some("place"), "请指定一个县", "name a county"))
}

/// A figure of the dashboard as a table.
pub struct Figure {
    pub title: (&'static str, &'static str),
    /// Column headers, Chinese and English.
    pub header: Vec<(&'static str, &'static str)>,
    pub rows: Vec<Vec<Cell>>,
}

/// Every figure the page shows, by the name used in download links.
pub const FIGURES: [&str; 11] = [
    "hall",
    "queues",
    "today",
    "trips",
    "departments",
    "satisfaction",
    "load",
    "balance",
    "townships",
    "villages",
    "trend",
];

fn int(v: i64) -> Cell {
    Cell::Int(v)
}

fn num(v: Option<f64>) -> Cell {
    v.map(Cell::Num).unwrap_or(Cell::Empty)
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

/// The table of one figure; none for an unknown name.
pub fn figure(d: &Dashboard, name: &str) -> Option<Figure> {
    let f = |title, header: &[(&'static str, &'static str)], rows| Figure { title, header: header.to_vec(), rows };
    Some(match name {
        "hall" => f(
            ("大厅实时", "The hall now"),
            &[
                ("开放窗口", "Windows open"),
                ("办理中", "Busy"),
                ("暂停", "Paused"),
                ("最长等候(分)", "Longest wait (min)"),
            ],
            vec![vec![int(d.windows_open), int(d.windows_busy), int(d.windows_paused), int(d.longest_wait_minutes)]],
        ),
        "queues" => f(
            ("队列", "Queues"),
            &[("队列", "Queue"), ("等候人数", "Waiting"), ("最长等候(分)", "Longest wait (min)")],
            d.queues
                .iter()
                .map(|q| {
                    vec![Cell::Text(format!("{} {}", q.prefix, q.name)), int(q.waiting), int(q.longest_wait_minutes)]
                })
                .collect(),
        ),
        "today" => f(("今日", "Today"), &DAY_HEADER, vec![day_row(&d.today)]),
        "trips" => f(
            ("最多跑一次", "At most one trip"),
            &[
                ("零跑腿事项占比", "Zero-trip item share"),
                ("按办件量零跑腿占比", "Zero-trip share by cases"),
                ("办结件数", "Closed cases"),
                ("办结件平均跑动次数", "Trips per closed case"),
                ("零跑动占比", "Zero-trip case share"),
                ("最多跑一次占比", "At-most-one-trip share"),
            ],
            vec![vec![
                Cell::Num(d.zero_trip_item_share),
                num(d.zero_trip_volume_share),
                int(d.closed_cases),
                num(d.trips_per_closed_case),
                num(d.closed_with_zero_trips_share),
                num(d.closed_with_at_most_one_trip_share),
            ]],
        ),
        "departments" => f(
            ("时限与超期（按部门）", "Time limits and overdue, by department"),
            &[
                ("部门", "Department"),
                ("受理", "Accepted"),
                ("办结", "Closed"),
                ("按时", "On time"),
                ("超时", "Late"),
                ("按时率", "On-time share"),
                ("当前超期", "Overdue now"),
            ],
            d.departments
                .iter()
                .map(|x| {
                    vec![
                        text(&x.department),
                        int(x.accepted),
                        int(x.closed),
                        int(x.on_time),
                        int(x.late),
                        Cell::Num(x.on_time_share),
                        int(x.overdue_open),
                    ]
                })
                .collect(),
        ),
        "satisfaction" => f(
            ("群众满意度（按部门）", "Satisfaction, by department"),
            &[
                ("部门", "Department"),
                ("评价数", "Ratings"),
                ("平均分", "Mean score"),
                ("满意率", "Satisfied share"),
                ("差评", "Dissatisfied"),
            ],
            d.satisfaction
                .iter()
                .map(|x| {
                    vec![
                        text(&x.department),
                        int(x.ratings),
                        Cell::Num(x.mean_score),
                        Cell::Num(x.satisfied_share),
                        int(x.dissatisfied),
                    ]
                })
                .collect(),
        ),
        "load" => f(
            ("今日部门窗口负荷", "Department load at the windows today"),
            &[
                ("部门", "Department"),
                ("办理人次", "Served"),
                ("平均办理(分)", "Mean service (min)"),
                ("窗口分钟", "Window-minutes"),
            ],
            d.department_load
                .iter()
                .map(|r| {
                    vec![text(&r.name), int(r.served), Cell::Num(r.mean_service_minutes), Cell::Num(r.service_minutes)]
                })
                .collect(),
        ),
        "balance" => f(
            ("忙闲对比", "Load balance"),
            &[
                ("最忙部门", "Busiest"),
                ("最忙窗口分钟", "Busiest window-minutes"),
                ("最闲部门", "Idlest"),
                ("最闲窗口分钟", "Idlest window-minutes"),
                ("比值", "Ratio"),
            ],
            vec![vec![
                d.load_balance.busiest.as_deref().map(text).unwrap_or(Cell::Empty),
                Cell::Num(d.load_balance.busiest_minutes),
                d.load_balance.idlest.as_deref().map(text).unwrap_or(Cell::Empty),
                Cell::Num(d.load_balance.idlest_minutes),
                num(d.load_balance.ratio),
            ]],
        ),
        "townships" => f(
            ("乡镇（街道）活跃度", "Activity by township"),
            &[("区划代码", "Code"), ("地区", "Place"), ("受理办件", "Cases")],
            d.townships.iter().map(|(code, name, n)| vec![text(code), text(name), int(*n)]).collect(),
        ),
        "villages" => f(
            ("村（社区）活跃度", "Activity by village"),
            &[("区划代码", "Code"), ("地区", "Place"), ("受理办件", "Cases")],
            d.villages.iter().map(|(code, name, n)| vec![text(code), text(name), int(*n)]).collect(),
        ),
        "trend" => f(("近30天", "Last 30 days"), &DAY_HEADER, d.trend.iter().map(day_row).collect()),
        _ => return None,
    })
}

/// The columns of a day's figures (today, and each day of the trend).
const DAY_HEADER: [(&str, &str); 6] = [
    ("日期", "Day"),
    ("取号", "Tickets"),
    ("已办", "Served"),
    ("过号", "No-shows"),
    ("受理办件", "Cases accepted"),
    ("办结", "Cases closed"),
];

fn day_row(f: &onewindow_store::DayFigures) -> Vec<Cell> {
    vec![
        text(&f.day),
        int(f.tickets_issued),
        int(f.tickets_served),
        int(f.tickets_no_show),
        int(f.cases_accepted),
        int(f.cases_closed),
    ]
}

/// One figure of the dashboard as a table: `{figure}.csv` or `{figure}.xlsx`, where figure is one of
/// hall, queues, today, trips, departments, load, balance, townships, trend (leader, admin).
#[utoipa::path(get, path = "/api/v1/dashboard/figures/{file}", tag = "stats",
    params(("file" = String, Path, description = "e.g. departments.csv, trend.xlsx"), DashboardQuery),
    responses((status = 200, content_type = "text/csv"), (status = 400), (status = 403), (status = 404)))]
pub async fn download(
    State(s): State<AppState>,
    me: CurrentStaff,
    Path(file): Path<String>,
    Query(q): Query<DashboardQuery>,
) -> ApiResult<Response> {
    let county = scope(&me, q.place.as_deref())?;
    let (name, format) = match file.rsplit_once('.') {
        Some((n, "csv")) => (n, Format::Csv),
        Some((n, "xlsx")) => (n, Format::Xlsx),
        _ => {
            return Err(ApiError::bad(
                Some("file"),
                "文件名应以 .csv 或 .xlsx 结尾",
                "the file name must end in .csv or .xlsx",
            ))
        }
    };
    if !FIGURES.contains(&name) {
        return Err(ApiError::not_found(format!("figure {name} ({})", FIGURES.join(", "))));
    }
    let d = s.store.dashboard(&county, crate::dashboard_hub::today()).await?;
    let fig = figure(&d, name).ok_or_else(|| ApiError::not_found(name.to_string()))?;
    let en = q.lang.as_deref() == Some("en");
    let header: Vec<&str> = fig.header.iter().map(|(zh, e)| if en { *e } else { *zh }).collect();
    let sheet = if en { fig.title.1 } else { fig.title.0 };
    let bytes = write_table(format, &sheet.chars().take(31).collect::<String>(), &header, &fig.rows)
        .map_err(ApiError::Internal)?;
    let filename = format!("dashboard-{county}-{}-{name}.{}", d.today.day, format.extension());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        bytes,
    )
        .into_response())
}

/// A stream of snapshots: `first`, then each one the hub publishes, each turned into an SSE event by
/// `to_event`, with a heartbeat every 15 seconds. A stream too slow to keep up skips to the newest
/// snapshot (each is complete, so nothing is lost by skipping).
pub fn snapshots<F>(
    first: Arc<Dashboard>,
    rx: broadcast::Receiver<Arc<Dashboard>>,
    to_event: F,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>>
where
    F: Fn(&Dashboard) -> SseEvent + Send + Sync + 'static,
{
    let to_event = Arc::new(to_event);
    let first_event = to_event(&first);
    let live = stream::unfold((rx, to_event), |(mut rx, to_event)| async move {
        loop {
            match rx.recv().await {
                Ok(d) => {
                    let e = to_event(&d);
                    return Some((e, (rx, to_event)));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let stream = stream::once(async move { first_event }).chain(live).map(Ok);
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("heartbeat"))
}

/// The dashboard live (SSE): a `snapshot` event (the same JSON as `GET /api/v1/dashboard`) at once and
/// after every change in the county, coalesced; a heartbeat comment every 15 s (leader, admin).
#[utoipa::path(get, path = "/api/v1/dashboard/events", tag = "stats", params(DashboardQuery),
    responses((status = 200, content_type = "text/event-stream"), (status = 403)))]
pub async fn events(
    State(s): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<DashboardQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let county = scope(&me, q.place.as_deref())?;
    // Subscribe before reading, so no change falls between the first snapshot and the stream.
    let rx = s.dashboards.subscribe(&county);
    let first = Arc::new(s.store.dashboard(&county, crate::dashboard_hub::today()).await?);
    Ok(snapshots(first, rx, |d| {
        SseEvent::default().event("snapshot").data(serde_json::to_string(d).unwrap_or_default())
    }))
}
