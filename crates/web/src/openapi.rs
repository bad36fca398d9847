//! The OpenAPI document, generated from the handlers' annotations.

use crate::api::{bundles, cases, catalogue, exchange, lobby, org, portal, ratings, session, stats};
use crate::display;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "onewindow 一窗通办", description = "API of the onewindow county government service centre platform. \
        Errors are JSON {code, message (zh-CN), message_en, field?, errors?}. Staff authenticate with \
        `POST /api/v1/session` and send `Authorization: Bearer <token>`."),
    paths(
        session::login, session::current, session::logout,
        catalogue::search, catalogue::get, catalogue::version, catalogue::create, catalogue::update,
        catalogue::import, catalogue::export,
        org::places, org::save_place, org::zones, org::save_zone, org::departments, org::save_department,
        org::windows, org::save_window, org::staff_list, org::create_staff, org::update_staff,
        stats::coverage, stats::lobby, stats::dashboard, crate::api::dashboard::download, crate::api::dashboard::events,
        cases::accept, cases::get, cases::by_number, cases::act, cases::trip, cases::worklist, cases::overdue, cases::track,
        cases::refuse, cases::trips, cases::flows, cases::flow, cases::load_flow, cases::set_item_flow, cases::unmask,
        exchange::services, exchange::save_service, exchange::rights, exchange::set_right, exchange::put_records,
        exchange::lookup, exchange::case_lookups, exchange::pending, exchange::decide, exchange::data_use,
        bundles::list, bundles::apply, bundles::get, bundles::of_case,
        crate::api::hotline::create, crate::api::hotline::list, crate::api::hotline::get, crate::api::hotline::dispatch, crate::api::hotline::reply, crate::api::hotline::return_order,
        crate::api::hotline::callback, crate::api::hotline::close, crate::api::hotline::escalate, crate::api::hotline::report,
        lobby::issue, lobby::status, lobby::late, lobby::queues, lobby::window, lobby::call_next, lobby::recall,
        lobby::start, lobby::finish, lobby::no_show, lobby::hold, lobby::resume, lobby::call, lobby::transfer,
        lobby::pause, lobby::unpause, lobby::set_queues, lobby::close_hall, lobby::set_numbering, display::snapshot, display::events,
        portal::request_code, portal::sign_in, portal::current, portal::sign_out, portal::cases, portal::case, portal::act,
        portal::correction, portal::choose_delivery, portal::rate, portal::applications, portal::create_application,
        portal::application, portal::update_application, portal::discard_application, portal::remove_file, portal::download_file,
        portal::data_use, portal::slots, portal::appointments, portal::book, portal::cancel_booking, portal::check_in,
        ratings::followups, ratings::close_followup, ratings::report, ratings::case_file,
    ),
    tags((name = "catalogue", description = "事项清单 service items"), (name = "session", description = "staff sign-in"),
         (name = "organisation", description = "places, zones, departments, windows, staff"), (name = "stats", description = "reports"), (name = "lobby", description = "叫号 lobby queue"), (name = "cases", description = "办件 cases"), (name = "exchange", description = "大数据交换 data exchange"), (name = "bundles", description = "一件事 bundles"))
)]
pub struct ApiDoc;

pub async fn document() -> Response {
    axum::Json(ApiDoc::openapi()).into_response()
}
