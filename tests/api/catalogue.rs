//! The catalogue through the API: search, item pages, edits as versions, import and export, coverage.

use crate::backend_tests;
use crate::helpers::{search_names, spawn_app, Db};
use reqwest::StatusCode;
use serde_json::{json, Value};

const SOCIAL_INSURANCE_NAMES: [&str; 2] = ["社会保险", "社保"];

fn is_social(v: &Value) -> bool {
    v["zone"] == "social" || SOCIAL_INSURANCE_NAMES.iter().any(|n| v["name"].as_str().unwrap_or_default().contains(n))
}

async fn search_finds_social_insurance_by_initials_pinyin_and_chinese(db: Db) {
    let app = spawn_app(db).await;
    for q in ["sb", "shebao", "社保"] {
        let v = app.get_json(&format!("/api/v1/items?q={}&limit=10", crate::helpers::urlencode(q))).await;
        let items = v["items"].as_array().unwrap();
        assert!(items.len() >= 5, "{q}: {v}");
        // The first results are social-insurance items, and the best is one whose own name says 社保.
        assert!(items[0]["name"].as_str().unwrap().contains("社保"), "{q}: first is {}", items[0]["name"]);
        for i in &items[..5] {
            assert!(is_social(i), "{q}: {} is not a social-insurance item", i["name"]);
        }
    }
    let hunyin = search_names(&app, "hunyin").await;
    assert!(hunyin[0].contains("婚姻"), "{hunyin:?}");
    assert!(hunyin.iter().filter(|n| n.contains("婚姻")).count() >= 2, "{hunyin:?}");
    // Initials of a whole name, and a substring.
    assert_eq!(search_names(&app, "zdshbz").await.first().map(String::as_str), Some("最低生活保障"));
    assert_eq!(search_names(&app, "生活保障").await.first().map(String::as_str), Some("最低生活保障"));
    assert!(search_names(&app, "qqqqzzzz").await.is_empty());
}

async fn search_filters_by_department_zone_trips_and_channel(db: Db) {
    let app = spawn_app(db).await;
    let v = app.get_json("/api/v1/items?zone=realestate&trip_level=0&limit=200").await;
    let items = v["items"].as_array().unwrap();
    assert_eq!(v["total"], 5, "the demo has 5 zero-trip real-estate items");
    assert!(items.iter().all(|i| i["zone"] == "realestate" && i["trip_level"] == 0));
    let v = app.get_json("/api/v1/items?department=mzj&limit=200").await;
    assert_eq!(v["total"], 15);
    let v = app.get_json("/api/v1/items?channel=village&limit=200").await;
    assert!(v["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["channels"].as_array().unwrap().contains(&json!("village"))));
    assert!(v["total"].as_u64().unwrap() >= 20);
    // A bad filter value is a clear 422 naming the field, not an empty list.
    let r = app.get("/api/v1/items?trip_level=7").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["field"], "trip_level");
    assert!(
        e["message"].as_str().unwrap().contains("跑动次数") && e["message_en"].as_str().unwrap().contains("trip level")
    );
    let r = app.get("/api/v1/items?colour=red").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn item_shows_what_to_prepare(db: Db) {
    let app = spawn_app(db).await;
    let v = app.get_json("/api/v1/items/MZJ-001").await;
    let item = &v["item"];
    assert_eq!(item["name"], "最低生活保障");
    assert_eq!(item["department_name"], "常山县民政局");
    assert_eq!(item["lowest_level"], "village");
    assert!(item["statutory_days"].as_u64().unwrap() >= item["promised_days"].as_u64().unwrap());
    let materials = item["materials"].as_array().unwrap();
    assert!(materials.iter().any(|m| m["name"].as_str().unwrap().contains("身份证") && m["key"] == true));
    assert!(!item["legal_basis"].as_str().unwrap().is_empty());
    assert_eq!(v["versions"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/api/v1/items/NOPE-404").await.status(), StatusCode::NOT_FOUND);
}

async fn an_edit_makes_a_new_version_and_keeps_the_old(db: Db) {
    let app = spawn_app(db).await;
    let token = app.login("admin").await;
    let mut item = app.get_json("/api/v1/items/MZJ-001").await["item"].clone();
    let old_promised = item["promised_days"].clone();
    item["promised_days"] = json!(3);
    item["name"] = json!("最低生活保障（城乡）");
    let r = app.client.put(app.url("/api/v1/items/MZJ-001")).bearer_auth(&token).json(&item).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let v = app.get_json("/api/v1/items/MZJ-001").await;
    assert_eq!(v["item"]["version"], 2);
    assert_eq!(v["item"]["promised_days"], 3);
    let old = app.get_json("/api/v1/items/MZJ-001/versions/1").await;
    assert_eq!(old["promised_days"], old_promised);
    assert_eq!(old["name"], "最低生活保障");
    // Search follows the edit.
    for _ in 0..100 {
        if search_names(&app, "城乡").await.iter().any(|n| n == "最低生活保障（城乡）") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(search_names(&app, "城乡").await.iter().any(|n| n == "最低生活保障（城乡）"));
    // Saving the same again is no new version.
    let r = app.client.put(app.url("/api/v1/items/MZJ-001")).bearer_auth(&token).json(&item).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get_json("/api/v1/items/MZJ-001").await["item"]["version"], 2);

    // An invalid edit says which field and why, and changes nothing.
    item["promised_days"] = json!(999);
    item["statutory_days"] = json!(2.5);
    let r = app.client.put(app.url("/api/v1/items/MZJ-001")).bearer_auth(&token).json(&item).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    let fields: Vec<&str> = e["errors"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"statutory_days"), "{e}");
    assert_eq!(app.get_json("/api/v1/items/MZJ-001").await["item"]["version"], 2);

    // Creating one with a code that exists is a conflict; a new code is created.
    item["statutory_days"] = json!(20);
    item["promised_days"] = json!(5);
    let r = app.client.post(app.url("/api/v1/items")).bearer_auth(&token).json(&item).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    item["code"] = json!("MZJ-900");
    let r = app.client.post(app.url("/api/v1/items")).bearer_auth(&token).json(&item).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    app.settle_catalogue(201).await;
}

/// An XLSX whose 7th row names an unknown department: refused naming row 7 and the column; nothing
/// changes.
async fn xlsx_import_with_a_bad_row_is_refused_whole(db: Db) {
    let app = spawn_app(db).await;
    let token = app.login("admin").await;
    let before =
        app.client.get(app.url("/api/v1/catalogue/export?format=json")).send().await.unwrap().bytes().await.unwrap();

    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let header = [
        "事项编码",
        "事项名称",
        "实施部门",
        "业务板块",
        "跑动次数",
        "办理渠道",
        "法定时限（工作日）",
        "承诺时限（工作日）",
        "申请材料",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    // Rows 2..=8 in Excel's numbering; row 7 (index 6) names a department that does not exist.
    for r in 1..8u32 {
        let department = if r == 6 { "火星管理局" } else { "民政局" };
        let cells = [
            format!("NEW-{r:03}"),
            format!("新事项{r}"),
            department.into(),
            "综合事务".into(),
            "1".into(),
            "窗口".into(),
        ];
        for (c, v) in cells.iter().enumerate() {
            sheet.write_string(r, c as u16, v).unwrap();
        }
        sheet.write_number(r, 6, 20.0).unwrap();
        sheet.write_number(r, 7, 5.0).unwrap();
        sheet.write_string(r, 8, "居民身份证|关键|原件|1").unwrap();
    }
    let bytes = book.save_to_buffer().unwrap();
    let r = app
        .client
        .post(app.url("/api/v1/catalogue/import?format=xlsx"))
        .bearer_auth(&token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    let errors = e["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{e}");
    assert_eq!(errors[0]["row"], 7);
    assert_eq!(errors[0]["column"], "C（实施部门）");
    assert!(errors[0]["zh"].as_str().unwrap().contains("火星管理局"));
    assert!(errors[0]["en"].as_str().unwrap().contains("does not exist"));

    let after =
        app.client.get(app.url("/api/v1/catalogue/export?format=json")).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(before, after, "the catalogue changed after a refused import");
    assert_eq!(app.get("/api/v1/items/NEW-001").await.status(), StatusCode::NOT_FOUND);
}

async fn export_and_import_round_trip_in_every_format(db: Db) {
    let app = spawn_app(db).await;
    let token = app.login("admin").await;
    for format in ["csv", "json", "xlsx"] {
        let bytes = app
            .client
            .get(app.url(&format!("/api/v1/catalogue/export?format={format}")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let r = app
            .client
            .post(app.url(&format!("/api/v1/catalogue/import?format={format}")))
            .bearer_auth(&token)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{format}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v,
            json!({"created": 0, "updated": 0, "unchanged": 200}),
            "{format}: an export imports back unchanged"
        );
    }
    // A CSV with a new item and a changed one.
    let csv = "事项编码,事项名称,实施部门,业务板块,跑动次数,办理渠道,法定时限（工作日）,承诺时限（工作日）\n\
               MZJ-001,最低生活保障,mzj,general,0,网上、窗口、村级代办,30,8\n\
               MZJ-950,困难群众临时生活补贴,民政局,综合事务,1,窗口,10,3\n";
    let r = app
        .client
        .post(app.url("/api/v1/catalogue/import"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"created": 1, "updated": 1, "unchanged": 0}));
    assert_eq!(app.get_json("/api/v1/items/MZJ-001").await["item"]["version"], 2);
}

/// The coverage report against a hand count of the demo data (counted from the demo file, not by
/// the code under test): 200 items, 82 zero-trip in 27 departments, 195 at most one trip.
async fn coverage_matches_a_hand_count(db: Db) {
    let app = spawn_app(db).await;
    let c = app.get_json("/api/v1/stats/coverage").await;
    assert_eq!(c["overall"]["items"], 200);
    assert_eq!(c["overall"]["zero_trip"], 82);
    assert_eq!(c["overall"]["at_most_one_trip"], 195);
    assert_eq!(c["overall"]["zero_trip_share"], 0.41);
    assert_eq!(c["overall"]["at_most_one_share"], 0.975);
    assert_eq!(c["departments_with_zero_trip"], 27);
    let zone = |code: &str| c["by_zone"].as_array().unwrap().iter().find(|r| r["code"] == code).unwrap().clone();
    assert_eq!((zone("general")["items"].clone(), zone("general")["zero_trip"].clone()), (json!(96), json!(36)));
    assert_eq!(zone("general")["at_most_one_trip"], 95);
    assert_eq!((zone("social")["items"].clone(), zone("social")["zero_trip"].clone()), (json!(21), json!(12)));
    assert_eq!(
        (zone("investment")["items"].clone(), zone("investment")["at_most_one_trip"].clone()),
        (json!(32), json!(28))
    );
    let mzj = c["by_department"].as_array().unwrap().iter().find(|r| r["code"] == "mzj").unwrap().clone();
    assert_eq!((mzj["items"].clone(), mzj["zero_trip"].clone()), (json!(15), json!(7)));
    assert_eq!(c["volume_weighted_zero_trip_share"], Value::Null, "no cases yet");
    // The page shows the same figure.
    let html = app.get("/stats/coverage").await.text().await.unwrap();
    assert!(html.contains("<strong id=\"zero\">82</strong>"));
}

backend_tests!(
    search_finds_social_insurance_by_initials_pinyin_and_chinese,
    search_filters_by_department_zone_trips_and_channel,
    item_shows_what_to_prepare,
    an_edit_makes_a_new_version_and_keeps_the_old,
    xlsx_import_with_a_bad_row_is_refused_whole,
    export_and_import_round_trip_in_every_format,
    coverage_matches_a_hand_count,
);
