//! The dashboard's figures come from counters kept as events commit; each equals a direct count.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn figures_equal_direct_counts(db: Db) {
    let app = spawn_app(db).await;
    let acceptor = app.login("acceptor").await;
    let approver = app.login("approver").await;
    let post = |token: &str, path: &str, body: Value| {
        app.client.post(app.url(path)).bearer_auth(token.to_string()).json(&body).send()
    };
    for _ in 0..5 {
        post(&acceptor, "/api/v1/tickets", json!({"queue": "general"})).await.unwrap();
    }
    post(&acceptor, "/api/v1/tickets", json!({"queue": "social"})).await.unwrap();
    // Two served, one no-show.
    for w in ["A1", "A2"] {
        post(&acceptor, &format!("/api/v1/windows/{w}/call-next"), json!({})).await.unwrap();
        post(&acceptor, &format!("/api/v1/windows/{w}/start"), json!({})).await.unwrap();
    }
    post(&acceptor, "/api/v1/windows/A2/finish", json!({})).await.unwrap();
    post(&acceptor, "/api/v1/windows/A3/call-next", json!({})).await.unwrap();
    for _ in 0..2 {
        post(&acceptor, "/api/v1/windows/A3/recall", json!({})).await.unwrap();
    }
    post(&acceptor, "/api/v1/windows/A3/no-show", json!({})).await.unwrap();
    // Three cases at A1 (the served ticket is the visit); one closes electronically, one is rejected.
    let materials: Vec<Value> = [
        "居民身份证",
        "户口簿",
        "特困人员救助供养申请书",
        "本人及法定义务人履行能力情况说明",
        "残疾人证（残疾人申请时提供）",
    ]
    .iter()
    .map(|n| json!({"name": n, "status": "received"}))
    .collect();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let c: Value = post(
            &acceptor,
            "/api/v1/cases",
            json!({"item": "MZJ-002", "applicant": {"name": "王五"}, "materials": materials, "window": "A1"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        ids.push(c["id"].as_i64().unwrap());
    }
    post(&approver, &format!("/api/v1/cases/{}/actions", ids[0]), json!({"action": "approve"})).await.unwrap();
    post(&acceptor, &format!("/api/v1/cases/{}/actions", ids[0]), json!({"action": "download"})).await.unwrap();
    post(&approver, &format!("/api/v1/cases/{}/actions", ids[1]), json!({"action": "reject", "comment": "不符合条件"}))
        .await
        .unwrap();

    let leader = app.login("leader").await;
    let r = app.client.get(app.url("/api/v1/dashboard")).bearer_auth(&leader).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let d: Value = r.json().await.unwrap();
    let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    assert_eq!(d["today"]["tickets_issued"], count("SELECT COUNT(*) FROM tickets").await);
    assert_eq!(d["today"]["tickets_served"], count("SELECT COUNT(*) FROM tickets WHERE status = 'done'").await);
    assert_eq!(d["today"]["tickets_no_show"], count("SELECT COUNT(*) FROM tickets WHERE status = 'no_show'").await);
    assert_eq!(d["today"]["cases_accepted"], count("SELECT COUNT(*) FROM cases").await);
    assert_eq!(d["today"]["cases_closed"], count("SELECT COUNT(*) FROM cases WHERE closed_at IS NOT NULL").await);
    assert_eq!(d["closed_cases"], 2);
    let trips: i64 = count("SELECT CAST(SUM(trips) AS BIGINT) FROM cases WHERE closed_at IS NOT NULL").await;
    assert_eq!(d["trips_per_closed_case"].as_f64().unwrap(), trips as f64 / 2.0);
    assert_eq!(d["closed_with_zero_trips_share"], 0.0, "window cases are one trip each");
    assert_eq!(d["closed_with_at_most_one_trip_share"], 1.0);
    let mzj = d["departments"].as_array().unwrap().iter().find(|x| x["department"] == "常山县民政局").unwrap().clone();
    assert_eq!(
        (mzj["accepted"].as_i64(), mzj["closed"].as_i64(), mzj["on_time"].as_i64()),
        (Some(3), Some(2), Some(2))
    );
    assert_eq!(
        mzj["overdue_open"],
        count("SELECT COUNT(*) FROM cases WHERE closed_at IS NULL AND due_on < '2000-01-01'").await
    );
    assert_eq!(d["zero_trip_volume_share"], 1.0, "MZJ-002 is a zero-trip item");
    let waiting_general =
        d["queues"].as_array().unwrap().iter().find(|q| q["code"] == "general").unwrap()["waiting"].clone();
    assert_eq!(waiting_general, count("SELECT COUNT(*) FROM tickets t JOIN queues q ON q.id = t.queue_id WHERE q.code = 'general' AND t.status = 'waiting'").await);
    assert_eq!(d["windows_busy"], 1, "A1 still serves its ticket");
    assert_eq!(d["trend"].as_array().unwrap().len(), 30);
    assert_eq!(d["townships"][0][2], 3);
    // The page shows the same figures.
    let r = app
        .client
        .post(app.url("/login"))
        .form(&[("username", "leader"), ("password", onewindow_store::seed::DEMO_PASSWORD), ("next", "/dashboard")])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let html =
        app.client.get(app.url("/dashboard")).header("cookie", cookie).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"departments\"") && html.contains("常山县民政局"), "{html}");
    assert!(html.contains(&format!("取号 <strong>{}</strong>", d["today"]["tickets_issued"])), "{html}");
    // Leaders only.
    let r = app.client.get(app.url("/api/v1/dashboard")).bearer_auth(&acceptor).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

backend_tests!(figures_equal_direct_counts);
