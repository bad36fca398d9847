//! Catalogue items: search with edit links, the edit form (every field; saving makes a new version)
//! and the form for a new item. The rules are those of `api::catalogue::{create, update}`; validation
//! is `ItemInput::validate`, whose field errors are shown next to their fields.

use super::{saved, FormErrors};
use crate::api::catalogue::{run_search, ItemSummary, SearchParams};
use crate::auth::{CurrentStaff, MaybeStaff};
use crate::error::ApiError;
use crate::pages::{error_page, render, Tr};
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use onewindow_core::catalogue::{material_text, Channel, Item, ItemInput, ItemKind, TripLevel};
use onewindow_core::place::{PlaceCode, PlaceLevel};
use onewindow_store::{Department, Zone};
use serde::Deserialize;
use serde_json::json;

// ---- the list ----

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/items.html")]
struct ListPage {
    t: Tr,
    q: String,
    total: usize,
    items: Vec<ItemSummary>,
    error: Option<String>,
}

pub async fn list(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Query(q): Query<ListQuery>,
) -> Response {
    let (t, me) = gate!(t, me);
    let p = SearchParams {
        q: q.q.clone(),
        place: me.county().ok().map(|c| c.to_string()),
        limit: Some(100),
        ..Default::default()
    };
    let (total, items, error) = match run_search(&s, &p) {
        Ok(a) => (a.total, a.items, None),
        Err(e) => (0, Vec::new(), Some(e.message(t.en))),
    };
    render(&ListPage { t, q: q.q.unwrap_or_default(), total, items, error })
}

// ---- the form ----

/// The item form's values as typed, kept when the form comes back with errors.
#[derive(Default, Clone)]
pub struct ItemForm {
    code: String,
    name: String,
    department: String,
    zone: String,
    kind: String,
    trip_level: String,
    channels: Vec<String>,
    general_acceptance: bool,
    livelihood: bool,
    statutory_days: String,
    promised_days: String,
    lowest_level: String,
    fees: String,
    legal_basis: String,
    keywords: String,
    materials: String,
    /// The online form declaration, as JSON (empty: none).
    fields: String,
}

impl ItemForm {
    fn from_item(i: &Item) -> Self {
        ItemForm {
            code: i.code.to_string(),
            name: i.name.clone(),
            department: i.department.clone(),
            zone: i.zone.clone(),
            kind: i.kind.code().into(),
            trip_level: i64::from(i.trip_level).to_string(),
            channels: i.channels.iter().map(|c| c.code().to_string()).collect(),
            general_acceptance: i.general_acceptance,
            livelihood: i.livelihood,
            statutory_days: i.statutory_days.get().to_string(),
            promised_days: i.promised_days.get().to_string(),
            lowest_level: i.lowest_level.code().into(),
            fees: i.fees.clone(),
            legal_basis: i.legal_basis.clone(),
            keywords: i.keywords.join("，"),
            materials: i.materials.iter().map(material_text).collect::<Vec<_>>().join("\n"),
            fields: if i.fields.is_empty() {
                String::new()
            } else {
                serde_json::to_string_pretty(&i.fields).unwrap_or_default()
            },
        }
    }

    /// Reads the posted pairs (channels may repeat); returns the CSRF token too.
    fn from_pairs(pairs: Vec<(String, String)>) -> (String, Self) {
        let mut f = ItemForm::default();
        let mut csrf = String::new();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => csrf = v,
                "code" => f.code = v,
                "name" => f.name = v,
                "department" => f.department = v,
                "zone" => f.zone = v,
                "kind" => f.kind = v,
                "trip_level" => f.trip_level = v,
                "channels" => f.channels.push(v),
                "general_acceptance" => f.general_acceptance = true,
                "livelihood" => f.livelihood = true,
                "statutory_days" => f.statutory_days = v,
                "promised_days" => f.promised_days = v,
                "lowest_level" => f.lowest_level = v,
                "fees" => f.fees = v,
                "legal_basis" => f.legal_basis = v,
                "keywords" => f.keywords = v,
                "materials" => f.materials = v,
                "fields" => f.fields = v,
                _ => {}
            }
        }
        (csrf, f)
    }

    fn input(&self) -> ItemInput {
        ItemInput {
            code: Some(json!(self.code)),
            name: Some(json!(self.name)),
            department: Some(json!(self.department)),
            zone: Some(json!(self.zone)),
            kind: Some(json!(self.kind)),
            trip_level: Some(json!(self.trip_level)),
            channels: Some(json!(self.channels)),
            general_acceptance: Some(json!(self.general_acceptance)),
            livelihood: Some(json!(self.livelihood)),
            statutory_days: Some(json!(self.statutory_days)),
            promised_days: Some(json!(self.promised_days)),
            lowest_level: Some(json!(self.lowest_level)),
            fees: Some(json!(self.fees)),
            legal_basis: Some(json!(self.legal_basis)),
            keywords: Some(json!(self.keywords)),
            materials: Some(json!(self.materials)),
            // Not JSON: passed as text, so the check names the field instead of dropping it.
            fields: match self.fields.trim() {
                "" => None,
                t => Some(serde_json::from_str(t).unwrap_or_else(|_| json!(t))),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "admin/item_edit.html")]
struct EditPage {
    t: Tr,
    ok: Option<String>,
    errors: FormErrors,
    form: ItemForm,
    /// None for a new item; else (version, updated at, saved name).
    current: Option<(i64, i64, String)>,
    departments: Vec<Department>,
    zones: Vec<Zone>,
    kinds: &'static [ItemKind],
    channels: &'static [Channel],
}

impl EditPage {
    fn kind_label(&self, k: &ItemKind) -> &'static str {
        if self.t.en {
            k.en()
        } else {
            k.zh()
        }
    }
    fn channel_label(&self, c: &Channel) -> &'static str {
        if self.t.en {
            c.en()
        } else {
            c.zh()
        }
    }
    fn has_channel(&self, c: &Channel) -> bool {
        self.form.channels.iter().any(|v| Channel::parse(v).ok() == Some(*c))
    }
    fn trip_levels(&self) -> Vec<(String, &'static str)> {
        [TripLevel::Zero, TripLevel::One, TripLevel::More]
            .into_iter()
            .map(|l| (i64::from(l).to_string(), if self.t.en { l.en() } else { l.zh() }))
            .collect()
    }
    fn levels(&self) -> Vec<(&'static str, &'static str)> {
        [PlaceLevel::County, PlaceLevel::Township, PlaceLevel::Village]
            .into_iter()
            .map(|l| {
                let label = match (l, self.t.en) {
                    (PlaceLevel::Village, false) => "村（社区）",
                    (PlaceLevel::Village, true) => "Village",
                    (PlaceLevel::Township, false) => "乡镇（街道）",
                    (PlaceLevel::Township, true) => "Township",
                    (_, false) => "县",
                    (_, true) => "County",
                };
                (l.code(), label)
            })
            .collect()
    }
    fn action(&self) -> String {
        match self.current {
            Some(_) => format!("/admin/items/{}/edit", self.form.code),
            None => "/admin/items/new".into(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn edit_page(
    s: &AppState,
    t: Tr,
    county: &PlaceCode,
    ok: Option<String>,
    errors: FormErrors,
    form: ItemForm,
    current: Option<(i64, i64, String)>,
) -> Response {
    let (departments, zones) = match (s.store.departments(Some(county)).await, s.store.zones().await) {
        (Ok(d), Ok(z)) => (d, z),
        (Err(e), _) | (_, Err(e)) => return error_page(t, e.into()),
    };
    let status = if errors.summary.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page =
        EditPage { t, ok, errors, form, current, departments, zones, kinds: ItemKind::ALL, channels: Channel::ALL };
    (status, render(&page)).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OkQuery {
    ok: Option<String>,
    subject: Option<String>,
}

/// An item the admin may change, with its county.
async fn editable(
    s: &AppState,
    me: &CurrentStaff,
    code: &str,
) -> Result<(onewindow_store::StoredItem, PlaceCode), ApiError> {
    let stored = s.store.item(code).await?;
    let county = PlaceCode::parse(&stored.place)?;
    me.require_within(&county)?;
    Ok((stored, county))
}

pub async fn edit(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Path(code): Path<String>,
    Query(q): Query<OkQuery>,
) -> Response {
    let (t, me) = gate!(t, me);
    let (stored, county) = match editable(&s, &me, &code).await {
        Ok(v) => v,
        Err(e) => return error_page(t, e),
    };
    let ok = super::PageQuery { ok: q.ok, subject: q.subject, edit: None }.ok_message(&t).map(|m| match t.en {
        false => format!("{m}（当前为第 {} 版）", stored.version),
        true => format!("{m} (now version {})", stored.version),
    });
    let form = ItemForm::from_item(&stored.item);
    edit_page(
        &s,
        t,
        &county,
        ok,
        FormErrors::default(),
        form,
        Some((stored.version, stored.updated_at, stored.item.name.clone())),
    )
    .await
}

pub async fn update(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Path(code): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (t, me) = gate!(t, me);
    let (csrf, mut form) = ItemForm::from_pairs(pairs);
    csrf!(t, me, &csrf);
    let (stored, county) = match editable(&s, &me, &code).await {
        Ok(v) => v,
        Err(e) => return error_page(t, e),
    };
    // The code is the item's identity: it comes from the address, never from the form.
    form.code = stored.item.code.to_string();
    match s.store.save_item(&county, &form.input(), &me.staff().actor()).await {
        Ok(saved_item) => {
            saved(&format!("/admin/items/{}/edit", saved_item.item.code), "saved", saved_item.item.code.as_str())
        }
        Err(e) => {
            let errors = FormErrors::new(e.into(), t.en);
            edit_page(
                &s,
                t,
                &county,
                None,
                errors,
                form,
                Some((stored.version, stored.updated_at, stored.item.name.clone())),
            )
            .await
        }
    }
}

fn own_county(me: &CurrentStaff) -> Result<PlaceCode, ApiError> {
    let county = me.county()?;
    me.require_within(&county)?;
    Ok(county)
}

pub async fn new_form(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    let (t, me) = gate!(t, me);
    let county = match own_county(&me) {
        Ok(c) => c,
        Err(e) => return error_page(t, e),
    };
    let form = ItemForm {
        kind: ItemKind::PublicService.code().into(),
        trip_level: "1".into(),
        channels: vec![Channel::Window.code().into()],
        lowest_level: PlaceLevel::County.code().into(),
        ..Default::default()
    };
    edit_page(&s, t, &county, None, FormErrors::default(), form, None).await
}

async fn try_create(s: &AppState, me: &CurrentStaff, county: &PlaceCode, form: &ItemForm) -> Result<String, ApiError> {
    let code = form.code.trim();
    if !code.is_empty() && s.store.item(code).await.is_ok() {
        return Err(ApiError::Conflict {
            field: Some("code".into()),
            zh: format!("事项编码“{code}”已存在"),
            en: format!("item code \"{code}\" exists"),
        });
    }
    Ok(s.store.save_item(county, &form.input(), &me.staff().actor()).await?.item.code.to_string())
}

pub async fn create(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (t, me) = gate!(t, me);
    let (csrf, form) = ItemForm::from_pairs(pairs);
    csrf!(t, me, &csrf);
    let county = match own_county(&me) {
        Ok(c) => c,
        Err(e) => return error_page(t, e),
    };
    match try_create(&s, &me, &county, &form).await {
        Ok(code) => saved(&format!("/admin/items/{code}/edit"), "created", &code),
        Err(e) => {
            let errors = FormErrors::new(e, t.en);
            edit_page(&s, t, &county, None, errors, form, None).await
        }
    }
}
