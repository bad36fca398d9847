//! One integration test binary (each binary costs a link): the real app on port 0, over real HTTP,
//! against a fresh SQLite file and — when ONEWINDOW_TEST_DATABASE_URL is set — a fresh PostgreSQL
//! database. `backend_tests!` makes every test run on both.

mod helpers;

mod auth;
mod browser;
mod browser_cases;
mod browser_exchange;
mod browser_lobby;
mod browser_portal;
mod browser_simulate;
mod bundles;
mod cases;
mod catalogue;
mod dashboard;
mod exchange;
mod hotline;
mod housekeeping;
mod input;
mod lobby;
mod places;
mod portal;
mod privacy;
mod reliability;
mod sms;
mod store;
