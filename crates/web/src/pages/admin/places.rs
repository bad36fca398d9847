//! The organisation, part two: places (the division tree) and windows (which stand in a place's hall).
//! Same shape as `org`: a list and one add-or-change form; the rules of `api::org`.

use super::{code_taken, outcome, status, FormErrors, PageQuery};
use crate::auth::{CurrentStaff, MaybeStaff};
use crate::error::ApiError;
use crate::pages::{error_page, render, Tr};
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Response};
use onewindow_core::place::{PlaceCode, PlaceLevel};
use onewindow_core::FieldError;
use onewindow_store::{Place, Window, Zone};
use serde::Deserialize;

// ---- places ----

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct PlaceForm {
    csrf: String,
    mode: String,
    code: String,
    name: String,
    name_en: String,
    parent: String,
}

#[derive(Template)]
#[template(path = "admin/places.html")]
struct PlacesPage {
    t: Tr,
    ok: Option<String>,
    errors: FormErrors,
    places: Vec<Place>,
    form: PlaceForm,
}

impl PlacesPage {
    fn level(&self, l: &PlaceLevel) -> &'static str {
        if self.t.en {
            l.code()
        } else {
            l.zh()
        }
    }
    fn name_of(&self, code: &Option<String>) -> String {
        let Some(code) = code else { return String::new() };
        self.places
            .iter()
            .find(|p| &p.code == code)
            .map(|p| super::local_name(&p.name, &p.name_en, self.t.en).to_string())
            .unwrap_or_else(|| code.clone())
    }
    /// Places that can hold a new one: every level above village.
    fn parents(&self) -> Vec<&Place> {
        self.places.iter().filter(|p| p.level != PlaceLevel::Village).collect()
    }
}

async fn places_page(
    s: &AppState,
    t: Tr,
    me: &CurrentStaff,
    ok: Option<String>,
    errors: FormErrors,
    form: Option<PlaceForm>,
    edit: Option<&str>,
) -> Response {
    let places = match me.place() {
        Ok(p) => s.store.places_within(&p).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let places = match places {
        Ok(p) => p,
        Err(e) => return error_page(t, e),
    };
    let form = form.unwrap_or_else(|| match edit.and_then(|c| places.iter().find(|p| p.code == c)) {
        Some(p) => PlaceForm {
            mode: "edit".into(),
            code: p.code.clone(),
            name: p.name.clone(),
            name_en: p.name_en.clone(),
            parent: p.parent.clone().unwrap_or_default(),
            ..Default::default()
        },
        None => PlaceForm { mode: "add".into(), parent: me.staff().place.clone(), ..Default::default() },
    });
    let st = status(&errors);
    (st, render(&PlacesPage { t, ok, errors, places, form })).into_response()
}

pub async fn places(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<PageQuery>,
) -> Response {
    let (t, me) = gate!(t, me);
    let ok = q.ok_message(&t);
    places_page(&s, t, &me, ok, FormErrors::default(), None, q.edit.as_deref()).await
}

async fn try_save_place(s: &AppState, me: &CurrentStaff, f: &PlaceForm) -> Result<(), ApiError> {
    let code = PlaceCode::parse(&f.code).map_err(|e| e.at("code"))?;
    me.require_within(&code)?;
    let existing = s.store.place(code.as_str()).await.ok();
    let parent = match (&existing, f.mode.as_str()) {
        (Some(_), "add") => return Err(code_taken("区划", "place", code.as_str())),
        // A place keeps its parent and level; only its names change.
        (Some(p), _) => p.parent.clone(),
        (None, _) => {
            let parent = PlaceCode::parse(&f.parent).map_err(|e| e.at("parent"))?;
            me.require_within(&parent)?;
            Some(parent.to_string())
        }
    };
    let p =
        Place { code: code.to_string(), name: f.name.clone(), name_en: f.name_en.clone(), level: code.level(), parent };
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    tx.save_place(&p).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn save_place(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Form(f): Form<PlaceForm>,
) -> Response {
    let (t, me) = gate!(t, me);
    csrf!(t, me, &f.csrf);
    match try_save_place(&s, &me, &f).await {
        Ok(()) => outcome("/admin/places", &f.mode, f.code.trim()),
        Err(e) => {
            let errors = FormErrors::new(e, t.en);
            places_page(&s, t, &me, None, errors, Some(f), None).await
        }
    }
}

// ---- windows ----

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct WindowForm {
    csrf: String,
    mode: String,
    place: String,
    code: String,
    name: String,
    zone: String,
    general: Option<String>,
    active: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/windows.html")]
struct WindowsPage {
    t: Tr,
    ok: Option<String>,
    errors: FormErrors,
    windows: Vec<Window>,
    /// Where a window can be: the county hall and the township centres.
    halls: Vec<Place>,
    zones: Vec<Zone>,
    form: WindowForm,
}

impl WindowsPage {
    fn zone(&self, code: &str) -> String {
        self.zones
            .iter()
            .find(|z| z.code == code)
            .map(|z| super::local_name(&z.name, &z.name_en, self.t.en).to_string())
            .unwrap_or_else(|| code.to_string())
    }
    fn hall(&self, code: &str) -> String {
        self.halls
            .iter()
            .find(|p| p.code == code)
            .map(|p| super::local_name(&p.name, &p.name_en, self.t.en).to_string())
            .unwrap_or_else(|| code.to_string())
    }
}

async fn windows_page(
    s: &AppState,
    t: Tr,
    me: &CurrentStaff,
    ok: Option<String>,
    errors: FormErrors,
    form: Option<WindowForm>,
    edit: Option<&str>,
) -> Response {
    let loaded = async {
        let place = me.place()?;
        let windows = s.store.windows(Some(&place)).await?;
        let halls: Vec<Place> = s
            .store
            .places_within(&place)
            .await?
            .into_iter()
            .filter(|p| matches!(p.level, PlaceLevel::County | PlaceLevel::Township))
            .collect();
        Ok::<_, ApiError>((windows, halls, s.store.zones().await?))
    };
    let (windows, halls, zones) = match loaded.await {
        Ok(v) => v,
        Err(e) => return error_page(t, e),
    };
    let form = form.unwrap_or_else(|| match edit.and_then(|id| windows.iter().find(|w| w.id.to_string() == id)) {
        Some(w) => WindowForm {
            mode: "edit".into(),
            place: w.place.clone(),
            code: w.code.clone(),
            name: w.name.clone(),
            zone: w.zone.clone(),
            general: w.general.then(|| "1".into()),
            active: w.active.then(|| "1".into()),
            ..Default::default()
        },
        None => WindowForm {
            mode: "add".into(),
            place: halls.first().map(|h| h.code.clone()).unwrap_or_default(),
            active: Some("1".into()),
            ..Default::default()
        },
    });
    let st = status(&errors);
    (st, render(&WindowsPage { t, ok, errors, windows, halls, zones, form })).into_response()
}

pub async fn windows(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<PageQuery>,
) -> Response {
    let (t, me) = gate!(t, me);
    let ok = q.ok_message(&t);
    windows_page(&s, t, &me, ok, FormErrors::default(), None, q.edit.as_deref()).await
}

async fn try_save_window(s: &AppState, me: &CurrentStaff, f: &WindowForm) -> Result<(), ApiError> {
    let place = PlaceCode::parse(&f.place).map_err(|e| e.at("place"))?;
    me.require_within(&place)?;
    let code = f.code.trim();
    if f.mode != "edit"
        && s.store.windows(Some(&place)).await?.iter().any(|w| w.place == place.as_str() && w.code == code)
    {
        return Err(code_taken("窗口", "window", code));
    }
    if f.zone.trim().is_empty() {
        return Err(FieldError::new("zone", "请选择业务板块", "choose a zone").into());
    }
    let w = Window {
        id: 0,
        place: place.to_string(),
        code: code.to_string(),
        name: f.name.clone(),
        zone: f.zone.trim().to_string(),
        general: f.general.is_some(),
        active: f.active.is_some(),
    };
    let mut tx = s.store.begin(&me.staff().actor()).await?;
    tx.save_window(&w).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn save_window(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Form(f): Form<WindowForm>,
) -> Response {
    let (t, me) = gate!(t, me);
    csrf!(t, me, &f.csrf);
    match try_save_window(&s, &me, &f).await {
        Ok(()) => outcome("/admin/windows", &f.mode, f.code.trim()),
        Err(e) => {
            let errors = FormErrors::new(e, t.en);
            windows_page(&s, t, &me, None, errors, Some(f), None).await
        }
    }
}
