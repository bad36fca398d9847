//! Data exchange (大数据交换): lookups for a case with the consumer's rights (fields or existence), a
//! material verified by the exchange (免证办), a refused lookup that is still recorded, a lookup that
//! waits for the provider's approval, the citizen's "who used my data" list, all-or-nothing CSV imports,
//! and records sealed at rest.

use crate::backend_tests;
use crate::helpers::{spawn_app, spawn_with, Db, TestApp};
use onewindow_store::seed::DemoStaff;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The married test citizen of the demo's exchange records.
const ZHANG: &str = "11010519491231002X";
/// A demo citizen with a disability certificate and 低保.
const LIU: &str = "330822197806120045";
const MZJ_006: [&str; 4] =
    ["居民身份证", "户口簿", "近期2寸半身免冠照片（补领结婚证须双方合影）", "婚姻登记档案证明（可经数据共享调取）"];
const ARCHIVE: &str = "婚姻登记档案证明（可经数据共享调取）";

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let r = app.client.post(app.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let r = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.json().await.unwrap()
}

/// 补领婚姻登记证 for 张三丰, the archive certificate missing (容缺受理).
async fn marriage_case(app: &TestApp, acceptor: &str) -> Value {
    let materials: Vec<Value> = MZJ_006
        .iter()
        .map(|n| json!({"name": n, "status": if *n == ARCHIVE { "missing" } else { "received" }}))
        .collect();
    let (status, c) = post(
        app,
        acceptor,
        "/api/v1/cases",
        json!({"item": "MZJ-006", "applicant": {"name": "张三丰", "id_number": ZHANG, "phone": "13800138000"},
               "materials": materials, "tolerant": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c
}

/// Fields for the front desk, existence for others, not found, a verified material on the checklist and
/// the timeline; a department without a right gets 403 and the attempt is recorded; the citizen's list
/// shows every lookup (and an unmasking) with its purpose.
async fn lookups_rights_and_data_use(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = app.login("acceptor").await;
    let c = marriage_case(&app, &acceptor).await;
    let id = c["id"].as_i64().unwrap();
    let path = format!("/api/v1/cases/{id}/lookups");

    // The front desk sees which services it may query, and how.
    let services = get(&app, &acceptor, "/api/v1/exchange/services").await;
    let mode = |code: &str| services.as_array().unwrap().iter().find(|s| s["code"] == code).unwrap()["my_mode"].clone();
    assert_eq!(
        (mode("marriage"), mode("household"), mode("real_estate")),
        (json!("fields"), json!("fields"), json!("exists"))
    );

    // Fields of the marriage record; the archive certificate becomes verified (免证办).
    let (status, l) = post(
        &app,
        &acceptor,
        &path,
        json!({"service": "marriage", "purpose": "补领结婚证，核实婚姻登记", "material": ARCHIVE}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{l}");
    assert_eq!(l["outcome"], "found");
    assert_eq!(l["result"]["fields"]["spouse_name"], "李秀英");
    assert_eq!(l["result"]["fields"]["status"], "已婚");
    assert!(l["fields"].as_array().unwrap().contains(&json!("certificate_no")));
    let case = get(&app, &acceptor, &format!("/api/v1/cases/{id}")).await;
    let m = case["materials"].as_array().unwrap().iter().find(|m| m["name"] == ARCHIVE).unwrap().clone();
    assert_eq!((m["status"].as_str(), m["verified_by"].as_str()), (Some("verified"), Some("婚姻登记记录（数据共享）")));
    assert!(
        case["timeline"].as_array().unwrap().iter().any(|t| t["action"] == "verify"),
        "the timeline has the verification"
    );

    // Existence only: a yes without fields, and a no.
    let (status, l) =
        post(&app, &acceptor, &path, json!({"service": "social_insurance", "purpose": "核实参保情况"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((l["outcome"].as_str(), l["result"].clone()), (Some("found"), json!({"exists": true})));
    assert_eq!(l["fields"], json!([]));
    let (_, l) = post(&app, &acceptor, &path, json!({"service": "real_estate", "purpose": "核实名下房产"})).await;
    assert_eq!((l["outcome"].as_str(), l["result"].clone()), (Some("not_found"), json!({"exists": false})));

    // A purpose is required; nothing is recorded then.
    let (status, _) = post(&app, &acceptor, &path, json!({"service": "marriage", "purpose": " "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // 民政局 holds no right on 营业执照: 403, and the attempt is recorded.
    let approver = app.login("approver").await;
    let (status, e) =
        post(&app, &approver, &path, json!({"service": "business_licence", "purpose": "看看有没有开公司"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    let lookups = get(&app, &approver, &path).await;
    let denied =
        lookups.as_array().unwrap().iter().find(|l| l["outcome"] == "denied").expect("the denied lookup is recorded");
    assert_eq!(
        (denied["service"].as_str(), denied["consumer_staff"].as_str()),
        (Some("business_licence"), Some("approver"))
    );
    assert_eq!(denied["result"], Value::Null);
    let events = app.store.events_after(0, 100_000).await.unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "exchange.lookup")
        .map(|e| e.data["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["found", "found", "not_found", "denied"]);
    let audit: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE action = 'exchange.lookup'")
        .fetch_one(&sqlx::AnyPool::connect(&app.store_url()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(audit, 4, "every lookup has its audit row");

    // An unmasking is listed too.
    let (status, _) =
        post(&app, &approver, &format!("/api/v1/cases/{id}/unmask"), json!({"purpose": "电话核实补领原因"})).await;
    assert_eq!(status, StatusCode::OK);

    // The citizen's list, by the tracking token, without logging in.
    let token = c["track_token"].as_str().unwrap();
    let v = app.get_json(&format!("/api/v1/track/{token}/data-use")).await;
    assert_eq!(v["case_number"], c["number"]);
    let uses = v["uses"].as_array().unwrap();
    assert_eq!(uses.len(), 5, "{v}");
    let purposes: Vec<&str> = uses.iter().map(|u| u["purpose"].as_str().unwrap()).collect();
    for p in ["补领结婚证，核实婚姻登记", "核实参保情况", "核实名下房产", "看看有没有开公司", "电话核实补领原因"]
    {
        assert!(purposes.contains(&p), "{p} in {purposes:?}");
    }
    let denied = uses.iter().find(|u| u["outcome"] == "denied").unwrap();
    assert_eq!((denied["department_name"].as_str(), denied["what"].as_str()), (Some("常山县民政局"), Some("营业执照")));
    let found = uses.iter().find(|u| u["what"] == "婚姻登记记录").unwrap();
    assert_eq!(found["department_name"], "常山县行政服务中心");
    assert_eq!(uses.iter().filter(|u| u["kind"] == "unmask").count(), 1);
    let text = v.to_string();
    assert!(!text.contains("李秀英") && !text.contains(ZHANG), "the list shows uses, never the data");
    // The page too.
    let page = app.get(&format!("/track/{token}/data-use")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("看看有没有开公司") && html.contains("常山县民政局"));
    assert_eq!(app.get("/api/v1/track/nosuchtoken/data-use").await.status(), StatusCode::NOT_FOUND);
    // Another citizen's lookups are not on this list.
    let other = post(
        &app,
        &acceptor,
        "/api/v1/cases",
        json!({"item": "MZJ-006", "applicant": {"name": "王建国", "id_number": "330822198503150014"},
               "materials": MZJ_006.iter().map(|n| json!({"name": n, "status": "received"})).collect::<Vec<_>>()}),
    )
    .await
    .1;
    let (status, _) = post(
        &app,
        &acceptor,
        &format!("/api/v1/cases/{}/lookups", other["id"]),
        json!({"service": "marriage", "purpose": "另一位群众"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v = app.get_json(&format!("/api/v1/track/{token}/data-use")).await;
    assert_eq!(v["uses"].as_array().unwrap().len(), 5);
}

/// 残疾人证 needs the provider's approval: 202 pending, only the provider's approver decides, then the
/// consumer sees the result.
async fn approval_required(db: Db) {
    let app = spawn_with(db, |c| {
        c.staff.push(DemoStaff {
            username: "canlian".into(),
            display_name: "残联审核员".into(),
            role: "approver".into(),
            department: Some("cl".into()),
            place: "330822".into(),
        })
    })
    .await;
    let acceptor = app.login("acceptor").await;
    let materials: Vec<Value> = [
        "居民身份证",
        "户口簿",
        "特困人员救助供养申请书",
        "本人及法定义务人履行能力情况说明",
        "残疾人证（残疾人申请时提供）",
    ]
    .iter()
    .map(|n| json!({"name": n, "status": if n.starts_with("残疾人证") { "missing" } else { "received" }}))
    .collect();
    let (status, c) = post(
        &app,
        &acceptor,
        "/api/v1/cases",
        json!({"item": "MZJ-002", "applicant": {"name": "刘桂芳", "id_number": LIU}, "materials": materials, "tolerant": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let id = c["id"].as_i64().unwrap();
    let approver = app.login("approver").await;
    let (status, l) = post(
        &app,
        &approver,
        &format!("/api/v1/cases/{id}/lookups"),
        json!({"service": "disability", "purpose": "特困供养审核残疾等级", "material": "残疾人证（残疾人申请时提供）"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{l}");
    assert_eq!(l["outcome"], "pending");
    assert!(l["due_on"].as_str().is_some());
    assert_eq!(l["result"], Value::Null);
    let lid = l["id"].as_i64().unwrap();

    let canlian = app.login("canlian").await;
    let pending = get(&app, &canlian, "/api/v1/exchange/lookups").await;
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(pending[0]["purpose"], "特困供养审核残疾等级");
    let other = app.login("approver2").await;
    let decision = format!("/api/v1/exchange/lookups/{lid}/decision");
    let (status, _) = post(&app, &other, &decision, json!({"approve": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another department cannot decide");
    let (status, _) = post(&app, &approver, &decision, json!({"approve": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nor the consumer");
    let (status, d) = post(&app, &canlian, &decision, json!({"approve": true, "comment": "同意"})).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!((d["outcome"].as_str(), d["approved_by"].as_str()), (Some("found"), Some("canlian")));
    let (status, _) = post(&app, &canlian, &decision, json!({"approve": false, "comment": "重复"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "decided once");

    let lookups = get(&app, &approver, &format!("/api/v1/cases/{id}/lookups")).await;
    assert_eq!(lookups[0]["result"]["fields"]["grade"], "二级");
    let case = get(&app, &approver, &format!("/api/v1/cases/{id}")).await;
    let m = case["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "残疾人证（残疾人申请时提供）")
        .unwrap()
        .clone();
    assert_eq!((m["status"].as_str(), m["verified_by"].as_str()), (Some("verified"), Some("残疾人证（数据共享）")));

    // A second one, rejected with a reason.
    let (status, l) = post(
        &app,
        &approver,
        &format!("/api/v1/cases/{id}/lookups"),
        json!({"service": "disability", "purpose": "复核"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let decision = format!("/api/v1/exchange/lookups/{}/decision", l["id"]);
    let (status, _) = post(&app, &canlian, &decision, json!({"approve": false})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a rejection needs a reason");
    let (_, d) = post(&app, &canlian, &decision, json!({"approve": false, "comment": "已查询过，无需重复"})).await;
    assert_eq!((d["outcome"].as_str(), d["result"].clone()), (Some("rejected"), Value::Null));

    let v = app.get_json(&format!("/api/v1/track/{}/data-use", c["track_token"].as_str().unwrap())).await;
    let outcomes: Vec<&str> = v["uses"].as_array().unwrap().iter().map(|u| u["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["rejected", "found"], "newest first");
}

/// The provider imports a sheet: any bad row refuses the whole file with every row and column; the
/// front desk may not put records; one record through the API; admins define services and rights.
async fn csv_import_all_or_nothing(db: Db) {
    let app = spawn_app(db).await;
    let rlsbj = app.login("approver2").await;
    let records = |app: &TestApp, token: String| {
        let app_url = app.url("/api/v1/exchange/services");
        let client = app.client.clone();
        async move {
            let v: Value = client.get(app_url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
            v.as_array().unwrap().iter().find(|s| s["code"] == "social_insurance").unwrap()["records"].as_i64().unwrap()
        }
    };
    let before = records(&app, rlsbj.clone()).await;
    let url = app.url("/api/v1/exchange/services/social_insurance/records?format=csv");
    let bad = "id_number,参保状态,types,salary\n330822199001010032,参保缴费,职工基本养老保险\n330822199001010033,参保缴费,x\n330822199001010032,暂停,y\n";
    let r = app.client.post(&url).bearer_auth(&rlsbj).body(bad).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    let errs = e["errors"].as_array().unwrap();
    let at: Vec<(i64, &str)> =
        errs.iter().map(|x| (x["row"].as_i64().unwrap(), x["column"].as_str().unwrap_or(""))).collect();
    assert!(at.contains(&(1, "D（salary）")), "{at:?}");
    assert!(at.contains(&(3, "A（id_number）")), "bad check digit: {at:?}");
    assert!(at.contains(&(4, "A（id_number）")), "duplicate: {at:?}");
    assert_eq!(records(&app, rlsbj.clone()).await, before, "nothing written");

    let good = "id_number,参保状态,types,since\n330822199001010032,参保缴费,职工基本养老保险,2012-07\n330822197211200054,参保缴费,城乡居民基本养老保险,\n";
    let r = app.client.post(&url).bearer_auth(&rlsbj).body(good).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["records"], 2);
    assert_eq!(records(&app, rlsbj.clone()).await, before + 2);

    // The front desk is not the provider.
    let acceptor = app.login("acceptor").await;
    let r = app.client.post(&url).bearer_auth(&acceptor).body(good).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // One record by JSON; an unknown field is refused.
    let path = "/api/v1/exchange/services/social_insurance/records";
    let (status, _) = post(
        &app,
        &rlsbj,
        path,
        json!({"id_number": "330822199001010032", "data": {"status": "暂停缴费", "salary": "1"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) =
        post(&app, &rlsbj, path, json!({"id_number": "330822199001010032", "data": {"status": "暂停缴费"}})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(records(&app, rlsbj.clone()).await, before + 2, "replaced, not added");

    // Admins define services and rights; others may not.
    let admin = app.login("admin").await;
    let put =
        |token: &str, path: &str, body: Value| app.client.put(app.url(path)).bearer_auth(token).json(&body).send();
    let svc = json!({"name": "公积金缴存记录", "provider_department": "rlsbj", "fields": [{"name": "status", "label": "缴存状态"}]});
    assert_eq!(
        put(&rlsbj, "/api/v1/exchange/services/fund", svc.clone()).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(put(&admin, "/api/v1/exchange/services/fund", svc).await.unwrap().status(), StatusCode::NO_CONTENT);
    let right = json!({"consumer_department": "mzj", "service": "fund", "mode": "fields", "fields": ["nope"]});
    assert_eq!(put(&admin, "/api/v1/exchange/rights", right).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    let right = json!({"consumer_department": "mzj", "service": "fund", "mode": "fields", "fields": ["status"]});
    assert_eq!(put(&admin, "/api/v1/exchange/rights", right).await.unwrap().status(), StatusCode::NO_CONTENT);
    let approver = app.login("approver").await;
    let services = get(&app, &approver, "/api/v1/exchange/services").await;
    let fund = services.as_array().unwrap().iter().find(|s| s["code"] == "fund").unwrap().clone();
    assert_eq!((fund["my_mode"].as_str(), fund["my_fields"].clone()), (Some("fields"), json!(["status"])));
    let revoke = json!({"consumer_department": "mzj", "service": "fund", "mode": "none"});
    assert_eq!(put(&admin, "/api/v1/exchange/rights", revoke).await.unwrap().status(), StatusCode::NO_CONTENT);
    let services = get(&app, &approver, "/api/v1/exchange/services").await;
    assert_eq!(services.as_array().unwrap().iter().find(|s| s["code"] == "fund").unwrap()["my_mode"], Value::Null);
}

/// Exchange records and results are sealed: no ID number or record content in plaintext at rest.
async fn records_sealed_at_rest(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = app.login("acceptor").await;
    let c = marriage_case(&app, &acceptor).await;
    let (status, _) = post(
        &app,
        &acceptor,
        &format!("/api/v1/cases/{}/lookups", c["id"]),
        json!({"service": "marriage", "purpose": "核实婚姻登记", "material": ARCHIVE}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let rlsbj = app.login("approver2").await;
    let r = app
        .client
        .post(app.url("/api/v1/exchange/services/social_insurance/records?format=csv"))
        .bearer_auth(&rlsbj)
        .body("id_number,status\n330822199001010032,参保缴费\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let needles = [ZHANG, LIU, "330822198503150014", "330822199001010032", "李秀英", "J330822-1975-000123"];
    match db {
        Db::Sqlite => {
            app.store.close().await;
            let mut found = Vec::new();
            for entry in std::fs::read_dir(&app.dir).unwrap() {
                let path = entry.unwrap().path();
                // SQLite removes its -wal and -shm files as the last connection closes (their content is then in
                // the database file): a file that is gone holds nothing.
                let bytes = match std::fs::read(&path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => panic!("reading {}: {e}", path.display()),
                };
                for needle in needles {
                    if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                        found.push(format!("{} in {}", needle, path.display()));
                    }
                }
            }
            assert!(found.is_empty(), "{found:?}");
        }
        Db::Postgres => {
            let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
            let columns: Vec<(String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'text'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            assert!(columns.iter().any(|(t, _)| t == "exchange_records"));
            for (table, column) in columns {
                for needle in needles {
                    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {column} LIKE $1"))
                        .bind(format!("%{needle}%"))
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    assert_eq!(n, 0, "{needle} in {table}.{column}");
                }
            }
        }
    }
}

backend_tests!(lookups_rights_and_data_use, approval_required, csv_import_all_or_nothing, records_sealed_at_rest);
