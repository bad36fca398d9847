//! The citizen's application form (generated from the item's declared fields, with uploads, drafts and
//! the delivery choice) and the page of one of their cases: progress, correction by upload, withdraw,
//! delivery, electronic download, confirmation of receipt and the rating.

use super::cases::{case_vm, CaseVm};
use super::portal::{next_step, not_theirs, posted, signed_in, Problems};
use super::{error_page, render, Tr};
use crate::citizen::{CurrentCitizen, MaybeCitizen};
use crate::error::ApiError;
use crate::upload::{application_input, read_form, FormParts};
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use onewindow_core::catalogue::Channel;
use onewindow_core::form::{FieldKind, FormField};
use onewindow_store::{ActionInput, ApplicationView, DeliveryChoice, FileView, StoredItem, RATING_NAMES};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    let uploads = axum::extract::DefaultBodyLimit::max(crate::upload::UPLOAD_BODY_LIMIT);
    Router::new()
        .route("/my/apply/{item}", get(apply_form).post(apply).layer(uploads))
        .route("/my/drafts/{id}/discard", post(discard))
        .route("/my/drafts/{id}/files/{file}", get(draft_file))
        .route("/my/cases/{number}", get(case_page))
        .route("/my/cases/{number}/action", post(act))
        .route("/my/cases/{number}/delivery", post(delivery))
        .route("/my/cases/{number}/rating", post(rate))
        .route("/my/cases/{number}/correction", post(correction).layer(uploads))
        .route("/my/cases/{number}/files/{file}", get(case_file))
}

// --- applying ---------------------------------------------------------------------------------------

/// One input of the generated form.
pub struct Input {
    pub f: FormField,
    pub name: String,
    pub label: String,
    pub value: String,
    pub html_type: &'static str,
}

/// One material with its upload input.
pub struct MaterialInput {
    pub index: usize,
    pub name: String,
    pub key: bool,
    pub files: Vec<FileView>,
}

#[derive(Template)]
#[template(path = "my/apply.html")]
struct ApplyPage {
    t: Tr,
    me: CurrentCitizen,
    item: StoredItem,
    draft: Option<i64>,
    applicant_name: String,
    applicant_id_number: String,
    inputs: Vec<Input>,
    materials: Vec<MaterialInput>,
    delivery: DeliveryChoice,
    problems: Problems,
    saved: bool,
}

impl ApplyPage {
    fn problem(&self, name: &str) -> String {
        self.problems.field(name).unwrap_or_default()
    }
    fn file_problem(&self, m: &MaterialInput) -> String {
        self.problems.field(&format!("files.{}", m.name)).unwrap_or_default()
    }
    fn chosen(&self, method: &str) -> bool {
        self.delivery.method == method
    }
}

fn page_for(
    t: Tr,
    me: CurrentCitizen,
    item: StoredItem,
    draft: Option<&ApplicationView>,
    parts: Option<&FormParts>,
    problems: Problems,
    saved: bool,
) -> ApplyPage {
    let from_parts = |k: &str| parts.and_then(|p| p.get(k)).map(str::to_string);
    let inputs = item
        .item
        .fields
        .iter()
        .map(|f| {
            let name = format!("answers.{}", f.key);
            let value = from_parts(&name)
                .or_else(|| {
                    draft
                        .and_then(|d| d.answers.get(&f.key))
                        .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                })
                .unwrap_or_default();
            Input {
                label: if t.en && !f.label_en.is_empty() { f.label_en.clone() } else { f.label.clone() },
                html_type: match f.kind {
                    FieldKind::Number => "number",
                    FieldKind::Date => "date",
                    FieldKind::Phone => "tel",
                    _ => "text",
                },
                f: f.clone(),
                name,
                value,
            }
        })
        .collect();
    let materials = item
        .item
        .materials
        .iter()
        .enumerate()
        .map(|(index, m)| MaterialInput {
            index,
            name: m.name.clone(),
            key: m.key,
            files: draft
                .map(|d| d.files.iter().filter(|f| f.material == m.name).cloned().collect())
                .unwrap_or_default(),
        })
        .collect();
    let delivery = match parts.and_then(|p| p.get("delivery.method")) {
        Some(m) => DeliveryChoice {
            method: m.to_string(),
            recipient: from_parts("delivery.recipient").unwrap_or_default(),
            address: from_parts("delivery.address").unwrap_or_default(),
        },
        None => draft
            .and_then(|d| d.delivery.clone())
            .unwrap_or(DeliveryChoice { method: "electronic".into(), ..Default::default() }),
    };
    ApplyPage {
        applicant_name: from_parts("applicant_name")
            .or_else(|| draft.map(|d| d.applicant_name.clone()))
            .unwrap_or_default(),
        applicant_id_number: from_parts("applicant_id_number")
            .or_else(|| draft.map(|d| d.applicant_id_number.clone()))
            .unwrap_or_default(),
        draft: draft.map(|d| d.id),
        t,
        me,
        item,
        inputs,
        materials,
        delivery,
        problems,
        saved,
    }
}

#[derive(Deserialize)]
struct ApplyQuery {
    draft: Option<i64>,
    saved: Option<String>,
}

async fn apply_form(
    State(s): State<AppState>,
    t: Tr,
    me: MaybeCitizen,
    Path(code): Path<String>,
    Query(q): Query<ApplyQuery>,
) -> Response {
    let me = match signed_in(me, &t) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let item = match s.store.item(&code).await {
        Ok(i) => i,
        Err(e) => return error_page(t, e.into()),
    };
    if !item.item.has_channel(Channel::Online) && !item.item.has_channel(Channel::Mobile) {
        return error_page(
            t,
            ApiError::bad(
                Some("item"),
                "该事项不能网上申请，请预约到窗口办理",
                "this item cannot be applied for online; book a window appointment",
            ),
        );
    }
    let draft = match q.draft {
        Some(id) => match s.store.application(&me.citizen, id).await {
            Ok(d) if d.item_code == item.item.code.as_str() && d.state == "draft" => Some(d),
            _ => return not_theirs(t),
        },
        None => None,
    };
    render(&page_for(t, me, item, draft.as_ref(), None, Problems::default(), q.saved.is_some()))
}

async fn apply(
    State(s): State<AppState>,
    t: Tr,
    me: MaybeCitizen,
    Path(code): Path<String>,
    mp: Multipart,
) -> Response {
    let me = match signed_in(me, &t) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let item = match s.store.item(&code).await {
        Ok(i) => i,
        Err(e) => return error_page(t, e.into()),
    };
    let parts = match read_form(mp).await {
        Ok(p) => p,
        Err(e) => {
            let problems = Problems::new(&e, t.en);
            return (e.status(), render(&page_for(t, me, item, None, None, problems, false))).into_response();
        }
    };
    if let Err(e) = me.check_csrf(parts.get("csrf").unwrap_or_default()) {
        return error_page(t, e);
    }
    let draft_id = parts.get("draft").and_then(|d| d.parse::<i64>().ok());
    let submit = parts.get("submit") == Some("1");
    let result = match application_input(&parts, &item.item) {
        Ok((input, uploads)) => s
            .store
            .save_application(&me.citizen, draft_id, &code, &input, &uploads, submit, None)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(app) => match (&app.case_number, submit) {
            (Some(n), true) => {
                Redirect::to(&format!("/my/cases/{}?submitted=1", super::encode_path(n))).into_response()
            }
            _ => Redirect::to(&format!("/my/apply/{}?draft={}&saved=1", super::encode_path(&code), app.id))
                .into_response(),
        },
        Err(e) => {
            let draft = match draft_id {
                Some(id) => s.store.application(&me.citizen, id).await.ok(),
                None => None,
            };
            let problems = Problems::new(&e, t.en);
            (e.status(), render(&page_for(t, me, item, draft.as_ref(), Some(&parts), problems, false))).into_response()
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    file: Option<i64>,
}

async fn discard(
    State(s): State<AppState>,
    t: Tr,
    me: MaybeCitizen,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let me = match posted(me, &t, &f.csrf) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let back = match (f.file, s.store.application(&me.citizen, id).await) {
        (Some(_), Ok(a)) => format!("/my/apply/{}?draft={id}", super::encode_path(&a.item_code)),
        _ => "/my".to_string(),
    };
    match s.store.discard_draft(&me.citizen, id, f.file).await {
        Ok(()) => Redirect::to(&back).into_response(),
        Err(e) => error_page(t, e.into()),
    }
}

async fn draft_file(
    State(s): State<AppState>,
    t: Tr,
    me: MaybeCitizen,
    Path((id, file)): Path<(i64, i64)>,
) -> Response {
    let me = match signed_in(me, &t) {
        Ok(m) => m,
        Err(r) => return r,
    };
    match s.store.draft_file(&me.citizen, id, file).await {
        Ok((f, bytes)) => crate::api::portal::file_response(&f, bytes),
        Err(_) => not_theirs(t),
    }
}

// --- one case ---------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "my/case.html")]
struct CasePage {
    t: Tr,
    me: CurrentCitizen,
    c: CaseVm,
    next: String,
    files: Vec<FileView>,
    choice: Option<DeliveryChoice>,
    rating: Option<(i64, String)>,
    problems: Problems,
    notice: String,
}

impl CasePage {
    fn can(&self, action: &str) -> bool {
        self.c.v.actions.iter().any(|a| a.code == action)
    }
    fn delivery_open(&self) -> bool {
        self.c.v.closed_at.is_none() && self.c.v.delivery.is_none() && self.c.v.state != "shipped"
    }
    fn can_rate(&self) -> bool {
        self.c.v.closed_at.is_some() && self.c.v.state != "cancelled" && self.rating.is_none()
    }
    fn choice_method(&self) -> &str {
        self.choice.as_ref().map(|c| c.method.as_str()).unwrap_or("")
    }
    fn choice_text(&self) -> String {
        match &self.choice {
            None => self.t.t("尚未选择", "Not chosen yet").into(),
            Some(c) => match c.method.as_str() {
                "express" => format!("{}：{} {}", self.t.t("免费快递", "Free express"), c.recipient, c.address),
                "pickup" => self.t.t("到统一出件窗口领取", "Collect at the delivery window").into(),
                _ => self.t.t("电子送达（网上下载）", "Electronic (download)").into(),
            },
        }
    }
    fn rating_name(&self, score: &i64) -> String {
        RATING_NAMES
            .iter()
            .find(|(s, _, _)| s == score)
            .map(|(_, zh, en)| if self.t.en { en.to_string() } else { zh.to_string() })
            .unwrap_or_default()
    }
    fn scores(&self) -> Vec<(i64, String)> {
        RATING_NAMES.iter().map(|(s, zh, en)| (*s, if self.t.en { en.to_string() } else { zh.to_string() })).collect()
    }
    fn material_index(&self, name: &str) -> usize {
        self.c.v.materials.iter().position(|m| m.name == name).unwrap_or(0)
    }
}

#[derive(Deserialize)]
struct CaseQuery {
    submitted: Option<String>,
    done: Option<String>,
}

async fn case_page_for(
    s: &AppState,
    t: Tr,
    me: CurrentCitizen,
    number: &str,
    problems: Problems,
    notice: String,
) -> Response {
    if number.is_empty() || number.len() > 40 {
        return not_theirs(t);
    }
    let v = match s.store.citizen_case(&me.citizen, number).await {
        Ok(v) => v,
        Err(_) => return not_theirs(t),
    };
    let id = v.id;
    let load = async {
        Ok::<_, onewindow_store::StoreError>((
            s.store.case_files(id).await?,
            s.store.delivery_choice(id).await?,
            s.store.rating_of(id).await?,
        ))
    };
    let (files, choice, rating) = match load.await {
        Ok(x) => x,
        Err(e) => return error_page(t, e.into()),
    };
    let next = next_step(&t, &v);
    match case_vm(s, &t, v, None).await {
        Ok(c) => {
            let status = if problems.summary.is_some() {
                axum::http::StatusCode::UNPROCESSABLE_ENTITY
            } else {
                axum::http::StatusCode::OK
            };
            (status, render(&CasePage { t, me, c, next, files, choice, rating, problems, notice })).into_response()
        }
        Err(e) => error_page(t, e),
    }
}

async fn case_page(
    State(s): State<AppState>,
    t: Tr,
    me: MaybeCitizen,
    Path(number): Path<String>,
    Query(q): Query<CaseQuery>,
) -> Response {
    let me = match signed_in(me, &t) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let notice = if q.submitted.is_some() {
        t.t("申请已提交，办件号已短信发送给您。", "Submitted: the case number was sent to you by SMS.").to_string()
    } else if q.done.is_some() {
        t.t("已保存。", "Saved.").to_string()
    } else {
        String::new()
    };
    case_page_for(&s, t, me, &number, Problems::default(), notice).await
}

/// After a post: back to the case with the outcome, or the page with the problem.
async fn after(s: &AppState, t: Tr, me: CurrentCitizen, number: &str, r: Result<(), ApiError>) -> Response {
    match r {
        Ok(()) => Redirect::to(&format!("/my/cases/{}?done=1", super::encode_path(number))).into_response(),
        Err(ApiError::NotFound { .. }) => not_theirs(t),
        Err(e) => {
            let problems = Problems::new(&e, t.en);
            case_page_for(s, t, me, number, problems, String::new()).await
        }
    }
}

#[derive(Deserialize)]
struct ActForm {
    #[serde(default)]
    csrf: String,
    action: String,
}

async fn act(
    State(s): State<AppState>,
    t: Tr,
    me: MaybeCitizen,
    Path(number): Path<String>,
    Form(f): Form<ActForm>,
) -> Response {
    let me = match posted(me, &t, &f.csrf) {
        Ok(m) => m,
        Err(r) => return r,
    };
    // Only what a citizen does from this page; the flow checks the rest.
    if !matches!(f.action.as_str(), "cancel" | "download" | "deliver") {
        return error_page(t, ApiError::bad(Some("action"), "不支持的操作", "unsupported action"));
    }
    let input = ActionInput { action: f.action.clone(), comment: String::new(), data: json!({}) };
    let r = s.store.citizen_act(&me.citizen, &number, &input, &[], None).await.map(|_| ()).map_err(ApiError::from);
    after(&s, t, me, &number, r).await
}

#[derive(Deserialize)]
struct DeliveryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    address: String,
}

async fn delivery(
    State(s): State<AppState>,
    t: Tr,
    me: MaybeCitizen,
    Path(number): Path<String>,
    Form(f): Form<DeliveryForm>,
) -> Response {
    let me = match posted(me, &t, &f.csrf) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let choice = DeliveryChoice { method: f.method, recipient: f.recipient, address: f.address };
    let r = s.store.choose_delivery(&me.citizen, &number, &choice).await.map_err(ApiError::from);
    after(&s, t, me, &number, r).await
}

#[derive(Deserialize)]
struct RatingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    score: String,
    #[serde(default)]
    comment: String,
}

async fn rate(
    State(s): State<AppState>,
    t: Tr,
    me: MaybeCitizen,
    Path(number): Path<String>,
    Form(f): Form<RatingForm>,
) -> Response {
    let me = match posted(me, &t, &f.csrf) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let score = f.score.trim().parse::<i64>().unwrap_or(0);
    let r = s.store.rate_case(&me.citizen, &number, score, &f.comment, None).await.map_err(ApiError::from);
    after(&s, t, me, &number, r).await
}

async fn correction(
    State(s): State<AppState>,
    t: Tr,
    me: MaybeCitizen,
    Path(number): Path<String>,
    mp: Multipart,
) -> Response {
    let me = match signed_in(me, &t) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let parts = match read_form(mp).await {
        Ok(p) => p,
        Err(e) => return after(&s, t, me, &number, Err(e)).await,
    };
    if let Err(e) = me.check_csrf(parts.get("csrf").unwrap_or_default()) {
        return error_page(t, e);
    }
    let r = crate::api::portal::send_correction(&s, &me.citizen, &number, &parts).await.map(|_| ());
    after(&s, t, me, &number, r).await
}

async fn case_file(
    State(s): State<AppState>,
    t: Tr,
    me: MaybeCitizen,
    Path((number, file)): Path<(String, i64)>,
) -> Response {
    let me = match signed_in(me, &t) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let r = async {
        let id = s.store.citizen_case_id(&me.citizen, &number).await?;
        s.store.case_file(id, file).await
    }
    .await;
    match r {
        Ok((f, bytes)) => crate::api::portal::file_response(&f, bytes),
        Err(_) => not_theirs(t),
    }
}
