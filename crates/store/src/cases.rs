//! Cases: one window accepts any item, the responsible department approves in the back office, the
//! result leaves through one window, by express or electronically. Every action checks the case's own
//! flow version, moves the working-day clock (pausing while the citizen corrects), and writes its
//! timeline row, event, audit row and SMS in one transaction.

use crate::auth::random_token;
use crate::case_actions::CaseOutcome;
use crate::db::{Backend, Store};
use crate::error::StoreError;
use crate::native::Param;
use crate::now_ms;
use crate::write::{outbox_into, Actor, WriteTx};
use chrono::NaiveDate;
use onewindow_core::calendar::WorkingDays;
use onewindow_core::flow::{Flow, Holder, Taker};
use onewindow_core::ids::{IdNumber, PhoneNumber};
use onewindow_core::lobby::local_day;
use onewindow_core::mask::{mask_id_number, mask_name, mask_phone};
use onewindow_core::place::{PlaceCode, PlaceLevel};
use onewindow_core::{FieldError, Invalid};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One line of a case's materials checklist.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MaterialCheck {
    pub name: String,
    pub key: bool,
    pub original: bool,
    pub count: u32,
    /// received, missing, or verified (by data exchange).
    pub status: String,
    #[serde(default)]
    pub supplied_at: Option<i64>,
    /// Supplied after the tolerant-acceptance deadline.
    #[serde(default)]
    pub late: bool,
    #[serde(default)]
    pub verified_by: Option<String>,
}

/// How a case starts.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub item: String,
    pub applicant_name: String,
    pub applicant_id_number: Option<IdNumber>,
    pub applicant_phone: Option<PhoneNumber>,
    /// window, online, village or api.
    pub channel: String,
    /// Material name → received / missing / verified.
    pub materials: Vec<(String, String)>,
    /// Accept with non-key materials missing (容缺受理).
    pub tolerant: bool,
    /// Working days to supply what is missing.
    pub supplement_days: u32,
    /// The ticket being served, whose visit counts as a trip.
    pub ticket_id: Option<i64>,
    /// Where the case is accepted (the acceptor's place, or the applicant's village).
    pub place: PlaceCode,
}

/// What acceptance checked and worked out before writing (see `Store::check_acceptance`).
/// The columns an acceptance fills, in the order of its parameters `$4`…`$34`.
pub(crate) const CASE_INSERT_COLUMNS: &str = "track_token, item_code, item_version, item_name, flow_code, flow_version, state, place_code, \
     county_code, department_id, channel, applicant_name, applicant_id_number, applicant_phone, ticket_id, accepted_by, \
     accepted_at, accepted_on, promised_days, statutory_days, due_on, statutory_due_on, step_entered_at, step_due_on, \
     materials, tolerant, supplement_due_on, updated_at, applicant_id_hash, applicant_phone_hash, trips";

/// The case row an acceptance inserts ([`Store::acceptance_row`]).
pub(crate) struct AcceptanceRow {
    pub(crate) params: Vec<Param>,
    /// The new case's tracking token (one of `params`): unique, so the case is known by it.
    pub(crate) track_token: String,
    pub(crate) sealed_phone: Option<String>,
    pub(crate) window_visit: bool,
}

/// What an acceptance records besides its row ([`Store::acceptance_tail`]): the timeline row's data,
/// the event's data, and the message's payload and idempotency key if the citizen gave a phone.
pub(crate) struct AcceptanceTail {
    pub(crate) timeline: String,
    pub(crate) event: Value,
    pub(crate) sms: Option<(Value, String)>,
}

/// What an acceptance did, for the minimal answer.
pub(crate) fn acceptance_outcome(a: &Acceptance, row: &AcceptanceRow, id: i64, number: String) -> CaseOutcome {
    CaseOutcome {
        id,
        number,
        action: "accept".into(),
        state: a.initial.clone(),
        due_on: a.due_on.to_string(),
        trips: row.window_visit as i64,
        closed_at: None,
    }
}

pub(crate) struct Acceptance {
    pub(crate) now: i64,
    pub(crate) today: NaiveDate,
    pub(crate) county: String,
    pub(crate) stored: crate::catalogue::StoredItem,
    pub(crate) flow_code: String,
    pub(crate) flow_version: i64,
    pub(crate) initial: String,
    pub(crate) department_id: i64,
    pub(crate) checklist: Vec<MaterialCheck>,
    pub(crate) missing: Vec<String>,
    pub(crate) promised: i64,
    pub(crate) statutory: i64,
    pub(crate) due_on: NaiveDate,
    pub(crate) statutory_due_on: NaiveDate,
    pub(crate) step_due_on: Option<String>,
    pub(crate) supplement_due_on: Option<NaiveDate>,
}

/// Who acts on a case.
#[derive(Debug, Clone)]
pub struct CaseActor {
    pub actor: Actor,
    /// staff role code, or `citizen`.
    pub role: String,
    pub place: PlaceCode,
    pub department: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub action: String,
    pub action_name: String,
    pub from_state: String,
    pub to_state: String,
    pub actor: String,
    pub comment: String,
    pub data: Value,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AllowedAction {
    pub code: String,
    pub name: String,
    pub needs_comment: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub id: i64,
    pub number: String,
    pub track_token: String,
    pub item_code: String,
    pub item_version: i64,
    pub item_name: String,
    pub flow_code: String,
    pub flow_version: i64,
    pub state: String,
    pub state_name: String,
    pub holder: Holder,
    pub place: String,
    pub department: String,
    pub department_name: String,
    pub assignee: Option<String>,
    pub channel: String,
    pub applicant_name: String,
    pub applicant_phone: Option<String>,
    pub applicant_id_number: Option<String>,
    pub accepted_by: String,
    pub accepted_at: i64,
    pub accepted_on: String,
    pub due_on: String,
    pub statutory_due_on: String,
    /// The due dates lie beyond the published holiday calendar (weekdays counted); they may move
    /// when the operator loads that year.
    pub due_provisional: bool,
    pub paused: bool,
    pub paused_days: i64,
    pub step_due_on: Option<String>,
    pub materials: Vec<MaterialCheck>,
    pub tolerant: bool,
    pub supplement_due_on: Option<String>,
    pub delivery: Option<Value>,
    pub trips: i64,
    pub closed_at: Option<i64>,
    /// ok, due_soon (≤ 1 working day left), overdue, paused or closed.
    pub urgency: String,
    pub working_days_left: Option<i64>,
    /// What the asking person may do now.
    pub actions: Vec<AllowedAction>,
    pub timeline: Vec<TimelineEntry>,
}

#[derive(sqlx::FromRow, Clone, Debug, PartialEq)]
pub(crate) struct CaseRow {
    pub id: i64,
    pub number: String,
    pub track_token: String,
    pub item_code: String,
    pub item_version: i64,
    pub item_name: String,
    pub flow_code: String,
    pub flow_version: i64,
    pub state: String,
    pub place_code: String,
    pub county_code: String,
    pub department_id: i64,
    pub department_code: String,
    pub department_name: String,
    pub assignee: Option<String>,
    pub assignee_id: Option<i64>,
    pub channel: String,
    pub applicant_name: String,
    pub applicant_id_number: Option<String>,
    pub applicant_phone: Option<String>,
    pub accepted_by: String,
    pub accepted_at: i64,
    pub accepted_on: String,
    pub promised_days: i64,
    pub statutory_days: i64,
    pub due_on: String,
    pub statutory_due_on: String,
    pub paused_since: Option<String>,
    pub paused_days: i64,
    pub step_due_on: Option<String>,
    pub materials: String,
    pub tolerant: i64,
    pub supplement_due_on: Option<String>,
    pub pickup_code: Option<String>,
    pub delivery: Option<String>,
    pub trips: i64,
    pub closed_at: Option<i64>,
    /// Adds one with every change of the row (see case_actions.rs).
    pub version: i64,
}

impl CaseRow {
    /// A row of [`CASE_SELECT`] read on one of the store's own SQLite connections (native.rs), by
    /// column position: by name, rusqlite compares every column's name for each field (3 % of a
    /// benchmark's CPU). [`CASE_COLUMNS`] is the order; a test holds it to `CASE_SELECT`.
    pub(crate) fn from_native(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseRow> {
        Ok(CaseRow {
            id: r.get(0)?,
            number: r.get(1)?,
            track_token: r.get(2)?,
            item_code: r.get(3)?,
            item_version: r.get(4)?,
            item_name: r.get(5)?,
            flow_code: r.get(6)?,
            flow_version: r.get(7)?,
            state: r.get(8)?,
            place_code: r.get(9)?,
            county_code: r.get(10)?,
            department_id: r.get(11)?,
            department_code: r.get(12)?,
            department_name: r.get(13)?,
            assignee: r.get(14)?,
            assignee_id: r.get(15)?,
            channel: r.get(16)?,
            applicant_name: r.get(17)?,
            applicant_id_number: r.get(18)?,
            applicant_phone: r.get(19)?,
            accepted_by: r.get(20)?,
            accepted_at: r.get(21)?,
            accepted_on: r.get(22)?,
            promised_days: r.get(23)?,
            statutory_days: r.get(24)?,
            due_on: r.get(25)?,
            statutory_due_on: r.get(26)?,
            paused_since: r.get(27)?,
            paused_days: r.get(28)?,
            step_due_on: r.get(29)?,
            materials: r.get(30)?,
            tolerant: r.get(31)?,
            supplement_due_on: r.get(32)?,
            pickup_code: r.get(33)?,
            delivery: r.get(34)?,
            trips: r.get(35)?,
            closed_at: r.get(36)?,
            version: r.get(37)?,
        })
    }
}

/// The columns of [`CASE_SELECT`] in their order, as [`CaseRow::from_native`] reads them.
pub(crate) const CASE_COLUMNS: [&str; 38] = [
    "id",
    "number",
    "track_token",
    "item_code",
    "item_version",
    "item_name",
    "flow_code",
    "flow_version",
    "state",
    "place_code",
    "county_code",
    "department_id",
    "department_code",
    "department_name",
    "assignee",
    "assignee_id",
    "channel",
    "applicant_name",
    "applicant_id_number",
    "applicant_phone",
    "accepted_by",
    "accepted_at",
    "accepted_on",
    "promised_days",
    "statutory_days",
    "due_on",
    "statutory_due_on",
    "paused_since",
    "paused_days",
    "step_due_on",
    "materials",
    "tolerant",
    "supplement_due_on",
    "pickup_code",
    "delivery",
    "trips",
    "closed_at",
    "version",
];

pub(crate) const CASE_SELECT: &str = "SELECT c.id, c.number, c.track_token, c.item_code, c.item_version, c.item_name, c.flow_code, \
    c.flow_version, c.state, c.place_code, c.county_code, c.department_id, d.code AS department_code, d.name AS department_name, \
    s.username AS assignee, c.assignee_id, c.channel, c.applicant_name, c.applicant_id_number, c.applicant_phone, c.accepted_by, c.accepted_at, \
    c.accepted_on, c.promised_days, c.statutory_days, c.due_on, c.statutory_due_on, c.paused_since, c.paused_days, c.step_due_on, \
    c.materials, c.tolerant, c.supplement_due_on, c.pickup_code, c.delivery, c.trips, c.closed_at, c.version \
    FROM cases c JOIN departments d ON d.id = c.department_id LEFT JOIN staff s ON s.id = c.assignee_id";

pub(crate) fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> StoreError {
    StoreError::Invalid(Invalid::one(FieldError::new(field, zh, en)))
}

pub(crate) fn date(s: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| StoreError::Corrupt(format!("date {s}: {e}")))
}

/// Whether a day is a working day; beyond the published years (the State Council publishes each year's
/// arrangement in November), weekdays count and `provisional` says the answer is not yet official.
fn working_day(cal: &onewindow_core::calendar::WorkingCalendar, day: NaiveDate, provisional: &mut bool) -> bool {
    match cal.is_working_day(day) {
        Ok(w) => w,
        Err(_) => {
            *provisional = true;
            !matches!(chrono::Datelike::weekday(&day), chrono::Weekday::Sat | chrono::Weekday::Sun)
        }
    }
}

impl Store {
    /// Whether `day` is a working day (weekdays beyond the published calendar).
    pub fn is_working_day(&self, day: NaiveDate) -> Result<bool, StoreError> {
        let cal = self.inner.calendar.read().map_err(|_| StoreError::Corrupt("calendar lock".into()))?;
        Ok(working_day(&cal, day, &mut false))
    }

    /// `n` working days after `start`. A case must be accepted in December too, before next year's
    /// holidays are published: beyond the loaded years weekdays count, and [`Store::is_provisional`]
    /// tells the date is not yet final.
    pub fn add_working_days(&self, start: NaiveDate, n: i64) -> Result<NaiveDate, StoreError> {
        let cal = self.inner.calendar.read().map_err(|_| StoreError::Corrupt("calendar lock".into()))?;
        if let Ok(d) = cal.add_working_days(start, WorkingDays::new(n.max(0) as u32)) {
            return Ok(d);
        }
        let mut provisional = false;
        let (mut day, mut left) = (start, n.max(0));
        while left > 0 {
            day = day.succ_opt().ok_or_else(|| StoreError::Corrupt("date overflow".into()))?;
            if working_day(&cal, day, &mut provisional) {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// Working days d with from < d ≤ to (weekdays beyond the loaded years).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> Result<i64, StoreError> {
        let cal = self.inner.calendar.read().map_err(|_| StoreError::Corrupt("calendar lock".into()))?;
        if let Ok(n) = cal.working_days_between(from, to) {
            return Ok(n);
        }
        let (a, b, sign) = if from <= to { (from, to, 1) } else { (to, from, -1) };
        let mut provisional = false;
        let mut n = 0;
        let mut day = a;
        while day < b {
            day = day.succ_opt().ok_or_else(|| StoreError::Corrupt("date overflow".into()))?;
            n += working_day(&cal, day, &mut provisional) as i64;
        }
        Ok(sign * n)
    }

    /// True when a date lies beyond the published calendar years, so a due date on it may still move.
    pub fn is_provisional(&self, day: &str) -> bool {
        let Ok(day) = date(day) else { return false };
        self.inner.calendar.read().map(|c| c.is_working_day(day).is_err()).unwrap_or(true)
    }

    /// Loads another year of the working-day calendar (the operator's file).
    pub fn load_calendar_year(&self, toml: &str) -> Result<(), StoreError> {
        let mut cal = self.inner.calendar.write().map_err(|_| StoreError::Corrupt("calendar lock".into()))?;
        cal.load_year(toml).map_err(|e| invalid("calendar", e.to_string(), e.to_string()))
    }

    /// Opens a case at acceptance: checks the materials (a missing key material blocks; missing
    /// non-key materials need tolerant acceptance and get a deadline), picks the item's flow, sets
    /// the due dates from the working-day calendar and counts the visit.
    pub async fn accept_case(
        &self,
        by: &CaseActor,
        n: &NewCase,
        today: Option<NaiveDate>,
    ) -> Result<CaseView, StoreError> {
        let opened = self.accept_case_briefly(by, n, today).await?;
        self.case_for(opened.id, Some(by)).await
    }

    /// Opens a case and answers only what it wrote: no read-back.
    pub async fn accept_case_briefly(
        &self,
        by: &CaseActor,
        n: &NewCase,
        today: Option<NaiveDate>,
    ) -> Result<CaseOutcome, StoreError> {
        // The checks read the catalogue before the writers' lock is taken.
        let checked = self.check_acceptance(n, today).await?;
        if self.backend() == Backend::Postgres {
            // On PostgreSQL acceptances and actions that arrive together are written together.
            return self.accept_combined(by, n, checked).await;
        }
        let (store, who, n2) = (self.clone(), by.clone(), n.clone());
        self.on_writer_thread(async move {
            // Checked: nothing is left to refuse, and the case is written in two statements (on
            // SQLite through the store's own connection).
            let mut tx = store.begin_native(&who.actor).await?;
            let opened = store.write_acceptance(&mut tx, &who, &n2, &checked).await?;
            tx.commit().await?;
            Ok(opened)
        })
        .await
    }

    /// Acceptance inside a caller's transaction (a bundle opens its parent case together with the
    /// bundle); returns the case id. Nothing is written before every check has passed.
    pub(crate) async fn accept_case_in(
        &self,
        tx: &mut WriteTx,
        by: &CaseActor,
        n: &NewCase,
        today: Option<NaiveDate>,
    ) -> Result<i64, StoreError> {
        let checked = self.check_acceptance(n, today).await?;
        Ok(self.write_acceptance(tx, by, n, &checked).await?.id)
    }

    /// Every check of an acceptance, and what it works out: the item, its flow, the due dates.
    async fn check_acceptance(&self, n: &NewCase, today: Option<NaiveDate>) -> Result<Acceptance, StoreError> {
        let now = now_ms();
        let today = today.unwrap_or_else(|| local_day(now));
        let facts = self.catalogue_facts(&n.item, n.channel == "online").await?;
        let stored = facts.stored;
        let item = &stored.item;
        let county = n
            .place
            .county()
            .ok_or_else(|| invalid("place", "受理地点应在县及以下", "a case is accepted at a county or below"))?;
        if stored.place != county.as_str() {
            return Err(invalid("item", "该事项不属于本县", "this item belongs to another county"));
        }
        let mut errs = Invalid::default();
        if n.applicant_name.trim().is_empty() || n.applicant_name.chars().count() > 50 {
            errs.push(FieldError::new(
                "applicant.name",
                "申请人姓名不能为空且不超过50字",
                "the applicant's name is required (at most 50 characters)",
            ));
        }
        if !matches!(n.channel.as_str(), "window" | "online" | "village" | "api" | "bundle") {
            errs.push(FieldError::new(
                "channel",
                "渠道应为 window、online、village 或 api",
                "channel must be window, online, village or api",
            ));
        }
        if n.channel == "village" && item.lowest_level != PlaceLevel::Village {
            errs.push(FieldError::new(
                "channel",
                format!("“{}”不能在村级受理", item.name),
                format!("\"{}\" cannot be accepted at a village", item.name),
            ));
        }
        for (name, status) in &n.materials {
            if !item.materials.iter().any(|m| &m.name == name) {
                errs.push(FieldError::new(
                    "materials",
                    format!("“{name}”不是该事项的申请材料"),
                    format!("\"{name}\" is not a material of this item"),
                ));
            }
            if !matches!(status.as_str(), "received" | "missing" | "verified") {
                errs.push(FieldError::new(
                    "materials",
                    format!("材料状态“{status}”无效"),
                    format!("material status \"{status}\" must be received, missing or verified"),
                ));
            }
        }
        errs.into_result(())?;
        let checklist: Vec<MaterialCheck> = item
            .materials
            .iter()
            .map(|m| MaterialCheck {
                name: m.name.clone(),
                key: m.key,
                original: m.original,
                count: m.count,
                status: n
                    .materials
                    .iter()
                    .find(|(name, _)| name == &m.name)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_else(|| "missing".into()),
                supplied_at: None,
                late: false,
                verified_by: None,
            })
            .collect();
        let missing_key: Vec<&str> =
            checklist.iter().filter(|m| m.key && m.status == "missing").map(|m| m.name.as_str()).collect();
        if !missing_key.is_empty() {
            return Err(invalid(
                "materials",
                format!("缺少关键材料，不能受理：{}", missing_key.join("、")),
                format!("key materials are missing, the case cannot be accepted: {}", missing_key.join(", ")),
            ));
        }
        let missing: Vec<&str> = checklist.iter().filter(|m| m.status == "missing").map(|m| m.name.as_str()).collect();
        if !missing.is_empty() && !n.tolerant {
            return Err(invalid(
                "tolerant",
                format!("缺少非关键材料（{}），请选择容缺受理", missing.join("、")),
                format!("non-key materials are missing ({}); choose tolerant acceptance", missing.join(", ")),
            ));
        }
        let (flow_code, flow_version, flow, department_id) =
            (facts.flow_code, facts.flow_version, facts.flow, facts.department_id);
        let promised = i64::from(item.promised_days.get());
        let statutory = i64::from(item.statutory_days.get());
        let due_on = self.add_working_days(today, promised)?;
        let statutory_due_on = self.add_working_days(today, statutory)?;
        let step_due_on = match flow.state(&flow.initial).and_then(|s| s.limit_days) {
            Some(d) => Some(self.add_working_days(today, i64::from(d))?.to_string()),
            None => None,
        };
        let supplement_due_on = if missing.is_empty() {
            None
        } else {
            Some(self.add_working_days(today, i64::from(n.supplement_days.max(1)))?)
        };
        Ok(Acceptance {
            now,
            today,
            county: county.as_str().to_string(),
            flow_code,
            flow_version,
            initial: flow.initial.clone(),
            department_id,
            missing: missing.into_iter().map(String::from).collect(),
            checklist,
            promised,
            statutory,
            due_on,
            statutory_due_on,
            step_due_on,
            supplement_due_on,
            stored,
        })
    }

    /// Writes a checked acceptance: the case with its number, then its timeline row, the visit, the
    /// event and the message, in two statements; answers what it wrote.
    pub(crate) async fn write_acceptance(
        &self,
        tx: &mut WriteTx,
        by: &CaseActor,
        n: &NewCase,
        a: &Acceptance,
    ) -> Result<CaseOutcome, StoreError> {
        let row = self.acceptance_row(by, n, a)?;
        let (id, number) = tx.insert_returning(&self.insert_case_sql(), &row.params).await?;
        let tail = Self::acceptance_tail(n, a, id, &number);
        let mut w = tx.writes();
        w.write(
            "INSERT INTO case_actions (case_id, action, from_state, to_state, actor, staff_id, comment, data, at) \
             VALUES ($1, 'accept', '', $2, $3, $4, '', $5, $6)",
        )
        .bind(id)
        .bind(a.initial.clone())
        .bind(by.actor.name.clone())
        .bind(by.actor.staff_id)
        .bind(tail.timeline.clone())
        .bind(a.now);
        if row.window_visit {
            w.write(
                "INSERT INTO case_trips (case_id, at, day, source, ticket_id, reason, actor) VALUES ($1, $2, $3, 'window', $4, '', $5)",
            )
            .bind(id)
            .bind(a.now)
            .bind(a.today.to_string())
            .bind(n.ticket_id)
            .bind(by.actor.name.clone());
        }
        tx.record_into(&mut w, "case.accepted", n.place.as_str(), &format!("case:{id}"), tail.event.clone()).await?;
        if let (Some(phone), Some((payload, key))) = (&row.sealed_phone, &tail.sms) {
            outbox_into(&mut w, tx.vault(), "sms", phone, payload, key);
        }
        tx.send(w).await?;
        Ok(acceptance_outcome(a, &row, id, number))
    }

    /// The case row an acceptance inserts: the values of `insert_case_sql`'s `$1`…`$34`, personal
    /// data sealed. Worked out before the case has an id or a number.
    pub(crate) fn acceptance_row(
        &self,
        by: &CaseActor,
        n: &NewCase,
        a: &Acceptance,
    ) -> Result<AcceptanceRow, StoreError> {
        let (now, today, county, item, missing) = (a.now, a.today, a.county.as_str(), &a.stored.item, &a.missing);
        let vault = self.vault();
        let sealed_phone = n.applicant_phone.as_ref().map(|p| vault.seal(p.as_str()));
        let day_key = today.format("%Y%m%d").to_string();
        // The visit: a window acceptance is a trip; the ticket, if any, is linked to it. Online and
        // village-clerk acceptance (不出村) are not.
        let window_visit = n.channel == "window";
        let track_token = random_token();
        // The day's next number and the case, in one statement: the number is formed in SQL.
        let params: Vec<Param> = vec![
            county.into(),
            (&day_key).into(),
            format!("{county}-{day_key}-").into(),
            (&track_token).into(),
            item.code.as_str().into(),
            a.stored.version.into(),
            (&item.name).into(),
            (&a.flow_code).into(),
            a.flow_version.into(),
            (&a.initial).into(),
            n.place.as_str().into(),
            county.into(),
            a.department_id.into(),
            (&n.channel).into(),
            vault.seal(n.applicant_name.trim()).into(),
            n.applicant_id_number.as_ref().map(|i| vault.seal(i.as_str())).into(),
            (&sealed_phone).into(),
            n.ticket_id.into(),
            (&by.actor.name).into(),
            now.into(),
            today.to_string().into(),
            a.promised.into(),
            a.statutory.into(),
            a.due_on.to_string().into(),
            a.statutory_due_on.to_string().into(),
            now.into(),
            (&a.step_due_on).into(),
            serde_json::to_string(&a.checklist)?.into(),
            ((n.tolerant && !missing.is_empty()) as i64).into(),
            a.supplement_due_on.map(|d| d.to_string()).into(),
            now.into(),
            n.applicant_id_number.as_ref().map(|i| vault.lookup_hash("id_number", i.as_str())).into(),
            n.applicant_phone.as_ref().map(|p| vault.lookup_hash("phone", p.as_str())).into(),
            (window_visit as i64).into(),
        ];
        Ok(AcceptanceRow { params, track_token, sealed_phone, window_visit })
    }

    /// What an acceptance records once its case has an id and a number: the timeline row's data, the
    /// event's data and the message to the citizen.
    pub(crate) fn acceptance_tail(n: &NewCase, a: &Acceptance, id: i64, number: &str) -> AcceptanceTail {
        let (item, missing) = (&a.stored.item, &a.missing);
        let timeline = json!({"channel": n.channel, "tolerant": n.tolerant && !missing.is_empty(), "missing": missing})
            .to_string();
        let event = json!({"number": number, "item": item.code.as_str(), "flow": a.flow_code, "state": a.initial, "channel": n.channel,
                   "department": item.department, "item_trip_level": i64::from(item.trip_level)});
        let sms = n.applicant_phone.as_ref().map(|_| {
            let due_on = a.due_on;
            let mut text = if n.channel == "online" {
                format!(
                    "您的网上申请“{}”已提交，办件号{}，预审通过后承诺{}前办结。",
                    item.name,
                    number,
                    due_on.format("%-m月%-d日")
                )
            } else {
                format!("您申请的“{}”已受理，办件号{}，承诺{}前办结。", item.name, number, due_on.format("%-m月%-d日"))
            };
            if let Some(d) = a.supplement_due_on {
                text.push_str(&format!("请于{}前补齐：{}。", d.format("%-m月%-d日"), missing.join("、")));
            }
            (json!({"text": text, "kind": "case.accepted"}), format!("case:{id}:accepted"))
        });
        AcceptanceTail { timeline, event, sms }
    }

    fn insert_case_sql(&self) -> Vec<String> {
        const COLUMNS: &str = CASE_INSERT_COLUMNS;
        let values: Vec<String> = (4..=34).map(|i| format!("${i}")).collect();
        let values = values.join(", ");
        let bump = "INSERT INTO case_counters (county, day, last_number) VALUES ($1, $2, 1) \
             ON CONFLICT (county, day) DO UPDATE SET last_number = case_counters.last_number + 1";
        match self.backend() {
            Backend::Sqlite => vec![
                bump.to_string(),
                format!(
                    "INSERT INTO cases (number, {COLUMNS}) SELECT $3 || printf('%05d', last_number), {values} \
                     FROM case_counters WHERE county = $1 AND day = $2 RETURNING id, number"
                ),
            ],
            Backend::Postgres => vec![format!(
                "WITH n AS ({bump} RETURNING last_number) INSERT INTO cases (number, {COLUMNS}) \
                 SELECT $3 || lpad(n.last_number::text, GREATEST(5, length(n.last_number::text)), '0'), {values} \
                 FROM n RETURNING id, number"
            )],
        }
    }

    /// A case as `by` sees it (with the actions they may take), or as the public tracking page does.
    pub async fn case_for(&self, id: i64, by: Option<&CaseActor>) -> Result<CaseView, StoreError> {
        let row: Option<CaseRow> =
            sqlx::query_as(&format!("{CASE_SELECT} WHERE c.id = $1")).bind(id).fetch_optional(self.pool()).await?;
        let row = row.ok_or_else(|| StoreError::not_found(format!("case {id}")))?;
        if let Some(by) = by {
            if !can_see(by, &row) {
                return Err(StoreError::not_found(format!("case {id}")));
            }
        }
        let flow = self.flow(&row.flow_code, row.flow_version).await?;
        let timeline: Vec<(String, String, String, String, String, String, i64)> =
            sqlx::query_as("SELECT action, from_state, to_state, actor, comment, data, at FROM case_actions WHERE case_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(self.pool())
                .await?;
        let mut v = self.view(row, &flow)?;
        v.timeline = timeline
            .into_iter()
            .map(|(action, from_state, to_state, actor, comment, data, at)| TimelineEntry {
                action_name: flow.action(&action).map(|a| a.name.clone()).unwrap_or_else(|| match action.as_str() {
                    "accept" => "受理".into(),
                    "verify" => "数据共享核验".into(),
                    "trip" => "到场".into(),
                    other => other.into(),
                }),
                action,
                from_state,
                to_state,
                actor,
                comment,
                data: serde_json::from_str(&data).unwrap_or(Value::Null),
                at,
            })
            .collect();
        if let Some(by) = by {
            let taker = Taker { role: &by.role, level: by.place.level(), department: by.department.as_deref() };
            v.actions = flow
                .actions_from(&v.state)
                .into_iter()
                .filter(|a| flow.action_for(&v.state, &a.code, &taker, Some(&v.department)).is_ok())
                // Offer only what makes sense now: supplying needs something missing; claiming, a
                // case nobody else holds.
                .filter(|a| a.code != "supply" || v.materials.iter().any(|m| m.status == "missing"))
                .filter(|a| a.code != "claim" || v.assignee.is_none())
                .map(|a| AllowedAction { code: a.code.clone(), name: a.name.clone(), needs_comment: a.needs_comment })
                .collect();
        }
        Ok(v)
    }

    pub async fn case_by_number(&self, number: &str, by: Option<&CaseActor>) -> Result<CaseView, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM cases WHERE number = $1")
            .bind(number.trim())
            .fetch_optional(self.pool())
            .await?;
        self.case_for(id.ok_or_else(|| StoreError::not_found(format!("case {number}")))?, by).await
    }

    pub async fn case_by_token(&self, token: &str) -> Result<CaseView, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM cases WHERE track_token = $1")
            .bind(token)
            .fetch_optional(self.pool())
            .await?;
        self.case_for(id.ok_or_else(|| StoreError::not_found("case"))?, None).await
    }

    pub(crate) fn view(&self, r: CaseRow, flow: &Flow) -> Result<CaseView, StoreError> {
        let today = local_day(now_ms());
        let state = flow.state(&r.state);
        let paused = r.paused_since.is_some();
        let (urgency, left) = if r.closed_at.is_some() {
            ("closed", None)
        } else if paused {
            ("paused", None)
        } else {
            let due = date(&r.due_on)?;
            let left = if due >= today {
                self.working_days_between(today, due).ok()
            } else {
                self.working_days_between(due, today).ok().map(|d| -d)
            };
            match left {
                Some(l) if l < 0 || due < today => ("overdue", Some(l.min(-1))),
                Some(l) if l <= 1 => ("due_soon", Some(l)),
                l => ("ok", l),
            }
        };
        Ok(CaseView {
            id: r.id,
            number: r.number,
            track_token: r.track_token,
            item_code: r.item_code,
            item_version: r.item_version,
            item_name: r.item_name,
            flow_code: r.flow_code,
            flow_version: r.flow_version,
            state_name: state.map(|s| s.name.clone()).unwrap_or_default(),
            holder: state.map(|s| s.holder).unwrap_or_default(),
            state: r.state,
            place: r.place_code,
            department: r.department_code,
            department_name: r.department_name,
            assignee: r.assignee,
            channel: r.channel,
            applicant_name: mask_name(&self.vault().open(&r.applicant_name).unwrap_or_default()),
            applicant_phone: self.vault().open_opt(r.applicant_phone.as_deref()).as_deref().map(mask_phone),
            applicant_id_number: self.vault().open_opt(r.applicant_id_number.as_deref()).as_deref().map(mask_id_number),
            accepted_by: r.accepted_by,
            accepted_at: r.accepted_at,
            accepted_on: r.accepted_on,
            due_provisional: self.is_provisional(&r.due_on) || self.is_provisional(&r.statutory_due_on),
            due_on: r.due_on,
            statutory_due_on: r.statutory_due_on,
            paused,
            paused_days: r.paused_days,
            step_due_on: r.step_due_on,
            materials: serde_json::from_str(&r.materials)?,
            tolerant: r.tolerant != 0,
            supplement_due_on: r.supplement_due_on,
            delivery: r.delivery.as_deref().and_then(|d| serde_json::from_str(d).ok()),
            trips: r.trips,
            closed_at: r.closed_at,
            urgency: urgency.into(),
            working_days_left: left,
            actions: Vec::new(),
            timeline: Vec::new(),
        })
    }
}

/// Jurisdiction: the case lies at or under the member's place (a county sees its townships and
/// villages; a village clerk only their own village); a citizen sees only their own (checked by the caller).
pub(crate) fn can_see(by: &CaseActor, r: &CaseRow) -> bool {
    if by.role == "citizen" {
        return true;
    }
    PlaceCode::parse(&r.place_code).map(|p| p.is_within(&by.place)).unwrap_or(false)
        || (by.place.level() == PlaceLevel::County && r.county_code == by.place.as_str())
}

impl WriteTx {
    /// Records a physical visit of the citizen for a case.
    pub(crate) async fn add_trip(
        &mut self,
        case: i64,
        now: i64,
        day: NaiveDate,
        source: &str,
        ticket: Option<i64>,
        reason: &str,
        actor: &str,
    ) -> Result<i64, StoreError> {
        sqlx::query("INSERT INTO case_trips (case_id, at, day, source, ticket_id, reason, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(case)
            .bind(now)
            .bind(day.to_string())
            .bind(source)
            .bind(ticket)
            .bind(reason)
            .bind(actor)
            .execute(self.conn())
            .await?;
        let trips: i64 = sqlx::query_scalar(
            "UPDATE cases SET trips = trips + 1, version = version + 1 WHERE id = $1 RETURNING trips",
        )
        .bind(case)
        .fetch_one(self.conn())
        .await?;
        Ok(trips)
    }
}

impl Store {
    /// Records a physical visit by hand. The first needs no reason; every further one does.
    pub async fn record_trip(
        &self,
        id: i64,
        by: &CaseActor,
        reason: &str,
        ticket: Option<i64>,
    ) -> Result<CaseView, StoreError> {
        let now = now_ms();
        let mut tx = self.begin(&by.actor).await?;
        let row: Option<CaseRow> =
            sqlx::query_as(&format!("{CASE_SELECT} WHERE c.id = $1")).bind(id).fetch_optional(tx.conn()).await?;
        let row = row.filter(|r| can_see(by, r)).ok_or_else(|| StoreError::not_found(format!("case {id}")))?;
        if row.closed_at.is_some() {
            return Err(StoreError::conflict(
                "case",
                "办件已办结，不再记录到场",
                "the case is closed; no more trips are recorded",
            ));
        }
        if row.trips >= 1 && reason.trim().is_empty() {
            return Err(invalid("reason", "第二次及以后的到场必须说明原因", "a second or later trip needs a reason"));
        }
        let trips = tx
            .add_trip(
                id,
                now,
                local_day(now),
                if ticket.is_some() { "ticket" } else { "staff" },
                ticket,
                reason.trim(),
                &by.actor.name,
            )
            .await?;
        sqlx::query("INSERT INTO case_actions (case_id, action, from_state, to_state, actor, staff_id, comment, data, at) VALUES ($1, 'trip', $2, $2, $3, $4, $5, $6, $7)")
            .bind(id)
            .bind(&row.state)
            .bind(&by.actor.name)
            .bind(by.actor.staff_id)
            .bind(reason.trim())
            .bind(json!({"trips": trips}).to_string())
            .bind(now)
            .execute(tx.conn())
            .await?;
        tx.record(
            "case.trip",
            &row.place_code,
            &format!("case:{id}"),
            json!({"trips": trips, "reason": reason.trim()}),
        )
        .await?;
        tx.commit().await?;
        self.case_for(id, Some(by)).await
    }

    /// A refusal at the window with the one-time notice (一次性告知) of everything still needed.
    pub async fn record_refusal(
        &self,
        by: &CaseActor,
        item: &str,
        applicant: &str,
        reason: &str,
        missing: &[String],
    ) -> Result<i64, StoreError> {
        let stored = self.item(item).await?;
        if reason.trim().is_empty() {
            return Err(invalid("reason", "请填写不予受理的原因", "give the reason for the refusal"));
        }
        for m in missing {
            if !stored.item.materials.iter().any(|x| &x.name == m) {
                return Err(invalid(
                    "missing",
                    format!("“{m}”不是该事项的申请材料"),
                    format!("\"{m}\" is not a material of this item"),
                ));
            }
        }
        let mut tx = self.begin(&by.actor).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO refusals (at, place_code, item_code, applicant_name, reason, missing, actor) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(now_ms())
        .bind(by.place.as_str())
        .bind(item)
        .bind(applicant.trim())
        .bind(reason.trim())
        .bind(serde_json::to_string(missing)?)
        .bind(&by.actor.name)
        .fetch_one(tx.conn())
        .await?;
        tx.record(
            "case.refused",
            by.place.as_str(),
            &format!("refusal:{id}"),
            json!({"item": item, "missing": missing}),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A refusal with the item's full list of materials: (item name, reason, missing, all materials, at).
    pub async fn refusal(
        &self,
        id: i64,
    ) -> Result<(onewindow_core::catalogue::Item, String, Vec<String>, i64), StoreError> {
        let row: Option<(String, String, String, i64)> =
            sqlx::query_as("SELECT item_code, reason, missing, at FROM refusals WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        let (item, reason, missing, at) = row.ok_or_else(|| StoreError::not_found(format!("refusal {id}")))?;
        Ok((self.item(&item).await?.item, reason, serde_json::from_str(&missing)?, at))
    }
}

impl Store {
    /// The applicant's personal data in full, for a stated purpose; the unmasking is recorded in the
    /// audit trail (who, which case, why).
    pub async fn unmask_applicant(&self, id: i64, by: &CaseActor, purpose: &str) -> Result<Value, StoreError> {
        if purpose.trim().chars().count() < 2 {
            return Err(invalid("purpose", "查看完整个人信息须说明用途", "say why you need the full personal data"));
        }
        let row: Option<CaseRow> =
            sqlx::query_as(&format!("{CASE_SELECT} WHERE c.id = $1")).bind(id).fetch_optional(self.pool()).await?;
        let row = row.filter(|r| can_see(by, r)).ok_or_else(|| StoreError::not_found(format!("case {id}")))?;
        let vault = self.vault();
        let out = json!({
            "name": vault.open(&row.applicant_name).ok(),
            "id_number": vault.open_opt(row.applicant_id_number.as_deref()),
            "phone": vault.open_opt(row.applicant_phone.as_deref()),
        });
        let mut tx = self.begin(&by.actor).await?;
        tx.record(
            "personal.unmasked",
            &row.place_code,
            &format!("case:{id}"),
            json!({"purpose": purpose.trim(), "fields": ["name", "id_number", "phone"]}),
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::{CASE_COLUMNS, CASE_SELECT};

    /// `CaseRow::from_native` reads by position, so the select's columns must be these, in this order.
    #[test]
    fn case_columns_are_the_selects_in_order() {
        let list = CASE_SELECT.strip_prefix("SELECT ").and_then(|s| s.split(" FROM ").next()).unwrap();
        let names: Vec<&str> = list
            .split(',')
            .map(|c| {
                let c = c.trim();
                c.rsplit(" AS ").next().map(|n| n.rsplit('.').next().unwrap()).unwrap()
            })
            .collect();
        assert_eq!(names, CASE_COLUMNS);
    }
}
