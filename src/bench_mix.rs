//! `onewindow bench mix`: a realistic mix over HTTP against a running server — catalogue searches,
//! tickets issued and called at the windows, whole case lifecycles (7 transitions), case and dashboard
//! reads, and display screens on SSE — for a set time. Prints throughput and p50/p99/p99.9 latency per
//! kind, errors, and the server's resident memory before and after (from its /metrics).

use crate::bench::percentile;
use anyhow::{Context, Result};
use onewindow_store::seed;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct MixArgs {
    /// The running server (`onewindow serve` on the demo county).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// How long to run.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Clients running the mix at once.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Display screens connected over SSE for the whole run.
    #[arg(long, default_value_t = 50)]
    screens: usize,
}

const QUERIES: [&str; 8] = ["社保", "hunyin", "低保", "sbk", "户口", "驾驶证", "医保", "不动产"];

/// Latencies and errors per kind of request.
type Samples = BTreeMap<&'static str, (Vec<Duration>, usize)>;

struct Ctx {
    base: String,
    client: reqwest::Client,
    acceptor: String,
    approver: String,
    leader: String,
}

async fn sign_in(client: &reqwest::Client, base: &str, user: &str) -> Result<String> {
    let v: Value = client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"username": user, "password": seed::DEMO_PASSWORD}))
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("signing in as {user}"))?
        .json()
        .await?;
    Ok(v["token"].as_str().context("token")?.to_string())
}

async fn rss(client: &reqwest::Client, base: &str) -> Option<f64> {
    let text = client.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes ")?.trim().parse::<f64>().ok())
        .map(|b| b / 1048576.0)
}

/// Sends one request; records its latency under `kind`, or an error when the status is not wanted.
async fn timed(s: &mut Samples, kind: &'static str, req: reqwest::RequestBuilder, ok: &[u16]) -> Option<Value> {
    let t = Instant::now();
    let r = req.send().await;
    let e = s.entry(kind).or_default();
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.bytes().await.ok();
            e.0.push(t.elapsed());
            if status < 300 || ok.contains(&status) {
                body.and_then(|b| serde_json::from_slice(&b).ok()).or(Some(Value::Null))
            } else {
                e.1 += 1;
                None
            }
        }
        Err(_) => {
            e.1 += 1;
            None
        }
    }
}

/// One client: a weighted mix until the deadline; each client carries its own case through its
/// lifecycle, one transition per turn.
async fn client_loop(c: Arc<Ctx>, deadline: Instant) -> Samples {
    let mut s = Samples::new();
    let mut case: Option<(i64, usize)> = None;
    let steps: [(&str, Value); 6] = [
        ("claim", json!({})),
        ("return", json!({"comment": "补正"})),
        ("supplement", json!({})),
        ("approve", json!({})),
        ("ship", json!({"data": {"address": "天马街道1号", "carrier": "EMS", "tracking": "E1"}})),
        ("deliver", json!({})),
    ];
    while Instant::now() < deadline {
        let roll = rand::thread_rng().gen_range(0..100);
        let base = &c.base;
        match roll {
            0..=34 => {
                let q = QUERIES[rand::thread_rng().gen_range(0..QUERIES.len())];
                timed(&mut s, "catalogue search", c.client.get(format!("{base}/api/v1/items")).query(&[("q", q)]), &[])
                    .await;
            }
            35..=54 => {
                let phone = format!("139{:08}", rand::thread_rng().gen_range(0..100_000_000u32));
                let body = json!({"queue": "general", "phone": phone});
                timed(&mut s, "ticket issued", c.client.post(format!("{base}/api/v1/tickets")).json(&body), &[]).await;
            }
            55..=84 => match case {
                None => {
                    let materials = crate::bench::mzj_002_materials();
                    let body = json!({"item": "MZJ-002", "applicant": {"name": "王五", "phone": "13900001111"}, "materials": materials});
                    let req = c.client.post(format!("{base}/api/v1/cases")).bearer_auth(&c.acceptor).json(&body);
                    if let Some(v) = timed(&mut s, "case transition", req, &[]).await {
                        case = v["id"].as_i64().map(|id| (id, 0));
                    }
                }
                Some((id, step)) => {
                    let (action, extra) = &steps[step];
                    let mut body = extra.clone();
                    body["action"] = json!(action);
                    let who = if matches!(*action, "claim" | "return" | "approve") { &c.approver } else { &c.acceptor };
                    let req = c.client.post(format!("{base}/api/v1/cases/{id}/actions")).bearer_auth(who).json(&body);
                    let done = timed(&mut s, "case transition", req, &[]).await.is_some();
                    case = if !done || step + 1 == steps.len() { None } else { Some((id, step + 1)) };
                }
            },
            85..=94 => {
                timed(
                    &mut s,
                    "dashboard read",
                    c.client.get(format!("{base}/api/v1/dashboard")).bearer_auth(&c.leader),
                    &[],
                )
                .await;
            }
            _ => {
                if let Some((id, _)) = case {
                    timed(
                        &mut s,
                        "case read",
                        c.client.get(format!("{base}/api/v1/cases/{id}")).bearer_auth(&c.acceptor),
                        &[],
                    )
                    .await;
                }
            }
        }
    }
    s
}

/// A window calling, starting and finishing tickets as fast as they come.
async fn window_loop(c: Arc<Ctx>, window: &'static str, deadline: Instant) -> Samples {
    let mut s = Samples::new();
    let base = &c.base;
    while Instant::now() < deadline {
        let called = c
            .client
            .post(format!("{base}/api/v1/windows/{window}/call-next"))
            .bearer_auth(&c.acceptor)
            .json(&json!({}));
        let t = Instant::now();
        let r = called.send().await;
        let status = r.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
        if let Ok(r) = r {
            let _ = r.bytes().await;
        }
        let e = s.entry("ticket called").or_default();
        e.0.push(t.elapsed());
        match status {
            200 => {
                for step in ["start", "finish"] {
                    let req = c
                        .client
                        .post(format!("{base}/api/v1/windows/{window}/{step}"))
                        .bearer_auth(&c.acceptor)
                        .json(&json!({}));
                    timed(&mut s, "ticket started/finished", req, &[]).await;
                }
            }
            204 => tokio::time::sleep(Duration::from_millis(20)).await,
            _ => {
                e.1 += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    s
}

/// A display screen: counts the SSE events it receives until the deadline.
async fn screen(client: reqwest::Client, url: String, deadline: Instant, got: Arc<AtomicUsize>) {
    let Ok(mut r) = client.get(&url).send().await else { return };
    while Instant::now() < deadline {
        match tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), r.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                let n = chunk.windows(6).filter(|w| w == b"event:").count();
                got.fetch_add(n, Ordering::Relaxed);
            }
            _ => break,
        }
    }
}

pub async fn mix(a: MixArgs) -> Result<()> {
    let base = a.url.trim_end_matches('/').to_string();
    let client = reqwest::Client::builder().pool_max_idle_per_host(a.clients + 8).build()?;
    let admin = sign_in(&client, &base, "admin").await?;
    client
        .put(format!("{base}/api/v1/queues/general"))
        .bearer_auth(&admin)
        .json(&json!({"prefix": "A", "start_number": 1, "daily_max": 99999}))
        .send()
        .await?
        .error_for_status()
        .context("raising the general queue's daily maximum")?;
    let ctx = Arc::new(Ctx {
        acceptor: sign_in(&client, &base, "acceptor").await?,
        approver: sign_in(&client, &base, "approver").await?,
        leader: sign_in(&client, &base, "leader").await?,
        base: base.clone(),
        client: client.clone(),
    });
    let rss_before = rss(&client, &base).await;
    let place = ctx.client.get(format!("{base}/api/v1/places")).send().await?.json::<Value>().await.ok();
    let hall = place
        .and_then(|p| {
            p.as_array().and_then(|a| {
                a.iter().find(|p| p["level"] == "county").and_then(|p| p["code"].as_str().map(str::to_string))
            })
        })
        .unwrap_or_else(|| "330822".into());
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let events = Arc::new(AtomicUsize::new(0));
    let sse = reqwest::Client::builder().build()?;
    let mut screens = Vec::new();
    for _ in 0..a.screens {
        screens.push(tokio::spawn(screen(
            sse.clone(),
            format!("{base}/api/v1/display/{hall}/events"),
            deadline,
            events.clone(),
        )));
    }
    let wall = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.clients {
        tasks.push(tokio::spawn(client_loop(ctx.clone(), deadline)));
    }
    for w in ["A1", "A2", "A3", "A4"] {
        tasks.push(tokio::spawn(window_loop(ctx.clone(), w, deadline)));
    }
    let mut all = Samples::new();
    for t in tasks {
        for (k, (mut v, e)) in t.await? {
            let slot = all.entry(k).or_default();
            slot.0.append(&mut v);
            slot.1 += e;
        }
    }
    let wall = wall.elapsed();
    for s in screens {
        let _ = s.await;
    }
    let rss_after = rss(&client, &base).await;
    println!("mix against {base}: {} s, {} clients + 4 windows, {} SSE screens", a.seconds, a.clients, a.screens);
    let mut total = 0;
    let mut errors = 0;
    for (kind, (samples, errs)) in all.iter_mut() {
        samples.sort();
        total += samples.len();
        errors += *errs;
        let ms = |p: f64| percentile(samples, p).as_secs_f64() * 1000.0;
        println!(
            "  {kind:<24} {:>7} ({:>6.0}/s)  p50 {:>6.1} ms  p99 {:>6.1} ms  p99.9 {:>6.1} ms  errors {errs}",
            samples.len(),
            samples.len() as f64 / wall.as_secs_f64(),
            ms(50.0),
            ms(99.0),
            ms(99.9)
        );
    }
    println!("  all requests             {total:>7} ({:>6.0}/s), errors {errors}", total as f64 / wall.as_secs_f64());
    println!("  SSE events received by the screens: {}", events.load(Ordering::Relaxed));
    match (rss_before, rss_after) {
        (Some(b), Some(a)) => println!("  server RSS: {b:.1} MiB before, {a:.1} MiB after"),
        _ => println!("  server RSS: not reported (no process_resident_memory_bytes in /metrics)"),
    }
    Ok(())
}
