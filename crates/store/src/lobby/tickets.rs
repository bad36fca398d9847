//! Tickets: the queues a hall offers, issuing a ticket (numbered by the day and the queue), what a
//! ticket holder sees with the wait estimate, "I'm running late", and closing the day's leftovers.

use super::{
    conflict, hall_name, queue_state_on, ticket_select, view, LobbySettings, NewTicket, Queue, TicketRow, TicketView,
};
use crate::auth::random_token;
use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::write::{Actor, WriteTx};
use onewindow_core::lobby::{self, TicketNumber};
use onewindow_core::place::PlaceCode;
use onewindow_core::FieldError;
use serde_json::json;

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
}
