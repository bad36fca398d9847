//! Work queues of the back office and the reform's own reports: overdue cases, and trips per case.

use crate::cases::{can_see, CaseActor, CaseRow, CaseView, CASE_SELECT};
use crate::db::Store;
use crate::error::StoreError;
use onewindow_core::flow::{Holder, Taker};
use onewindow_core::place::PlaceCode;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which of the work a member sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkView {
    /// Everything the member may act on now.
    All,
    /// Not yet claimed by anyone.
    New,
    /// Claimed by the member.
    Mine,
    /// At most one working day left.
    DueSoon,
    Overdue,
}

impl WorkView {
    pub fn parse(s: &str) -> Option<WorkView> {
        Some(match s {
            "" | "all" => WorkView::All,
            "new" => WorkView::New,
            "mine" => WorkView::Mine,
            "due_soon" => WorkView::DueSoon,
            "overdue" => WorkView::Overdue,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TripRow {
    pub key: String,
    pub name: String,
    pub cases: i64,
    pub zero_trips: i64,
    pub at_most_one: i64,
    pub zero_share: f64,
    pub at_most_one_share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MoreTrips {
    pub number: String,
    pub item: String,
    pub trips: i64,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TripReport {
    pub overall: TripRow,
    pub by_item: Vec<TripRow>,
    pub by_department: Vec<TripRow>,
    /// Cases that needed more than one trip, with the reasons given.
    pub more_than_one: Vec<MoreTrips>,
}

fn share(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        ((part as f64 / whole as f64) * 10000.0).round() / 10000.0
    }
}

impl Store {
    async fn open_cases(&self, within: &PlaceCode) -> Result<Vec<CaseRow>, StoreError> {
        let county = within.county().map(|c| c.to_string()).unwrap_or_default();
        Ok(sqlx::query_as(&format!(
            "{CASE_SELECT} WHERE c.closed_at IS NULL AND c.county_code LIKE $1 ORDER BY c.due_on, c.id"
        ))
        .bind(format!("{}%", if county.is_empty() { within.jurisdiction_prefix().to_string() } else { county }))
        .fetch_all(self.pool())
        .await?)
    }

    /// The member's work queue: open cases in their jurisdiction where they may take an action now.
    pub async fn worklist(&self, by: &CaseActor, view: WorkView) -> Result<Vec<CaseView>, StoreError> {
        let rows = self.open_cases(&by.place).await?;
        let mut out = Vec::new();
        for r in rows {
            if !can_see(by, &r) {
                continue;
            }
            let flow = self.flow(&r.flow_code, r.flow_version).await?;
            let taker = Taker { role: &by.role, level: by.place.level(), department: by.department.as_deref() };
            // Work is what moves the case on; a member who may only supply a material is not its holder.
            let mine_to_move = flow.actions_from(&r.state).iter().any(|a| {
                a.to != onewindow_core::flow::SAME
                    && flow.action_for(&r.state, &a.code, &taker, Some(&r.department_code)).is_ok()
            });
            if !mine_to_move {
                continue;
            }
            let assignee = r.assignee.clone();
            let v = self.view(r, &flow)?;
            let keep = match view {
                WorkView::All => true,
                WorkView::New => assignee.is_none() && v.holder == Holder::Department,
                WorkView::Mine => assignee.as_deref() == Some(by.actor.name.as_str()),
                WorkView::DueSoon => v.urgency == "due_soon",
                WorkView::Overdue => v.urgency == "overdue",
            };
            if keep {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Every overdue open case of a place, for leaders.
    pub async fn overdue_cases(&self, within: &PlaceCode) -> Result<Vec<CaseView>, StoreError> {
        let mut out = Vec::new();
        for r in self.open_cases(within).await? {
            let flow = self.flow(&r.flow_code, r.flow_version).await?;
            let v = self.view(r, &flow)?;
            if v.urgency == "overdue" {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Trips per case by item and department: the share with none, with at most one, and the cases
    /// that needed more with their reasons.
    pub async fn trip_report(&self, within: &PlaceCode) -> Result<TripReport, StoreError> {
        let rows: Vec<(i64, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT c.id, c.number, c.item_code, c.item_name, d.name, c.trips FROM cases c JOIN departments d ON d.id = c.department_id \
             WHERE c.place_code LIKE $1 ORDER BY c.id",
        )
        .bind(format!("{}%", within.jurisdiction_prefix()))
        .fetch_all(self.pool())
        .await?;
        let mut by_item: BTreeMap<String, (String, i64, i64, i64)> = BTreeMap::new();
        let mut by_department: BTreeMap<String, (String, i64, i64, i64)> = BTreeMap::new();
        let (mut n, mut zero, mut one) = (0, 0, 0);
        let mut more = Vec::new();
        for (id, number, item, item_name, department, trips) in &rows {
            n += 1;
            zero += (*trips == 0) as i64;
            one += (*trips <= 1) as i64;
            for (map, key, name) in [
                (&mut by_item, item.clone(), item_name.clone()),
                (&mut by_department, department.clone(), department.clone()),
            ] {
                let e = map.entry(key).or_insert((name, 0, 0, 0));
                e.1 += 1;
                e.2 += (*trips == 0) as i64;
                e.3 += (*trips <= 1) as i64;
            }
            if *trips > 1 {
                let reasons: Vec<String> =
                    sqlx::query_scalar("SELECT reason FROM case_trips WHERE case_id = $1 AND reason <> '' ORDER BY id")
                        .bind(id)
                        .fetch_all(self.pool())
                        .await?;
                more.push(MoreTrips { number: number.clone(), item: item_name.clone(), trips: *trips, reasons });
            }
        }
        let row = |key: String, (name, c, z, o): (String, i64, i64, i64)| TripRow {
            key,
            name,
            cases: c,
            zero_trips: z,
            at_most_one: o,
            zero_share: share(z, c),
            at_most_one_share: share(o, c),
        };
        Ok(TripReport {
            overall: row("all".into(), ("全部".into(), n, zero, one)),
            by_item: by_item.into_iter().map(|(k, v)| row(k, v)).collect(),
            by_department: by_department.into_iter().map(|(k, v)| row(k, v)).collect(),
            more_than_one: more,
        })
    }

    /// The share of handled cases whose item is zero-trip (the seed's volume-weighted 58%); none
    /// without cases.
    pub async fn volume_weighted_zero_trip(&self, within: &PlaceCode) -> Result<Option<f64>, StoreError> {
        // A county's share comes from its dashboard counters (kept as cases are accepted), so the
        // coverage page stays fast with millions of cases; a township's is counted from its cases.
        if within.level() == onewindow_core::place::PlaceLevel::County {
            let (total, zero): (Option<i64>, Option<i64>) = sqlx::query_as(
                "SELECT CAST(SUM(CASE WHEN metric = 'cases_accepted' THEN value ELSE 0 END) AS BIGINT), \
                 CAST(SUM(CASE WHEN metric = 'cases_accepted_zero_trip_item' THEN value ELSE 0 END) AS BIGINT) \
                 FROM stat_counters WHERE county = $1 AND metric IN ('cases_accepted', 'cases_accepted_zero_trip_item')",
            )
            .bind(within.as_str())
            .fetch_one(self.pool())
            .await?;
            let total = total.unwrap_or(0);
            return Ok((total > 0).then(|| share(zero.unwrap_or(0), total)));
        }
        let (total, zero): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(CASE WHEN i.trip_level = 0 THEN 1 ELSE 0 END) AS BIGINT) FROM cases c JOIN items i ON i.code = c.item_code \
             WHERE c.place_code LIKE $1",
        )
        .bind(format!("{}%", within.jurisdiction_prefix()))
        .fetch_one(self.pool())
        .await?;
        Ok((total > 0).then(|| share(zero.unwrap_or(0), total)))
    }
}

impl Store {
    /// Reminds by SMS, once, every applicant whose tolerant-acceptance deadline is the next working
    /// day (or already here) while materials are still missing. Returns how many were reminded.
    pub async fn remind_supplements(&self, today: chrono::NaiveDate) -> Result<usize, StoreError> {
        let tomorrow = self.add_working_days(today, 1)?.to_string();
        let rows: Vec<(i64, String, String, String, Option<String>, String, String)> = sqlx::query_as(
            "SELECT id, number, item_name, place_code, applicant_phone, materials, supplement_due_on FROM cases \
             WHERE closed_at IS NULL AND tolerant = 1 AND supplement_due_on IS NOT NULL AND supplement_due_on <= $1 AND applicant_phone IS NOT NULL",
        )
        .bind(&tomorrow)
        .fetch_all(self.pool())
        .await?;
        let mut due = Vec::new();
        for (id, number, item, place, phone, materials, deadline) in rows {
            let materials: Vec<crate::MaterialCheck> = serde_json::from_str(&materials)?;
            let missing: Vec<String> =
                materials.into_iter().filter(|m| m.status == "missing").map(|m| m.name).collect();
            if let (false, Some(phone)) = (missing.is_empty(), phone) {
                due.push((id, number, item, place, phone, missing, deadline));
            }
        }
        let mut reminded = 0;
        for (id, number, item, place, phone, missing, deadline) in due {
            let key = format!("case:{id}:supplement-reminder");
            let sent: Option<i64> = sqlx::query_scalar("SELECT id FROM outbox WHERE idempotency_key = $1")
                .bind(&key)
                .fetch_optional(self.pool())
                .await?;
            if sent.is_some() {
                continue;
            }
            let mut tx = self.begin(&crate::Actor::system()).await?;
            let text =
                format!("提醒：您的办件{number}（{item}）容缺材料请于{deadline}前补齐：{}。", missing.join("、"));
            tx.outbox("sms", &phone, &serde_json::json!({"text": text, "kind": "case.supplement_reminder"}), &key)
                .await?;
            tx.record(
                "case.supplement_reminded",
                &place,
                &format!("case:{id}"),
                serde_json::json!({"deadline": deadline, "missing": missing}),
            )
            .await?;
            tx.commit().await?;
            reminded += 1;
        }
        Ok(reminded)
    }
}
