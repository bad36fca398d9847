//! The SMS sender: a background task that delivers the `sms` rows of the outbox through a gateway.
//!
//! Loop: claim a batch of due rows (they become `sending` under a lease), deliver them concurrently,
//! mark each outcome as soon as it is known (`sent` after a 2xx, otherwise `pending` again with an
//! exponential backoff, or `dead` after `max_attempts`), and when nothing is due wait for the next due
//! time, a committed event (a new SMS goes out at once) or the poll interval (rows queued by another
//! instance), whichever comes first.
//!
//! Idempotency: a row is marked `sent` only after the gateway answered 2xx. If the process dies between
//! the gateway's answer and the mark, the lease runs out and the row is delivered again with the SAME
//! idempotency key, which the provider uses to drop the duplicate. From our side a message is never
//! sent twice once it is marked sent. See docs/sms.md.
//!
//! Payloads (the text, which may carry a sign-in or pick-up code) are sealed at rest like the phone
//! number; [`Store::claim_due_outbox`] hands them over opened.

use futures::StreamExt;
use onewindow_store::{Event, OutboxMessage, Store};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// The outbox channel this worker delivers.
pub const SMS_CHANNEL: &str = "sms";

/// Where text messages go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Gateway {
    /// Writes each message to the log (target `onewindow::sms`, phone masked) and counts it delivered:
    /// for development, demos, and halls without an SMS contract.
    #[default]
    Log,
    /// POSTs `{"to", "text", "kind", "idempotency_key"}` as JSON with an `Idempotency-Key` header to a
    /// provider adapter; a 2xx answer means delivered, anything else (or no answer within `timeout`)
    /// means try again later.
    Http { url: String, timeout: Duration },
}

/// The SMS sender's settings (`AppOptions::sms`).
#[derive(Debug, Clone)]
pub struct SmsOptions {
    /// Start the sender with the application (tests that drive the outbox themselves turn it off).
    pub enabled: bool,
    pub gateway: Gateway,
    /// Attempts before a message is dead-lettered (status `dead`, visible at /admin/messages).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles with each further failure…
    pub backoff_base: Duration,
    /// …up to this.
    pub backoff_max: Duration,
    /// How often an idle sender looks for due rows it was not woken for (rows queued by another
    /// instance on the same PostgreSQL database).
    pub poll_interval: Duration,
    /// Rows claimed at once.
    pub batch_size: i64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How long a claim holds a row; after that a row whose sender died is delivered again. Always kept
    /// longer than the HTTP timeout, so a live sender's claim does not run out under it.
    pub lease: Duration,
}

impl Default for SmsOptions {
    fn default() -> Self {
        SmsOptions {
            enabled: true,
            gateway: Gateway::Log,
            max_attempts: 10,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            poll_interval: Duration::from_millis(200),
            batch_size: 32,
            concurrency: 8,
            lease: Duration::from_secs(60),
        }
    }
}

impl SmsOptions {
    /// The HTTP timeout the default configuration uses.
    pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

    /// The lease actually used: at least twice the HTTP timeout plus a margin for marking the outcome.
    fn effective_lease(&self) -> Duration {
        let floor = match &self.gateway {
            Gateway::Log => Duration::from_secs(5),
            Gateway::Http { timeout, .. } => *timeout * 2 + Duration::from_secs(5),
        };
        self.lease.max(floor)
    }

    /// The wait after `failures` failed attempts (1 → base, 2 → 2×base, … capped at `backoff_max`).
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(31));
        self.backoff_base.saturating_mul(factor).min(self.backoff_max)
    }
}

/// What happened to one delivery attempt.
#[derive(Debug)]
enum Outcome {
    Delivered,
    /// Try again later (network error, timeout, non-2xx answer).
    Failed(String),
    /// Cannot ever succeed (the row has no text): dead at once.
    Unsendable(String),
}

/// Starts the sender; it runs until the runtime stops. Errors (database, gateway) are logged and retried.
pub fn start_outbox_worker(store: Store, opts: SmsOptions) -> JoinHandle<()> {
    // Subscribe before the first look, so that nothing committed after start is missed.
    let rx = store.subscribe();
    tokio::spawn(async move {
        let client = match &opts.gateway {
            Gateway::Log => None,
            Gateway::Http { timeout, .. } => match reqwest::Client::builder().timeout(*timeout).build() {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "the SMS sender cannot build its HTTP client; no SMS will be sent");
                    return;
                }
            },
        };
        run(store, opts, client, rx).await;
    })
}

async fn run(store: Store, opts: SmsOptions, client: Option<reqwest::Client>, mut rx: broadcast::Receiver<Event>) {
    let lease_ms = i64::try_from(opts.effective_lease().as_millis()).unwrap_or(i64::MAX / 2);
    let concurrency = opts.concurrency.max(1);
    tracing::info!(gateway = ?opts.gateway, max_attempts = opts.max_attempts, "SMS sender started");
    loop {
        // Sleep until something may be due: the earliest due row, a committed event, or the poll interval.
        let wait = match store.outbox_next_due(SMS_CHANNEL).await {
            Ok(Some(due)) => {
                let now = onewindow_store::now_ms();
                if due <= now {
                    Duration::ZERO
                } else {
                    Duration::from_millis(u64::try_from(due - now).unwrap_or(0)).min(opts.poll_interval)
                }
            }
            Ok(None) => opts.poll_interval,
            Err(e) => {
                tracing::warn!(error = %e, "SMS sender: reading the outbox failed");
                opts.poll_interval.max(Duration::from_secs(1))
            }
        };
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                closed = woken(&mut rx) => if closed { break },
            }
            continue;
        }
        let batch = match store.claim_due_outbox(SMS_CHANNEL, opts.batch_size, lease_ms).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "SMS sender: claiming messages failed");
                tokio::time::sleep(opts.poll_interval.max(Duration::from_secs(1))).await;
                continue;
            }
        };
        futures::stream::iter(batch)
            .for_each_concurrent(concurrency, |m| {
                let store = &store;
                let opts = &opts;
                let client = client.as_ref();
                async move {
                    let outcome = deliver(&opts.gateway, client, &m).await;
                    settle(store, opts, &m, outcome).await;
                }
            })
            .await;
    }
}

/// Waits for a committed event that may have queued a message; true when the store has closed.
/// The sender's own `outbox.*` events do not wake it (an admin's `outbox.retry` does).
async fn woken(rx: &mut broadcast::Receiver<Event>) -> bool {
    loop {
        match rx.recv().await {
            Ok(e) if e.kind.starts_with("outbox.") && e.kind != "outbox.retry" => continue,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => return false,
            Err(broadcast::error::RecvError::Closed) => return true,
        }
    }
}

async fn deliver(gateway: &Gateway, client: Option<&reqwest::Client>, m: &OutboxMessage) -> Outcome {
    // Payloads are sealed at rest; the store opens them for the sender. One it cannot open was sealed
    // under a key this server does not hold (keys.json): retried, as another instance may hold it.
    if m.payload.is_null() {
        return Outcome::Failed("the payload cannot be opened with the keys loaded here (keys.json)".into());
    }
    let Some(text) = m.payload.get("text").and_then(|t| t.as_str()).filter(|t| !t.trim().is_empty()) else {
        return Outcome::Unsendable("the message has no text".into());
    };
    let kind = m.payload.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
    match (gateway, client) {
        (Gateway::Log, _) => {
            tracing::info!(
                target: "onewindow::sms",
                to = %onewindow_core::mask::mask_phone(&m.destination),
                text,
                kind,
                idempotency_key = %m.idempotency_key,
                "SMS (log gateway)"
            );
            Outcome::Delivered
        }
        (Gateway::Http { url, .. }, Some(client)) => {
            let body = serde_json::json!({
                "to": m.destination,
                "text": text,
                "kind": kind,
                "idempotency_key": m.idempotency_key,
            });
            match client.post(url).header("Idempotency-Key", &m.idempotency_key).json(&body).send().await {
                Ok(r) if r.status().is_success() => Outcome::Delivered,
                Ok(r) => {
                    let status = r.status();
                    let detail: String = r.text().await.unwrap_or_default().chars().take(200).collect();
                    Outcome::Failed(format!("HTTP {status}: {detail}"))
                }
                Err(e) => Outcome::Failed(format!("{e}")),
            }
        }
        (Gateway::Http { .. }, None) => Outcome::Failed("no HTTP client".into()),
    }
}

/// Records the outcome. A failure to record is logged: the lease runs out and the message is delivered
/// again with the same idempotency key.
async fn settle(store: &Store, opts: &SmsOptions, m: &OutboxMessage, outcome: Outcome) {
    let failures = u32::try_from(m.attempts).unwrap_or(u32::MAX).saturating_add(1);
    let result = match outcome {
        Outcome::Delivered => store.mark_outbox_sent(m.id).await,
        Outcome::Failed(error) if failures < opts.max_attempts => {
            let wait = i64::try_from(opts.backoff(failures).as_millis()).unwrap_or(i64::MAX / 2);
            tracing::warn!(id = m.id, attempts = failures, error = %error, retry_in_ms = wait, "SMS delivery failed");
            store.mark_outbox_failed(m.id, &error, Some(onewindow_store::now_ms().saturating_add(wait))).await
        }
        Outcome::Failed(error) | Outcome::Unsendable(error) => {
            tracing::error!(id = m.id, attempts = failures, error = %error, "SMS dead-lettered");
            store.mark_outbox_failed(m.id, &error, None).await
        }
    };
    if let Err(e) = result {
        tracing::error!(id = m.id, error = %e, "SMS sender: recording the outcome failed");
    }
}
