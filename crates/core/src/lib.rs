//! onewindow-core: the domain of a county government service centre — catalogue, places, working-day
//! calendar, validators and masking — as plain types and pure functions. No IO, no async, no SQL.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod bundle;
pub mod calendar;
pub mod catalogue;
pub mod error;
pub mod flow;
pub mod form;
pub mod ids;
pub mod lobby;
pub mod mask;
pub mod place;
pub mod search;
pub mod secret;
pub mod sheet;
pub mod staffing;
pub mod upload;

pub use error::{FieldError, Invalid};
