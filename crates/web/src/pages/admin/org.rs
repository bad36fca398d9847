//! The organisation, part one: departments and zones. Each page is a list with one form that adds
//! (`mode=add`, an existing code is refused) or changes the row picked with `?edit=`. The rules are those
//! of `api::org`: admins only, within their jurisdiction.

use super::{code_taken, outcome, status};
use super::{counties_of, departments_of, FormErrors, PageQuery};
use crate::auth::{CurrentStaff, MaybeStaff};
use crate::error::ApiError;
use crate::pages::{error_page, render, Tr};
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Response};
use onewindow_core::place::PlaceCode;
use onewindow_store::{Department, Place, Zone};
use serde::Deserialize;

// ---- departments ----

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct DepartmentForm {
    csrf: String,
    mode: String,
    place: String,
    code: String,
    name: String,
    short_name: String,
    name_en: String,
}

#[derive(Template)]
#[template(path = "admin/departments.html")]
struct DepartmentsPage {
    t: Tr,
    ok: Option<String>,
    errors: FormErrors,
    departments: Vec<Department>,
    counties: Vec<Place>,
    form: DepartmentForm,
}

impl DepartmentsPage {
    fn county(&self, code: &str) -> String {
        self.counties
            .iter()
            .find(|c| c.code == code)
            .map(|c| super::local_name(&c.name, &c.name_en, self.t.en).to_string())
            .unwrap_or_else(|| code.to_string())
    }
}

async fn departments_page(
    s: &AppState,
    t: Tr,
    me: &CurrentStaff,
    ok: Option<String>,
    errors: FormErrors,
    form: Option<DepartmentForm>,
    edit: Option<&str>,
) -> Response {
    let (departments, counties) = match (departments_of(s, me).await, counties_of(s, me).await) {
        (Ok(d), Ok(c)) => (d, c),
        (Err(e), _) | (_, Err(e)) => return error_page(t, e),
    };
    let form = form.unwrap_or_else(|| match edit.and_then(|id| departments.iter().find(|d| d.id.to_string() == id)) {
        Some(d) => DepartmentForm {
            mode: "edit".into(),
            place: d.place.clone(),
            code: d.code.clone(),
            name: d.name.clone(),
            short_name: d.short_name.clone(),
            name_en: d.name_en.clone(),
            ..Default::default()
        },
        None => DepartmentForm {
            mode: "add".into(),
            place: counties.first().map(|c| c.code.clone()).unwrap_or_default(),
            ..Default::default()
        },
    });
    let st = status(&errors);
    (st, render(&DepartmentsPage { t, ok, errors, departments, counties, form })).into_response()
}

pub async fn departments(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<PageQuery>,
) -> Response {
    let (t, me) = gate!(t, me);
    let ok = q.ok_message(&t);
    departments_page(&s, t, &me, ok, FormErrors::default(), None, q.edit.as_deref()).await
}

async fn try_save_department(s: &AppState, me: &CurrentStaff, f: &DepartmentForm) -> Result<(), ApiError> {
    let county = PlaceCode::parse(&f.place).map_err(|e| e.at("place"))?;
    me.require_within(&county)?;
    let code = f.code.trim();
    if f.mode != "edit"
        && s.store.departments(Some(&county)).await?.iter().any(|d| d.place == county.as_str() && d.code == code)
    {
        return Err(code_taken("部门", "department", code));
    }
    let d = Department {
        id: 0,
        place: county.to_string(),
        code: code.to_string(),
        name: f.name.clone(),
        short_name: f.short_name.clone(),
        name_en: f.name_en.clone(),
    };
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    tx.save_department(&d).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn save_department(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Form(f): Form<DepartmentForm>,
) -> Response {
    let (t, me) = gate!(t, me);
    csrf!(t, me, &f.csrf);
    match try_save_department(&s, &me, &f).await {
        Ok(()) => outcome("/admin/departments", &f.mode, f.code.trim()),
        Err(e) => {
            let errors = FormErrors::new(e, t.en);
            departments_page(&s, t, &me, None, errors, Some(f), None).await
        }
    }
}

// ---- zones ----

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ZoneForm {
    csrf: String,
    mode: String,
    code: String,
    name: String,
    name_en: String,
}

#[derive(Template)]
#[template(path = "admin/zones.html")]
struct ZonesPage {
    t: Tr,
    ok: Option<String>,
    errors: FormErrors,
    zones: Vec<Zone>,
    form: ZoneForm,
}

async fn zones_page(
    s: &AppState,
    t: Tr,
    ok: Option<String>,
    errors: FormErrors,
    form: Option<ZoneForm>,
    edit: Option<&str>,
) -> Response {
    let zones = match s.store.zones().await {
        Ok(z) => z,
        Err(e) => return error_page(t, e.into()),
    };
    let form = form.unwrap_or_else(|| match edit.and_then(|c| zones.iter().find(|z| z.code == c)) {
        Some(z) => ZoneForm {
            mode: "edit".into(),
            code: z.code.clone(),
            name: z.name.clone(),
            name_en: z.name_en.clone(),
            ..Default::default()
        },
        None => ZoneForm { mode: "add".into(), ..Default::default() },
    });
    let st = status(&errors);
    (st, render(&ZonesPage { t, ok, errors, zones, form })).into_response()
}

pub async fn zones(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<PageQuery>,
) -> Response {
    let (t, _me) = gate!(t, me);
    let ok = q.ok_message(&t);
    zones_page(&s, t, ok, FormErrors::default(), None, q.edit.as_deref()).await
}

async fn try_save_zone(s: &AppState, me: &CurrentStaff, f: &ZoneForm) -> Result<(), ApiError> {
    let code = f.code.trim();
    if f.mode != "edit" && s.store.zones().await?.iter().any(|z| z.code == code) {
        return Err(code_taken("业务板块", "zone", code));
    }
    let z = Zone { code: code.to_string(), name: f.name.clone(), name_en: f.name_en.clone() };
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    tx.save_zone(&z).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn save_zone(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Form(f): Form<ZoneForm>,
) -> Response {
    let (t, me) = gate!(t, me);
    csrf!(t, me, &f.csrf);
    match try_save_zone(&s, &me, &f).await {
        Ok(()) => outcome("/admin/zones", &f.mode, f.code.trim()),
        Err(e) => {
            let errors = FormErrors::new(e, t.en);
            zones_page(&s, t, None, errors, Some(f), None).await
        }
    }
}
