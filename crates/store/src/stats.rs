//! Counters kept as events commit, for the leaders' dashboard: each recorded event adds to the day's
//! counters of its county in the same transaction, so the figures are exact and reading them costs the
//! same with a thousand cases as with twenty million.

use crate::db::Store;
use crate::error::StoreError;
use crate::group_commit::CounterKey;
use crate::lobby::Queue;
use crate::lobby_report::{LoadBalance, LobbyRow};
use onewindow_core::lobby::local_day;
use onewindow_core::place::PlaceCode;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The counters an event adds to: (metric, dimension, amount).
pub(crate) fn counters_for(kind: &str, place: &str, data: &Value) -> Vec<(&'static str, String, i64)> {
    let s = |k: &str| data[k].as_str().unwrap_or_default().to_string();
    match kind {
        "ticket.issued" => vec![("tickets_issued", s("queue"), 1)],
        "ticket.finished" => vec![("tickets_served", String::new(), 1)],
        "ticket.no_show" => vec![("tickets_no_show", String::new(), 1)],
        "case.accepted" => {
            let mut v = vec![("cases_accepted", s("department"), 1)];
            if data["item_trip_level"].as_i64() == Some(0) {
                v.push(("cases_accepted_zero_trip_item", String::new(), 1));
            }
            // Activity per township (a village's case counts for its township).
            v.push(("cases_by_township", place.chars().take(9).collect(), 1));
            // …and a case accepted in a village (不出村) for its village too.
            if place.len() == 12 {
                v.push(("cases_by_village", place.to_string(), 1));
            }
            v
        }
        k if k.starts_with("case.") && data["closed"].as_bool() == Some(true) => {
            let trips = data["trips"].as_i64().unwrap_or(0);
            let mut v = vec![
                ("cases_closed", s("department"), 1),
                (
                    if data["on_time"].as_bool() == Some(true) { "cases_closed_on_time" } else { "cases_closed_late" },
                    s("department"),
                    1,
                ),
                ("cases_closed_trips", String::new(), trips),
            ];
            if trips == 0 {
                v.push(("cases_closed_zero_trips", String::new(), 1));
            }
            if trips <= 1 {
                v.push(("cases_closed_at_most_one_trip", String::new(), 1));
            }
            v
        }
        // 好差评: count, score total and the dissatisfied, per department.
        "case.rated" => {
            let score = data["score"].as_i64().unwrap_or(0);
            let mut v = vec![("ratings", s("department"), 1), ("ratings_score", s("department"), score)];
            if score >= 4 {
                v.push(("ratings_satisfied", s("department"), 1));
            }
            if score <= 2 {
                v.push(("ratings_dissatisfied", s("department"), 1));
            }
            v
        }
        _ => Vec::new(),
    }
}

/// The dashboard counters an event adds, keyed by its county and day (written with the batch's commit).
pub(crate) fn counters_at(kind: &str, place: &str, data: &Value, at: i64) -> Vec<(CounterKey, i64)> {
    let counters = counters_for(kind, place, data);
    if counters.is_empty() || place.len() < 6 {
        return Vec::new();
    }
    let county = &place[..6];
    let day = local_day(at).to_string();
    counters.into_iter().map(|(metric, dim, by)| ((county.to_string(), day.clone(), metric, dim), by)).collect()
}

/// Adds a batch's summed counters (group_commit.rs), inside its transaction.
pub(crate) async fn write_counters(
    conn: &mut sqlx::AnyConnection,
    backend: crate::db::Backend,
    counters: &BTreeMap<CounterKey, i64>,
) -> Result<(), StoreError> {
    // A few hundred per statement (within every backend's limit on parameters): the keys are
    // distinct, so no row is changed twice in one statement.
    let keys: Vec<_> = counters.iter().collect();
    for chunk in keys.chunks(500) {
        counter_writes(backend, chunk).run(conn).await?;
    }
    Ok(())
}

/// [`write_counters`] on the store's own SQLite connection (native.rs).
pub(crate) fn write_counters_native(
    conn: &rusqlite::Connection,
    counters: &BTreeMap<CounterKey, i64>,
) -> Result<(), StoreError> {
    let keys: Vec<_> = counters.iter().collect();
    for chunk in keys.chunks(500) {
        counter_writes(crate::db::Backend::Sqlite, chunk).run_native(conn)?;
    }
    Ok(())
}

fn counter_writes(backend: crate::db::Backend, chunk: &[(&CounterKey, &i64)]) -> crate::joined::JoinedWrites {
    let mut w = crate::joined::JoinedWrites::new(backend);
    for ((county, day, metric, dim), by) in chunk {
        w.write(
            "INSERT INTO stat_counters (county, day, metric, dim, value) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (county, day, metric, dim) DO UPDATE SET value = stat_counters.value + excluded.value",
        )
        .bind(county.clone())
        .bind(day.clone())
        .bind(*metric)
        .bind(dim.clone())
        .bind(**by);
    }
    w
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct DayFigures {
    pub day: String,
    pub tickets_issued: i64,
    pub tickets_served: i64,
    pub tickets_no_show: i64,
    pub cases_accepted: i64,
    pub cases_closed: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentFigures {
    pub department: String,
    pub accepted: i64,
    pub closed: i64,
    pub on_time: i64,
    pub late: i64,
    /// Share of closed cases closed by their promised date.
    pub on_time_share: f64,
    /// Open cases past their promised date now.
    pub overdue_open: i64,
}

/// The citizens' ratings of one department's finished cases.
#[derive(Debug, Clone, Serialize)]
pub struct SatisfactionFigures {
    pub department: String,
    pub ratings: i64,
    /// Mean score, 5 非常满意 … 1 非常不满意.
    pub mean_score: f64,
    /// Share rated 满意 or 非常满意.
    pub satisfied_share: f64,
    /// Rated 不满意 or 非常不满意 (each opened a follow-up).
    pub dissatisfied: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub place: String,
    pub today: DayFigures,
    pub queues: Vec<Queue>,
    pub windows_open: i64,
    pub windows_busy: i64,
    pub windows_paused: i64,
    pub longest_wait_minutes: i64,
    pub zero_trip_item_share: f64,
    /// Share of all accepted cases whose item is zero-trip.
    pub zero_trip_volume_share: Option<f64>,
    pub closed_cases: i64,
    pub trips_per_closed_case: Option<f64>,
    pub closed_with_zero_trips_share: Option<f64>,
    pub closed_with_at_most_one_trip_share: Option<f64>,
    pub departments: Vec<DepartmentFigures>,
    /// Today's work at the windows by department (served tickets, window-minutes), as in the lobby report.
    pub department_load: Vec<LobbyRow>,
    /// Busiest against idlest department today (忙闲不均), as in the lobby report.
    pub load_balance: LoadBalance,
    /// Ratings (好差评) by department, all time.
    pub satisfaction: Vec<SatisfactionFigures>,
    /// Cases accepted per township (all time).
    pub townships: Vec<(String, String, i64)>,
    /// Cases accepted in each village (不出村, by its clerk), all time.
    pub villages: Vec<(String, String, i64)>,
    /// The last 30 days, oldest first.
    pub trend: Vec<DayFigures>,
}

fn share(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| ((a as f64 / b as f64) * 10000.0).round() / 10000.0)
}

/// Counter totals per (metric, dim).
type Totals = BTreeMap<(String, String), i64>;

/// Totals of the days before yesterday, per county: events are counted on the day they are recorded,
/// so those days no longer change, and a year of them (tens of thousands of rows) is summed once a day
/// instead of on every request. Yesterday and today are always read afresh (a transaction that began
/// before midnight may still commit after it).
#[derive(Default)]
pub(crate) struct SettledTotals(std::collections::HashMap<String, (chrono::NaiveDate, std::sync::Arc<Totals>)>);

impl Store {
    async fn sum_counters(&self, county: &PlaceCode, from: &str, to: &str) -> Result<Totals, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT metric, dim, CAST(SUM(value) AS BIGINT) FROM stat_counters WHERE county = $1 AND day >= $2 AND day < $3 \
             GROUP BY metric, dim",
        )
        .bind(county.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(m, d, v)| ((m, d), v)).collect())
    }

    /// All-time counter totals of a county: the settled days from the cache, the last two from the table.
    async fn counter_totals(&self, county: &PlaceCode, today: chrono::NaiveDate) -> Result<Totals, StoreError> {
        let settled_until = today - chrono::Duration::days(1);
        let cached = {
            let m = self.inner.settled_totals.lock().map_err(|_| StoreError::Corrupt("totals lock".into()))?;
            m.0.get(county.as_str()).filter(|(d, _)| *d == settled_until).map(|(_, t)| t.clone())
        };
        let settled = match cached {
            Some(t) => t,
            None => {
                let t = std::sync::Arc::new(self.sum_counters(county, "", &settled_until.to_string()).await?);
                let mut m = self.inner.settled_totals.lock().map_err(|_| StoreError::Corrupt("totals lock".into()))?;
                m.0.insert(county.to_string(), (settled_until, t.clone()));
                t
            }
        };
        let mut total = (*settled).clone();
        // '9999' sorts after every day.
        for (k, v) in self.sum_counters(county, &settled_until.to_string(), "9999").await? {
            *total.entry(k).or_default() += v;
        }
        Ok(total)
    }

    /// The leaders' dashboard for a county: live lobby figures, and counters kept as events happened.
    pub async fn dashboard(&self, county: &PlaceCode, today: chrono::NaiveDate) -> Result<Dashboard, StoreError> {
        let total = self.counter_totals(county, today).await?;
        let from = (today - chrono::Duration::days(29)).to_string();
        let today_s = today.to_string();
        let days: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT day, metric, CAST(SUM(value) AS BIGINT) FROM stat_counters WHERE county = $1 AND day >= $2 AND day <= $3 \
             AND metric IN ('tickets_issued', 'tickets_served', 'tickets_no_show', 'cases_accepted', 'cases_closed') \
             GROUP BY day, metric",
        )
        .bind(county.as_str())
        .bind(&from)
        .bind(&today_s)
        .fetch_all(self.pool())
        .await?;
        let mut trend: BTreeMap<String, DayFigures> = (0..30)
            .map(|i| {
                let d = (today - chrono::Duration::days(29 - i)).to_string();
                (d.clone(), DayFigures { day: d, ..Default::default() })
            })
            .collect();
        for (day, metric, value) in &days {
            if let Some(f) = trend.get_mut(day) {
                match metric.as_str() {
                    "tickets_issued" => f.tickets_issued += value,
                    "tickets_served" => f.tickets_served += value,
                    "tickets_no_show" => f.tickets_no_show += value,
                    "cases_accepted" => f.cases_accepted += value,
                    "cases_closed" => f.cases_closed += value,
                    _ => {}
                }
            }
        }
        let sum = |metric: &str| total.iter().filter(|((m, _), _)| m == metric).map(|(_, v)| *v).sum::<i64>();
        let by_dim = |metric: &str, dim: &str| total.get(&(metric.to_string(), dim.to_string())).copied().unwrap_or(0);
        let departments_list = self.departments(Some(county)).await?;
        let overdue: Vec<(String, i64)> = sqlx::query_as(
            "SELECT d.code, COUNT(*) FROM cases c JOIN departments d ON d.id = c.department_id \
             WHERE c.county_code = $1 AND c.closed_at IS NULL AND c.paused_since IS NULL AND c.due_on < $2 GROUP BY d.code",
        )
        .bind(county.as_str())
        .bind(&today_s)
        .fetch_all(self.pool())
        .await?;
        let mut departments = Vec::new();
        for d in &departments_list {
            let accepted = by_dim("cases_accepted", &d.code);
            let closed = by_dim("cases_closed", &d.code);
            let overdue_open = overdue.iter().find(|(c, _)| c == &d.code).map(|(_, n)| *n).unwrap_or(0);
            if accepted + closed + overdue_open == 0 {
                continue;
            }
            let on_time = by_dim("cases_closed_on_time", &d.code);
            departments.push(DepartmentFigures {
                department: d.name.clone(),
                accepted,
                closed,
                on_time,
                late: by_dim("cases_closed_late", &d.code),
                on_time_share: share(on_time, closed).unwrap_or(0.0),
                overdue_open,
            });
        }
        let satisfaction = departments_list
            .iter()
            .filter(|d| by_dim("ratings", &d.code) > 0)
            .map(|d| {
                let n = by_dim("ratings", &d.code);
                SatisfactionFigures {
                    department: d.name.clone(),
                    ratings: n,
                    mean_score: ((by_dim("ratings_score", &d.code) as f64 / n as f64) * 100.0).round() / 100.0,
                    satisfied_share: share(by_dim("ratings_satisfied", &d.code), n).unwrap_or(0.0),
                    dissatisfied: by_dim("ratings_dissatisfied", &d.code),
                }
            })
            .collect();
        let places = self.places_within(county).await?;
        let by_place = |metric: &str| {
            let mut v: Vec<(String, String, i64)> = total
                .iter()
                .filter(|((m, _), _)| m == metric)
                .map(|((_, code), n)| {
                    let name =
                        places.iter().find(|p| &p.code == code).map(|p| p.name.clone()).unwrap_or_else(|| code.clone());
                    (code.clone(), name, *n)
                })
                .collect();
            v.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
            v
        };
        let townships = by_place("cases_by_township");
        let villages = by_place("cases_by_village");
        let queues = self.queues(county).await?;
        let windows: Vec<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT w.id, ws.ticket_id, ws.paused FROM windows w LEFT JOIN window_state ws ON ws.window_id = w.id WHERE w.place_code = $1 AND w.active = 1",
        )
        .bind(county.as_str())
        .fetch_all(self.pool())
        .await?;
        let paused = windows.iter().filter(|w| w.2 == Some(1)).count() as i64;
        let closed = sum("cases_closed");
        // Items only: the catalogue's share (the volume-weighted share comes from the counters).
        let catalogue = self.catalogue_overall(county).await?;
        // Department load balance of today's hall: the lobby report's own figures.
        let lobby = self.lobby_report(county, &today_s).await?;
        Ok(Dashboard {
            department_load: lobby.by_department,
            load_balance: lobby.load_balance,
            place: county.to_string(),
            today: trend.get(&today_s).cloned().unwrap_or_default(),
            longest_wait_minutes: queues.iter().map(|q| q.longest_wait_minutes).max().unwrap_or(0),
            queues,
            windows_open: windows.len() as i64 - paused,
            windows_busy: windows.iter().filter(|w| w.1.is_some()).count() as i64,
            windows_paused: paused,
            zero_trip_item_share: catalogue.zero_trip_share,
            zero_trip_volume_share: share(sum("cases_accepted_zero_trip_item"), sum("cases_accepted")),
            closed_cases: closed,
            trips_per_closed_case: share(sum("cases_closed_trips"), closed),
            closed_with_zero_trips_share: share(sum("cases_closed_zero_trips"), closed),
            closed_with_at_most_one_trip_share: share(sum("cases_closed_at_most_one_trip"), closed),
            departments,
            satisfaction,
            townships,
            villages,
            trend: trend.into_values().collect(),
        })
    }
}
