//! onewindow-store: persistence on SQLite (default) and PostgreSQL through one sqlx `Any` pool, so each
//! query is written once in portable SQL (`$1` placeholders, BIGINT integers, millisecond timestamps).
//! Every change goes through [`WriteTx`]: its state, an event, a hash-chained audit row and any outbox
//! rows commit together, and events are announced only after the commit.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod applications;
mod appointments;
mod audit;
mod auth;
mod bundles;
mod case_actions;
mod case_report;
mod cases;
mod catalogue;
mod catalogue_facts;
mod citizens;
mod db;
mod error;
mod exchange;
mod flows;
mod generate;
mod group_commit;
mod hotline;
mod housekeeping;
mod joined;
mod lobby;
mod lobby_report;
pub mod moving;
mod native;
mod org;
mod outbox;
mod ratings;
mod recent;
mod relay;
pub mod seed;
mod session_cache;
mod stats;
pub mod vault;
mod wal_sync;
mod write;

pub use applications::{ApplicationInput, ApplicationView, DeliveryChoice, FileView, NewUpload};
pub use appointments::{AppointmentView, SlotView};
pub use audit::AuditReport;
pub use auth::{NewStaff, Role, SessionInfo, Staff};
pub use bundles::{child_data, BundleChildView, BundleView};
pub use case_actions::{ActionInput, CaseOutcome};
pub use case_report::{MoreTrips, TripReport, TripRow, WorkView};
pub use cases::{AllowedAction, CaseActor, CaseView, MaterialCheck, NewCase, TimelineEntry};
pub use catalogue::{Coverage, CoverageRow, ImportOutcome, StoredItem};
pub use citizens::{Citizen, CITIZEN_TOKEN_PREFIX, CODE_MAX_FAILURES};
pub use db::{Backend, Store, StoreOptions};
pub use error::StoreError;
pub use exchange::{DataUse, ExchangeField, ExchangeRight, ExchangeService, LookupView, ServiceView};
pub use generate::{GenerateOptions, GenerateReport};
pub use group_commit::{GroupStats, MAX_WRITERS_PER_COMMIT};
pub use hotline::{
    HotlineEntry, HotlineFilter, HotlineInput, HotlineReport, HotlineStatRow, HotlineView, NewHotlineOrder,
    HOTLINE_CATEGORIES, HOTLINE_DEFAULT_DAYS, HOTLINE_SATISFACTION,
};
pub use housekeeping::{Purged, CODE_RETENTION_MS, SESSION_RETENTION_MS};
pub use lobby::{CallShown, LobbySettings, NewTicket, Placement, Queue, TicketView, WindowAction, WindowView};
pub use lobby_report::{LoadBalance, LobbyReport, LobbyRow};
pub use org::{Department, Place, Window, Zone};
pub use outbox::{OutboxCounts, OutboxMessage};
pub use ratings::{FollowupView, RatingRow, RATING_NAMES};
pub use stats::{Dashboard, DayFigures, DepartmentFigures, SatisfactionFigures};
pub use write::{Actor, Event, WriteTx};

/// Milliseconds since the Unix epoch, UTC: the one time format in the database.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
