//! The load generator: a closed loop (N keep-alive connections, each sends its next delivery as soon
//! as the previous one is answered) for throughput, and an open loop (sends at scheduled times,
//! latency measured from the scheduled time so a slow answer cannot hide the requests it delayed:
//! no coordinated omission) for latency at a steady rate. Each delivery says what it must be answered
//! (2xx, or 401 for a forged one); any other answer or a failed request is an error, counted and
//! sampled. The status of every delivery is kept, so the caller knows exactly what was stored.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, Mutex};

use crate::client::Conn;
use crate::workload::{Deliveries, Expect};

/// How many error messages a run keeps to show.
const ERROR_SAMPLES: usize = 5;

/// The outcome of one load run.
#[derive(Default)]
pub struct RunResult {
    /// Requests answered as they should be (2xx, or 401 for a forged delivery).
    pub ok: usize,
    pub errors: usize,
    pub error_samples: Vec<String>,
    /// From the start to the last answer.
    pub elapsed: Duration,
    /// Latency of every answer as it should be, microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// The HTTP status each delivery was answered, by index; 0: not sent or no answer.
    pub statuses: Vec<u16>,
    /// Open loop only: how late the scheduler released requests (microseconds, sorted).
    pub schedule_lag_us: Vec<u32>,
    /// Open loop only: deliveries still waiting for a connection when the run's grace period ended;
    /// never sent. Their latency so far is counted in `latencies_us` (a lower bound).
    pub not_sent: usize,
}

/// Summary figures of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub requests: usize,
    pub errors: usize,
    /// Open loop: scheduled but never sent (the target fell too far behind).
    pub not_sent: usize,
    pub seconds: f64,
    pub deliveries_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl RunResult {
    pub fn summary(&self) -> Summary {
        let seconds = self.elapsed.as_secs_f64();
        Summary {
            requests: self.ok + self.errors,
            errors: self.errors,
            not_sent: self.not_sent,
            seconds,
            deliveries_per_s: if seconds > 0.0 { self.ok as f64 / seconds } else { 0.0 },
            p50_ms: percentile(&self.latencies_us, 50.0),
            p99_ms: percentile(&self.latencies_us, 99.0),
            max_ms: self.latencies_us.last().map_or(0.0, |&us| f64::from(us) / 1000.0),
        }
    }

    fn merge(&mut self, other: WorkerResult, start: Instant) {
        for (index, status) in other.answered {
            self.statuses[index as usize] = status;
        }
        self.ok += other.ok;
        self.errors += other.errors;
        self.not_sent += other.not_sent;
        for e in other.error_samples {
            if self.error_samples.len() < ERROR_SAMPLES {
                self.error_samples.push(e);
            }
        }
        if let Some(last) = other.last_answer {
            self.elapsed = self.elapsed.max(last.duration_since(start));
        }
        self.latencies_us.extend(other.latencies_us);
    }
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
pub fn percentile(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1]) / 1000.0
}

#[derive(Default)]
struct WorkerResult {
    ok: usize,
    errors: usize,
    not_sent: usize,
    error_samples: Vec<String>,
    last_answer: Option<Instant>,
    latencies_us: Vec<u32>,
    /// (delivery index, HTTP status) of every answer.
    answered: Vec<(u32, u16)>,
}

impl WorkerResult {
    fn error(&mut self, message: String) {
        self.errors += 1;
        if self.error_samples.len() < ERROR_SAMPLES {
            self.error_samples.push(message);
        }
    }
}

/// Where deliveries go.
#[derive(Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub path: String,
}

/// Sends delivery `index` and records the answer; `since` is when its latency starts.
async fn send_one(
    conn: &mut Conn,
    endpoint: &Endpoint,
    deliveries: &Deliveries,
    index: usize,
    since: Instant,
    result: &mut WorkerResult,
) {
    let delivery = &deliveries.items[index];
    let headers = [
        ("content-type", "application/json"),
        ("user-agent", "shipwatch-bench"),
        (shipwatch_aftership::SIGNATURE_HEADER, delivery.signature.as_str()),
    ];
    match conn.request("POST", &endpoint.path, &headers, &delivery.body, false).await {
        Ok(answer) => {
            let now = Instant::now();
            result.last_answer = Some(now);
            result.answered.push((index as u32, answer.status));
            let expected = match delivery.expect {
                Expect::Accepted => (200..300).contains(&answer.status),
                Expect::Rejected => answer.status == 401,
            };
            if expected {
                result.ok += 1;
                result
                    .latencies_us
                    .push(now.duration_since(since).as_micros().min(u128::from(u32::MAX)) as u32);
            } else {
                let should = match delivery.expect {
                    Expect::Accepted => "2xx",
                    Expect::Rejected => "401 (forged)",
                };
                result.error(format!("delivery {index}: answered {} instead of {should}", answer.status));
            }
        }
        Err(e) => {
            result.last_answer = Some(Instant::now());
            result.error(format!("delivery {index}: {e}"));
        }
    }
}

async fn open_connections(addr: SocketAddr, n: usize) -> Result<Vec<Conn>, String> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(Conn::connect(addr).await.map_err(|e| format!("cannot connect to {addr}: {e}"))?);
    }
    Ok(conns)
}

/// Closed loop: `concurrency` connections send `deliveries` (each exactly once, in order of
/// claim) until all are sent or `time_limit` has passed.
pub async fn closed_loop(
    endpoint: &Endpoint,
    deliveries: Arc<Deliveries>,
    concurrency: usize,
    time_limit: Option<Duration>,
) -> Result<RunResult, String> {
    let conns = open_connections(endpoint.addr, concurrency.max(1)).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = time_limit.map(|t| start + t);
    let mut tasks = Vec::with_capacity(conns.len());
    for mut conn in conns {
        let (next, deliveries, endpoint) = (next.clone(), deliveries.clone(), endpoint.clone());
        tasks.push(tokio::spawn(async move {
            let mut result = WorkerResult {
                latencies_us: Vec::with_capacity(deliveries.len() / concurrency + 1),
                ..Default::default()
            };
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= deliveries.len() {
                    break;
                }
                send_one(&mut conn, &endpoint, &deliveries, index, Instant::now(), &mut result).await;
            }
            result
        }));
    }
    let mut out = RunResult { statuses: vec![0; deliveries.len()], ..Default::default() };
    for task in tasks {
        let worker = task.await.map_err(|e| format!("a load worker failed: {e}"))?;
        out.merge(worker, start);
    }
    out.latencies_us.sort_unstable();
    Ok(out)
}

/// Open loop: releases delivery i at `start + i / rate` from a dedicated thread (precise sleeps,
/// not the async timer's 1 ms ticks); up to `concurrency` connections send them; latency runs from
/// the scheduled time, so time spent waiting for a free connection counts. A target that falls
/// behind does not stretch the run: what is still waiting `grace` after the last scheduled time is
/// not sent (counted in `not_sent`, its wait so far counted as its latency).
pub async fn open_loop(
    endpoint: &Endpoint,
    deliveries: Arc<Deliveries>,
    rate: f64,
    concurrency: usize,
    grace: Duration,
) -> Result<RunResult, String> {
    if !(rate.is_finite() && rate > 0.0) {
        return Err(format!("the rate must be a positive number of deliveries per second, not {rate}"));
    }
    let conns = open_connections(endpoint.addr, concurrency.max(1)).await?;
    let (tx, rx) = mpsc::unbounded_channel::<(usize, Instant)>();
    let rx = Arc::new(Mutex::new(rx));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let count = deliveries.len();
    let start = Instant::now() + Duration::from_millis(20);
    let cutoff = start + interval.mul_f64(count as f64) + grace;
    let scheduler = std::thread::Builder::new()
        .name("bench-scheduler".into())
        .spawn(move || {
            let mut lags = Vec::with_capacity(count);
            for index in 0..count {
                let at = start + interval.mul_f64(index as f64);
                let now = Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                lags.push(
                    Instant::now().saturating_duration_since(at).as_micros().min(u128::from(u32::MAX)) as u32
                );
                if tx.send((index, at)).is_err() {
                    break;
                }
            }
            lags
        })
        .map_err(|e| format!("cannot start the scheduler thread: {e}"))?;

    let mut tasks = Vec::with_capacity(conns.len());
    for mut conn in conns {
        let (rx, deliveries, endpoint) = (rx.clone(), deliveries.clone(), endpoint.clone());
        tasks.push(tokio::spawn(async move {
            let mut result = WorkerResult::default();
            loop {
                let job = rx.lock().await.recv().await;
                let Some((index, scheduled)) = job else { break };
                let now = Instant::now();
                if now > cutoff {
                    result.not_sent += 1;
                    result
                        .latencies_us
                        .push(now.duration_since(scheduled).as_micros().min(u128::from(u32::MAX)) as u32);
                    continue;
                }
                send_one(&mut conn, &endpoint, &deliveries, index, scheduled, &mut result).await;
            }
            result
        }));
    }
    let mut out = RunResult { statuses: vec![0; count], ..Default::default() };
    for task in tasks {
        let worker = task.await.map_err(|e| format!("a load worker failed: {e}"))?;
        out.merge(worker, start);
    }
    out.latencies_us.sort_unstable();
    let mut lags = scheduler.join().map_err(|_| "the scheduler thread panicked".to_string())?;
    lags.sort_unstable();
    out.schedule_lag_us = lags;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
        assert_eq!(percentile(&[1500], 50.0), 1.5);
    }
}
