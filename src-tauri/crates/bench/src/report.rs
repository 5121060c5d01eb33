//! The results of a run: per checkpoint (deliveries already stored) the ingest rate and its ratios
//! (to the empty store, to the durable reference), the retry storm, the steady-rate latency, every
//! inspector view's latency, cold start, memory and bytes on disk, each with PASS/MISS against issue
//! 17's targets (reported, never asserted); the loading between checkpoints (ingest as the store
//! grows); the errors. Printed as a table per checkpoint and optionally written as JSON.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::load::{percentile, RunResult, Summary};
use crate::targets::Usage;
use crate::views::{Class, StoreCount, ViewResult};
use crate::workload::Counts;
use crate::Settings;

/// Ingest with many deliveries stored, as a fraction of the empty store's rate: at least this.
pub const INGEST_VS_EMPTY: f64 = 0.8;
/// Ingest as a fraction of the durable reference's (on an empty store): at least this.
pub const INGEST_VS_DURABLE: f64 = 0.5;
/// A retry storm's rate as a fraction of new events': at least this.
pub const RETRY_VS_NEW: f64 = 0.8;
/// A retry storm's p99: under this.
pub const RETRY_P99_MS: f64 = 50.0;
/// p99 at a steady 1,000 deliveries/s: under this.
pub const STEADY_P99_MS: f64 = 5.0;
/// Medians: lists and detail views, exact search, substring search, status.
pub const VIEW_MS: f64 = 20.0;
pub const EXACT_MS: f64 = 10.0;
pub const SUBSTRING_MS: f64 = 100.0;
pub const STATUS_MS: f64 = 10.0;
/// From spawning `shipwatch serve` on a full data dir to `/api/status` answering: under this.
pub const COLD_START_S: f64 = 1.0;
/// Resident memory: under this many bytes (150 MB).
pub const RSS_BYTES: f64 = 150e6;
/// The data dir's size per stored delivery, for this workload: at most this.
pub const DISK_BYTES_PER_DELIVERY: f64 = 1200.0;

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

    /// e.g. `shipwatch-writer 420, tokio-runtime-w 240`, biggest three first.
    fn threads(&self) -> String {
        let mut threads: Vec<(&String, &f64)> = self.target_threads_cpu_us.iter().collect();
        threads.sort_by(|a, b| b.1.total_cmp(a.1));
        threads.iter().take(3).map(|(name, us)| format!("{name} {us:.0}")).collect::<Vec<_>>().join(", ")
    }
}

/// One measured load run (closed loop, or open loop for the steady rate).
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub posts: usize,
    pub mean_bytes: u64,
    pub summary: Summary,
    pub cost: Option<Cost>,
    /// Steady runs: how late the sender released requests, p99 (the client's own timing error).
    pub schedule_lag_p99_ms: Option<f64>,
}

impl Run {
    pub fn new(result: &RunResult, posts: usize, mean_bytes: u64, cost: Option<Cost>) -> Run {
        Run {
            posts,
            mean_bytes,
            summary: result.summary(),
            cost,
            schedule_lag_p99_ms: (!result.schedule_lag_us.is_empty())
                .then(|| percentile(&result.schedule_lag_us, 99.0)),
        }
    }

    fn rate(&self) -> f64 {
        self.summary.deliveries_per_s
    }
}

/// A target of the issue, checked at one checkpoint.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub what: String,
    pub value: String,
    pub target: String,
    pub pass: bool,
}

/// Everything measured with a given number of deliveries stored.
#[derive(Clone, Debug, Serialize, Default)]
pub struct Checkpoint {
    /// As asked (`--stored`).
    pub asked: u64,
    /// Deliveries stored when the views were measured (and the ingest batch started).
    pub stored: u64,
    /// After this checkpoint's measurements.
    pub stored_after: u64,
    pub views: Vec<ViewResult>,
    /// The durable reference on an empty store, with the same bodies as `ingest`.
    pub durable: Option<Run>,
    pub ingest: Option<Run>,
    pub retry_storm: Option<Run>,
    pub steady: Option<Run>,
    /// What shipwatch reported having stored, after the measurements.
    pub count: Option<StoreCount>,
    pub rss_bytes: Option<u64>,
    pub peak_rss_bytes: Option<u64>,
    /// The data dir after a clean stop, and its largest files.
    pub disk_bytes: Option<u64>,
    pub disk_files: Vec<(String, u64)>,
    pub cold_start_s: Option<f64>,
    /// The feed's first page, the first request after the restart.
    pub first_feed_after_restart_ms: Option<f64>,
    pub verdicts: Vec<Verdict>,
    /// The run stopped before this checkpoint's measurements were all done.
    pub partial: bool,
}

impl Checkpoint {
    pub fn disk_per_delivery(&self) -> Option<f64> {
        self.disk_bytes.filter(|_| self.stored_after > 0).map(|b| b as f64 / self.stored_after as f64)
    }
}

/// Posting the year between two checkpoints, at full speed: ingest as the store grows.
#[derive(Debug, Serialize, Default)]
pub struct Loading {
    pub from: u64,
    pub to: u64,
    /// Posting time only (bodies are rendered between chunks, untimed).
    pub seconds: f64,
    pub rendering_seconds: f64,
    pub chunks: Vec<LoadChunk>,
}

#[derive(Debug, Serialize)]
pub struct LoadChunk {
    pub stored_before: u64,
    pub posts: usize,
    pub seconds: f64,
    pub deliveries_per_s: f64,
    pub p99_ms: f64,
}

impl Loading {
    fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            (self.to - self.from) as f64 / self.seconds
        } else {
            0.0
        }
    }
}

#[derive(Serialize)]
pub struct Report {
    pub settings: Settings,
    pub load_average_start: Option<String>,
    pub load_average_end: Option<String>,
    pub checkpoints: Vec<Checkpoint>,
    /// The checkpoint being measured, as far as it got.
    #[serde(skip)]
    pub in_progress: Option<Checkpoint>,
    pub loading: Vec<Loading>,
    /// What was posted, by kind.
    pub posted: Counts,
    /// The targets at the last checkpoint.
    pub verdicts: Vec<Verdict>,
    pub errors: Vec<String>,
    pub total_s: f64,
}

fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> =
        digits.as_bytes().rchunks(3).rev().map(|g| std::str::from_utf8(g).unwrap_or("?")).collect();
    groups.join(",")
}

fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2} ms")
    } else if v < 100.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

/// A rate, e.g. `12,345/s`.
fn per_s(rate: f64) -> String {
    format!("{}/s", thousands(rate.round().max(0.0) as u64))
}

fn mb(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1e6)
}

fn ratio_verdict(what: String, num: f64, den: f64, min: f64) -> Option<Verdict> {
    (den > 0.0).then(|| {
        let r = num / den;
        Verdict { what, value: format!("{r:.2}x"), target: format!(">= {min:.1}x"), pass: r >= min }
    })
}

fn below(what: String, value: f64, shown: String, max: f64, target: String) -> Verdict {
    Verdict { what, value: shown, target, pass: value < max }
}

impl Report {
    pub fn new(settings: Settings) -> Self {
        Report {
            settings,
            load_average_start: load_average(),
            load_average_end: None,
            checkpoints: Vec::new(),
            in_progress: None,
            loading: Vec::new(),
            posted: Counts::default(),
            verdicts: Vec::new(),
            errors: Vec::new(),
            total_s: 0.0,
        }
    }

    pub fn print_header(&self, debug_bench: bool) {
        let s = &self.settings;
        println!(
            "Shipwatch benchmark: a busy merchant's year (seed {}){}",
            s.seed,
            if s.quick { " -- quick: proves it builds and runs; its figures mean nothing" } else { "" }
        );
        println!(
            "  checkpoints (deliveries stored): {}; at each: {} posts ingested, a retry storm of the {} newest events, \
             {:.0}/s for {:.0} s, {} requests per view",
            s.stored.iter().map(|n| thousands(*n)).collect::<Vec<_>>().join(", "),
            thousands(s.batch as u64),
            thousands(s.retry_storm as u64),
            s.rate,
            s.steady_s,
            s.view_requests
        );
        println!(
            "  {} CPUs, load average {} at start; {} connections over loopback, load generator {} thread(s); data dirs in {}",
            s.cpus,
            self.load_average_start.as_deref().unwrap_or("?"),
            s.concurrency,
            s.client_threads,
            s.work_dir.display()
        );
        println!(
            "  shipwatch: {}{}{}",
            s.shipwatch.display(),
            s.shipwatch_built.as_deref().map(|t| format!(", written {t}")).unwrap_or_default(),
            if s.shipwatch_copied { " (run from a copy)" } else { "" }
        );
        if debug_bench || crate::targets::is_debug_build(&s.shipwatch) {
            println!("  WARNING: a debug build is being measured; only release figures mean anything");
        }
        println!();
    }

    /// The empty store's ingest rate (the first checkpoint measured with nothing stored).
    fn empty_rate(&self) -> Option<f64> {
        self.checkpoints.iter().find(|c| c.stored == 0).and_then(|c| c.ingest.as_ref()).map(Run::rate)
    }

    /// Works out every checkpoint's verdicts; the report's are the last checkpoint's.
    pub fn finish(&mut self, counts: Counts) {
        self.posted = counts;
        self.load_average_end = load_average();
        let empty = self.empty_rate();
        for c in &mut self.checkpoints {
            c.verdicts = verdicts(c, empty);
        }
        self.verdicts = self.checkpoints.last().map(|c| c.verdicts.clone()).unwrap_or_default();
    }

    pub fn print_checkpoint(&self, c: &Checkpoint) {
        let empty = self.empty_rate();
        let verdicts = verdicts(c, empty);
        let verdict_of = |what: &str| verdicts.iter().find(|v| v.what == what);
        println!(
            "== {} deliveries stored{}{} ==",
            thousands(c.stored),
            if c.asked != c.stored { format!(" (asked {})", thousands(c.asked)) } else { String::new() },
            if c.partial { "; cut short, what was measured" } else { "" }
        );
        let row = |what: &str, value: String, verdict: Option<&Verdict>, note: String| {
            let (target, outcome) = match verdict {
                Some(v) => (v.target.clone(), if v.pass { "PASS" } else { "MISS" }),
                None => (String::new(), ""),
            };
            println!("{}", format!("  {what:<38} {value:>16}  {target:<10} {outcome:<4}  {note}").trim_end());
        };
        if let Some(run) = &c.ingest {
            let s = &run.summary;
            row(
                &format!(
                    "ingest: {} posts of {:.1} KB",
                    thousands(run.posts as u64),
                    run.mean_bytes as f64 / 1000.0
                ),
                per_s(s.deliveries_per_s),
                None,
                format!(
                    "p50 {}, p99 {}{}",
                    ms(s.p50_ms),
                    ms(s.p99_ms),
                    run.cost
                        .as_ref()
                        .map(|k| format!(
                            "; {:.0} us CPU/post ({}), {:.1} KB written/post, {:.1}% stolen",
                            k.target_cpu_us,
                            k.threads(),
                            k.target_written_bytes / 1000.0,
                            k.stolen_pct
                        ))
                        .unwrap_or_default()
                ),
            );
            match verdict_of("ingest / empty store") {
                Some(v) => row("  / empty store", v.value.clone(), Some(v), String::new()),
                None if c.stored == 0 => {
                    row("  / empty store", "1.00x".into(), None, "(this is the empty store)".into())
                }
                None => row("  / empty store", "n/a".into(), None, "no checkpoint at 0 stored".into()),
            }
            match (&c.durable, verdict_of("ingest / durable reference")) {
                (Some(d), Some(v)) => row(
                    "  / durable reference",
                    v.value.clone(),
                    Some(v),
                    format!("durable: {} on an empty store, same bodies", per_s(d.rate())),
                ),
                _ => row("  / durable reference", "n/a".into(), None, "not run".into()),
            }
        }
        if let Some(run) = &c.retry_storm {
            row(
                &format!("retry storm: {} newest events again", thousands(run.posts as u64)),
                per_s(run.rate()),
                None,
                format!("p50 {}", ms(run.summary.p50_ms)),
            );
            if let Some(v) = verdict_of("retry storm / new events") {
                row("  / new events", v.value.clone(), Some(v), String::new());
            }
            if let Some(v) = verdict_of("retry storm p99") {
                row("  p99", v.value.clone(), Some(v), String::new());
            }
        }
        if let Some(run) = &c.steady {
            let s = &run.summary;
            let v = verdict_of("p99 at a steady rate");
            row(
                &format!("steady {:.0}/s for {:.0} s: p99", self.settings.rate, self.settings.steady_s),
                ms(s.p99_ms),
                v,
                format!(
                    "p50 {}, max {}, {} sent{}{}",
                    ms(s.p50_ms),
                    ms(s.max_ms),
                    thousands(s.requests as u64),
                    if s.not_sent > 0 {
                        format!(", {} never sent (fell behind)", thousands(s.not_sent as u64))
                    } else {
                        String::new()
                    },
                    steady_noise(run).map(|n| format!(" [{n}]")).unwrap_or_default()
                ),
            );
        }
        if !c.views.is_empty() {
            println!(
                "  views ({} requests each unless said; median, p99 in the note):",
                self.settings.view_requests
            );
            for view in &c.views {
                let v = verdict_of(&format!("view: {}", view.name));
                match view.median_ms {
                    Some(m) => row(
                        &format!("  {}", view.name),
                        ms(m),
                        v,
                        format!(
                            "p99 {}{}{}{}",
                            ms(view.p99_ms.unwrap_or(0.0)),
                            if view.requests != self.settings.view_requests {
                                format!(", {} requests", view.requests)
                            } else {
                                String::new()
                            },
                            view.mean_items.map(|n| format!(", {n:.0} items")).unwrap_or_default(),
                            view.note.as_deref().map(|n| format!("; {n}")).unwrap_or_default()
                        ),
                    ),
                    None => row(
                        &format!("  {}", view.name),
                        "n/a".into(),
                        None,
                        view.note.clone().unwrap_or_default(),
                    ),
                }
            }
        }
        if let Some(s) = c.cold_start_s {
            row(
                "cold start (to /api/status)",
                format!("{s:.2} s"),
                verdict_of("cold start"),
                c.first_feed_after_restart_ms
                    .map(|m| format!("then the feed's first page in {}", ms(m)))
                    .unwrap_or_default(),
            );
        }
        if let Some(rss) = c.rss_bytes {
            row(
                "RSS",
                mb(rss as f64),
                verdict_of("RSS"),
                c.peak_rss_bytes.map(|p| format!("peak {} since start", mb(p as f64))).unwrap_or_default(),
            );
        }
        if let (Some(bytes), Some(per)) = (c.disk_bytes, c.disk_per_delivery()) {
            // The WAL a clean stop leaves behind is on disk too, but says little about the store's
            // format: show the rest apart.
            let logs: u64 = c
                .disk_files
                .iter()
                .filter(|(f, _)| f.ends_with("-wal") || f.ends_with("-shm"))
                .map(|(_, b)| *b)
                .sum();
            row(
                "on disk per delivery",
                format!("{} bytes", thousands(per.round() as u64)),
                verdict_of("on disk per delivery"),
                format!(
                    "{} for {} deliveries ({} bytes each without -wal/-shm): {}",
                    mb(bytes as f64),
                    thousands(c.stored_after),
                    thousands((bytes - logs.min(bytes)) / c.stored_after.max(1)),
                    c.disk_files
                        .iter()
                        .take(3)
                        .map(|(f, b)| format!("{f} {}", mb(*b as f64)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if let Some(count) = &c.count {
            println!(
                "  stored after: {} deliveries, {} shipments (checked through the inspector API), {} failed verifications today",
                thousands(count.deliveries),
                thousands(count.shipments),
                thousands(count.failures_today)
            );
        }
        println!();
    }

    pub fn print_loading(&self, l: &Loading) {
        let chunks = &l.chunks;
        let (first, last) = (chunks.first(), chunks.last());
        println!(
            "loading {} -> {}: {} posts in {:.0} s = {}{} (+{:.0} s rendering bodies, untimed)",
            thousands(l.from),
            thousands(l.to),
            thousands(l.to - l.from),
            l.seconds,
            per_s(l.rate()),
            match (first, last) {
                (Some(f), Some(z)) if chunks.len() > 1 => format!(
                    "; first chunk {}, last {} (p99 {} -> {})",
                    per_s(f.deliveries_per_s),
                    per_s(z.deliveries_per_s),
                    ms(f.p99_ms),
                    ms(z.p99_ms)
                ),
                _ => String::new(),
            },
            l.rendering_seconds
        );
        println!();
    }

    pub fn print_summary(&self) {
        let p = &self.posted;
        println!(
            "posted: {} ({} new events, {} late older updates, {} retries, {} forged) for {} shipments",
            thousands(p.posts()),
            thousands(p.new),
            thousands(p.late),
            thousands(p.retry),
            thousands(p.forged),
            thousands(p.shipments_started)
        );
        if let Some(last) = self.checkpoints.last() {
            println!("targets (issue 17) at {} deliveries stored:", thousands(last.stored));
            let misses: Vec<&Verdict> = self.verdicts.iter().filter(|v| !v.pass).collect();
            println!(
                "  {} of {} PASS{}",
                self.verdicts.len() - misses.len(),
                self.verdicts.len(),
                if misses.is_empty() { String::new() } else { "; MISS:".into() }
            );
            for v in misses {
                println!("    {:<40} {:>12}  (target {})", v.what, v.value, v.target);
            }
            if last.stored < 1_000_000 {
                println!("  (the issue's targets are for 1,000,000 stored)");
            }
        }
        println!();
        if self.errors.is_empty() {
            println!(
                "no errors: every post was answered as it should be and everything answered was found stored. \
                 {:.0} s in all; load average {} at end.",
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

/// Above these, a steady run's latency is the host's as much as shipwatch's.
const NOISY_STOLEN_PCT: f64 = 2.0;
const NOISY_LAG_P99_MS: f64 = 1.0;

/// Why a steady run's latency is not shipwatch's alone, if it is not: the hypervisor took CPU time,
/// or the sender itself released requests late (the machine was busy).
fn steady_noise(run: &Run) -> Option<String> {
    let stolen = run.cost.as_ref().map_or(0.0, |c| c.stolen_pct);
    let lag = run.schedule_lag_p99_ms.unwrap_or(0.0);
    (stolen > NOISY_STOLEN_PCT || lag > NOISY_LAG_P99_MS).then(|| {
        format!("noisy host: {stolen:.1}% of CPU stolen, sender {lag:.1} ms late at p99; judge a quieter run")
    })
}

/// The issue's targets, checked at one checkpoint (`empty`: the empty store's ingest rate).
fn verdicts(c: &Checkpoint, empty: Option<f64>) -> Vec<Verdict> {
    let mut out = Vec::new();
    if let Some(ingest) = &c.ingest {
        out.extend(
            empty.and_then(|e| {
                ratio_verdict("ingest / empty store".into(), ingest.rate(), e, INGEST_VS_EMPTY)
            }),
        );
        if let Some(d) = &c.durable {
            out.extend(ratio_verdict(
                "ingest / durable reference".into(),
                ingest.rate(),
                d.rate(),
                INGEST_VS_DURABLE,
            ));
        }
        if let Some(storm) = &c.retry_storm {
            out.extend(ratio_verdict(
                "retry storm / new events".into(),
                storm.rate(),
                ingest.rate(),
                RETRY_VS_NEW,
            ));
        }
    }
    if let Some(storm) = &c.retry_storm {
        let p99 = storm.summary.p99_ms;
        out.push(below(
            "retry storm p99".into(),
            p99,
            ms(p99),
            RETRY_P99_MS,
            format!("< {RETRY_P99_MS:.0} ms"),
        ));
    }
    if let Some(steady) = &c.steady {
        let s = &steady.summary;
        let mut v = below(
            "p99 at a steady rate".into(),
            s.p99_ms,
            ms(s.p99_ms),
            STEADY_P99_MS,
            format!("< {STEADY_P99_MS:.0} ms"),
        );
        v.pass &= s.errors == 0 && s.not_sent == 0;
        out.push(v);
    }
    for view in &c.views {
        let Some(median) = view.median_ms else { continue };
        let max = match view.class {
            Class::View => VIEW_MS,
            Class::Exact => EXACT_MS,
            Class::Substring => SUBSTRING_MS,
            Class::Status => STATUS_MS,
        };
        out.push(below(format!("view: {}", view.name), median, ms(median), max, format!("< {max:.0} ms")));
    }
    if let Some(s) = c.cold_start_s {
        out.push(below(
            "cold start".into(),
            s,
            format!("{s:.2} s"),
            COLD_START_S,
            format!("< {COLD_START_S:.0} s"),
        ));
    }
    if let Some(rss) = c.rss_bytes {
        out.push(below("RSS".into(), rss as f64, mb(rss as f64), RSS_BYTES, format!("< {}", mb(RSS_BYTES))));
    }
    if let Some(per) = c.disk_per_delivery() {
        out.push(Verdict {
            what: "on disk per delivery".into(),
            value: format!("{} bytes", thousands(per.round() as u64)),
            target: format!("<= {DISK_BYTES_PER_DELIVERY:.0}"),
            pass: per <= DISK_BYTES_PER_DELIVERY,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: f64, p99: f64) -> Run {
        Run {
            posts: 1000,
            mean_bytes: 5000,
            summary: Summary {
                requests: 1000,
                errors: 0,
                not_sent: 0,
                seconds: 1000.0 / rate,
                deliveries_per_s: rate,
                p50_ms: p99 / 2.0,
                p99_ms: p99,
                max_ms: p99,
            },
            cost: None,
            schedule_lag_p99_ms: None,
        }
    }

    #[test]
    fn verdicts_follow_the_issue_targets() {
        let c = Checkpoint {
            stored: 1_000_000,
            stored_after: 1_000_000,
            ingest: Some(run(800.0, 30.0)),
            durable: Some(run(2000.0, 10.0)),
            retry_storm: Some(run(700.0, 60.0)),
            steady: Some(run(1000.0, 4.0)),
            disk_bytes: Some(1_100_000_000),
            cold_start_s: Some(1.5),
            rss_bytes: Some(100_000_000),
            ..Default::default()
        };
        let v = verdicts(&c, Some(1000.0));
        let pass = |what: &str| v.iter().find(|v| v.what == what).map(|v| v.pass);
        assert_eq!(pass("ingest / empty store"), Some(true)); // 0.8x
        assert_eq!(pass("ingest / durable reference"), Some(false)); // 0.4x
        assert_eq!(pass("retry storm / new events"), Some(true)); // 0.875x
        assert_eq!(pass("retry storm p99"), Some(false));
        assert_eq!(pass("p99 at a steady rate"), Some(true));
        assert_eq!(pass("on disk per delivery"), Some(true)); // 1,100
        assert_eq!(pass("cold start"), Some(false));
        assert_eq!(pass("RSS"), Some(true));
        assert_eq!(steady_noise(&run(1000.0, 4.0)), None);
        let mut late = run(1000.0, 4.0);
        late.schedule_lag_p99_ms = Some(12.5);
        assert!(steady_noise(&late).unwrap().contains("12.5 ms late"));
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
