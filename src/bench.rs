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
    let server = tokio::spawn(async move { axum::serve(onewindow_web::listener(listener), app).await });

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

/// A fresh store with the demo county, on SQLite in a temporary directory or on the PostgreSQL given.
async fn bench_store(database_url: Option<&str>) -> Result<(Store, Option<std::path::PathBuf>)> {
    let (opts, dir) = match database_url {
        Some(url) => (
            StoreOptions {
                url: url.to_string(),
                max_connections: 16,
                keys: onewindow_store::vault::KeyRing::generate(),
            },
            None,
        ),
        None => {
            let dir = std::env::temp_dir().join(format!("onewindow-bench-{}-{}", std::process::id(), rand_suffix()));
            std::fs::create_dir_all(&dir)?;
            (StoreOptions::sqlite_in(&dir), Some(dir))
        }
    };
    let store = Store::open(&opts).await?;
    if store.is_empty().await? {
        store.load_county(&seed::demo()?, seed::DEMO_PASSWORD).await?;
    }
    Ok((store, dir))
}

/// Closes a store made by [`bench_store`] and removes its temporary directory, if any.
async fn close_bench_store(store: &Store, dir: Option<std::path::PathBuf>) {
    store.close().await;
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() % 1_000_000).unwrap_or(0)
}

async fn serve_in_process(store: &Store) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let mut opts = onewindow_web::AppOptions::default();
    // The SMS worker is not what is measured here; it would compete for the writer.
    opts.sms.enabled = false;
    serve_with(store, opts).await
}

/// The application with the options given, on 127.0.0.1 at a free port.
async fn serve_with(
    store: &Store,
    opts: onewindow_web::AppOptions,
) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let state = onewindow_web::AppState::new(store.clone(), opts).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = onewindow_web::router(state);
    let server = tokio::spawn(async move {
        let _ = axum::serve(onewindow_web::listener(listener), app).await;
    });
    Ok((addr, server))
}

async fn token(client: &reqwest::Client, addr: std::net::SocketAddr, user: &str) -> Result<String> {
    let v: Value = client
        .post(format!("http://{addr}/api/v1/session"))
        .json(&json!({"username": user, "password": seed::DEMO_PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    v["token"].as_str().map(str::to_string).context("no token")
}

fn report(what: &str, samples: &mut [Duration], wall: Duration) {
    samples.sort();
    println!(
        "{what}: {} in {:.2} s = {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        samples.len(),
        wall.as_secs_f64(),
        samples.len() as f64 / wall.as_secs_f64(),
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 99.0)),
        ms(percentile(samples, 99.9)),
        ms(samples.last().copied().unwrap_or_default())
    );
}

/// The disk's raw rate of one-row durable commits, one after another, with the store's own settings.
async fn raw_commit_rate(database_url: Option<&str>, n: usize) -> Result<f64> {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let (url, dir) = match database_url {
        Some(u) => (u.to_string(), None),
        None => {
            let dir = std::env::temp_dir().join(format!("onewindow-raw-{}-{}", std::process::id(), rand_suffix()));
            std::fs::create_dir_all(&dir)?;
            (format!("sqlite://{}?mode=rwc", dir.join("raw.db").display()), Some(dir))
        }
    };
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await?;
    if dir.is_some() {
        conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;").await?;
    }
    conn.execute("DROP TABLE IF EXISTS bench_raw").await?;
    conn.execute("CREATE TABLE bench_raw (id BIGINT PRIMARY KEY, v TEXT NOT NULL)").await?;
    let t = Instant::now();
    for i in 0..n as i64 {
        // Each statement outside a transaction is its own durable commit.
        sqlx::query("INSERT INTO bench_raw (id, v) VALUES ($1, $2)").bind(i).bind("x").execute(&mut conn).await?;
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    conn.execute("DROP TABLE bench_raw").await?;
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
    Ok(rate)
}

/// Ticket issue rate, and call → display latency with many SSE screens connected.
pub async fn lobby(tickets: usize, concurrency: usize, screens: usize, calls: usize) -> Result<()> {
    let (store, dir) = bench_store(None).await?;
    let (addr, server) = serve_in_process(&store).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency.max(8)).build()?;
    let admin = token(&client, addr, "admin").await?;
    raise_daily_max(&client, addr, &admin).await?;

    // 1. Issue rate.
    let wall = Instant::now();
    let mut samples = issue_tickets(&client, &[addr], concurrency, tickets / concurrency.max(1)).await?;
    report(&format!("ticket issue over HTTP ({concurrency} concurrent clients, SQLite)"), &mut samples, wall.elapsed());

    // 2. Call → display latency with `screens` SSE clients.
    let (mut seen_rx, readers) = connect_screens(addr, screens).await?;
    println!("{screens} display screens connected");
    let acceptor = token(&client, addr, "acceptor").await?;
    let wall = Instant::now();
    let mut latencies = call_and_watch(&client, addr, &acceptor, calls, screens, &mut seen_rx).await?;
    report(
        &format!("call → display over SSE ({screens} screens × {calls} calls, from the call request to each screen)"),
        &mut latencies,
        wall.elapsed(),
    );
    for r in readers {
        r.abort();
    }
    server.abort();
    close_bench_store(&store, dir).await;
    Ok(())
}

/// Lets the demo's general queue issue all day (its default daily maximum is a hall's, not a benchmark's).
async fn raise_daily_max(client: &reqwest::Client, addr: std::net::SocketAddr, admin: &str) -> Result<()> {
    client
        .put(format!("http://{addr}/api/v1/queues/general"))
        .bearer_auth(admin)
        .json(&json!({"prefix": "A", "start_number": 1, "daily_max": 99999}))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// `concurrency` clients each take `per` tickets, one after another, client `w` at `addrs[w % len]`:
/// the latency of each.
async fn issue_tickets(
    client: &reqwest::Client,
    addrs: &[std::net::SocketAddr],
    concurrency: usize,
    per: usize,
) -> Result<Vec<Duration>> {
    let mut tasks = Vec::new();
    for w in 0..concurrency.max(1) {
        let client = client.clone();
        let addr = addrs[w % addrs.len().max(1)];
        tasks.push(tokio::spawn(async move {
            let mut s = Vec::with_capacity(per);
            for _ in 0..per {
                let t = Instant::now();
                let r = client
                    .post(format!("http://{addr}/api/v1/tickets"))
                    .json(&json!({"queue": "general"}))
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "issue: {}", r.status());
                s.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(s)
        }));
    }
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await??);
    }
    Ok(samples)
}

/// `n` SSE display screens on the demo hall at `addr`, each connected (its snapshot read) before this
/// returns; the receiver gets (ticket number, when read) for every call any screen reads.
async fn connect_screens(
    addr: std::net::SocketAddr,
    n: usize,
) -> Result<(tokio::sync::mpsc::UnboundedReceiver<(String, Instant)>, Vec<tokio::task::JoinHandle<Result<()>>>)> {
    let (seen_tx, seen_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let mut readers = Vec::new();
    let ready = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    for _ in 0..n {
        let client = reqwest::Client::new();
        let seen = seen_tx.clone();
        let ready = ready.clone();
        readers.push(tokio::spawn(async move {
            let mut r = client.get(format!("http://{addr}/api/v1/display/330822/events")).send().await?;
            let mut buf = String::new();
            let mut announced = false;
            while let Some(chunk) = r.chunk().await? {
                let now = Instant::now();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                if !announced && buf.contains("event: snapshot") {
                    announced = true;
                    ready.add_permits(1);
                }
                while let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    if event.contains("event: call") {
                        if let Some(n) = event.split("\"number\":\"").nth(1).and_then(|s| s.split('"').next()) {
                            let _ = seen.send((n.to_string(), now));
                        }
                    }
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    let _ = ready.acquire_many(n as u32).await?;
    Ok((seen_rx, readers))
}

/// Calls `calls` tickets at window A1 of `caller`, one after another, and for each waits until all
/// `screens` screens have read it: the latencies from sending the call to each screen reading it.
async fn call_and_watch(
    client: &reqwest::Client,
    caller: std::net::SocketAddr,
    token: &str,
    calls: usize,
    screens: usize,
    seen_rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Instant)>,
) -> Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    for _ in 0..calls {
        let t0 = Instant::now();
        let r = client.post(format!("http://{caller}/api/v1/windows/A1/call-next")).bearer_auth(token).send().await?;
        let v: Value = r.error_for_status()?.json().await?;
        let number = v["number"].as_str().unwrap_or_default().to_string();
        let mut got = 0;
        while got < screens {
            let (n, at) =
                tokio::time::timeout(Duration::from_secs(10), seen_rx.recv()).await?.context("screens closed")?;
            if n == number {
                latencies.push(at.duration_since(t0));
                got += 1;
            }
        }
        // Finish so the window may call again (not part of the measured latency).
        for a in ["start", "finish"] {
            client
                .post(format!("http://{caller}/api/v1/windows/A1/{a}"))
                .bearer_auth(token)
                .send()
                .await?
                .error_for_status()?;
        }
    }
    Ok(latencies)
}

/// Scale-out on one PostgreSQL database: two server instances (each with its own pools, listener and
/// display hub, as two `onewindow serve` processes would have), tickets issued on both at once, and
/// call → display latency with the screens on the other instance than the call (LISTEN/NOTIFY relay),
/// beside the same instance for reference.
pub async fn scale_out(
    database_url: &str,
    tickets: usize,
    concurrency: usize,
    screens: usize,
    calls: usize,
) -> Result<()> {
    let opts = StoreOptions {
        url: database_url.to_string(),
        max_connections: 16,
        keys: onewindow_store::vault::KeyRing::generate(),
    };
    let a = Store::open(&opts).await?;
    anyhow::ensure!(a.is_empty().await?, "the scale-out bench needs an empty database");
    a.load_county(&seed::demo()?, seed::DEMO_PASSWORD).await?;
    let b = Store::open(&opts).await?;
    let (addr_a, server_a) = serve_in_process(&a).await?;
    let (addr_b, server_b) = serve_in_process(&b).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency.max(8)).build()?;
    let admin = token(&client, addr_a, "admin").await?;
    raise_daily_max(&client, addr_a, &admin).await?;

    // Tickets issued through both instances at once.
    let wall = Instant::now();
    let per = tickets.max(2 * calls) / concurrency.max(1) + 1;
    let mut samples = issue_tickets(&client, &[addr_a, addr_b], concurrency, per).await?;
    report(
        &format!(
            "ticket issue over HTTP on two instances, one PostgreSQL ({concurrency} concurrent clients, half on each)"
        ),
        &mut samples,
        wall.elapsed(),
    );

    let acceptor = token(&client, addr_a, "acceptor").await?;
    for (what, screens_on) in
        [("other instance (call on A, screens on B)", addr_b), ("same instance (call on A, screens on A)", addr_a)]
    {
        let (mut seen_rx, readers) = connect_screens(screens_on, screens).await?;
        let wall = Instant::now();
        let mut latencies = call_and_watch(&client, addr_a, &acceptor, calls, screens, &mut seen_rx).await?;
        report(&format!("call → display, {what}, {screens} screens × {calls} calls"), &mut latencies, wall.elapsed());
        for r in readers {
            r.abort();
        }
    }
    server_a.abort();
    server_b.abort();
    a.close().await;
    b.close().await;
    Ok(())
}

/// What the stand-in SMS gateway of [`sms_outage`] saw.
#[derive(Default)]
struct StandIn {
    failing: std::sync::atomic::AtomicBool,
    requests: std::sync::atomic::AtomicUsize,
    refused: std::sync::atomic::AtomicUsize,
    accepted: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

async fn stand_in(
    axum::extract::State(g): axum::extract::State<std::sync::Arc<StandIn>>,
    headers: axum::http::HeaderMap,
) -> axum::http::StatusCode {
    use std::sync::atomic::Ordering;
    g.requests.fetch_add(1, Ordering::SeqCst);
    if g.failing.load(Ordering::SeqCst) {
        g.refused.fetch_add(1, Ordering::SeqCst);
        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut a = match g.accepted.lock() {
        Ok(a) => a,
        Err(p) => p.into_inner(),
    };
    *a.entry(key).or_default() += 1;
    axum::http::StatusCode::OK
}

/// The HTTP SMS gateway fails (503) for `outage` while clients take tickets with phone numbers at a steady
/// rate, then recovers; the default retry schedule (1 s doubling to 5 min) and attempt budget apply.
/// Prints what was queued, refused, delivered (per key), and how long the backlog took to drain.
pub async fn sms_outage(outage: Duration, rate: f64, after: Duration, database_url: Option<&str>) -> Result<()> {
    use std::sync::atomic::Ordering;
    let g = std::sync::Arc::new(StandIn::default());
    g.failing.store(true, Ordering::SeqCst);
    let gw_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gw_addr = gw_listener.local_addr()?;
    let gw_app = axum::Router::new().route("/sms", axum::routing::post(stand_in)).with_state(g.clone());
    let gw = tokio::spawn(async move {
        let _ = axum::serve(gw_listener, gw_app).await;
    });

    let (store, dir) = bench_store(database_url).await?;
    let mut opts = onewindow_web::AppOptions::default();
    opts.sms.gateway = onewindow_web::outbox::Gateway::Http {
        url: format!("http://{gw_addr}/sms"),
        timeout: onewindow_web::outbox::SmsOptions::DEFAULT_HTTP_TIMEOUT,
    };
    let (addr, server) = serve_with(&store, opts).await?;
    let client = reqwest::Client::new();
    let admin = token(&client, addr, "admin").await?;
    raise_daily_max(&client, addr, &admin).await?;

    // Tickets at a steady rate through the outage and for `after` beyond it.
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
    let mut issued = 0usize;
    let mut recovered_at = None;
    let mut latencies = Vec::new();
    while start.elapsed() < outage + after {
        tick.tick().await;
        if recovered_at.is_none() && start.elapsed() >= outage {
            g.failing.store(false, Ordering::SeqCst);
            recovered_at = Some(Instant::now());
            let c = store.outbox_counts().await?;
            println!(
                "gateway down for {:.0} s: {issued} tickets issued, outbox pending {} sending {} sent {} dead {}; {} requests refused",
                outage.as_secs_f64(),
                c.pending,
                c.sending,
                c.sent,
                c.dead,
                g.refused.load(Ordering::SeqCst)
            );
        }
        let t = Instant::now();
        client
            .post(format!("http://{addr}/api/v1/tickets"))
            .json(&json!({"queue": "general", "phone": format!("139{:08}", issued)}))
            .send()
            .await?
            .error_for_status()?;
        latencies.push(t.elapsed());
        issued += 1;
    }
    let load_wall = start.elapsed();
    let recovered_at = recovered_at.unwrap_or_else(Instant::now);
    g.failing.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(900);
    let counts = loop {
        let c = store.outbox_counts().await?;
        if c.pending == 0 && c.sending == 0 {
            break c;
        }
        anyhow::ensure!(Instant::now() < deadline, "the backlog did not drain in 15 minutes: {c:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let drained = recovered_at.elapsed();
    let accepted = match g.accepted.lock() {
        Ok(a) => a.clone(),
        Err(p) => p.into_inner().clone(),
    };
    let twice = accepted.values().filter(|n| **n > 1).count();
    let rows = store.outbox_recent(i64::MAX / 2).await?;
    let max_attempts = rows.iter().filter_map(|m| m["attempts"].as_i64()).max().unwrap_or(0);
    report(&format!("ticket issue during and after the outage ({rate}/s offered)"), &mut latencies, load_wall);
    println!(
        "{issued} tickets, {} messages: {} sent, {} dead; gateway: {} requests, {} refused, {} keys accepted, {} accepted more than once; most attempts for one message {}; backlog drained {:.1} s after the gateway recovered",
        rows.len(),
        counts.sent,
        counts.dead,
        g.requests.load(Ordering::SeqCst),
        g.refused.load(Ordering::SeqCst),
        accepted.len(),
        twice,
        max_attempts,
        drained.as_secs_f64()
    );
    let verified = store.verify_audit().await?;
    println!(
        "audit chain: {} rows, {}",
        verified.rows,
        if verified.first_broken.is_none() { "intact" } else { "BROKEN" }
    );
    anyhow::ensure!(
        accepted.len() == rows.len() && twice == 0 && counts.dead == 0 && verified.first_broken.is_none(),
        "lost, duplicated or dead messages"
    );
    server.abort();
    gw.abort();
    close_bench_store(&store, dir).await;
    Ok(())
}

/// Every material of MZJ-002 (特困人员救助供养), received: a case any window can accept.
pub fn mzj_002_materials() -> Vec<Value> {
    [
        "居民身份证",
        "户口簿",
        "特困人员救助供养申请书",
        "本人及法定义务人履行能力情况说明",
        "残疾人证（残疾人申请时提供）",
    ]
    .iter()
    .map(|n| json!({"name": n, "status": "received"}))
    .collect()
}

/// A client's schedule: unpaced, each request is due now; paced, at its slot, one gap after the last.
struct Pace {
    next: tokio::time::Instant,
    gap: Option<Duration>,
}

impl Pace {
    async fn due(&mut self) -> Instant {
        let Some(gap) = self.gap else { return Instant::now() };
        tokio::time::sleep_until(self.next).await;
        let slot = self.next.into_std();
        self.next += gap;
        slot
    }
}

/// Durable case transitions per second through the HTTP API: whole lifecycles of 7 transitions
/// (accept, claim, return, supplement, approve, ship, deliver) by many concurrent clients. With `rate`,
/// the clients send on a schedule (that many transitions a second in all) and each latency runs from the
/// request's scheduled time, so time spent queued behind a slow request counts too. Each write asks for
/// the minimal answer (`Prefer: return=minimal`) unless `full`, when it takes the whole case back.
pub async fn cases(
    lifecycles: usize,
    concurrency: usize,
    rate: Option<f64>,
    database_url: Option<&str>,
    full: bool,
) -> Result<()> {
    let prefer = if full { "return=representation" } else { "return=minimal" };
    let backend = if database_url.is_some() { "PostgreSQL" } else { "SQLite" };
    let raw = raw_commit_rate(database_url, 500).await?;
    println!("raw one-row durable commits on {backend}: {raw:.0}/s");
    let (store, dir) = bench_store(database_url).await?;
    let (addr, server) = serve_in_process(&store).await?;
    let concurrency = concurrency.max(1);
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency.max(8)).build()?;
    let acceptor = token(&client, addr, "acceptor").await?;
    let approver = token(&client, addr, "approver").await?;
    let materials = mzj_002_materials();
    let per = lifecycles / concurrency;
    // Each client's gap between requests when paced; clients start spread over one gap.
    let gap = rate.map(|r| Duration::from_secs_f64(concurrency as f64 / r.max(0.001)));
    let group_before = store.group_commit_stats().await;
    let usage_before = crate::usage::Usage::now();
    let wall = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..concurrency {
        let (client, acceptor, approver, materials) =
            (client.clone(), acceptor.clone(), approver.clone(), materials.clone());
        let mut pace = Pace {
            next: tokio::time::Instant::now() + gap.unwrap_or_default().mul_f64(n as f64 / concurrency as f64),
            gap,
        };
        tasks.push(tokio::spawn(async move {
            let mut s = Vec::with_capacity(per * 7);
            for _ in 0..per {
                let t = pace.due().await;
                let c: Value = client
                    .post(format!("http://{addr}/api/v1/cases"))
                    .bearer_auth(&acceptor)
                    .header("prefer", prefer)
                    .json(&json!({"item": "MZJ-002", "applicant": {"name": "王五", "phone": "13900001111"}, "materials": materials}))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                s.push(t.elapsed());
                let id = c["id"].as_i64().context("case id")?;
                let steps: [(&str, &str, Value); 6] = [
                    (&approver, "claim", json!({})),
                    (&approver, "return", json!({"comment": "补正"})),
                    (&acceptor, "supplement", json!({})),
                    (&approver, "approve", json!({})),
                    (&acceptor, "ship", json!({"data": {"address": "天马街道1号", "carrier": "EMS", "tracking": "E1"}})),
                    (&acceptor, "deliver", json!({})),
                ];
                for (who, action, extra) in steps {
                    let mut body = extra;
                    body["action"] = json!(action);
                    let t = pace.due().await;
                    let r = client
                        .post(format!("http://{addr}/api/v1/cases/{id}/actions"))
                        .bearer_auth(who)
                        .header("prefer", prefer)
                        .json(&body)
                        .send()
                        .await?;
                    anyhow::ensure!(r.status().is_success(), "{action}: {}", r.status());
                    let after: Value = r.json().await?;
                    s.push(t.elapsed());
                    // Either answer says where the case now is; the last step closes it.
                    anyhow::ensure!(after["id"] == json!(id), "{action}: answered for another case");
                    anyhow::ensure!(
                        (action == "deliver") == after["closed_at"].is_i64(),
                        "{action}: closed_at is {}",
                        after["closed_at"]
                    );
                }
            }
            Ok::<_, anyhow::Error>(s)
        }));
    }
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await??);
    }
    let wall = wall.elapsed();
    let paced = rate.map(|r| format!(", paced at {r:.0}/s")).unwrap_or_default();
    report(
        &format!(
            "case transitions over HTTP on {backend} ({concurrency} concurrent clients, {per} lifecycles each{paced}, Prefer: {prefer})"
        ),
        &mut samples,
        wall,
    );
    if let Some(line) = crate::usage::Usage::per(usage_before, samples.len(), "transition") {
        println!("{line}");
    }
    println!(
        "transitions per second ÷ raw one-row commits per second = {:.2}",
        samples.len() as f64 / wall.as_secs_f64() / raw
    );
    let group = store.group_commit_stats().await;
    let (commits, writes) = (group.commits - group_before.commits, group.transactions - group_before.transactions);
    println!(
        "group commit: {writes} write transactions in {commits} commits ({:.1} per commit); the writers' lock held {:.0} µs per transaction writing ({:.0} µs of it running joined statements), {:.0} µs per commit committing; {} actions planned again under the lock",
        writes as f64 / commits.max(1) as f64,
        (group.writing - group_before.writing).as_secs_f64() * 1e6 / writes.max(1) as f64,
        (group.statements - group_before.statements).as_secs_f64() * 1e6 / writes.max(1) as f64,
        (group.committing - group_before.committing).as_secs_f64() * 1e6 / commits.max(1) as f64,
        group.replanned - group_before.replanned,
    );
    let combined = group.combined - group_before.combined;
    if combined > 0 {
        println!(
            "case actions written together (PostgreSQL): {combined} statements wrote {} actions ({:.1} each), {:.0} µs per statement",
            group.combined_actions - group_before.combined_actions,
            (group.combined_actions - group_before.combined_actions) as f64 / combined as f64,
            (group.combining - group_before.combining).as_secs_f64() * 1e6 / combined as f64,
        );
    }
    let syncs = group.wal_syncs - group_before.wal_syncs;
    if syncs > 0 {
        println!(
            "WAL synced outside the writers' lock: {syncs} syncs of {:.0} µs each, {:.1} commits per sync",
            (group.wal_syncing - group_before.wal_syncing).as_secs_f64() * 1e6 / syncs as f64,
            (group.wal_synced_batches - group_before.wal_synced_batches) as f64 / syncs as f64,
        );
    }
    server.abort();
    close_bench_store(&store, dir).await;
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct DashboardArgs {
    /// The running server, e.g. http://127.0.0.1:8080 (`onewindow serve` on the generated database).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Requests per path.
    #[arg(long, default_value_t = 1000)]
    requests: usize,
    /// Clients sending at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Who signs in (a leader; the demo's password).
    #[arg(long, default_value = "leader")]
    user: String,
}

/// Dashboard request latency over HTTP against a running server: the JSON, the page, and a figure
/// download, each `requests` times from `concurrency` clients, after a warm-up.
pub async fn dashboard(a: DashboardArgs) -> Result<()> {
    let base = a.url.trim_end_matches('/').to_string();
    let client = reqwest::Client::builder().pool_max_idle_per_host(a.concurrency.max(1)).build()?;
    let v: Value = client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"username": a.user, "password": seed::DEMO_PASSWORD}))
        .send()
        .await?
        .error_for_status()
        .context("signing in")?
        .json()
        .await?;
    let token = v["token"].as_str().context("no token")?.to_string();
    let d: Value = client
        .get(format!("{base}/api/v1/dashboard"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let accepted: i64 =
        d["departments"].as_array().map(|a| a.iter().filter_map(|x| x["accepted"].as_i64()).sum()).unwrap_or(0);
    println!(
        "dashboard of {}: {} cases accepted in all (by department), {} closed, {} counter-backed trend days",
        d["place"].as_str().unwrap_or("?"),
        accepted,
        d["closed_cases"],
        d["trend"].as_array().map(|t| t.len()).unwrap_or(0)
    );
    for path in ["/api/v1/dashboard", "/dashboard", "/api/v1/dashboard/figures/departments.xlsx"] {
        for _ in 0..5 {
            client.get(format!("{base}{path}")).bearer_auth(&token).send().await?.error_for_status()?.bytes().await?;
        }
        let per = (a.requests / a.concurrency.max(1)).max(1);
        let wall = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..a.concurrency.max(1) {
            let (client, token, url) = (client.clone(), token.clone(), format!("{base}{path}"));
            tasks.push(tokio::spawn(async move {
                let mut s = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    let r = client.get(&url).bearer_auth(&token).send().await?;
                    let status = r.status();
                    let _ = r.bytes().await?;
                    s.push(t.elapsed());
                    anyhow::ensure!(status.is_success(), "{url}: {status}");
                }
                Ok::<_, anyhow::Error>(s)
            }));
        }
        let mut samples = Vec::new();
        for t in tasks {
            samples.extend(t.await??);
        }
        let wall = wall.elapsed();
        samples.sort();
        println!(
            "GET {path}: {} requests, {} concurrent, {:.0}/s; p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            samples.len(),
            a.concurrency,
            samples.len() as f64 / wall.as_secs_f64(),
            ms(percentile(&samples, 50.0)),
            ms(percentile(&samples, 95.0)),
            ms(percentile(&samples, 99.0)),
            ms(samples.last().copied().unwrap_or_default())
        );
    }
    Ok(())
}
