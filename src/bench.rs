//! `onewindow bench`: load drivers that run against a real server over HTTP and print what they measure.
//! Numbers go to BENCHMARKS.md with the command that produced them; tests never assert timings.

use anyhow::{Context, Result};
use onewindow_core::sheet::Format;
use onewindow_store::{seed, Actor, Store, StoreOptions};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Percentile of sorted samples (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Items that look like a real catalogue: the demo's names with township, topic and service variants,
/// spread over the demo's departments and zones.
fn generated_catalogue(demo: &seed::DemoCounty, n: usize) -> Vec<Value> {
    const VARIANTS: [&str; 10] =
        ["", "变更", "注销", "补办", "延续", "备案", "查询", "证明开具", "年度审验", "信息更正"];
    const TOPICS: [&str; 10] =
        ["", "农村", "城镇", "企业", "个人", "退役军人", "残疾人", "老年人", "外来务工人员", "未成年人"];
    (0..n)
        .map(|i| {
            let base = &demo.items[i % demo.items.len()];
            let base_name = base.name.as_ref().and_then(|v| v.as_str()).unwrap_or("事项");
            let name = format!(
                "{}{}{}",
                TOPICS[(i / demo.items.len()) % TOPICS.len()],
                base_name,
                VARIANTS[(i / 7) % VARIANTS.len()]
            );
            let mut v = serde_json::to_value(base).unwrap_or_else(|_| json!({}));
            v["code"] = json!(format!("GEN-{i:05}"));
            v["name"] = json!(name);
            v
        })
        .collect()
}

/// Catalogue search latency through the HTTP API on a generated catalogue.
pub async fn catalogue(items: usize, requests: usize, concurrency: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("onewindow-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Store::open(&StoreOptions::sqlite_in(&dir)).await?;
    let demo = seed::demo()?;
    store.load_county(&demo, seed::DEMO_PASSWORD).await?;
    let county = demo.county()?;
    let generated = serde_json::to_vec(&generated_catalogue(&demo, items.saturating_sub(demo.items.len())))?;
    let started = Instant::now();
    store
        .import_catalogue(&county, Format::Json, &generated, &Actor::cli())
        .await
        .context("importing the generated catalogue")?;
    println!(
        "catalogue: {} items (import took {:.1} s)",
        store.items(None).await?.len(),
        started.elapsed().as_secs_f64()
    );

    let state = onewindow_web::AppState::new(store.clone(), onewindow_web::AppOptions::default()).await?;
    let snapshot_items = state.catalogue.snapshot().index.len();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = onewindow_web::router(state.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let queries = [
        "sb",
        "shebao",
        "社保",
        "hunyin",
        "婚姻",
        "低保",
        "bdc",
        "不动产登记",
        "gjj",
        "营业执照",
        "户口",
        "zm",
        "证明",
        "nongcun",
        "企业设立",
        "qy",
    ];
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    // Warm up connections and caches.
    for q in queries {
        client.get(format!("http://{addr}/api/v1/items")).query(&[("q", q)]).send().await?.error_for_status()?;
    }
    let per_worker = requests / concurrency.max(1);
    let wall = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency.max(1) {
        let client = client.clone();
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(per_worker);
            for i in 0..per_worker {
                let q = queries[(w + i) % queries.len()];
                let t = Instant::now();
                let r = client
                    .get(format!("http://{addr}/api/v1/items"))
                    .query(&[("q", q), ("limit", "20")])
                    .send()
                    .await?;
                let status = r.status();
                let _ = r.bytes().await?;
                samples.push(t.elapsed());
                anyhow::ensure!(status.is_success(), "search returned {status}");
            }
            Ok::<_, anyhow::Error>(samples)
        }));
    }
    let mut samples = Vec::new();
    for w in workers {
        samples.extend(w.await??);
    }
    let wall = wall.elapsed();
    samples.sort();
    println!(
        "HTTP search, {} requests, {} concurrent, over loopback: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, {:.0} req/s",
        samples.len(),
        concurrency,
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 99.0)),
        ms(samples.last().copied().unwrap_or_default()),
        samples.len() as f64 / wall.as_secs_f64()
    );

    // The search itself, inside the server process, without HTTP.
    let snap = state.catalogue.snapshot();
    let mut inner = Vec::new();
    for i in 0..requests {
        let q = onewindow_core::search::SearchQuery {
            q: queries[i % queries.len()].into(),
            limit: 20,
            ..Default::default()
        };
        let t = Instant::now();
        let r = snap.index.search(&q);
        inner.push(t.elapsed());
        std::hint::black_box(r);
    }
    inner.sort();
    println!(
        "in-process search over {} items: p50 {:.3} ms, p99 {:.3} ms",
        snapshot_items,
        ms(percentile(&inner, 50.0)),
        ms(percentile(&inner, 99.0))
    );
    server.abort();
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
