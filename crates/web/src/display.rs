//! Live hall displays over SSE. One task turns committed lobby events into display messages per hall
//! (waiting counts computed once per event, not once per screen); each screen's stream sends a snapshot
//! or replays what it missed since `Last-Event-ID`, then follows live with a heartbeat.

use crate::error::{ApiError, ApiResult, Json, Path};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use onewindow_core::place::PlaceCode;
use onewindow_store::{CallShown, Queue, Store};
use serde::Serialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// What a screen is told.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DisplayMsg {
    Call { seq: i64, number: String, window: String, text: String, at: i64, recall: bool },
    Queues { seq: i64, queues: Vec<QueueCount> },
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueCount {
    pub code: String,
    pub prefix: String,
    pub name: String,
    pub waiting: i64,
}

impl DisplayMsg {
    fn seq(&self) -> i64 {
        match self {
            DisplayMsg::Call { seq, .. } | DisplayMsg::Queues { seq, .. } => *seq,
        }
    }
    fn sse(&self) -> SseEvent {
        let name = match self {
            DisplayMsg::Call { .. } => "call",
            DisplayMsg::Queues { .. } => "queues",
        };
        SseEvent::default().id(self.seq().to_string()).event(name).data(serde_json::to_string(self).unwrap_or_default())
    }
}

fn counts(queues: Vec<Queue>) -> Vec<QueueCount> {
    queues
        .into_iter()
        .map(|q| QueueCount { code: q.code, prefix: q.prefix, name: q.name, waiting: q.waiting })
        .collect()
}

/// Per-hall channels of display messages.
#[derive(Clone, Default)]
pub struct DisplayHub {
    halls: Arc<Mutex<HashMap<String, broadcast::Sender<DisplayMsg>>>>,
}

impl DisplayHub {
    fn channel(&self, hall: &str) -> broadcast::Sender<DisplayMsg> {
        let mut m = match self.halls.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.entry(hall.to_string()).or_insert_with(|| broadcast::channel(1024).0).clone()
    }

    /// Follows the store's committed events and publishes display messages.
    pub fn follow(&self, store: Store) {
        let hub = self.clone();
        let mut rx = store.subscribe();
        tokio::spawn(async move {
            loop {
                let e = match rx.recv().await {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                if !(e.kind.starts_with("ticket.") || e.kind.starts_with("window.")) {
                    continue;
                }
                let tx = hub.channel(&e.place);
                if matches!(e.kind.as_str(), "ticket.called" | "ticket.recalled") {
                    let _ = tx.send(DisplayMsg::Call {
                        seq: e.seq,
                        number: e.data["number"].as_str().unwrap_or_default().into(),
                        window: e.data["window"].as_str().unwrap_or_default().into(),
                        text: e.data["text"].as_str().unwrap_or_default().into(),
                        at: e.at,
                        recall: e.kind == "ticket.recalled",
                    });
                }
                if tx.receiver_count() > 0 {
                    if let Ok(place) = PlaceCode::parse(&e.place) {
                        if let Ok(q) = store.queues(&place).await {
                            let _ = tx.send(DisplayMsg::Queues { seq: e.seq, queues: counts(q) });
                        }
                    }
                }
            }
        });
    }
}

#[derive(Serialize)]
pub struct Snapshot {
    pub seq: i64,
    pub hall: String,
    pub hall_name: String,
    /// Newest first, at most 8.
    pub calls: Vec<CallShown>,
    pub queues: Vec<QueueCount>,
}

pub async fn snapshot_of(s: &AppState, hall: &PlaceCode) -> ApiResult<Snapshot> {
    let calls = s.store.recent_calls(hall, 8).await?;
    let seq = s.store.last_event_seq().await?;
    let hall_name = s.store.place(hall.as_str()).await.map(|p| p.name).map_err(ApiError::from)?;
    Ok(Snapshot {
        seq,
        hall: hall.to_string(),
        hall_name: format!("{hall_name}行政服务中心"),
        calls: calls.into_iter().map(|(_, c)| c).collect(),
        queues: counts(s.store.queues(hall).await?),
    })
}

/// The current state of a hall's display.
#[utoipa::path(get, path = "/api/v1/display/{hall}", tag = "lobby", params(("hall" = String, Path)), responses((status = 200), (status = 404)))]
pub async fn snapshot(State(s): State<AppState>, Path(hall): Path<String>) -> ApiResult<Json<Snapshot>> {
    let hall = PlaceCode::parse(&hall)?;
    Ok(Json(snapshot_of(&s, &hall).await?))
}

/// Live calls and waiting counts of a hall (SSE). Events: `snapshot`, `call`, `queues`; ids are event
/// sequence numbers, so a reconnect with `Last-Event-ID` replays what was missed.
#[utoipa::path(get, path = "/api/v1/display/{hall}/events", tag = "lobby", params(("hall" = String, Path)), responses((status = 200, content_type = "text/event-stream")))]
pub async fn events(
    State(s): State<AppState>,
    Path(hall): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let hall = PlaceCode::parse(&hall)?;
    // Subscribe before reading, so nothing falls between the snapshot and the live stream.
    let rx = s.display.channel(hall.as_str()).subscribe();
    let last_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    let mut first: Vec<SseEvent> = Vec::new();
    let from = match last_id {
        Some(after) => {
            // Replay the calls missed, oldest first, then the counts as they are now.
            let missed = s.store.recent_calls_after(&hall, after, 100).await?;
            let mut seq = after;
            for (sq, c) in missed {
                seq = seq.max(sq);
                first.push(
                    DisplayMsg::Call {
                        seq: sq,
                        number: c.number,
                        window: c.window,
                        text: c.text,
                        at: c.at,
                        recall: false,
                    }
                    .sse(),
                );
            }
            let now = s.store.last_event_seq().await?.max(seq);
            first.push(DisplayMsg::Queues { seq: now, queues: counts(s.store.queues(&hall).await?) }.sse());
            now
        }
        None => {
            let snap = snapshot_of(&s, &hall).await?;
            let seq = snap.seq;
            first.push(
                SseEvent::default()
                    .id(seq.to_string())
                    .event("snapshot")
                    .data(serde_json::to_string(&snap).unwrap_or_default()),
            );
            seq
        }
    };
    let live = stream::unfold((rx, from), |(mut rx, from)| async move {
        loop {
            match rx.recv().await {
                Ok(m) if m.seq() <= from && !matches!(m, DisplayMsg::Queues { .. }) => continue,
                Ok(m) => return Some((m.sse(), (rx, from))),
                // Too slow to keep up: tell the screen to reload its snapshot rather than go stale.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some((SseEvent::default().event("reload").data("{}"), (rx, from)))
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let stream = stream::iter(first).chain(live).map(Ok);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("heartbeat")))
}
