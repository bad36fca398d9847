//! `onewindow`: one binary for the server and its operator commands.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// mimalloc rather than glibc's allocator: a request allocates and frees many small buffers across
/// threads, and glibc's free lists were a fifth of the case benchmark's CPU (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod bench_mix;
mod generate;
mod simulate;
mod usage;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use onewindow_core::place::PlaceCode;
use onewindow_core::sheet::Format;
use onewindow_store::{seed, Actor, Store, StoreOptions};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "onewindow",
    version,
    about = "一窗通办 — a county government service centre where citizens make at most one trip"
)]
struct Cli {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// Where the embedded SQLite database lives (ignored with --database-url).
    #[arg(long, global = true, env = "ONEWINDOW_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `postgres://…` to run on PostgreSQL, or `sqlite://…`; default: SQLite in the data dir.
    #[arg(long, global = true, env = "ONEWINDOW_DATABASE_URL")]
    database_url: Option<String>,
    /// A TOML file with `listen`, `data_dir`, `database_url`, `default_place`, `public_url`, `sms_gateway`,
    /// `sms_url`, `sms_max_attempts`; flags and environment win.
    #[arg(long, global = true, env = "ONEWINDOW_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (creates the database and the demo county on first start).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ONEWINDOW_LISTEN")]
        listen: Option<SocketAddr>,
        /// Do not load the demo county into an empty database.
        #[arg(long)]
        no_demo: bool,
        /// Where SMS go: `log` (write them to the log) or `http` (POST to --sms-url); see docs/sms.md.
        #[arg(long, env = "ONEWINDOW_SMS_GATEWAY", value_parser = ["log", "http"])]
        sms_gateway: Option<String>,
        /// The SMS provider adapter's endpoint (http://…) for the `http` gateway.
        #[arg(long, env = "ONEWINDOW_SMS_URL")]
        sms_url: Option<String>,
    },
    /// Import or export the service catalogue.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Measure: load drivers over real HTTP (see BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The keys that seal personal data.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Write an online, consistent copy of the SQLite database to FILE (the server may keep running).
    Backup { file: PathBuf },
    /// Replace the SQLite database with a backup FILE (stop the server first); checks integrity, the audit
    /// chain and the keys. Refuses an installation that holds data unless --force (the old file is kept).
    Restore {
        file: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Copy this SQLite installation into an empty PostgreSQL database, every table's rows counted.
    Migrate {
        /// The target, `postgres://…`.
        #[arg(long)]
        to: String,
    },
    /// Staffing by simulation: pooled windows against department queues, windows per hour (docs/simulation.md).
    Simulate(simulate::SimulateArgs),
    /// Seed a year of cases in bulk for measurement (bypasses the event log; docs/dashboard.md).
    Generate(generate::GenerateArgs),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new key, re-seal all personal data under it, then drop the old keys.
    Rotate,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Catalogue search latency on a generated catalogue.
    Catalogue {
        #[arg(long, default_value_t = 5000)]
        items: usize,
        #[arg(long, default_value_t = 20000)]
        requests: usize,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
    },
    /// Ticket issue rate, and call → display latency with many SSE screens.
    Lobby {
        #[arg(long, default_value_t = 5000)]
        tickets: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 500)]
        screens: usize,
        #[arg(long, default_value_t = 50)]
        calls: usize,
    },
    /// Durable case transitions per second through HTTP (whole lifecycles), beside the raw commit rate.
    Cases {
        #[arg(long, default_value_t = 400)]
        lifecycles: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Pace the clients to this many transitions per second in all (latency is then counted from
        /// each request's scheduled time); unpaced, as fast as they go, if absent.
        #[arg(long)]
        rate: Option<f64>,
        /// Run on this PostgreSQL instead of a temporary SQLite file.
        #[arg(long = "on")]
        on: Option<String>,
        /// Take the whole case back after each write (as the pages do) instead of asking for the
        /// minimal answer (`Prefer: return=minimal`).
        #[arg(long)]
        full: bool,
    },
    /// Dashboard request latency against a running server (e.g. on a database from `onewindow generate`).
    Dashboard(bench::DashboardArgs),
    /// A realistic mix over HTTP against a running server: searches, tickets and calls, case lifecycles,
    /// dashboard reads, SSE screens; latency per kind, errors and the server's RSS.
    Mix(bench_mix::MixArgs),
    /// The HTTP SMS gateway down for a while under ticket load: nothing lost, nothing twice, drain time.
    SmsOutage {
        /// Seconds the gateway answers 503.
        #[arg(long, default_value_t = 120)]
        outage: u64,
        /// Tickets (each with an SMS) per second.
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        /// Seconds of load after the gateway recovers.
        #[arg(long, default_value_t = 30)]
        after: u64,
        #[arg(long = "on")]
        on: Option<String>,
    },
    /// Two instances on one (empty) PostgreSQL database: tickets through both, call → display across them.
    ScaleOut {
        #[arg(long = "on")]
        on: String,
        #[arg(long, default_value_t = 2000)]
        tickets: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 200)]
        screens: usize,
        #[arg(long, default_value_t = 100)]
        calls: usize,
    },
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Import a CSV, JSON or XLSX file: all rows or none; every bad row is reported.
    Import {
        file: PathBuf,
        /// The county (division code); default: the only county.
        #[arg(long)]
        place: Option<String>,
    },
    /// Export the catalogue to a CSV, JSON or XLSX file (by its extension).
    Export {
        file: PathBuf,
        #[arg(long)]
        place: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and name the first broken row.
    Verify,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    default_place: Option<String>,
    /// The address citizens open from SMS links.
    public_url: Option<String>,
    /// The key file (default: keys.json in the data directory, created on first start).
    keys_file: Option<PathBuf>,
    /// `log` or `http` (see docs/sms.md).
    sms_gateway: Option<String>,
    sms_url: Option<String>,
    /// Attempts before an SMS is dead-lettered.
    sms_max_attempts: Option<u32>,
}

struct Settings {
    keys_file: PathBuf,
    listen: SocketAddr,
    lobby: onewindow_store::LobbySettings,
    store: StoreOptions,
    default_place: Option<PlaceCode>,
    /// The config file's SMS keys; `serve` merges its flags over them ([`sms_options`]).
    sms_gateway: Option<String>,
    sms_url: Option<String>,
    sms_max_attempts: Option<u32>,
}

fn settings(db: &DbArgs, listen: Option<SocketAddr>) -> Result<Settings> {
    let file = match &db.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading config {}", p.display()))?;
            toml::from_str::<ConfigFile>(&text).with_context(|| format!("parsing config {}", p.display()))?
        }
        None => ConfigFile::default(),
    };
    let data_dir = db.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("onewindow-data"));
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let keys_file = file.keys_file.clone().unwrap_or_else(|| data_dir.join("keys.json"));
    let keys = load_keys(&keys_file)?;
    let store = match db.database_url.clone().or(file.database_url) {
        Some(url) => StoreOptions { url, max_connections: 16, keys },
        None => StoreOptions { keys, ..StoreOptions::sqlite_in(&data_dir) },
    };
    let default_place =
        file.default_place.as_deref().map(PlaceCode::parse).transpose().map_err(|e| anyhow::anyhow!("{e}"))?;
    let listen = listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let lobby = onewindow_store::LobbySettings {
        public_url: file.public_url.unwrap_or_else(|| format!("http://{listen}")),
        ..Default::default()
    };
    Ok(Settings {
        keys_file,
        listen,
        lobby,
        store,
        default_place,
        sms_gateway: file.sms_gateway,
        sms_url: file.sms_url,
        sms_max_attempts: file.sms_max_attempts,
    })
}

/// The SMS sender's options: flags and environment over the config file. A URL alone implies `http`.
fn sms_options(
    s: &Settings,
    gateway: Option<String>,
    url: Option<String>,
) -> Result<onewindow_web::outbox::SmsOptions> {
    use onewindow_web::outbox::{Gateway, SmsOptions};
    let url = url.or_else(|| s.sms_url.clone()).map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    let gateway = gateway.or_else(|| s.sms_gateway.clone()).unwrap_or_else(|| {
        if url.is_some() {
            "http".into()
        } else {
            "log".into()
        }
    });
    let gateway = match gateway.trim() {
        "log" => Gateway::Log,
        "http" => {
            let Some(url) = url else { bail!("the http SMS gateway needs --sms-url (ONEWINDOW_SMS_URL, sms_url)") };
            let parsed = reqwest::Url::parse(&url).with_context(|| format!("the SMS URL {url}"))?;
            match parsed.scheme() {
                "http" => {}
                "https" => bail!(
                    "the SMS URL must be http://: this build has no TLS; run the provider adapter next to the server (docs/sms.md)"
                ),
                other => bail!("the SMS URL must be http://, not {other}://"),
            }
            Gateway::Http { url, timeout: SmsOptions::DEFAULT_HTTP_TIMEOUT }
        }
        other => bail!("sms_gateway must be log or http, not {other:?}"),
    };
    let mut opts = SmsOptions { gateway, ..SmsOptions::default() };
    if let Some(n) = s.sms_max_attempts {
        if n == 0 {
            bail!("sms_max_attempts must be at least 1");
        }
        opts.max_attempts = n;
    }
    Ok(opts)
}

/// The key ring: from `ONEWINDOW_KEYS` (JSON) if set, else the key file, created with fresh random keys
/// (readable by the owner only) on first start.
fn load_keys(path: &std::path::Path) -> Result<onewindow_store::vault::KeyRing> {
    if let Ok(json) = std::env::var("ONEWINDOW_KEYS") {
        return serde_json::from_str(&json).context("ONEWINDOW_KEYS is not a key ring");
    }
    if path.exists() {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return serde_json::from_str(&text).with_context(|| format!("{} is not a key ring", path.display()));
    }
    let ring = onewindow_store::vault::KeyRing::generate();
    save_keys(path, &ring)?;
    Ok(ring)
}

fn save_keys(path: &std::path::Path, ring: &onewindow_store::vault::KeyRing) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(serde_json::to_string_pretty(ring)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

async fn only_county(store: &Store, place: Option<String>) -> Result<PlaceCode> {
    if let Some(p) = place {
        return PlaceCode::parse(&p).map_err(|e| anyhow::anyhow!("{e}"));
    }
    let counties: Vec<_> =
        store.places().await?.into_iter().filter(|p| p.level == onewindow_core::place::PlaceLevel::County).collect();
    match counties.as_slice() {
        [one] => Ok(PlaceCode::parse(&one.code).map_err(|e| anyhow::anyhow!("{e}"))?),
        [] => bail!("no county in the database: start the server once, or add one"),
        _ => bail!("several counties: say which with --place"),
    }
}

/// Rows per table and the audit chain, after a restore or a move.
fn print_tables(report: &onewindow_store::moving::MoveReport) {
    for (table, source, target) in &report.tables {
        println!("{table:<24} {source:>9} {target:>9} {}", if source == target { "ok" } else { "DIFFERENT" });
    }
    println!("audit chain intact: {} rows", report.audit.rows);
}

/// A database URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { listen, no_demo, sms_gateway, sms_url } => {
            let s = settings(&cli.db, listen)?;
            let sms = sms_options(&s, sms_gateway, sms_url)?;
            let store = Store::open(&s.store).await.context("opening the database")?;
            let mut demo_loaded = false;
            if !no_demo && store.is_empty().await? {
                let demo = seed::demo().context("reading the demo county")?;
                store.load_county(&demo, seed::DEMO_PASSWORD).await.context("loading the demo county")?;
                demo_loaded = true;
            }
            let state = onewindow_web::AppState::new(
                store.clone(),
                onewindow_web::AppOptions { default_place: s.default_place, lobby: s.lobby, sms },
            )
            .await
            .context("starting the application")?;
            let listener =
                tokio::net::TcpListener::bind(s.listen).await.with_context(|| format!("binding {}", s.listen))?;
            let addr = listener.local_addr()?;
            println!("onewindow 一窗通办 is serving at http://{addr}/");
            if demo_loaded || store.staff_list(None).await?.iter().any(|st| st.username == "admin") {
                println!(
                    "Demo logins (password \"{}\"): admin, leader, guide, consultant, acceptor, approver, township, clerk, approver2",
                    seed::DEMO_PASSWORD
                );
            }
            println!("API: http://{addr}/api/v1/openapi.json   health: http://{addr}/healthz   metrics: http://{addr}/metrics");
            axum::serve(onewindow_web::listener(listener), onewindow_web::service(state))
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
            store.close().await;
        }
        Command::Catalog(c) => {
            let s = settings(&cli.db, None)?;
            let store = Store::open(&s.store).await.context("opening the database")?;
            match c {
                CatalogCommand::Import { file, place } => {
                    let format = Format::from_name(&file.to_string_lossy())
                        .context("the file must end in .csv, .json or .xlsx")?;
                    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                    let county = only_county(&store, place).await?;
                    match store.import_catalogue(&county, format, &bytes, &Actor::cli()).await {
                        Ok(o) => {
                            println!("imported: {} new, {} changed, {} unchanged", o.created, o.updated, o.unchanged)
                        }
                        Err(onewindow_store::StoreError::Rows(rows)) => {
                            for r in &rows {
                                eprintln!("{r}");
                            }
                            bail!("import refused: {} errors; nothing was written", rows.len());
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                CatalogCommand::Export { file, place } => {
                    let format = Format::from_name(&file.to_string_lossy())
                        .context("the file must end in .csv, .json or .xlsx")?;
                    let county = only_county(&store, place).await?;
                    let bytes = store.export_catalogue(Some(&county), format).await?;
                    std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
                    println!("exported to {}", file.display());
                }
            }
            store.close().await;
        }
        Command::Bench(BenchCommand::Catalogue { items, requests, concurrency }) => {
            bench::catalogue(items, requests, concurrency).await?;
        }
        Command::Bench(BenchCommand::Lobby { tickets, concurrency, screens, calls }) => {
            bench::lobby(tickets, concurrency, screens, calls).await?;
        }
        Command::Bench(BenchCommand::Cases { lifecycles, concurrency, rate, on, full }) => {
            bench::cases(lifecycles, concurrency, rate, on.as_deref(), full).await?;
        }
        Command::Bench(BenchCommand::SmsOutage { outage, rate, after, on }) => {
            bench::sms_outage(
                std::time::Duration::from_secs(outage),
                rate,
                std::time::Duration::from_secs(after),
                on.as_deref(),
            )
            .await?;
        }
        Command::Bench(BenchCommand::ScaleOut { on, tickets, concurrency, screens, calls }) => {
            bench::scale_out(&on, tickets, concurrency, screens, calls).await?;
        }
        Command::Simulate(args) => simulate::run(args)?,
        Command::Bench(BenchCommand::Dashboard(args)) => bench::dashboard(args).await?,
        Command::Bench(BenchCommand::Mix(args)) => bench_mix::mix(args).await?,
        Command::Generate(args) => {
            let s = settings(&cli.db, None)?;
            let store = Store::open(&s.store).await.context("opening the database")?;
            generate::run(&store, args).await?;
            store.close().await;
        }
        Command::Keys(KeysCommand::Rotate) => {
            let mut s = settings(&cli.db, None)?;
            if std::env::var("ONEWINDOW_KEYS").is_ok() {
                bail!("the keys come from ONEWINDOW_KEYS: rotate them where they are kept");
            }
            let old: Vec<u32> = s.store.keys.keys.keys().copied().collect();
            let new = s.store.keys.rotate();
            // First keep old and new together, so a crash halfway leaves everything readable.
            save_keys(&s.keys_file, &s.store.keys)?;
            let store = Store::open(&s.store).await.context("opening the database")?;
            let n = store.reseal_personal_data().await?;
            store.close().await;
            for k in old {
                s.store.keys.keys.remove(&k);
            }
            save_keys(&s.keys_file, &s.store.keys)?;
            println!("key {new} is current; {n} values re-sealed");
        }
        Command::Backup { file } => {
            let s = settings(&cli.db, None)?;
            let store = Store::open(&s.store).await.context("opening the database")?;
            store.backup(&file).await?;
            store.close().await;
            println!(
                "backed up to {} (the keys are not in it: keep {} safe too)",
                file.display(),
                s.keys_file.display()
            );
        }
        Command::Restore { file, force } => {
            let s = settings(&cli.db, None)?;
            let Some(target) = onewindow_store::moving::sqlite_file(&s.store.url) else {
                bail!("restore works on a SQLite installation; restore PostgreSQL with pg_restore");
            };
            let report = onewindow_store::moving::restore_sqlite(&file, &target, &s.store.keys, force).await?;
            print_tables(&report);
            println!("restored {} into {}", file.display(), target.display());
        }
        Command::Migrate { to } => {
            let s = settings(&cli.db, None)?;
            if onewindow_store::moving::sqlite_file(&s.store.url).is_none() {
                bail!("migrate copies a SQLite installation; this one is not SQLite");
            }
            let store = Store::open(&s.store).await.context("opening the database")?;
            let report = store.copy_to_postgres(&to, &s.store.keys).await;
            store.close().await;
            print_tables(&report?);
            println!("copied to {}; run the server with --database-url and the same keys", redact(&to));
        }
        Command::Audit(AuditCommand::Verify) => {
            let s = settings(&cli.db, None)?;
            let store = Store::open(&s.store).await.context("opening the database")?;
            let report = store.verify_audit().await?;
            store.close().await;
            match report.first_broken {
                None => println!("audit chain intact: {} rows", report.rows),
                Some(seq) => bail!("audit chain broken at row {seq}"),
            }
        }
    }
    Ok(())
}
