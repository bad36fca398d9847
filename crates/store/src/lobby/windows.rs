//! Windows: calling the next ticket by the call rule or a chosen one, what a window does with the
//! ticket in front of it (start, finish, no-show, hold, recall), transfers, pauses, and the calls a
//! display shows and replays after a reconnect.

use super::{conflict, CallShown, LobbySettings, Placement, TicketView, WindowAction, WindowView};
use crate::db::Store;
use crate::error::StoreError;
use crate::now_ms;
use crate::write::Actor;
use onewindow_core::lobby;
use onewindow_core::place::PlaceCode;
use onewindow_core::FieldError;
use serde_json::json;

impl Store {
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
