//! Hotline pages (一条热线全整合): the operator's desk (new order form and the list with filters), one
//! order with its timeline and the forms for what the viewer may do now, and the leaders' report.
//! Plain server-rendered forms with the CSRF field; no script.

use super::{error_page, render, Tr};
use crate::api::cases::case_actor;
use crate::auth::{CurrentStaff, MaybeStaff};
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use onewindow_core::ids::PhoneNumber;
use onewindow_core::place::PlaceCode;
use onewindow_store::{
    Department, HotlineFilter, HotlineInput, HotlineReport, HotlineStatRow, HotlineView, NewHotlineOrder, Place, Role,
    HOTLINE_CATEGORIES, HOTLINE_DEFAULT_DAYS, HOTLINE_SATISFACTION,
};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hotline", get(list).post(create))
        .route("/hotline/report", get(report))
        .route("/hotline/{id}", get(view))
        .route("/hotline/{id}/act", post(act))
}

fn is_operator(me: &CurrentStaff) -> bool {
    matches!(me.staff().role, Role::Consultant | Role::Admin)
}

const STATES: [(&str, &str, &str); 5] = [
    ("registered", "已登记", "registered"),
    ("dispatched", "已派单", "dispatched"),
    ("replied", "已答复", "replied"),
    ("called_back", "已回访", "called back"),
    ("closed", "已办结", "closed"),
];

#[derive(Template)]
#[template(path = "hotline/list.html")]
struct ListPage {
    t: Tr,
    operator: bool,
    leader: bool,
    orders: Vec<HotlineView>,
    places: Vec<Place>,
    departments: Vec<Department>,
    state: String,
    department: String,
    overdue: bool,
    error: Option<String>,
}

impl ListPage {
    fn categories(&self) -> Vec<(&'static str, &'static str)> {
        HOTLINE_CATEGORIES.iter().map(|c| (c.0, if self.t.en { c.2 } else { c.1 })).collect()
    }
    fn states(&self) -> Vec<(&'static str, &'static str)> {
        STATES.iter().map(|c| (c.0, if self.t.en { c.2 } else { c.1 })).collect()
    }
}

async fn list_page(
    s: &AppState,
    t: Tr,
    me: &CurrentStaff,
    q: &HashMap<String, String>,
    error: Option<String>,
) -> Response {
    let by = match case_actor(me) {
        Ok(b) => b,
        Err(e) => return error_page(t, e),
    };
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let overdue = get("overdue") == "true";
    let f = HotlineFilter {
        state: Some(get("state")).filter(|s| !s.is_empty()),
        department: Some(get("department")).filter(|s| !s.is_empty()),
        overdue: overdue.then_some(true),
    };
    let orders = match s.store.hotline_orders(&by, &f, None).await {
        Ok(o) => o,
        Err(e) => return error_page(t, e.into()),
    };
    let county = me.county().ok();
    let places = match county.as_ref() {
        Some(c) => s.store.places_within(c).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let departments = s.store.departments(county.as_ref()).await.unwrap_or_default();
    render(&ListPage {
        t,
        operator: is_operator(me),
        leader: matches!(me.staff().role, Role::Leader | Role::Admin),
        orders,
        places,
        departments,
        state: get("state"),
        department: get("department"),
        overdue,
        error,
    })
}

async fn list(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(me) = me else { return super::to_login(&t.path) };
    list_page(&s, t, &me, &q, None).await
}

async fn create(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let Some(me) = me else { return super::to_login(&t.path) };
    if let Err(e) = me.check_csrf(f.get("csrf").map(String::as_str).unwrap_or_default()) {
        return error_page(t, e);
    }
    if !is_operator(&me) {
        return error_page(t, ApiError::forbidden());
    }
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let result = async {
        let by = case_actor(&me)?;
        let phone = PhoneNumber::parse(&get("phone")).map_err(|e| ApiError::from(e.at("phone")))?;
        let place = match get("place") {
            p if p.is_empty() => by.place.clone(),
            p => PlaceCode::parse(&p).map_err(|e| ApiError::from(e.at("place")))?,
        };
        me.require_within(&place)?;
        let n = NewHotlineOrder {
            category: get("category"),
            place,
            description: get("description"),
            caller_name: get("name"),
            caller_phone: phone,
        };
        Ok::<_, ApiError>(s.store.create_hotline_order(&by, &n, None).await?)
    }
    .await;
    match result {
        Ok(v) => Redirect::to(&format!("/hotline/{}", v.id)).into_response(),
        Err(e) => {
            let msg = e.message(t.en);
            list_page(&s, t, &me, &HashMap::new(), Some(msg)).await
        }
    }
}

#[derive(Template)]
#[template(path = "hotline/view.html")]
struct ViewPage {
    t: Tr,
    o: HotlineView,
    departments: Vec<Department>,
    default_days: i64,
    error: Option<String>,
}

impl ViewPage {
    fn can(&self, action: &str) -> bool {
        self.o.actions.iter().any(|a| a == action)
    }
    fn satisfactions(&self) -> Vec<(&'static str, &'static str)> {
        HOTLINE_SATISFACTION.iter().map(|c| (c.0, if self.t.en { c.2 } else { c.1 })).collect()
    }
    fn state_label<'a>(&self, s: &'a str) -> &'a str {
        STATES.iter().find(|x| x.0 == s).map(|x| if self.t.en { x.2 } else { x.1 }).unwrap_or(s)
    }
}

async fn view_page(s: &AppState, t: Tr, me: &CurrentStaff, id: i64, error: Option<String>) -> Response {
    let by = match case_actor(me) {
        Ok(b) => b,
        Err(e) => return error_page(t, e),
    };
    let o = match s.store.hotline_order(id, &by, None).await {
        Ok(o) => o,
        Err(e) => return error_page(t, e.into()),
    };
    let departments = s.store.departments(me.county().ok().as_ref()).await.unwrap_or_default();
    render(&ViewPage { t, o, departments, default_days: HOTLINE_DEFAULT_DAYS, error })
}

async fn view(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff, Path(id): Path<i64>) -> Response {
    let Some(me) = me else { return super::to_login(&t.path) };
    view_page(&s, t, &me, id, None).await
}

async fn act(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let Some(me) = me else { return super::to_login(&t.path) };
    if let Err(e) = me.check_csrf(f.get("csrf").map(String::as_str).unwrap_or_default()) {
        return error_page(t, e);
    }
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let action = get("action");
    let days = match get("days") {
        d if d.is_empty() => None,
        d => match d.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let msg = t.t("办理时限应为整数", "days must be a whole number").to_string();
                return view_page(&s, t, &me, id, Some(msg)).await;
            }
        },
    };
    let input = HotlineInput {
        department: Some(get("department")).filter(|d| !d.is_empty()),
        days,
        text: get("text"),
        satisfaction: Some(get("satisfaction")).filter(|d| !d.is_empty()),
    };
    let by = match case_actor(&me) {
        Ok(b) => b,
        Err(e) => return error_page(t, e),
    };
    match s.store.act_on_hotline(id, &by, &action, &input, None).await {
        // A returned order leaves the department's sight: back to its list.
        Ok(_) if action == "return" && !is_operator(&me) => Redirect::to("/hotline").into_response(),
        Ok(_) => Redirect::to(&format!("/hotline/{id}")).into_response(),
        Err(e) => {
            let msg = ApiError::from(e).message(t.en);
            view_page(&s, t, &me, id, Some(msg)).await
        }
    }
}

#[derive(Template)]
#[template(path = "hotline/report.html")]
struct ReportPage {
    t: Tr,
    r: HotlineReport,
}

impl ReportPage {
    fn sections(&self) -> Vec<(&'static str, &'static str, &Vec<HotlineStatRow>)> {
        vec![
            (self.t.t("按类别", "By category"), "by-category", &self.r.by_category),
            (self.t.t("按乡镇（街道）", "By township"), "by-place", &self.r.by_place),
            (self.t.t("按承办部门", "By department"), "by-department", &self.r.by_department),
        ]
    }
    fn share(&self, v: &Option<f64>) -> String {
        v.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_else(|| "—".into())
    }
}

async fn report(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    let Some(me) = me else { return super::to_login(&t.path) };
    if !matches!(me.staff().role, Role::Leader | Role::Admin | Role::Consultant) {
        return error_page(t, ApiError::forbidden());
    }
    let by = match case_actor(&me) {
        Ok(b) => b,
        Err(e) => return error_page(t, e),
    };
    match s.store.hotline_report(&by, None).await {
        Ok(r) => render(&ReportPage { t, r }),
        Err(e) => error_page(t, e.into()),
    }
}
