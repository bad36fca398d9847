//! What a benchmark costs this process: CPU time and context switches, from Linux's /proc. The load
//! driver and the server share the process (and the machine's cores), so the figures are theirs
//! together — the budget a target rate leaves per transition.

use std::collections::HashMap;
use std::time::Duration;

/// Clock ticks per second in /proc (USER_HZ: 100 on Linux whatever the kernel's own tick rate).
const TICKS_PER_SECOND: u64 = 100;

#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub cpu: Duration,
    /// Context switches so far, by thread id.
    pub context_switches: HashMap<String, u64>,
}

impl Usage {
    /// This process so far; `None` where /proc is not there.
    pub fn now() -> Option<Usage> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces) start at the state, field 3.
        let after = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let (utime, stime): (u64, u64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
        // Context switches are counted per thread, and only while it lives.
        let mut context_switches = HashMap::new();
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let Ok(status) = std::fs::read_to_string(task.path().join("status")) else { continue };
            let switches = status
                .lines()
                .filter_map(|line| {
                    line.strip_prefix("voluntary_ctxt_switches:")
                        .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
                })
                .filter_map(|n| n.trim().parse::<u64>().ok())
                .sum();
            context_switches.insert(task.file_name().to_string_lossy().into_owned(), switches);
        }
        Some(Usage { cpu: Duration::from_millis((utime + stime) * 1000 / TICKS_PER_SECOND), context_switches })
    }

    /// What happened since `before`, per unit of work, as a line for the report.
    pub fn per(before: Option<Usage>, units: usize, unit: &str) -> Option<String> {
        let (before, after) = (before?, Usage::now()?);
        let units = units.max(1) as f64;
        let cpu = after.cpu.saturating_sub(before.cpu);
        // Threads alive at the end, each from where it stood at the start (zero if it began since).
        let switches: u64 = after
            .context_switches
            .iter()
            .map(|(tid, n)| n.saturating_sub(before.context_switches.get(tid).copied().unwrap_or(0)))
            .sum();
        Some(format!(
            "CPU of server and driver together: {:.2} s, {:.0} µs per {unit}; {:.1} context switches per {unit} (threads alive at the end)",
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / units,
            switches as f64 / units,
        ))
    }
}
