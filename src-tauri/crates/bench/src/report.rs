//! The results of a run: per-case figures, the ratios and PASS/MISS against the targets
//! (at least 0.7x the durable reference's throughput for both sizes; p99 under 5 ms at a steady
//! 1,000 deliveries/s), the errors, printed as a table and optionally written as JSON.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::load::{percentile, RunResult, Summary};
use crate::targets::{Stored, TargetKind, Usage};
use crate::workload::Size;
use crate::Settings;

/// Shipwatch's throughput must be at least this fraction of the durable reference's.
pub const MIN_DURABLE_RATIO: f64 = 0.7;
/// p99 at the steady rate must be under this.
pub const MAX_STEADY_P99_MS: f64 = 5.0;

/// What the measured deliveries cost, per delivery: the target's CPU and bytes written to storage,
/// and the load generator's CPU (Linux `/proc`; absent elsewhere).
#[derive(Clone, Debug, Serialize)]
pub struct Cost {
    pub target_cpu_us: f64,
    /// The target's CPU by thread name, microseconds per delivery.
    pub target_threads_cpu_us: BTreeMap<String, f64>,
    pub target_written_bytes: f64,
    pub client_cpu_us: f64,
    /// Percent of the machine's CPU time stolen by the hypervisor meanwhile (noise, not the target).
    pub stolen_pct: f64,
}

impl Cost {
    pub fn between(
        before: (Option<Usage>, Option<Usage>),
        after: (Option<Usage>, Option<Usage>),
        n: usize,
    ) -> Option<Cost> {
        let (Some(t0), Some(c0), Some(t1), Some(c1)) = (before.0, before.1, after.0, after.1) else {
            return None;
        };
        if n == 0 {
            return None;
        }
        let (target, client) = (t0.until(&t1), c0.until(&c1));
        let n = n as f64;
        Some(Cost {
            target_cpu_us: target.cpu_s * 1e6 / n,
            target_threads_cpu_us: target
                .threads_cpu_s
                .into_iter()
                .filter(|(_, cpu)| *cpu > 0.0)
                .map(|(name, cpu)| (name, cpu * 1e6 / n))
                .collect(),
            target_written_bytes: target.write_bytes as f64 / n,
            client_cpu_us: client.cpu_s * 1e6 / n,
            stolen_pct: if client.machine_ticks > 0 {
                client.stolen_ticks as f64 * 100.0 / client.machine_ticks as f64
            } else {
                0.0
            },
        })
    }

    /// e.g. `shipwatch-writer 420, tokio-runtime-w 240`, biggest first.
    fn threads(&self) -> String {
        let mut threads: Vec<(&String, &f64)> = self.target_threads_cpu_us.iter().collect();
        threads.sort_by(|a, b| b.1.total_cmp(a.1));
        threads.iter().map(|(name, us)| format!("{name} {us:.0}")).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Serialize)]
pub struct CaseResult {
    pub target: TargetKind,
    pub size: Size,
    /// 1-based; with several rounds the table shows each target's best.
    pub round: usize,
    pub body_bytes: u64,
    pub summary: Option<Summary>,
    pub cost: Option<Cost>,
    pub stored: Option<Stored>,
    pub problems: Vec<String>,
}

impl CaseResult {
    pub fn new(target: TargetKind, size: Size, round: usize, body_bytes: u64) -> Self {
        CaseResult {
            target,
            size,
            round,
            body_bytes,
            summary: None,
            cost: None,
            stored: None,
            problems: Vec::new(),
        }
    }

    pub fn set_result(&mut self, result: &RunResult) {
        self.summary = Some(result.summary());
        self.problems.extend(result.error_samples.iter().cloned());
        if result.errors > result.error_samples.len() {
            self.problems.push(format!("{} failed requests in all", result.errors));
        }
    }
}

#[derive(Serialize)]
pub struct SteadyResult {
    pub target: TargetKind,
    pub size: Size,
    pub body_bytes: u64,
    pub rate: f64,
    pub summary: Option<Summary>,
    /// How late the scheduler released requests (the client's own timing error), p99.
    pub schedule_lag_p99_ms: f64,
    pub cost: Option<Cost>,
    pub stored: Option<Stored>,
    pub problems: Vec<String>,
}

impl SteadyResult {
    pub fn new(target: TargetKind, size: Size, body_bytes: u64, rate: f64) -> Self {
        SteadyResult {
            target,
            size,
            body_bytes,
            rate,
            summary: None,
            schedule_lag_p99_ms: 0.0,
            cost: None,
            stored: None,
            problems: Vec::new(),
        }
    }

    pub fn set_result(&mut self, result: &RunResult) {
        self.summary = Some(result.summary());
        self.schedule_lag_p99_ms = percentile(&result.schedule_lag_us, 99.0);
        self.problems.extend(result.error_samples.iter().cloned());
        if result.errors > result.error_samples.len() {
            self.problems.push(format!("{} failed requests in all", result.errors));
        }
    }
}

/// A target of the issue, checked.
#[derive(Serialize)]
pub struct Verdict {
    pub what: String,
    pub value: Option<f64>,
    pub target: String,
    pub pass: bool,
    /// Why the figure may say more about the machine than about Shipwatch.
    pub noise: Option<String>,
}

/// Above these, a steady run's latency is the host's as much as the target's.
const NOISY_STOLEN_PCT: f64 = 2.0;
const NOISY_LAG_P99_MS: f64 = 1.0;

#[derive(Serialize)]
pub struct Report {
    pub settings: Settings,
    pub load_average_start: Option<String>,
    pub load_average_end: Option<String>,
    pub cases: Vec<CaseResult>,
    pub steady: Vec<SteadyResult>,
    pub verdicts: Vec<Verdict>,
    pub errors: Vec<String>,
    pub total_s: f64,
}

fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

impl Report {
    pub fn new(settings: Settings) -> Self {
        Report {
            settings,
            load_average_start: load_average(),
            load_average_end: None,
            cases: Vec::new(),
            steady: Vec::new(),
            verdicts: Vec::new(),
            errors: Vec::new(),
            total_s: 0.0,
        }
    }

    pub fn print_header(&self, debug_bench: bool) {
        let s = &self.settings;
        println!(
            "Shipwatch benchmark{}",
            if s.quick {
                " (quick: proves it builds and runs; too short for meaningful figures)"
            } else {
                ""
            }
        );
        println!(
            "  {} connections, HTTP/1.1 keep-alive over loopback; distinct signed deliveries, generated before timing",
            s.concurrency
        );
        println!(
            "  {} CPUs, load average {} at start; load generator: {} thread(s); data dirs in {}",
            s.cpus,
            self.load_average_start.as_deref().unwrap_or("?"),
            s.client_threads,
            s.work_dir.display()
        );
        println!("  shipwatch: {}", s.shipwatch.display());
        if debug_bench || crate::targets::is_debug_build(&s.shipwatch) {
            println!("  WARNING: a debug build is being measured; only release figures mean anything");
        }
        println!();
    }

    pub fn add_case(&mut self, case: CaseResult) {
        let round = if self.settings.rounds > 1 { format!(" (round {})", case.round) } else { String::new() };
        self.errors.extend(
            case.problems
                .iter()
                .map(|p| format!("{} / {}{round}: {p}", case.size.name(), case.target.name())),
        );
        self.cases.push(case);
    }

    /// Each (size, target)'s best round by throughput (interference on a shared machine only ever
    /// slows a run down), in the order run.
    fn best_cases(&self) -> Vec<&CaseResult> {
        let rate = |c: &CaseResult| c.summary.as_ref().map_or(-1.0, |s| s.deliveries_per_s);
        let mut best: Vec<&CaseResult> = Vec::new();
        for case in &self.cases {
            match best.iter_mut().find(|b| b.size == case.size && b.target == case.target) {
                Some(b) if rate(case) > rate(b) => *b = case,
                Some(_) => {}
                None => best.push(case),
            }
        }
        best
    }

    pub fn add_steady(&mut self, steady: SteadyResult) {
        self.errors.extend(
            steady
                .problems
                .iter()
                .map(|p| format!("steady {} / {}: {p}", steady.size.name(), steady.target.name())),
        );
        self.steady.push(steady);
    }

    fn throughput(&self, target: TargetKind, size: Size) -> Option<f64> {
        self.best_cases()
            .into_iter()
            .find(|c| c.target == target && c.size == size)
            .and_then(|c| c.summary.as_ref())
            .map(|s| s.deliveries_per_s)
    }

    fn sizes(&self) -> Vec<Size> {
        Size::ALL.into_iter().filter(|s| self.cases.iter().any(|c| c.size == *s)).collect()
    }

    /// Computes the verdicts once every case is in.
    ///
    /// A steady run whose sender lagged its own schedule, or during which the hypervisor took CPU
    /// time, is flagged: on a shared virtual machine its p99 is the host's as much as Shipwatch's.
    pub fn finish(&mut self) {
        self.load_average_end = load_average();
        let mut verdicts = Vec::new();
        for size in self.sizes() {
            if let (Some(ship), Some(durable)) =
                (self.throughput(TargetKind::Shipwatch, size), self.throughput(TargetKind::Durable, size))
            {
                let ratio = if durable > 0.0 { ship / durable } else { 0.0 };
                verdicts.push(Verdict {
                    what: format!("throughput {}: shipwatch / durable", size.name()),
                    value: Some(ratio),
                    target: format!(">= {MIN_DURABLE_RATIO:.2}x"),
                    pass: ratio >= MIN_DURABLE_RATIO,
                    noise: None,
                });
            }
        }
        for steady in self.steady.iter().filter(|s| s.target == TargetKind::Shipwatch) {
            if let Some(summary) = &steady.summary {
                verdicts.push(Verdict {
                    what: format!("p99 at {:.0}/s {}", steady.rate, steady.size.name()),
                    value: Some(summary.p99_ms),
                    target: format!("< {MAX_STEADY_P99_MS:.0} ms"),
                    pass: summary.p99_ms < MAX_STEADY_P99_MS && summary.errors == 0 && summary.not_sent == 0,
                    noise: steady_noise(steady),
                });
            }
        }
        self.verdicts = verdicts;
    }

    pub fn print(&self) {
        println!(
            "{:<6} {:>8}  {:<10} {:>8} {:>13} {:>8} {:>8} {:>8} {:>7}",
            "size", "body", "target", "requests", "deliveries/s", "p50 ms", "p99 ms", "max ms", "errors"
        );
        if self.settings.rounds > 1 {
            println!("best of {} rounds per target (all rounds in --json):", self.settings.rounds);
        }
        for c in self.best_cases() {
            match &c.summary {
                Some(s) => println!(
                    "{:<6} {:>8}  {:<10} {:>8} {:>13.0} {:>8.2} {:>8.2} {:>8.2} {:>7}",
                    c.size.name(),
                    kb(c.body_bytes),
                    c.target.name(),
                    s.requests,
                    s.deliveries_per_s,
                    s.p50_ms,
                    s.p99_ms,
                    s.max_ms,
                    s.errors
                ),
                None => println!(
                    "{:<6} {:>8}  {:<10} failed (see errors)",
                    c.size.name(),
                    kb(c.body_bytes),
                    c.target.name()
                ),
            }
        }
        println!();

        let sizes = self.sizes();
        if !sizes.is_empty() {
            print!("{:<24}", "ratio of deliveries/s");
            for size in &sizes {
                print!(" {:>8}", size.name());
            }
            println!();
            for (num, den) in [
                (TargetKind::Shipwatch, TargetKind::Durable),
                (TargetKind::Shipwatch, TargetKind::Http),
                (TargetKind::Durable, TargetKind::Http),
            ] {
                print!("{:<24}", format!("{} / {}", num.name(), den.name()));
                for &size in &sizes {
                    match (self.throughput(num, size), self.throughput(den, size)) {
                        (Some(n), Some(d)) if d > 0.0 => print!(" {:>7.2}x", n / d),
                        _ => print!(" {:>8}", "n/a"),
                    }
                }
                println!();
            }
            println!();
        }

        if !self.steady.is_empty() {
            println!("steady rate (open loop; latency from each delivery's scheduled send time):");
            println!(
                "{:<6} {:>8}  {:<10} {:>7} {:>7} {:>11} {:>8} {:>8} {:>8} {:>13}",
                "size",
                "body",
                "target",
                "rate/s",
                "sent",
                "achieved/s",
                "p50 ms",
                "p99 ms",
                "max ms",
                "sched lag p99"
            );
            for s in &self.steady {
                match &s.summary {
                    Some(m) => println!(
                        "{:<6} {:>8}  {:<10} {:>7.0} {:>7} {:>11.0} {:>8.2} {:>8.2} {:>8.2} {:>10.2} ms",
                        s.size.name(),
                        kb(s.body_bytes),
                        s.target.name(),
                        s.rate,
                        m.requests,
                        m.deliveries_per_s,
                        m.p50_ms,
                        m.p99_ms,
                        m.max_ms,
                        s.schedule_lag_p99_ms
                    ),
                    None => println!(
                        "{:<6} {:>8}  {:<10} failed (see errors)",
                        s.size.name(),
                        kb(s.body_bytes),
                        s.target.name()
                    ),
                }
                if let Some(m) = s.summary.as_ref().filter(|m| m.not_sent > 0) {
                    println!(
                        "       {} of {} scheduled deliveries were still waiting {}s after the last scheduled time \
                         ({} fell behind) and were not sent; their wait counts as their latency",
                        m.not_sent,
                        m.requests + m.not_sent,
                        crate::STEADY_GRACE_S,
                        s.target.name()
                    );
                }
            }
            println!();
        }

        let costs: Vec<(String, &Cost)> = self
            .best_cases()
            .into_iter()
            .filter_map(|c| {
                c.cost.as_ref().map(|cost| (format!("{} / {}", c.size.name(), c.target.name()), cost))
            })
            .chain(self.steady.iter().filter_map(|s| {
                s.cost.as_ref().map(|cost| (format!("steady {} / {}", s.size.name(), s.target.name()), cost))
            }))
            .collect();
        if !costs.is_empty() {
            println!("cost per delivery (measured part, from /proc; target CPU by thread in us):");
            println!(
                "  {:<26} {:>12} {:>14} {:>15} {:>7}   target CPU by thread",
                "", "target CPU", "target writes", "load-gen CPU", "stolen"
            );
            for (label, cost) in costs {
                println!(
                    "  {label:<26} {:>9.0} us {:>11.1} KB {:>12.0} us {:>6.1}%   {}",
                    cost.target_cpu_us,
                    cost.target_written_bytes / 1000.0,
                    cost.client_cpu_us,
                    cost.stolen_pct,
                    cost.threads()
                );
            }
            println!();
        }

        println!("stored (checked after each run):");
        let stored_lines =
            self.best_cases()
                .into_iter()
                .map(|c| (format!("{} / {}", c.size.name(), c.target.name()), c.target, &c.stored))
                .chain(self.steady.iter().map(|s| {
                    (format!("steady {} / {}", s.size.name(), s.target.name()), s.target, &s.stored)
                }));
        for (label, kind, stored) in stored_lines {
            let line = match (kind, stored) {
                (TargetKind::Http, _) => "keeps nothing (HTTP limit)".to_string(),
                (_, None) => "not checked (see errors)".to_string(),
                (TargetKind::Shipwatch, Some(s)) => format!(
                    "{} deliveries, {} shipments (inspector API)",
                    s.deliveries,
                    s.shipments.unwrap_or(0)
                ),
                (TargetKind::Durable, Some(s)) => {
                    format!("{} rows, {} body bytes (SQLite)", s.deliveries, s.bytes.unwrap_or(0))
                }
            };
            println!("  {label:<26} {line}");
        }
        println!();

        println!("targets (issue 2):");
        for v in &self.verdicts {
            let value = match v.value {
                Some(x) if v.target.ends_with('x') => format!("{x:.2}x"),
                Some(x) => format!("{x:.2} ms"),
                None => "n/a".into(),
            };
            println!(
                "  {:<38} {:>9}  (target {:<9}) {}{}",
                v.what,
                value,
                v.target,
                if v.pass { "PASS" } else { "MISS" },
                v.noise.as_deref().map(|n| format!("  [{n}]")).unwrap_or_default()
            );
        }
        if self.verdicts.is_empty() {
            println!("  none measured in this run");
        }
        println!();
        if self.errors.is_empty() {
            println!(
                "no errors; every delivery answered 2xx and was found in storage. {:.0}s in all; load average {} at end.",
                self.total_s,
                self.load_average_end.as_deref().unwrap_or("?")
            );
        } else {
            println!("ERRORS ({}):", self.errors.len());
            for e in &self.errors {
                println!("  {e}");
            }
        }
    }

    pub fn write_json(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| format!("cannot encode the results as JSON: {e}"))?;
        std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// Why a steady run's latency is not Shipwatch's alone, if it is not.
fn steady_noise(steady: &SteadyResult) -> Option<String> {
    let stolen = steady.cost.as_ref().map_or(0.0, |c| c.stolen_pct);
    let lag = steady.schedule_lag_p99_ms;
    (stolen > NOISY_STOLEN_PCT || lag > NOISY_LAG_P99_MS).then(|| {
        format!("noisy host: {stolen:.1}% of CPU stolen, sender {lag:.1} ms late at p99; judge a quieter run")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady(stolen_pct: f64, lag_ms: f64) -> SteadyResult {
        let mut s = SteadyResult::new(TargetKind::Shipwatch, Size::Small, 2100, 1000.0);
        s.schedule_lag_p99_ms = lag_ms;
        s.cost = Some(Cost {
            target_cpu_us: 500.0,
            target_threads_cpu_us: BTreeMap::new(),
            target_written_bytes: 0.0,
            client_cpu_us: 100.0,
            stolen_pct,
        });
        s
    }

    #[test]
    fn a_steady_run_on_a_busy_host_is_flagged() {
        assert_eq!(steady_noise(&steady(0.4, 0.3)), None);
        let stolen = steady_noise(&steady(11.7, 0.3)).unwrap();
        assert!(stolen.contains("11.7% of CPU stolen"), "{stolen}");
        assert!(steady_noise(&steady(0.0, 12.5)).unwrap().contains("12.5 ms late"));
    }
}
