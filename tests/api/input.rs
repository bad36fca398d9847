//! Bad input gets a clear 4xx JSON error and changes nothing; never a 500.

use crate::backend_tests;
use crate::helpers::{spawn_app, Db, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const WRITE_ROUTES: [(&str, &str); 9] = [
    ("POST", "/api/v1/items"),
    ("PUT", "/api/v1/items/MZJ-001"),
    ("POST", "/api/v1/places"),
    ("POST", "/api/v1/zones"),
    ("POST", "/api/v1/departments"),
    ("POST", "/api/v1/windows"),
    ("POST", "/api/v1/staff"),
    ("PUT", "/api/v1/staff/1"),
    ("POST", "/api/v1/session"),
];

async fn audit_rows(app: &TestApp) -> i64 {
    app.store.verify_audit().await.unwrap().rows
}

async fn malformed_wrong_typed_and_oversize_bodies_are_refused(db: Db) {
    let app = spawn_app(db).await;
    let token = app.login("admin").await;
    let before = audit_rows(&app).await;
    let bodies: [(&str, &str); 6] = [
        ("malformed", "{\"name\": "),
        ("not an object", "[1, 2, 3]"),
        (
            "wrong types",
            "{\"code\": 5, \"name\": [1], \"place\": {}, \"zone\": true, \"general\": \"maybe\", \"username\": 1}",
        ),
        ("empty object", "{}"),
        ("null", "null"),
        ("not utf-8", "\u{0}\u{1}"),
    ];
    for (method, path) in WRITE_ROUTES {
        for (what, body) in bodies {
            let r = app
                .client
                .request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(path))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = r.status();
            assert!(status.is_client_error(), "{method} {path} with {what}: {status}");
            let e: Value = r.json().await.unwrap_or_else(|_| panic!("{method} {path} {what}: error body is JSON"));
            assert!(
                e["code"].is_string() && e["message"].is_string() && e["message_en"].is_string(),
                "{method} {path} {what}: {e}"
            );
        }
        // No content type at all.
        let r = app
            .client
            .request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(path))
            .bearer_auth(&token)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{method} {path} without content type");
    }
    // Oversize: the server answers from the declared length without reading the body. Sent over a
    // raw connection, so that the client reads the answer instead of racing to push 2 MiB first.
    for (method, path) in WRITE_ROUTES {
        let e = oversize(&app, method, path, &token).await;
        assert!(e.starts_with("HTTP/1.1 413"), "{method} {path}: {e}");
        assert!(e.contains("\"code\":\"payload_too_large\"") && e.contains("message_en"), "{method} {path}: {e}");
    }
    assert_eq!(audit_rows(&app).await, before, "a refused request changed something");
}

/// Declares a 2 MiB JSON body, sends its first bytes, and returns the server's answer.
async fn oversize(app: &TestApp, method: &str, path: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{{\"name\": \"xxxxxxxx",
        2 * 1024 * 1024
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

async fn unknown_ids_and_bad_parameters(db: Db) {
    let app = spawn_app(db).await;
    let token = app.login("admin").await;
    let cases: [(&str, &str, StatusCode); 8] = [
        ("GET", "/api/v1/items/NOPE-1", StatusCode::NOT_FOUND),
        ("GET", "/api/v1/items/MZJ-001/versions/99", StatusCode::NOT_FOUND),
        ("GET", "/api/v1/items/MZJ-001/versions/abc", StatusCode::BAD_REQUEST),
        ("PUT", "/api/v1/staff/987654", StatusCode::NOT_FOUND),
        ("PUT", "/api/v1/staff/not-a-number", StatusCode::BAD_REQUEST),
        ("GET", "/api/v1/items?limit=-1", StatusCode::BAD_REQUEST),
        ("GET", "/api/v1/stats/coverage?place=33", StatusCode::UNPROCESSABLE_ENTITY),
        ("GET", "/api/v1/no-such-route", StatusCode::NOT_FOUND),
    ];
    for (method, path, expected) in cases {
        let r = app
            .client
            .request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(path))
            .bearer_auth(&token)
            .json(&serde_json::json!({"role": "admin", "place": "330822", "active": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected, "{method} {path}");
        let e: Value = r.json().await.unwrap();
        assert!(e["message"].is_string(), "{method} {path}: {e}");
    }
    // A new staff member with every field wrong names each field.
    let r = app
        .client
        .post(app.url("/api/v1/staff"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"username": "a b", "display_name": " ", "password": "short", "role": "king", "place": "330822"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    let fields: Vec<&str> = e["errors"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["username", "display_name", "password", "role"]);
    // An import that is not a spreadsheet.
    let r = app
        .client
        .post(app.url("/api/v1/catalogue/import?format=xlsx"))
        .bearer_auth(&token)
        .body("this is not a zip file")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .client
        .post(app.url("/api/v1/catalogue/import?format=pdf"))
        .bearer_auth(&token)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// Health, metrics in Prometheus text, and the OpenAPI document generated from the handlers.
async fn service_endpoints(db: Db) {
    let app = spawn_app(db).await;
    assert_eq!(app.get_json("/healthz").await["status"], "ok");
    app.get("/api/v1/items?q=sb").await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("onewindow_http_requests_total{method=\"GET\",route=\"/api/v1/items\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("onewindow_catalogue_items 200"));
    let doc = app.get_json("/api/v1/openapi.json").await;
    for path in [
        "/api/v1/items",
        "/api/v1/tickets",
        "/api/v1/windows/{window}/call-next",
        "/api/v1/cases/{id}/actions",
        "/api/v1/display/{hall}/events",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
}

backend_tests!(
    malformed_wrong_typed_and_oversize_bodies_are_refused,
    unknown_ids_and_bad_parameters,
    service_endpoints
);
