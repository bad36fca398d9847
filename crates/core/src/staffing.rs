//! Staffing the hall: Erlang C closed forms for M/M/c, and a discrete-event simulation of a hall day.
//!
//! Units are whatever the caller keeps consistent; the simulation works in minutes from opening. The
//! closed forms answer "how long do people wait with `c` windows, in the long run, when arrivals are Poisson
//! and service times exponential"; the simulation answers the same for a real day: arrivals that change by
//! the hour (or recorded tickets), service times that are not exponential, windows that open and close by
//! the hour, the hall opening empty and serving everyone who took a number before closing, and the layout —
//! general windows pooled behind one queue (the seed's A1–A4) against one queue per department.
//!
//! Randomness is a seeded xoshiro256++ generator, so every run with the same seed prints the same figures.
//! See docs/simulation.md.

use serde::Serialize;

/// Why a staffing question has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StaffingError {
    /// Arrivals at least as fast as the windows can serve: the queue grows without end.
    #[error("unstable: utilisation {utilisation:.3} ≥ 1 (arrivals outpace {windows} windows)")]
    Unstable { windows: u32, utilisation: f64 },
    #[error("invalid input: {0}")]
    Invalid(String),
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, StaffingError> {
    Err(StaffingError::Invalid(msg.into()))
}

fn positive(name: &str, v: f64) -> Result<(), StaffingError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        invalid(format!("{name} must be a positive number, not {v}"))
    }
}

// ---------------------------------------------------------------------------------------------------------
// Erlang B and C
// ---------------------------------------------------------------------------------------------------------

/// Erlang B: the blocking probability of `c` servers offered `a` erlangs, by the stable recursion
/// B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)) — no factorials, no powers, good for thousands of windows.
pub fn erlang_b(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    b
}

/// The M/M/c queue in the long run: `c` windows, Poisson arrivals at `lambda`, exponential service at
/// rate `mu` per window (mean service 1/mu).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErlangC {
    pub windows: u32,
    pub arrival_rate: f64,
    pub service_rate: f64,
    /// ρ = λ / (cμ): the share of window time spent serving.
    pub utilisation: f64,
    /// C(c, a): the probability that an arrival has to wait at all.
    pub p_wait: f64,
    /// Wq = C / (cμ − λ): the mean wait before being called.
    pub mean_wait: f64,
}

impl ErlangC {
    /// The closed forms; an error when ρ ≥ 1 (no steady state) or an input is not a positive number
    /// (λ may be 0: nobody ever waits).
    pub fn new(windows: u32, arrival_rate: f64, service_rate: f64) -> Result<Self, StaffingError> {
        positive("service rate", service_rate)?;
        if !(arrival_rate.is_finite() && arrival_rate >= 0.0) {
            return invalid(format!("arrival rate must be 0 or more, not {arrival_rate}"));
        }
        if windows == 0 {
            return Err(StaffingError::Unstable { windows, utilisation: f64::INFINITY });
        }
        let a = arrival_rate / service_rate;
        let rho = a / f64::from(windows);
        if rho >= 1.0 {
            return Err(StaffingError::Unstable { windows, utilisation: rho });
        }
        let b = erlang_b(windows, a);
        let p_wait = b / (1.0 - rho * (1.0 - b));
        let mean_wait = p_wait / (f64::from(windows) * service_rate - arrival_rate);
        Ok(Self { windows, arrival_rate, service_rate, utilisation: rho, p_wait, mean_wait })
    }

    /// The rate at which the queue empties once everyone waits: cμ − λ.
    fn drain_rate(&self) -> f64 {
        f64::from(self.windows) * self.service_rate - self.arrival_rate
    }

    /// P(wait ≤ t) = 1 − C·e^{−(cμ−λ)t}: the share served within `t`.
    pub fn within(&self, t: f64) -> f64 {
        1.0 - self.p_wait * (-self.drain_rate() * t.max(0.0)).exp()
    }

    /// The `q`-quantile of the wait (e.g. 0.9 for the 90th percentile): 0 when fewer than 1 − q wait at all.
    pub fn wait_quantile(&self, q: f64) -> f64 {
        let tail = 1.0 - q;
        if tail <= 0.0 {
            return f64::INFINITY;
        }
        if self.p_wait <= tail {
            0.0
        } else {
            (self.p_wait / tail).ln() / self.drain_rate()
        }
    }
}

/// Erlang C: the probability of waiting with `c` windows, arrivals `lambda`, service rate `mu`.
pub fn erlang_c(c: u32, lambda: f64, mu: f64) -> Result<f64, StaffingError> {
    Ok(ErlangC::new(c, lambda, mu)?.p_wait)
}

/// The mean wait Wq in M/M/c.
pub fn mean_wait(c: u32, lambda: f64, mu: f64) -> Result<f64, StaffingError> {
    Ok(ErlangC::new(c, lambda, mu)?.mean_wait)
}

/// P(wait ≤ t) in M/M/c.
pub fn within(c: u32, lambda: f64, mu: f64, t: f64) -> Result<f64, StaffingError> {
    Ok(ErlangC::new(c, lambda, mu)?.within(t))
}

/// The most windows [`windows_for`] will consider before giving up.
pub const MAX_WINDOWS: u32 = 10_000;

/// The fewest windows for which at least `target_share` of arrivals wait no longer than `target_wait`
/// (e.g. 0.8 within 10 minutes), by Erlang C. No arrivals need no windows.
pub fn windows_for(lambda: f64, mu: f64, target_share: f64, target_wait: f64) -> Result<u32, StaffingError> {
    positive("service rate", mu)?;
    if !(lambda.is_finite() && lambda >= 0.0) {
        return invalid(format!("arrival rate must be 0 or more, not {lambda}"));
    }
    if !(target_share > 0.0 && target_share < 1.0) {
        return invalid(format!("target share must be between 0 and 1 (exclusive), not {target_share}"));
    }
    if !(target_wait.is_finite() && target_wait >= 0.0) {
        return invalid(format!("target wait must be 0 or more, not {target_wait}"));
    }
    if lambda == 0.0 {
        return Ok(0);
    }
    // The smallest stable c is ⌊a⌋ + 1; the service level grows with c.
    let a = lambda / mu;
    let mut c = (a.floor() as u32).saturating_add(1).max(1);
    while c <= MAX_WINDOWS {
        if let Ok(e) = ErlangC::new(c, lambda, mu) {
            if e.within(target_wait) >= target_share {
                return Ok(c);
            }
        }
        c += 1;
    }
    invalid(format!("more than {MAX_WINDOWS} windows would be needed"))
}

/// [`windows_for`] hour by hour: `per_hour` arrivals in each hour, mean service in minutes, target wait in
/// minutes. Each hour is treated as its own steady state (the usual staffing approximation).
pub fn windows_per_hour(
    per_hour: &[f64],
    service_minutes: f64,
    target_share: f64,
    target_minutes: f64,
) -> Result<Vec<u32>, StaffingError> {
    positive("mean service time", service_minutes)?;
    per_hour.iter().map(|&n| windows_for(n / 60.0, 1.0 / service_minutes, target_share, target_minutes)).collect()
}

// ---------------------------------------------------------------------------------------------------------
// Randomness: xoshiro256++ seeded by SplitMix64 (reproducible, no dependency).
// ---------------------------------------------------------------------------------------------------------

struct Rng([u64; 4]);

impl Rng {
    fn seeded(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let r = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }

    /// Uniform on the open interval (0, 1).
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    fn exp(&mut self, mean: f64) -> f64 {
        -mean * self.unit().ln()
    }

    fn normal(&mut self) -> f64 {
        (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
}

// ---------------------------------------------------------------------------------------------------------
// The hall
// ---------------------------------------------------------------------------------------------------------

/// When people take numbers, in minutes from opening.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// A Poisson process whose rate is constant within each hour: `per_hour[h]` arrivals expected in hour h.
    /// Nobody arrives after the last hour.
    PerHour(Vec<f64>),
    /// Recorded tickets: the minute (from opening) each was taken. The same every replication.
    Recorded(Vec<f64>),
}

impl Arrivals {
    /// The same rate for `hours` hours.
    pub fn constant(per_hour: f64, hours: usize) -> Self {
        Arrivals::PerHour(vec![per_hour; hours])
    }

    fn hours(&self) -> usize {
        match self {
            Arrivals::PerHour(v) => v.len(),
            Arrivals::Recorded(t) => t.iter().fold(0.0f64, |m, &x| m.max(x)).div_euclid(60.0) as usize + 1,
        }
    }

    fn check(&self) -> Result<(), StaffingError> {
        let bad = match self {
            Arrivals::PerHour(v) => v.iter().any(|x| !(x.is_finite() && *x >= 0.0)),
            Arrivals::Recorded(t) => t.iter().any(|x| !(x.is_finite() && *x >= 0.0)),
        };
        if bad {
            return invalid("arrival rates and times must be finite and not negative");
        }
        Ok(())
    }

    fn generate(&self, rng: &mut Rng, out: &mut Vec<f64>) {
        match self {
            Arrivals::Recorded(t) => out.extend_from_slice(t),
            Arrivals::PerHour(rates) => {
                // Memoryless: draw a gap at this hour's rate; if it crosses the hour, restart at the boundary.
                let mut t = 0.0;
                let mut h = 0;
                while h < rates.len() {
                    let end = (h as f64 + 1.0) * 60.0;
                    let rate = rates[h] / 60.0;
                    if rate <= 0.0 {
                        t = end;
                        h += 1;
                        continue;
                    }
                    let next = t + rng.exp(1.0 / rate);
                    if next < end {
                        out.push(next);
                        t = next;
                    } else {
                        t = end;
                        h += 1;
                    }
                }
            }
        }
    }
}

/// How long serving one person takes, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceTime {
    /// Exponential with this mean (cv = 1): what Erlang C assumes.
    Exponential { mean: f64 },
    /// Lognormal with this mean and coefficient of variation (sd / mean): σ² = ln(1 + cv²),
    /// μ = ln(mean) − σ²/2. Real counter work is usually less variable than exponential (cv 0.5–0.8).
    LogNormal { mean: f64, cv: f64 },
    /// Every service takes exactly this long (cv = 0).
    Fixed { mean: f64 },
}

impl ServiceTime {
    /// Exponential for cv = 1, fixed for cv = 0, lognormal otherwise.
    pub fn with_cv(mean: f64, cv: f64) -> Self {
        if (cv - 1.0).abs() < 1e-12 {
            ServiceTime::Exponential { mean }
        } else if cv == 0.0 {
            ServiceTime::Fixed { mean }
        } else {
            ServiceTime::LogNormal { mean, cv }
        }
    }

    pub fn mean(&self) -> f64 {
        match *self {
            ServiceTime::Exponential { mean } | ServiceTime::LogNormal { mean, .. } | ServiceTime::Fixed { mean } => {
                mean
            }
        }
    }

    fn check(&self) -> Result<(), StaffingError> {
        positive("mean service time", self.mean())?;
        if let ServiceTime::LogNormal { cv, .. } = *self {
            positive("service cv", cv)?;
        }
        Ok(())
    }

    fn draw(&self, rng: &mut Rng) -> f64 {
        match *self {
            ServiceTime::Exponential { mean } => rng.exp(mean),
            ServiceTime::Fixed { mean } => mean,
            ServiceTime::LogNormal { mean, cv } => {
                let s2 = (1.0 + cv * cv).ln();
                (mean.ln() - s2 / 2.0 + s2.sqrt() * rng.normal()).exp()
            }
        }
    }
}

/// One kind of visitor — a department's items — with its arrivals and its service times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stream {
    pub name: String,
    pub arrivals: Arrivals,
    pub service: ServiceTime,
}

/// One queue of the hall: the streams it takes and how many windows call from it, hour by hour (after the
/// last entry the last number holds, so the queue drains after closing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueSpec {
    pub name: String,
    pub streams: Vec<usize>,
    pub windows: Vec<u32>,
}

/// Streams of visitors and the queues they join. Every stream joins exactly one queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hall {
    pub streams: Vec<Stream>,
    pub queues: Vec<QueueSpec>,
}

impl Hall {
    /// Pooled general windows (A1–A4): one FIFO queue for everyone, `windows` per hour.
    pub fn pooled(streams: Vec<Stream>, windows: Vec<u32>) -> Self {
        let all = (0..streams.len()).collect();
        Hall { queues: vec![QueueSpec { name: "pooled".into(), streams: all, windows }], streams }
    }

    /// One queue per stream (department), each with its own windows per hour.
    pub fn split(streams: Vec<Stream>, windows: Vec<Vec<u32>>) -> Self {
        let queues = streams
            .iter()
            .zip(windows)
            .enumerate()
            .map(|(i, (s, w))| QueueSpec { name: s.name.clone(), streams: vec![i], windows: w })
            .collect();
        Hall { streams, queues }
    }

    fn check(&self) -> Result<(), StaffingError> {
        if self.streams.is_empty() {
            return invalid("a hall needs at least one stream of visitors");
        }
        let mut seen = vec![0u32; self.streams.len()];
        for q in &self.queues {
            if q.windows.is_empty() {
                return invalid(format!("queue {} has no window schedule", q.name));
            }
            for &s in &q.streams {
                match seen.get_mut(s) {
                    Some(n) => *n += 1,
                    None => return invalid(format!("queue {} names stream {s}, which does not exist", q.name)),
                }
            }
        }
        if let Some(i) = seen.iter().position(|&n| n != 1) {
            return invalid(format!("stream {} must join exactly one queue", self.streams[i].name));
        }
        for s in &self.streams {
            s.arrivals.check()?;
            s.service.check()?;
        }
        Ok(())
    }

    /// The scheduled day, in whole hours: the longest arrival profile or window schedule.
    pub fn hours(&self) -> usize {
        let a = self.streams.iter().map(|s| s.arrivals.hours()).max().unwrap_or(0);
        let w = self.queues.iter().map(|q| q.windows.len()).max().unwrap_or(0);
        a.max(w).max(1)
    }
}

fn windows_at(schedule: &[u32], hour: usize) -> u32 {
    schedule.get(hour).or(schedule.last()).copied().unwrap_or(0)
}

/// The first moment ≥ `t` at which window `k` is open, or `None` if it never opens again.
fn next_open(schedule: &[u32], k: u32, t: f64) -> Option<f64> {
    let mut h = (t / 60.0).floor().max(0.0) as usize;
    loop {
        if k < windows_at(schedule, h) {
            return Some(t.max(h as f64 * 60.0));
        }
        if h + 1 >= schedule.len() {
            return None;
        }
        h += 1;
    }
}

/// Adds the busy interval [s, e) to the hourly buckets.
fn add_busy(hours: &mut Vec<f64>, s: f64, e: f64) {
    let mut h = (s / 60.0).floor().max(0.0) as usize;
    let mut from = s;
    while from < e {
        let to = e.min((h as f64 + 1.0) * 60.0);
        if hours.len() <= h {
            hours.resize(h + 1, 0.0);
        }
        hours[h] += to - from;
        from = to;
        h += 1;
    }
}

fn overlap(a0: f64, a1: f64, b0: f64, b1: f64) -> f64 {
    (a1.min(b1) - a0.max(b0)).max(0.0)
}

/// How a simulation is run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunOptions {
    /// Independent days; results pool all of them.
    pub replications: u32,
    pub seed: u64,
    /// "Served within" this many minutes counts toward the service level.
    pub target_minutes: f64,
    /// Visitors arriving before this minute are served but not counted, and window time before it is not
    /// counted either (for long runs that should forget the empty start; 0 for a hall day).
    pub warmup_minutes: f64,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { replications: 200, seed: 2018, target_minutes: 10.0, warmup_minutes: 0.0 }
    }
}

/// Waiting figures of a group of visitors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitStats {
    /// Visitors per day (mean over replications).
    pub tickets: f64,
    /// Mean wait from taking a number to being called, minutes.
    pub mean_wait: f64,
    /// 90th percentile of the wait, minutes (over all visitors of all replications).
    pub p90_wait: f64,
    /// Share called within the target.
    pub within_target: f64,
    /// Share who waited at all.
    pub p_wait: f64,
}

/// One queue's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueReport {
    pub name: String,
    /// Window schedule, per hour.
    pub windows: Vec<u32>,
    pub wait: WaitStats,
    /// Busy window time / open window time over the scheduled day (after the warm-up).
    pub utilisation: f64,
}

/// One stream's (department's) figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamReport {
    pub name: String,
    pub wait: WaitStats,
}

/// One hour of the day (visitors by the hour they took their number).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourReport {
    pub hour: usize,
    /// Windows open across all queues.
    pub windows: u32,
    pub tickets: f64,
    pub mean_wait: f64,
    pub within_target: f64,
    /// Busy window time in the hour / open window time (a window that closes finishes its visitor, so this
    /// can exceed 1 slightly).
    pub utilisation: f64,
}

/// What a simulation found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    pub replications: u32,
    pub seed: u64,
    pub target_minutes: f64,
    pub hours: usize,
    pub overall: WaitStats,
    /// Half-width of the 95% confidence interval of the mean wait, from the spread between replications.
    pub mean_wait_ci95: f64,
    pub utilisation: f64,
    /// Visitors per day never called (a queue with no window left open).
    pub unserved: f64,
    /// Mean minutes the hall works past the scheduled day to serve those still waiting.
    pub overtime_minutes: f64,
    pub queues: Vec<QueueReport>,
    pub streams: Vec<StreamReport>,
    /// Per hour of the scheduled day (empty when the day is longer than 48 hours, as in long runs).
    pub per_hour: Vec<HourReport>,
}

/// Mean, 90th percentile (nearest rank), share within target and share who waited, of `waits`.
fn wait_stats(mut waits: Vec<f64>, reps: u32, target: f64) -> WaitStats {
    let n = waits.len();
    if n == 0 {
        return WaitStats { tickets: 0.0, mean_wait: 0.0, p90_wait: 0.0, within_target: 1.0, p_wait: 0.0 };
    }
    let nf = n as f64;
    let mean = waits.iter().sum::<f64>() / nf;
    let within = waits.iter().filter(|&&w| w <= target).count() as f64 / nf;
    let waited = waits.iter().filter(|&&w| w > 1e-9).count() as f64 / nf;
    let k = ((0.9 * nf).ceil() as usize).clamp(1, n) - 1;
    let (_, p90, _) = waits.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    WaitStats {
        tickets: nf / f64::from(reps.max(1)),
        mean_wait: mean,
        p90_wait: *p90,
        within_target: within,
        p_wait: waited,
    }
}

#[derive(Clone, Copy)]
struct Visitor {
    arrival: f64,
    service: f64,
    stream: usize,
}

/// Runs the hall `opts.replications` times. Each replication draws its visitors (arrival, department,
/// service time) from its own seed before routing them to queues, so two halls with the same streams and
/// seed see the very same visitors (common random numbers: the comparison is of layouts, not of luck).
pub fn simulate(hall: &Hall, opts: &RunOptions) -> Result<SimReport, StaffingError> {
    hall.check()?;
    if opts.replications == 0 {
        return invalid("at least one replication");
    }
    if !(opts.target_minutes.is_finite() && opts.target_minutes >= 0.0) {
        return invalid("the target wait must be 0 or more minutes");
    }
    let hours = hall.hours();
    let day_end = hours as f64 * 60.0;
    let warm = opts.warmup_minutes.max(0.0);
    let target = opts.target_minutes;

    // (wait, queue, stream) of every counted visitor of every replication.
    let mut served: Vec<(f64, u32, u32)> = Vec::new();
    let hourly = hours <= 48;
    let mut queue_busy = vec![0.0; hall.queues.len()];
    let mut hour_busy: Vec<f64> = vec![0.0; hours];
    let mut hour_n = vec![0u64; hours];
    let mut hour_sum = vec![0.0; hours];
    let mut hour_within = vec![0u64; hours];
    let mut rep_means = Vec::with_capacity(opts.replications as usize);
    let mut unserved = 0u64;
    let mut overtime = 0.0;

    let mut times = Vec::new();
    let mut visitors: Vec<Visitor> = Vec::new();
    let mut queue_of = vec![0usize; hall.streams.len()];
    for (qi, q) in hall.queues.iter().enumerate() {
        for &s in &q.streams {
            queue_of[s] = qi;
        }
    }
    let mut by_queue: Vec<Vec<Visitor>> = hall.queues.iter().map(|_| Vec::new()).collect();

    for rep in 0..opts.replications {
        let mut rng = Rng::seeded(opts.seed ^ (u64::from(rep) + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        visitors.clear();
        for (si, s) in hall.streams.iter().enumerate() {
            times.clear();
            s.arrivals.generate(&mut rng, &mut times);
            for &t in &times {
                visitors.push(Visitor { arrival: t, service: s.service.draw(&mut rng), stream: si });
            }
        }
        for b in by_queue.iter_mut() {
            b.clear();
        }
        for v in &visitors {
            by_queue[queue_of[v.stream]].push(*v);
        }
        let (mut rep_sum, mut rep_n) = (0.0, 0u64);
        let mut last_end: f64 = 0.0;
        for (qi, q) in hall.queues.iter().enumerate() {
            let list = &mut by_queue[qi];
            list.sort_by(|a, b| a.arrival.total_cmp(&b.arrival));
            let slots = q.windows.iter().copied().max().unwrap_or(0);
            let mut free = vec![0.0f64; slots as usize];
            let constant = q.windows.len() == 1;
            for v in list.iter() {
                // FIFO: each visitor in turn takes the window that can call them first.
                let mut best: Option<(usize, f64)> = None;
                if constant {
                    // Every window always open: the earliest free one.
                    for (k, &f) in free.iter().enumerate() {
                        if best.is_none_or(|(_, b)| f < b) {
                            best = Some((k, f));
                        }
                    }
                    best = best.map(|(k, f)| (k, f.max(v.arrival)));
                } else {
                    for (k, &f) in free.iter().enumerate() {
                        if let Some(t) = next_open(&q.windows, k as u32, f.max(v.arrival)) {
                            if best.is_none_or(|(_, b)| t < b) {
                                best = Some((k, t));
                            }
                        }
                    }
                }
                let Some((k, start)) = best else {
                    unserved += 1;
                    continue;
                };
                let end = start + v.service;
                free[k] = end;
                last_end = last_end.max(end);
                if hourly {
                    add_busy(&mut hour_busy, start, end);
                }
                queue_busy[qi] += overlap(start, end, warm, day_end);
                if v.arrival < warm {
                    continue;
                }
                let w = start - v.arrival;
                served.push((w, qi as u32, v.stream as u32));
                rep_sum += w;
                rep_n += 1;
                let h = (v.arrival / 60.0) as usize;
                if hourly && h < hours {
                    hour_n[h] += 1;
                    hour_sum[h] += w;
                    if w <= target {
                        hour_within[h] += 1;
                    }
                }
            }
        }
        overtime += (last_end - day_end).max(0.0);
        if rep_n > 0 {
            rep_means.push(rep_sum / rep_n as f64);
        }
    }

    let reps = opts.replications;
    let r = f64::from(reps);
    let open_minutes = |sched: &[u32]| -> f64 {
        (0..hours)
            .map(|h| f64::from(windows_at(sched, h)) * overlap(h as f64 * 60.0, (h as f64 + 1.0) * 60.0, warm, day_end))
            .sum()
    };
    let total_open: f64 = hall.queues.iter().map(|q| open_minutes(&q.windows)).sum();
    let total_busy: f64 = queue_busy.iter().sum();
    let ratio = |busy: f64, open: f64| if open > 0.0 { busy / open } else { 0.0 };

    let stats = |keep: &dyn Fn(u32, u32) -> bool| {
        wait_stats(served.iter().filter(|x| keep(x.1, x.2)).map(|x| x.0).collect(), reps, target)
    };
    let queues = hall
        .queues
        .iter()
        .zip(&queue_busy)
        .enumerate()
        .map(|(qi, (q, &busy))| QueueReport {
            name: q.name.clone(),
            windows: q.windows.clone(),
            wait: stats(&|x, _| x as usize == qi),
            utilisation: ratio(busy / r, open_minutes(&q.windows)),
        })
        .collect();
    let streams = hall
        .streams
        .iter()
        .enumerate()
        .map(|(si, s)| StreamReport { name: s.name.clone(), wait: stats(&|_, x| x as usize == si) })
        .collect();
    let per_hour = if hours > 48 {
        Vec::new()
    } else {
        (0..hours)
            .map(|h| {
                let windows: u32 = hall.queues.iter().map(|q| windows_at(&q.windows, h)).sum();
                let n = hour_n[h] as f64;
                HourReport {
                    hour: h,
                    windows,
                    tickets: n / r,
                    mean_wait: if n > 0.0 { hour_sum[h] / n } else { 0.0 },
                    within_target: if n > 0.0 { hour_within[h] as f64 / n } else { 1.0 },
                    utilisation: ratio(hour_busy[h] / r, f64::from(windows) * 60.0),
                }
            })
            .collect()
    };
    let ci = if rep_means.len() >= 2 {
        let m = rep_means.iter().sum::<f64>() / rep_means.len() as f64;
        let var = rep_means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (rep_means.len() - 1) as f64;
        1.96 * (var / rep_means.len() as f64).sqrt()
    } else {
        f64::NAN
    };
    Ok(SimReport {
        replications: reps,
        seed: opts.seed,
        target_minutes: target,
        hours,
        overall: wait_stats(served.iter().map(|x| x.0).collect(), reps, target),
        mean_wait_ci95: ci,
        utilisation: ratio(total_busy / r, total_open),
        unserved: unserved as f64 / r,
        overtime_minutes: overtime / r,
        queues,
        streams,
        per_hour,
    })
}

/// A long run of one M/M/c queue (or any [`ServiceTime`]) at a constant rate, for comparing with the
/// closed forms: `customers` expected visitors after a warm-up of `warmup` expected visitors, in one
/// replication. `lambda` per minute.
pub fn long_run(
    windows: u32,
    lambda: f64,
    service: ServiceTime,
    customers: f64,
    warmup: f64,
    seed: u64,
) -> Result<SimReport, StaffingError> {
    positive("arrival rate", lambda)?;
    let minutes = (customers + warmup) / lambda;
    let hours = (minutes / 60.0).ceil().max(1.0) as usize;
    let hall = Hall::pooled(
        vec![Stream { name: "all".into(), arrivals: Arrivals::constant(lambda * 60.0, hours), service }],
        vec![windows],
    );
    simulate(&hall, &RunOptions { replications: 1, seed, target_minutes: 10.0, warmup_minutes: warmup / lambda })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test should panic
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn erlang_c_matches_known_forms() {
        // M/M/1: C = ρ, Wq = ρ / (μ − λ).
        let e = ErlangC::new(1, 0.8, 1.0).unwrap();
        assert!(close(e.p_wait, 0.8, 1e-12));
        assert!(close(e.mean_wait, 4.0, 1e-12));
        // M/M/2: C = 2ρ² / (1 + ρ).
        let rho: f64 = 0.75;
        assert!(close(erlang_c(2, 1.5, 1.0).unwrap(), 2.0 * rho * rho / (1.0 + rho), 1e-12));
        // Stable for very many windows (factorials would overflow).
        let big = ErlangC::new(2000, 1950.0, 1.0).unwrap();
        assert!(big.p_wait.is_finite() && big.p_wait > 0.0 && big.p_wait < 1.0);
        // ρ ≥ 1 has no steady state.
        assert!(matches!(ErlangC::new(4, 4.0, 1.0), Err(StaffingError::Unstable { .. })));
        assert!(matches!(ErlangC::new(0, 1.0, 1.0), Err(StaffingError::Unstable { .. })));
        assert!(ErlangC::new(2, 1.0, 0.0).is_err());
        // Quantile and service level are inverse.
        let e = ErlangC::new(4, 0.32, 0.1).unwrap();
        assert!(close(e.within(e.wait_quantile(0.9)), 0.9, 1e-9));
    }

    #[test]
    fn windows_for_the_textbook_call_centre() {
        // The classic worked example: 100 calls per 30 minutes, 180 s handling time (10 erlangs),
        // 80% answered within 20 s → 14 agents. Per second: λ = 100/1800, μ = 1/180.
        let (lambda, mu) = (100.0 / 1800.0, 1.0 / 180.0);
        assert!(close(erlang_c(11, lambda, mu).unwrap(), 0.6821, 1e-3));
        assert!(close(erlang_c(14, lambda, mu).unwrap(), 0.1741, 2e-3));
        assert!(within(13, lambda, mu, 20.0).unwrap() < 0.8);
        assert!(within(14, lambda, mu, 20.0).unwrap() >= 0.8);
        assert_eq!(windows_for(lambda, mu, 0.8, 20.0).unwrap(), 14);
        assert_eq!(windows_for(0.0, mu, 0.8, 20.0).unwrap(), 0);
        assert!(windows_for(lambda, mu, 1.0, 20.0).is_err());
        // Hour by hour, in the hall's units: 30 an hour at 10 minutes is 5 erlangs.
        let w = windows_per_hour(&[0.0, 30.0, 60.0], 10.0, 0.8, 10.0).unwrap();
        assert_eq!(w[0], 0);
        assert!(w[1] >= 6 && w[2] > w[1]);
    }

    /// Simulated long runs of M/M/c against the closed forms: mean wait within 5%, P(wait > 0) within 3%,
    /// utilisation within 2%, share within 10 minutes within 3%. `customers[i]` (thousands, after a 5%
    /// warm-up) for loads 0.5, 0.7, 0.8, 0.9: sized from the spread over 40 seeds so that each bound is about
    /// 2.5 standard errors (slow relaxation near ρ = 1, and rare waits at low load with many windows, need
    /// the most). About 10 million visitors in all: ~3 s in a debug build on two cores.
    fn agrees_with_erlang_c(c: u32, customers: [f64; 4]) {
        let mu = 0.1; // 10-minute mean service
        for (i, rho) in [0.5, 0.7, 0.8, 0.9].into_iter().enumerate() {
            let lambda = rho * f64::from(c) * mu;
            let exact = ErlangC::new(c, lambda, mu).unwrap();
            let n = customers[i] * 1000.0;
            let service = ServiceTime::Exponential { mean: 1.0 / mu };
            let sim = long_run(c, lambda, service, n, n / 20.0, 2018 + i as u64).unwrap();
            let o = &sim.overall;
            assert!(
                close(o.mean_wait, exact.mean_wait, 0.05),
                "c={c} ρ={rho}: simulated Wq {:.4} vs Erlang C {:.4}",
                o.mean_wait,
                exact.mean_wait
            );
            assert!(
                close(o.p_wait, exact.p_wait, 0.03),
                "c={c} ρ={rho}: simulated P(wait) {:.4} vs Erlang C {:.4}",
                o.p_wait,
                exact.p_wait
            );
            assert!(close(sim.utilisation, rho, 0.02), "c={c} ρ={rho}: utilisation {:.4}", sim.utilisation);
            let sl = exact.within(10.0);
            assert!(close(o.within_target, sl, 0.03), "c={c} ρ={rho}: within 10 min {:.4} vs {sl:.4}", o.within_target);
        }
    }

    #[test]
    fn simulation_agrees_with_erlang_c_c1() {
        agrees_with_erlang_c(1, [65.0, 160.0, 250.0, 1100.0]);
    }

    #[test]
    fn simulation_agrees_with_erlang_c_c2() {
        agrees_with_erlang_c(2, [85.0, 170.0, 360.0, 850.0]);
    }

    #[test]
    fn simulation_agrees_with_erlang_c_c4() {
        agrees_with_erlang_c(4, [210.0, 320.0, 750.0, 1400.0]);
    }

    #[test]
    fn simulation_agrees_with_erlang_c_c8() {
        agrees_with_erlang_c(8, [970.0, 460.0, 800.0, 1950.0]);
    }

    fn departments(n: usize, per_hour: f64, hours: usize) -> Vec<Stream> {
        (0..n)
            .map(|i| Stream {
                name: format!("D{}", i + 1),
                arrivals: Arrivals::constant(per_hour, hours),
                service: ServiceTime::Exponential { mean: 10.0 },
            })
            .collect()
    }

    #[test]
    fn pooled_beats_split_at_equal_windows_and_load() {
        // The seed's point: four departments at 80% load each, one window each, against A1–A4 pooled.
        let streams = departments(4, 4.8, 8);
        let opts = RunOptions { replications: 200, ..RunOptions::default() };
        let pooled = simulate(&Hall::pooled(streams.clone(), vec![4]), &opts).unwrap();
        let split = simulate(&Hall::split(streams, vec![vec![1]; 4]), &opts).unwrap();
        // Same visitors in both halls.
        assert_eq!(pooled.overall.tickets, split.overall.tickets);
        assert!(pooled.overall.mean_wait * 2.0 < split.overall.mean_wait, "{pooled:?} {split:?}");
        assert!(pooled.overall.p90_wait < split.overall.p90_wait);
        assert!(pooled.overall.within_target > split.overall.within_target);
        assert!(pooled.overtime_minutes < split.overtime_minutes);
        // Same work with the same windows, but split windows sit idle while another queue waits, so more of
        // their work spills past closing: the pooled hall is busier within the day, near the 80% offered.
        assert!(pooled.utilisation > split.utilisation, "{} {}", pooled.utilisation, split.utilisation);
        assert!(pooled.utilisation > 0.72 && pooled.utilisation < 0.85, "{}", pooled.utilisation);
        // And in the long run, Erlang C says the same.
        let p = ErlangC::new(4, 0.32, 0.1).unwrap();
        let s = ErlangC::new(1, 0.08, 0.1).unwrap();
        assert!(p.mean_wait * 4.0 < s.mean_wait);
    }

    #[test]
    fn schedules_recorded_arrivals_and_service_shapes() {
        // A window that is closed in the first hour calls nobody until the second.
        let hall = Hall::pooled(
            vec![Stream {
                name: "x".into(),
                arrivals: Arrivals::Recorded(vec![0.0, 5.0]),
                service: ServiceTime::Fixed { mean: 10.0 },
            }],
            vec![0, 1],
        );
        let r = simulate(&hall, &RunOptions { replications: 3, ..RunOptions::default() }).unwrap();
        assert_eq!(r.overall.tickets, 2.0);
        // Waits 60 and 65 minutes (second visitor called at 70).
        assert!(close(r.overall.mean_wait, 62.5, 1e-12));
        assert_eq!(r.per_hour.len(), 2);
        assert_eq!(r.per_hour[0].windows, 0);
        // A schedule that ends closed leaves people unserved, and says so.
        let hall = Hall::pooled(hall.streams.clone(), vec![1, 0]);
        let mut late = hall.clone();
        late.streams[0].arrivals = Arrivals::Recorded(vec![70.0]);
        let r = simulate(&late, &RunOptions::default()).unwrap();
        assert_eq!(r.unserved, 1.0);
        // Lognormal draws have the asked mean and cv.
        let mut rng = Rng::seeded(1);
        let st = ServiceTime::LogNormal { mean: 10.0, cv: 0.5 };
        let xs: Vec<f64> = (0..200_000).map(|_| st.draw(&mut rng)).collect();
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        assert!(close(m, 10.0, 0.01) && close(sd / m, 0.5, 0.02), "{m} {sd}");
        // Hourly Poisson arrivals have the asked counts.
        let r = simulate(
            &Hall::pooled(departments(1, 30.0, 4), vec![10]),
            &RunOptions { replications: 400, ..RunOptions::default() },
        )
        .unwrap();
        assert!(close(r.overall.tickets, 120.0, 0.02));
        // Invalid halls are refused.
        assert!(simulate(&Hall { streams: departments(2, 1.0, 1), queues: vec![] }, &RunOptions::default()).is_err());
    }
}
