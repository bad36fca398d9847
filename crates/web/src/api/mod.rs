//! The JSON API, `/api/v1`. Every route says who may call it; `ROUTE_ROLES` lists that for the
//! access-matrix test.

pub mod bundles;
pub mod cases;
pub mod catalogue;
pub mod dashboard;
pub mod exchange;
pub mod hotline;
pub mod item_body;
pub mod lobby;
pub mod org;
pub mod portal;
pub mod prefer;
pub mod ratings;
pub mod session;
pub mod stats;

use crate::AppState;
use axum::routing::{delete, get, post, put};
use axum::Router;

/// Most JSON bodies are small; catalogue imports get their own, larger limit.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;
pub const IMPORT_BODY_LIMIT: usize = 20 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/session", post(session::login).get(session::current).delete(session::logout))
        .route("/api/v1/items", get(catalogue::search).post(catalogue::create))
        .route("/api/v1/items/{code}", get(catalogue::get).put(catalogue::update))
        .route("/api/v1/items/{code}/versions/{version}", get(catalogue::version))
        .route(
            "/api/v1/catalogue/import",
            post(catalogue::import).layer(axum::extract::DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/api/v1/catalogue/export", get(catalogue::export))
        .route("/api/v1/places", get(org::places).post(org::save_place))
        .route("/api/v1/zones", get(org::zones).post(org::save_zone))
        .route("/api/v1/departments", get(org::departments).post(org::save_department))
        .route("/api/v1/windows", get(org::windows).post(org::save_window))
        .route("/api/v1/staff", get(org::staff_list).post(org::create_staff))
        .route("/api/v1/staff/{id}", put(org::update_staff))
        .route("/api/v1/stats/coverage", get(stats::coverage))
        .route("/api/v1/stats/lobby", get(stats::lobby))
        .route("/api/v1/dashboard", get(stats::dashboard))
        .route("/api/v1/dashboard/events", get(dashboard::events))
        .route("/api/v1/dashboard/figures/{file}", get(dashboard::download))
        .route("/api/v1/stats/trips", get(cases::trips))
        .route("/api/v1/hotline/orders", get(hotline::list).post(hotline::create))
        .route("/api/v1/hotline/orders/{id}", get(hotline::get))
        .route("/api/v1/hotline/orders/{id}/dispatch", post(hotline::dispatch))
        .route("/api/v1/hotline/orders/{id}/reply", post(hotline::reply))
        .route("/api/v1/hotline/orders/{id}/return", post(hotline::return_order))
        .route("/api/v1/hotline/orders/{id}/callback", post(hotline::callback))
        .route("/api/v1/hotline/orders/{id}/close", post(hotline::close))
        .route("/api/v1/hotline/escalate", post(hotline::escalate))
        .route("/api/v1/stats/hotline", get(hotline::report))
        .route("/api/v1/bundles", get(bundles::list).post(bundles::apply))
        .route("/api/v1/bundles/{id}", get(bundles::get))
        .route("/api/v1/cases/{id}/bundle", get(bundles::of_case))
        .route("/api/v1/cases", post(cases::accept))
        .route("/api/v1/cases/overdue", get(cases::overdue))
        .route("/api/v1/cases/by-number/{number}", get(cases::by_number))
        .route("/api/v1/cases/{id}", get(cases::get))
        .route("/api/v1/cases/{id}/actions", post(cases::act))
        .route("/api/v1/cases/{id}/trips", post(cases::trip))
        .route("/api/v1/cases/{id}/unmask", post(cases::unmask))
        .route("/api/v1/worklist", get(cases::worklist))
        .route("/api/v1/track/{token}", get(cases::track))
        .route("/api/v1/track/{token}/data-use", get(exchange::data_use))
        .route("/api/v1/exchange/services", get(exchange::services))
        .route("/api/v1/exchange/services/{code}", put(exchange::save_service))
        .route(
            "/api/v1/exchange/services/{code}/records",
            post(exchange::put_records).layer(axum::extract::DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/api/v1/exchange/rights", get(exchange::rights).put(exchange::set_right))
        .route("/api/v1/exchange/lookups", get(exchange::pending))
        .route("/api/v1/exchange/lookups/{id}/decision", post(exchange::decide))
        .route("/api/v1/cases/{id}/lookups", post(exchange::lookup).get(exchange::case_lookups))
        .route("/api/v1/refusals", post(cases::refuse))
        .route("/api/v1/flows", get(cases::flows).post(cases::load_flow))
        .route("/api/v1/flows/{code}/{version}", get(cases::flow))
        .route("/api/v1/items/{code}/flow", put(cases::set_item_flow))
        .route("/api/v1/tickets", post(lobby::issue))
        .route("/api/v1/tickets/{token}", get(lobby::status))
        .route("/api/v1/tickets/{token}/late", post(lobby::late))
        .route("/api/v1/queues", get(lobby::queues))
        .route("/api/v1/queues/{queue}", put(lobby::set_numbering))
        .route("/api/v1/windows/{window}", get(lobby::window))
        .route("/api/v1/windows/{window}/call-next", post(lobby::call_next))
        .route("/api/v1/windows/{window}/recall", post(lobby::recall))
        .route("/api/v1/windows/{window}/start", post(lobby::start))
        .route("/api/v1/windows/{window}/finish", post(lobby::finish))
        .route("/api/v1/windows/{window}/no-show", post(lobby::no_show))
        .route("/api/v1/windows/{window}/hold", post(lobby::hold))
        .route("/api/v1/windows/{window}/resume", post(lobby::resume))
        .route("/api/v1/windows/{window}/call", post(lobby::call))
        .route("/api/v1/windows/{window}/transfer", post(lobby::transfer))
        .route("/api/v1/windows/{window}/pause", post(lobby::pause))
        .route("/api/v1/windows/{window}/unpause", post(lobby::unpause))
        .route("/api/v1/windows/{window}/queues", put(lobby::set_queues))
        .route("/api/v1/halls/{hall}/close", post(lobby::close_hall))
        .route("/api/v1/display/{hall}", get(crate::display::snapshot))
        .route("/api/v1/display/{hall}/events", get(crate::display::events))
        .merge(portal_routes())
}

/// The citizen's portal and its staff side. Routes that take files get the upload body limit.
fn portal_routes() -> Router<AppState> {
    use axum::extract::DefaultBodyLimit;
    let uploads = DefaultBodyLimit::max(crate::upload::UPLOAD_BODY_LIMIT);
    Router::new()
        .route("/api/v1/citizen/code", post(portal::request_code))
        .route("/api/v1/citizen/session", post(portal::sign_in).get(portal::current).delete(portal::sign_out))
        .route("/api/v1/citizen/cases", get(portal::cases))
        .route("/api/v1/citizen/cases/{number}", get(portal::case))
        .route("/api/v1/citizen/cases/{number}/actions", post(portal::act))
        .route("/api/v1/citizen/cases/{number}/correction", post(portal::correction).layer(uploads))
        .route("/api/v1/citizen/cases/{number}/delivery", put(portal::choose_delivery))
        .route("/api/v1/citizen/cases/{number}/rating", post(portal::rate))
        .route(
            "/api/v1/citizen/applications",
            get(portal::applications).post(portal::create_application).layer(uploads),
        )
        .route(
            "/api/v1/citizen/applications/{id}",
            get(portal::application).put(portal::update_application).delete(portal::discard_application).layer(uploads),
        )
        .route("/api/v1/citizen/applications/{id}/files/{file}", get(portal::download_file).delete(portal::remove_file))
        .route("/api/v1/citizen/data-use", get(portal::data_use))
        .route("/api/v1/citizen/appointments", get(portal::appointments).post(portal::book))
        .route("/api/v1/citizen/appointments/{id}", delete(portal::cancel_booking))
        .route("/api/v1/appointments/slots", get(portal::slots))
        .route("/api/v1/appointments/check-in", post(portal::check_in))
        .route("/api/v1/followups", get(ratings::followups))
        .route("/api/v1/followups/{id}/close", post(ratings::close_followup))
        .route("/api/v1/stats/ratings", get(ratings::report))
        .route("/api/v1/cases/{id}/files/{file}", get(ratings::case_file))
}
