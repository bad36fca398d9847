//! The seed's 低保 one-stop: one application at the village; the township checks, civil affairs
//! approves, and the linked benefits the household is eligible for start by themselves in their own
//! departments — the villager who got four linked subsidies in half an hour.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn post(app: &TestApp, user: &str, path: &str, body: Value) -> Value {
    let token = app.login(user).await;
    let r = app.client.post(app.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{user} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

/// An action asking for the minimal answer: in a bundle it is planned under the lock (the bundle's
/// rules write too), and its answer must still be where the case now is.
async fn act(app: &TestApp, user: &str, case: i64, action: &str) -> Value {
    let token = app.login(user).await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/cases/{case}/actions")))
        .bearer_auth(&token)
        .header("prefer", "return=minimal")
        .json(&json!({"action": action}))
        .send()
        .await
        .unwrap();
    let (status, applied) = (r.status(), r.headers().get("preference-applied").cloned());
    let outcome: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{user} {action} on {case}: {status} {outcome}");
    assert_eq!(applied.as_ref().map(|v| v.to_str().unwrap()), Some("return=minimal"));
    let now = app.get_json_as(&token, &format!("/api/v1/cases/{case}")).await;
    for field in ["id", "number", "state", "due_on", "trips", "closed_at"] {
        assert_eq!(outcome[field], now[field], "{action} on {case}: {field}");
    }
    assert_eq!(outcome["action"], action);
    outcome
}

async fn bundle(app: &TestApp, id: i64) -> Value {
    let token = app.login("clerk").await;
    app.client
        .get(app.url(&format!("/api/v1/bundles/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn the_seed_villager(db: Db) {
    let app = spawn_app(db).await;
    let materials: Vec<Value> =
        ["居民身份证", "户口簿", "最低生活保障申请书", "家庭经济状况核对授权书", "家庭收入和财产状况说明"]
            .iter()
            .map(|n| json!({"name": n, "status": "received"}))
            .collect();
    // One application at the village centre, with the household's facts.
    let b = post(
        &app,
        "clerk",
        "/api/v1/bundles",
        json!({"bundle": "dibao", "applicant": {"name": "徐老汉", "id_number": "11010519491231002X", "phone": "13800138000"},
               "materials": materials,
               "facts": {"working_age_members": 1, "household_size": 3, "electricity_account": "3301-0088", "water_account": "W-5521",
                         "cable_tv_account": "", "school_age_children": 0, "disability_certificate": false}}),
    )
    .await;
    let id = b["id"].as_i64().unwrap();
    let parent = b["parent_case_id"].as_i64().unwrap();
    let status = |b: &Value, key: &str| {
        b["children"].as_array().unwrap().iter().find(|c| c["key"] == key).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for key in ["pension", "medical", "electricity", "water"] {
        assert_eq!(status(&b, key), "waiting", "{key}");
    }
    for key in ["cable_tv", "education", "disability"] {
        assert_eq!(status(&b, key), "ineligible", "{key}");
    }
    let edu = b["children"].as_array().unwrap().iter().find(|c| c["key"] == "education").unwrap().clone();
    assert!(edu["reason"].as_str().unwrap().contains("school_age_children"));

    // Three levels: village → township → county civil affairs.
    act(&app, "clerk", parent, "submit").await;
    act(&app, "township", parent, "check_pass").await;
    let approved_at = std::time::Instant::now();
    act(&app, "approver", parent, "approve").await;

    // The four linked benefits opened by themselves, each in its own department, nobody typing again.
    let b = bundle(&app, id).await;
    let mut opened = Vec::new();
    for c in b["children"].as_array().unwrap() {
        if c["status"] == "open" {
            opened.push((
                c["key"].as_str().unwrap().to_string(),
                c["case_id"].as_i64().unwrap(),
                c["department_name"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert_eq!(
        opened.iter().map(|o| o.0.as_str()).collect::<Vec<_>>(),
        vec!["pension", "medical", "electricity", "water"]
    );
    let departments: Vec<&str> = opened.iter().map(|o| o.2.as_str()).collect();
    assert!(
        departments.iter().any(|d| d.contains("人力资源")) && departments.iter().any(|d| d.contains("医疗保障")),
        "{departments:?}"
    );
    assert!(
        departments.iter().any(|d| d.contains("供电")) && departments.iter().any(|d| d.contains("水")),
        "{departments:?}"
    );
    // Each child has the applicant and only the data mapped to it; its materials are verified, not asked again.
    let water = opened.iter().find(|o| o.0 == "water").unwrap().1;
    let wv = app
        .client
        .get(app.url(&format!("/api/v1/cases/{water}/bundle")))
        .bearer_auth(app.login("approver_swgs").await)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(wv["data"], json!({"account": "W-5521"}));
    let wc: Value = app
        .client
        .get(app.url(&format!("/api/v1/cases/{water}")))
        .bearer_auth(app.login("approver_swgs").await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wc["applicant_name"], "徐**");
    assert!(wc["materials"].as_array().unwrap().iter().all(|m| m["status"] == "verified"));
    assert_eq!(wc["channel"], "bundle");
    assert_eq!(wc["trips"], 0);
    // An approver of another department does not see the water case's work.
    let r = app
        .client
        .get(app.url(&format!("/api/v1/cases/{water}/bundle")))
        .bearer_auth(app.login("approver_gdgs").await)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the county's approvers may see county cases");
    assert!(act_status(&app, "approver_gdgs", water, "approve").await == StatusCode::FORBIDDEN);

    // Each department approves its benefit; the results go out electronically; the bundle completes.
    for (i, (key, case, _)) in opened.iter().enumerate() {
        if i == 3 {
            assert_eq!(bundle(&app, id).await["status"], "open", "three of four done: still open");
        }
        let approver = match key.as_str() {
            "pension" => "approver2",
            "medical" => "approver_ybj",
            "electricity" => "approver_gdgs",
            _ => "approver_swgs",
        };
        assert_eq!(act(&app, approver, *case, "approve").await["state"], "result");
        assert_eq!(act(&app, "acceptor", *case, "download").await["state"], "closed");
    }
    let b = bundle(&app, id).await;
    assert_eq!(b["status"], "complete", "every eligible benefit is done (join: all)");
    assert!(b["completed_at"].is_i64());
    assert_eq!(b["parent_state_name"], "待出件", "the allowance itself is ready for the villager");
    let elapsed = approved_at.elapsed();
    assert!(elapsed.as_secs() < 30 * 60, "four subsidies in well under half an hour: {elapsed:?}");
}

async fn act_status(app: &TestApp, user: &str, case: i64, action: &str) -> StatusCode {
    let token = app.login(user).await;
    app.client
        .post(app.url(&format!("/api/v1/cases/{case}/actions")))
        .bearer_auth(token)
        .json(&json!({"action": action}))
        .send()
        .await
        .unwrap()
        .status()
}

backend_tests!(the_seed_villager);
