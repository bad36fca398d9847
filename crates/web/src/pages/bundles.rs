//! Bundle pages: one form for the whole "one thing" (the village clerk or the front desk fills it once),
//! and the bundle's view with every linked benefit's state.

use super::{error_page, render, Tr};
use crate::auth::MaybeStaff;
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use onewindow_core::bundle::Bundle;
use onewindow_core::catalogue::Material;
use onewindow_core::ids::{IdNumber, PhoneNumber};
use onewindow_store::{BundleView, NewCase, Role};
use serde_json::{Map, Value};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new().route("/bundles/new", get(form).post(submit)).route("/bundles/{id}", get(view))
}

/// The household facts a bundle's rules and mappings read, with how a person enters them.
struct Fact {
    name: String,
    zh: &'static str,
    en: &'static str,
    /// number, text or yes/no.
    kind: &'static str,
}

fn label(name: &str) -> (&'static str, &'static str, &'static str) {
    match name {
        "working_age_members" => ("劳动年龄家庭成员人数", "Working-age members", "number"),
        "household_size" => ("家庭人口数", "Household size", "number"),
        "electricity_account" => ("用电户号", "Electricity account", "text"),
        "water_account" => ("用水户号", "Water account", "text"),
        "cable_tv_account" => ("有线电视用户号", "Cable TV account", "text"),
        "school_age_children" => ("在读学生人数", "Children in school", "number"),
        "disability_certificate" => ("有残疾人证", "Holds a disability certificate", "yesno"),
        "disability_certificate_number" => ("残疾人证号", "Disability certificate number", "text"),
        _ => ("", "", "text"),
    }
}

fn facts_of(b: &Bundle) -> Vec<Fact> {
    let mut names: Vec<String> = Vec::new();
    for c in &b.children {
        for n in c.eligible.iter().map(|r| r.field.clone()).chain(c.mapping.values().cloned()) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let (zh, en, kind) = label(&name);
            Fact { zh, en, kind, name }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "bundles/new.html")]
struct NewPage {
    t: Tr,
    bundle: Bundle,
    facts: Vec<Fact>,
    materials: Vec<Material>,
    error: Option<String>,
}

impl NewPage {
    fn fact_label<'a>(&self, f: &'a Fact) -> &'a str {
        match (f.zh.is_empty(), self.t.en) {
            (true, _) => &f.name,
            (false, true) => f.en,
            (false, false) => f.zh,
        }
    }
}

async fn page(s: &AppState, t: Tr, error: Option<String>) -> Response {
    let bundle = match s.store.bundles().map(|b| b.into_iter().next()) {
        Ok(Some(b)) => b,
        Ok(None) => return error_page(t, ApiError::not_found("bundle")),
        Err(e) => return error_page(t, e.into()),
    };
    let materials = match s.store.item(&bundle.parent_item).await {
        Ok(i) => i.item.materials,
        Err(e) => return error_page(t, e.into()),
    };
    let facts = facts_of(&bundle);
    render(&NewPage { t, bundle, facts, materials, error })
}

async fn form(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff) -> Response {
    match me {
        None => super::to_login(&t.path),
        Some(me) if !matches!(me.staff().role, Role::Acceptor | Role::VillageClerk) => {
            error_page(t, ApiError::forbidden())
        }
        Some(_) => page(&s, t, None).await,
    }
}

async fn submit(
    State(s): State<AppState>,
    t: Tr,
    MaybeStaff(me): MaybeStaff,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let Some(me) = me else { return super::to_login(&t.path) };
    if let Err(e) = me.check_csrf(f.get("csrf").map(String::as_str).unwrap_or_default()) {
        return error_page(t, e);
    }
    if !matches!(me.staff().role, Role::Acceptor | Role::VillageClerk) {
        return error_page(t, ApiError::forbidden());
    }
    let bundles = match s.store.bundles() {
        Ok(b) => b,
        Err(e) => return error_page(t, e.into()),
    };
    let Some(bundle) = bundles.into_iter().find(|b| Some(&b.code) == f.get("bundle")) else {
        return error_page(t, ApiError::not_found("bundle"));
    };
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let mut facts = Map::new();
    for fact in facts_of(&bundle) {
        let v = match (fact.kind, get(&format!("fact.{}", fact.name))) {
            ("yesno", v) => Value::Bool(v.is_some()),
            ("number", Some(v)) => v.parse::<i64>().map(Value::from).unwrap_or(Value::String(v)),
            (_, Some(v)) => Value::String(v),
            (_, None) => continue,
        };
        facts.insert(fact.name.clone(), v);
    }
    let materials = match s.store.item(&bundle.parent_item).await {
        Ok(i) => i.item.materials,
        Err(e) => return error_page(t, e.into()),
    };
    let by = match crate::api::cases::case_actor(&me) {
        Ok(b) => b,
        Err(e) => return error_page(t, e),
    };
    let mut errs = onewindow_core::Invalid::default();
    let id_number = get("id_number").and_then(|v| IdNumber::parse(&v).map_err(|e| errs.push(e)).ok());
    let phone = get("phone").and_then(|v| PhoneNumber::parse(&v).map_err(|e| errs.push(e)).ok());
    if !errs.is_empty() {
        let msg = ApiError::Invalid(errs).message(t.en);
        return page(&s, t, Some(msg)).await;
    }
    let parent = NewCase {
        item: bundle.parent_item.clone(),
        applicant_name: get("name").unwrap_or_default(),
        applicant_id_number: id_number,
        applicant_phone: phone,
        channel: if me.staff().role == Role::VillageClerk { "village".into() } else { "window".into() },
        materials: materials
            .iter()
            .enumerate()
            .map(|(i, m)| {
                (
                    m.name.clone(),
                    if f.contains_key(&format!("material.{i}")) { "received" } else { "missing" }.to_string(),
                )
            })
            .collect(),
        tolerant: f.contains_key("tolerant"),
        supplement_days: 5,
        ticket_id: None,
        place: by.place.clone(),
    };
    match s.store.apply_bundle(&by, &bundle.code, &parent, &facts).await {
        Ok(b) => Redirect::to(&format!("/bundles/{}", b.id)).into_response(),
        Err(e) => {
            let msg = ApiError::from(e).message(t.en);
            page(&s, t, Some(msg)).await
        }
    }
}

#[derive(Template)]
#[template(path = "bundles/view.html")]
struct ViewPage {
    t: Tr,
    b: BundleView,
}

impl ViewPage {
    fn status<'a>(&self, s: &'a str) -> &'a str {
        match (s, self.t.en) {
            ("waiting", false) => "待触发",
            ("ineligible", false) => "不符合条件",
            ("open", false) => "办理中",
            ("open", true) => "in progress",
            ("closed", false) => "已办结",
            ("complete", false) => "已全部办结",
            (other, _) => other,
        }
    }
}

async fn view(State(s): State<AppState>, t: Tr, MaybeStaff(me): MaybeStaff, Path(id): Path<i64>) -> Response {
    let Some(me) = me else { return super::to_login(&t.path) };
    let b = match s.store.bundle(id).await {
        Ok(b) => b,
        Err(e) => return error_page(t, e.into()),
    };
    let by = match crate::api::cases::case_actor(&me) {
        Ok(b) => b,
        Err(e) => return error_page(t, e),
    };
    if let Err(e) = s.store.case_for(b.parent_case_id, Some(&by)).await {
        return error_page(t, e.into());
    }
    render(&ViewPage { t, b })
}
