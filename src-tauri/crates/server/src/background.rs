//! The engine's background tasks: forward mode (queue, send, retry with backoff), the liveness
//! heartbeat behind the "receiver was offline" warning, retention, and the supervised tunnel.

use std::sync::Arc;
use std::time::Duration;

use shipwatch_api::{ForwardAttempt, LiveEvent, ReceiverState};
use shipwatch_devtools::replay::{self, ReplayOptions};
use shipwatch_store::forwards::{self, AttemptOutcome};
use shipwatch_store::{meta, queries, retention};
use tokio::sync::watch;

use crate::engine_impl::ApiInner;
use crate::receiver::now_ms;

/// Forward retries: 1 s doubling to [`FORWARD_MAX_BACKOFF`], given up after [`FORWARD_GIVE_UP`] (as
/// long as AfterShip itself retries).
pub const FORWARD_MAX_BACKOFF: Duration = Duration::from_secs(300);
pub const FORWARD_GIVE_UP: Duration = Duration::from_secs(68 * 3600);
/// How often the heartbeat is written; a gap of more than [`OFFLINE_AFTER`] is reported.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
pub const OFFLINE_AFTER: Duration = Duration::from_secs(120);
/// How often retention runs.
pub const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// The backoff after `attempts` failed attempts.
pub fn forward_backoff(attempts: u32) -> Duration {
    let secs = 1u64.checked_shl(attempts.min(20)).unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(FORWARD_MAX_BACKOFF)
}

/// Forward mode: queues new deliveries, sends what is due, retries with backoff; everything it does
/// goes through the database, so a restart resumes where it stopped.
pub(crate) async fn forwarder(inner: Arc<ApiInner>, mut stop: watch::Receiver<bool>) {
    let mut events = inner.events.subscribe();
    loop {
        let mut wait = Duration::from_secs(1);
        let forwarding = inner.forward_target();
        if let Some((target, failing)) = forwarding.clone() {
            // The watermark was set when forward mode was switched on (update_settings): everything
            // stored after it is queued, including what arrived while Shipwatch was down or busy.
            if let Err(e) =
                inner.store.write(move |c| forwards::enqueue_new(c, &target, failing, now_ms())).await
            {
                tracing::error!(error = %e, "forward mode: cannot queue deliveries");
            }
            let due = inner.store.read(|c| forwards::due(c, now_ms(), 32)).await.unwrap_or_default();
            for job in due {
                if *stop.borrow() {
                    return;
                }
                forward_one(&inner, job).await;
            }
            if let Ok(Some(next)) = inner.store.read(forwards::next_due_at).await {
                wait = Duration::from_millis((next - now_ms()).clamp(0, 1000) as u64);
            }
        }
        if forwarding.is_none() {
            // Off: look again each second, without waking for every delivery meanwhile.
            events = events.resubscribe();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        tokio::select! {
            _ = events.recv() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn forward_one(inner: &ApiInner, job: forwards::ForwardJob) {
    let delivery_id = job.delivery_id;
    let record = match inner.store.read(move |c| queries::get_delivery(c, delivery_id)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, delivery_id, "forward mode: cannot read the delivery");
            return;
        }
    };
    let at = now_ms();
    let outcome = match replay::prepare(&record, &ReplayOptions::default()) {
        Err(e) => AttemptOutcome {
            at_ms: at,
            status: None,
            error: Some(e.to_string()),
            round_trip_ms: None,
            state: "gave_up",
            next_attempt_at_ms: None,
        },
        Ok(prepared) => {
            let started = std::time::Instant::now();
            let sent = inner.dev.sender.send(&prepared.request(&job.target)).await;
            let rtt = Some(started.elapsed().as_millis() as u64);
            let age = Duration::from_millis((at - job.created_at_ms).max(0) as u64);
            let retry = |status: Option<u16>, error: String| {
                if age >= FORWARD_GIVE_UP {
                    AttemptOutcome {
                        at_ms: at,
                        status,
                        error: Some(format!("{error} (gave up after 68 h)")),
                        round_trip_ms: rtt,
                        state: "gave_up",
                        next_attempt_at_ms: None,
                    }
                } else {
                    let next = at + forward_backoff(job.attempts).as_millis() as i64;
                    AttemptOutcome {
                        at_ms: at,
                        status,
                        error: Some(error),
                        round_trip_ms: rtt,
                        state: "retrying",
                        next_attempt_at_ms: Some(next),
                    }
                }
            };
            match sent {
                Ok(resp) if resp.is_success() => AttemptOutcome {
                    at_ms: at,
                    status: Some(resp.status),
                    error: None,
                    round_trip_ms: rtt,
                    state: "delivered",
                    next_attempt_at_ms: None,
                },
                Ok(resp) => {
                    let why = resp
                        .error()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| format!("answered {}", resp.status));
                    retry(Some(resp.status), why)
                }
                Err(e) => retry(None, e.to_string()),
            }
        }
    };
    let id = job.id;
    match inner.store.write(move |c| forwards::record_attempt(c, id, &outcome)).await {
        Ok(attempt) => publish_forward(inner, attempt),
        Err(e) => tracing::error!(error = %e, "forward mode: cannot record an attempt"),
    }
}

fn publish_forward(inner: &ApiInner, forward: ForwardAttempt) {
    if forward.state != "delivered" {
        let error = match (&forward.error, forward.status) {
            (Some(e), _) => e.clone(),
            (None, Some(status)) => format!("answered {status}"),
            (None, None) => "no answer".to_owned(),
        };
        tracing::warn!(delivery = forward.delivery_id, target = %forward.target, %error, "forward attempt failed");
    }
    let _ = inner.live.send(LiveEvent::Forward { forward });
}

/// Reads the last heartbeat: a gap means the receiver was offline. Called once at start.
pub(crate) async fn check_offline(inner: &ApiInner) {
    let last = inner.store.read(|c| meta::get(c, meta::RECEIVER_ALIVE_AT)).await.ok().flatten();
    let last_url = inner.store.read(|c| meta::get(c, meta::LAST_DELIVERY_PUBLIC_URL)).await.ok().flatten();
    *inner.dev.last_delivery_public_url.write().expect("last url") = last_url;
    let Some(last) = last.and_then(|v| v.parse::<i64>().ok()) else { return };
    let now = now_ms();
    if now - last > OFFLINE_AFTER.as_millis() as i64 {
        let hours = (now - last) as f64 / 3_600_000.0;
        let warning = format!(
            "Shipwatch was not receiving from {} to {} ({hours:.1} h). AfterShip retries failed deliveries for about 68 hours, but only to the URL registered there: if your public URL is unchanged they arrive now; if it changed, update it in AfterShip — deliveries retried to the old URL are lost.",
            queries::rfc3339_ms(last),
            queries::rfc3339_ms(now)
        );
        tracing::warn!("{warning}");
        *inner.dev.offline_warning.lock().expect("offline warning") = Some(warning);
    }
}

/// Writes the heartbeat and the public URL of the last delivery.
pub(crate) async fn write_heartbeat(inner: &ApiInner) {
    let alive = matches!(inner.receiver_state(), ReceiverState::Listening { .. });
    let url = inner.dev.last_delivery_public_url.read().expect("last url").clone();
    let r = inner
        .store
        .write(move |c| {
            if alive {
                meta::set(c, meta::RECEIVER_ALIVE_AT, &now_ms().to_string())?;
            }
            if let Some(u) = url {
                meta::set(c, meta::LAST_DELIVERY_PUBLIC_URL, &u)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, "cannot write the heartbeat");
    }
}

pub(crate) async fn heartbeat(inner: Arc<ApiInner>, mut stop: watch::Receiver<bool>) {
    loop {
        write_heartbeat(&inner).await;
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One retention pass: deletes by age, then by size, then vacuums when much was freed.
pub(crate) async fn retention_pass(inner: &ApiInner) -> u64 {
    let settings = inner.settings();
    let mut deleted = 0u64;
    if let Some(days) = settings.retention_days {
        let cutoff = now_ms() - days as i64 * 86_400_000;
        loop {
            match inner.store.write(move |c| retention::delete_older_than(c, cutoff, 1000)).await {
                Ok(0) => break,
                Ok(n) => deleted += n as u64,
                Err(e) => {
                    tracing::error!(error = %e, "retention failed");
                    break;
                }
            }
        }
    }
    if let Some(mb) = settings.retention_max_mb {
        let max = mb * 1024 * 1024;
        loop {
            let live = inner.store.read(retention::live_bytes).await.unwrap_or(0);
            if live <= max {
                break;
            }
            match inner.store.write(|c| retention::delete_oldest(c, 1000)).await {
                Ok(0) => break,
                Ok(n) => deleted += n as u64,
                Err(e) => {
                    tracing::error!(error = %e, "retention failed");
                    break;
                }
            }
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, "retention deleted old deliveries; vacuuming");
        let r = inner
            .store
            .maintenance(|c| {
                c.execute_batch("VACUUM")?;
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                Ok(())
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "vacuum after retention failed");
        }
    }
    deleted
}

pub(crate) async fn retention(inner: Arc<ApiInner>, mut stop: watch::Receiver<bool>) {
    // First pass soon after start, then hourly.
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        retention_pass(&inner).await;
        wait = RETENTION_EVERY;
    }
}

/// Trains the dictionary stored bodies are compressed with, when one is due (see
/// `shipwatch_store::bodies`): looked at every few seconds until the first one exists, then every
/// ten minutes.
pub(crate) async fn body_dictionary(inner: Arc<ApiInner>, mut stop: watch::Receiver<bool>) {
    loop {
        let wait = match inner.store.dictionary_id() {
            None => Duration::from_secs(5),
            Some(_) => Duration::from_secs(600),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = inner.store.train_dictionary_if_due(now_ms()).await {
            tracing::warn!(error = %e, "cannot train a dictionary for stored bodies; they stay compressed without one");
        }
    }
}

/// Set to `1` to accept `http://127.0.0.1:PORT` (or localhost) as the public URL: a stand-in tunnel
/// on this machine, for tests and local relays. AfterShip itself never reaches such a URL.
pub const ALLOW_LOOPBACK_PUBLIC_URL_ENV: &str = "SHIPWATCH_ALLOW_LOOPBACK_PUBLIC_URL";

/// How the public URL set at start begins its warning when it was not usable.
pub(crate) const DROPPED_PUBLIC_URL: &str = "The public URL in settings.json";

/// A public URL as typed → its base (`https://host`), or why AfterShip could not use it.
pub(crate) fn check_public_url(
    raw: &str,
    webhook_path: &str,
) -> Result<String, shipwatch_tunnel::PublicUrlError> {
    let allow_loopback = std::env::var(ALLOW_LOOPBACK_PUBLIC_URL_ENV).is_ok_and(|v| v.trim() == "1");
    shipwatch_tunnel::validate_public_url(
        raw,
        webhook_path,
        shipwatch_tunnel::PublicUrlRules { allow_loopback },
    )
}

/// A public URL in the settings file that AfterShip could not use is not used: it is left out of the
/// settings the engine runs with, and the warning returned says why and what to do.
pub(crate) fn drop_invalid_public_url(settings: &mut crate::Settings) -> Option<String> {
    let raw = settings.public_url.clone()?;
    match check_public_url(&raw, &settings.webhook_path()) {
        Ok(base) => {
            settings.public_url = Some(base);
            None
        }
        Err(e) => {
            settings.public_url = None;
            tracing::warn!(public_url = %raw, code = e.code(), "the public URL in the settings is not usable");
            Some(format!("{DROPPED_PUBLIC_URL}, {raw}, is not used: {e} Set your tunnel's address in Setup."))
        }
    }
}

/// Starts, restarts or stops the supervised tunnel to match the settings and the receiver's port.
pub(crate) async fn apply_tunnel(inner: &Arc<ApiInner>) {
    let mut slot = inner.dev.tunnel.lock().await;
    if let Some(old) = slot.take() {
        old.stop().await;
    }
    *inner.dev.tunnel_url.write().expect("tunnel url") = None;
    let Some(command) = inner.settings().tunnel_command else { return };
    let Some(local) = inner.receiver_url() else {
        tracing::warn!("the tunnel waits for the receiver to listen");
        return;
    };
    let base = local.trim_end_matches(&inner.settings().webhook_path()).to_owned();
    let port = base.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).unwrap_or(0);
    let sup = shipwatch_tunnel::TunnelSupervisor::start(&command, port, &base);
    let mut urls = sup.public_url();
    let weak = Arc::downgrade(inner);
    tokio::spawn(async move {
        while urls.changed().await.is_ok() {
            let url = urls.borrow().clone();
            let Some(inner) = weak.upgrade() else { return };
            *inner.dev.tunnel_url.write().expect("tunnel url") = url;
        }
    });
    *slot = Some(sup);
}

/// `POST /api/tunnel/restart`: a new run of the tunnel command (a quick tunnel gets a new URL); one
/// that was given up on (not installed, kept exiting) is checked and tried again.
pub(crate) async fn restart_tunnel(
    inner: &Arc<ApiInner>,
) -> Result<shipwatch_api::TunnelStatus, shipwatch_api::ApiError> {
    if inner.settings().tunnel_command.is_none() {
        return Err(shipwatch_api::ApiError::bad_request("no tunnel command is set: add one in Settings"));
    }
    apply_tunnel(inner).await;
    Ok(tunnel_status(inner).await)
}

/// `GET /api/tunnel`.
pub(crate) async fn tunnel_status(inner: &ApiInner) -> shipwatch_api::TunnelStatus {
    let slot = inner.dev.tunnel.lock().await;
    match slot.as_ref() {
        None => shipwatch_api::TunnelStatus {
            state: "off".into(),
            command: inner.settings().tunnel_command,
            public_url: None,
            pid: None,
            restarts: 0,
            last_exit: None,
            log: Vec::new(),
            stopped_reason: None,
        },
        Some(sup) => {
            let s = sup.snapshot();
            shipwatch_api::TunnelStatus {
                state: match s.phase {
                    shipwatch_tunnel::TunnelPhase::Starting => "starting",
                    shipwatch_tunnel::TunnelPhase::Running => "running",
                    shipwatch_tunnel::TunnelPhase::Restarting { .. } => "restarting",
                    shipwatch_tunnel::TunnelPhase::Stopped => "stopped",
                }
                .into(),
                command: Some(s.command),
                public_url: s.public_url,
                pid: s.pid,
                restarts: s.restarts,
                last_exit: s.last_exit,
                log: s.log,
                stopped_reason: s.gave_up.map(|g| shipwatch_api::TunnelStop {
                    code: match g.kind {
                        shipwatch_tunnel::GaveUpKind::ProgramNotFound => {
                            shipwatch_api::TunnelStopCode::ProgramNotFound
                        }
                        shipwatch_tunnel::GaveUpKind::KeepsExiting => {
                            shipwatch_api::TunnelStopCode::KeepsExiting
                        }
                    },
                    program: g.program,
                    last_error: g.last_error,
                    message: g.message,
                    advice: g.advice,
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_backoff_doubles_to_five_minutes() {
        assert_eq!(forward_backoff(0), Duration::from_secs(1));
        assert_eq!(forward_backoff(1), Duration::from_secs(2));
        assert_eq!(forward_backoff(5), Duration::from_secs(32));
        assert_eq!(forward_backoff(9), FORWARD_MAX_BACKOFF);
        assert_eq!(forward_backoff(u32::MAX), FORWARD_MAX_BACKOFF);
    }
}
