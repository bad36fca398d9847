//! The lobby report for one day: tickets, waits, service times, no-shows and transfers by queue,
//! window, staff member and department, and the departments' load balance (the seed's 忙闲不均).

use crate::db::Store;
use crate::error::StoreError;
use onewindow_core::place::PlaceCode;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Default)]
pub struct LobbyRow {
    pub key: String,
    pub name: String,
    pub tickets: i64,
    pub served: i64,
    pub no_shows: i64,
    pub transfers: i64,
    pub mean_wait_minutes: f64,
    pub p90_wait_minutes: f64,
    pub mean_service_minutes: f64,
    pub p90_service_minutes: f64,
    /// Minutes spent serving: a department's share of the hall's work.
    pub service_minutes: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadBalance {
    pub busiest: Option<String>,
    pub busiest_minutes: f64,
    pub idlest: Option<String>,
    pub idlest_minutes: f64,
    /// Busiest over idlest window-minutes (1.0 = even); none with fewer than two departments working.
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LobbyReport {
    pub place: String,
    pub day: String,
    pub overall: LobbyRow,
    pub by_queue: Vec<LobbyRow>,
    pub by_window: Vec<LobbyRow>,
    pub by_staff: Vec<LobbyRow>,
    pub by_department: Vec<LobbyRow>,
    pub load_balance: LoadBalance,
}

/// One ticket of the day with what the report needs.
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    status: String,
    transfers: i64,
    issued_at: i64,
    called_at: Option<i64>,
    queue: String,
    queue_name: String,
}

#[derive(sqlx::FromRow)]
struct Serving {
    ticket_id: i64,
    minutes: f64,
    window_code: Option<String>,
    staff: Option<String>,
    staff_name: Option<String>,
    department: Option<String>,
}

/// Nearest-rank percentile of unsorted values.
fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[derive(Default)]
struct Acc {
    name: String,
    tickets: std::collections::BTreeSet<i64>,
    no_shows: i64,
    transfers: i64,
    waits: Vec<f64>,
    services: Vec<f64>,
}

impl Acc {
    fn row(mut self, key: String) -> LobbyRow {
        let served = self.services.len() as i64;
        let total: f64 = self.services.iter().sum();
        LobbyRow {
            key,
            name: self.name,
            tickets: self.tickets.len() as i64,
            served,
            no_shows: self.no_shows,
            transfers: self.transfers,
            mean_wait_minutes: round1(if self.waits.is_empty() {
                0.0
            } else {
                self.waits.iter().sum::<f64>() / self.waits.len() as f64
            }),
            p90_wait_minutes: round1(percentile(&mut self.waits, 90.0)),
            mean_service_minutes: round1(if served == 0 { 0.0 } else { total / served as f64 }),
            p90_service_minutes: round1(percentile(&mut self.services, 90.0)),
            service_minutes: round1(total),
        }
    }
}

impl Store {
    pub async fn lobby_report(&self, place: &PlaceCode, day: &str) -> Result<LobbyReport, StoreError> {
        let like = format!("{}%", place.jurisdiction_prefix());
        let tickets: Vec<Row> = sqlx::query_as(
            "SELECT t.id, t.status, t.transfers, t.issued_at, t.called_at, q.code AS queue, q.name AS queue_name \
             FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE t.place_code LIKE $1 AND t.day = $2",
        )
        .bind(&like)
        .bind(day)
        .fetch_all(self.pool())
        .await?;
        let serving: Vec<Serving> = sqlx::query_as(
            "SELECT p.ticket_id, CAST(p.ended_at - p.started_at AS DOUBLE PRECISION) / 60000.0 AS minutes, w.code AS window_code, \
             s.username AS staff, s.display_name AS staff_name, d.name AS department \
             FROM ticket_periods p JOIN tickets t ON t.id = p.ticket_id LEFT JOIN windows w ON w.id = p.window_id \
             LEFT JOIN staff s ON s.id = p.staff_id LEFT JOIN departments d ON d.id = s.department_id \
             WHERE t.place_code LIKE $1 AND t.day = $2 AND p.kind = 'serving' AND p.ended_at IS NOT NULL",
        )
        .bind(&like)
        .bind(day)
        .fetch_all(self.pool())
        .await?;

        let mut overall = Acc { name: "全部".into(), ..Default::default() };
        let mut by_queue: BTreeMap<String, Acc> = BTreeMap::new();
        let mut queue_of = BTreeMap::new();
        for t in &tickets {
            let wait = t.called_at.map(|c| (c - t.issued_at) as f64 / 60000.0);
            queue_of.insert(t.id, t.queue.clone());
            for acc in [
                &mut overall,
                by_queue
                    .entry(t.queue.clone())
                    .or_insert_with(|| Acc { name: t.queue_name.clone(), ..Default::default() }),
            ] {
                acc.tickets.insert(t.id);
                acc.no_shows += (t.status == "no_show") as i64;
                acc.transfers += t.transfers;
                acc.waits.extend(wait);
            }
        }
        let mut by_window: BTreeMap<String, Acc> = BTreeMap::new();
        let mut by_staff: BTreeMap<String, Acc> = BTreeMap::new();
        let mut by_department: BTreeMap<String, Acc> = BTreeMap::new();
        for s in &serving {
            overall.services.push(s.minutes);
            if let Some(q) = queue_of.get(&s.ticket_id).and_then(|q| by_queue.get_mut(q)) {
                q.services.push(s.minutes);
            }
            let window = s.window_code.clone().unwrap_or_else(|| "-".into());
            let staff = s.staff.clone().unwrap_or_else(|| "-".into());
            let dept = s.department.clone().unwrap_or_else(|| "未归属部门".into());
            for (map, key, name) in [
                (&mut by_window, window.clone(), window.clone()),
                (&mut by_staff, staff.clone(), s.staff_name.clone().unwrap_or_default()),
                (&mut by_department, dept.clone(), dept.clone()),
            ] {
                let acc = map.entry(key).or_insert_with(|| Acc { name, ..Default::default() });
                acc.tickets.insert(s.ticket_id);
                acc.services.push(s.minutes);
            }
        }
        let rows = |m: BTreeMap<String, Acc>| m.into_iter().map(|(k, a)| a.row(k)).collect::<Vec<_>>();
        let by_department = rows(by_department);
        let busiest = by_department.iter().max_by(|a, b| a.service_minutes.total_cmp(&b.service_minutes));
        let idlest = by_department.iter().min_by(|a, b| a.service_minutes.total_cmp(&b.service_minutes));
        let load_balance = LoadBalance {
            busiest: busiest.map(|r| r.name.clone()),
            busiest_minutes: busiest.map(|r| r.service_minutes).unwrap_or(0.0),
            idlest: idlest.map(|r| r.name.clone()),
            idlest_minutes: idlest.map(|r| r.service_minutes).unwrap_or(0.0),
            ratio: match (busiest, idlest) {
                (Some(b), Some(i)) if by_department.len() > 1 && i.service_minutes > 0.0 => {
                    Some(round1(b.service_minutes / i.service_minutes))
                }
                _ => None,
            },
        };
        Ok(LobbyReport {
            place: place.to_string(),
            day: day.to_string(),
            overall: overall.row("all".into()),
            by_queue: rows(by_queue),
            by_window: rows(by_window),
            by_staff: rows(by_staff),
            by_department,
            load_balance,
        })
    }
}
