//! `onewindow generate`: seeds a year of cases in bulk for measuring the dashboard (docs/dashboard.md).
//! Writes straight into the tables — no events, audit rows or SMS — with the counters the write path
//! would have kept.

use anyhow::{Context, Result};
use clap::Args;
use onewindow_store::{seed, GenerateOptions, Store};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Cases to generate (a province's year is about 20 million).
    #[arg(long, default_value_t = 20_000_000)]
    cases: u64,
    /// Days back from today, today included, the cases are spread over.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// The county (division code); default: the only county (the demo's, loaded if the database is empty).
    #[arg(long)]
    place: Option<String>,
    /// Seed of the random numbers: the same seed generates the same cases.
    #[arg(long, default_value_t = 2018)]
    seed: u64,
    /// Rows per INSERT statement.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Rows per transaction.
    #[arg(long, default_value_t = 200_000)]
    commit_every: usize,
}

pub async fn run(store: &Store, args: GenerateArgs) -> Result<()> {
    if store.is_empty().await? {
        store.load_county(&seed::demo()?, seed::DEMO_PASSWORD).await.context("loading the demo county")?;
        println!("loaded the demo county (logins as printed by `onewindow serve`)");
    }
    let county = crate::only_county(store, args.place).await?;
    let opts = GenerateOptions {
        county,
        cases: args.cases,
        days: args.days,
        seed: args.seed,
        batch: args.batch.clamp(1, 1000),
        rows_per_commit: args.commit_every.max(1),
    };
    let started = Instant::now();
    let report = store
        .generate_cases(&opts, |n| {
            let s = started.elapsed().as_secs_f64();
            eprintln!("{n} cases in {s:.0} s ({:.0}/s)", n as f64 / s.max(0.001));
        })
        .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "generated {} cases for {} from {} to {} in {:.1} s ({:.0}/s): {} still open, {} of them overdue; {} counter rows",
        report.cases,
        opts.county,
        report.first_day,
        report.last_day,
        secs,
        report.cases as f64 / secs.max(0.001),
        report.open,
        report.overdue_open,
        report.counter_rows
    );
    Ok(())
}
