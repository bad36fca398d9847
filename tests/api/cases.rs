//! Cases end to end on every shipped flow: acceptance, the back office, the working-day clock with its
//! pauses, tolerant acceptance, delivery, trips, refusals and the rules of who may do what.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db, TestApp};
use chrono::NaiveDate;
use onewindow_core::place::PlaceCode;
use onewindow_store::{ActionInput, CaseActor, CaseView, NewCase};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A demo member as the store sees them.
async fn actor(app: &TestApp, username: &str) -> CaseActor {
    let staff = app.store.staff_list(None).await.unwrap().into_iter().find(|s| s.username == username).unwrap();
    let department = match staff.department_id {
        Some(id) => app.store.departments(None).await.unwrap().into_iter().find(|d| d.id == id).map(|d| d.code),
        None => None,
    };
    CaseActor {
        actor: staff.actor(),
        role: staff.role.code().into(),
        place: PlaceCode::parse(&staff.place).unwrap(),
        department,
    }
}

async fn act(app: &TestApp, case: i64, who: &str, action: &str, comment: &str, data: Value, day: &str) -> CaseView {
    let by = actor(app, who).await;
    app.store
        .act_on_case(case, &by, &ActionInput { action: action.into(), comment: comment.into(), data }, Some(d(day)))
        .await
        .unwrap_or_else(|e| panic!("{who} {action}: {e}"))
}

fn new_case(item: &str, channel: &str, place: &str, materials: &[(&str, &str)], tolerant: bool) -> NewCase {
    NewCase {
        item: item.into(),
        applicant_name: "张三丰".into(),
        applicant_id_number: Some(onewindow_core::ids::IdNumber::parse("11010519491231002X").unwrap()),
        applicant_phone: Some(onewindow_core::ids::PhoneNumber::parse("13800138000").unwrap()),
        channel: channel.into(),
        materials: materials.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect(),
        tolerant,
        supplement_days: 3,
        ticket_id: None,
        place: PlaceCode::parse(place).unwrap(),
    }
}

const MZJ_002_KEY: [&str; 3] = ["居民身份证", "户口簿", "特困人员救助供养申请书"];

fn mzj_002(missing_non_key: bool) -> Vec<(&'static str, &'static str)> {
    let mut m: Vec<(&str, &str)> = MZJ_002_KEY.iter().map(|n| (*n, "received")).collect();
    m.push(("本人及法定义务人履行能力情况说明", if missing_non_key { "missing" } else { "received" }));
    m.push(("残疾人证（残疾人申请时提供）", "received"));
    m
}

/// The pick-up code from the SMS as it reached the phone ([`crate::helpers::sms_as_sent`]).
fn pickup_code(app_msgs: &[Value]) -> String {
    let text = app_msgs
        .iter()
        .find_map(|m| m["payload"]["text"].as_str().filter(|t| t.contains("取件码")))
        .unwrap()
        .to_string();
    text.split("取件码").nth(1).unwrap().chars().take(6).collect()
}

/// The general flow over HTTP: a served ticket, acceptance at the window, the department's work queue,
/// a correction with the clock paused, approval, collection with the pick-up code; trips = 1.
async fn general_flow_over_http(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = app.login("acceptor").await;
    let approver = app.login("approver").await;
    let post =
        |token: &str, path: &str, body: Value| app.client.post(app.url(path)).bearer_auth(token).json(&body).send();
    // The citizen's ticket is served at A1.
    post(&acceptor, "/api/v1/tickets", json!({"queue": "general", "phone": "13800138000"})).await.unwrap();
    assert_eq!(post(&acceptor, "/api/v1/windows/A1/call-next", json!({})).await.unwrap().status(), StatusCode::OK);
    assert_eq!(post(&acceptor, "/api/v1/windows/A1/start", json!({})).await.unwrap().status(), StatusCode::OK);
    let materials: Vec<Value> = mzj_002(false).iter().map(|(n, s)| json!({"name": n, "status": s})).collect();
    let r = post(
        &acceptor,
        "/api/v1/cases",
        json!({"item": "MZJ-002", "applicant": {"name": "张三丰", "id_number": "11010519491231002X", "phone": "13800138000"},
               "materials": materials, "window": "A1"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let case: Value = r.json().await.unwrap();
    let id = case["id"].as_i64().unwrap();
    assert_eq!(
        (case["state"].as_str(), case["flow_code"].as_str(), case["trips"].as_i64()),
        (Some("review"), Some("general"), Some(1))
    );
    assert_eq!(case["applicant_name"], "张**", "masked");
    assert!(case["number"].as_str().unwrap().starts_with("330822-"));
    // The acceptor cannot approve: not in the actions offered, and 403 when forced.
    assert!(case["actions"].as_array().unwrap().iter().all(|a| a["code"] != "approve"));
    let r = post(&acceptor, &format!("/api/v1/cases/{id}/actions"), json!({"action": "approve"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The department's work queue has it as new.
    let work: Value = app
        .client
        .get(app.url("/api/v1/worklist?view=new"))
        .bearer_auth(&approver)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(work.as_array().unwrap().iter().any(|c| c["id"] == id), "{work}");
    let other: Value = app
        .client
        .get(app.url("/api/v1/worklist"))
        .bearer_auth(app.login("approver2").await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(other.as_array().unwrap().iter().all(|c| c["id"] != id), "another department does not see it");
    let acted = |action: &str, body: Value| {
        let mut body = body;
        body["action"] = json!(action);
        post(&approver, &format!("/api/v1/cases/{id}/actions"), body)
    };
    assert_eq!(acted("claim", json!({})).await.unwrap().status(), StatusCode::OK);
    let mine: Value = app
        .client
        .get(app.url("/api/v1/worklist?view=mine"))
        .bearer_auth(&approver)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine[0]["id"], id);
    // Forwarding needs a reason and another department; the case then waits there, unclaimed.
    assert_eq!(
        acted("forward", json!({"data": {"department": "rlsbj"}})).await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        acted("forward", json!({"comment": "x", "data": {"department": "mzj"}})).await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let f: Value = acted("forward", json!({"comment": "涉及养老保险", "data": {"department": "rlsbj"}}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((f["department"].as_str(), f["assignee"].as_str()), (Some("rlsbj"), None));
    let approver2 = app.login("approver2").await;
    let back = app
        .client
        .post(app.url(&format!("/api/v1/cases/{id}/actions")))
        .bearer_auth(&approver2)
        .json(&json!({"action": "forward", "comment": "仍属民政", "data": {"department": "mzj"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::OK);
    assert_eq!(acted("claim", json!({})).await.unwrap().status(), StatusCode::OK);
    // Return without a reason is refused; with one, the clock pauses.
    assert_eq!(acted("return", json!({})).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    let c: Value = acted("return", json!({"comment": "收入证明不清晰"})).await.unwrap().json().await.unwrap();
    assert_eq!(
        (c["state"].as_str(), c["paused"].as_bool(), c["urgency"].as_str()),
        (Some("correction"), Some(true), Some("paused"))
    );
    // A transition not allowed now names the ones that are.
    let r = acted("approve", json!({})).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let e: Value = r.json().await.unwrap();
    assert!(e["message_en"].as_str().unwrap().contains("supplement"), "{e}");
    let r = post(&acceptor, &format!("/api/v1/cases/{id}/actions"), json!({"action": "supplement"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let c: Value = acted("approve", json!({})).await.unwrap().json().await.unwrap();
    assert_eq!(c["state"], "result");
    // Collection at the unified window needs the pick-up code from the SMS.
    let code = pickup_code(&crate::helpers::sms_as_sent(&app).await);
    let r = post(
        &acceptor,
        &format!("/api/v1/cases/{id}/actions"),
        json!({"action": "collect", "data": {"pickup_code": "000000x"}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(
        &acceptor,
        &format!("/api/v1/cases/{id}/actions"),
        json!({"action": "collect", "data": {"pickup_code": code}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let c = app.get_json_as(&acceptor, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(c["state"], "closed");
    assert_eq!(c["trips"], 1, "collected in the same visit: still one trip");
    let steps: Vec<&str> = c["timeline"].as_array().unwrap().iter().map(|t| t["action"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        vec!["accept", "claim", "forward", "forward", "claim", "return", "supplement", "approve", "collect"]
    );
    assert!(
        c["timeline"].as_array().unwrap().iter().all(|t| !t["data"].to_string().contains(&code)),
        "the code is not in the timeline"
    );
    // Public tracking shows the state without personal data.
    let t = app.get_json(&format!("/api/v1/track/{}", c["track_token"].as_str().unwrap())).await;
    assert_eq!(t["state"], "closed");
    assert!(!t.to_string().contains("13800138000") && !t.to_string().contains("张三丰"));
    // The coverage report now has its volume-weighted share: MZJ-002 is a zero-trip item (this
    // citizen chose the window anyway), so all handled cases are of zero-trip items.
    assert_eq!(app.get_json("/api/v1/stats/coverage").await["volume_weighted_zero_trip_share"], 1.0);
}

/// A correction pauses the clock: the due date moves by exactly the working days spent waiting.
async fn correction_pauses_the_clock(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = actor(&app, "acceptor").await;
    let c = app
        .store
        .accept_case(&acceptor, &new_case("MZJ-002", "window", "330822", &mzj_002(false), false), Some(d("2026-11-02")))
        .await
        .unwrap();
    // Promised 10 working days from Monday 2 November 2026: Monday 16 November.
    assert_eq!((c.due_on.as_str(), c.statutory_due_on.as_str()), ("2026-11-16", "2026-11-30"));
    act(&app, c.id, "approver", "return", "请补充户口簿复印件", json!({}), "2026-11-03").await;
    // Back on Friday 6 November: 3 working days paused (4, 5, 6 November).
    let back = act(&app, c.id, "acceptor", "supplement", "", json!({}), "2026-11-06").await;
    assert_eq!(back.paused_days, 3);
    assert_eq!(back.due_on, "2026-11-19");
    assert_eq!(back.statutory_due_on, "2026-12-03");
    assert!(!back.paused);
}

/// Tolerant acceptance: non-key materials may be missing with a deadline; the result cannot leave until
/// they are supplied; a late supplement is marked late.
async fn tolerant_acceptance_with_a_late_supplement(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = actor(&app, "acceptor").await;
    // A missing key material blocks acceptance, naming it.
    let mut missing_key = mzj_002(false);
    missing_key[1].1 = "missing";
    let e = app
        .store
        .accept_case(&acceptor, &new_case("MZJ-002", "window", "330822", &missing_key, true), Some(d("2026-11-02")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("户口簿"), "{e}");
    // Missing non-key without tolerant acceptance: refused, saying to choose it.
    let e = app
        .store
        .accept_case(&acceptor, &new_case("MZJ-002", "window", "330822", &mzj_002(true), false), Some(d("2026-11-02")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("tolerant"), "{e}");
    let c = app
        .store
        .accept_case(&acceptor, &new_case("MZJ-002", "window", "330822", &mzj_002(true), true), Some(d("2026-11-02")))
        .await
        .unwrap();
    assert!(c.tolerant);
    assert_eq!(c.supplement_due_on.as_deref(), Some("2026-11-05"));
    let sms = app.store.outbox_recent(20).await.unwrap();
    assert!(sms.iter().any(|m| m["payload"]["text"].as_str().unwrap().contains("请于11月5日前补齐")), "{sms:?}");
    // A reminder goes once, the working day before the deadline, while the material is still missing.
    assert_eq!(app.store.remind_supplements(d("2026-11-03")).await.unwrap(), 0, "two working days left: not yet");
    assert_eq!(app.store.remind_supplements(d("2026-11-04")).await.unwrap(), 1);
    assert_eq!(app.store.remind_supplements(d("2026-11-04")).await.unwrap(), 0, "once");
    let sms = app.store.outbox_recent(20).await.unwrap();
    assert!(
        sms.iter().any(|m| m["payload"]["kind"] == "case.supplement_reminder"
            && m["payload"]["text"].as_str().unwrap().contains("本人及法定义务人履行能力情况说明")),
        "{sms:?}"
    );
    act(&app, c.id, "approver", "approve", "", json!({}), "2026-11-04").await;
    let by = actor(&app, "acceptor").await;
    let e = app
        .store
        .act_on_case(
            c.id,
            &by,
            &ActionInput {
                action: "ship".into(),
                comment: String::new(),
                data: json!({"address": "天马街道1号", "carrier": "EMS", "tracking": "E1"}),
            },
            Some(d("2026-11-09")),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("本人及法定义务人履行能力情况说明"), "{e}");
    let supplied = act(
        &app,
        c.id,
        "acceptor",
        "supply",
        "",
        json!({"material": "本人及法定义务人履行能力情况说明"}),
        "2026-11-10",
    )
    .await;
    let m = supplied.materials.iter().find(|m| m.name == "本人及法定义务人履行能力情况说明").unwrap();
    assert_eq!((m.status.as_str(), m.late), ("received", true));
    let shipped = act(
        &app,
        c.id,
        "acceptor",
        "ship",
        "",
        json!({"address": "天马街道1号", "carrier": "EMS", "tracking": "E1234"}),
        "2026-11-10",
    )
    .await;
    assert_eq!(shipped.state, "shipped");
    let done = act(&app, c.id, "acceptor", "deliver", "", json!({}), "2026-11-12").await;
    assert_eq!(done.state, "closed");
    assert_eq!(done.delivery.unwrap()["tracking"], "E1234");
    assert_eq!(done.trips, 1);
}

/// Farmer house building across National Day 2026: 7 working days from 29 September is 14 October
/// (1–7 October off, Saturday 10 October a make-up workday); village review, township approval.
async fn house_building_across_national_day(db: Db) {
    let app = spawn_app(db).await;
    let clerk = actor(&app, "clerk").await;
    let materials = [
        ("农村宅基地和建房（规划许可）申请表", "received"),
        ("申请人及家庭成员居民身份证、户口簿", "received"),
        ("村民会议或村民代表会议讨论通过的书面材料", "received"),
        ("建房设计图或选用的通用图", "received"),
        ("拆旧退宅承诺书（有旧房的）", "received"),
    ];
    let c = app
        .store
        .accept_case(
            &clerk,
            &new_case("ZRZYJ-001", "village", "330822001201", &materials, false),
            Some(d("2026-09-29")),
        )
        .await
        .unwrap();
    assert_eq!((c.flow_code.as_str(), c.state.as_str()), ("house_building", "accepted"));
    assert_eq!(c.due_on, "2026-10-14");
    assert_eq!(c.step_due_on.as_deref(), Some("2026-09-30"));
    assert_eq!(c.trips, 0, "不出村: a village-clerk acceptance is no trip");
    let c2 = act(&app, c.id, "clerk", "submit", "", json!({}), "2026-09-30").await;
    // Village review has 2 working days from 30 September: 8 and 9 October.
    assert_eq!(c2.step_due_on.as_deref(), Some("2026-10-09"));
    act(&app, c.id, "clerk", "village_pass", "", json!({}), "2026-10-08").await;
    // The county approver is not the township: survey and approval are township steps.
    let county = actor(&app, "approver").await;
    let e = app
        .store
        .act_on_case(
            c.id,
            &county,
            &ActionInput { action: "survey_done".into(), ..Default::default() },
            Some(d("2026-10-09")),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, onewindow_store::StoreError::Forbidden { .. }), "{e}");
    let s = act(&app, c.id, "township", "survey_done", "", json!({}), "2026-10-10").await;
    assert_eq!(s.step_due_on.as_deref(), Some("2026-10-12"), "Saturday 10 October is a working day");
    act(&app, c.id, "township", "approve", "", json!({}), "2026-10-12").await;
    let code = pickup_code(&crate::helpers::sms_as_sent(&app).await);
    let done = act(&app, c.id, "clerk", "collect", "", json!({"pickup_code": code}), "2026-10-13").await;
    assert_eq!(done.state, "closed");
    assert_eq!(done.urgency, "closed");
    let steps: Vec<&str> = done.timeline.iter().map(|t| t.action.as_str()).collect();
    assert_eq!(steps, vec!["accept", "submit", "village_pass", "survey_done", "approve", "collect"]);
    assert_eq!(done.trips, 1, "collecting the permit is the one trip");
    assert!(!done.due_provisional);
}

/// A case accepted late in the year, before next year's holidays are published: accepted all the
/// same, weekdays counted, the due date marked provisional.
async fn due_dates_beyond_the_calendar_are_provisional(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = actor(&app, "acceptor").await;
    let c = app
        .store
        .accept_case(&acceptor, &new_case("MZJ-002", "window", "330822", &mzj_002(false), false), Some(d("2026-12-21")))
        .await
        .unwrap();
    // 10 weekdays after Monday 21 December: 22, 23, 24, 25, 28, 29, 30, 31 December, 1 and 4 January.
    assert_eq!(c.due_on, "2027-01-04");
    assert!(c.due_provisional);
}

/// 低保 by three levels: the village accepts, the township checks, the county's civil-affairs bureau
/// approves; another department cannot; a clerk of another village cannot see it.
async fn three_level_minimum_living_allowance(db: Db) {
    let app = spawn_app(db).await;
    let clerk = actor(&app, "clerk").await;
    let materials = [
        ("居民身份证", "received"),
        ("户口簿", "received"),
        ("最低生活保障申请书", "received"),
        ("家庭经济状况核对授权书", "received"),
        ("家庭收入和财产状况说明", "received"),
    ];
    let c = app
        .store
        .accept_case(&clerk, &new_case("MZJ-001", "village", "330822001201", &materials, false), None)
        .await
        .unwrap();
    assert_eq!((c.flow_code.as_str(), c.state.as_str()), ("three_level", "village_accepted"));
    act(&app, c.id, "clerk", "submit", "", json!({}), "2026-11-30").await;
    // The township sees it in its work queue; the county does not yet.
    let township = actor(&app, "township").await;
    assert!(app.store.worklist(&township, onewindow_store::WorkView::All).await.unwrap().iter().any(|w| w.id == c.id));
    let county = actor(&app, "approver").await;
    assert!(app.store.worklist(&county, onewindow_store::WorkView::All).await.unwrap().iter().all(|w| w.id != c.id));
    act(&app, c.id, "township", "check_pass", "", json!({}), "2026-12-01").await;
    let other = actor(&app, "approver2").await;
    let e = app
        .store
        .act_on_case(c.id, &other, &ActionInput { action: "approve".into(), ..Default::default() }, None)
        .await
        .unwrap_err();
    assert!(matches!(e, onewindow_store::StoreError::Forbidden { .. }), "another department: {e}");
    act(&app, c.id, "approver", "approve", "", json!({}), "2026-12-02").await;
    let done = act(&app, c.id, "clerk", "download", "", json!({}), "2026-12-02").await;
    assert_eq!(done.state, "closed");
    assert_eq!(done.trips, 0);
    // A clerk of another village does not see the case at all.
    let mut stranger = actor(&app, "clerk").await;
    stranger.place = PlaceCode::parse("330822002201").unwrap();
    assert!(app.store.case_for(c.id, Some(&stranger)).await.is_err());
}

/// Online, zero trips: submitted, pre-accepted, approved, shipped free, delivered.
async fn online_zero_trip_flow(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = actor(&app, "acceptor").await;
    let c = app
        .store
        .accept_case(&acceptor, &new_case("MZJ-002", "online", "330822", &mzj_002(false), false), None)
        .await
        .unwrap();
    assert_eq!((c.flow_code.as_str(), c.state.as_str(), c.trips), ("online", "submitted", 0));
    act(&app, c.id, "acceptor", "pre_accept", "", json!({}), "2026-11-30").await;
    act(&app, c.id, "approver", "approve", "", json!({}), "2026-12-01").await;
    act(
        &app,
        c.id,
        "acceptor",
        "ship",
        "",
        json!({"address": "紫港街道2号", "carrier": "EMS", "tracking": "E9"}),
        "2026-12-01",
    )
    .await;
    // A hand-recorded second trip needs a reason.
    let by = actor(&app, "acceptor").await;
    app.store.record_trip(c.id, &by, "", None).await.unwrap();
    assert!(app.store.record_trip(c.id, &by, " ", None).await.is_err());
    let t = app.store.record_trip(c.id, &by, "原件核验", None).await.unwrap();
    assert_eq!(t.trips, 2);
    let done = act(&app, c.id, "acceptor", "deliver", "", json!({}), "2026-12-03").await;
    assert_eq!((done.state.as_str(), done.trips), ("closed", 2));
    assert!(app.store.record_trip(c.id, &by, "投诉", None).await.is_err(), "no trips on a closed case");
    let report = app.store.trip_report(&PlaceCode::parse("330822").unwrap()).await.unwrap();
    assert_eq!(report.overall.cases, 1);
    assert_eq!(report.more_than_one[0].reasons, vec!["原件核验"]);
}

/// Flows load as checked data: a bad definition is refused with every problem; a good one becomes a
/// new version that new cases use while old cases keep theirs.
async fn flows_are_checked_and_versioned(db: Db) {
    let app = spawn_app(db).await;
    let admin = app.login("admin").await;
    let bad = "code = \"x\"\nname = \"x\"\ninitial = \"a\"\n[[states]]\ncode = \"a\"\nname = \"a\"\n\
               [[actions]]\ncode = \"go\"\nname = \"go\"\nfrom = [\"a\"]\nto = \"b\"\nroles = [\"wizard\"]\n";
    let r = app.client.post(app.url("/api/v1/flows")).bearer_auth(&admin).body(bad).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert!(e["errors"].as_array().unwrap().len() >= 2, "{e}");
    let acceptor = actor(&app, "acceptor").await;
    let old = app
        .store
        .accept_case(&acceptor, &new_case("MZJ-002", "window", "330822", &mzj_002(false), false), None)
        .await
        .unwrap();
    let mut general = include_str!("../../crates/core/flows/general.toml").to_string();
    general = general.replace("name = \"部门审批中\"", "name = \"部门审批（新版）\"");
    let r = app.client.post(app.url("/api/v1/flows")).bearer_auth(&admin).body(general).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["version"], 2);
    let new = app
        .store
        .accept_case(&acceptor, &new_case("MZJ-002", "window", "330822", &mzj_002(false), false), None)
        .await
        .unwrap();
    assert_eq!((old.flow_version, old.state_name.as_str()), (1, "部门审批中"));
    assert_eq!((new.flow_version, new.state_name.as_str()), (2, "部门审批（新版）"));
    assert_eq!(app.store.case_for(old.id, None).await.unwrap().state_name, "部门审批中");
    // Items keep the version they were accepted under too.
    assert_eq!(old.item_version, 1);
    // What acceptance read of the catalogue is cached, and a change of the item's flow is seen at once.
    assert_eq!(new.flow_code, "general");
    app.store.set_item_flow(&onewindow_store::Actor::system(), "MZJ-002", "online").await.unwrap();
    let moved = app
        .store
        .accept_case(&acceptor, &new_case("MZJ-002", "window", "330822", &mzj_002(false), false), None)
        .await
        .unwrap();
    assert_eq!((moved.flow_code.as_str(), moved.flow_version), ("online", 1));
    // The refusal with a one-time notice.
    let r = app
        .client
        .post(app.url("/api/v1/refusals"))
        .bearer_auth(app.login("acceptor").await)
        .json(&json!({"item": "MZJ-002", "applicant_name": "李四", "reason": "缺少户口簿", "missing": ["户口簿"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (item, reason, missing, _) = app.store.refusal(id).await.unwrap();
    assert_eq!((item.code.as_str(), reason.as_str(), missing), ("MZJ-002", "缺少户口簿", vec!["户口簿".to_string()]));
}

/// Acceptance and actions are checked writers: they check everything, then write in one statement
/// with no savepoint. Under concurrency they share commits; one refused before writing leaves the
/// others alone; one whose write fails in the database takes its whole batch with it — each writer in
/// that batch hears the error and nothing of the batch is kept (here a trigger refuses one timeline row,
/// after the case's new state was already written in the same statement).
async fn checked_writers_share_commits_and_fail_together(db: Db) {
    let app = spawn_app(db).await;
    let (acceptor, approver) = (actor(&app, "acceptor").await, actor(&app, "approver").await);
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", app.dir.join("onewindow.db").display()),
        Db::Postgres => app.store_url(),
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let trigger = match db {
        Db::Sqlite => "CREATE TRIGGER refuse_boom BEFORE INSERT ON case_actions WHEN NEW.comment = 'boom' \
                       BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            .to_string(),
        Db::Postgres => "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                         IF NEW.comment = 'boom' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$; \
                         CREATE TRIGGER refuse_boom BEFORE INSERT ON case_actions FOR EACH ROW EXECUTE FUNCTION refuse_boom()"
            .to_string(),
    };
    sqlx::Executor::execute(&pool, trigger.as_str()).await.unwrap();

    let before = app.store.group_commit_stats().await;
    let n = 40;
    let application = new_case("MZJ-002", "window", "330822", &mzj_002(false), false);
    let accepted =
        futures::future::join_all((0..n).map(|_| app.store.accept_case(&acceptor, &application, None))).await;
    let ids: Vec<i64> = accepted.into_iter().map(|c| c.unwrap().id).collect();
    let claim = ActionInput { action: "claim".into(), ..Default::default() };
    let claimed: Vec<CaseView> =
        futures::future::join_all(ids.iter().map(|id| app.store.act_on_case(*id, &approver, &claim, None)))
            .await
            .into_iter()
            .map(|c| c.unwrap())
            .collect();
    let after = app.store.group_commit_stats().await;
    // (The outbox worker writes too, as it sends the acceptance messages.)
    assert!(after.transactions - before.transactions >= 2 * n as u64);
    assert!(after.commits - before.commits < after.transactions - before.transactions, "checked writers share commits");

    // Every fifth write fails in the database; every fifth other one is refused before writing.
    let inputs: Vec<ActionInput> = (0..n)
        .map(|i| match i % 5 {
            0 => ActionInput { action: "return".into(), comment: "boom".into(), ..Default::default() },
            1 => ActionInput { action: "deliver".into(), ..Default::default() },
            _ => ActionInput { action: "return".into(), comment: "补正".into(), ..Default::default() },
        })
        .collect();
    let mut rx = app.store.subscribe();
    let results = futures::future::join_all(
        ids.iter().zip(&inputs).map(|(id, input)| app.store.act_on_case(*id, &approver, input, None)),
    )
    .await;
    let mut announced = 0;
    while let Ok(e) = rx.try_recv() {
        announced += usize::from(e.kind == "case.return");
    }
    let mut done = 0;
    for (i, (r, id)) in results.iter().zip(&ids).enumerate() {
        let now = app.store.case_for(*id, None).await.unwrap();
        match (i % 5, r) {
            (0, Ok(_)) => panic!("a write the database refused was acknowledged"),
            (1, Err(onewindow_store::StoreError::Conflict { .. })) => {}
            (1, other) => panic!("a refused action: {:?}", other.as_ref().map(|v| &v.state)),
            (_, Ok(v)) => {
                done += 1;
                assert_eq!(now.state, v.state);
                assert_eq!(now.timeline.last().unwrap().action, "return");
            }
            (_, Err(_)) => {}
        }
        if r.is_err() {
            // Nothing of a failed writer is kept: not its state, not its timeline row.
            assert_eq!(now.state, claimed[i].state, "case {id}");
            assert_eq!(now.timeline.len(), claimed[i].timeline.len(), "case {id}");
        }
    }
    // (Under load every batch may hold a refused write, and then nothing of the round is kept.)
    assert_eq!(announced, done, "exactly the acknowledged actions are announced");
    let returns = |pool: sqlx::AnyPool| async move {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events WHERE kind = 'case.return'")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(returns(pool.clone()).await, done as i64, "exactly the acknowledged actions have events");
    assert_eq!(app.store.verify_audit().await.unwrap().first_broken, None);
    // Those that failed beside a refused write go through when tried again, all at once.
    let again: Vec<usize> = (0..n).filter(|i| i % 5 > 1 && results[*i].is_err()).collect();
    let retried =
        futures::future::join_all(again.iter().map(|i| app.store.act_on_case(ids[*i], &approver, &inputs[*i], None)))
            .await;
    for (i, r) in again.iter().zip(retried) {
        assert_ne!(r.unwrap().state, claimed[*i].state);
    }
    let expected = (0..n).filter(|i| i % 5 > 1).count() as i64;
    assert_eq!(returns(pool.clone()).await, expected);
    assert_eq!(app.store.verify_audit().await.unwrap().first_broken, None);
    pool.close().await;
}

/// The dashboard's counters say what the events say when many changes are written at once (on
/// PostgreSQL a group's statement writes its own counters; elsewhere the batch does at its commit),
/// and a statement whose guard fails adds none.
async fn counters_match_the_events_under_concurrent_writes(db: Db) {
    let app = spawn_app(db).await;
    let (acceptor, approver) = (actor(&app, "acceptor").await, actor(&app, "approver").await);
    let before = app.store.group_commit_stats().await;
    let n = 30;
    let application = new_case("MZJ-002", "window", "330822", &mzj_002(false), false);
    let accepted =
        futures::future::join_all((0..n).map(|_| app.store.accept_case(&acceptor, &application, None))).await;
    let ids: Vec<i64> = accepted.into_iter().map(|c| c.unwrap().id).collect();
    let ship = json!({"address": "天马街道1号", "carrier": "EMS", "tracking": "E1"});
    for (by, action, data) in [
        (&approver, "claim", json!({})),
        (&approver, "approve", json!({})),
        (&acceptor, "ship", ship),
        (&acceptor, "deliver", json!({})),
    ] {
        let input = ActionInput { action: action.into(), data, ..Default::default() };
        // Every case twice at once: one of each pair finds its case moved and is planned again (a second
        // claim by the same approver is allowed), or refused (a second delivery of a closed case).
        let twice = ids.iter().chain(&ids).map(|id| app.store.act_on_case(*id, by, &input, None));
        let done = futures::future::join_all(twice).await.into_iter().filter(|r| r.is_ok()).count();
        match action {
            "claim" => assert_eq!(done, 2 * n, "{action}"),
            _ => assert_eq!(done, n, "{action}: once per case"),
        }
    }
    if db == Db::Postgres {
        let after = app.store.group_commit_stats().await;
        assert!(after.combined_actions - before.combined_actions > after.combined - before.combined, "{after:?}");
    }
    let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
    let one = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    let counted = |metric: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) FROM stat_counters WHERE metric = $1",
            )
            .bind(metric)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let accepted = one("SELECT COUNT(*) FROM events WHERE kind = 'case.accepted'").await;
    let closed = one("SELECT COUNT(*) FROM cases WHERE closed_at IS NOT NULL").await;
    let trips = one("SELECT CAST(COALESCE(SUM(trips), 0) AS BIGINT) FROM cases WHERE closed_at IS NOT NULL").await;
    assert_eq!((accepted, closed), (n as i64, n as i64));
    assert_eq!(counted("cases_accepted").await, accepted);
    assert_eq!(counted("cases_by_township").await, accepted);
    assert_eq!(counted("cases_closed").await, closed);
    assert_eq!(counted("cases_closed_on_time").await + counted("cases_closed_late").await, closed);
    assert_eq!(counted("cases_closed_trips").await, trips);
    pool.close().await;
}

/// Materials supplied on many cases at once, while other cases' actions leave theirs as they were, are
/// all kept: on PostgreSQL such a group is written in one statement, which sends an action's
/// checklist only when the action changed it.
async fn materials_supplied_at_once_are_kept(db: Db) {
    let app = spawn_app(db).await;
    let (acceptor, approver) = (actor(&app, "acceptor").await, actor(&app, "approver").await);
    let before = app.store.group_commit_stats().await;
    let n = 20;
    let tolerant = new_case("MZJ-002", "window", "330822", &mzj_002(true), true);
    let accepted = futures::future::join_all((0..n).map(|_| app.store.accept_case(&acceptor, &tolerant, None))).await;
    let ids: Vec<i64> = accepted.into_iter().map(|c| c.unwrap().id).collect();
    let (supplied, claimed) = ids.split_at(n / 2);
    let late = "本人及法定义务人履行能力情况说明";
    let supply = ActionInput { action: "supply".into(), data: json!({"material": late}), ..Default::default() };
    let claim = ActionInput { action: "claim".into(), ..Default::default() };
    let writes = supplied
        .iter()
        .map(|id| app.store.act_on_case(*id, &acceptor, &supply, None))
        .chain(claimed.iter().map(|id| app.store.act_on_case(*id, &approver, &claim, None)));
    for r in futures::future::join_all(writes).await {
        r.unwrap();
    }
    if db == Db::Postgres {
        let after = app.store.group_commit_stats().await;
        assert!(after.combined_actions - before.combined_actions > after.combined - before.combined, "{after:?}");
    }
    for (id, status) in supplied.iter().map(|id| (id, "received")).chain(claimed.iter().map(|id| (id, "missing"))) {
        let c = app.store.case_for(*id, None).await.unwrap();
        let m = c.materials.iter().find(|m| m.name == late).unwrap();
        assert_eq!(m.status, status, "case {id}: {:?}", c.materials);
        assert_eq!(c.materials.len(), 5, "case {id}: the whole checklist is kept");
    }
}

/// What a case's `pickup_code` column holds (a keyed hash of the texted code, never the code).
async fn stored_pickup_code(pool: &sqlx::AnyPool, id: i64) -> Option<String> {
    sqlx::query_scalar("SELECT pickup_code FROM cases WHERE id = $1").bind(id).fetch_one(pool).await.unwrap()
}

/// One action on each of the cases, all at once; each must succeed.
async fn act_on_all(app: &TestApp, ids: &[i64], by: &CaseActor, action: &str, data: Value) {
    let input = ActionInput { action: action.into(), data, ..Default::default() };
    for r in futures::future::join_all(ids.iter().map(|id| app.store.act_on_case(*id, by, &input, None))).await {
        r.unwrap_or_else(|e| panic!("{action}: {e}"));
    }
}

/// Pick-up codes and deliveries changed on some cases at once, while other cases' actions leave
/// theirs as they were, are all kept: on PostgreSQL such a group is written in one statement, which
/// sends an action's pick-up code and delivery only when the action changed them.
async fn pickup_codes_and_deliveries_written_at_once_are_kept(db: Db) {
    let app = spawn_app(db).await;
    let (acceptor, approver) = (actor(&app, "acceptor").await, actor(&app, "approver").await);
    let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
    let stored = |id: i64| stored_pickup_code(&pool, id);
    let n = 20;
    let application = new_case("MZJ-002", "window", "330822", &mzj_002(false), false);
    let accepted =
        futures::future::join_all((0..n).map(|_| app.store.accept_case(&acceptor, &application, None))).await;
    let ids: Vec<i64> = accepted.into_iter().map(|c| c.unwrap().id).collect();
    act_on_all(&app, &ids, &approver, "claim", json!({})).await;
    let (shipped, approved) = ids.split_at(n / 2);
    act_on_all(&app, shipped, &approver, "approve", json!({})).await;
    let mut codes = Vec::new();
    for id in shipped {
        codes.push(stored(*id).await.expect("a code once the result is ready"));
    }
    let before = app.store.group_commit_stats().await;
    // At once: half leave for the express (a new delivery, the same code), half are approved (a
    // new code, no delivery yet).
    let address = json!({"address": "天马街道1号", "carrier": "EMS", "tracking": "E1"});
    futures::future::join(
        act_on_all(&app, shipped, &acceptor, "ship", address),
        act_on_all(&app, approved, &approver, "approve", json!({})),
    )
    .await;
    if db == Db::Postgres {
        let after = app.store.group_commit_stats().await;
        assert!(after.combined_actions - before.combined_actions > after.combined - before.combined, "{after:?}");
    }
    for (id, code) in shipped.iter().zip(&codes) {
        assert_eq!(stored(*id).await.as_ref(), Some(code), "case {id}: shipping keeps the pick-up code");
        let c = app.store.case_for(*id, None).await.unwrap();
        let delivery = c.delivery.unwrap_or_else(|| panic!("case {id}: shipped without a delivery"));
        assert_eq!((delivery["method"].as_str(), delivery["tracking"].as_str()), (Some("express"), Some("E1")));
    }
    for id in approved {
        assert!(stored(*id).await.is_some(), "case {id}: approving sets a pick-up code");
        assert_eq!(app.store.case_for(*id, None).await.unwrap().delivery, None, "case {id}: no delivery yet");
    }
}

/// Actions are planned from a read outside the writers' lock and written only if the case is still
/// the version they read: of several actions sent at once on one case, exactly the ones that are
/// allowed in turn take effect, and each once.
async fn concurrent_actions_on_one_case_take_effect_once(db: Db) {
    let app = spawn_app(db).await;
    let (acceptor, approver) = (actor(&app, "acceptor").await, actor(&app, "approver").await);
    let application = new_case("MZJ-002", "window", "330822", &mzj_002(false), false);
    let claim = ActionInput { action: "claim".into(), ..Default::default() };
    let approve = ActionInput { action: "approve".into(), ..Default::default() };
    let give_back = ActionInput { action: "return".into(), comment: "补正".into(), ..Default::default() };
    let mut replanned = 0;
    // Racing reads are likely on the first round; a few rounds make seeing one certain in practice.
    for _round in 0..5 {
        let before = app.store.group_commit_stats().await.replanned;
        let mut ids = Vec::new();
        for _ in 0..8 {
            let id = app.store.accept_case(&acceptor, &application, None).await.unwrap().id;
            app.store.act_on_case(id, &approver, &claim, None).await.unwrap();
            ids.push(id);
        }
        // Six at once on each case: three approve, three return it; one of them wins.
        let (approve, give_back) = (&approve, &give_back);
        let attempts: Vec<(i64, &ActionInput)> = ids
            .iter()
            .flat_map(|id| (0..6).map(move |k| (*id, if k % 2 == 0 { approve } else { give_back })))
            .collect();
        let results = futures::future::join_all(
            attempts.iter().map(|(id, input)| app.store.act_on_case(*id, &approver, input, None)),
        )
        .await;
        for id in &ids {
            let outcomes: Vec<&Result<CaseView, onewindow_store::StoreError>> =
                attempts.iter().zip(&results).filter(|((c, _), _)| c == id).map(|(_, r)| r).collect();
            let won = outcomes.iter().filter(|r| r.is_ok()).count();
            assert_eq!(won, 1, "case {id}: exactly one action of the race takes effect");
            for r in &outcomes {
                if let Err(e) = r {
                    assert!(matches!(e, onewindow_store::StoreError::Conflict { .. }), "case {id}: {e}");
                }
            }
            let now = app.store.case_for(*id, None).await.unwrap();
            let raced: Vec<&str> =
                now.timeline.iter().map(|t| t.action.as_str()).filter(|a| *a == "approve" || *a == "return").collect();
            assert_eq!(raced.len(), 1, "case {id}: one timeline row for the race, got {raced:?}");
        }
        replanned += app.store.group_commit_stats().await.replanned - before;
        if replanned > 0 {
            break;
        }
    }
    assert!(replanned > 0, "some actions found their case changed since they read it");
    assert_eq!(app.store.verify_audit().await.unwrap().first_broken, None);
}

/// `Prefer: return=minimal`: acceptance and each action answer only what they wrote, and that is
/// exactly where the case now is; without the preference the whole case comes back as before; a
/// refused action is refused the same either way and changes nothing.
async fn minimal_answers_say_what_the_write_did(db: Db) {
    let app = spawn_app(db).await;
    let (acceptor, approver) = (app.login("acceptor").await, app.login("approver").await);
    let materials: Vec<Value> = mzj_002(false).iter().map(|(n, s)| json!({"name": n, "status": s})).collect();
    let application =
        json!({"item": "MZJ-002", "applicant": {"name": "王五", "phone": "13900001111"}, "materials": materials});
    let send = |token: &str, path: &str, body: &Value, minimal: bool| {
        let mut r = app.client.post(app.url(path)).bearer_auth(token).json(body);
        if minimal {
            r = r.header("prefer", "respond-async, return=minimal");
        }
        r.send()
    };
    let read = |id: i64| {
        let (app, token) = (&app, acceptor.clone());
        async move { app.get_json_as(&token, &format!("/api/v1/cases/{id}")).await }
    };
    const BRIEF: [&str; 7] = ["id", "number", "action", "state", "due_on", "trips", "closed_at"];

    // Without the preference: the whole case, as the pages use it.
    let r = send(&acceptor, "/api/v1/cases", &application, false).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(r.headers().get("preference-applied").is_none());
    assert_eq!(r.headers()["vary"], "prefer", "the answer depends on Prefer, whichever form it takes");
    let whole: Value = r.json().await.unwrap();
    assert!(whole["timeline"].is_array() && whole["actions"].is_array(), "{whole}");

    let r = send(&acceptor, "/api/v1/cases", &application, true).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["preference-applied"], "return=minimal");
    assert_eq!(r.headers()["vary"], "prefer");
    let opened: Value = r.json().await.unwrap();
    let mut keys: Vec<&str> = opened.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    let mut brief = BRIEF.to_vec();
    brief.sort();
    assert_eq!(keys, brief, "only what was written: {opened}");
    assert_eq!(opened["action"], "accept");
    let id = opened["id"].as_i64().unwrap();
    assert_ne!(id, whole["id"].as_i64().unwrap());
    let now = read(id).await;
    for field in ["number", "state", "due_on", "trips", "closed_at"] {
        assert_eq!(opened[field], now[field], "accept: {field}");
    }

    // A refused action: the same refusal either way, nothing written.
    let before = read(id).await;
    for minimal in [false, true] {
        let r = send(&approver, &format!("/api/v1/cases/{id}/actions"), &json!({"action": "deliver"}), minimal)
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert!(r.headers().get("preference-applied").is_none());
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["field"], "action", "{e}");
        assert!(e["message_en"].as_str().unwrap().contains("not allowed now"), "{e}");
    }
    assert_eq!(read(id).await, before, "a refused action changes nothing");

    // The lifecycle, each step answered briefly and checked against the case read back.
    let steps = [
        (&approver, json!({"action": "claim"})),
        (&approver, json!({"action": "return", "comment": "补正"})),
        (&acceptor, json!({"action": "supplement"})),
        (&approver, json!({"action": "approve"})),
        (&acceptor, json!({"action": "ship", "data": {"address": "天马街道1号", "carrier": "EMS", "tracking": "E1"}})),
        (&acceptor, json!({"action": "deliver"})),
    ];
    let mut states = vec![opened["state"].clone()];
    for (who, body) in steps {
        let r = send(who, &format!("/api/v1/cases/{id}/actions"), &body, true).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{body}");
        assert_eq!(r.headers()["preference-applied"], "return=minimal");
        let did: Value = r.json().await.unwrap();
        assert_eq!(did["action"], body["action"]);
        let now = read(id).await;
        for field in ["id", "number", "state", "due_on", "trips", "closed_at"] {
            assert_eq!(did[field], now[field], "{}: {field}", body["action"]);
        }
        states.push(did["state"].clone());
    }
    // The general flow: claiming takes the case without moving it.
    assert_eq!(states, ["review", "review", "correction", "review", "result", "shipped", "closed"]);
    assert!(read(id).await["closed_at"].is_i64(), "delivered closes the case");
    assert_eq!(app.store.verify_audit().await.unwrap().first_broken, None);
}

/// The pick-up code is kept only as its keyed hash: the column never holds the texted digits, the code
/// from the SMS collects and a wrong one does not; a case stored before (the six digits themselves) is
/// still collected with its code, and housekeeping replaces those digits by their hash.
async fn pickup_codes_are_kept_hashed(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = actor(&app, "acceptor").await;
    let application = new_case("MZJ-002", "window", "330822", &mzj_002(false), false);
    let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
    let stored = |id: i64| stored_pickup_code(&pool, id);
    let mut ids = Vec::new();
    let mut numbers = Vec::new();
    for _ in 0..2 {
        let opened = app.store.accept_case(&acceptor, &application, Some(d("2026-11-02"))).await.unwrap();
        let id = opened.id;
        numbers.push(opened.number);
        assert_eq!(stored(id).await, None, "no code before the result is ready");
        act(&app, id, "approver", "claim", "", json!({}), "2026-11-02").await;
        let ready = act(&app, id, "approver", "approve", "", json!({}), "2026-11-03").await;
        assert_eq!(ready.state, "result");
        ids.push(id);
    }
    let texts: Vec<String> = crate::helpers::sms_as_sent(&app)
        .await
        .iter()
        .filter_map(|m| m["payload"]["text"].as_str().filter(|t| t.contains("取件码")).map(str::to_string))
        .collect();
    assert_eq!(texts.len(), 2, "one code texted per case: {texts:?}");
    let sent: Vec<String> = numbers
        .iter()
        .map(|n| {
            let text = texts.iter().find(|t| t.contains(n.as_str())).unwrap();
            text.split("取件码").nth(1).unwrap().chars().take(6).collect()
        })
        .collect();
    let collect = |id: i64, code: &str| {
        let input = ActionInput { action: "collect".into(), data: json!({"pickup_code": code}), ..Default::default() };
        let (app, by) = (&app, acceptor.clone());
        async move { app.store.act_on_case(id, &by, &input, None).await }
    };
    // The first case: its column holds a hash of the texted code, never the code.
    let (first, code) = (ids[0], &sent[0]);
    let hash = stored(first).await.unwrap();
    assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
    assert!(!hash.contains(code.as_str()));
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for shown in [wrong, "", &hash] {
        let e = collect(first, shown).await.unwrap_err();
        assert!(e.to_string().contains("pick-up code"), "{shown}: {e}");
    }
    assert_eq!(collect(first, &format!(" {code} ")).await.unwrap().state, "closed");
    // The second, as a case stored before codes were hashed: its six digits in the column.
    let second = ids[1];
    sqlx::query("UPDATE cases SET pickup_code = '654321', version = version + 1 WHERE id = $1")
        .bind(second)
        .execute(&pool)
        .await
        .unwrap();
    assert!(collect(second, "123456").await.is_err());
    // Housekeeping replaces the digits by their hash, once; the code still collects.
    assert_eq!(app.store.hash_plaintext_pickup_codes().await.unwrap(), 1);
    assert_eq!(app.store.hash_plaintext_pickup_codes().await.unwrap(), 0);
    let hash = stored(second).await.unwrap();
    assert!(hash.len() == 64 && !hash.contains("654321"), "{hash}");
    assert!(collect(second, "123456").await.is_err());
    assert_eq!(collect(second, "654321").await.unwrap().state, "closed");
    pool.close().await;
}

/// A case's version moves by exactly one with every change to its row: the store's statements add
/// it themselves, and the database's trigger adds it for a statement that forgets (so an action
/// planned on the old version is planned again instead of overwriting the change).
async fn every_change_to_a_case_moves_its_version_once(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = actor(&app, "acceptor").await;
    let application = new_case("MZJ-002", "window", "330822", &mzj_002(false), false);
    let id = app.store.accept_case(&acceptor, &application, None).await.unwrap().id;
    let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
    let version = || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT version FROM cases WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let first = version().await;
    for sql in [
        "UPDATE cases SET delivery = 'express' WHERE id = $1",
        "UPDATE cases SET delivery = 'window', version = version + 1 WHERE id = $1",
    ] {
        let before = version().await;
        sqlx::query(sql).bind(id).execute(&pool).await.unwrap();
        assert_eq!(version().await, before + 1, "{sql}");
    }
    act(&app, id, "approver", "claim", "", json!({}), "2026-11-02").await;
    assert_eq!(version().await, first + 3, "the store's action adds one");
    pool.close().await;
}

/// On SQLite acceptance and planned actions write through the store's own connection, every other
/// change through sqlx's: writers of both kinds sent at once all commit (a batch on one connection is
/// committed before a writer needing the other begins), each change with its event and audit row,
/// announced once in commit order, and the audit chain stays whole across the switches.
async fn writers_on_both_connections_interleave(db: Db) {
    let app = spawn_app(db).await;
    let (acceptor, approver) = (actor(&app, "acceptor").await, actor(&app, "approver").await);
    let application = new_case("MZJ-002", "window", "330822", &mzj_002(false), false);
    let mut rx = app.store.subscribe();
    let n = 60;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (store, start, acceptor, approver, application) =
            (app.store.clone(), start.clone(), acceptor.clone(), approver.clone(), application.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            if i % 3 == 0 {
                let mut tx = store.begin(&onewindow_store::Actor::system()).await.unwrap();
                let zone =
                    onewindow_store::Zone {
                        code: format!("mx{i:02}"), name: format!("区{i}"), name_en: String::new()
                    };
                tx.save_zone(&zone).await.unwrap();
                tx.commit().await.unwrap();
                None
            } else {
                let case = store.accept_case_briefly(&acceptor, &application, None).await.unwrap();
                let claim = ActionInput { action: "claim".into(), ..Default::default() };
                store.act_on_case_briefly(case.id, &approver, &claim, None).await.unwrap();
                Some(case.id)
            }
        }));
    }
    let mut cases = Vec::new();
    for t in tasks {
        cases.extend(t.await.unwrap());
    }
    assert_eq!(cases.len(), 40);
    for id in &cases {
        let c = app.store.case_for(*id, None).await.unwrap();
        assert_eq!(c.assignee.as_deref(), Some("approver"), "case {id}");
        let actions: Vec<&str> = c.timeline.iter().map(|t| t.action.as_str()).collect();
        assert_eq!(actions, ["accept", "claim"], "case {id}");
    }
    let zones = app.store.zones().await.unwrap().into_iter().filter(|z| z.code.starts_with("mx")).count();
    assert_eq!(zones, 20);
    let mut seqs = Vec::new();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    while seqs.len() < 100 {
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        // (The outbox worker records its own work as it sends the acceptance messages.)
        if e.kind.starts_with("outbox.") || e.kind.starts_with("housekeeping.") {
            continue;
        }
        *kinds.entry(e.kind.clone()).or_default() += 1;
        seqs.push(e.seq);
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "announced once each, in commit order");
    assert_eq!((kinds.get("case.accepted"), kinds.get("case.claim")), (Some(&40), Some(&40)), "{kinds:?}");
    let report = app.store.verify_audit().await.unwrap();
    assert_eq!(report.first_broken, None);
    let stats = app.store.group_commit_stats().await;
    assert!(stats.commits < stats.transactions, "{stats:?}");
}

/// On SQLite the store's own connection commits without waiting for the disk and a thread of its own
/// syncs the WAL (wal_sync.rs): a writer hears of its commit only after a sync that covers it.
async fn acknowledged_only_after_the_wal_is_synced(db: Db) {
    let sqlite = matches!(db, Db::Sqlite);
    let app = spawn_app(db).await;
    let acceptor = actor(&app, "acceptor").await;
    let application = new_case("MZJ-002", "window", "330822", &mzj_002(false), false);
    let before = app.store.group_commit_stats().await;
    for k in 1..=5u64 {
        let case = app.store.accept_case_briefly(&acceptor, &application, None).await.unwrap();
        // Told, so its batch has been synced (and, alone, by a sync of its own).
        let stats = app.store.group_commit_stats().await;
        let (syncs, synced) =
            (stats.wal_syncs - before.wal_syncs, stats.wal_synced_batches - before.wal_synced_batches);
        if sqlite {
            assert!(syncs >= k && synced >= k, "after acceptance {k} (case {}): {stats:?}", case.id);
            assert!(synced <= stats.commits - before.commits, "{stats:?}");
        } else {
            assert_eq!((syncs, synced), (0, 0), "PostgreSQL commits synchronously: {stats:?}");
        }
    }
}

backend_tests!(
    general_flow_over_http,
    writers_on_both_connections_interleave,
    acknowledged_only_after_the_wal_is_synced,
    correction_pauses_the_clock,
    tolerant_acceptance_with_a_late_supplement,
    house_building_across_national_day,
    due_dates_beyond_the_calendar_are_provisional,
    three_level_minimum_living_allowance,
    online_zero_trip_flow,
    flows_are_checked_and_versioned,
    checked_writers_share_commits_and_fail_together,
    counters_match_the_events_under_concurrent_writes,
    materials_supplied_at_once_are_kept,
    pickup_codes_and_deliveries_written_at_once_are_kept,
    concurrent_actions_on_one_case_take_effect_once,
    minimal_answers_say_what_the_write_did,
    pickup_codes_are_kept_hashed,
    every_change_to_a_case_moves_its_version_once,
);
