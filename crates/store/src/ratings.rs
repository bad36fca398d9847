//! 好差评: a citizen rates each finished case from 非常满意 (5) to 非常不满意 (1). A rating of 不满意 or
//! worse opens a follow-up task (整改回访) for the case's department, due in 15 working days, closed
//! only with a call-back note. Ratings count in the dashboard (event `case.rated`) and the report.

use crate::cases::CaseActor;
use crate::citizens::Citizen;
use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use chrono::NaiveDate;
use onewindow_core::lobby::local_day;
use onewindow_core::place::PlaceCode;
use onewindow_core::{FieldError, Invalid};
use serde::Serialize;
use serde_json::json;

/// Score → (中文, English), 5 first.
pub const RATING_NAMES: [(i64, &str, &str); 5] = [
    (5, "非常满意", "Very satisfied"),
    (4, "满意", "Satisfied"),
    (3, "基本满意", "Fairly satisfied"),
    (2, "不满意", "Dissatisfied"),
    (1, "非常不满意", "Very dissatisfied"),
];
const FOLLOWUP_DAYS: i64 = 15;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FollowupView {
    pub id: i64,
    pub case_id: i64,
    pub case_number: String,
    pub item_name: String,
    pub department: String,
    pub department_name: String,
    pub score: i64,
    pub comment: String,
    pub opened_on: String,
    pub due_on: String,
    pub state: String,
    /// Derived from the due date and today, not stored.
    #[sqlx(skip)]
    pub overdue: bool,
    pub callback_note: String,
    pub closed_by: Option<String>,
}

/// Ratings of one department.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RatingRow {
    pub department: String,
    pub department_name: String,
    pub ratings: i64,
    /// Count per score, index 0 = score 1.
    pub by_score: [i64; 5],
    pub mean: f64,
    /// Share rated 满意 or 非常满意.
    pub satisfied_share: f64,
    pub followups_open: i64,
    pub followups_overdue: i64,
}

fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> StoreError {
    StoreError::Invalid(Invalid::one(FieldError::new(field, zh, en)))
}

impl Store {
    /// Rates one of the citizen's finished cases, once.
    pub async fn rate_case(
        &self,
        citizen: &Citizen,
        number: &str,
        score: i64,
        comment: &str,
        today: Option<NaiveDate>,
    ) -> Result<(), StoreError> {
        let mut errs = Invalid::default();
        if !(1..=5).contains(&score) {
            errs.push(FieldError::new(
                "score",
                "评价应为1（非常不满意）到5（非常满意）",
                "score must be 1 (very dissatisfied) to 5 (very satisfied)",
            ));
        }
        if comment.chars().count() > 500 {
            errs.push(FieldError::new("comment", "评价内容不超过500字", "the comment is at most 500 characters"));
        }
        if score <= 2 && comment.trim().is_empty() {
            errs.push(FieldError::new(
                "comment",
                "请说明不满意的原因，便于整改",
                "say what was wrong, so it can be put right",
            ));
        }
        errs.into_result(())?;
        let id = self.citizen_case_id(citizen, number).await?;
        let now = now_ms();
        let today = today.unwrap_or_else(|| local_day(now));
        let mut tx = self.begin(&citizen.actor()).await?;
        let (state, closed, place, county, dept_id, dept): (String, Option<i64>, String, String, i64, String) = sqlx::query_as(
            "SELECT c.state, c.closed_at, c.place_code, c.county_code, c.department_id, d.code FROM cases c JOIN departments d ON d.id = c.department_id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_one(tx.conn())
        .await?;
        if closed.is_none() || state == "cancelled" {
            return Err(StoreError::conflict("state", "办结后才能评价", "a case can be rated once it is finished"));
        }
        let done: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM ratings WHERE case_id = $1").bind(id).fetch_one(tx.conn()).await?;
        if done > 0 {
            return Err(StoreError::conflict("score", "该办件已评价", "this case has been rated"));
        }
        sqlx::query("INSERT INTO ratings (case_id, county_code, department_id, score, comment, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(&county)
            .bind(dept_id)
            .bind(score)
            .bind(comment.trim())
            .bind(now)
            .execute(tx.conn())
            .await?;
        tx.record("case.rated", &place, &format!("case:{id}"), json!({"department": dept, "score": score})).await?;
        if score <= 2 {
            let due = self.add_working_days(today, FOLLOWUP_DAYS)?;
            let f: i64 = sqlx::query_scalar(
                "INSERT INTO followups (case_id, county_code, department_id, score, opened_on, due_on, state) VALUES ($1, $2, $3, $4, $5, $6, 'open') RETURNING id",
            )
            .bind(id)
            .bind(&county)
            .bind(dept_id)
            .bind(score)
            .bind(today.to_string())
            .bind(due.to_string())
            .fetch_one(tx.conn())
            .await?;
            tx.record(
                "followup.opened",
                &place,
                &format!("followup:{f}"),
                json!({"case": id, "department": dept, "due_on": due.to_string()}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The rating of a case, if any: (score, comment).
    pub async fn rating_of(&self, case_id: i64) -> Result<Option<(i64, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT score, comment FROM ratings WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Follow-ups the member may see: their department's (approvers), or the county's (leaders, admins).
    pub async fn followups(&self, by: &CaseActor, open_only: bool) -> Result<Vec<FollowupView>, StoreError> {
        self.followups_where(by, open_only, None).await
    }

    /// One follow-up the member may see (404 otherwise).
    async fn followup(&self, by: &CaseActor, id: i64) -> Result<FollowupView, StoreError> {
        self.followups_where(by, false, Some(id))
            .await?
            .pop()
            .ok_or_else(|| StoreError::not_found(format!("follow-up {id}")))
    }

    async fn followups_where(
        &self,
        by: &CaseActor,
        open_only: bool,
        id: Option<i64>,
    ) -> Result<Vec<FollowupView>, StoreError> {
        let county = by.place.county().map(|c| c.to_string()).unwrap_or_default();
        let today = local_day(now_ms()).to_string();
        let mut rows: Vec<FollowupView> = sqlx::query_as(
            "SELECT f.id, f.case_id, c.number AS case_number, c.item_name, d.code AS department, d.name AS department_name, f.score, \
             COALESCE(r.comment, '') AS comment, f.opened_on, f.due_on, f.state, f.callback_note, f.closed_by \
             FROM followups f JOIN cases c ON c.id = f.case_id JOIN departments d ON d.id = f.department_id LEFT JOIN ratings r ON r.case_id = f.case_id \
             WHERE f.county_code = $1 AND ($2 = '' OR d.code = $2) AND ($3 = 0 OR f.state = 'open') AND ($4 = 0 OR f.id = $4) ORDER BY f.due_on, f.id",
        )
        .bind(&county)
        .bind(if by.role == "approver" { by.department.clone().unwrap_or_default() } else { String::new() })
        .bind(open_only as i64)
        .bind(id.unwrap_or(0))
        .fetch_all(self.pool())
        .await?;
        for f in &mut rows {
            f.overdue = f.state == "open" && f.due_on < today;
        }
        Ok(rows)
    }

    /// Closes a follow-up with the call-back note (required): the department's approver, or a leader.
    pub async fn close_followup(&self, by: &CaseActor, id: i64, note: &str) -> Result<FollowupView, StoreError> {
        let note = note.trim();
        if note.chars().count() < 5 || note.chars().count() > 1000 {
            return Err(invalid(
                "note",
                "请填写回访记录（5到1000字）",
                "the call-back note is required (5 to 1000 characters)",
            ));
        }
        let f = self.followup(by, id).await?;
        if !matches!(by.role.as_str(), "approver" | "leader" | "admin") {
            return Err(StoreError::Forbidden {
                zh: "只有部门审批人员或领导可以回访".into(),
                en: "only the department's approvers or leaders close follow-ups".into(),
            });
        }
        let mut tx = self.begin(&by.actor).await?;
        let n = sqlx::query("UPDATE followups SET state = 'closed', callback_note = $1, closed_by = $2, closed_at = $3 WHERE id = $4 AND state = 'open'")
            .bind(note)
            .bind(&by.actor.name)
            .bind(now_ms())
            .bind(id)
            .execute(tx.conn())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::conflict("state", "该回访已完成", "this follow-up is already closed"));
        }
        let place: String = sqlx::query_scalar("SELECT place_code FROM cases WHERE id = $1")
            .bind(f.case_id)
            .fetch_one(tx.conn())
            .await?;
        tx.record(
            "followup.closed",
            &place,
            &format!("followup:{id}"),
            json!({"case": f.case_id, "department": f.department}),
        )
        .await?;
        tx.commit().await?;
        self.followup(by, id).await
    }

    /// Ratings by department for a county (departments without ratings are left out).
    pub async fn rating_report(&self, county: &PlaceCode) -> Result<Vec<RatingRow>, StoreError> {
        let today = local_day(now_ms()).to_string();
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT d.code, d.name, r.score, COUNT(*) FROM ratings r JOIN departments d ON d.id = r.department_id WHERE r.county_code = $1 GROUP BY d.code, d.name, r.score ORDER BY d.code",
        )
        .bind(county.as_str())
        .fetch_all(self.pool())
        .await?;
        let mut out: Vec<RatingRow> = Vec::new();
        for (code, name, score, n) in rows {
            if out.last().map(|r| r.department != code).unwrap_or(true) {
                out.push(RatingRow { department: code.clone(), department_name: name, ..Default::default() });
            }
            if let Some(r) = out.last_mut() {
                r.ratings += n;
                if (1..=5).contains(&score) {
                    r.by_score[(score - 1) as usize] += n;
                }
            }
        }
        let open: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT d.code, f.due_on, COUNT(*) FROM followups f JOIN departments d ON d.id = f.department_id WHERE f.county_code = $1 AND f.state = 'open' GROUP BY d.code, f.due_on",
        )
        .bind(county.as_str())
        .fetch_all(self.pool())
        .await?;
        for r in &mut out {
            let total: i64 = r.by_score.iter().enumerate().map(|(i, n)| (i as i64 + 1) * n).sum();
            r.mean = if r.ratings > 0 { total as f64 / r.ratings as f64 } else { 0.0 };
            r.satisfied_share =
                if r.ratings > 0 { (r.by_score[3] + r.by_score[4]) as f64 / r.ratings as f64 } else { 0.0 };
            for (d, due, n) in &open {
                if d == &r.department {
                    r.followups_open += n;
                    if due.as_str() < today.as_str() {
                        r.followups_overdue += n;
                    }
                }
            }
        }
        Ok(out)
    }
}
