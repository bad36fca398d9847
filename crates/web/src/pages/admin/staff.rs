//! Staff accounts: the list within the admin's jurisdiction, creating an account, changing one.
//! The rules are those of `api::org::{create_staff, update_staff}`.

use super::{departments_of, local_name, role_name, saved, FormErrors, PageQuery};
use crate::auth::{CurrentStaff, MaybeStaff};
use crate::error::ApiError;
use crate::pages::{error_page, render, Tr};
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onewindow_core::place::PlaceCode;
use onewindow_store::{Department, NewStaff, Place, Role, Staff};
use serde::Deserialize;

/// What the staff forms choose from.
struct Choices {
    departments: Vec<Department>,
    places: Vec<Place>,
}

async fn choices(s: &AppState, me: &CurrentStaff) -> Result<Choices, ApiError> {
    Ok(Choices { departments: departments_of(s, me).await?, places: s.store.places_within(&me.place()?).await? })
}

/// The values of the create form (kept when it comes back with errors).
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct CreateForm {
    csrf: String,
    username: String,
    display_name: String,
    password: String,
    role: String,
    department_id: String,
    place: String,
}

#[derive(Template)]
#[template(path = "admin/staff.html")]
struct ListPage {
    t: Tr,
    ok: Option<String>,
    errors: FormErrors,
    staff: Vec<Staff>,
    departments: Vec<Department>,
    places: Vec<Place>,
    roles: &'static [Role],
    form: CreateForm,
}

impl ListPage {
    fn role(&self, r: &Role) -> &'static str {
        role_name(*r, self.t.en)
    }
    fn department(&self, id: &Option<i64>) -> String {
        id.and_then(|id| self.departments.iter().find(|d| d.id == id))
            .map(|d| local_name(&d.name, &d.name_en, self.t.en).to_string())
            .unwrap_or_default()
    }
    fn place(&self, code: &str) -> String {
        self.places
            .iter()
            .find(|p| p.code == code)
            .map(|p| local_name(&p.name, &p.name_en, self.t.en).to_string())
            .unwrap_or_else(|| code.to_string())
    }
}

async fn list_page(
    s: &AppState,
    t: Tr,
    me: &CurrentStaff,
    ok: Option<String>,
    errors: FormErrors,
    form: CreateForm,
) -> Response {
    let staff = match me.place() {
        Ok(p) => s.store.staff_list(Some(&p)).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let (staff, c) = match (staff, choices(s, me).await) {
        (Ok(staff), Ok(c)) => (staff, c),
        (Err(e), _) | (_, Err(e)) => return error_page(t, e),
    };
    let status = if errors.summary.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = ListPage { t, ok, errors, staff, departments: c.departments, places: c.places, roles: &Role::ALL, form };
    (status, render(&page)).into_response()
}

pub async fn list(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<PageQuery>,
) -> Response {
    let (t, me) = gate!(t, me);
    let ok = q.ok_message(&t);
    let form = CreateForm { role: Role::Acceptor.code().into(), place: me.staff().place.clone(), ..Default::default() };
    list_page(&s, t, &me, ok, FormErrors::default(), form).await
}

/// `""` → none; else a department id the admin may assign.
fn department_id(raw: &str, allowed: &[Department]) -> Result<Option<i64>, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(id) if allowed.iter().any(|d| d.id == id) => Ok(Some(id)),
        _ => {
            Err(onewindow_core::FieldError::new("department_id", "部门不存在", "the department does not exist").into())
        }
    }
}

async fn try_create(s: &AppState, me: &CurrentStaff, f: &CreateForm) -> Result<String, ApiError> {
    me.require_within(&PlaceCode::parse(&f.place).map_err(|e| e.at("place"))?)?;
    let department_id = department_id(&f.department_id, &departments_of(s, me).await?)?;
    let n = NewStaff {
        username: f.username.clone(),
        display_name: f.display_name.clone(),
        password: f.password.clone(),
        role: f.role.clone(),
        department_id,
        place: f.place.clone(),
    };
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    tx.create_staff(&n).await?;
    tx.commit().await?;
    Ok(n.username.trim().to_string())
}

pub async fn create(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Form(f): Form<CreateForm>,
) -> Response {
    let (t, me) = gate!(t, me);
    csrf!(t, me, &f.csrf);
    match try_create(&s, &me, &f).await {
        Ok(username) => saved("/admin/staff", "created", &username),
        Err(e) => {
            let errors = FormErrors::new(e, t.en);
            // Never send a password back to the browser.
            let form = CreateForm { password: String::new(), ..f };
            list_page(&s, t, &me, None, errors, form).await
        }
    }
}

/// The values of the edit form.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct EditForm {
    csrf: String,
    role: String,
    department_id: String,
    place: String,
    active: Option<String>,
    password: String,
}

#[derive(Template)]
#[template(path = "admin/staff_edit.html")]
struct EditPage {
    t: Tr,
    ok: Option<String>,
    errors: FormErrors,
    target: Staff,
    departments: Vec<Department>,
    places: Vec<Place>,
    roles: &'static [Role],
    form: EditForm,
}

impl EditPage {
    fn role(&self, r: &Role) -> &'static str {
        role_name(*r, self.t.en)
    }
}

/// Loads a staff member the admin may manage.
async fn target(s: &AppState, me: &CurrentStaff, id: &str) -> Result<Staff, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found(format!("staff {id}")))?;
    let target = s.store.staff(id).await?;
    me.require_within(&target.place_code()?)?;
    Ok(target)
}

async fn edit_page(
    s: &AppState,
    t: Tr,
    me: &CurrentStaff,
    target: Staff,
    errors: FormErrors,
    form: EditForm,
) -> Response {
    let c = match choices(s, me).await {
        Ok(c) => c,
        Err(e) => return error_page(t, e),
    };
    let status = if errors.summary.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page =
        EditPage { t, ok: None, errors, target, departments: c.departments, places: c.places, roles: &Role::ALL, form };
    (status, render(&page)).into_response()
}

pub async fn edit(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff, Path(id): Path<String>) -> Response {
    let (t, me) = gate!(t, me);
    let target = match target(&s, &me, &id).await {
        Ok(v) => v,
        Err(e) => return error_page(t, e),
    };
    let form = EditForm {
        csrf: String::new(),
        role: target.role.code().into(),
        department_id: target.department_id.map(|d| d.to_string()).unwrap_or_default(),
        place: target.place.clone(),
        active: target.active.then(|| "1".into()),
        password: String::new(),
    };
    edit_page(&s, t, &me, target, FormErrors::default(), form).await
}

async fn try_update(s: &AppState, me: &CurrentStaff, target: &Staff, f: &EditForm) -> Result<(), ApiError> {
    let place = PlaceCode::parse(&f.place).map_err(|e| e.at("place"))?;
    me.require_within(&place)?;
    let role = Role::parse(&f.role)?;
    let active = f.active.is_some();
    if target.id == me.staff().id && (!active || role != Role::Admin) {
        return Err(ApiError::Conflict {
            field: Some("active".into()),
            zh: "不能停用自己或取消自己的管理员角色".into(),
            en: "you cannot deactivate yourself or drop your own admin role".into(),
        });
    }
    let department_id = department_id(&f.department_id, &departments_of(s, me).await?)?;
    let password = Some(f.password.clone()).filter(|p| !p.is_empty());
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    tx.update_staff(target.id, role, department_id, &place, active, password).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn update(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Path(id): Path<String>,
    Form(f): Form<EditForm>,
) -> Response {
    let (t, me) = gate!(t, me);
    csrf!(t, me, &f.csrf);
    let target = match target(&s, &me, &id).await {
        Ok(v) => v,
        Err(e) => return error_page(t, e),
    };
    match try_update(&s, &me, &target, &f).await {
        Ok(()) => saved("/admin/staff", "saved", &target.username),
        Err(e) => {
            let errors = FormErrors::new(e, t.en);
            let form = EditForm { password: String::new(), ..f };
            edit_page(&s, t, &me, target, errors, form).await
        }
    }
}
