//! onewindow-web: the JSON API under `/api/v1`, the server-rendered pages, and the plumbing around
//! them (security headers, metrics, request logs). Handlers stay thin: parse, call the store, render.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod api;
pub mod auth;
pub mod catalogue;
pub mod citizen;
pub mod dashboard_hub;
pub mod display;
pub mod error;
mod metrics;
mod openapi;
pub mod outbox;
pub mod pages;
pub mod upload;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use catalogue::CatalogueCache;
use onewindow_core::place::{PlaceCode, PlaceLevel};
use onewindow_store::{LobbySettings, Store, StoreError};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// The county whose catalogue the public sees when a request names none.
    pub default_place: Option<PlaceCode>,
    pub lobby: LobbySettings,
    /// The SMS sender (gateway, retries); started with the application unless disabled.
    pub sms: outbox::SmsOptions,
}

/// What every handler shares, behind one `Arc`: axum clones the state for each request, and a clone
/// of the parts one by one (the default county's code is a `String`) was 1 % of a benchmark's CPU.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Store,
    pub catalogue: CatalogueCache,
    pub default_place: PlaceCode,
    pub metrics: Arc<metrics::Metrics>,
    pub lobby: Arc<LobbySettings>,
    pub display: display::DisplayHub,
    pub dashboards: dashboard_hub::DashboardHub,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub async fn new(store: Store, opts: AppOptions) -> Result<Self, StoreError> {
        let default_place = match opts.default_place {
            Some(p) => p,
            None => store
                .places()
                .await?
                .into_iter()
                .find(|p| p.level == PlaceLevel::County)
                .and_then(|p| PlaceCode::parse(&p.code).ok())
                .ok_or_else(|| StoreError::not_found("a county (load the demo or add one)"))?,
        };
        // With PostgreSQL, events committed by other instances arrive here too (displays, caches, SMS).
        store.follow_other_instances().await?;
        let catalogue = CatalogueCache::new(&store).await?;
        catalogue.follow(store.clone());
        let display = display::DisplayHub::default();
        display.follow(store.clone());
        let dashboards = dashboard_hub::DashboardHub::default();
        dashboards.follow(store.clone());
        start_housekeeping(store.clone()).await;
        if opts.sms.enabled {
            outbox::start_outbox_worker(store.clone(), opts.sms.clone());
        }
        Ok(AppState(Arc::new(Shared {
            store,
            catalogue,
            default_place,
            metrics: Arc::new(metrics::Metrics::default()),
            lobby: Arc::new(opts.lobby),
            display,
            dashboards,
        })))
    }
}

/// The listener the application serves on, with Nagle's algorithm off: live streams send small
/// writes one after another, and with it on each would wait for the client's delayed ACK (≈40 ms).
pub fn listener(
    l: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt;
    fn no_delay(tcp: &mut tokio::net::TcpStream) {
        let _ = tcp.set_nodelay(true);
    }
    l.tap_io(no_delay as fn(&mut tokio::net::TcpStream))
}

/// The application as a service that knows each connection's peer address (rate limits use it).
pub fn service(
    state: AppState,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, std::net::SocketAddr> {
    router(state).into_make_service_with_connect_info::<std::net::SocketAddr>()
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .route("/api/v1/openapi.json", get(openapi::document))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(api::JSON_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(axum::middleware::from_fn(same_origin_forms))
        .layer(axum::middleware::from_fn(refuse_declared_oversize))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Housekeeping at start and then every ten minutes: tickets left from earlier days are closed as
/// expired (a hall that forgot to close its day starts the next one clean), applicants whose
/// tolerant-acceptance deadline is near are reminded by SMS, and sign-in codes and sessions past their
/// retention are purged (crates/store/src/housekeeping.rs).
async fn housekeeping(store: &Store) {
    if let Err(e) = store.expire_tickets(None, false).await {
        tracing::warn!(error = %e, "expiring old tickets failed");
    }
    let today = onewindow_core::lobby::local_day(chrono::Utc::now().timestamp_millis());
    if let Err(e) = store.close_missed_appointments(today).await {
        tracing::warn!(error = %e, "housekeeping: missed appointments");
    }
    if let Err(e) = store.remind_supplements(today).await {
        tracing::warn!(error = %e, "supplement reminders failed");
    }
    match store.purge_expired().await {
        Ok(p) if p != onewindow_store::Purged::default() => {
            tracing::info!(purged = ?p, "expired codes and sessions purged")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "housekeeping: purging expired codes and sessions failed"),
    }
    match store.hash_plaintext_pickup_codes().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(cases = n, "pick-up codes stored as digits replaced by their hash"),
        Err(e) => tracing::warn!(error = %e, "housekeeping: hashing pick-up codes failed"),
    }
}

/// Runs housekeeping once before the app serves, then every ten minutes.
async fn start_housekeeping(store: Store) {
    housekeeping(&store).await;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            housekeeping(&store).await;
        }
    });
}

async fn healthz(State(s): State<AppState>) -> Response {
    match s.store.ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(serde_json::json!({"status": "ok"}))).into_response(),
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "down", "error": e.to_string()})))
                .into_response()
        }
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        error::ApiError::not_found(uri.path().to_string()).into_response()
    } else {
        pages::not_found_page(uri.path()).into_response()
    }
}

/// Answers 413 from the declared Content-Length before reading a byte of the body, so a client pushing a
/// body that is too large gets the answer at once instead of a connection closed mid-upload.
async fn refuse_declared_oversize(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    let limit = if path == "/api/v1/catalogue/import" {
        api::IMPORT_BODY_LIMIT
    } else if path.starts_with("/api/v1/citizen/") || path.starts_with("/my/") {
        upload::UPLOAD_BODY_LIMIT
    } else {
        api::JSON_BODY_LIMIT
    };
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return error::ApiError::PayloadTooLarge.into_response();
    }
    next.run(req).await
}

/// Refuses a cross-site POST to a page (login CSRF, forged admin forms): when the browser says where
/// the request comes from, it must be this site. API calls are covered by bearer tokens or the CSRF
/// header instead.
async fn same_origin_forms(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let unsafe_method =
        !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS);
    if unsafe_method && !req.uri().path().starts_with("/api/") {
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        if let Some(origin) = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
            let origin_host = origin.split("://").nth(1).unwrap_or_default();
            if origin == "null" || origin_host != host {
                return (StatusCode::FORBIDDEN, "跨站提交被拒绝 / cross-site form submission refused").into_response();
            }
        }
    }
    next.run(req).await
}

/// A strict Content-Security-Policy: only our own scripts and styles, no inline code, no framing.
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             media-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}
