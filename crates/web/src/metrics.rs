//! Request counts and latencies in Prometheus text format, and one structured log line per request.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) → series.
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    // The route pattern, not the raw path, so ids do not explode the label set.
    let route =
        req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let status = res.status().as_u16();
    tracing::info!(target: "onewindow::http", method = %method, path = %path, status, ms = secs * 1000.0, "request");
    if let Ok(mut m) = state.metrics.series.lock() {
        let s = m.entry((method, route, status)).or_default();
        s.count += 1;
        s.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
    }
    res
}

pub async fn render(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    let _ = writeln!(out, "# HELP onewindow_http_requests_total HTTP requests by route and status.");
    let _ = writeln!(out, "# TYPE onewindow_http_requests_total counter");
    let _ = writeln!(out, "# HELP onewindow_http_request_duration_seconds HTTP request latency.");
    let _ = writeln!(out, "# TYPE onewindow_http_request_duration_seconds histogram");
    if let Ok(m) = state.metrics.series.lock() {
        for ((method, route, status), s) in m.iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            let _ = writeln!(out, "onewindow_http_requests_total{{{labels}}} {}", s.count);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "onewindow_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(out, "onewindow_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "onewindow_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "onewindow_http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
    }
    let snap = state.catalogue.snapshot();
    let _ = writeln!(out, "# HELP onewindow_catalogue_items Items in the in-memory catalogue.");
    let _ = writeln!(out, "# TYPE onewindow_catalogue_items gauge");
    let _ = writeln!(out, "onewindow_catalogue_items {}", snap.index.len());
    // The process's resident memory (Linux), so a load driver can report the server's footprint.
    if let Some(kb) = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines().find_map(|l| {
            l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
    }) {
        let _ = writeln!(out, "# HELP process_resident_memory_bytes Resident memory of the server process.");
        let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge");
        let _ = writeln!(out, "process_resident_memory_bytes {}", kb * 1024);
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
