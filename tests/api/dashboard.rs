//! The dashboard's figures come from counters kept as events commit; each equals a direct count.

use crate::backend_tests;
use crate::helpers::{mzj_002_materials, spawn_app, Db, TestApp};
use onewindow_core::sheet::{read_grid, Format};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Tickets (five general, one social; two served, one no-show) and three cases (one closed, one
/// rejected), as in a morning at the hall.
async fn a_morning(app: &TestApp) {
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
    let materials = mzj_002_materials();
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
    // One case accepted in a village by its clerk (不出村).
    let clerk = app.login("clerk").await;
    let village: Vec<Value> =
        ["居民身份证", "户口簿", "最低生活保障申请书", "家庭经济状况核对授权书", "家庭收入和财产状况说明"]
            .iter()
            .map(|n| json!({"name": n, "status": "received"}))
            .collect();
    let r = app
        .client
        .post(app.url("/api/v1/cases"))
        .bearer_auth(&clerk)
        .json(&json!({"item": "MZJ-001", "applicant": {"name": "毛大伯"}, "materials": village}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED, "{}", r.text().await.unwrap());
    post(&approver, &format!("/api/v1/cases/{}/actions", ids[0]), json!({"action": "approve"})).await.unwrap();
    post(&acceptor, &format!("/api/v1/cases/{}/actions", ids[0]), json!({"action": "download"})).await.unwrap();
    post(&approver, &format!("/api/v1/cases/{}/actions", ids[1]), json!({"action": "reject", "comment": "不符合条件"}))
        .await
        .unwrap();
}

async fn figures_equal_direct_counts(db: Db) {
    let app = spawn_app(db).await;
    a_morning(&app).await;
    let acceptor = app.login("acceptor").await;
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
    let mzj_accepted =
        count("SELECT COUNT(*) FROM cases c JOIN departments d ON d.id = c.department_id WHERE d.code = 'mzj'").await;
    assert_eq!(mzj_accepted, 4, "three at the window, one in the village");
    assert_eq!(
        (mzj["accepted"].as_i64(), mzj["closed"].as_i64(), mzj["on_time"].as_i64()),
        (Some(mzj_accepted), Some(2), Some(2))
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
    // The village's case counts for its village, as a direct count says.
    assert_eq!(d["villages"][0][0], "330822001201");
    assert_eq!(d["villages"][0][2], count("SELECT COUNT(*) FROM cases WHERE place_code = '330822001201'").await);
    assert_eq!(
        d["villages"].as_array().unwrap().len() as i64,
        count("SELECT COUNT(DISTINCT place_code) FROM cases WHERE LENGTH(place_code) = 12").await
    );
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

/// A JSON value as the sheet shows it: integers and decimals as written, none as an empty cell.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() => n.to_string(),
        Value::Number(n) => format!("{}", n.as_f64().unwrap()),
        other => other.to_string(),
    }
}

/// The rows a figure should hold, read from the dashboard's JSON.
fn expected_rows(d: &Value, figure: &str) -> Vec<Vec<String>> {
    let row = |v: &Value, keys: &[&str]| keys.iter().map(|k| cell(&v[*k])).collect::<Vec<_>>();
    let each = |list: &Value, keys: &[&str]| list.as_array().unwrap().iter().map(|v| row(v, keys)).collect::<Vec<_>>();
    let days = ["day", "tickets_issued", "tickets_served", "tickets_no_show", "cases_accepted", "cases_closed"];
    match figure {
        "hall" => vec![row(d, &["windows_open", "windows_busy", "windows_paused", "longest_wait_minutes"])],
        "queues" => d["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                vec![
                    format!("{} {}", cell(&q["prefix"]), cell(&q["name"])),
                    cell(&q["waiting"]),
                    cell(&q["longest_wait_minutes"]),
                ]
            })
            .collect(),
        "today" => vec![row(&d["today"], &days)],
        "trips" => vec![row(
            d,
            &[
                "zero_trip_item_share",
                "zero_trip_volume_share",
                "closed_cases",
                "trips_per_closed_case",
                "closed_with_zero_trips_share",
                "closed_with_at_most_one_trip_share",
            ],
        )],
        "departments" => each(
            &d["departments"],
            &["department", "accepted", "closed", "on_time", "late", "on_time_share", "overdue_open"],
        ),
        "load" => each(&d["department_load"], &["name", "served", "mean_service_minutes", "service_minutes"]),
        "balance" => {
            vec![row(&d["load_balance"], &["busiest", "busiest_minutes", "idlest", "idlest_minutes", "ratio"])]
        }
        "villages" => {
            d["villages"].as_array().unwrap().iter().map(|t| t.as_array().unwrap().iter().map(cell).collect()).collect()
        }
        "townships" => d["townships"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_array().unwrap().iter().map(cell).collect())
            .collect(),
        "trend" => each(&d["trend"], &days),
        other => panic!("no expectation for {other}"),
    }
}

async fn every_figure_downloads_as_csv_and_xlsx(db: Db) {
    let app = spawn_app(db).await;
    a_morning(&app).await;
    let leader = app.login("leader").await;
    let d: Value =
        app.client.get(app.url("/api/v1/dashboard")).bearer_auth(&leader).send().await.unwrap().json().await.unwrap();
    assert!(!d["department_load"].as_array().unwrap().is_empty(), "a ticket was served today: {d}");
    for figure in
        ["hall", "queues", "today", "trips", "departments", "load", "balance", "townships", "villages", "trend"]
    {
        let want = expected_rows(&d, figure);
        assert!(!want.is_empty(), "{figure} has rows");
        for (ext, format) in [("csv", Format::Csv), ("xlsx", Format::Xlsx)] {
            let r = app
                .client
                .get(app.url(&format!("/api/v1/dashboard/figures/{figure}.{ext}")))
                .bearer_auth(&leader)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{figure}.{ext}");
            let disposition = r.headers()["content-disposition"].to_str().unwrap().to_string();
            assert!(disposition.contains(&format!("-{figure}.{ext}")), "{disposition}");
            let grid = read_grid(format, &r.bytes().await.unwrap()).unwrap();
            assert_eq!(grid.len(), want.len() + 1, "{figure}.{ext}: a header and one row per entry: {grid:?}");
            assert!(grid[0].iter().all(|h| !h.is_empty()), "{figure}.{ext} header {:?}", grid[0]);
            assert_eq!(grid[1..], want[..], "{figure}.{ext} equals the JSON figure");
        }
    }
    // English headers on request.
    let r = app
        .client
        .get(app.url("/api/v1/dashboard/figures/today.csv?lang=en"))
        .bearer_auth(&leader)
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().starts_with("Day,Tickets"));
    // Wrong names, formats, places and callers: clear 4xx, never a 500.
    for (path, status, field) in [
        ("/api/v1/dashboard/figures/nothing.csv", StatusCode::NOT_FOUND, None),
        ("/api/v1/dashboard/figures/trend.pdf", StatusCode::BAD_REQUEST, Some("file")),
        ("/api/v1/dashboard/figures/trend.csv?place=33", StatusCode::UNPROCESSABLE_ENTITY, Some("place")),
        ("/api/v1/dashboard/figures/trend.csv?place=abc", StatusCode::UNPROCESSABLE_ENTITY, Some("place")),
        ("/api/v1/dashboard/figures/trend.csv?place=330823", StatusCode::FORBIDDEN, None),
    ] {
        let r = app.client.get(app.url(path)).bearer_auth(&leader).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(body["message"].is_string() && body["message_en"].is_string(), "{path}: {body}");
        if let Some(f) = field {
            assert_eq!(body["field"], f, "{path}: {body}");
        }
    }
    let acceptor = app.login("acceptor").await;
    let r = app.client.get(app.url("/api/v1/dashboard/figures/trend.csv")).bearer_auth(&acceptor).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.client.get(app.url("/api/v1/dashboard/figures/trend.csv")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// Reads SSE events from a response until one named `name` whose data satisfies `ok`.
async fn next_event(r: &mut reqwest::Response, buf: &mut String, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
    // A guard against hanging, not a timing assertion: the event comes within milliseconds.
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                if !event.lines().any(|l| l == format!("event: {name}")) {
                    continue;
                }
                let data: String = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: ").or(l.strip_prefix("data:")))
                    .collect::<Vec<_>>()
                    .join("\n");
                let v: Value = serde_json::from_str(&data).unwrap_or(Value::String(data));
                if ok(&v) {
                    return v;
                }
            }
            let chunk = r.chunk().await.unwrap().expect("the stream ended");
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {name} event came"))
}

async fn the_stream_sends_a_new_snapshot_when_a_ticket_is_issued(db: Db) {
    let app = spawn_app(db).await;
    let leader = app.login("leader").await;
    let mut r = app.client.get(app.url("/api/v1/dashboard/events")).bearer_auth(&leader).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut buf = String::new();
    let first = next_event(&mut r, &mut buf, "snapshot", |_| true).await;
    assert_eq!(first["today"]["tickets_issued"], 0);
    let t = app.client.post(app.url("/api/v1/tickets")).json(&json!({"queue": "general"})).send().await.unwrap();
    assert!(t.status().is_success());
    let next = next_event(&mut r, &mut buf, "snapshot", |v| v["today"]["tickets_issued"] == 1).await;
    let general = next["queues"].as_array().unwrap().iter().find(|q| q["code"] == "general").unwrap().clone();
    assert_eq!(general["waiting"], 1, "the snapshot shows the new ticket waiting");
    // The page's stream sends the rendered figures.
    let html = app.client.get(app.url("/dashboard/live")).bearer_auth(&leader).send().await.unwrap();
    assert_eq!(html.status(), StatusCode::OK);
    let mut page_stream = html;
    let mut buf = String::new();
    let fragment = next_event(&mut page_stream, &mut buf, "html", |_| true).await;
    assert!(fragment.as_str().unwrap().contains("取号 <strong>1</strong>"), "{fragment}");
    // Leaders and admins only; nobody signed in gets 401.
    let acceptor = app.login("acceptor").await;
    let r = app.client.get(app.url("/api/v1/dashboard/events")).bearer_auth(&acceptor).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/dashboard/live").await.status(), StatusCode::UNAUTHORIZED);
}

async fn the_simulation_page_compares_layouts(db: Db) {
    let app = spawn_app(db).await;
    let leader = app.login("leader").await;
    let page = |q: &'static str| app.client.get(app.url(&format!("/simulate{q}"))).bearer_auth(leader.clone()).send();
    let r = page("?arrivals=20,30,40&departments=3&service_minutes=9&replications=50").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    for needle in [
        "id=\"sim-results\"",
        "综合窗口（一个队列）",
        "分部门窗口（每部门一个队列）",
        "id=\"sim-erlang\"",
        "class=\"sim-wait\"",
    ] {
        assert!(html.contains(needle), "{needle} in {html}");
    }
    let r = page("?arrivals=20,x&service_minutes=-1&windows=3").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("每小时到达人数") && html.contains("平均办理时间"), "{html}");
    let acceptor = app.login("acceptor").await;
    let r = app.client.get(app.url("/simulate")).bearer_auth(&acceptor).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// `onewindow generate` writes cases outside the write path; its counters must still equal what the
/// cases say, figure by figure.
async fn generated_cases_equal_their_counters(db: Db) {
    let (store, dir, url) = crate::helpers::fresh_store(db).await;
    store.load_county(&crate::helpers::demo(), onewindow_store::seed::DEMO_PASSWORD).await.unwrap();
    let opts = onewindow_store::GenerateOptions {
        county: onewindow_core::place::PlaceCode::parse("330822").unwrap(),
        cases: 3000,
        days: 45,
        seed: 7,
        batch: 100,
        rows_per_commit: 1000,
    };
    let report = store.generate_cases(&opts, |_| {}).await.unwrap();
    assert_eq!(report.cases, 3000);
    let app = crate::helpers::serve(store, dir, url).await;
    let leader = app.login("leader").await;
    let d: Value =
        app.client.get(app.url("/api/v1/dashboard")).bearer_auth(&leader).send().await.unwrap().json().await.unwrap();
    let pool = sqlx::AnyPool::connect(&app.store_url()).await.unwrap();
    let count = |sql: String| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(&sql).fetch_one(&pool).await.unwrap() }
    };
    let departments = d["departments"].as_array().unwrap();
    let sum = |k: &str| departments.iter().map(|x| x[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!(sum("accepted"), 3000);
    assert_eq!(sum("closed"), count("SELECT COUNT(*) FROM cases WHERE closed_at IS NOT NULL".into()).await);
    assert_eq!(d["closed_cases"], sum("closed"));
    assert_eq!(
        sum("overdue_open") as u64,
        report.overdue_open,
        "open past due: {}",
        count(format!(
            "SELECT COUNT(*) FROM cases WHERE closed_at IS NULL AND due_on < '{}'",
            d["today"]["day"].as_str().unwrap()
        ))
        .await
    );
    for x in departments {
        let name = x["department"].as_str().unwrap();
        let closed = count(format!(
            "SELECT COUNT(*) FROM cases c JOIN departments d ON d.id = c.department_id WHERE d.name = '{name}' AND c.closed_at IS NOT NULL"
        ))
        .await;
        assert_eq!(x["closed"], closed, "{name}");
    }
    let trips = count("SELECT CAST(SUM(trips) AS BIGINT) FROM cases WHERE closed_at IS NOT NULL".into()).await;
    let closed = d["closed_cases"].as_i64().unwrap();
    assert_eq!(
        d["trips_per_closed_case"].as_f64().unwrap(),
        ((trips as f64 / closed as f64) * 10000.0).round() / 10000.0
    );
    for day in d["trend"].as_array().unwrap() {
        let on = day["day"].as_str().unwrap();
        assert_eq!(
            day["cases_accepted"],
            count(format!("SELECT COUNT(*) FROM cases WHERE accepted_on = '{on}'")).await,
            "{on}"
        );
    }
    let townships: i64 = d["townships"].as_array().unwrap().iter().map(|t| t[2].as_i64().unwrap()).sum();
    assert_eq!(townships, 3000, "every case counts for one place");
    // A case accepted afterwards continues the day's numbering.
    let acceptor = app.login("acceptor").await;
    let materials = mzj_002_materials();
    let r = app
        .client
        .post(app.url("/api/v1/cases"))
        .bearer_auth(&acceptor)
        .json(&json!({"item": "MZJ-002", "applicant": {"name": "王五"}, "materials": materials}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

backend_tests!(
    generated_cases_equal_their_counters,
    figures_equal_direct_counts,
    every_figure_downloads_as_csv_and_xlsx,
    the_stream_sends_a_new_snapshot_when_a_ticket_is_issued,
    the_simulation_page_compares_layouts
);
