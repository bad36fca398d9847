//! Bulk seeding for measurement (`onewindow generate`): a year of cases written straight into `cases`
//! in large batches, with the dashboard counters they would have added. It bypasses the write path —
//! no events, audit rows, timelines or SMS — because twenty million transactions through it would take
//! days; the counters are computed by the write path's own rule (`counters_for`), so the dashboard
//! reads exactly what it would after the same cases had happened one by one.

use crate::db::Store;
use crate::error::StoreError;
use crate::stats::counters_for;
use chrono::{Duration, NaiveDate, TimeZone, Timelike};
use onewindow_core::catalogue::TripLevel;
use onewindow_core::place::{PlaceCode, PlaceLevel};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub county: PlaceCode,
    pub cases: u64,
    /// Days back from today (today included) the cases are spread over.
    pub days: u32,
    pub seed: u64,
    /// Rows per INSERT statement; statements per transaction come from `rows_per_commit`.
    pub batch: usize,
    pub rows_per_commit: usize,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GenerateReport {
    pub cases: u64,
    pub open: u64,
    pub overdue_open: u64,
    pub counter_rows: u64,
    pub first_day: String,
    pub last_day: String,
}

/// One catalogue item as the generator uses it.
struct Pick {
    code: String,
    version: i64,
    name: String,
    department: String,
    department_id: i64,
    zero_trip: bool,
    village: bool,
    promised: i64,
    statutory: i64,
}

/// A string literal for SQL (both backends: standard quoting).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Shanghai local day start, as unix milliseconds.
fn local_ms(day: NaiveDate, minutes: i64) -> i64 {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::minutes(minutes) - Duration::hours(8);
    chrono::Utc.from_utc_datetime(&naive).timestamp_millis()
}

impl Store {
    /// Seeds `opts.cases` cases of the county's catalogue over the last `opts.days` days, and their
    /// counters. Weekdays carry most of the volume; window cases are one trip, online and village ones
    /// none; most close within the promised working days, a few late, and a few stay open past due.
    pub async fn generate_cases(
        &self,
        opts: &GenerateOptions,
        mut progress: impl FnMut(u64),
    ) -> Result<GenerateReport, StoreError> {
        let county = &opts.county;
        let departments = self.departments(Some(county)).await?;
        let mut items = Vec::new();
        for s in self.items(Some(county)).await? {
            let Some(d) = departments.iter().find(|d| d.code == s.item.department) else { continue };
            items.push(Pick {
                code: s.item.code.to_string(),
                version: s.version,
                name: s.item.name.clone(),
                department: d.code.clone(),
                department_id: d.id,
                zero_trip: s.item.trip_level == TripLevel::Zero,
                village: s.item.lowest_level == PlaceLevel::Village,
                promised: i64::from(s.item.promised_days.get()).max(1),
                statutory: i64::from(s.item.statutory_days.get()).max(1),
            });
        }
        if items.is_empty() {
            return Err(StoreError::not_found("items of the county (load the demo first)"));
        }
        let places = self.places_within(county).await?;
        let townships: Vec<String> =
            places.iter().filter(|p| p.level == PlaceLevel::Township).map(|p| p.code.clone()).collect();
        let villages: Vec<String> =
            places.iter().filter(|p| p.level == PlaceLevel::Village).map(|p| p.code.clone()).collect();
        let (general_v, _) = self.latest_flow("general").await?;
        let (online_v, _) = self.latest_flow("online").await?;
        let sealed_names: Vec<String> =
            ["王芳", "李伟", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强", "周杰", "吴霞"]
                .iter()
                .map(|n| self.vault().seal(n))
                .collect();

        let now = chrono::Utc::now().timestamp_millis();
        let today = onewindow_core::lobby::local_day(now);
        let first = today - Duration::days(i64::from(opts.days.max(1)) - 1);
        let days: Vec<NaiveDate> = (0..opts.days.max(1)).map(|i| first + Duration::days(i64::from(i))).collect();
        // Weekdays carry the volume; weekends a little (online, and halls open on Saturday mornings).
        let weight = |d: &NaiveDate| match chrono::Datelike::weekday(d) {
            chrono::Weekday::Sat => 0.12,
            chrono::Weekday::Sun => 0.05,
            _ => 1.0,
        };
        let total_weight: f64 = days.iter().map(weight).sum();
        // Popular items first: weight 1/(rank+1) over the catalogue (a few items make most cases).
        let item_weights: Vec<f64> = (0..items.len()).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        let item_total: f64 = item_weights.iter().sum();

        let mut rng = StdRng::seed_from_u64(opts.seed);
        let mut due_cache: HashMap<(NaiveDate, i64), NaiveDate> = HashMap::new();
        let mut counters: HashMap<(String, &'static str, String), i64> = HashMap::new();
        let mut report =
            GenerateReport { first_day: first.to_string(), last_day: today.to_string(), ..Default::default() };
        let mut numbers: Vec<(String, i64)> = Vec::new();
        let mut rows: Vec<String> = Vec::with_capacity(opts.batch);
        let mut pending = 0usize;
        let mut tx = self.inner.writer.begin().await?;
        if self.backend() == crate::Backend::Sqlite {
            // A large page cache: the indexes on cases take random inserts.
            sqlx::query("PRAGMA cache_size = -1000000").execute(&mut *tx).await?;
        }
        let mut assigned = 0u64;
        for (di, day) in days.iter().enumerate() {
            // Cases of the day: its share of the total, the rounding carried so the sum is exact.
            let target =
                ((opts.cases as f64) * days[..=di].iter().map(weight).sum::<f64>() / total_weight).round() as u64;
            let n = target.saturating_sub(assigned);
            assigned += n;
            let day_key = day.format("%Y%m%d").to_string();
            let is_today = *day == today;
            let mut seq = 0i64;
            for _ in 0..n {
                // 08:30–17:30 local, busier late morning; today only up to now.
                let mut minute = 510 + (rng.gen::<f64>().powf(1.3) * 540.0) as i64;
                if is_today {
                    let now_min = i64::from((chrono::Utc::now() + Duration::hours(8)).num_seconds_from_midnight() / 60);
                    minute = minute.min(now_min.max(1) - 1).max(0);
                }
                let at = local_ms(*day, minute) + rng.gen_range(0..60_000);
                let mut r = rng.gen::<f64>() * item_total;
                let mut idx = 0;
                while idx + 1 < items.len() && r > item_weights[idx] {
                    r -= item_weights[idx];
                    idx += 1;
                }
                let item = &items[idx];
                let roll = rng.gen::<f64>();
                let (channel, place) = if item.village && !villages.is_empty() && roll < 0.12 {
                    ("village", villages[rng.gen_range(0..villages.len())].clone())
                } else if roll < 0.50 {
                    ("online", county.to_string())
                } else if roll < 0.68 && !townships.is_empty() {
                    ("window", townships[rng.gen_range(0..townships.len())].clone())
                } else {
                    ("window", county.to_string())
                };
                let (flow, flow_version) =
                    if channel == "online" { ("online", online_v) } else { ("general", general_v) };
                let mut trips = i64::from(channel == "window");
                if rng.gen::<f64>() < 0.04 {
                    trips += 1;
                }
                let mut working_days = |n: i64| -> Result<NaiveDate, StoreError> {
                    if let Some(d) = due_cache.get(&(*day, n)) {
                        return Ok(*d);
                    }
                    let d = self.add_working_days(*day, n)?;
                    due_cache.insert((*day, n), d);
                    Ok(d)
                };
                let due_on = working_days(item.promised)?;
                let statutory_due = working_days(item.statutory)?;
                // Working days taken: mostly within the promise, 3% late, 0.2% stuck open.
                let late = rng.gen::<f64>() < 0.03;
                let stuck = rng.gen::<f64>() < 0.002;
                let took = if late { item.promised + rng.gen_range(1..=5) } else { rng.gen_range(0..=item.promised) };
                let close_day = working_days(took)?;
                let closed_at = local_ms(close_day, 540 + rng.gen_range(0..480)).max(at + 60_000);
                let closed = !stuck && closed_at <= now;
                seq += 1;
                let number = format!("{county}-{day_key}-{seq:05}");
                let accept_data = json!({"department": item.department, "item_trip_level": i64::from(!item.zero_trip)});
                let day_s = day.to_string();
                for (metric, dim, by) in counters_for("case.accepted", &place, &accept_data) {
                    *counters.entry((day_s.clone(), metric, dim)).or_default() += by;
                }
                if closed {
                    let data = json!({"department": item.department, "closed": true,
                                      "on_time": close_day <= due_on, "trips": trips});
                    let close_s = onewindow_core::lobby::local_day(closed_at).to_string();
                    for (metric, dim, by) in counters_for("case.close", &place, &data) {
                        *counters.entry((close_s.clone(), metric, dim)).or_default() += by;
                    }
                } else {
                    report.open += 1;
                    if due_on < today {
                        report.overdue_open += 1;
                    }
                }
                rows.push(format!(
                    "({},{},{},{},{},{},{},{},{},{},{},{},{},'generate',{},{},{},{},{},{},{},'[]',{},{},{})",
                    lit(&number),
                    lit(&format!("g{number}")),
                    lit(&item.code),
                    item.version,
                    lit(&item.name),
                    lit(flow),
                    flow_version,
                    lit(if closed { "closed" } else { "review" }),
                    lit(&place),
                    lit(county.as_str()),
                    item.department_id,
                    lit(channel),
                    lit(&sealed_names[rng.gen_range(0..sealed_names.len())]),
                    at,
                    lit(&day_s),
                    item.promised,
                    item.statutory,
                    lit(&due_on.to_string()),
                    lit(&statutory_due.to_string()),
                    if closed { closed_at } else { at },
                    trips,
                    if closed { closed_at.to_string() } else { "NULL".into() },
                    if closed { closed_at } else { at },
                ));
                report.cases += 1;
                if rows.len() >= opts.batch {
                    insert_case_rows(&mut tx, &mut rows).await?;
                    pending += opts.batch;
                    if pending >= opts.rows_per_commit {
                        tx.commit().await?;
                        tx = self.inner.writer.begin().await?;
                        pending = 0;
                        progress(report.cases);
                    }
                }
            }
            numbers.push((day_key, seq));
        }
        insert_case_rows(&mut tx, &mut rows).await?;
        // Later cases of these days continue the numbering; counters add to what is there.
        for (day_key, last) in numbers.iter().filter(|(_, n)| *n > 0) {
            sqlx::query(
                "INSERT INTO case_counters (county, day, last_number) VALUES ($1, $2, $3) \
                 ON CONFLICT (county, day) DO UPDATE SET last_number = case_counters.last_number + excluded.last_number",
            )
            .bind(county.as_str())
            .bind(day_key)
            .bind(last)
            .execute(&mut *tx)
            .await?;
        }
        for ((day, metric, dim), value) in &counters {
            sqlx::query(
                "INSERT INTO stat_counters (county, day, metric, dim, value) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (county, day, metric, dim) DO UPDATE SET value = stat_counters.value + excluded.value",
            )
            .bind(county.as_str())
            .bind(day)
            .bind(*metric)
            .bind(dim)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        report.counter_rows = counters.len() as u64;
        tx.commit().await?;
        progress(report.cases);
        Ok(report)
    }
}

async fn insert_case_rows(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rows: &mut Vec<String>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO cases (number, track_token, item_code, item_version, item_name, flow_code, flow_version, state, \
         place_code, county_code, department_id, channel, applicant_name, accepted_by, accepted_at, accepted_on, \
         promised_days, statutory_days, due_on, statutory_due_on, step_entered_at, materials, trips, closed_at, updated_at) \
         VALUES {}",
        rows.join(",")
    );
    sqlx::raw_sql(&sql).execute(&mut **tx).await?;
    rows.clear();
    Ok(())
}
