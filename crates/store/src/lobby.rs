//! The lobby queue in the store: numbering, tickets and their periods, window actions. Every action is
//! one write transaction; on SQLite the single writer and on PostgreSQL the advisory lock serialise
//! them, so two windows calling at once can never receive the same ticket and numbers never repeat.
//!
//! This file holds what the parts share: the settings, the views, the ticket row and the steps a
//! window's call is made of. Issuing and the holder's side are in `tickets.rs`, the windows' side
//! in `windows.rs`, configuring queues and windows in `setup.rs`.

use crate::error::StoreError;
use crate::write::WriteTx;
use onewindow_core::ids::PhoneNumber;
use onewindow_core::lobby::{self, CallRule, Priority, QueueState, Waiting};
use onewindow_core::mask::mask_phone;
use onewindow_core::place::PlaceCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

mod setup;
mod tickets;
mod windows;

/// How the hall runs its queue; the defaults suit a county hall.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LobbySettings {
    pub rule: CallRule,
    /// An SMS goes out once when this many are ahead (not to tickets that started with this many or fewer).
    pub remind_at_ahead: usize,
    /// "I'm running late" moves a ticket back this many places, once.
    pub late_moves: usize,
    /// A ticket may be marked no-show only after this many recalls.
    pub no_show_after_recalls: i64,
    /// The service time assumed before there is any data today.
    pub default_service_secs: i64,
    /// How recent service times are averaged for the wait estimate.
    pub estimate_sample: i64,
    /// The address citizens open from an SMS (the ticket page), e.g. `https://zwfw.example.gov.cn`.
    pub public_url: String,
}

impl Default for LobbySettings {
    fn default() -> Self {
        LobbySettings {
            rule: CallRule::default(),
            remind_at_ahead: 3,
            late_moves: 5,
            no_show_after_recalls: 2,
            default_service_secs: 300,
            estimate_sample: 20,
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    pub id: i64,
    pub place: String,
    pub code: String,
    pub prefix: String,
    pub name: String,
    pub zone: String,
    pub waiting: i64,
    /// Minutes the longest-waiting ticket has waited.
    pub longest_wait_minutes: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketView {
    pub id: i64,
    pub number: String,
    pub queue: String,
    pub queue_name: String,
    pub status: String,
    pub priority: Priority,
    pub priority_reason: String,
    pub ahead: Option<usize>,
    pub estimated_wait_minutes: Option<i64>,
    pub window: Option<String>,
    pub token: String,
    pub phone_masked: Option<String>,
    pub issued_at: i64,
    pub called_at: Option<i64>,
    pub recalls: i64,
    pub transfers: i64,
    pub late_used: bool,
    pub item: Option<String>,
}

/// A call as displays show and speak it.
#[derive(Debug, Clone, Serialize)]
pub struct CallShown {
    pub number: String,
    pub window: String,
    pub text: String,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    pub code: String,
    pub name: String,
    pub paused: bool,
    pub pause_reason: String,
    pub ticket: Option<TicketView>,
    pub queues: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub place: PlaceCode,
    pub queue: String,
    pub phone: Option<PhoneNumber>,
    pub priority: Priority,
    pub priority_reason: String,
    pub item: Option<String>,
    /// kiosk, guide, api, appointment.
    pub issued_by: String,
}

/// Where a transferred ticket goes in its new queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    First,
    Last,
    /// By when the citizen first arrived.
    Original,
}

/// Window actions that change a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowAction {
    Recall,
    Start,
    Finish,
    NoShow,
    Hold,
}

const TICKET_COLUMNS: &str = "t.id, t.display, q.code AS queue, q.name AS queue_name, t.status, t.priority, t.priority_reason, \
    t.token, t.phone, t.issued_at, t.called_at, t.recalls, t.transfers, t.late_used, t.item_code, w.code AS window_code";

#[derive(sqlx::FromRow)]
struct TicketRow {
    id: i64,
    display: String,
    queue: String,
    queue_name: String,
    status: String,
    priority: String,
    priority_reason: String,
    token: String,
    phone: Option<String>,
    issued_at: i64,
    called_at: Option<i64>,
    recalls: i64,
    transfers: i64,
    late_used: i64,
    item_code: Option<String>,
    window_code: Option<String>,
}

fn ticket_select(filter: &str) -> String {
    format!(
        "SELECT {TICKET_COLUMNS} FROM tickets t JOIN queues q ON q.id = t.queue_id LEFT JOIN windows w ON w.id = t.window_id WHERE {filter}"
    )
}

fn view(r: TicketRow, vault: &crate::vault::Vault) -> Result<TicketView, StoreError> {
    Ok(TicketView {
        id: r.id,
        number: r.display,
        queue: r.queue,
        queue_name: r.queue_name,
        status: r.status,
        priority: Priority::parse(&r.priority).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        priority_reason: r.priority_reason,
        token: r.token,
        phone_masked: vault.open_opt(r.phone.as_deref()).as_deref().map(mask_phone),
        issued_at: r.issued_at,
        called_at: r.called_at,
        recalls: r.recalls,
        transfers: r.transfers,
        late_used: r.late_used != 0,
        item: r.item_code,
        window: r.window_code,
        ahead: None,
        estimated_wait_minutes: None,
    })
}

fn conflict(zh: impl Into<String>, en: impl Into<String>) -> StoreError {
    StoreError::conflict("status", zh, en)
}

/// A queue's waiting tickets that any of its windows may call (not those sent to one window), with
/// its priority streak: what the call rule works on.
async fn queue_state_on(conn: &mut sqlx::AnyConnection, queue_id: i64) -> Result<QueueState, StoreError> {
    let waiting: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT id, priority, sort_key FROM tickets WHERE queue_id = $1 AND status = 'waiting' AND target_window_id IS NULL",
    )
    .bind(queue_id)
    .fetch_all(&mut *conn)
    .await?;
    let streak: i64 = sqlx::query_scalar("SELECT priority_streak FROM queues WHERE id = $1")
        .bind(queue_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(QueueState {
        waiting: waiting
            .into_iter()
            .map(|(id, p, sort_key)| Waiting { id, priority: p != "normal", sort_key })
            .collect(),
        priority_streak: streak.max(0) as u32,
    })
}

/// What the hall is called in messages: the county's name and 行政服务中心.
async fn hall_name(tx: &mut WriteTx, place: &str) -> Result<String, StoreError> {
    let county = PlaceCode::parse(place)?.county().map(|c| c.to_string()).unwrap_or_else(|| place.to_string());
    let name: Option<String> =
        sqlx::query_scalar("SELECT name FROM places WHERE code = $1").bind(&county).fetch_optional(tx.conn()).await?;
    Ok(format!("{}行政服务中心", name.unwrap_or_default()))
}

impl WriteTx {
    async fn ticket(&mut self, id: i64) -> Result<TicketView, StoreError> {
        let r: Option<TicketRow> =
            sqlx::query_as(&ticket_select("t.id = $1")).bind(id).fetch_optional(self.conn()).await?;
        view(r.ok_or_else(|| StoreError::not_found(format!("ticket {id}")))?, self.vault())
    }

    /// The waiting tickets of a queue that any of its windows may call (not those sent to one window).
    async fn queue_state(&mut self, queue_id: i64) -> Result<QueueState, StoreError> {
        queue_state_on(self.conn(), queue_id).await
    }

    async fn close_period(&mut self, ticket: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE ticket_periods SET ended_at = $1 WHERE ticket_id = $2 AND ended_at IS NULL")
            .bind(now)
            .bind(ticket)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    async fn open_period(&mut self, ticket: i64, kind: &str, window: Option<i64>, now: i64) -> Result<(), StoreError> {
        let staff = self.actor().staff_id;
        sqlx::query(
            "INSERT INTO ticket_periods (ticket_id, kind, window_id, staff_id, started_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(ticket)
        .bind(kind)
        .bind(window)
        .bind(staff)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Sends the "N ahead" SMS to every ticket of the queue that has just come within N, once.
    async fn remind(&mut self, queue_id: i64, s: &LobbySettings, place: &str) -> Result<(), StoreError> {
        let state = self.queue_state(queue_id).await?;
        let order = lobby::call_order(&state, s.rule);
        let hall = hall_name(self, place).await?;
        for (ahead, id) in order.iter().enumerate().take(s.remind_at_ahead + 1) {
            let row: Option<(String, Option<String>, i64, i64, String)> = sqlx::query_as(
                "SELECT display, phone, initial_ahead, reminded, token FROM tickets WHERE id = $1 AND phone IS NOT NULL",
            )
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
            let Some((number, Some(phone), initial, reminded, _token)) = row else { continue };
            if reminded != 0 || initial <= s.remind_at_ahead as i64 || ahead > s.remind_at_ahead {
                continue;
            }
            let text = format!("您的{number}号前面还有{ahead}人，请回到大厅等候叫号【{hall}】");
            self.outbox("sms", &phone, &json!({"text": text, "kind": "ticket.remind"}), &format!("ticket:{id}:remind"))
                .await?;
            sqlx::query("UPDATE tickets SET reminded = 1 WHERE id = $1").bind(id).execute(self.conn()).await?;
        }
        Ok(())
    }

    /// The window (id, code, place) for a code within a county.
    async fn window(&mut self, place: &PlaceCode, code: &str) -> Result<(i64, String), StoreError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT id, code FROM windows WHERE place_code = $1 AND code = $2 AND active = 1")
                .bind(place.as_str())
                .bind(code.trim())
                .fetch_optional(self.conn())
                .await?;
        row.ok_or_else(|| StoreError::not_found(format!("window {code}")))
    }

    /// The ticket a window has now (called, serving), if any; and whether the window is paused.
    async fn window_current(&mut self, window_id: i64) -> Result<(Option<i64>, bool), StoreError> {
        let row: Option<(Option<i64>, i64)> =
            sqlx::query_as("SELECT ticket_id, paused FROM window_state WHERE window_id = $1")
                .bind(window_id)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map(|(t, p)| (t, p != 0)).unwrap_or((None, false)))
    }

    async fn set_window_ticket(&mut self, window_id: i64, ticket: Option<i64>, now: i64) -> Result<(), StoreError> {
        let staff = self.actor().staff_id;
        sqlx::query(
            "INSERT INTO window_state (window_id, ticket_id, staff_id, paused, updated_at) VALUES ($1, $2, $3, 0, $4) \
             ON CONFLICT (window_id) DO UPDATE SET ticket_id = excluded.ticket_id, staff_id = excluded.staff_id, updated_at = excluded.updated_at",
        )
        .bind(window_id)
        .bind(ticket)
        .bind(staff)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Marks a waiting ticket called at a window, with its event and SMS.
    async fn call(
        &mut self,
        ticket: i64,
        window_id: i64,
        window_code: &str,
        place: &str,
        now: i64,
    ) -> Result<TicketView, StoreError> {
        let staff = self.actor().staff_id;
        sqlx::query(
            "UPDATE tickets SET status = 'called', window_id = $1, staff_id = $2, called_at = $3, target_window_id = NULL, recalls = 0 WHERE id = $4",
        )
        .bind(window_id)
        .bind(staff)
        .bind(now)
        .bind(ticket)
        .execute(self.conn())
        .await?;
        self.close_period(ticket, now).await?;
        self.open_period(ticket, "called", Some(window_id), now).await?;
        self.set_window_ticket(window_id, Some(ticket), now).await?;
        let t = self.ticket(ticket).await?;
        let text = format!("请 {} 号到 {} 窗口办理", t.number, window_code);
        self.record(
            "ticket.called",
            place,
            &format!("ticket:{ticket}"),
            json!({"number": t.number, "window": window_code, "text": text, "queue": t.queue, "recall": false}),
        )
        .await?;
        let row: (Option<String>,) =
            sqlx::query_as("SELECT phone FROM tickets WHERE id = $1").bind(ticket).fetch_one(self.conn()).await?;
        if let Some(phone) = row.0 {
            let calls: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM ticket_periods WHERE ticket_id = $1 AND kind = 'called'")
                    .bind(ticket)
                    .fetch_one(self.conn())
                    .await?;
            let hall = hall_name(self, place).await?;
            let text = format!("请{}号到{}窗口办理【{}】", t.number, window_code, hall);
            self.outbox(
                "sms",
                &phone,
                &json!({"text": text, "kind": "ticket.called"}),
                &format!("ticket:{ticket}:call:{calls}"),
            )
            .await?;
        }
        Ok(t)
    }
}
