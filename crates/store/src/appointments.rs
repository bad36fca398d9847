//! Appointments (预约): half-hour slots per queue with a capacity, booked by a signed-in citizen for a
//! working day up to two weeks ahead. On the day, the kiosk's check-in by mobile number issues a
//! priority ticket (预约优先) and marks the booking in the same commit.

use crate::citizens::Citizen;
use crate::db::Store;
use crate::error::StoreError;
use crate::lobby::{LobbySettings, NewTicket, TicketView};
use crate::now_ms;
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use onewindow_core::ids::PhoneNumber;
use onewindow_core::lobby::Priority;
use onewindow_core::place::PlaceCode;
use onewindow_core::{FieldError, Invalid};
use serde::Serialize;
use serde_json::json;

/// The hall's half-hour slots (08:30–12:00, 13:30–17:00).
pub const SLOTS: [&str; 14] = [
    "08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "13:30", "14:00", "14:30", "15:00", "15:30",
    "16:00", "16:30",
];
const BOOK_AHEAD_DAYS: i64 = 14;
/// Check-in opens this long before the slot and closes this long after its end.
const EARLY_MIN: i64 = 60;
const LATE_MIN: i64 = 15;

#[derive(Debug, Clone, Serialize)]
pub struct SlotView {
    pub slot: String,
    pub end: String,
    pub capacity: i64,
    pub booked: i64,
    pub left: i64,
    /// Already begun (today) — not bookable.
    pub past: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppointmentView {
    pub id: i64,
    pub place: String,
    pub queue: String,
    pub queue_name: String,
    pub day: String,
    pub slot: String,
    pub end: String,
    pub item_code: Option<String>,
    /// booked, checked_in or cancelled.
    pub state: String,
    pub ticket: Option<String>,
}

fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> StoreError {
    StoreError::Invalid(Invalid::one(FieldError::new(field, zh, en)))
}

/// Local (Asia/Shanghai) date and time of a millisecond timestamp.
fn local_time(ms: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.naive_utc() + Duration::hours(8)).unwrap_or_default()
}

fn slot_time(slot: &str) -> Option<NaiveTime> {
    SLOTS.contains(&slot).then(|| NaiveTime::parse_from_str(slot, "%H:%M").ok()).flatten()
}

fn slot_end(slot: &str) -> String {
    slot_time(slot).map(|t| (t + Duration::minutes(30)).format("%H:%M").to_string()).unwrap_or_default()
}

type AppointmentRow = (i64, String, String, String, String, String, Option<String>, String, Option<String>);
const APPOINTMENT_SELECT: &str =
    "SELECT a.id, q.place_code, q.code, q.name, a.day, a.slot, a.item_code, a.state, t.display \
     FROM appointments a JOIN queues q ON q.id = a.queue_id LEFT JOIN tickets t ON t.id = a.ticket_id";

fn view(r: AppointmentRow) -> AppointmentView {
    let (id, place, queue, queue_name, day, slot, item_code, state, ticket) = r;
    AppointmentView { id, place, queue, queue_name, day, end: slot_end(&slot), slot, item_code, state, ticket }
}

impl Store {
    async fn queue_for_booking(&self, place: &PlaceCode, queue: &str) -> Result<(i64, i64), StoreError> {
        sqlx::query_as("SELECT id, appointment_capacity FROM queues WHERE place_code = $1 AND code = $2")
            .bind(place.as_str())
            .bind(queue.trim())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| {
                invalid("queue", format!("队列“{queue}”不存在"), format!("queue \"{queue}\" does not exist"))
            })
    }

    /// The bookable days from today (working days within two weeks).
    pub fn appointment_days(&self, now: i64) -> Result<Vec<NaiveDate>, StoreError> {
        let today = local_time(now).date();
        let mut out = Vec::new();
        for i in 0..=BOOK_AHEAD_DAYS {
            let d = today + Duration::days(i);
            if self.is_working_day(d)? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// A queue's slots on a day with what is left.
    pub async fn appointment_slots(
        &self,
        place: &PlaceCode,
        queue: &str,
        day: NaiveDate,
    ) -> Result<Vec<SlotView>, StoreError> {
        let (queue_id, capacity) = self.queue_for_booking(place, queue).await?;
        let booked: Vec<(String, i64)> = sqlx::query_as(
            "SELECT slot, COUNT(*) FROM appointments WHERE queue_id = $1 AND day = $2 AND state <> 'cancelled' GROUP BY slot",
        )
        .bind(queue_id)
        .bind(day.to_string())
        .fetch_all(self.pool())
        .await?;
        let now = local_time(now_ms());
        Ok(SLOTS
            .iter()
            .map(|s| {
                let n = booked.iter().find(|(slot, _)| slot == s).map(|(_, n)| *n).unwrap_or(0);
                let past = slot_time(s).map(|t| day.and_time(t) <= now).unwrap_or(true);
                SlotView {
                    slot: s.to_string(),
                    end: slot_end(s),
                    capacity,
                    booked: n,
                    left: (capacity - n).max(0),
                    past,
                }
            })
            .collect())
    }

    /// Books a slot: one live booking per citizen per day; the capacity holds under concurrency (the
    /// count and the insert share the one write transaction).
    pub async fn book_appointment(
        &self,
        citizen: &Citizen,
        place: &PlaceCode,
        queue: &str,
        day: &str,
        slot: &str,
        item: Option<&str>,
    ) -> Result<AppointmentView, StoreError> {
        let now = now_ms();
        let mut errs = Invalid::default();
        let day_ok = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").ok();
        let days = self.appointment_days(now)?;
        match day_ok {
            Some(d) if days.contains(&d) => {}
            _ => errs.push(FieldError::new("day", "请选择两周内的工作日", "choose a working day within two weeks")),
        }
        match (slot_time(slot.trim()), day_ok) {
            (None, _) => errs.push(FieldError::new(
                "slot",
                format!("时段应为：{}", SLOTS.join("、")),
                format!("slot must be one of: {}", SLOTS.join(", ")),
            )),
            (Some(t), Some(d)) if d.and_time(t) <= local_time(now) => errs.push(FieldError::new(
                "slot",
                "该时段已开始，请选择之后的时段",
                "this slot has begun; choose a later one",
            )),
            _ => {}
        }
        if let Some(code) = item.filter(|c| !c.trim().is_empty()) {
            if self.item(code).await.is_err() {
                errs.push(FieldError::new(
                    "item",
                    format!("事项“{code}”不存在"),
                    format!("item \"{code}\" does not exist"),
                ));
            }
        }
        let queue_row = self.queue_for_booking(place, queue).await;
        if let Err(StoreError::Invalid(e)) = &queue_row {
            errs.0.extend(e.0.clone());
        }
        errs.into_result(())?;
        let (queue_id, capacity) = queue_row?;
        let (day, slot) = (day.trim(), slot.trim());
        let mut tx = self.begin(&citizen.actor()).await?;
        let mine: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM appointments WHERE phone_hash = $1 AND day = $2 AND state = 'booked'",
        )
        .bind(&citizen.phone_hash)
        .bind(day)
        .fetch_one(tx.conn())
        .await?;
        if mine > 0 {
            return Err(StoreError::conflict(
                "day",
                "您当天已有预约，请先取消原预约",
                "you already have a booking that day; cancel it first",
            ));
        }
        let taken: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM appointments WHERE queue_id = $1 AND day = $2 AND slot = $3 AND state <> 'cancelled'",
        )
        .bind(queue_id)
        .bind(day)
        .bind(slot)
        .fetch_one(tx.conn())
        .await?;
        if taken >= capacity {
            return Err(StoreError::conflict(
                "slot",
                "该时段已约满，请选择其他时段",
                "this slot is full; choose another",
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO appointments (queue_id, day, slot, phone_hash, phone, item_code, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'booked', $7, $7) RETURNING id",
        )
        .bind(queue_id)
        .bind(day)
        .bind(slot)
        .bind(&citizen.phone_hash)
        .bind(self.vault().seal(citizen.phone.as_str()))
        .bind(item.filter(|c| !c.trim().is_empty()))
        .bind(now)
        .fetch_one(tx.conn())
        .await?;
        tx.record(
            "appointment.booked",
            place.as_str(),
            &format!("appointment:{id}"),
            json!({"queue": queue, "day": day, "slot": slot}),
        )
        .await?;
        let text = format!(
            "您已预约{}{}–{}到大厅办理，请到达后在取号机点“预约签到”输入手机号，优先叫号。",
            day,
            slot,
            slot_end(slot)
        );
        tx.outbox(
            "sms",
            &self.vault().seal(citizen.phone.as_str()),
            &json!({"text": text, "kind": "appointment.booked"}),
            &format!("appointment:{id}:booked"),
        )
        .await?;
        tx.commit().await?;
        self.appointment(citizen, id).await
    }

    pub async fn appointment(&self, citizen: &Citizen, id: i64) -> Result<AppointmentView, StoreError> {
        let r: Option<AppointmentRow> =
            sqlx::query_as(&format!("{APPOINTMENT_SELECT} WHERE a.id = $1 AND a.phone_hash = $2"))
                .bind(id)
                .bind(&citizen.phone_hash)
                .fetch_optional(self.pool())
                .await?;
        r.map(view).ok_or_else(|| StoreError::not_found(format!("appointment {id}")))
    }

    pub async fn appointments_of(&self, citizen: &Citizen) -> Result<Vec<AppointmentView>, StoreError> {
        let rows: Vec<AppointmentRow> = sqlx::query_as(&format!(
            "{APPOINTMENT_SELECT} WHERE a.phone_hash = $1 ORDER BY a.day DESC, a.slot DESC LIMIT 50"
        ))
        .bind(&citizen.phone_hash)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(view).collect())
    }

    pub async fn cancel_appointment(&self, citizen: &Citizen, id: i64) -> Result<AppointmentView, StoreError> {
        let a = self.appointment(citizen, id).await?;
        let mut tx = self.begin(&citizen.actor()).await?;
        let n = sqlx::query(
            "UPDATE appointments SET state = 'cancelled', updated_at = $1 WHERE id = $2 AND state = 'booked'",
        )
        .bind(now_ms())
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::conflict(
                "state",
                "该预约已签到或已取消",
                "this booking is checked in or cancelled",
            ));
        }
        tx.record("appointment.cancelled", &a.place, &format!("appointment:{id}"), json!({})).await?;
        tx.commit().await?;
        self.appointment(citizen, id).await
    }

    /// The kiosk's check-in: today's booking of this phone at this hall, within its window, becomes a
    /// priority ticket in the booked queue.
    pub async fn check_in_appointment(
        &self,
        place: &PlaceCode,
        phone: &PhoneNumber,
        s: &LobbySettings,
    ) -> Result<TicketView, StoreError> {
        self.check_in_appointment_at(place, phone, s, now_ms()).await
    }

    /// The check-in as if at `now` (the window's bounds are tested at chosen times).
    pub async fn check_in_appointment_at(
        &self,
        place: &PlaceCode,
        phone: &PhoneNumber,
        s: &LobbySettings,
        now: i64,
    ) -> Result<TicketView, StoreError> {
        let local = local_time(now);
        let today = local.date().to_string();
        let phone_hash = self.vault().lookup_hash("phone", phone.as_str());
        let actor = crate::Actor { staff_id: None, name: "kiosk".into() };
        let mut tx = self.begin(&actor).await?;
        let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
            "SELECT a.id, q.code, a.slot, a.item_code FROM appointments a JOIN queues q ON q.id = a.queue_id \
             WHERE a.phone_hash = $1 AND a.day = $2 AND a.state = 'booked' AND q.place_code = $3 ORDER BY a.slot",
        )
        .bind(&phone_hash)
        .bind(&today)
        .bind(place.as_str())
        .fetch_all(tx.conn())
        .await?;
        let Some((id, queue, slot, item)) = rows.into_iter().next() else {
            return Err(invalid(
                "phone",
                "今天没有该手机号的预约，请直接按业务取号",
                "there is no booking today for this number; take a number by service",
            ));
        };
        let start = slot_time(&slot).map(|t| local.date().and_time(t)).unwrap_or(local);
        if local < start - Duration::minutes(EARLY_MIN) {
            let opens = (start - Duration::minutes(EARLY_MIN)).format("%H:%M");
            return Err(StoreError::conflict(
                "phone",
                format!("您预约的是{slot}，请于{opens}后签到"),
                format!("your booking is at {slot}; check in from {opens}"),
            ));
        }
        if local > start + Duration::minutes(30 + LATE_MIN) {
            return Err(StoreError::conflict(
                "phone",
                format!("已超过预约时段（{slot}–{}），请直接取号", slot_end(&slot)),
                format!("the booked slot ({slot}–{}) has passed; take a normal ticket", slot_end(&slot)),
            ));
        }
        let n = NewTicket {
            place: place.clone(),
            queue,
            phone: Some(phone.clone()),
            priority: Priority::Appointment,
            priority_reason: format!("预约 {slot}"),
            item,
            issued_by: "appointment".into(),
        };
        let (ticket, queue_id, ahead) = self.issue_ticket_in(&mut tx, &n, s).await?;
        sqlx::query("UPDATE appointments SET state = 'checked_in', ticket_id = $1, updated_at = $2 WHERE id = $3")
            .bind(ticket)
            .bind(now)
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.record("appointment.checked_in", place.as_str(), &format!("appointment:{id}"), json!({"ticket": ticket}))
            .await?;
        tx.commit().await?;
        self.issued_ticket(ticket, queue_id, ahead, s).await
    }

    /// Bookings of days gone by that were never checked in become `missed` (housekeeping); returns how
    /// many.
    pub async fn close_missed_appointments(&self, today: NaiveDate) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM appointments WHERE state = 'booked' AND day < $1")
            .bind(today.to_string())
            .fetch_one(self.pool())
            .await?;
        if n == 0 {
            return Ok(0);
        }
        let mut tx = self.begin(&crate::Actor::system()).await?;
        let done = sqlx::query(
            "UPDATE appointments SET state = 'missed', updated_at = $1 WHERE state = 'booked' AND day < $2",
        )
        .bind(now_ms())
        .bind(today.to_string())
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.record("appointments.missed", "", "appointments", json!({"before": today.to_string(), "count": done}))
            .await?;
        tx.commit().await?;
        Ok(done)
    }
}
