//! The citizen's pages (`/my/…`), phone-first and usable without JavaScript: SMS sign-in, my cases
//! and drafts, appointments, and who used my data. Applying and a case's own page are in
//! `portal_case.rs`.

use super::{error_page, is_local_path, render, Tr};
use crate::citizen::{ClientAddress, CurrentCitizen, MaybeCitizen, CITIZEN_COOKIE};
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use onewindow_core::flow::Holder;
use onewindow_core::ids::PhoneNumber;
use onewindow_store::{ApplicationView, AppointmentView, CaseView, DataUse, SlotView};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/my", get(home))
        .route("/my/login", get(login_form).post(login))
        .route("/my/login/code", post(send_code))
        .route("/my/logout", post(logout))
        .route("/my/appointments", get(appointments).post(book))
        .route("/my/appointments/{id}/cancel", post(cancel_booking))
        .route("/my/data-use", get(data_use))
        .merge(super::portal_case::routes())
}

/// Field errors by their full name (`answers.address`, `files.户口簿`), for the citizen's forms.
#[derive(Default)]
pub struct Problems {
    pub summary: Option<String>,
    pub fields: Vec<(String, String)>,
}

impl Problems {
    pub fn new(e: &ApiError, en: bool) -> Self {
        let pick = |zh: &str, eng: &str| if en { eng.to_string() } else { zh.to_string() };
        let fields = match e {
            ApiError::Invalid(inv) => inv.0.iter().map(|f| (f.field.clone(), pick(&f.zh, &f.en))).collect(),
            ApiError::Conflict { field: Some(f), zh, en: eng }
            | ApiError::BadRequest { field: Some(f), zh, en: eng } => {
                vec![(f.clone(), pick(zh, eng))]
            }
            ApiError::TooMany { field, zh, en: eng, .. } => vec![(field.clone(), pick(zh, eng))],
            _ => Vec::new(),
        };
        Problems { summary: Some(e.message(en)), fields }
    }
    pub fn field(&self, name: &str) -> Option<String> {
        let m: Vec<&str> = self.fields.iter().filter(|(f, _)| f == name).map(|(_, m)| m.as_str()).collect();
        (!m.is_empty()).then(|| m.join("；"))
    }
    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(f, _)| f == name)
    }
}

/// A form post of a signed-in citizen with the session's CSRF token, or the page to answer with.
#[allow(clippy::result_large_err)] // the error is the page to answer with
pub fn posted(me: MaybeCitizen, t: &Tr, csrf: &str) -> Result<CurrentCitizen, Response> {
    let me = signed_in(me, t)?;
    me.check_csrf(csrf)
        .map_err(|e| error_page(Tr { en: t.en, user: None, csrf: String::new(), path: t.path.clone() }, e))?;
    Ok(me)
}

/// Sends a citizen who is not signed in to the SMS sign-in, coming back afterwards.
pub fn to_my_login(path: &str) -> Response {
    Redirect::to(&format!("/my/login?next={}", super::encode_path(path))).into_response()
}

/// The citizen, or the way to sign in.
#[allow(clippy::result_large_err)] // the error is the page to answer with
pub fn signed_in(me: MaybeCitizen, t: &Tr) -> Result<CurrentCitizen, Response> {
    me.0.ok_or_else(|| to_my_login(&t.path))
}

// --- sign-in ----------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "my/login.html")]
struct LoginPage {
    t: Tr,
    phone: String,
    sent: bool,
    next: String,
    problems: Problems,
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    phone: Option<String>,
    sent: Option<String>,
}

fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| is_local_path(n) && n.starts_with("/my")).unwrap_or("/my").to_string()
}

async fn login_form(t: Tr, MaybeCitizen(me): MaybeCitizen, Query(q): Query<LoginQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if me.is_some() {
        return Redirect::to(&next).into_response();
    }
    let sent = q.sent.is_some();
    render(&LoginPage { t, phone: q.phone.unwrap_or_default(), sent, next, problems: Problems::default() })
}

#[derive(Deserialize)]
struct CodeForm {
    phone: String,
    #[serde(default)]
    next: String,
}

async fn send_code(
    State(s): State<AppState>,
    t: Tr,
    ClientAddress(addr): ClientAddress,
    Form(f): Form<CodeForm>,
) -> Response {
    let next = safe_next(Some(&f.next));
    let result = match PhoneNumber::parse(&f.phone) {
        Ok(p) => {
            s.store.request_login_code(&p, &addr, &crate::api::portal::sms_sign(&s).await).await.map_err(ApiError::from)
        }
        Err(e) => Err(ApiError::from(e)),
    };
    match result {
        Ok(()) => Redirect::to(&format!(
            "/my/login?sent=1&phone={}&next={}",
            super::encode_path(f.phone.trim()),
            super::encode_path(&next)
        ))
        .into_response(),
        Err(e) => {
            let problems = Problems::new(&e, t.en);
            let page = LoginPage { t, phone: f.phone, sent: false, next, problems };
            (e.status(), render(&page)).into_response()
        }
    }
}

#[derive(Deserialize)]
struct SignInForm {
    phone: String,
    code: String,
    #[serde(default)]
    next: String,
}

async fn login(State(s): State<AppState>, t: Tr, Form(f): Form<SignInForm>) -> Response {
    let next = safe_next(Some(&f.next));
    let result = match PhoneNumber::parse(&f.phone) {
        Ok(p) => s
            .store
            .sign_in_citizen(&p, f.code.chars().take(20).collect::<String>().as_str())
            .await
            .map_err(ApiError::from),
        Err(e) => Err(ApiError::from(e)),
    };
    match result {
        Ok((token, _)) => {
            let mut res = Redirect::to(&next).into_response();
            let cookie = format!("{CITIZEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=28800");
            if let Ok(v) = cookie.parse() {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => {
            let problems = Problems::new(&e, t.en);
            let page = LoginPage { t, phone: f.phone, sent: true, next, problems };
            (e.status(), render(&page)).into_response()
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(s): State<AppState>, t: Tr, MaybeCitizen(me): MaybeCitizen, Form(f): Form<CsrfForm>) -> Response {
    if let Some(me) = me {
        if let Err(e) = me.check_csrf(&f.csrf) {
            return error_page(t, e);
        }
        if let Err(e) = s.store.sign_out_citizen(&me.token).await {
            return error_page(t, e.into());
        }
    }
    let mut res = Redirect::to("/my/login").into_response();
    if let Ok(v) = format!("{CITIZEN_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0").parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

// --- my cases ---------------------------------------------------------------------------------------

/// A case in the citizen's list.
pub struct CaseLine {
    pub number: String,
    pub item: String,
    pub state: String,
    pub next: String,
    pub due_on: String,
    pub department: String,
    pub closed: bool,
}

/// What happens next, in the citizen's words.
pub fn next_step(t: &Tr, v: &CaseView) -> String {
    if v.closed_at.is_some() {
        return t.t("已办结", "Finished").into();
    }
    match (v.holder, v.state.as_str()) {
        (_, "submitted") => {
            t.t("等待工作人员预审（1个工作日内）", "Waiting for pre-review by staff (within 1 working day)").into()
        }
        (_, "shipped") => {
            t.t("结果已寄出，收到后请确认签收", "The result is on its way; confirm when it arrives").into()
        }
        (Holder::Citizen, _) => t.t("请按要求补正材料", "Please send the corrections asked for").into(),
        (Holder::Department, _) => {
            if t.en {
                format!("Being decided by {}", v.department_name)
            } else {
                format!("{}审批中", v.department_name)
            }
        }
        (Holder::Window, _) => {
            t.t("结果已出，按您选择的方式送达", "The result is ready and will reach you as you chose").into()
        }
    }
}

#[derive(Template)]
#[template(path = "my/home.html")]
struct HomePage {
    t: Tr,
    me: CurrentCitizen,
    cases: Vec<CaseLine>,
    drafts: Vec<ApplicationView>,
    appointments: Vec<AppointmentView>,
}

async fn home(State(s): State<AppState>, t: Tr, me: MaybeCitizen) -> Response {
    let me = match signed_in(me, &t) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let load = async {
        let cases = s.store.citizen_cases(&me.citizen).await?;
        let apps = s.store.applications_of(&me.citizen).await?;
        let appointments = s.store.appointments_of(&me.citizen).await?;
        Ok::<_, onewindow_store::StoreError>((cases, apps, appointments))
    };
    match load.await {
        Ok((cases, apps, appointments)) => {
            let cases = cases
                .iter()
                .map(|v| CaseLine {
                    number: v.number.clone(),
                    item: v.item_name.clone(),
                    state: v.state_name.clone(),
                    next: next_step(&t, v),
                    due_on: v.due_on.clone(),
                    department: v.department_name.clone(),
                    closed: v.closed_at.is_some(),
                })
                .collect();
            let drafts = apps.into_iter().filter(|a| a.state == "draft").collect();
            let appointments = appointments.into_iter().filter(|a| a.state == "booked").collect();
            render(&HomePage { t, me, cases, drafts, appointments })
        }
        Err(e) => error_page(t, e.into()),
    }
}

// --- appointments -----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "my/appointments.html")]
struct AppointmentsPage {
    t: Tr,
    me: CurrentCitizen,
    list: Vec<AppointmentView>,
    queues: Vec<(String, String)>,
    queue: String,
    days: Vec<String>,
    day: String,
    slots: Vec<SlotView>,
    problems: Problems,
    booked: bool,
}

#[derive(Deserialize)]
struct SlotChoice {
    queue: Option<String>,
    day: Option<String>,
    booked: Option<String>,
}

async fn appointments_page(
    s: &AppState,
    t: Tr,
    me: CurrentCitizen,
    queue: Option<String>,
    day: Option<String>,
    problems: Problems,
    booked: bool,
) -> Result<AppointmentsPage, ApiError> {
    let place = s.default_place.clone();
    let queues: Vec<(String, String)> =
        s.store.queues(&place).await?.into_iter().map(|q| (q.code.clone(), q.name.clone())).collect();
    let days: Vec<String> =
        s.store.appointment_days(onewindow_store::now_ms())?.iter().map(|d| d.to_string()).collect();
    let queue = queue
        .filter(|q| queues.iter().any(|(c, _)| c == q))
        .or_else(|| queues.first().map(|q| q.0.clone()))
        .unwrap_or_default();
    let slots_on = |day: &str| {
        let (place, queue) = (&place, &queue);
        let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d");
        async move {
            match day {
                Ok(d) if !queue.is_empty() => s.store.appointment_slots(place, queue, d).await,
                _ => Ok(Vec::new()),
            }
        }
    };
    let open = |slots: &[SlotView]| slots.iter().any(|x| x.left > 0 && !x.past);
    // Without a chosen day, the first day that still has a free slot: in the evening today's are past.
    let (day, slots) = match day.filter(|d| days.contains(d)) {
        Some(d) => {
            let slots = slots_on(&d).await?;
            (d, slots)
        }
        None => {
            let mut first = None;
            for d in &days {
                let slots = slots_on(d).await?;
                if open(&slots) {
                    first = Some((d.clone(), slots));
                    break;
                }
                first.get_or_insert((d.clone(), slots));
            }
            first.unwrap_or_default()
        }
    };
    let list = s.store.appointments_of(&me.citizen).await?;
    Ok(AppointmentsPage { t, me, list, queues, queue, days, day, slots, problems, booked })
}

async fn appointments(State(s): State<AppState>, t: Tr, me: MaybeCitizen, Query(q): Query<SlotChoice>) -> Response {
    let me = match signed_in(me, &t) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let en = t.en;
    match appointments_page(&s, t, me, q.queue, q.day, Problems::default(), q.booked.is_some()).await {
        Ok(p) => render(&p),
        Err(e) => error_page(Tr { en, user: None, csrf: String::new(), path: "/my/appointments".into() }, e),
    }
}

#[derive(Deserialize)]
struct BookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    queue: String,
    #[serde(default)]
    day: String,
    #[serde(default)]
    slot: String,
}

async fn book(State(s): State<AppState>, t: Tr, me: MaybeCitizen, Form(f): Form<BookForm>) -> Response {
    let me = match posted(me, &t, &f.csrf) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let place = s.default_place.clone();
    match s.store.book_appointment(&me.citizen, &place, &f.queue, &f.day, &f.slot, None).await {
        Ok(_) => Redirect::to(&format!(
            "/my/appointments?booked=1&queue={}&day={}",
            super::encode_path(&f.queue),
            super::encode_path(&f.day)
        ))
        .into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            let problems = Problems::new(&e, t.en);
            let status = e.status();
            match appointments_page(&s, t, me, Some(f.queue), Some(f.day), problems, false).await {
                Ok(p) => (status, render(&p)).into_response(),
                Err(e) => (e.status(), e.message(false)).into_response(),
            }
        }
    }
}

async fn cancel_booking(
    State(s): State<AppState>,
    t: Tr,
    me: MaybeCitizen,
    axum::extract::Path(id): axum::extract::Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let me = match posted(me, &t, &f.csrf) {
        Ok(m) => m,
        Err(r) => return r,
    };
    match s.store.cancel_appointment(&me.citizen, id).await {
        Ok(_) => Redirect::to("/my/appointments").into_response(),
        Err(e) => error_page(t, e.into()),
    }
}

// --- who used my data -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "my/data_use.html")]
struct DataUsePage {
    t: Tr,
    me: CurrentCitizen,
    uses: Vec<DataUse>,
}

async fn data_use(State(s): State<AppState>, t: Tr, me: MaybeCitizen) -> Response {
    let me = match signed_in(me, &t) {
        Ok(m) => m,
        Err(r) => return r,
    };
    match s.store.data_use_of_citizen(&me.citizen).await {
        Ok(uses) => render(&DataUsePage { t, me, uses }),
        Err(e) => error_page(t, e.into()),
    }
}

/// 404 as a page, for a case or application that is not the citizen's.
pub fn not_theirs(t: Tr) -> Response {
    let mut r = error_page(t, ApiError::not_found("case"));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}
