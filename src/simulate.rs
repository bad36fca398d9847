//! `onewindow simulate`: the seed's point in numbers (pooled general windows A1–A4 against one queue per
//! department), and windows per hour for a service level. See docs/simulation.md.

use anyhow::{bail, Context, Result};
use clap::Args;
use onewindow_core::staffing::{
    simulate, windows_per_hour, Arrivals, ErlangC, Hall, RunOptions, ServiceTime, SimReport, Stream,
};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Departments, each with its own queue in the split hall.
    #[arg(long, default_value_t = 4)]
    departments: usize,
    /// Offered load of each department's windows (0.8 = 80% busy).
    #[arg(long, default_value_t = 0.8)]
    load: f64,
    /// One load per department instead of --load and --departments, comma-separated (uneven workload,
    /// 忙闲不均), e.g. 0.95,0.85,0.75,0.65.
    #[arg(long, value_delimiter = ',')]
    loads: Option<Vec<f64>>,
    /// Windows per department in the split hall; the pooled hall has all of them behind one queue.
    #[arg(long, default_value_t = 1)]
    windows_per_department: u32,
    /// Mean service time, minutes.
    #[arg(long, default_value_t = 10.0)]
    service_minutes: f64,
    /// Coefficient of variation of the service time: 1 = exponential (Erlang C's assumption), 0 = fixed,
    /// anything else = lognormal with that cv.
    #[arg(long, default_value_t = 1.0)]
    service_cv: f64,
    /// Opening hours of the simulated day (arrivals stop at closing; those waiting are still served).
    #[arg(long, default_value_t = 8)]
    hours: usize,
    /// The service-level wait, minutes.
    #[arg(long, default_value_t = 10.0)]
    target_minutes: f64,
    /// The service-level share to be served within --target-minutes (for the recommended windows).
    #[arg(long, default_value_t = 0.8)]
    target_share: f64,
    /// Arrivals per hour for the staffing recommendation, comma-separated, one per opening hour.
    #[arg(long, value_delimiter = ',', default_value = "20,35,50,40,30,45,50,35")]
    arrivals_per_hour: Vec<f64>,
    /// Recorded tickets instead of --arrivals-per-hour: a file with one ticket time a line, `HH:MM[:SS]`
    /// (clock time) or minutes from opening.
    #[arg(long)]
    recorded: Option<PathBuf>,
    /// The clock hour the hall opens (labels, and reading `HH:MM` tickets).
    #[arg(long, default_value_t = 9)]
    opens_at: u32,
    /// Simulated days; every figure pools all of them.
    #[arg(long, default_value_t = 2000)]
    replications: u32,
    /// Hours of the long run (one continuous run at constant load, compared with Erlang C).
    #[arg(long, default_value_t = 100_000)]
    long_run_hours: usize,
    /// Seed of the random numbers: the same seed prints the same figures.
    #[arg(long, default_value_t = 2018)]
    seed: u64,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// Closed-form (or simulated) figures in one shape, for a table row.
#[derive(Serialize, Clone, Copy)]
struct Figures {
    mean_wait: f64,
    p90_wait: f64,
    within_target: f64,
    p_wait: f64,
    utilisation: f64,
}

impl Figures {
    fn of(r: &SimReport) -> Self {
        let o = &r.overall;
        Figures {
            mean_wait: o.mean_wait,
            p90_wait: o.p90_wait,
            within_target: o.within_target,
            p_wait: o.p_wait,
            utilisation: r.utilisation,
        }
    }
}

/// Erlang C for several independent M/M/c queues taken together (visitor-weighted), or `None` if one is
/// unstable. The 90th percentile of the mixture is found by bisection.
fn erlang_mix(queues: &[(u32, f64)], mu: f64, target: f64) -> Option<Figures> {
    let e: Vec<ErlangC> = queues.iter().map(|&(c, l)| ErlangC::new(c, l, mu)).collect::<Result<_, _>>().ok()?;
    let total: f64 = e.iter().map(|q| q.arrival_rate).sum();
    let windows: f64 = e.iter().map(|q| f64::from(q.windows)).sum();
    if total <= 0.0 {
        return None;
    }
    let w = |q: &ErlangC| q.arrival_rate / total;
    let within = |t: f64| e.iter().map(|q| w(q) * q.within(t)).sum::<f64>();
    let (mut lo, mut hi) = (0.0, e.iter().map(|q| q.wait_quantile(0.9)).fold(0.0, f64::max));
    if within(0.0) < 0.9 {
        for _ in 0..100 {
            let mid = (lo + hi) / 2.0;
            if within(mid) >= 0.9 {
                hi = mid
            } else {
                lo = mid
            }
        }
    } else {
        hi = 0.0;
    }
    Some(Figures {
        mean_wait: e.iter().map(|q| w(q) * q.mean_wait).sum(),
        p90_wait: hi,
        within_target: within(target),
        p_wait: e.iter().map(|q| w(q) * q.p_wait).sum(),
        utilisation: total / (windows * mu),
    })
}

#[derive(Serialize)]
struct Layout {
    name: String,
    windows: u32,
    queues: usize,
    erlang_c: Option<Figures>,
    long_run: Figures,
    day: Figures,
    day_overtime_minutes: f64,
    day_mean_wait_ci95: f64,
    day_report: SimReport,
}

#[derive(Serialize)]
struct SeedPoint {
    departments: Vec<Department>,
    service: ServiceTime,
    hours: usize,
    replications: u32,
    long_run_hours: usize,
    pooled: Layout,
    split: Layout,
}

#[derive(Serialize)]
struct Department {
    name: String,
    load: f64,
    arrivals_per_hour: f64,
    split_mean_wait: f64,
    split_utilisation: f64,
    pooled_mean_wait: f64,
}

#[derive(Serialize)]
struct StaffHour {
    hour: usize,
    label: String,
    arrivals: f64,
    erlangs: f64,
    windows: u32,
    erlang_c_within_target: Option<f64>,
    erlang_c_mean_wait: Option<f64>,
    simulated_mean_wait: f64,
    simulated_within_target: f64,
    simulated_utilisation: f64,
}

#[derive(Serialize)]
struct Staffing {
    target_share: f64,
    target_minutes: f64,
    source: String,
    hours: Vec<StaffHour>,
    simulated: Figures,
    windows_hours: u32,
    report: SimReport,
}

#[derive(Serialize)]
struct Output {
    seed_point: SeedPoint,
    staffing: Staffing,
}

fn check(a: &SimulateArgs) -> Result<()> {
    if a.departments == 0 {
        bail!("--departments must be at least 1");
    }
    if a.hours == 0 || a.hours > 24 {
        bail!("--hours must be 1 to 24");
    }
    if a.windows_per_department == 0 {
        bail!("--windows-per-department must be at least 1");
    }
    if !(a.service_minutes.is_finite() && a.service_minutes > 0.0) {
        bail!("--service-minutes must be positive");
    }
    if !(a.service_cv.is_finite() && a.service_cv >= 0.0) {
        bail!("--service-cv must be 0 or more");
    }
    if !(a.target_share > 0.0 && a.target_share < 1.0) {
        bail!("--target-share must be between 0 and 1");
    }
    if a.replications == 0 {
        bail!("--replications must be at least 1");
    }
    if a.opens_at > 23 {
        bail!("--opens-at is a clock hour, 0 to 23");
    }
    Ok(())
}

/// Reads recorded tickets: `HH:MM[:SS]` clock times or minutes from opening, one a line; `#` comments.
fn read_recorded(path: &PathBuf, opens_at: u32) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        let first = line.split([',', ';', '\t', ' ']).next().unwrap_or("").trim();
        if first.is_empty() {
            continue;
        }
        let minutes = if first.contains(':') {
            let parts: Vec<f64> = first
                .split(':')
                .map(|p| p.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .with_context(|| format!("{}:{}: not a time: {first}", path.display(), i + 1))?;
            let (h, m, s) = (parts[0], parts.get(1).copied().unwrap_or(0.0), parts.get(2).copied().unwrap_or(0.0));
            h * 60.0 + m + s / 60.0 - f64::from(opens_at) * 60.0
        } else {
            first
                .parse::<f64>()
                .with_context(|| format!("{}:{}: not a number of minutes: {first}", path.display(), i + 1))?
        };
        if !(minutes.is_finite() && minutes >= 0.0) {
            bail!("{}:{}: {first} is before opening", path.display(), i + 1);
        }
        out.push(minutes);
    }
    if out.is_empty() {
        bail!("{} holds no tickets", path.display());
    }
    Ok(out)
}

fn label(opens_at: u32, h: usize) -> String {
    let start = opens_at as usize + h;
    format!("{:02}:00–{:02}:00", start % 24, (start + 1) % 24)
}

pub fn run(a: SimulateArgs) -> Result<()> {
    check(&a)?;
    let service = ServiceTime::with_cv(a.service_minutes, a.service_cv);
    let mu = 1.0 / a.service_minutes;
    let c_dept = a.windows_per_department;
    let loads = match &a.loads {
        Some(l) => l.clone(),
        None => vec![a.load; a.departments],
    };
    if loads.is_empty() || loads.iter().any(|l| !(l.is_finite() && *l > 0.0)) {
        bail!("loads must be positive");
    }
    let n = loads.len();
    // Arrivals per hour of a department at load ρ with c windows: ρ·c·μ·60.
    let per_hour: Vec<f64> = loads.iter().map(|l| l * f64::from(c_dept) * mu * 60.0).collect();
    let streams = |hours: usize| -> Vec<Stream> {
        per_hour
            .iter()
            .enumerate()
            .map(|(i, &r)| Stream { name: format!("D{}", i + 1), arrivals: Arrivals::constant(r, hours), service })
            .collect()
    };
    let total_windows = c_dept * n as u32;
    let pooled_day = Hall::pooled(streams(a.hours), vec![total_windows; a.hours]);
    let split_day = Hall::split(streams(a.hours), vec![vec![c_dept; a.hours]; n]);
    let day_opts = RunOptions {
        replications: a.replications,
        seed: a.seed,
        target_minutes: a.target_minutes,
        warmup_minutes: 0.0,
    };
    let pooled_day_r = simulate(&pooled_day, &day_opts)?;
    let split_day_r = simulate(&split_day, &day_opts)?;
    let long_hours = a.long_run_hours.max(10);
    let long_opts = RunOptions {
        replications: 1,
        seed: a.seed,
        target_minutes: a.target_minutes,
        warmup_minutes: long_hours as f64 * 60.0 / 20.0,
    };
    let pooled_long = simulate(&Hall::pooled(streams(long_hours), vec![total_windows]), &long_opts)?;
    let split_long = simulate(&Hall::split(streams(long_hours), vec![vec![c_dept]; n]), &long_opts)?;
    let lambdas: Vec<f64> = per_hour.iter().map(|r| r / 60.0).collect();
    let layout =
        |name: String, windows: u32, queues: usize, ec: Option<Figures>, long: &SimReport, day: SimReport| Layout {
            name,
            windows,
            queues,
            erlang_c: ec,
            long_run: Figures::of(long),
            day: Figures::of(&day),
            day_overtime_minutes: day.overtime_minutes,
            day_mean_wait_ci95: day.mean_wait_ci95,
            day_report: day,
        };
    let departments = (0..n)
        .map(|i| Department {
            name: format!("D{}", i + 1),
            load: loads[i],
            arrivals_per_hour: per_hour[i],
            split_mean_wait: split_day_r.streams[i].wait.mean_wait,
            split_utilisation: split_day_r.queues[i].utilisation,
            pooled_mean_wait: pooled_day_r.streams[i].wait.mean_wait,
        })
        .collect();
    let seed_point = SeedPoint {
        departments,
        service,
        hours: a.hours,
        replications: a.replications,
        long_run_hours: long_hours,
        pooled: layout(
            format!("pooled A1–A{total_windows}: one queue, {total_windows} windows"),
            total_windows,
            1,
            erlang_mix(&[(total_windows, lambdas.iter().sum())], mu, a.target_minutes),
            &pooled_long,
            pooled_day_r,
        ),
        split: layout(
            format!("{n} department queues, {c_dept} window(s) each"),
            total_windows,
            n,
            erlang_mix(&lambdas.iter().map(|&l| (c_dept, l)).collect::<Vec<_>>(), mu, a.target_minutes),
            &split_long,
            split_day_r,
        ),
    };

    // Staffing: windows per hour by Erlang C, then a simulated day with that schedule.
    let (arrivals, source, profile) = match &a.recorded {
        Some(p) => {
            let t = read_recorded(p, a.opens_at)?;
            let hours = t.iter().fold(0.0f64, |m, &x| m.max(x)).div_euclid(60.0) as usize + 1;
            let mut counts = vec![0.0; hours];
            for &x in &t {
                counts[(x / 60.0) as usize] += 1.0;
            }
            (Arrivals::Recorded(t), format!("recorded tickets from {}", p.display()), counts)
        }
        None => (
            Arrivals::PerHour(a.arrivals_per_hour.clone()),
            "Poisson arrivals at the hourly rates given".to_string(),
            a.arrivals_per_hour.clone(),
        ),
    };
    if profile.is_empty() || profile.iter().any(|x| !(x.is_finite() && *x >= 0.0)) {
        bail!("arrivals per hour must be numbers, 0 or more");
    }
    let windows = windows_per_hour(&profile, a.service_minutes, a.target_share, a.target_minutes)?;
    // A closed hour still needs a window at the end if people wait; the last hour's windows drain the queue.
    let mut schedule = windows.clone();
    if let Some(last) = schedule.last_mut() {
        *last = (*last).max(1);
    }
    let staff_hall =
        Hall::pooled(vec![Stream { name: "all".into(), arrivals: arrivals.clone(), service }], schedule.clone());
    let staff_r = simulate(&staff_hall, &day_opts)?;
    let hours = profile
        .iter()
        .enumerate()
        .map(|(h, &arr)| {
            let ec = ErlangC::new(windows[h], arr / 60.0, mu).ok();
            let sim = staff_r.per_hour.get(h);
            StaffHour {
                hour: h,
                label: label(a.opens_at, h),
                arrivals: arr,
                erlangs: arr / 60.0 * a.service_minutes,
                windows: windows[h],
                erlang_c_within_target: ec.map(|e| e.within(a.target_minutes)),
                erlang_c_mean_wait: ec.map(|e| e.mean_wait),
                simulated_mean_wait: sim.map_or(0.0, |s| s.mean_wait),
                simulated_within_target: sim.map_or(1.0, |s| s.within_target),
                simulated_utilisation: sim.map_or(0.0, |s| s.utilisation),
            }
        })
        .collect();
    let staffing = Staffing {
        target_share: a.target_share,
        target_minutes: a.target_minutes,
        source,
        hours,
        simulated: Figures::of(&staff_r),
        windows_hours: windows.iter().sum(),
        report: staff_r,
    };
    let out = Output { seed_point, staffing };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_text(&a, &out);
    }
    Ok(())
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn row(label: &str, f: Option<&Figures>, extra: &str) {
    match f {
        Some(f) => println!(
            "{}",
            format!(
                "  {label:<30} {:>8.1} {:>8.1} {:>9} {:>8} {:>8}  {extra}",
                f.mean_wait,
                f.p90_wait,
                pct(f.within_target),
                pct(f.p_wait),
                pct(f.utilisation)
            )
            .trim_end()
        ),
        None => {
            println!("  {label:<30} {:>8} {:>8} {:>9} {:>8} {:>8}  unstable (load ≥ 100%)", "∞", "∞", "—", "—", "—")
        }
    }
}

fn print_text(a: &SimulateArgs, out: &Output) {
    let sp = &out.seed_point;
    let shape = match sp.service {
        ServiceTime::Exponential { .. } => "exponential".to_string(),
        ServiceTime::Fixed { .. } => "fixed".to_string(),
        ServiceTime::LogNormal { cv, .. } => format!("lognormal, cv {cv}"),
    };
    let loads: Vec<String> = sp.departments.iter().map(|d| pct(d.load)).collect();
    let rates: Vec<String> = sp.departments.iter().map(|d| format!("{:.1}", d.arrivals_per_hour)).collect();
    println!("The seed's point: general windows pooled (A1–A4) against one queue per department");
    let (loads, rates) = if loads.iter().all(|l| Some(l) == loads.first()) {
        (loads.first().cloned().unwrap_or_default(), rates.first().cloned().unwrap_or_default())
    } else {
        (loads.join(", "), rates.join(", "))
    };
    println!(
        "{} departments at {loads} load ({rates} arrivals/h against {} window(s) each); service {} min ({shape}).",
        sp.departments.len(),
        a.windows_per_department,
        a.service_minutes,
    );
    println!(
        "Simulated day: {} h open, everyone who took a number is served, {} days (seed {}); long run: {} h continuous.",
        sp.hours, sp.replications, a.seed, sp.long_run_hours
    );
    println!();
    let t = a.target_minutes;
    println!(
        "  {:<30} {:>8} {:>8} {:>9} {:>8} {:>8}",
        "minutes / shares",
        "mean",
        "p90",
        format!("≤{t} min"),
        "waited",
        "util."
    );
    for l in [&sp.pooled, &sp.split] {
        println!("{}", l.name);
        row("Erlang C (long run, formula)", l.erlang_c.as_ref(), "");
        row("simulated long run", Some(&l.long_run), "");
        row(
            "simulated day",
            Some(&l.day),
            &format!("±{:.1} min (95%); works {:.0} min past closing", l.day_mean_wait_ci95, l.day_overtime_minutes),
        );
    }
    println!();
    let (p, s) = (&sp.pooled.day, &sp.split.day);
    if p.mean_wait > 0.0 {
        println!(
            "Pooling the same {} windows cuts the mean wait of a day {:.1}× ({:.1} → {:.1} min), the p90 wait from {:.0} to {:.0} min, \
and lifts the share called within {t} min from {} to {}.",
            sp.pooled.windows,
            s.mean_wait / p.mean_wait,
            s.mean_wait,
            p.mean_wait,
            s.p90_wait,
            p.p90_wait,
            pct(s.within_target),
            pct(p.within_target)
        );
    }
    println!();
    println!("Per department (simulated day): mean wait, minutes");
    println!(
        "  {:<6} {:>6} {:>10} {:>12} {:>12} {:>10}",
        "dept", "load", "arrivals/h", "own queue", "util. own", "pooled"
    );
    for d in &sp.departments {
        println!(
            "  {:<6} {:>6} {:>10.1} {:>12.1} {:>12} {:>10.1}",
            d.name,
            pct(d.load),
            d.arrivals_per_hour,
            d.split_mean_wait,
            pct(d.split_utilisation),
            d.pooled_mean_wait
        );
    }
    println!();
    let st = &out.staffing;
    println!(
        "Windows per hour for {} called within {} min (Erlang C, each hour on its own; service {} min), pooled hall, {}:",
        pct(st.target_share),
        st.target_minutes,
        a.service_minutes,
        st.source
    );
    println!(
        "  {:<13} {:>10} {:>7} {:>7} {:>10} {:>9} | {:>9} {:>9} {:>7}",
        "hour",
        "arrivals/h",
        "erlangs",
        "windows",
        format!("EC ≤{t}"),
        "EC mean",
        "sim mean",
        format!("sim ≤{t}"),
        "util."
    );
    for h in &st.hours {
        println!(
            "  {:<13} {:>10.0} {:>7.2} {:>7} {:>10} {:>9} | {:>9.1} {:>9} {:>7}",
            h.label,
            h.arrivals,
            h.erlangs,
            h.windows,
            h.erlang_c_within_target.map_or("—".into(), pct),
            h.erlang_c_mean_wait.map_or("—".into(), |w| format!("{w:.1}")),
            h.simulated_mean_wait,
            pct(h.simulated_within_target),
            pct(h.simulated_utilisation)
        );
    }
    let f = &st.simulated;
    println!(
        "  the day with this schedule ({} window-hours, {} days): mean wait {:.1} min, p90 {:.1} min, {} within {t} min, utilisation {}.",
        st.windows_hours,
        st.report.replications,
        f.mean_wait,
        f.p90_wait,
        pct(f.within_target),
        pct(f.utilisation)
    );
    println!();
    println!("Waits are from taking a number to being called. EC = Erlang C (M/M/c, steady state). Charts: the /simulate page; --json for machines.");
}
