//! One installation, two counties: each sees only its own.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db, TestApp};
use onewindow_store::seed::{DemoCounty, DemoStaff, DEMO_PASSWORD};
use onewindow_store::{Department, Place, Window};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn kaihua() -> DemoCounty {
    let demo = crate::helpers::demo();
    let place = |code: &str, name: &str, level, parent: Option<&str>| Place {
        code: code.into(),
        name: name.into(),
        name_en: String::new(),
        level,
        parent: parent.map(str::to_string),
    };
    use onewindow_core::place::PlaceLevel::*;
    DemoCounty {
        places: vec![
            place("330000", "浙江省", Province, None),
            place("330800", "衢州市", City, Some("330000")),
            place("330824", "开化县", County, Some("330800")),
            place("330824001", "华埠镇", Township, Some("330824")),
            place("330824001201", "华东村", Village, Some("330824001")),
        ],
        zones: demo.zones.clone(),
        departments: vec![Department {
            id: 0,
            place: String::new(),
            code: "mzj".into(),
            name: "开化县民政局".into(),
            short_name: "民政局".into(),
            name_en: String::new(),
        }],
        windows: vec![Window {
            id: 0,
            place: String::new(),
            code: "A1".into(),
            name: "综合受理 A1".into(),
            zone: "general".into(),
            general: true,
            active: true,
        }],
        items: vec![serde_json::from_value(json!({"code": "KH-MZJ-001", "name": "最低生活保障", "department": "mzj",
            "zone": "general", "trip_level": 0, "channels": ["online", "window"], "statutory_days": 30, "promised_days": 10}))
        .unwrap()],
        staff: vec![DemoStaff {
            username: "kh_admin".into(),
            display_name: "开化管理员".into(),
            role: "admin".into(),
            department: None,
            place: "330824".into(),
        }],
        item_flows: Default::default(),
    }
}

async fn two_counties(db: Db) -> TestApp {
    let app = spawn_app(db).await;
    app.store.load_county(&kaihua(), DEMO_PASSWORD).await.unwrap();
    app
}

async fn each_county_sees_only_its_own(db: Db) {
    let app = two_counties(db).await;
    // The installation's own county is Changshan; Kaihua's catalogue is asked for by place.
    let changshan = app.get_json("/api/v1/items?q=低保&limit=200").await;
    assert!(changshan["items"].as_array().unwrap().iter().all(|i| i["place"] == "330822"));
    for _ in 0..100 {
        if app.get_json("/api/v1/items?place=330824").await["total"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let kh = app.get_json("/api/v1/items?place=330824&limit=200").await;
    assert_eq!(kh["total"], 1);
    assert_eq!(kh["items"][0]["code"], "KH-MZJ-001");
    assert_eq!(app.get_json("/api/v1/items?limit=1").await["total"], 200);

    let deps = app.get_json("/api/v1/departments?place=330824").await;
    assert_eq!(deps.as_array().unwrap().len(), 1);
    assert_eq!(deps[0]["name"], "开化县民政局");
    let places = app.get_json("/api/v1/places?place=330824").await;
    assert!(places.as_array().unwrap().iter().all(|p| p["code"].as_str().unwrap().starts_with("330824")));
    assert_eq!(app.get_json("/api/v1/stats/coverage?place=330824").await["overall"]["items"], 1);
    assert_eq!(app.get_json("/api/v1/windows?place=330824").await.as_array().unwrap().len(), 1);

    // Each admin sees and changes only their own county.
    let kh_admin = app.login("kh_admin").await;
    let staff: Value =
        app.client.get(app.url("/api/v1/staff")).bearer_auth(&kh_admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        staff.as_array().unwrap().iter().map(|s| s["username"].as_str().unwrap()).collect::<Vec<_>>(),
        vec!["kh_admin"]
    );
    let cs_admin = app.login("admin").await;
    let staff: Value =
        app.client.get(app.url("/api/v1/staff")).bearer_auth(&cs_admin).send().await.unwrap().json().await.unwrap();
    assert!(staff.as_array().unwrap().iter().all(|s| s["place"].as_str().unwrap().starts_with("330822")));
    assert!(staff.as_array().unwrap().len() >= 9);

    let item = app.get_json("/api/v1/items/MZJ-001").await["item"].clone();
    let r = app.client.put(app.url("/api/v1/items/MZJ-001")).bearer_auth(&kh_admin).json(&item).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .client
        .post(app.url("/api/v1/catalogue/import?format=csv&place=330822"))
        .bearer_auth(&kh_admin)
        .body("事项编码,事项名称,实施部门,业务板块\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .client
        .post(app.url("/api/v1/staff"))
        .bearer_auth(&kh_admin)
        .json(&json!({"username": "spy", "display_name": "x", "password": "long-enough-1", "role": "admin", "place": "330822"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // An item code belongs to one county: Kaihua cannot take over Changshan's code by import.
    let r = app
        .client
        .post(app.url("/api/v1/catalogue/import?format=csv"))
        .bearer_auth(&kh_admin)
        .body("事项编码,事项名称,实施部门,业务板块,跑动次数,法定时限（工作日）,承诺时限（工作日）\nMZJ-001,抢注,mzj,general,1,5,5\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(app.get_json("/api/v1/items/MZJ-001").await["item"]["name"], "最低生活保障");
}

backend_tests!(each_county_sees_only_its_own);
