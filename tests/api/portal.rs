//! The citizen's portal over real HTTP: SMS one-time-code sign-in with its lock-out and rate limits,
//! online applications with uploads checked by content (nothing half-stored), a citizen reaching only
//! their own cases, drafts, corrections, withdrawal, delivery, ratings with follow-ups, appointments.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db, TestApp};
use onewindow_core::ids::PhoneNumber;
use onewindow_core::place::PlaceCode;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8,
    6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89, 0, 0, 0, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0, 1, 0, 0, 5, 0, 1,
    0x0D, 0x0A, 0x2D, 0xB4, 0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

/// The latest one-time code sent, as it reaches the phone (the admin's outbox view masks it).
async fn last_code(app: &TestApp) -> String {
    let sms = crate::helpers::sms_as_sent(app).await;
    let text = sms
        .iter()
        .filter(|m| m["payload"]["kind"] == "citizen.code")
        .map(|m| m["payload"]["text"].as_str().unwrap().to_string())
        .next()
        .expect("a code SMS");
    text.chars().skip_while(|c| !c.is_ascii_digit()).take(6).collect()
}

async fn request_code(app: &TestApp, phone: &str) -> reqwest::Response {
    app.client.post(app.url("/api/v1/citizen/code")).json(&json!({"phone": phone})).send().await.unwrap()
}

async fn try_sign_in(app: &TestApp, phone: &str, code: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/citizen/session"))
        .json(&json!({"phone": phone, "code": code}))
        .send()
        .await
        .unwrap()
}

/// Signs a citizen in through the API; returns the bearer token.
pub async fn citizen(app: &TestApp, phone: &str) -> String {
    assert_eq!(request_code(app, phone).await.status(), StatusCode::ACCEPTED);
    let code = last_code(app).await;
    let r = try_sign_in(app, phone, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

/// The RLSBJ-002 application form, filled in, with the ID card as PNG and the form as PDF.
fn application(submit: bool) -> Form {
    application_of("毛志坚", "330822198001010011", submit)
}

/// The same for a given applicant (also the express recipient).
pub fn application_of(name: &str, id_number: &str, submit: bool) -> Form {
    Form::new()
        .text("item", "RLSBJ-002")
        .text("applicant_name", name.to_string())
        .text("applicant_id_number", id_number.to_string())
        .text("answers.insurance", "养老和医疗保险")
        .text("answers.grade", "100%")
        .text("answers.address", "常山县天马街道人民路1号")
        .text("answers.start", "2026-12")
        .text("delivery.method", "express")
        .text("delivery.recipient", name.to_string())
        .text("delivery.address", "常山县天马街道人民路1号")
        .part("file.0", Part::bytes(PNG.to_vec()).file_name(format!("{name}.png")))
        .part("file.1", Part::bytes(PDF.to_vec()).file_name("申请单.pdf"))
        .text("submit", if submit { "1" } else { "0" })
}

async fn staff_act(app: &TestApp, user: &str, id: i64, body: Value) -> Value {
    let token = app.login(user).await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/cases/{id}/actions")))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{user} {body}: {v}");
    v
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
    let n = sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

/// Five wrong codes lock the code: the sixth try is refused even with the right code. A used code does
/// not work twice; a second code within a minute is refused with Retry-After.
async fn code_login_locks_out(db: Db) {
    let app = spawn_app(db).await;
    let phone = "13905700001";
    assert_eq!(request_code(&app, phone).await.status(), StatusCode::ACCEPTED);
    let code = last_code(&app).await;
    assert_eq!(code.len(), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (0..5).rev() {
        let r = try_sign_in(&app, phone, wrong).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["field"], "code");
        if left > 0 {
            assert!(v["message"].as_str().unwrap().contains(&format!("还可尝试{left}次")), "{v}");
        }
    }
    let r = try_sign_in(&app, phone, &code).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "the sixth try is refused even when right");
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("锁定"), "{v}");
    // A new code at once: too soon.
    let r = request_code(&app, phone).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    let failures = count(&app, "SELECT COUNT(*) FROM audit WHERE action = 'citizen.code_failed'").await;
    assert_eq!(failures, 5, "every wrong try is recorded");

    // Another number: the right code opens a session once.
    let phone2 = "13905700002";
    assert_eq!(request_code(&app, phone2).await.status(), StatusCode::ACCEPTED);
    let code2 = last_code(&app).await;
    let r = try_sign_in(&app, phone2, &code2).await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    assert_eq!(try_sign_in(&app, phone2, &code2).await.status(), StatusCode::UNPROCESSABLE_ENTITY, "used once");
    let me = app.client.get(app.url("/api/v1/citizen/session")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.json::<Value>().await.unwrap()["phone"], "139****0002");
    // Citizen and staff tokens do not stand in for each other.
    let staff = app.login("acceptor").await;
    assert_eq!(
        app.client.get(app.url("/api/v1/citizen/cases")).bearer_auth(&staff).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.client.get(app.url("/api/v1/worklist")).bearer_auth(&token).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // Signing out ends the session.
    app.client.delete(app.url("/api/v1/citizen/session")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(
        app.client.get(app.url("/api/v1/citizen/cases")).bearer_auth(&token).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // No code, no session: nothing to try against.
    assert_eq!(try_sign_in(&app, "13905700003", "123456").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(request_code(&app, "1390570000x").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// One address asking for codes for many numbers is stopped after 30 an hour.
async fn codes_are_rate_limited_per_address(db: Db) {
    let app = spawn_app(db).await;
    for i in 0..30 {
        let r = request_code(&app, &format!("1390571{i:04}")).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "code {i}");
    }
    let r = request_code(&app, "13905719999").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "address");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM citizen_codes").await, 30);
}

/// Apply online with uploads → pre-accept → approve → express → delivered → rated: zero trips.
async fn online_application_end_to_end(db: Db) {
    let app = spawn_app(db).await;
    let token = citizen(&app, "13905700010").await;
    let r = app
        .client
        .post(app.url("/api/v1/citizen/applications"))
        .bearer_auth(&token)
        .multipart(application(true))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["state"], "submitted");
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    assert_eq!(v["files"][0]["mime"], "image/png");
    assert_eq!(v["answers"]["start"], "2026-12");
    let number = v["case_number"].as_str().unwrap().to_string();
    let id = v["case_id"].as_i64().unwrap();
    let sms = app.store.outbox_recent(20).await.unwrap();
    assert!(sms.iter().any(|m| m["payload"]["text"].as_str().unwrap().contains(&format!("办件号{number}"))), "{sms:?}");

    // Staff see the files (bytes as uploaded) and the chosen address.
    let acceptor = app.login("acceptor").await;
    let c = app.get_json_as(&acceptor, &format!("/api/v1/cases/{id}")).await;
    assert_eq!((c["channel"].as_str(), c["state"].as_str()), (Some("online"), Some("submitted")));
    let files: Value = app
        .client
        .get(app.url(&format!("/api/v1/citizen/cases/{}", number)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(files["delivery_choice"]["method"], "express");
    let file_id = files["files"][0]["id"].as_i64().unwrap();
    let f = app
        .client
        .get(app.url(&format!("/api/v1/cases/{id}/files/{file_id}")))
        .bearer_auth(&acceptor)
        .send()
        .await
        .unwrap();
    assert_eq!(f.status(), StatusCode::OK);
    assert_eq!(f.headers()["content-type"], "image/png");
    assert_eq!(f.bytes().await.unwrap().as_ref(), PNG);

    staff_act(&app, "acceptor", id, json!({"action": "pre_accept"})).await;
    staff_act(&app, "approver2", id, json!({"action": "approve"})).await;
    staff_act(&app, "acceptor", id, json!({"action": "ship", "data": {"address": "常山县天马街道人民路1号", "carrier": "EMS", "tracking": "1234567890"}})).await;
    // Too late to change the delivery now.
    let r = app
        .client
        .put(app.url(&format!("/api/v1/citizen/cases/{number}/delivery")))
        .bearer_auth(&token)
        .json(&json!({"method": "pickup"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = app
        .client
        .post(app.url(&format!("/api/v1/citizen/cases/{number}/actions")))
        .bearer_auth(&token)
        .json(&json!({"action": "deliver"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let done: Value = r.json().await.unwrap();
    assert_eq!((done["state"].as_str(), done["trips"].as_i64()), (Some("closed"), Some(0)));

    let rate = |score: i64| {
        app.client
            .post(app.url(&format!("/api/v1/citizen/cases/{number}/rating")))
            .bearer_auth(&token)
            .json(&json!({"score": score, "comment": "全程网上办，很方便"}))
            .send()
    };
    assert_eq!(rate(5).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(rate(4).await.unwrap().status(), StatusCode::CONFLICT, "rated once");
    let leader = app.login("leader").await;
    let report: Value = app
        .client
        .get(app.url("/api/v1/stats/ratings"))
        .bearer_auth(&leader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report[0]["department"], "rlsbj");
    assert_eq!(report[0]["by_score"], json!([0, 0, 0, 0, 1]));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM followups").await, 0, "a good rating opens no follow-up");
    let counted =
        count(&app, "SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) FROM stat_counters WHERE metric = 'ratings_score'")
            .await;
    assert_eq!(counted, 5, "the rating reaches the dashboard counters");
}

/// Wrong type, over the limit, truncated, empty: each refused with the file's field named, and
/// nothing at all stored (not the draft, not the good file next to the bad one).
async fn bad_uploads_store_nothing(db: Db) {
    let app = spawn_app(db).await;
    let token = citizen(&app, "13905700020").await;
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(6 * 1024 * 1024, b' ');
    big.extend_from_slice(b"\n%%EOF\n");
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("program.pdf", b"MZ\x90\x00\x03 this is not a pdf".to_vec(), "PDF、JPEG 或 PNG"),
        ("big.pdf", big, "上限"),
        ("cut.png", PNG[..PNG.len() - 8].to_vec(), "不完整"),
        ("empty.pdf", Vec::new(), "空"),
    ];
    for (name, bytes, why) in cases {
        let form = Form::new()
            .text("item", "RLSBJ-002")
            .text("applicant_name", "毛志坚")
            .part("file.1", Part::bytes(PDF.to_vec()).file_name("ok.pdf"))
            .part("file.0", Part::bytes(bytes).file_name(name.to_string()));
        let r = app
            .client
            .post(app.url("/api/v1/citizen/applications"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["field"], "files.居民身份证", "{name}: {v}");
        assert!(v["message"].as_str().unwrap().contains(why), "{name}: {v}");
        assert!(!v["message_en"].as_str().unwrap().is_empty());
    }
    // A body over the request limit is refused before it is read.
    let huge = vec![b'x'; 16 * 1024 * 1024];
    let form = Form::new().text("item", "RLSBJ-002").part("file.0", Part::bytes(huge).file_name("huge.pdf"));
    // The server answers 413 from the declared length and closes: the client may still be writing.
    match app.client.post(app.url("/api/v1/citizen/applications")).bearer_auth(&token).multipart(form).send().await {
        Ok(r) => assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    for table in ["applications", "application_files", "uploads"] {
        assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
    }
    // Submitting without the key materials stores nothing either.
    let form = Form::new()
        .text("item", "RLSBJ-002")
        .text("applicant_name", "毛志坚")
        .text("applicant_id_number", "330822198001010011")
        .text("answers.insurance", "养老和医疗保险")
        .text("answers.grade", "100%")
        .text("answers.address", "常山县")
        .text("answers.start", "2026-13")
        .text("delivery.method", "electronic")
        .text("submit", "1");
    let r = app
        .client
        .post(app.url("/api/v1/citizen/applications"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["answers.start"], "the pattern names its field: {v}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM applications").await, 0);
    // Not an online item at all.
    let form = Form::new().text("item", "GAJ-001").text("applicant_name", "毛志坚");
    let r = app
        .client
        .post(app.url("/api/v1/citizen/applications"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Not multipart: a JSON 400, not a bare text error.
    let r = app
        .client
        .post(app.url("/api/v1/citizen/applications"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "bad_request");
}

/// Another citizen's case, application and files are 404, exactly like ones that do not exist.
async fn a_citizen_sees_only_their_own(db: Db) {
    let app = spawn_app(db).await;
    let owner = citizen(&app, "13905700030").await;
    let v: Value = app
        .client
        .post(app.url("/api/v1/citizen/applications"))
        .bearer_auth(&owner)
        .multipart(application(true))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (number, app_id) = (v["case_number"].as_str().unwrap().to_string(), v["id"].as_i64().unwrap());
    let file = v["files"][0]["id"].as_i64().unwrap();
    let other = citizen(&app, "13905700031").await;
    for path in [
        format!("/api/v1/citizen/cases/{number}"),
        format!("/api/v1/citizen/applications/{app_id}"),
        format!("/api/v1/citizen/applications/{app_id}/files/{file}"),
        "/api/v1/citizen/cases/330822-20990101-00001".to_string(),
    ] {
        let r = app.client.get(app.url(&path)).bearer_auth(&other).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = app
        .client
        .post(app.url(&format!("/api/v1/citizen/cases/{number}/actions")))
        .bearer_auth(&other)
        .json(&json!({"action": "cancel"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let list: Value = app
        .client
        .get(app.url("/api/v1/citizen/cases"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([]));
    let mine: Value = app
        .client
        .get(app.url("/api/v1/citizen/cases"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    // The owner may withdraw before pre-acceptance.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/citizen/cases/{number}/actions")))
        .bearer_auth(&owner)
        .json(&json!({"action": "cancel"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "cancelled");
}

/// A draft saved half-filled, completed and submitted; returned for correction, answered by upload.
async fn draft_then_correction(db: Db) {
    let app = spawn_app(db).await;
    let token = citizen(&app, "13905700040").await;
    let draft = Form::new()
        .text("item", "RLSBJ-002")
        .text("applicant_name", "毛志坚")
        .part("file.0", Part::bytes(PNG.to_vec()).file_name("id.png"));
    let r = app
        .client
        .post(app.url("/api/v1/citizen/applications"))
        .bearer_auth(&token)
        .multipart(draft)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let d: Value = r.json().await.unwrap();
    assert_eq!((d["state"].as_str(), d["case_id"].as_i64()), (Some("draft"), None));
    let id = d["id"].as_i64().unwrap();
    // The rest, and submit: the draft's file counts.
    let rest = Form::new()
        .text("applicant_name", "毛志坚")
        .text("applicant_id_number", "330822198001010011")
        .text("answers.insurance", "企业职工基本养老保险")
        .text("answers.grade", "60%")
        .text("answers.address", "常山县")
        .text("answers.start", "2027-01")
        .text("delivery.method", "electronic")
        .part("file.1", Part::bytes(PDF.to_vec()).file_name("form.pdf"))
        .text("submit", "1");
    let r = app
        .client
        .put(app.url(&format!("/api/v1/citizen/applications/{id}")))
        .bearer_auth(&token)
        .multipart(rest)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "submitted");
    let (number, case_id) = (v["case_number"].as_str().unwrap().to_string(), v["case_id"].as_i64().unwrap());
    // Submitted applications do not change.
    let again = Form::new().text("applicant_name", "x");
    let r = app
        .client
        .put(app.url(&format!("/api/v1/citizen/applications/{id}")))
        .bearer_auth(&token)
        .multipart(again)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    staff_act(&app, "acceptor", case_id, json!({"action": "pre_accept"})).await;
    staff_act(&app, "approver2", case_id, json!({"action": "return", "comment": "申请单未签名"})).await;
    let fix = Form::new().text("comment", "已签名").part("file.1", Part::bytes(PDF.to_vec()).file_name("signed.pdf"));
    let r = app
        .client
        .post(app.url(&format!("/api/v1/citizen/cases/{number}/correction")))
        .bearer_auth(&token)
        .multipart(fix)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let c: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["state"], "review");
    let view: Value = app
        .client
        .get(app.url(&format!("/api/v1/citizen/cases/{number}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let purposes: Vec<&str> =
        view["files"].as_array().unwrap().iter().map(|f| f["purpose"].as_str().unwrap()).collect();
    assert_eq!(purposes, ["application", "application", "correction"]);
    // The same bytes are stored once (content-addressed).
    assert_eq!(count(&app, "SELECT COUNT(*) FROM uploads").await, 2);
    // Electronic result, then a dissatisfied rating opens a follow-up for the department.
    staff_act(&app, "approver2", case_id, json!({"action": "approve"})).await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/citizen/cases/{number}/actions")))
        .bearer_auth(&token)
        .json(&json!({"action": "download"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "closed");
    let rate = |body: Value| {
        app.client
            .post(app.url(&format!("/api/v1/citizen/cases/{number}/rating")))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let r = rate(json!({"score": 2})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "a bad rating says why");
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "comment");
    assert_eq!(rate(json!({"score": 9, "comment": "x"})).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        rate(json!({"score": 2, "comment": "补正说明不清楚，多跑了一趟网页"})).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    // The dashboard's satisfaction figure equals a direct count of the ratings.
    let leader = app.login("leader").await;
    let d: Value =
        app.client.get(app.url("/api/v1/dashboard")).bearer_auth(&leader).send().await.unwrap().json().await.unwrap();
    let row = d["satisfaction"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["department"].as_str().unwrap().contains("人力资源"))
        .unwrap()
        .clone();
    let sql = |w: &str| {
        format!("SELECT COUNT(*) FROM ratings r JOIN departments d ON d.id = r.department_id WHERE d.code = 'rlsbj'{w}")
    };
    assert_eq!(row["ratings"].as_i64().unwrap(), count(&app, &sql("")).await);
    assert_eq!(row["dissatisfied"].as_i64().unwrap(), count(&app, &sql(" AND r.score <= 2")).await);
    assert_eq!(
        (row["ratings"].as_i64(), row["mean_score"].as_f64(), row["dissatisfied"].as_i64()),
        (Some(1), Some(2.0), Some(1))
    );
    let csv = app
        .client
        .get(app.url("/api/v1/dashboard/figures/satisfaction.csv"))
        .bearer_auth(&leader)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.text().await.unwrap();
    assert!(
        csv.lines().any(|l| l.contains("人力资源") && l.ends_with(",1,2,0,1")),
        "the CSV has the same figures: {csv}"
    );
    let approver = app.login("approver2").await;
    let list: Value =
        app.client.get(app.url("/api/v1/followups")).bearer_auth(&approver).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let f = &list[0];
    assert_eq!(f["department"], "rlsbj");
    let opened = chrono::NaiveDate::parse_from_str(f["opened_on"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let due = chrono::NaiveDate::parse_from_str(f["due_on"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    assert_eq!(app.store.add_working_days(opened, 15).unwrap(), due, "15 working days");
    // Another department's approver does not see it.
    let other = app.login("approver").await;
    let theirs: Value =
        app.client.get(app.url("/api/v1/followups")).bearer_auth(&other).send().await.unwrap().json().await.unwrap();
    assert_eq!(theirs, json!([]));
    let fid = f["id"].as_i64().unwrap();
    let close = |note: &str| {
        app.client
            .post(app.url(&format!("/api/v1/followups/{fid}/close")))
            .bearer_auth(&approver)
            .json(&json!({"note": note}))
            .send()
    };
    assert_eq!(close("").await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY, "a call-back note is required");
    let r = close("已电话回访，解释补正要求并致歉，群众表示理解").await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "closed");
    assert_eq!(close("再次回访记录内容").await.unwrap().status(), StatusCode::CONFLICT);
    assert_eq!(app.store.verify_audit().await.unwrap().first_broken, None);
}

/// Slots hold their capacity under concurrent booking; one booking a day per citizen; check-in gives a
/// priority ticket within its window and only then.
async fn appointments_capacity_and_check_in(db: Db) {
    let app = spawn_app(db).await;
    let place = PlaceCode::parse("330822").unwrap();
    let days = app.store.appointment_days(onewindow_store::now_ms()).unwrap();
    let day =
        days.iter().find(|d| **d > chrono::Utc::now().date_naive() + chrono::Duration::days(1)).unwrap().to_string();
    let queue = app.store.queues(&place).await.unwrap()[0].code.clone();
    let mut tokens = Vec::new();
    for i in 0..6 {
        tokens.push(citizen(&app, &format!("1390572{i:04}")).await);
    }
    let book = |token: String, slot: &'static str| {
        let app_base = app.url("/api/v1/citizen/appointments");
        let client = app.client.clone();
        let (queue, day) = (queue.clone(), day.clone());
        async move {
            client
                .post(app_base)
                .bearer_auth(token)
                .json(&json!({"queue": queue, "day": day, "slot": slot}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let results = futures::future::join_all(tokens.iter().map(|t| book(t.clone(), "09:30"))).await;
    assert_eq!(results.iter().filter(|s| **s == StatusCode::CREATED).count(), 4, "capacity 4: {results:?}");
    assert_eq!(results.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 2);
    let slots: Value = app.get_json(&format!("/api/v1/appointments/slots?queue={queue}&day={day}")).await;
    let s930 = slots["slots"].as_array().unwrap().iter().find(|s| s["slot"] == "09:30").unwrap().clone();
    assert_eq!((s930["booked"].as_i64(), s930["left"].as_i64()), (Some(4), Some(0)));
    // Bad input names its field.
    let r = app
        .client
        .post(app.url("/api/v1/citizen/appointments"))
        .bearer_auth(&tokens[0])
        .json(&json!({"queue": queue, "day": "2020-01-01", "slot": "09:10"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = r.json::<Value>().await.unwrap()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fields, ["day", "slot"]);

    // Check-in on the day: one of the four who got the 09:30 slot (which four is the race's choice).
    let who = results.iter().position(|s| *s == StatusCode::CREATED).unwrap();
    let mine = app.get_json_as(&tokens[who], "/api/v1/citizen/appointments").await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    let phone = PhoneNumber::parse(&format!("1390572{who:04}")).unwrap();
    let at = |hm: &str| {
        let local = chrono::NaiveDateTime::parse_from_str(&format!("{day} {hm}"), "%Y-%m-%d %H:%M").unwrap();
        (local - chrono::Duration::hours(8)).and_utc().timestamp_millis()
    };
    let lobby = onewindow_store::LobbySettings::default();
    let early = app.store.check_in_appointment_at(&place, &phone, &lobby, at("08:00")).await.unwrap_err();
    assert!(early.to_string().contains("08:30"), "{early}");
    let late = app.store.check_in_appointment_at(&place, &phone, &lobby, at("10:20")).await.unwrap_err();
    assert!(late.to_string().contains("请直接取号"), "{late}");
    let t = app.store.check_in_appointment_at(&place, &phone, &lobby, at("09:05")).await.unwrap();
    assert_eq!(t.priority.code(), "appointment");
    assert!(app.store.check_in_appointment_at(&place, &phone, &lobby, at("09:06")).await.is_err(), "once");
    let nobody = PhoneNumber::parse("13905729999").unwrap();
    assert!(matches!(
        app.store.check_in_appointment_at(&place, &nobody, &lobby, at("09:05")).await,
        Err(onewindow_store::StoreError::Invalid(_))
    ));
    // After the day, bookings never checked in are marked missed (housekeeping); the checked-in one stays.
    let after = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").unwrap() + chrono::Duration::days(1);
    assert_eq!(app.store.close_missed_appointments(after).await.unwrap(), 3);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM appointments WHERE state = 'checked_in'").await, 1);
    // Over HTTP, a number without a booking today is a clear 422 naming the phone.
    let r = app
        .client
        .post(app.url("/api/v1/appointments/check-in"))
        .json(&json!({"phone": "13905729999"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "phone");
}

backend_tests!(
    code_login_locks_out,
    codes_are_rate_limited_per_address,
    online_application_end_to_end,
    bad_uploads_store_nothing,
    a_citizen_sees_only_their_own,
    draft_then_correction,
    appointments_capacity_and_check_in,
);
