//! Actions on a case: the flow says whether an action may happen now and by whom; the case's new
//! state, its timeline row, the visit it makes, its event and audit row and the citizen's message are
//! written together.
//!
//! An action is planned (read and checked) and then applied (written). Taken on its own through the
//! API it is **optimistic**: planned outside the writers' lock from a read of the committed case, then
//! applied under the lock in one statement guarded by the case's version. If the case moved meanwhile
//! the guard matches nothing, nothing is written, and the action is planned again under the lock from
//! a fresh read. So the writers' lock is held for one statement per action.

use crate::cases::{can_see, date, invalid, CaseActor, CaseRow, MaterialCheck, CASE_COLUMNS, CASE_SELECT};
use crate::db::{Backend, Store};
use crate::error::StoreError;
use crate::now_ms;
use crate::write::{outbox_into, WriteTx};
use chrono::NaiveDate;
use onewindow_core::flow::{Holder, Refusal, Taker};
use onewindow_core::lobby::local_day;
use onewindow_core::secret::same_secret;
use onewindow_core::{FieldError, Invalid};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::AnyConnection;
use std::sync::LazyLock;

mod combined;
mod written;
pub(crate) use combined::Combiner;
pub(crate) use written::WrittenCases;

/// What an action carries besides its name.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ActionInput {
    pub action: String,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Value,
}

/// The kind under which pick-up codes are hashed ([`crate::vault::Vault::lookup_hash`]).
pub(crate) const PICKUP_CODE_HASH: &str = "pickup_code";

fn six_digits() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000))
}

/// A case as an action reads it: with whether it is part of an open bundle (most are not, and then
/// the bundle rules need not be read).
#[derive(sqlx::FromRow)]
struct ActingRow {
    #[sqlx(flatten)]
    case: CaseRow,
    in_bundle: i64,
}

/// Where an action's plan reads: a sqlx connection (the batch's, under the writers' lock), or one of
/// the store's own SQLite readers (native.rs) for a plan made outside the lock.
enum Reader<'a> {
    Sqlx(&'a mut AnyConnection),
    /// Any of the pool's connections, taken for each read (a plan that may need none).
    Pool(&'a sqlx::AnyPool),
    Native(&'a mut rusqlite::Connection),
}

impl Reader<'_> {
    /// The same connection again, for a second read after the first one's borrow ended.
    fn again(&mut self) -> Reader<'_> {
        match self {
            Reader::Sqlx(conn) => Reader::Sqlx(conn),
            Reader::Pool(pool) => Reader::Pool(pool),
            Reader::Native(conn) => Reader::Native(conn),
        }
    }

    /// The case, with whether it is in an open bundle.
    async fn acting_row(&mut self, id: i64) -> Result<Option<ActingRow>, StoreError> {
        // Built once: this read starts every case action.
        static SQL: LazyLock<(String, String)> = LazyLock::new(|| {
            let sql = format!(
                "SELECT x.*, CAST(CASE WHEN EXISTS (SELECT 1 FROM bundle_cases b WHERE b.parent_case_id = x.id AND b.status = 'open') \
                 OR EXISTS (SELECT 1 FROM bundle_children k JOIN bundle_cases b ON b.id = k.bundle_case_id \
                 WHERE k.case_id = x.id AND b.status = 'open') THEN 1 ELSE 0 END AS BIGINT) AS in_bundle \
                 FROM ({CASE_SELECT} WHERE c.id = $1) x"
            );
            let native = crate::native::positional(&sql);
            (sql, native)
        });
        match self {
            Reader::Sqlx(conn) => Ok(sqlx::query_as(&SQL.0).bind(id).fetch_optional(&mut **conn).await?),
            Reader::Pool(pool) => Ok(sqlx::query_as(&SQL.0).bind(id).fetch_optional(*pool).await?),
            Reader::Native(conn) => {
                use rusqlite::OptionalExtension;
                let mut stmt = conn.prepare_cached(&SQL.1)?;
                Ok(stmt
                    .query_row([id], |r| {
                        // `in_bundle` follows the case's columns.
                        Ok(ActingRow { case: CaseRow::from_native(r)?, in_bundle: r.get(CASE_COLUMNS.len())? })
                    })
                    .optional()?)
            }
        }
    }

    /// A department of the county by its code.
    async fn department_id(&mut self, county: &str, code: &str) -> Result<Option<i64>, StoreError> {
        const SQL: &str = "SELECT id FROM departments WHERE place_code = $1 AND code = $2";
        match self {
            Reader::Sqlx(conn) => {
                Ok(sqlx::query_scalar(SQL).bind(county).bind(code).fetch_optional(&mut **conn).await?)
            }
            Reader::Pool(pool) => Ok(sqlx::query_scalar(SQL).bind(county).bind(code).fetch_optional(*pool).await?),
            Reader::Native(conn) => {
                use rusqlite::OptionalExtension;
                let mut stmt = conn.prepare_cached(&crate::native::positional(SQL))?;
                Ok(stmt.query_row([county, code], |r| r.get(0)).optional()?)
            }
        }
    }

    /// The citizen's visits recorded for the case on a day.
    async fn trips_on(&mut self, id: i64, day: &str) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM case_trips WHERE case_id = $1 AND day = $2";
        match self {
            Reader::Sqlx(conn) => Ok(sqlx::query_scalar(SQL).bind(id).bind(day).fetch_one(&mut **conn).await?),
            Reader::Pool(pool) => Ok(sqlx::query_scalar(SQL).bind(id).bind(day).fetch_one(*pool).await?),
            Reader::Native(conn) => {
                let mut stmt = conn.prepare_cached(&crate::native::positional(SQL))?;
                Ok(stmt.query_row(rusqlite::params![id, day], |r| r.get(0))?)
            }
        }
    }
}

/// An action read and checked: what it will write.
pub(crate) struct ActionPlan {
    row: CaseRow,
    in_bundle: bool,
    now: i64,
    today: NaiveDate,
    action: String,
    to: String,
    moved: bool,
    department_id: i64,
    department_code: String,
    assignee: Option<i64>,
    paused_since: Option<String>,
    paused_days: i64,
    due_on: String,
    statutory_due_on: String,
    step_due_on: Option<String>,
    materials: String,
    pickup_code: Option<String>,
    delivery: Option<String>,
    closed_at: Option<i64>,
    trips: i64,
    /// The citizen's visit this action makes, with its reason.
    visit: Option<String>,
    actor: String,
    staff_id: Option<i64>,
    comment: String,
    /// The timeline row's data.
    data: String,
    /// The message to the citizen, if any.
    sms: Option<String>,
}

/// What a write did to a case, known without reading the case back: the answer to a client that asked
/// for a minimal reply (`Prefer: return=minimal`), whose next step needs only the case's id and state.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CaseOutcome {
    pub id: i64,
    pub number: String,
    /// The action taken (`accept` for a new case).
    pub action: String,
    pub state: String,
    pub due_on: String,
    pub trips: i64,
    pub closed_at: Option<i64>,
}

impl ActionPlan {
    /// The event (and audit row) the action records: its kind, subject and data.
    fn event(&self) -> (String, String, Value) {
        let p = self;
        let data = json!({"number": p.row.number, "from": p.row.state, "to": p.to, "department": p.department_code,
               "closed": p.closed_at.is_some(), "on_time": p.today.to_string() <= p.due_on, "trips": p.trips});
        (format!("case.{}", p.action), format!("case:{}", p.row.id), data)
    }

    /// The message to the citizen, if any: the (sealed) phone, the payload and the idempotency key.
    fn message(&self) -> Option<(&str, Value, String)> {
        let (phone, text) = (self.row.applicant_phone.as_deref()?, self.sms.as_ref()?);
        let payload = json!({"text": text, "kind": format!("case.{}", self.action)});
        Some((phone, payload, format!("case:{}:{}:{}", self.row.id, self.action, self.now)))
    }

    fn outcome(&self) -> CaseOutcome {
        CaseOutcome {
            id: self.row.id,
            number: self.row.number.clone(),
            action: self.action.clone(),
            state: self.to.clone(),
            due_on: self.due_on.clone(),
            trips: self.trips,
            closed_at: self.closed_at,
        }
    }
}

impl Store {
    /// Takes an action on a case: the flow says whether it may happen now and by whom; a transition not
    /// allowed now is a conflict naming the actions that are. Answers the case as the actor now sees it.
    pub async fn act_on_case(
        &self,
        id: i64,
        by: &CaseActor,
        input: &ActionInput,
        today: Option<NaiveDate>,
    ) -> Result<crate::cases::CaseView, StoreError> {
        self.act_on_case_briefly(id, by, input, today).await?;
        self.case_for(id, Some(by)).await
    }

    /// Takes an action on a case and answers only what it did, from the plan it wrote: no read-back.
    pub async fn act_on_case_briefly(
        &self,
        id: i64,
        by: &CaseActor,
        input: &ActionInput,
        today: Option<NaiveDate>,
    ) -> Result<CaseOutcome, StoreError> {
        // Planned outside the lock: where it can, from the case as this server last wrote it
        // (written.rs), otherwise from the committed case. A refusal here stands: it is what the
        // case allowed when it was read.
        let plan = match &self.inner.native {
            Some(native) => {
                let mut reader = native.reader()?;
                self.plan_outside_lock(Reader::Native(&mut reader), id, by, input, today).await?
            }
            None => self.plan_outside_lock(Reader::Pool(self.pool()), id, by, input, today).await?,
        };
        let after = plan.case_after(by);
        // An action in a bundle writes the bundle's progress too: that path reads under the lock.
        if !plan.in_bundle && self.backend() == Backend::Postgres {
            // On PostgreSQL actions that arrive together are written together (combined.rs).
            let outcome = self.act_combined(plan, by, input, today).await?;
            self.inner.written_cases.keep_if(after);
            return Ok(outcome);
        }
        let optimistic = (!plan.in_bundle).then_some(plan);
        let (store, who, input2) = (self.clone(), by.clone(), input.clone());
        let outcome = self
            .on_writer_thread(async move {
                // Checked: an action reads and checks everything before it writes, and then writes in
                // one statement, so it needs no savepoint of its own. Planned already, it writes through
                // the store's own SQLite connection, where there is one.
                let tx = match optimistic {
                    Some(_) => store.begin_native(&who.actor).await?,
                    None => store.begin_checked(&who.actor).await?,
                };
                let (tx, outcome) = store.act_in_turn(tx, optimistic.as_ref(), id, &who, &input2, today).await?;
                tx.commit().await?;
                Ok(outcome)
            })
            .await?;
        self.inner.written_cases.keep_if(after);
        Ok(outcome)
    }

    /// An action in a writer's turn: its optimistic plan applied if the case has not moved since it was
    /// read, otherwise (or without a plan) read, checked and applied under the lock. Answers the turn
    /// it ended in (a native turn whose guard failed gives way to a sqlx one).
    pub(crate) async fn act_in_turn(
        &self,
        mut tx: WriteTx,
        optimistic: Option<&ActionPlan>,
        id: i64,
        by: &CaseActor,
        input: &ActionInput,
        today: Option<NaiveDate>,
    ) -> Result<(WriteTx, CaseOutcome), StoreError> {
        if let Some(plan) = optimistic {
            if self.apply_action(&mut tx, plan, by, true).await? {
                return Ok((tx, plan.outcome()));
            }
            if tx.is_native() {
                // Planning again reads through sqlx: the guard wrote nothing, so this turn ends with
                // nothing to undo and the next takes the lock on sqlx's connection.
                drop(tx);
                tx = self.begin_checked(&by.actor).await?;
            }
            tx.note_replanned();
        }
        let outcome = self.act_on_case_in(&mut tx, id, by, input, today).await?;
        Ok((tx, outcome))
    }

    /// An action inside a caller's transaction (a citizen's correction uploads its files and supplies
    /// in one commit), read and checked under the lock.
    pub(crate) async fn act_on_case_in(
        &self,
        tx: &mut WriteTx,
        id: i64,
        by: &CaseActor,
        input: &ActionInput,
        today: Option<NaiveDate>,
    ) -> Result<CaseOutcome, StoreError> {
        let plan = self.plan_action(Reader::Sqlx(tx.conn()), id, by, input, today).await?;
        if plan.moved && plan.in_bundle {
            // The bundle's rules write in statements of their own.
            tx.savepoint_now().await?;
        }
        self.apply_action(tx, &plan, by, false).await?;
        Ok(plan.outcome())
    }

    /// Whether the code a citizen shows is the case's pick-up code. Codes are stored as their keyed
    /// hash; a case whose result reached the window before that holds the six digits themselves.
    fn pickup_code_matches(&self, stored: Option<&str>, shown: &str) -> bool {
        let shown = shown.trim();
        match stored {
            None => false,
            _ if shown.is_empty() => false,
            Some(plain) if plain.len() == 6 && plain.bytes().all(|b| b.is_ascii_digit()) => same_secret(shown, plain),
            Some(hash) => same_secret(&self.vault().lookup_hash(PICKUP_CODE_HASH, shown), hash),
        }
    }

    /// Reads the case on `conn` and checks the action against its flow, its jurisdiction and its
    /// data; works out everything it changes. Writes nothing.
    async fn plan_action(
        &self,
        mut conn: Reader<'_>,
        id: i64,
        by: &CaseActor,
        input: &ActionInput,
        today: Option<NaiveDate>,
    ) -> Result<ActionPlan, StoreError> {
        let row = conn.acting_row(id).await?;
        let (row, in_bundle) = row
            .filter(|r| can_see(by, &r.case))
            .map(|r| (r.case, r.in_bundle != 0))
            .ok_or_else(|| StoreError::not_found(format!("case {id}")))?;
        self.plan_on(conn, row, in_bundle, by, input, today).await
    }

    /// Checks the action against the case as read (or as this server last wrote it) and works out
    /// everything it changes; `conn` answers what else the action needs to know. Writes nothing.
    async fn plan_on(
        &self,
        mut conn: Reader<'_>,
        row: CaseRow,
        in_bundle: bool,
        by: &CaseActor,
        input: &ActionInput,
        today: Option<NaiveDate>,
    ) -> Result<ActionPlan, StoreError> {
        let now = now_ms();
        let today = today.unwrap_or_else(|| local_day(now));
        let id = row.id;
        let flow = self.flow(&row.flow_code, row.flow_version).await?;
        let taker = Taker { role: &by.role, level: by.place.level(), department: by.department.as_deref() };
        let action = match flow.action_for(&row.state, &input.action, &taker, Some(&row.department_code)) {
            Ok(a) => a.clone(),
            Err(Refusal::Unknown) => {
                return Err(invalid(
                    "action",
                    format!("未知操作“{}”", input.action),
                    format!("unknown action \"{}\"", input.action),
                ))
            }
            Err(Refusal::NotNow { allowed }) => {
                let state = flow.state(&row.state).map(|s| s.name.clone()).unwrap_or_default();
                return Err(StoreError::conflict(
                    "action",
                    format!(
                        "办件当前为“{state}”，不能“{}”；当前可执行：{}",
                        input.action,
                        if allowed.is_empty() { "无".into() } else { allowed.join("、") }
                    ),
                    format!(
                        "the case is \"{}\"; \"{}\" is not allowed now; allowed: {}",
                        row.state,
                        input.action,
                        if allowed.is_empty() { "none".into() } else { allowed.join(", ") }
                    ),
                ));
            }
            Err(Refusal::NotYours { why_zh, why_en }) => return Err(StoreError::Forbidden { zh: why_zh, en: why_en }),
        };
        if action.needs_comment && input.comment.trim().is_empty() {
            return Err(invalid(
                "comment",
                format!("“{}”需要填写理由", action.name),
                format!("\"{}\" needs a reason", action.code),
            ));
        }
        let mut materials: Vec<MaterialCheck> = serde_json::from_str(&row.materials)?;
        let mut set_department: Option<i64> = None;
        let mut set_department_code: Option<String> = None;
        let mut assignee: Option<Option<i64>> = None;
        let mut delivery: Option<Value> = None;
        match action.code.as_str() {
            "claim" => {
                if let Some(holder) = row.assignee.as_deref().filter(|h| *h != by.actor.name) {
                    return Err(StoreError::conflict(
                        "action",
                        format!("已由 {holder} 认领"),
                        format!("already claimed by {holder}"),
                    ));
                }
                assignee = Some(by.actor.staff_id)
            }
            "forward" => {
                let code = input.data["department"].as_str().unwrap_or_default();
                let d = conn.department_id(&row.county_code, code).await?;
                set_department_code = Some(code.to_string());
                let d = d.ok_or_else(|| {
                    invalid(
                        "data.department",
                        format!("部门“{code}”不存在"),
                        format!("department \"{code}\" does not exist"),
                    )
                })?;
                if d == row.department_id {
                    return Err(invalid("data.department", "不能转给本部门", "cannot forward to the same department"));
                }
                set_department = Some(d);
                assignee = Some(None);
            }
            "supply" => {
                let name = input.data["material"].as_str().unwrap_or_default();
                let m = materials.iter_mut().find(|m| m.name == name && m.status == "missing").ok_or_else(|| {
                    invalid(
                        "data.material",
                        format!("“{name}”不是待补齐的材料"),
                        format!("\"{name}\" is not a missing material"),
                    )
                })?;
                m.status = "received".into();
                m.supplied_at = Some(now);
                m.late =
                    row.supplement_due_on.as_deref().map(|d| date(d).map(|d| today > d)).transpose()?.unwrap_or(false);
            }
            "ship" => {
                let (address, carrier, tracking) = (
                    input.data["address"].as_str().unwrap_or_default(),
                    input.data["carrier"].as_str().unwrap_or_default(),
                    input.data["tracking"].as_str().unwrap_or_default(),
                );
                let mut errs = Invalid::default();
                for (f, v, zh) in [
                    ("data.address", address, "收件地址"),
                    ("data.carrier", carrier, "快递公司"),
                    ("data.tracking", tracking, "运单号"),
                ] {
                    if v.trim().is_empty() || v.chars().count() > 200 {
                        errs.push(FieldError::new(f, format!("{zh}不能为空"), format!("{} is required", &f[5..])));
                    }
                }
                errs.into_result(())?;
                delivery = Some(
                    json!({"method": "express", "address": address.trim(), "carrier": carrier.trim(), "tracking": tracking.trim(), "shipped_at": now}),
                );
            }
            "collect" => {
                let code = input.data["pickup_code"].as_str().unwrap_or_default();
                if !self.pickup_code_matches(row.pickup_code.as_deref(), code) {
                    return Err(invalid("data.pickup_code", "取件码不正确", "the pick-up code is wrong"));
                }
                delivery = Some(json!({"method": "pickup", "collected_at": now}));
            }
            "download" => delivery = Some(json!({"method": "electronic", "downloaded_at": now})),
            "deliver" => {
                let mut d: Value =
                    row.delivery.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or(json!({}));
                d["delivered_at"] = json!(now);
                delivery = Some(d);
            }
            _ => {}
        }
        if action.requires_materials.iter().any(|m| m == "*") {
            let missing: Vec<&str> =
                materials.iter().filter(|m| m.status == "missing").map(|m| m.name.as_str()).collect();
            if !missing.is_empty() {
                return Err(StoreError::conflict(
                    "materials",
                    format!("容缺材料尚未补齐，不能出件：{}", missing.join("、")),
                    format!("missing materials must be supplied before the result leaves: {}", missing.join(", ")),
                ));
            }
        }
        let to = flow.next_state(&row.state, &action).to_string();
        let moved = to != row.state;
        let from_state = flow.state(&row.state);
        let to_state = flow.state(&to);
        // The clock: leaving a paused state adds its working days; entering one pauses.
        let mut paused_since = row.paused_since.clone();
        let mut paused_days = row.paused_days;
        let mut due_on = row.due_on.clone();
        let mut statutory_due_on = row.statutory_due_on.clone();
        if moved {
            let leaving_pause = from_state.is_some_and(|s| !s.counts) && to_state.is_some_and(|s| s.counts);
            let entering_pause = to_state.is_some_and(|s| !s.counts) && from_state.is_some_and(|s| s.counts);
            if leaving_pause {
                if let Some(since) = &row.paused_since {
                    paused_days += self.working_days_between(date(since)?, today)?;
                }
                paused_since = None;
                let accepted = date(&row.accepted_on)?;
                due_on = self.add_working_days(accepted, row.promised_days + paused_days)?.to_string();
                statutory_due_on = self.add_working_days(accepted, row.statutory_days + paused_days)?.to_string();
            }
            if entering_pause {
                paused_since = Some(today.to_string());
            }
        }
        let step_due_on = if moved {
            match to_state.and_then(|s| s.limit_days) {
                Some(d) => Some(self.add_working_days(today, i64::from(d))?.to_string()),
                None => None,
            }
        } else {
            row.step_due_on.clone()
        };
        // Each time the result reaches the window the citizen is texted a fresh code; only its keyed
        // hash is kept (the code is the citizen's proof, like a sign-in code), so an earlier code
        // cannot be sent again and stops working.
        let new_pickup_code = (moved && to_state.is_some_and(|s| s.holder == Holder::Window)).then(six_digits);
        let pickup_code = match &new_pickup_code {
            Some(code) => Some(self.vault().lookup_hash(PICKUP_CODE_HASH, code)),
            None => row.pickup_code.clone(),
        };
        let closed_at = if to_state.is_some_and(|s| s.terminal) { Some(now) } else { None };
        // The assignee stays with the department's work; it clears when the case leaves the department.
        let assignee = match assignee {
            Some(a) => a,
            None if moved && to_state.is_some_and(|s| s.holder != Holder::Department) => None,
            None => row.assignee_id,
        };
        let mut data = input.data.clone();
        if data.is_null() {
            data = json!({});
        }
        if let Some(obj) = data.as_object_mut() {
            // The pick-up code is the citizen's proof; the timeline does not repeat it.
            obj.remove("pickup_code");
        }
        // A visit at collection counts unless the citizen was already here today for this case.
        let mut trips = row.trips;
        let mut visit = None;
        if action.visit {
            let today_trips = conn.trips_on(id, &today.to_string()).await?;
            if today_trips == 0 {
                visit = Some(input.data["trip_reason"].as_str().unwrap_or("领取结果").to_string());
                trips += 1;
            }
        }
        let sms = if row.applicant_phone.is_some() {
            match (action.code.as_str(), to_state.map(|s| s.holder)) {
                (_, Some(Holder::Window)) if moved => new_pickup_code.as_ref().map(|c| {
                    format!(
                        "您的办件{}（{}）已办结，可到统一出件窗口凭取件码{}领取，也可选择免费快递或电子送达。",
                        row.number, row.item_name, c
                    )
                }),
                ("return", _) => Some(format!(
                    "您的办件{}需要补正：{}。计时暂停，补正后继续办理。",
                    row.number,
                    input.comment.trim()
                )),
                ("reject", _) | ("refuse", _) => {
                    Some(format!("您的办件{}未通过：{}", row.number, input.comment.trim()))
                }
                ("ship", _) => delivery.as_ref().map(|d| {
                    format!(
                        "您的办件{}结果已寄出，{}运单号{}。",
                        row.number,
                        d["carrier"].as_str().unwrap_or_default(),
                        d["tracking"].as_str().unwrap_or_default()
                    )
                }),
                _ => None,
            }
        } else {
            None
        };
        let department_code = set_department_code.unwrap_or_else(|| row.department_code.clone());
        Ok(ActionPlan {
            in_bundle,
            now,
            today,
            action: action.code.clone(),
            to,
            moved,
            department_id: set_department.unwrap_or(row.department_id),
            department_code,
            assignee,
            paused_since,
            paused_days,
            due_on,
            statutory_due_on,
            step_due_on,
            materials: serde_json::to_string(&materials)?,
            pickup_code,
            delivery: delivery.as_ref().map(|d| d.to_string()).or(row.delivery.clone()),
            closed_at,
            trips,
            visit,
            actor: by.actor.name.clone(),
            staff_id: by.actor.staff_id,
            comment: input.comment.trim().to_string(),
            data: data.to_string(),
            sms,
            row,
        })
    }

    /// Writes a planned action: the case's new state, its timeline row, the visit, the event, its audit
    /// row and the message in one statement (with the bundle's progress between, when there is one).
    /// `guarded`: only if the case is still the version the plan read; returns false, having written
    /// nothing, if it is not.
    async fn apply_action(
        &self,
        tx: &mut WriteTx,
        p: &ActionPlan,
        by: &CaseActor,
        guarded: bool,
    ) -> Result<bool, StoreError> {
        let id = p.row.id;
        let mut w = tx.writes();
        let update = "UPDATE cases SET state = $1, department_id = $2, assignee_id = $3, paused_since = $4, paused_days = $5, \
             due_on = $6, statutory_due_on = $7, step_due_on = $8, step_entered_at = CASE WHEN $9 = 1 THEN $14 ELSE step_entered_at END, \
             materials = $10, pickup_code = $11, delivery = $12, closed_at = $13, updated_at = $14, trips = $16, \
             version = version + 1 WHERE id = $15";
        if guarded {
            w.guard(&format!("{update} AND version = $17"));
        } else {
            w.write(update);
        }
        w.bind(p.to.clone())
            .bind(p.department_id)
            .bind(p.assignee)
            .bind(p.paused_since.clone())
            .bind(p.paused_days)
            .bind(p.due_on.clone())
            .bind(p.statutory_due_on.clone())
            .bind(p.step_due_on.clone())
            .bind(p.moved as i64)
            .bind(p.materials.clone())
            .bind(p.pickup_code.clone())
            .bind(p.delivery.clone())
            .bind(p.closed_at)
            .bind(p.now)
            .bind(id)
            .bind(p.trips);
        if guarded {
            w.bind(p.row.version);
        }
        w.write(
            "INSERT INTO case_actions (case_id, action, from_state, to_state, actor, staff_id, comment, data, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(p.action.clone())
        .bind(p.row.state.clone())
        .bind(p.to.clone())
        .bind(p.actor.clone())
        .bind(p.staff_id)
        .bind(p.comment.clone())
        .bind(p.data.clone())
        .bind(p.now);
        if let Some(reason) = &p.visit {
            w.write(
                "INSERT INTO case_trips (case_id, at, day, source, ticket_id, reason, actor) VALUES ($1, $2, $3, 'collect', NULL, $4, $5)",
            )
            .bind(id)
            .bind(p.now)
            .bind(p.today.to_string())
            .bind(reason.clone())
            .bind(p.actor.clone());
        }
        if p.moved && p.in_bundle {
            if guarded {
                return Err(StoreError::Corrupt("an action in a bundle is applied under the lock".into()));
            }
            tx.send(std::mem::replace(&mut w, tx.writes())).await?;
            self.bundle_progress(tx, &p.row, &p.to, p.closed_at.is_some(), by, p.today).await?;
        }
        // The row was read in this transaction (or is guarded by its version): its trips and
        // department stand unless this action changed them.
        let (kind, subject, data) = p.event();
        tx.record_into(&mut w, &kind, &p.row.place_code, &subject, data).await?;
        if let Some((phone, payload, key)) = p.message() {
            outbox_into(&mut w, tx.vault(), "sms", phone, &payload, &key);
        }
        if guarded {
            tx.send_guarded(w).await
        } else {
            tx.send(w).await?;
            Ok(true)
        }
    }
}
