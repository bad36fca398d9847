//! Hotline work orders: registered → dispatched → replied → called_back → closed; a department returns
//! a wrongly dispatched order; 409 names the allowed actions, 403 for the wrong role or department;
//! overdue orders escalate; the report counts; the caller's phone is sealed in the table.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db, TestApp};
use chrono::NaiveDate;
use onewindow_core::ids::PhoneNumber;
use onewindow_core::place::PlaceCode;
use onewindow_store::{Actor, CaseActor, HotlineFilter, HotlineInput, NewHotlineOrder};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn call(app: &TestApp, user: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let token = app.login(user).await;
    let req = match body {
        Some(b) => app.client.post(app.url(path)).json(&b),
        None => app.client.get(app.url(path)),
    };
    let r = req.bearer_auth(token).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn ok(app: &TestApp, user: &str, path: &str, body: Option<Value>) -> Value {
    let (status, v) = call(app, user, path, body).await;
    assert!(status.is_success(), "{user} {path}: {status} {v}");
    v
}

async fn new_order(app: &TestApp, category: &str) -> i64 {
    let v = ok(
        app,
        "consultant",
        "/api/v1/hotline/orders",
        Some(json!({"category": category, "place": "330822001201", "description": "村口路灯坏了一个月",
                    "caller": {"name": "王大妈", "phone": "13800138000"}})),
    )
    .await;
    v["id"].as_i64().unwrap()
}

fn actions(v: &Value) -> Vec<String> {
    v["actions"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

async fn lifecycle(db: Db) {
    let app = spawn_app(db).await;
    let id = new_order(&app, "complaint").await;
    let v = ok(&app, "consultant", &format!("/api/v1/hotline/orders/{id}"), None).await;
    assert_eq!(v["state"], "registered");
    assert_eq!(v["category_name"], "投诉");
    assert!(v["number"].as_str().unwrap().starts_with("RX-"), "{v}");
    assert_eq!(v["caller_phone"], "138****8000");
    assert_eq!(v["caller_name"], "王**");
    assert_eq!(actions(&v), ["dispatch"]);

    let v =
        ok(&app, "consultant", &format!("/api/v1/hotline/orders/{id}/dispatch"), Some(json!({"department": "mzj"})))
            .await;
    assert_eq!(v["state"], "dispatched");
    assert_eq!(v["department"], "mzj");
    assert_eq!(v["days"], 5);
    assert!(v["due_on"].is_string());
    assert!(actions(&v).is_empty(), "the operator waits for the department: {v}");

    // The department sees it in its list, with the actions it may take.
    let list = ok(&app, "approver", "/api/v1/hotline/orders", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let v = ok(&app, "approver", &format!("/api/v1/hotline/orders/{id}"), None).await;
    assert_eq!(actions(&v), ["reply", "return"]);
    // Another department does not.
    let list = ok(&app, "approver2", "/api/v1/hotline/orders", None).await;
    assert!(list.as_array().unwrap().is_empty());

    let v = ok(
        &app,
        "approver",
        &format!("/api/v1/hotline/orders/{id}/reply"),
        Some(json!({"text": "已安排维修，三日内修复"})),
    )
    .await;
    assert_eq!(v["state"], "replied");
    assert_eq!(v["reply"], "已安排维修，三日内修复");

    let v = ok(
        &app,
        "consultant",
        &format!("/api/v1/hotline/orders/{id}/callback"),
        Some(json!({"note": "来电人确认路灯已修好", "satisfaction": "满意"})),
    )
    .await;
    assert_eq!(v["state"], "called_back");
    assert_eq!(v["satisfaction"], "satisfied");
    let v = ok(&app, "consultant", &format!("/api/v1/hotline/orders/{id}/close"), Some(json!({}))).await;
    assert_eq!(v["state"], "closed");
    assert_eq!(v["state_name"], "已办结");
    let steps: Vec<&str> = v["timeline"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(steps, ["register", "dispatch", "reply", "callback", "close"]);

    // Every transition left an event and an audit row.
    let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE action LIKE 'hotline.%'").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 5);
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind LIKE 'hotline.%'").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 5);

    // The caller's name and phone are sealed in the table.
    let (name, phone): (String, String) =
        sqlx::query_as("SELECT caller_name, caller_phone FROM hotline_orders WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(phone.starts_with("pd1:"), "{phone}");
    assert!(name.starts_with("pd1:"), "{name}");
    assert!(!phone.contains("13800138000"));
}

async fn return_and_redispatch(db: Db) {
    let app = spawn_app(db).await;
    let id = new_order(&app, "help").await;
    ok(
        &app,
        "consultant",
        &format!("/api/v1/hotline/orders/{id}/dispatch"),
        Some(json!({"department": "rlsbj", "days": 3})),
    )
    .await;
    // Without a reason: 422.
    let (status, _) =
        call(&app, "approver2", &format!("/api/v1/hotline/orders/{id}/return"), Some(json!({"reason": " "}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let v =
        ok(&app, "approver2", &format!("/api/v1/hotline/orders/{id}/return"), Some(json!({"reason": "属民政局职责"})))
            .await;
    assert_eq!(v["state"], "registered");
    assert!(v["department"].is_null());
    let v = ok(&app, "consultant", &format!("/api/v1/hotline/orders/{id}"), None).await;
    let last = v["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "return");
    assert_eq!(last["comment"], "属民政局职责");
    let v =
        ok(&app, "consultant", &format!("/api/v1/hotline/orders/{id}/dispatch"), Some(json!({"department": "mzj"})))
            .await;
    assert_eq!(v["state"], "dispatched");
    assert_eq!(v["department"], "mzj");
    let v =
        ok(&app, "approver", &format!("/api/v1/hotline/orders/{id}/reply"), Some(json!({"text": "已受理救助"}))).await;
    assert_eq!(v["state"], "replied");
}

async fn conflicts_and_forbidden(db: Db) {
    let app = spawn_app(db).await;
    // Only operators record orders.
    let (status, _) = call(
        &app,
        "approver",
        "/api/v1/hotline/orders",
        Some(json!({"category": "咨询", "description": "x", "caller": {"name": "张三", "phone": "13800138000"}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Bad input: 422 naming the field.
    let (status, v) = call(
        &app,
        "consultant",
        "/api/v1/hotline/orders",
        Some(json!({"category": "闲聊", "description": "x", "caller": {"name": "张三", "phone": "13800138000"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    let id = new_order(&app, "suggestion").await;
    // Reply before dispatch: 409 naming the allowed action.
    let (status, v) =
        call(&app, "admin", &format!("/api/v1/hotline/orders/{id}/reply"), Some(json!({"text": "x"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(v["message_en"].as_str().unwrap().contains("dispatch"), "{v}");
    let (status, _) = call(&app, "consultant", &format!("/api/v1/hotline/orders/{id}/close"), Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // A department may not dispatch.
    let (status, _) =
        call(&app, "approver", &format!("/api/v1/hotline/orders/{id}/dispatch"), Some(json!({"department": "mzj"})))
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An unknown department: 422.
    let (status, _) =
        call(&app, "consultant", &format!("/api/v1/hotline/orders/{id}/dispatch"), Some(json!({"department": "nope"})))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    ok(&app, "consultant", &format!("/api/v1/hotline/orders/{id}/dispatch"), Some(json!({"department": "mzj"}))).await;
    // Another department may not reply (it does not even see the order).
    let (status, _) =
        call(&app, "approver2", &format!("/api/v1/hotline/orders/{id}/reply"), Some(json!({"text": "x"}))).await;
    assert!(status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND, "{status}");
    // The operator may not reply for the department.
    let (status, _) =
        call(&app, "consultant", &format!("/api/v1/hotline/orders/{id}/reply"), Some(json!({"text": "x"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Dispatching again: 409 naming reply and return.
    let (status, v) =
        call(&app, "consultant", &format!("/api/v1/hotline/orders/{id}/dispatch"), Some(json!({"department": "mzj"})))
            .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let msg = v["message_en"].as_str().unwrap();
    assert!(msg.contains("reply") && msg.contains("return"), "{msg}");
    ok(&app, "approver", &format!("/api/v1/hotline/orders/{id}/reply"), Some(json!({"text": "采纳"}))).await;
    // The department may not call back.
    let (status, _) = call(
        &app,
        "approver",
        &format!("/api/v1/hotline/orders/{id}/callback"),
        Some(json!({"note": "x", "satisfaction": "满意"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A bad satisfaction: 422.
    let (status, _) = call(
        &app,
        "consultant",
        &format!("/api/v1/hotline/orders/{id}/callback"),
        Some(json!({"note": "x", "satisfaction": "很好"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Leaders see the report; an approver does not.
    let (status, _) = call(&app, "approver", "/api/v1/stats/hotline", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

fn operator() -> CaseActor {
    CaseActor {
        actor: Actor { staff_id: None, name: "consultant".into() },
        role: "consultant".into(),
        place: PlaceCode::parse("330822").unwrap(),
        department: Some("xzfwzx".into()),
    }
}

fn leader() -> CaseActor {
    CaseActor { role: "leader".into(), actor: Actor { staff_id: None, name: "leader".into() }, ..operator() }
}

async fn overdue_and_report(db: Db) {
    let app = spawn_app(db).await;
    let s = &app.store;
    let monday = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    let new = |category: &str, place: &str| NewHotlineOrder {
        category: category.into(),
        place: PlaceCode::parse(place).unwrap(),
        description: "测试".into(),
        caller_name: "李四".into(),
        caller_phone: PhoneNumber::parse("13900139000").unwrap(),
    };
    let a = s.create_hotline_order(&operator(), &new("complaint", "330822001201"), Some(monday)).await.unwrap();
    let b = s.create_hotline_order(&operator(), &new("complaint", "330822101"), Some(monday)).await.unwrap();
    let c = s.create_hotline_order(&operator(), &new("consultation", "330822001"), Some(monday)).await.unwrap();
    assert_eq!(a.number, "RX-20261102-0001");
    assert_eq!(b.number, "RX-20261102-0002");
    let dispatch =
        |dept: &str, days: i64| HotlineInput { department: Some(dept.into()), days: Some(days), ..Default::default() };
    let a = s.act_on_hotline(a.id, &operator(), "dispatch", &dispatch("mzj", 2), Some(monday)).await.unwrap();
    assert_eq!(a.due_on.as_deref(), Some("2026-11-04"));
    s.act_on_hotline(b.id, &operator(), "dispatch", &dispatch("rlsbj", 5), Some(monday)).await.unwrap();
    // On the due date it is not overdue; the day after it is.
    let on_due = NaiveDate::from_ymd_opt(2026, 11, 4).unwrap();
    let after = NaiveDate::from_ymd_opt(2026, 11, 5).unwrap();
    let v = s.hotline_order(a.id, &leader(), Some(on_due)).await.unwrap();
    assert!(!v.overdue);
    let v = s.hotline_order(a.id, &leader(), Some(after)).await.unwrap();
    assert!(v.overdue && v.escalated);
    let overdue = s
        .hotline_orders(&leader(), &HotlineFilter { overdue: Some(true), ..Default::default() }, Some(after))
        .await
        .unwrap();
    assert_eq!(overdue.iter().map(|o| o.id).collect::<Vec<_>>(), [a.id]);
    // Housekeeping escalation: once, with an event.
    assert_eq!(s.escalate_overdue_hotline(Some(after)).await.unwrap(), [a.id]);
    assert!(s.escalate_overdue_hotline(Some(after)).await.unwrap().is_empty());
    let v = s.hotline_order(a.id, &leader(), Some(after)).await.unwrap();
    assert_eq!(v.timeline.last().unwrap().action, "escalate");

    // The department replies; the operator calls back (不满意) — c stays registered.
    let dept = CaseActor {
        actor: Actor { staff_id: None, name: "approver".into() },
        role: "approver".into(),
        department: Some("mzj".into()),
        ..operator()
    };
    let reply = HotlineInput { text: "已处理".into(), ..Default::default() };
    s.act_on_hotline(a.id, &dept, "reply", &reply, Some(after)).await.unwrap();
    let cb = HotlineInput { text: "回访".into(), satisfaction: Some("不满意".into()), ..Default::default() };
    s.act_on_hotline(a.id, &operator(), "callback", &cb, Some(after)).await.unwrap();
    s.act_on_hotline(a.id, &operator(), "close", &HotlineInput::default(), Some(after)).await.unwrap();

    let r = s.hotline_report(&leader(), Some(after)).await.unwrap();
    assert_eq!((r.total.count, r.total.open, r.total.overdue), (3, 2, 0));
    let later = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let r = s.hotline_report(&leader(), Some(later)).await.unwrap();
    assert_eq!((r.total.count, r.total.open, r.total.overdue), (3, 2, 1));
    assert_eq!(r.overdue.iter().map(|o| o.id).collect::<Vec<_>>(), [b.id]);
    let complaint = r.by_category.iter().find(|x| x.key == "complaint").unwrap();
    assert_eq!((complaint.count, complaint.open, complaint.dissatisfied), (2, 1, 1));
    assert_eq!(complaint.satisfied_share, Some(0.0));
    let consultation = r.by_category.iter().find(|x| x.key == "consultation").unwrap();
    assert_eq!(consultation.count, 1);
    assert_eq!(consultation.satisfied_share, None);
    let tianma = r.by_place.iter().find(|x| x.key == "330822001").unwrap();
    assert_eq!((tianma.count, tianma.name.as_str()), (2, "天马街道"));
    let qiuchuan = r.by_place.iter().find(|x| x.key == "330822101").unwrap();
    assert_eq!(qiuchuan.count, 1);
    let mzj = r.by_department.iter().find(|x| x.key == "mzj").unwrap();
    assert_eq!((mzj.count, mzj.open, mzj.dissatisfied), (1, 0, 1));
    let rlsbj = r.by_department.iter().find(|x| x.key == "rlsbj").unwrap();
    assert_eq!((rlsbj.count, rlsbj.open, rlsbj.overdue), (1, 1, 1));
    let undispatched = r.by_department.iter().find(|x| x.key == "-").unwrap();
    assert_eq!(undispatched.count, 1);
    let _ = c;

    // Over HTTP, for a leader.
    let (status, v) = call(&app, "leader", "/api/v1/stats/hotline", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["total"]["count"], 3);
}

backend_tests!(lifecycle, return_and_redispatch, conflicts_and_forbidden, overdue_and_report);
