//! The lobby queue in the store: numbering, tickets and their periods, window actions. Every action is
//! one write transaction; on SQLite the single writer and on PostgreSQL the advisory lock serialise
//! them, so two windows calling at once can never receive the same ticket and numbers never repeat.

use crate::auth::random_token;
use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::write::{Actor, WriteTx};
use onewindow_core::ids::PhoneNumber;
use onewindow_core::lobby::{self, CallRule, Priority, QueueState, TicketNumber, Waiting};
use onewindow_core::mask::mask_phone;
use onewindow_core::place::PlaceCode;
use onewindow_core::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::json;

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

impl Store {
    pub async fn queues(&self, place: &PlaceCode) -> Result<Vec<Queue>, StoreError> {
        let now = now_ms();
        let rows: Vec<(i64, String, String, String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT q.id, q.place_code, q.code, q.prefix, q.name, q.zone_code, \
             CAST(COUNT(t.id) AS BIGINT), MIN(t.issued_at) \
             FROM queues q LEFT JOIN tickets t ON t.queue_id = q.id AND t.status = 'waiting' \
             WHERE q.place_code = $1 GROUP BY q.id, q.place_code, q.code, q.prefix, q.name, q.zone_code ORDER BY q.prefix",
        )
        .bind(place.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, place, code, prefix, name, zone, waiting, oldest)| Queue {
                id,
                place,
                code,
                prefix,
                name,
                zone,
                waiting,
                longest_wait_minutes: oldest.map(|o| (now - o).max(0) / 60_000).unwrap_or(0),
            })
            .collect())
    }

    /// A ticket with its place in the queue and the wait estimate.
    pub async fn ticket_by_token(&self, token: &str, s: &LobbySettings) -> Result<TicketView, StoreError> {
        let r: Option<TicketRow> =
            sqlx::query_as(&ticket_select("t.token = $1")).bind(token).fetch_optional(self.pool()).await?;
        let mut t = view(r.ok_or_else(|| StoreError::not_found("ticket"))?, self.vault())?;
        if t.status == "waiting" {
            self.estimate(&mut t, s).await?;
        }
        Ok(t)
    }

    /// Fills in people ahead and the estimated wait.
    async fn estimate(&self, t: &mut TicketView, s: &LobbySettings) -> Result<(), StoreError> {
        let (queue_id,): (i64,) =
            sqlx::query_as("SELECT queue_id FROM tickets WHERE id = $1").bind(t.id).fetch_one(self.pool()).await?;
        let state = queue_state_on(&mut *self.pool().acquire().await?, queue_id).await?;
        let ahead = lobby::ahead_of(&state, s.rule, t.id).unwrap_or(0);
        t.ahead = Some(ahead);
        t.estimated_wait_minutes = Some(self.wait_minutes(queue_id, ahead, s).await?);
        Ok(())
    }

    /// The wait for someone with `ahead` people before them in a queue: see [`lobby::estimate_wait_minutes`].
    async fn wait_minutes(&self, queue_id: i64, ahead: usize, s: &LobbySettings) -> Result<i64, StoreError> {
        let recent: Vec<i64> = sqlx::query_scalar(
            "SELECT p.ended_at - p.started_at FROM ticket_periods p JOIN tickets t ON t.id = p.ticket_id \
             WHERE t.queue_id = $1 AND p.kind = 'serving' AND p.ended_at IS NOT NULL ORDER BY p.ended_at DESC LIMIT $2",
        )
        .bind(queue_id)
        .bind(s.estimate_sample)
        .fetch_all(self.pool())
        .await?;
        let windows: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM window_queues wq JOIN windows w ON w.id = wq.window_id \
             LEFT JOIN window_state ws ON ws.window_id = w.id WHERE wq.queue_id = $1 AND w.active = 1 AND COALESCE(ws.paused, 0) = 0",
        )
        .bind(queue_id)
        .fetch_one(self.pool())
        .await?;
        let recent_secs: Vec<i64> = recent.into_iter().map(|ms| ms / 1000).collect();
        Ok(lobby::estimate_wait_minutes(ahead, &recent_secs, windows as usize, s.default_service_secs))
    }

    pub async fn issue_ticket(
        &self,
        actor: &Actor,
        n: &NewTicket,
        s: &LobbySettings,
    ) -> Result<TicketView, StoreError> {
        let (store, actor, n2, s2) = (self.clone(), actor.clone(), n.clone(), s.clone());
        let (id, queue_id, ahead) = self
            .on_writer_thread(async move {
                let mut tx = store.begin(&actor).await?;
                let issued = store.issue_ticket_in(&mut tx, &n2, &s2).await?;
                tx.commit().await?;
                Ok(issued)
            })
            .await?;
        self.issued_ticket(id, queue_id, ahead, s).await
    }

    /// A just-issued ticket as the kiosk shows it: with the number ahead and the wait estimate.
    pub(crate) async fn issued_ticket(
        &self,
        id: i64,
        queue_id: i64,
        ahead: usize,
        s: &LobbySettings,
    ) -> Result<TicketView, StoreError> {
        let mut t = self.ticket_by_id(id).await?;
        t.ahead = Some(ahead);
        t.estimated_wait_minutes = Some(self.wait_minutes(queue_id, ahead, s).await?);
        Ok(t)
    }

    /// Issues a ticket inside a caller's transaction (an appointment's check-in marks the booking in
    /// the same commit); returns (ticket id, queue id, number ahead).
    pub(crate) async fn issue_ticket_in(
        &self,
        tx: &mut WriteTx,
        n: &NewTicket,
        s: &LobbySettings,
    ) -> Result<(i64, i64, usize), StoreError> {
        let now = now_ms();
        let day = lobby::local_day(now).to_string();
        let q: Option<(i64, String, i64, i64)> = sqlx::query_as(
            "SELECT id, prefix, start_number, daily_max FROM queues WHERE place_code = $1 AND (code = $2 OR prefix = $2)",
        )
        .bind(n.place.as_str())
        .bind(n.queue.trim())
        .fetch_optional(tx.conn())
        .await?;
        let (queue_id, prefix, start, max) = q.ok_or_else(|| {
            StoreError::Invalid(
                FieldError::new(
                    "queue",
                    format!("队列“{}”不存在", n.queue),
                    format!("queue \"{}\" does not exist", n.queue),
                )
                .into(),
            )
        })?;
        let number: i64 = sqlx::query_scalar(
            "INSERT INTO queue_counters (queue_id, day, last_number) VALUES ($1, $2, $3) \
             ON CONFLICT (queue_id, day) DO UPDATE SET last_number = queue_counters.last_number + 1 RETURNING last_number",
        )
        .bind(queue_id)
        .bind(&day)
        .bind(start)
        .fetch_one(tx.conn())
        .await?;
        if number > max {
            return Err(conflict(
                format!("今日该队列的号已取完（上限{max}个）"),
                format!("today's numbers for this queue are used up ({max})"),
            ));
        }
        let display = TicketNumber { prefix, number }.to_string();
        let token = random_token();
        let sealed_phone = n.phone.as_ref().map(|p| self.vault().seal(p.as_str()));
        let phone_hash = n.phone.as_ref().map(|p| self.vault().lookup_hash("phone", p.as_str()));
        // Arrival order with room to slot tickets between (transfers, running late).
        let sort_key = now * 1000;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tickets (place_code, queue_id, day, number, display, token, phone, priority, priority_reason, item_code, issued_by, status, sort_key, issued_at, phone_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'waiting', $12, $13, $14) RETURNING id",
        )
        .bind(n.place.as_str())
        .bind(queue_id)
        .bind(&day)
        .bind(number)
        .bind(&display)
        .bind(&token)
        .bind(&sealed_phone)
        .bind(n.priority.code())
        .bind(n.priority_reason.trim())
        .bind(n.item.as_deref())
        .bind(&n.issued_by)
        .bind(sort_key)
        .bind(now)
        .bind(&phone_hash)
        .fetch_one(tx.conn())
        .await?;
        tx.open_period(id, "waiting", None, now).await?;
        // A new normal ticket is last: everyone waiting is ahead. A priority one needs the rule.
        let ahead = if n.priority.is_priority() {
            let state = tx.queue_state(queue_id).await?;
            lobby::ahead_of(&state, s.rule, id).unwrap_or(0)
        } else {
            let others: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM tickets WHERE queue_id = $1 AND status = 'waiting' AND target_window_id IS NULL AND id <> $2",
            )
            .bind(queue_id)
            .bind(id)
            .fetch_one(tx.conn())
            .await?;
            others as usize
        };
        sqlx::query("UPDATE tickets SET initial_ahead = $1 WHERE id = $2")
            .bind(ahead as i64)
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.record(
            "ticket.issued",
            n.place.as_str(),
            &format!("ticket:{id}"),
            json!({"number": display, "queue": n.queue, "priority": n.priority.code(), "issued_by": n.issued_by}),
        )
        .await?;
        if let Some(phone) = &sealed_phone {
            let hall = hall_name(tx, n.place.as_str()).await?;
            let text = format!(
                "您已取号{display}，前面还有{ahead}人。叫号时将短信通知您，进度查看：{}/t/{token}【{hall}】",
                s.public_url.trim_end_matches('/')
            );
            tx.outbox(
                "sms",
                phone.as_str(),
                &json!({"text": text, "kind": "ticket.issued"}),
                &format!("ticket:{id}:issued"),
            )
            .await?;
        }
        Ok((id, queue_id, ahead))
    }

    pub async fn ticket_by_id(&self, id: i64) -> Result<TicketView, StoreError> {
        let r: Option<TicketRow> =
            sqlx::query_as(&ticket_select("t.id = $1")).bind(id).fetch_optional(self.pool()).await?;
        view(r.ok_or_else(|| StoreError::not_found(format!("ticket {id}")))?, self.vault())
    }

    /// Calls the next ticket for a window by the call rule; `None` when nobody waits.
    pub async fn call_next(
        &self,
        actor: &Actor,
        place: &PlaceCode,
        window: &str,
        s: &LobbySettings,
    ) -> Result<Option<TicketView>, StoreError> {
        let now = now_ms();
        let mut tx = self.begin(actor).await?;
        let (window_id, window_code) = tx.window(place, window).await?;
        let (current, paused) = tx.window_current(window_id).await?;
        if paused {
            return Err(conflict("窗口已暂停，请先恢复", "the window is paused; resume it first"));
        }
        if let Some(t) = current {
            let cur = tx.ticket(t).await?;
            return Err(conflict(
                format!("窗口正在办理 {}，请先完成、过号或转移", cur.number),
                format!("the window has {} now: finish, mark no-show or transfer it first", cur.number),
            ));
        }
        // Tickets sent to this window by a transfer come first.
        let targeted: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE target_window_id = $1 AND status = 'waiting' ORDER BY sort_key, id LIMIT 1",
        )
        .bind(window_id)
        .fetch_optional(tx.conn())
        .await?;
        let (ticket, queue_id) = match targeted {
            Some(id) => {
                let q: i64 = sqlx::query_scalar("SELECT queue_id FROM tickets WHERE id = $1")
                    .bind(id)
                    .fetch_one(tx.conn())
                    .await?;
                (id, q)
            }
            None => {
                let queue_ids: Vec<i64> =
                    sqlx::query_scalar("SELECT queue_id FROM window_queues WHERE window_id = $1 ORDER BY position")
                        .bind(window_id)
                        .fetch_all(tx.conn())
                        .await?;
                let mut states = Vec::with_capacity(queue_ids.len());
                for q in &queue_ids {
                    states.push(tx.queue_state(*q).await?);
                }
                let Some(choice) = lobby::choose_next(&states, s.rule) else {
                    return Ok(None);
                };
                let queue_id = queue_ids[choice.queue];
                sqlx::query("UPDATE queues SET priority_streak = $1 WHERE id = $2")
                    .bind(choice.priority_streak as i64)
                    .bind(queue_id)
                    .execute(tx.conn())
                    .await?;
                (choice.ticket, queue_id)
            }
        };
        let t = tx.call(ticket, window_id, &window_code, place.as_str(), now).await?;
        tx.remind(queue_id, s, place.as_str()).await?;
        tx.commit().await?;
        Ok(Some(t))
    }

    /// Calls a specific waiting ticket (by number or id) to a free window.
    pub async fn call_ticket(
        &self,
        actor: &Actor,
        place: &PlaceCode,
        window: &str,
        number: &str,
        s: &LobbySettings,
    ) -> Result<TicketView, StoreError> {
        let now = now_ms();
        let day = lobby::local_day(now).to_string();
        let mut tx = self.begin(actor).await?;
        let (window_id, window_code) = tx.window(place, window).await?;
        let (current, paused) = tx.window_current(window_id).await?;
        if paused || current.is_some() {
            return Err(conflict("窗口不空闲", "the window is not free"));
        }
        let row: Option<(i64, i64, String)> = sqlx::query_as(
            "SELECT id, queue_id, status FROM tickets WHERE place_code = $1 AND day = $2 AND display = $3",
        )
        .bind(place.as_str())
        .bind(&day)
        .bind(number.trim().to_uppercase())
        .fetch_optional(tx.conn())
        .await?;
        let (id, queue_id, status) = row.ok_or_else(|| StoreError::not_found(format!("ticket {number}")))?;
        if status != "waiting" {
            return Err(conflict(
                format!("{number} 不在等候中（{status}）"),
                format!("{number} is not waiting ({status})"),
            ));
        }
        let t = tx.call(id, window_id, &window_code, place.as_str(), now).await?;
        tx.remind(queue_id, s, place.as_str()).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Recall, start, finish, no-show or hold the window's current ticket.
    pub async fn window_action(
        &self,
        actor: &Actor,
        place: &PlaceCode,
        window: &str,
        action: WindowAction,
        s: &LobbySettings,
    ) -> Result<TicketView, StoreError> {
        let now = now_ms();
        let mut tx = self.begin(actor).await?;
        let (window_id, window_code) = tx.window(place, window).await?;
        let (current, _) = tx.window_current(window_id).await?;
        let id = current.ok_or_else(|| conflict("窗口当前没有号", "the window has no ticket now"))?;
        let t = tx.ticket(id).await?;
        let allowed: &[&str] = match action {
            WindowAction::Recall | WindowAction::NoShow => &["called"],
            WindowAction::Start => &["called"],
            WindowAction::Finish | WindowAction::Hold => &["serving"],
        };
        if !allowed.contains(&t.status.as_str()) {
            return Err(conflict(
                format!("{} 当前状态为 {}，不能执行此操作", t.number, t.status),
                format!("{} is {} now; this action needs {}", t.number, t.status, allowed.join(" or ")),
            ));
        }
        let subject = format!("ticket:{id}");
        if action == WindowAction::Recall {
            sqlx::query("UPDATE tickets SET recalls = recalls + 1 WHERE id = $1").bind(id).execute(tx.conn()).await?;
            let text = format!("请 {} 号到 {} 窗口办理", t.number, window_code);
            tx.record(
                "ticket.recalled",
                place.as_str(),
                &subject,
                json!({"number": t.number, "window": window_code, "text": text, "queue": t.queue, "recall": true, "recalls": t.recalls + 1}),
            )
            .await?;
        } else {
            if action == WindowAction::NoShow && t.recalls < s.no_show_after_recalls {
                return Err(conflict(
                    format!("请先重呼（还需{}次）再过号", s.no_show_after_recalls - t.recalls),
                    format!("recall first ({} more) before marking a no-show", s.no_show_after_recalls - t.recalls),
                ));
            }
            // (new status, the period that starts, whether the window is free afterwards, event kind)
            let (status, period, frees, kind) = match action {
                WindowAction::Start => ("serving", Some("serving"), false, "ticket.started"),
                WindowAction::Finish => ("done", None, true, "ticket.finished"),
                WindowAction::NoShow => ("no_show", None, true, "ticket.no_show"),
                _ => ("on_hold", Some("on_hold"), true, "ticket.held"),
            };
            let finished = if period.is_none() { Some(now) } else { None };
            sqlx::query("UPDATE tickets SET status = $1, finished_at = COALESCE($2, finished_at) WHERE id = $3")
                .bind(status)
                .bind(finished)
                .bind(id)
                .execute(tx.conn())
                .await?;
            tx.close_period(id, now).await?;
            if let Some(kind) = period {
                tx.open_period(id, kind, Some(window_id), now).await?;
            }
            if frees {
                tx.set_window_ticket(window_id, None, now).await?;
            }
            tx.record(kind, place.as_str(), &subject, json!({"number": t.number, "window": window_code})).await?;
        }
        let t = tx.ticket(id).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Resumes a ticket on hold at a free window.
    pub async fn resume_ticket(
        &self,
        actor: &Actor,
        place: &PlaceCode,
        window: &str,
        number: &str,
    ) -> Result<TicketView, StoreError> {
        let now = now_ms();
        let mut tx = self.begin(actor).await?;
        let (window_id, window_code) = tx.window(place, window).await?;
        let (current, paused) = tx.window_current(window_id).await?;
        if paused || current.is_some() {
            return Err(conflict("窗口不空闲", "the window is not free"));
        }
        let row: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE place_code = $1 AND display = $2 AND status = 'on_hold' ORDER BY id DESC LIMIT 1",
        )
        .bind(place.as_str())
        .bind(number.trim().to_uppercase())
        .fetch_optional(tx.conn())
        .await?;
        let id = row.ok_or_else(|| StoreError::not_found(format!("ticket {number} on hold")))?;
        sqlx::query("UPDATE tickets SET status = 'serving', window_id = $1 WHERE id = $2")
            .bind(window_id)
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.close_period(id, now).await?;
        tx.open_period(id, "serving", Some(window_id), now).await?;
        tx.set_window_ticket(window_id, Some(id), now).await?;
        tx.record("ticket.resumed", place.as_str(), &format!("ticket:{id}"), json!({"window": window_code})).await?;
        let t = tx.ticket(id).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Sends the window's current ticket to another queue, or to one window, keeping its number.
    pub async fn transfer(
        &self,
        actor: &Actor,
        place: &PlaceCode,
        window: &str,
        to_queue: Option<&str>,
        to_window: Option<&str>,
        placement: Placement,
        s: &LobbySettings,
    ) -> Result<TicketView, StoreError> {
        let now = now_ms();
        let mut tx = self.begin(actor).await?;
        let (window_id, window_code) = tx.window(place, window).await?;
        let (current, _) = tx.window_current(window_id).await?;
        let id = current.ok_or_else(|| conflict("窗口当前没有号", "the window has no ticket now"))?;
        let (target_window, queue_id): (Option<i64>, i64) = match (to_queue, to_window) {
            (_, Some(w)) => {
                let (wid, _) = tx.window(place, w).await.map_err(|_| {
                    StoreError::Invalid(
                        FieldError::new(
                            "to_window",
                            format!("窗口“{w}”不存在"),
                            format!("window \"{w}\" does not exist"),
                        )
                        .into(),
                    )
                })?;
                if wid == window_id {
                    return Err(StoreError::Invalid(
                        FieldError::new("to_window", "不能转给本窗口", "cannot transfer to the same window").into(),
                    ));
                }
                let q: i64 = sqlx::query_scalar("SELECT queue_id FROM tickets WHERE id = $1")
                    .bind(id)
                    .fetch_one(tx.conn())
                    .await?;
                (Some(wid), q)
            }
            (Some(q), None) => {
                let qid: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM queues WHERE place_code = $1 AND (code = $2 OR prefix = $2)")
                        .bind(place.as_str())
                        .bind(q.trim())
                        .fetch_optional(tx.conn())
                        .await?;
                let qid = qid.ok_or_else(|| {
                    StoreError::Invalid(
                        FieldError::new(
                            "to_queue",
                            format!("队列“{q}”不存在"),
                            format!("queue \"{q}\" does not exist"),
                        )
                        .into(),
                    )
                })?;
                (None, qid)
            }
            (None, None) => {
                return Err(StoreError::Invalid(
                    FieldError::new("to_queue", "请指定转往的队列或窗口", "say which queue or window to transfer to")
                        .into(),
                ))
            }
        };
        let original: i64 =
            sqlx::query_scalar("SELECT issued_at FROM tickets WHERE id = $1").bind(id).fetch_one(tx.conn()).await?;
        let first: Option<i64> =
            sqlx::query_scalar("SELECT MIN(sort_key) FROM tickets WHERE queue_id = $1 AND status = 'waiting'")
                .bind(queue_id)
                .fetch_one(tx.conn())
                .await?;
        let sort_key = match placement {
            Placement::First => first.map(|f| f - 1).unwrap_or(now * 1000),
            Placement::Last => now * 1000,
            Placement::Original => original * 1000,
        };
        sqlx::query(
            "UPDATE tickets SET status = 'waiting', queue_id = $1, target_window_id = $2, sort_key = $3, window_id = NULL, transfers = transfers + 1 WHERE id = $4",
        )
        .bind(queue_id)
        .bind(target_window)
        .bind(sort_key)
        .bind(id)
        .execute(tx.conn())
        .await?;
        tx.close_period(id, now).await?;
        tx.open_period(id, "waiting", None, now).await?;
        tx.set_window_ticket(window_id, None, now).await?;
        let t = tx.ticket(id).await?;
        tx.record(
            "ticket.transferred",
            place.as_str(),
            &format!("ticket:{id}"),
            json!({"number": t.number, "from_window": window_code, "to_queue": to_queue, "to_window": to_window, "placement": placement}),
        )
        .await?;
        tx.remind(queue_id, s, place.as_str()).await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn pause_window(
        &self,
        actor: &Actor,
        place: &PlaceCode,
        window: &str,
        paused: bool,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.begin(actor).await?;
        let (window_id, window_code) = tx.window(place, window).await?;
        let (current, _) = tx.window_current(window_id).await?;
        if paused && current.is_some() {
            return Err(conflict("请先办结当前号再暂停", "finish the current ticket before pausing"));
        }
        if paused && reason.trim().is_empty() {
            return Err(StoreError::Invalid(
                FieldError::new("reason", "请填写暂停原因", "give a reason for the pause").into(),
            ));
        }
        sqlx::query(
            "INSERT INTO window_state (window_id, ticket_id, staff_id, paused, pause_reason, updated_at) VALUES ($1, NULL, $2, $3, $4, $5) \
             ON CONFLICT (window_id) DO UPDATE SET paused = excluded.paused, pause_reason = excluded.pause_reason, updated_at = excluded.updated_at",
        )
        .bind(window_id)
        .bind(actor.staff_id)
        .bind(paused as i64)
        .bind(reason.trim())
        .bind(now)
        .execute(tx.conn())
        .await?;
        tx.record(
            if paused { "window.paused" } else { "window.resumed" },
            place.as_str(),
            &format!("window:{window_code}"),
            json!({"window": window_code, "reason": reason.trim()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// "I'm running late": moves a waiting ticket back `late_moves` places, once.
    pub async fn running_late(&self, token: &str, s: &LobbySettings) -> Result<TicketView, StoreError> {
        let mut tx = self.begin(&Actor::system()).await?;
        let row: Option<(i64, i64, String, i64, String)> =
            sqlx::query_as("SELECT id, queue_id, status, late_used, place_code FROM tickets WHERE token = $1")
                .bind(token)
                .fetch_optional(tx.conn())
                .await?;
        let (id, queue_id, status, late_used, place) = row.ok_or_else(|| StoreError::not_found("ticket"))?;
        if status != "waiting" {
            return Err(conflict("只有等候中的号可以延后", "only a waiting ticket can move back"));
        }
        if late_used != 0 {
            return Err(conflict("每个号只能延后一次", "a ticket can move back only once"));
        }
        let state = tx.queue_state(queue_id).await?;
        let order = lobby::call_order(&state, s.rule);
        let pos = order.iter().position(|t| *t == id).unwrap_or(0);
        let behind = order.get(pos + s.late_moves).or(order.last()).copied().filter(|t| *t != id);
        let sort_key = match behind {
            Some(b) => {
                let k: i64 = sqlx::query_scalar("SELECT sort_key FROM tickets WHERE id = $1")
                    .bind(b)
                    .fetch_one(tx.conn())
                    .await?;
                k + 1
            }
            None => {
                let k: i64 = sqlx::query_scalar("SELECT sort_key FROM tickets WHERE id = $1")
                    .bind(id)
                    .fetch_one(tx.conn())
                    .await?;
                k
            }
        };
        sqlx::query("UPDATE tickets SET sort_key = $1, late_used = 1 WHERE id = $2")
            .bind(sort_key)
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.record("ticket.late", &place, &format!("ticket:{id}"), json!({"moves": s.late_moves})).await?;
        tx.commit().await?;
        self.ticket_by_token(token, s).await
    }

    /// Closes tickets left waiting or on hold from earlier days — or, at closing time, today's too — as
    /// expired, in the places at or under `within` (everywhere when `None`). Returns how many.
    pub async fn expire_tickets(&self, within: Option<&PlaceCode>, including_today: bool) -> Result<usize, StoreError> {
        let now = now_ms();
        let today = lobby::local_day(now).to_string();
        let mut tx = self.begin(&Actor::system()).await?;
        let ids: Vec<(i64, String, String)> = sqlx::query_as(if including_today {
            "SELECT id, display, place_code FROM tickets WHERE place_code LIKE $1 AND status IN ('waiting', 'on_hold') AND day <= $2"
        } else {
            "SELECT id, display, place_code FROM tickets WHERE place_code LIKE $1 AND status IN ('waiting', 'on_hold') AND day < $2"
        })
        .bind(format!("{}%", within.map(|p| p.jurisdiction_prefix()).unwrap_or("")))
        .bind(&today)
        .fetch_all(tx.conn())
        .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        for (id, display, place) in &ids {
            sqlx::query("UPDATE tickets SET status = 'expired', finished_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(tx.conn())
                .await?;
            tx.close_period(*id, now).await?;
            tx.record("ticket.expired", place, &format!("ticket:{id}"), json!({"number": display})).await?;
        }
        tx.commit().await?;
        Ok(ids.len())
    }

    /// A window's state and current ticket, for its console.
    pub async fn window_view(&self, place: &PlaceCode, window: &str) -> Result<WindowView, StoreError> {
        let row: Option<(i64, String, String)> =
            sqlx::query_as("SELECT id, code, name FROM windows WHERE place_code = $1 AND code = $2")
                .bind(place.as_str())
                .bind(window.trim())
                .fetch_optional(self.pool())
                .await?;
        let (id, code, name) = row.ok_or_else(|| StoreError::not_found(format!("window {window}")))?;
        let state: Option<(Option<i64>, i64, String)> =
            sqlx::query_as("SELECT ticket_id, paused, pause_reason FROM window_state WHERE window_id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        let (ticket, paused, pause_reason) = state.unwrap_or((None, 0, String::new()));
        let ticket = match ticket {
            Some(t) => Some(self.ticket_by_id(t).await?),
            None => None,
        };
        let queues: Vec<String> = sqlx::query_scalar(
            "SELECT q.code FROM window_queues wq JOIN queues q ON q.id = wq.queue_id WHERE wq.window_id = $1 ORDER BY wq.position",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        Ok(WindowView { code, name, paused: paused != 0, pause_reason, ticket, queues })
    }

    /// The last calls of a hall, newest first.
    pub async fn recent_calls(&self, place: &PlaceCode, limit: i64) -> Result<Vec<(i64, CallShown)>, StoreError> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT seq, at, data FROM events WHERE place_code = $1 AND kind IN ('ticket.called', 'ticket.recalled') ORDER BY seq DESC LIMIT $2",
        )
        .bind(place.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(seq, at, data)| {
                let v: serde_json::Value = serde_json::from_str(&data)?;
                Ok((
                    seq,
                    CallShown {
                        number: v["number"].as_str().unwrap_or_default().to_string(),
                        window: v["window"].as_str().unwrap_or_default().to_string(),
                        text: v["text"].as_str().unwrap_or_default().to_string(),
                        at,
                    },
                ))
            })
            .collect()
    }

    /// Sets which queues a window serves, in order.
    pub async fn set_window_queues(
        &self,
        actor: &Actor,
        place: &PlaceCode,
        window: &str,
        queues: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin(actor).await?;
        let (window_id, code) = tx.window(place, window).await?;
        sqlx::query("DELETE FROM window_queues WHERE window_id = $1").bind(window_id).execute(tx.conn()).await?;
        for (i, q) in queues.iter().enumerate() {
            let qid: Option<i64> =
                sqlx::query_scalar("SELECT id FROM queues WHERE place_code = $1 AND (code = $2 OR prefix = $2)")
                    .bind(place.as_str())
                    .bind(q)
                    .fetch_optional(tx.conn())
                    .await?;
            let qid = qid.ok_or_else(|| {
                StoreError::Invalid(
                    FieldError::new(
                        format!("queues[{i}]"),
                        format!("队列“{q}”不存在"),
                        format!("queue \"{q}\" does not exist"),
                    )
                    .into(),
                )
            })?;
            sqlx::query("INSERT INTO window_queues (window_id, queue_id, position) VALUES ($1, $2, $3)")
                .bind(window_id)
                .bind(qid)
                .bind(i as i64)
                .execute(tx.conn())
                .await?;
        }
        tx.record("window.queues", place.as_str(), &format!("window:{code}"), json!({"queues": queues})).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl WriteTx {
    /// Adds a queue (or changes its name, prefix and limits).
    pub async fn save_queue(
        &mut self,
        place: &str,
        code: &str,
        prefix: &str,
        name: &str,
        zone: &str,
    ) -> Result<i64, StoreError> {
        let prefix = lobby::parse_prefix(prefix)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO queues (place_code, code, prefix, name, zone_code) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (place_code, code) DO UPDATE SET prefix = excluded.prefix, name = excluded.name RETURNING id",
        )
        .bind(place)
        .bind(code)
        .bind(&prefix)
        .bind(name)
        .bind(zone)
        .fetch_one(self.conn())
        .await?;
        self.record("queue.saved", place, &format!("queue:{code}"), json!({"prefix": prefix, "name": name})).await?;
        Ok(id)
    }

    pub async fn add_window_queue(&mut self, window_id: i64, queue_id: i64, position: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO window_queues (window_id, queue_id, position) VALUES ($1, $2, $3) ON CONFLICT (window_id, queue_id) DO NOTHING")
            .bind(window_id)
            .bind(queue_id)
            .bind(position)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// The newest event sequence number (0 when there is none).
    pub async fn last_event_seq(&self) -> Result<i64, StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events").fetch_one(self.pool()).await?;
        Ok(v.unwrap_or(0))
    }

    /// Calls of a hall after an event sequence number, oldest first: what a reconnecting display missed.
    pub async fn recent_calls_after(
        &self,
        place: &PlaceCode,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, CallShown)>, StoreError> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT seq, at, data FROM events WHERE place_code = $1 AND seq > $2 AND kind IN ('ticket.called', 'ticket.recalled') ORDER BY seq LIMIT $3",
        )
        .bind(place.as_str())
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(seq, at, data)| {
                let v: serde_json::Value = serde_json::from_str(&data)?;
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                Ok((seq, CallShown { number: s("number"), window: s("window"), text: s("text"), at }))
            })
            .collect()
    }
}

impl Store {
    /// Changes a queue's numbering: prefix, first number of the day and the daily maximum.
    pub async fn set_queue_numbering(
        &self,
        actor: &Actor,
        place: &PlaceCode,
        queue: &str,
        prefix: &str,
        start_number: i64,
        daily_max: i64,
    ) -> Result<(), StoreError> {
        let prefix = lobby::parse_prefix(prefix)?;
        if start_number < 0 || daily_max < start_number.max(1) || daily_max > 99_999 {
            return Err(StoreError::Invalid(
                FieldError::new(
                    "daily_max",
                    "起始号不能为负，每日上限须不小于起始号且不超过99999",
                    "the start cannot be negative; the daily maximum must be at least the start and at most 99999",
                )
                .into(),
            ));
        }
        let mut tx = self.begin(actor).await?;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT code FROM queues WHERE place_code = $1 AND prefix = $2 AND code <> $3")
                .bind(place.as_str())
                .bind(&prefix)
                .bind(queue)
                .fetch_optional(tx.conn())
                .await?;
        if let Some(other) = taken {
            return Err(StoreError::conflict(
                "prefix",
                format!("前缀 {prefix} 已被队列 {other} 使用"),
                format!("prefix {prefix} is used by queue {other}"),
            ));
        }
        let n = sqlx::query(
            "UPDATE queues SET prefix = $1, start_number = $2, daily_max = $3 WHERE place_code = $4 AND code = $5",
        )
        .bind(&prefix)
        .bind(start_number)
        .bind(daily_max)
        .bind(place.as_str())
        .bind(queue)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::not_found(format!("queue {queue}")));
        }
        tx.record(
            "queue.numbering",
            place.as_str(),
            &format!("queue:{queue}"),
            json!({"prefix": prefix, "start_number": start_number, "daily_max": daily_max}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
