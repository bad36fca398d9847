//! Hotline work orders (一条热线全整合): an operator records a call as a work order, dispatches it to a
//! department with a time limit in working days, the department replies (or returns a wrongly
//! dispatched order), the operator calls the caller back and records satisfaction, and closes it.
//! An order past its due date while dispatched is overdue and escalates to the leaders.
//!
//! States: registered → dispatched → replied → called_back → closed; dispatched → registered (return).
//! Every transition is one [`WriteTx`] with its event and audit row. Caller name and phone are sealed.

use crate::cases::CaseActor;
use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use chrono::NaiveDate;
use onewindow_core::ids::PhoneNumber;
use onewindow_core::lobby::local_day;
use onewindow_core::mask::{mask_name, mask_phone};
use onewindow_core::place::PlaceCode;
use onewindow_core::FieldError;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

pub const HOTLINE_CATEGORIES: [(&str, &str, &str); 4] = [
    ("consultation", "咨询", "consultation"),
    ("complaint", "投诉", "complaint"),
    ("suggestion", "建议", "suggestion"),
    ("help", "求助", "request for help"),
];

pub const HOTLINE_SATISFACTION: [(&str, &str, &str); 3] = [
    ("satisfied", "满意", "satisfied"),
    ("basic", "基本满意", "fairly satisfied"),
    ("dissatisfied", "不满意", "dissatisfied"),
];

/// Default time limit for a department's reply, in working days.
pub const HOTLINE_DEFAULT_DAYS: i64 = 5;

pub fn hotline_state_name(state: &str) -> &'static str {
    match state {
        "registered" => "已登记",
        "dispatched" => "已派单",
        "replied" => "已答复",
        "called_back" => "已回访",
        "closed" => "已办结",
        _ => "未知",
    }
}

pub fn hotline_action_name(action: &str) -> &'static str {
    match action {
        "register" => "登记",
        "dispatch" => "派单",
        "reply" => "答复",
        "return" => "退回",
        "callback" => "回访",
        "close" => "办结",
        "escalate" => "超期督办",
        _ => "未知",
    }
}

fn category_name(code: &str) -> String {
    HOTLINE_CATEGORIES.iter().find(|c| c.0 == code).map(|c| c.1.to_string()).unwrap_or_else(|| code.to_string())
}

fn satisfaction_name(code: &str) -> String {
    HOTLINE_SATISFACTION.iter().find(|c| c.0 == code).map(|c| c.1.to_string()).unwrap_or_else(|| code.to_string())
}

/// The category code for a code, a Chinese or an English name.
pub fn parse_category(s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    HOTLINE_CATEGORIES.iter().find(|c| c.0 == s || c.1 == s || c.2 == s).map(|c| c.0.to_string()).ok_or_else(|| {
        FieldError::new(
            "category",
            "类别应为 咨询、投诉、建议 或 求助",
            "category must be consultation, complaint, suggestion or help",
        )
    })
}

/// The satisfaction code for a code or a Chinese name.
pub fn parse_satisfaction(s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    HOTLINE_SATISFACTION.iter().find(|c| c.0 == s || c.1 == s || c.2 == s).map(|c| c.0.to_string()).ok_or_else(|| {
        FieldError::new(
            "satisfaction",
            "满意度应为 满意、基本满意 或 不满意",
            "satisfaction must be satisfied, basic or dissatisfied",
        )
    })
}

/// The actions a state allows, whoever asks.
fn allowed_in(state: &str) -> &'static [&'static str] {
    match state {
        "registered" => &["dispatch"],
        "dispatched" => &["reply", "return"],
        "replied" => &["callback"],
        "called_back" => &["close"],
        _ => &[],
    }
}

fn is_operator(by: &CaseActor) -> bool {
    by.role == "consultant" || by.role == "admin"
}

#[derive(Debug, Clone)]
pub struct NewHotlineOrder {
    pub category: String,
    pub place: PlaceCode,
    pub description: String,
    pub caller_name: String,
    pub caller_phone: PhoneNumber,
}

/// What an action carries: the department and days for dispatch, the text for reply, return, callback.
#[derive(Debug, Clone, Default)]
pub struct HotlineInput {
    pub department: Option<String>,
    pub days: Option<i64>,
    pub text: String,
    pub satisfaction: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HotlineEntry {
    pub action: String,
    pub action_name: String,
    pub from_state: String,
    pub to_state: String,
    pub actor: String,
    pub comment: String,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HotlineView {
    pub id: i64,
    pub number: String,
    pub category: String,
    pub category_name: String,
    pub place: String,
    pub place_name: String,
    pub description: String,
    /// Masked (张*): lists and pages never show the caller in full.
    pub caller_name: String,
    /// Masked (138****8000).
    pub caller_phone: String,
    pub state: String,
    pub state_name: String,
    pub department: Option<String>,
    pub department_name: Option<String>,
    pub days: i64,
    pub dispatched_on: Option<String>,
    pub due_on: Option<String>,
    /// Dispatched and past its due date.
    pub overdue: bool,
    /// Overdue orders escalate to the leaders (set by [`Store::escalate_overdue_hotline`] or on sight).
    pub escalated: bool,
    pub reply: String,
    pub callback_note: String,
    pub satisfaction: Option<String>,
    pub satisfaction_name: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
    /// The actions the viewer may take now (empty in lists).
    pub actions: Vec<String>,
    /// Oldest first (empty in lists).
    pub timeline: Vec<HotlineEntry>,
}

#[derive(Debug, Clone, Default)]
pub struct HotlineFilter {
    pub state: Option<String>,
    pub department: Option<String>,
    pub overdue: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct HotlineStatRow {
    pub key: String,
    pub name: String,
    pub count: i64,
    pub open: i64,
    pub overdue: i64,
    pub satisfied: i64,
    pub basic: i64,
    pub dissatisfied: i64,
    /// (满意 + 基本满意) / rated, or null when nobody rated.
    pub satisfied_share: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HotlineReport {
    pub county: String,
    pub today: String,
    pub total: HotlineStatRow,
    pub by_category: Vec<HotlineStatRow>,
    pub by_place: Vec<HotlineStatRow>,
    pub by_department: Vec<HotlineStatRow>,
    /// The overdue orders, for the leaders.
    pub overdue: Vec<HotlineView>,
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    i64,
    Option<String>,
    Option<String>,
    String,
);
type Row2 = (String, Option<String>, Option<i64>, String, i64, Option<i64>);

const COLS: &str = "id, number, county_code, category, place_code, description, caller_name, caller_phone, state, \
    department_id, days, dispatched_on, due_on, reply";
const COLS2: &str = "callback_note, satisfaction, escalated_at, created_by, created_at, closed_at";

struct Loaded {
    id: i64,
    county: String,
    place: String,
    state: String,
    department_id: Option<i64>,
}

impl Store {
    fn hotline_today(today: Option<NaiveDate>) -> NaiveDate {
        today.unwrap_or_else(|| local_day(now_ms()))
    }

    async fn department_names(&self) -> Result<BTreeMap<i64, (String, String)>, StoreError> {
        Ok(self.departments(None).await?.into_iter().map(|d| (d.id, (d.code, d.name))).collect())
    }

    async fn hotline_view_of(
        &self,
        r: Row,
        r2: Row2,
        today: NaiveDate,
        depts: &BTreeMap<i64, (String, String)>,
    ) -> Result<HotlineView, StoreError> {
        let vault = self.vault();
        let open = |s: &str| vault.open(s).map_err(|e| StoreError::Corrupt(e.to_string()));
        let overdue = r.8 == "dispatched"
            && r.12.as_deref().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).is_some_and(|d| today > d);
        let place_name = self.place(&r.4).await.map(|p| p.name).unwrap_or_default();
        let dept = r.9.and_then(|id| depts.get(&id).cloned());
        Ok(HotlineView {
            id: r.0,
            number: r.1,
            category_name: category_name(&r.3),
            category: r.3,
            place: r.4,
            place_name,
            description: r.5,
            caller_name: mask_name(&open(&r.6)?),
            caller_phone: mask_phone(&open(&r.7)?),
            state_name: hotline_state_name(&r.8).to_string(),
            state: r.8,
            department: dept.as_ref().map(|d| d.0.clone()),
            department_name: dept.map(|d| d.1),
            days: r.10,
            dispatched_on: r.11,
            due_on: r.12,
            overdue,
            escalated: overdue || r2.2.is_some(),
            reply: r.13,
            callback_note: r2.0,
            satisfaction_name: r2.1.as_deref().map(satisfaction_name),
            satisfaction: r2.1,
            created_by: r2.3,
            created_at: r2.4,
            closed_at: r2.5,
            actions: Vec::new(),
            timeline: Vec::new(),
        })
    }

    /// Who may see an order: operators and leaders of its county, and the department it is with.
    fn may_see(by: &CaseActor, county: &str, department: Option<&str>) -> bool {
        let in_county =
            PlaceCode::parse(county).map(|c| c.is_within(&by.place) || by.place.is_within(&c)).unwrap_or(false);
        if is_operator(by) || by.role == "leader" {
            return in_county;
        }
        in_county && department.is_some() && by.department.as_deref() == department
    }

    /// Who may take `action` on an order in this department (the state already allows it).
    fn may_act(by: &CaseActor, action: &str, department: Option<&str>) -> bool {
        match action {
            "dispatch" | "callback" | "close" => is_operator(by),
            "reply" | "return" => {
                by.role == "admin" || (department.is_some() && by.department.as_deref() == department)
            }
            _ => false,
        }
    }

    /// Records a call as a work order (registered).
    pub async fn create_hotline_order(
        &self,
        by: &CaseActor,
        n: &NewHotlineOrder,
        today: Option<NaiveDate>,
    ) -> Result<HotlineView, StoreError> {
        if !is_operator(by) {
            return Err(StoreError::Forbidden {
                zh: "只有热线话务员可以登记工单".into(),
                en: "only hotline operators record work orders".into(),
            });
        }
        let category = parse_category(&n.category)?;
        let description = n.description.trim();
        if description.is_empty() {
            return Err(FieldError::new("description", "请填写诉求内容", "describe the call").into());
        }
        if n.caller_name.trim().is_empty() {
            return Err(FieldError::new("caller.name", "请填写来电人姓名", "the caller's name is required").into());
        }
        let county = n.place.county().ok_or_else(|| {
            StoreError::from(FieldError::new("place", "区划应在某个县之内", "the place must lie within a county"))
        })?;
        self.place(n.place.as_str()).await.map_err(|_| {
            StoreError::from(FieldError::new(
                "place",
                format!("区划 {} 不存在", n.place),
                format!("no place {}", n.place),
            ))
        })?;
        let today = Self::hotline_today(today);
        let now = now_ms();
        let mut tx = self.begin(&by.actor).await?;
        let day = today.format("%Y%m%d").to_string();
        let last: Option<i64> =
            sqlx::query_scalar("SELECT last_number FROM hotline_counters WHERE county = $1 AND day = $2")
                .bind(county.as_str())
                .bind(&day)
                .fetch_optional(tx.conn())
                .await?;
        let next = last.unwrap_or(0) + 1;
        if last.is_some() {
            sqlx::query("UPDATE hotline_counters SET last_number = $1 WHERE county = $2 AND day = $3")
                .bind(next)
                .bind(county.as_str())
                .bind(&day)
                .execute(tx.conn())
                .await?;
        } else {
            sqlx::query("INSERT INTO hotline_counters (county, day, last_number) VALUES ($1, $2, $3)")
                .bind(county.as_str())
                .bind(&day)
                .bind(next)
                .execute(tx.conn())
                .await?;
        }
        let number = format!("RX-{day}-{next:04}");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO hotline_orders (number, county_code, category, place_code, description, caller_name, caller_phone, state, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'registered', $8, $9, $9) RETURNING id",
        )
        .bind(&number)
        .bind(county.as_str())
        .bind(&category)
        .bind(n.place.as_str())
        .bind(description)
        .bind(self.vault().seal(n.caller_name.trim()))
        .bind(self.vault().seal(n.caller_phone.as_str()))
        .bind(&by.actor.name)
        .bind(now)
        .fetch_one(tx.conn())
        .await?;
        sqlx::query(
            "INSERT INTO hotline_actions (order_id, action, from_state, to_state, actor, staff_id, comment, at) \
             VALUES ($1, 'register', '', 'registered', $2, $3, '', $4)",
        )
        .bind(id)
        .bind(&by.actor.name)
        .bind(by.actor.staff_id)
        .bind(now)
        .execute(tx.conn())
        .await?;
        tx.record(
            "hotline.registered",
            n.place.as_str(),
            &format!("hotline:{id}"),
            json!({"number": number, "category": category}),
        )
        .await?;
        tx.commit().await?;
        self.hotline_order(id, by, Some(today)).await
    }

    async fn hotline_rows(&self, where_: &str, bind: &str) -> Result<Vec<(Row, Row2)>, StoreError> {
        let a: Vec<Row> = sqlx::query_as(&format!("SELECT {COLS} FROM hotline_orders WHERE {where_} ORDER BY id DESC"))
            .bind(bind)
            .fetch_all(self.pool())
            .await?;
        let b: Vec<Row2> =
            sqlx::query_as(&format!("SELECT {COLS2} FROM hotline_orders WHERE {where_} ORDER BY id DESC"))
                .bind(bind)
                .fetch_all(self.pool())
                .await?;
        Ok(a.into_iter().zip(b).collect())
    }

    /// One order with its timeline and the actions `by` may take now.
    pub async fn hotline_order(
        &self,
        id: i64,
        by: &CaseActor,
        today: Option<NaiveDate>,
    ) -> Result<HotlineView, StoreError> {
        let today = Self::hotline_today(today);
        let depts = self.department_names().await?;
        let (r, r2) = self
            .hotline_rows("CAST(id AS TEXT) = $1", &id.to_string())
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::not_found(format!("hotline order {id}")))?;
        let county = r.2.clone();
        let v = self.hotline_view_of(r, r2, today, &depts).await?;
        if !Self::may_see(by, &county, v.department.as_deref()) {
            return Err(StoreError::not_found(format!("hotline order {id}")));
        }
        let mut v = self.with_timeline(v).await?;
        v.actions = allowed_in(&v.state)
            .iter()
            .filter(|a| Self::may_act(by, a, v.department.as_deref()))
            .map(|a| a.to_string())
            .collect();
        Ok(v)
    }

    /// One order with its timeline, whoever asks (no actions).
    async fn hotline_order_unchecked(&self, id: i64, today: Option<NaiveDate>) -> Result<HotlineView, StoreError> {
        let today = Self::hotline_today(today);
        let depts = self.department_names().await?;
        let (r, r2) = self
            .hotline_rows("CAST(id AS TEXT) = $1", &id.to_string())
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::not_found(format!("hotline order {id}")))?;
        let v = self.hotline_view_of(r, r2, today, &depts).await?;
        self.with_timeline(v).await
    }

    async fn with_timeline(&self, mut v: HotlineView) -> Result<HotlineView, StoreError> {
        let id = v.id;
        let rows: Vec<(String, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT action, from_state, to_state, actor, comment, at FROM hotline_actions WHERE order_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        v.timeline = rows
            .into_iter()
            .map(|(action, from_state, to_state, actor, comment, at)| HotlineEntry {
                action_name: hotline_action_name(&action).to_string(),
                action,
                from_state,
                to_state,
                actor,
                comment,
                at,
            })
            .collect();
        Ok(v)
    }

    /// The orders `by` may see, newest first, filtered.
    pub async fn hotline_orders(
        &self,
        by: &CaseActor,
        f: &HotlineFilter,
        today: Option<NaiveDate>,
    ) -> Result<Vec<HotlineView>, StoreError> {
        let today = Self::hotline_today(today);
        let depts = self.department_names().await?;
        let county = by.place.county().map(|c| c.to_string()).unwrap_or_else(|| by.place.to_string());
        let mut out = Vec::new();
        for (r, r2) in self.hotline_rows("county_code = $1", &county).await? {
            let c = r.2.clone();
            let v = self.hotline_view_of(r, r2, today, &depts).await?;
            if !Self::may_see(by, &c, v.department.as_deref()) {
                continue;
            }
            if f.state.as_deref().is_some_and(|s| !s.is_empty() && s != v.state) {
                continue;
            }
            if f.department.as_deref().is_some_and(|d| !d.is_empty() && Some(d) != v.department.as_deref()) {
                continue;
            }
            if f.overdue.is_some_and(|o| o != v.overdue) {
                continue;
            }
            out.push(v);
        }
        Ok(out)
    }

    async fn load_hotline(&self, tx: &mut crate::write::WriteTx, id: i64) -> Result<Loaded, StoreError> {
        let r: Option<(i64, String, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT id, county_code, place_code, state, department_id FROM hotline_orders WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
        let (id, county, place, state, department_id) =
            r.ok_or_else(|| StoreError::not_found(format!("hotline order {id}")))?;
        Ok(Loaded { id, county, place, state, department_id })
    }

    /// Takes `action` (dispatch, reply, return, callback, close) on an order: 409 naming the allowed
    /// actions when the state does not allow it, 403 when it is not the caller's to take.
    pub async fn act_on_hotline(
        &self,
        id: i64,
        by: &CaseActor,
        action: &str,
        input: &HotlineInput,
        today: Option<NaiveDate>,
    ) -> Result<HotlineView, StoreError> {
        let today = Self::hotline_today(today);
        let depts = self.department_names().await?;
        let now = now_ms();
        let mut tx = self.begin(&by.actor).await?;
        let o = self.load_hotline(&mut tx, id).await?;
        let dept_code = o.department_id.and_then(|d| depts.get(&d)).map(|d| d.0.clone());
        let in_county =
            PlaceCode::parse(&o.county).map(|c| c.is_within(&by.place) || by.place.is_within(&c)).unwrap_or(false);
        if !in_county {
            return Err(StoreError::not_found(format!("hotline order {id}")));
        }
        let allowed = allowed_in(&o.state);
        if !allowed.contains(&action) {
            let names = if allowed.is_empty() { "（无）".to_string() } else { allowed.join(", ") };
            return Err(StoreError::conflict(
                "action",
                format!(
                    "工单当前为“{}”，不能{}；现在可以：{names}",
                    hotline_state_name(&o.state),
                    hotline_action_name(action)
                ),
                format!("the order is {}; {action} is not possible now; allowed: {names}", o.state),
            ));
        }
        if !Self::may_act(by, action, dept_code.as_deref()) {
            return Err(StoreError::Forbidden {
                zh: format!("您不能对该工单执行“{}”", hotline_action_name(action)),
                en: format!("you may not {action} this order"),
            });
        }
        let text = input.text.trim().to_string();
        let need_text = |zh: &str, en: &str| -> Result<(), StoreError> {
            if text.is_empty() {
                Err(FieldError::new("text", zh, en).into())
            } else {
                Ok(())
            }
        };
        let (to, data) = match action {
            "dispatch" => {
                let code = input.department.as_deref().map(str::trim).unwrap_or_default();
                let (dept_id, dept_name) =
                    depts.iter().find(|(_, d)| d.0 == code).map(|(id, d)| (*id, d.1.clone())).ok_or_else(|| {
                        StoreError::from(FieldError::new(
                            "department",
                            format!("部门 {code} 不存在"),
                            format!("no department {code}"),
                        ))
                    })?;
                let days = input.days.unwrap_or(HOTLINE_DEFAULT_DAYS);
                if !(1..=60).contains(&days) {
                    return Err(FieldError::new("days", "办理时限应为 1 至 60 个工作日", "days must be 1 to 60").into());
                }
                let due = self.add_working_days(today, days)?;
                sqlx::query(
                    "UPDATE hotline_orders SET state = 'dispatched', department_id = $1, days = $2, dispatched_on = $3, due_on = $4, \
                     escalated_at = NULL, updated_at = $5 WHERE id = $6",
                )
                .bind(dept_id)
                .bind(days)
                .bind(today.to_string())
                .bind(due.to_string())
                .bind(now)
                .bind(o.id)
                .execute(tx.conn())
                .await?;
                (
                    "dispatched",
                    json!({"department": code, "department_name": dept_name, "days": days, "due_on": due.to_string()}),
                )
            }
            "reply" => {
                need_text("请填写答复内容", "the reply text is required")?;
                sqlx::query("UPDATE hotline_orders SET state = 'replied', reply = $1, updated_at = $2 WHERE id = $3")
                    .bind(&text)
                    .bind(now)
                    .bind(o.id)
                    .execute(tx.conn())
                    .await?;
                ("replied", json!({"department": dept_code}))
            }
            "return" => {
                need_text("请填写退回理由", "the reason for returning is required")?;
                sqlx::query(
                    "UPDATE hotline_orders SET state = 'registered', department_id = NULL, dispatched_on = NULL, due_on = NULL, \
                     escalated_at = NULL, updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(o.id)
                .execute(tx.conn())
                .await?;
                ("registered", json!({"department": dept_code, "reason": text}))
            }
            "callback" => {
                need_text("请填写回访记录", "the call-back note is required")?;
                let sat = parse_satisfaction(input.satisfaction.as_deref().unwrap_or_default())?;
                sqlx::query(
                    "UPDATE hotline_orders SET state = 'called_back', callback_note = $1, satisfaction = $2, updated_at = $3 WHERE id = $4",
                )
                .bind(&text)
                .bind(&sat)
                .bind(now)
                .bind(o.id)
                .execute(tx.conn())
                .await?;
                ("called_back", json!({"satisfaction": sat}))
            }
            "close" => {
                sqlx::query(
                    "UPDATE hotline_orders SET state = 'closed', closed_at = $1, updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(o.id)
                .execute(tx.conn())
                .await?;
                ("closed", json!({}))
            }
            _ => unreachable_action(action)?,
        };
        let comment = match action {
            "dispatch" => format!(
                "{}，{} 个工作日，{} 前答复",
                data["department_name"].as_str().unwrap_or_default(),
                data["days"],
                data["due_on"].as_str().unwrap_or_default()
            ),
            "callback" => {
                format!("{}（{}）", text, satisfaction_name(data["satisfaction"].as_str().unwrap_or_default()))
            }
            _ => text.clone(),
        };
        sqlx::query(
            "INSERT INTO hotline_actions (order_id, action, from_state, to_state, actor, staff_id, comment, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(o.id)
        .bind(action)
        .bind(&o.state)
        .bind(to)
        .bind(&by.actor.name)
        .bind(by.actor.staff_id)
        .bind(&comment)
        .bind(now)
        .execute(tx.conn())
        .await?;
        let mut data = data;
        data["from"] = json!(o.state);
        data["to"] = json!(to);
        tx.record(&format!("hotline.{action}"), &o.place, &format!("hotline:{}", o.id), data).await?;
        tx.commit().await?;
        match self.hotline_order(id, by, Some(today)).await {
            // A department that returned an order no longer sees it: it gets the order as it left it.
            Err(StoreError::NotFound { .. }) => self.hotline_order_unchecked(id, Some(today)).await,
            other => other,
        }
    }

    /// Housekeeping: marks every dispatched order past its due date as escalated (once), with an event
    /// and a timeline entry, so that the leaders see it. Returns the orders newly escalated.
    pub async fn escalate_overdue_hotline(&self, today: Option<NaiveDate>) -> Result<Vec<i64>, StoreError> {
        let today = Self::hotline_today(today);
        let now = now_ms();
        let mut tx = self.begin(&crate::write::Actor::system()).await?;
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, place_code, due_on FROM hotline_orders WHERE state = 'dispatched' AND escalated_at IS NULL AND due_on < $1",
        )
        .bind(today.to_string())
        .fetch_all(tx.conn())
        .await?;
        let mut done = Vec::new();
        for (id, place, due_on) in rows {
            sqlx::query("UPDATE hotline_orders SET escalated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(tx.conn())
                .await?;
            sqlx::query(
                "INSERT INTO hotline_actions (order_id, action, from_state, to_state, actor, staff_id, comment, at) \
                 VALUES ($1, 'escalate', 'dispatched', 'dispatched', 'system', NULL, $2, $3)",
            )
            .bind(id)
            .bind(format!("超过答复期限 {due_on}，已提交领导督办"))
            .bind(now)
            .execute(tx.conn())
            .await?;
            tx.record("hotline.escalated", &place, &format!("hotline:{id}"), json!({"due_on": due_on})).await?;
            done.push(id);
        }
        if done.is_empty() {
            return Ok(done);
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Counts by category, township and department: orders, open, overdue and satisfaction.
    pub async fn hotline_report(&self, by: &CaseActor, today: Option<NaiveDate>) -> Result<HotlineReport, StoreError> {
        let today = Self::hotline_today(today);
        let county = by.place.county().map(|c| c.to_string()).unwrap_or_else(|| by.place.to_string());
        let orders = self.hotline_orders(by, &HotlineFilter::default(), Some(today)).await?;
        let mut total = HotlineStatRow { key: "total".into(), name: "合计".into(), ..Default::default() };
        let mut cat: BTreeMap<String, HotlineStatRow> = BTreeMap::new();
        let mut place: BTreeMap<String, HotlineStatRow> = BTreeMap::new();
        let mut dept: BTreeMap<String, HotlineStatRow> = BTreeMap::new();
        for (code, zh, _) in HOTLINE_CATEGORIES {
            cat.insert(code.into(), HotlineStatRow { key: code.into(), name: zh.into(), ..Default::default() });
        }
        let add = |row: &mut HotlineStatRow, o: &HotlineView| {
            row.count += 1;
            row.open += (o.state != "closed") as i64;
            row.overdue += o.overdue as i64;
            match o.satisfaction.as_deref() {
                Some("satisfied") => row.satisfied += 1,
                Some("basic") => row.basic += 1,
                Some("dissatisfied") => row.dissatisfied += 1,
                _ => {}
            }
        };
        for o in &orders {
            add(&mut total, o);
            if let Some(r) = cat.get_mut(&o.category) {
                add(r, o);
            }
            let township: String = o.place.chars().take(9).collect();
            let name = if place.contains_key(&township) {
                String::new()
            } else {
                self.place(&township).await.map(|p| p.name).unwrap_or_else(|_| township.clone())
            };
            add(
                place.entry(township.clone()).or_insert(HotlineStatRow { key: township, name, ..Default::default() }),
                o,
            );
            let key = o.department.clone().unwrap_or_else(|| "-".into());
            let name = o.department_name.clone().unwrap_or_else(|| "未派单".into());
            add(dept.entry(key.clone()).or_insert(HotlineStatRow { key, name, ..Default::default() }), o);
        }
        let share = |mut r: HotlineStatRow| {
            let rated = r.satisfied + r.basic + r.dissatisfied;
            r.satisfied_share = (rated > 0).then(|| (r.satisfied + r.basic) as f64 / rated as f64);
            r
        };
        Ok(HotlineReport {
            county,
            today: today.to_string(),
            total: share(total),
            by_category: cat.into_values().map(share).collect(),
            by_place: place.into_values().map(share).collect(),
            by_department: dept.into_values().map(share).collect(),
            overdue: orders.into_iter().filter(|o| o.overdue).collect(),
        })
    }
}

fn unreachable_action(action: &str) -> Result<(&'static str, serde_json::Value), StoreError> {
    Err(FieldError::new("action", format!("未知操作 {action}"), format!("unknown action {action}")).into())
}
