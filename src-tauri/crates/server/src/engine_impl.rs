//! The engine's internals: [`ApiInner`] (shared state and every API call's implementation), start-up
//! in a safe order (data dir → token → store → inspector → receiver) and the graceful stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use base64::Engine as _;
use shipwatch_aftership::{diagnose, Secrets};
use shipwatch_api::*;
use shipwatch_store::{queries, Store, StoreError, StoredDelivery, WriterConfig};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, Semaphore};

use crate::config::{non_empty, parse_addr, write_private, EngineConfig, Limits, Settings};
use crate::engine::{Engine, EngineError, EngineEvent};
use crate::serve::{self, RunningServer};
use crate::{inspector, receiver};

/// The inspector token file in the data dir.
pub const TOKEN_FILE: &str = "inspector-token";

pub(crate) struct Tasks {
    inspector: Option<RunningServer>,
    /// The notification task, when the embedder gave a notifier: joined on shutdown so what waits
    /// for its window is shown.
    notifications: Option<tokio::task::JoinHandle<()>>,
    /// Held (locked) while the engine runs: one engine per data dir. See [`lock_data_dir`].
    data_dir_lock: std::fs::File,
}

/// The lock file in the data dir, locked for as long as the engine runs, so that a second engine
/// (a second `serve`, or the desktop app beside it) refuses to start on the same data rather than
/// keeping its own map of shipment keys and its own duplicate filter beside the first one's. The
/// kernel releases the lock when the process ends, however it ends.
const LOCK_FILE: &str = "shipwatch.lock";

fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File, EngineError> {
    use std::io::{Read, Seek, Write};
    let path = data_dir.join(LOCK_FILE);
    let io_err = |source| EngineError::DataDir { path: data_dir.to_owned(), source };
    let mut open = std::fs::OpenOptions::new();
    open.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut file = open.open(&path).map_err(io_err)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(EngineError::DataDirInUse {
                path: data_dir.to_owned(),
                pid: text.trim().parse().ok(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(e)),
    }
    // Who holds it, for the other one's message.
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()))
        .map_err(io_err)?;
    Ok(file)
}

struct ReceiverSlot {
    state: ReceiverState,
    addr: Option<SocketAddr>,
    path: String,
}

impl ReceiverSlot {
    /// `http://ADDR` while listening.
    fn origin(&self) -> Option<String> {
        match self.state {
            ReceiverState::Listening { .. } => self.addr.map(|a| format!("http://{}", reachable(a))),
            _ => None,
        }
    }
}

pub(crate) struct ApiInner {
    pub(crate) data_dir: PathBuf,
    pub(crate) store: Store,
    pub(crate) limits: Limits,
    pub(crate) in_flight: Semaphore,
    pub(crate) token: String,
    pub(crate) events: broadcast::Sender<EngineEvent>,
    pub(crate) live: broadcast::Sender<LiveEvent>,
    /// Set when the engine stops: open event streams end, so a graceful stop does not wait for them.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    settings: RwLock<Settings>,
    env_secrets: Secrets,
    secrets: RwLock<Secrets>,
    body_limit: AtomicU64,
    receiver: Mutex<ReceiverSlot>,
    receiver_server: tokio::sync::Mutex<Option<RunningServer>>,
    inspector_addr: OnceLock<SocketAddr>,
    warnings: Mutex<Vec<String>>,
    pub(crate) dev: crate::devtools::DevState,
    /// The desk's clock, its alerts and the webhook version ([`crate::clock`]).
    pub(crate) desk: crate::clock::DeskState,
    me: Weak<ApiInner>,
}

fn internal(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("no such item"),
        StoreError::BadQuery(m) => ApiError::bad_request(m),
        e => {
            tracing::error!(error = %e, "API call failed");
            ApiError::internal()
        }
    }
}

/// Effective secrets: each environment variable overrides its slot of the settings file.
fn effective_secrets(env: &Secrets, settings: &Settings) -> Secrets {
    let file = settings.secrets();
    Secrets {
        current: env.current.clone().or(file.current),
        previous: env.previous.clone().or(file.previous),
    }
}

fn mask(secret: &Option<String>) -> Option<String> {
    secret.as_ref().map(|s| {
        let n = s.chars().count();
        if n <= 8 {
            "••••".to_owned()
        } else {
            let tail: String = s.chars().skip(n - 4).collect();
            format!("••••{tail}")
        }
    })
}

fn bind_hint(addr: SocketAddr, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "Another program (perhaps another Shipwatch) is using {addr}. Stop it, or choose another address with --listen, SHIPWATCH_LISTEN or the receiver address in Settings."
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "This user may not listen on port {}. Use a port above 1023 and let the tunnel map 443 to it.",
            addr.port()
        ),
        std::io::ErrorKind::AddrNotAvailable => format!("This machine has no address {}.", addr.ip()),
        _ => "Check the address and try again.".to_owned(),
    }
}

/// Loopback address to reach a listener bound to `addr` (0.0.0.0 → 127.0.0.1).
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], a.port())),
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        a => a,
    }
}

fn load_or_create_token(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) if t.trim().len() >= 32 => return Ok(t.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let bytes: [u8; 24] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, token.as_bytes())?;
    Ok(token)
}

/// Local midnight today, in Unix ms (UTC when the local offset cannot be read).
fn local_midnight_ms() -> i64 {
    let offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    let now = time::OffsetDateTime::now_utc().to_offset(offset);
    let midnight = now.replace_time(time::Time::MIDNIGHT);
    (midnight.unix_timestamp_nanos() / 1_000_000) as i64
}

/// "valid (current secret)", "invalid", ...: a stored verdict and secret ("current" or "previous")
/// in words.
fn verdict_words(verdict: Verdict, secret: Option<&str>) -> String {
    let name =
        serde_json::to_value(verdict).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    match secret {
        Some(slot) => format!("{name} ({slot} secret)"),
        None => name,
    }
}

/// A diagnosis made for a secret typed in the UI speaks of that secret, not Shipwatch's saved one.
fn typed_secret_wording(diagnosis: &str) -> String {
    diagnosis
        .replace(
            "Neither secret matches: the secret in Shipwatch is",
            "The secret you typed does not match: it is",
        )
        .replace(
            "The secret does not match: the secret in Shipwatch is",
            "The secret you typed does not match: it is",
        )
        .replace("the secret saved in Shipwatch has", "the secret you typed has")
        .replace("the current secret", "the secret you typed")
}

impl ApiInner {
    pub(crate) fn me(&self) -> Option<Arc<ApiInner>> {
        self.me.upgrade()
    }

    pub(crate) fn secrets(&self) -> Secrets {
        self.secrets.read().expect("secrets lock").clone()
    }

    pub(crate) fn body_limit(&self) -> usize {
        self.body_limit.load(Ordering::Relaxed) as usize
    }

    pub(crate) fn settings(&self) -> Settings {
        self.settings.read().expect("settings lock").clone()
    }

    /// Forward mode's target and whether failed deliveries are forwarded too; `None` when off. Read
    /// without copying the rest of the settings.
    pub(crate) fn forward_target(&self) -> Option<(String, bool)> {
        let settings = self.settings.read().expect("settings lock");
        settings.forward_url.clone().map(|url| (url, settings.forward_failing))
    }

    /// The public URL set in Settings, read without copying the rest (it is read per delivery).
    pub(crate) fn configured_public_url(&self) -> Option<String> {
        self.settings.read().expect("settings lock").public_url.clone()
    }

    /// Tells every listener about a stored delivery.
    pub(crate) fn publish(&self, stored: StoredDelivery) {
        if stored.verdict.accepted() {
            self.note_delivery_public_url();
            self.note_webhook_version(&stored);
            // AfterShip says a tracking stayed pending too long: the clock raises it as stuck now.
            if stored.duplicate_of.is_none() && stored.item.event.as_deref() == Some("tracking_pending_time")
            {
                self.poke_clock();
            }
        }
        // Copied for the UI's live stream only while someone listens (a window or a browser tab).
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(LiveEvent::Delivery { delivery: stored.item.clone() });
            if let Some(change) = stored.shipment.as_ref().filter(|c| c.changed) {
                let _ = self.live.send(LiveEvent::Shipment { shipment: change.item.clone() });
            }
        }
        if stored.shipment.as_ref().is_some_and(|c| c.changed) {
            self.desk.shipment_changed();
        }
        let _ = self.events.send(Arc::new(stored));
    }

    pub(crate) fn receiver_state(&self) -> ReceiverState {
        self.receiver.lock().expect("receiver lock").state.clone()
    }

    pub(crate) fn receiver_url(&self) -> Option<String> {
        let slot = self.receiver.lock().expect("receiver lock");
        Some(format!("{}{}", slot.origin()?, slot.path))
    }

    /// `http://127.0.0.1:PORT` of the listening receiver, without its webhook path (what a tunnel
    /// points at).
    pub(crate) fn receiver_base_url(&self) -> Option<String> {
        self.receiver.lock().expect("receiver lock").origin()
    }

    pub(crate) fn inspector_url(&self) -> Option<String> {
        self.inspector_addr.get().map(|a| format!("http://{}/?token={}", reachable(*a), self.token))
    }

    pub(crate) fn add_warning(&self, w: String) {
        let mut ws = self.warnings.lock().expect("warnings lock");
        if !ws.contains(&w) {
            tracing::warn!(warning = %w, "engine warning");
            ws.push(w);
        }
    }

    /// (Re)starts the receiver on `addr` with the current webhook path. A failure to listen is kept
    /// in the receiver state, not returned.
    async fn start_receiver(&self, addr: SocketAddr) {
        self.start_receiver_on(addr, None).await
    }

    /// As [`Self::start_receiver`], on `listener` when it is already bound to `addr`.
    async fn start_receiver_on(&self, addr: SocketAddr, listener: Option<TcpListener>) {
        let mut server = self.receiver_server.lock().await;
        if let Some(old) = server.take() {
            old.stop().await;
        }
        let path = self.settings().webhook_path();
        let me = self.me.upgrade().expect("engine alive");
        let listener = match listener {
            Some(l) => Ok(l),
            None => TcpListener::bind(addr).await,
        };
        let (state, bound) = match listener {
            Ok(listener) => {
                let running = serve::spawn_keeping_wire_headers(
                    listener,
                    receiver::router(me, &path),
                    &self.limits,
                    "receiver",
                );
                let bound = running.addr;
                *server = Some(running);
                tracing::info!(addr = %bound, %path, "receiver listening");
                (ReceiverState::Listening { addr: bound.to_string() }, Some(bound))
            }
            Err(e) => {
                let message = format!("cannot listen on {addr}: {e}. {}", bind_hint(addr, &e));
                tracing::error!("{message}");
                (ReceiverState::Failed { addr: addr.to_string(), message }, None)
            }
        };
        let mut slot = self.receiver.lock().expect("receiver lock");
        *slot = ReceiverSlot { state, addr: bound.or(Some(addr)), path };
    }

    async fn stop_receiver(&self) {
        if let Some(old) = self.receiver_server.lock().await.take() {
            old.stop().await;
        }
        self.receiver.lock().expect("receiver lock").state = ReceiverState::Stopped;
    }

    pub(crate) async fn status(&self) -> Result<Status, ApiError> {
        let since = local_midnight_ms();
        let counts = self.store.read(move |c| queries::delivery_counts(c, since)).await.map_err(internal)?;
        let settings = self.settings();
        let secrets = self.secrets();
        let path = settings.webhook_path();
        let public_url = self.public_url();
        let mut warnings = self.warnings.lock().expect("warnings lock").clone();
        if !secrets.any() {
            warnings.insert(
                0,
                "No webhook secret is set: signed deliveries are accepted unverified (one with no signature header is still refused). Paste the secret from AfterShip (Settings → Notifications → Webhooks) in Setup.".into(),
            );
        }
        // The loud ones first: deliveries may be getting lost.
        for (i, w) in self.dev_warnings().into_iter().enumerate() {
            warnings.insert(i, w);
        }
        if let Some(w) = self.desk.version_warning() {
            warnings.push(w);
        }
        // Forward mode's target failing for a while: since when, how many wait (issue 20).
        let now = crate::receiver::now_ms();
        if let Some(failing) =
            self.store.read(move |c| shipwatch_store::forwards::failing(c, now)).await.map_err(internal)?
        {
            warnings.push(failing.warning());
        }
        let clock = self.desk.now();
        let rules = crate::clock::rules(&settings);
        let attention_count = self
            .desk
            .attention_count(clock, rules, || {
                self.store.read(move |c| shipwatch_store::desk::attention_count(c, clock, &rules))
            })
            .await
            .map_err(internal)?;
        let notifications_held =
            crate::clock::policy(&settings).held_status(crate::clock::local_minute(clock));
        if self.store.disk_failed() {
            warnings.insert(
                0,
                "Saving to disk failed (the log says why: a failed fsync, or the data directory moved or deleted): every delivery is refused with 503 until Shipwatch is restarted. AfterShip retries them for about 68 hours.".into(),
            );
        }
        Ok(Status {
            version: env!("CARGO_PKG_VERSION").into(),
            receiver: self.receiver_state(),
            local_webhook_url: self.receiver_url(),
            public_webhook_url: public_url.as_ref().map(|u| format!("{}{}", u.trim_end_matches('/'), path)),
            public_url,
            webhook_path: path,
            data_dir: self.data_dir.display().to_string(),
            secret_configured: secrets.current.is_some(),
            previous_secret_configured: secrets.previous.is_some(),
            deliveries_today: counts.since,
            failures_today: counts.failures_since,
            deliveries_total: counts.total,
            last_delivery_at: counts.last_received_at_ms.map(queries::rfc3339_ms),
            warnings,
            notifications_held,
            attention_count,
            webhook_version: self.desk.webhook_version(),
        })
    }

    pub(crate) async fn list_deliveries(&self, q: DeliveryQuery) -> Result<Page<DeliveryItem>, ApiError> {
        self.store.read(move |c| queries::list_deliveries(c, &q)).await.map_err(internal)
    }

    pub(crate) async fn get_delivery(&self, id: i64) -> Result<DeliveryDetail, ApiError> {
        let rec = self.store.read(move |c| queries::get_delivery(c, id)).await.map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found(format!("no delivery {id}")),
            e => internal(e),
        })?;
        let signature = self.signature_report(&rec);
        Ok(DeliveryDetail {
            method: rec.method,
            path: rec.path,
            peer: rec.peer,
            forwarded_for: rec.forwarded_for,
            cf_connecting_ip: rec.cf_connecting_ip,
            headers: rec.headers,
            body_base64: base64::engine::general_purpose::STANDARD.encode(&rec.body),
            body_truncated: rec.body_truncated,
            signature,
            parse_error: rec.parse_error,
            projection: rec.projection,
            duplicate_of: rec.duplicate_of,
            item: rec.item,
        })
    }

    fn signature_report(&self, rec: &queries::DeliveryRecord) -> SignatureReport {
        let received = shipwatch_aftership::signature::find_signature_header(
            rec.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        )
        .map(str::to_owned);
        let stored_secret = match rec.secret.as_deref() {
            Some("current") => Some(SecretSlot::Current),
            Some("previous") => Some(SecretSlot::Previous),
            _ => None,
        };
        if rec.item.verdict == Verdict::TooLarge {
            return SignatureReport {
                verdict: Verdict::TooLarge,
                received,
                expected: None,
                secret: None,
                diagnosis: "The body was over the size limit, so only its first 64 KiB were kept and it was not verified.".into(),
                advice: Some("Raise the body limit in Settings; AfterShip retries the delivery.".into()),
            };
        }
        let d = diagnose(&rec.headers, &rec.body, &self.secrets());
        let now = (queries::verdict_from_str(d.verdict.as_str()), d.verdict.secret().map(|s| s.as_str()));
        // The verdict shown is the one made on arrival; the words are worked out with the secrets set
        // now. When those give another answer (a rotation, a new secret), say so first, so the
        // sentence never seems to contradict the verdict beside it.
        let diagnosis = if now != (rec.item.verdict, rec.secret.as_deref()) {
            format!(
                "When it arrived this delivery was {}; the secrets have changed since. With the secrets set now: {}",
                verdict_words(rec.item.verdict, rec.secret.as_deref()),
                d.diagnosis
            )
        } else {
            d.diagnosis
        };
        SignatureReport {
            verdict: rec.item.verdict,
            received,
            expected: d.expected,
            secret: stored_secret,
            diagnosis,
            advice: d.advice,
        }
    }

    pub(crate) async fn reverify_delivery(
        &self,
        id: i64,
        r: ReverifyRequest,
    ) -> Result<SignatureReport, ApiError> {
        let secret = r.secret;
        if secret.is_empty() {
            return Err(ApiError::bad_request("type a secret to check this delivery against"));
        }
        let rec = self.store.read(move |c| queries::get_delivery(c, id)).await.map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found(format!("no delivery {id}")),
            e => internal(e),
        })?;
        if rec.body_truncated {
            return Err(ApiError::bad_request(
                "this delivery's body was over the limit and was not kept whole, so it cannot be verified",
            ));
        }
        let d = diagnose(&rec.headers, &rec.body, &Secrets { current: Some(secret), previous: None });
        Ok(SignatureReport {
            verdict: queries::verdict_from_str(d.verdict.as_str()),
            received: shipwatch_aftership::signature::find_signature_header(
                rec.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            )
            .map(str::to_owned),
            expected: d.expected,
            // The typed secret is neither the current nor the previous one saved in Shipwatch: the
            // UI would otherwise show "matched the current secret" for it.
            secret: None,
            // The words are about the secret typed here, not the one saved in Shipwatch.
            diagnosis: typed_secret_wording(&d.diagnosis),
            advice: d.advice.map(|a| {
                if d.verdict.accepted() {
                    a
                } else {
                    a.replace(
                        "Copy the webhook secret again from AfterShip → Settings → Notifications into Shipwatch.",
                        "Copy the webhook secret again from AfterShip → Settings → Notifications and try it here.",
                    )
                }
            }),
        })
    }

    pub(crate) async fn list_shipments(&self, q: ShipmentQuery) -> Result<ShipmentList, ApiError> {
        self.store.read(move |c| queries::list_shipments(c, &q)).await.map_err(internal)
    }

    pub(crate) async fn get_shipment(&self, id: i64) -> Result<ShipmentDetail, ApiError> {
        let clock = self.desk.now();
        let rules = crate::clock::rules(&self.settings());
        let (rec, attention) = self
            .store
            .read(move |c| {
                let rec = queries::get_shipment(c, id)?;
                let attention = shipwatch_store::desk::shipment_attention(c, id, clock, &rules)?;
                Ok((rec, attention))
            })
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::not_found(format!("no shipment {id}")),
                e => internal(e),
            })?;
        Ok(ShipmentDetail {
            shipment: rec.item,
            courier_tracking_link: rec.courier_tracking_link,
            courier_redirect_link: rec.courier_redirect_link,
            estimated_delivery: rec.estimated_delivery,
            checkpoints: rec.checkpoints,
            deliveries: rec.deliveries,
            attention,
            estimate_history: rec.estimate_history,
            proof_of_delivery: rec.proof_of_delivery,
            signed_by: rec.signed_by,
        })
    }

    pub(crate) async fn desk(&self) -> Result<Desk, ApiError> {
        let clock = self.desk.now();
        let rules = crate::clock::rules(&self.settings());
        self.store.read(move |c| shipwatch_store::desk::desk(c, clock, &rules)).await.map_err(internal)
    }

    pub(crate) async fn archive_shipment(
        &self,
        id: i64,
        request: ArchiveRequest,
    ) -> Result<ShipmentItem, ApiError> {
        let now = self.desk.now().now_ms;
        let item = self
            .store
            .write(move |c| shipwatch_store::desk::set_archived(c, id, request.archived, now))
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::not_found(format!("no shipment {id}")),
                e => internal(e),
            })?;
        self.desk.desk_changed();
        let _ = self.live.send(LiveEvent::Shipment { shipment: item.clone() });
        let _ = self.live.send(LiveEvent::Desk);
        Ok(item)
    }

    pub(crate) async fn remove_test_data(&self) -> Result<TestDataRemoved, ApiError> {
        let removed = self.store.write(shipwatch_store::desk::remove_test_data).await.map_err(internal)?;
        tracing::info!(shipments = removed.shipments, deliveries = removed.deliveries, "test data removed");
        self.desk.desk_changed();
        let _ = self.live.send(LiveEvent::Desk);
        Ok(removed)
    }

    fn settings_view(&self) -> SettingsView {
        let s = self.settings();
        let secrets = self.secrets();
        let listen = {
            let slot = self.receiver.lock().expect("receiver lock");
            slot.addr.map(|a| a.to_string())
        };
        SettingsView {
            secret_set: secrets.current.is_some(),
            secret_hint: mask(&secrets.current),
            previous_secret_set: secrets.previous.is_some(),
            previous_secret_hint: mask(&secrets.previous),
            secrets_from_env: self.env_secrets.current.is_some(),
            previous_secret_from_env: self.env_secrets.previous.is_some(),
            forward_url: s.forward_url.clone(),
            forward_failing: s.forward_failing,
            retention_days: s.retention_days,
            retention_max_mb: s.retention_max_mb,
            listen: listen.or(s.listen.clone()).unwrap_or_else(|| crate::config::DEFAULT_LISTEN.into()),
            webhook_path: s.webhook_path(),
            body_limit: s.body_limit,
            notify_tags: s.notify_tags,
            quiet_hours: s.quiet_hours,
            notifications_paused: s.notifications_paused,
            autostart: s.autostart,
            public_url: s.public_url,
            tunnel_command: s.tunnel_command,
            stuck_after_days: s.stuck_after_days,
            pickup_after_days: s.pickup_after_days,
            archive_after_days: s.archive_after_days,
            alerts: s.alerts,
            digest_at: s.digest_at,
        }
    }

    pub(crate) async fn get_settings(&self) -> Result<SettingsView, ApiError> {
        Ok(self.settings_view())
    }

    pub(crate) async fn update_settings(&self, u: SettingsUpdate) -> Result<SettingsView, ApiError> {
        let old = self.settings();
        let mut s = old.clone();
        if let Some(v) = u.secret {
            s.secret = non_empty(Some(v.trim().to_owned()));
        }
        if let Some(v) = u.previous_secret {
            s.previous_secret = non_empty(Some(v.trim().to_owned()));
        }
        let mut new_listen = None;
        if let Some(v) = u.listen {
            let v = v.trim();
            let addr = parse_addr(v).ok_or_else(|| {
                ApiError::bad_request(format!("{v:?} is not an address like 127.0.0.1:8787"))
            })?;
            s.listen = Some(addr.to_string());
            new_listen = Some(addr);
        }
        if let Some(v) = u.webhook_path {
            let v = v.trim();
            if v.is_empty() || v.contains(char::is_whitespace) || v.contains('?') || v.contains('#') {
                return Err(ApiError::bad_request("the webhook path must look like /webhooks/aftership"));
            }
            let p = if v.starts_with('/') { v.to_owned() } else { format!("/{v}") };
            if p == "/healthz" || p == "/" {
                return Err(ApiError::bad_request("choose another webhook path: / and /healthz are taken"));
            }
            s.webhook_path = p;
        }
        if let Some(v) = u.body_limit {
            if !(1024..=64 * 1024 * 1024).contains(&v) {
                return Err(ApiError::bad_request("the body limit must be between 1 KiB and 64 MiB"));
            }
            s.body_limit = v;
        }
        if let Some(v) = u.notify_tags {
            s.notify_tags = v.into_iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
        }
        if let Some(v) = u.quiet_hours {
            if let Some(q) = &v {
                for t in [&q.start, &q.end] {
                    let ok = t.split_once(':').is_some_and(|(h, m)| {
                        h.len() == 2
                            && m.len() == 2
                            && h.parse::<u8>().is_ok_and(|h| h < 24)
                            && m.parse::<u8>().is_ok_and(|m| m < 60)
                    });
                    if !ok {
                        return Err(ApiError::bad_request(format!(
                            "quiet hours take HH:MM times, not {t:?}"
                        )));
                    }
                }
            }
            s.quiet_hours = v;
        }
        if let Some(v) = u.notifications_paused {
            s.notifications_paused = v;
        }
        for (name, value, slot) in [
            ("stuck_after_days", u.stuck_after_days, &mut s.stuck_after_days),
            ("pickup_after_days", u.pickup_after_days, &mut s.pickup_after_days),
            ("archive_after_days", u.archive_after_days, &mut s.archive_after_days),
        ] {
            if let Some(v) = value {
                if !(1..=365).contains(&v) {
                    return Err(ApiError::bad_request(format!(
                        "{name} must be between 1 and 365 days, not {v}"
                    )));
                }
                *slot = v;
            }
        }
        if let Some(v) = u.alerts {
            let mut alerts: Vec<String> = Vec::new();
            for a in v {
                let a = a.trim().to_owned();
                if !shipwatch_notify::Alerts::NAMES.contains(&a.as_str()) {
                    return Err(ApiError::bad_request(format!(
                        "{a:?} is not an alert: choose among late, stuck and estimate_later"
                    )));
                }
                if !alerts.contains(&a) {
                    alerts.push(a);
                }
            }
            s.alerts = alerts;
        }
        if let Some(v) = u.digest_at {
            s.digest_at = match v.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
                None => None,
                Some(t) if crate::clock::parse_hhmm(&t).is_some() => Some(t),
                Some(t) => {
                    return Err(ApiError::bad_request(format!(
                        "the digest takes an HH:MM time (24-hour), not {t:?}"
                    )))
                }
            };
        }
        if let Some(v) = u.autostart {
            s.autostart = v;
        }
        if let Some(v) = u.public_url {
            let v = v.trim();
            // https and a real host name; pasting the full webhook URL is fine: the base is kept.
            s.public_url = if v.is_empty() {
                None
            } else {
                let base = crate::background::check_public_url(v, &s.webhook_path())
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(base)
            };
            let dropped = crate::background::DROPPED_PUBLIC_URL;
            self.warnings.lock().expect("warnings lock").retain(|w| !w.starts_with(dropped));
        }
        if let Some(v) = u.tunnel_command {
            s.tunnel_command = non_empty(Some(v.trim().to_owned()));
        }
        if let Some(v) = u.forward_url {
            let v = v.trim();
            s.forward_url = if v.is_empty() {
                None
            } else {
                shipwatch_devtools::http::parse_url(v).map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(v.to_owned())
            };
        }
        if let Some(v) = u.forward_failing {
            s.forward_failing = v;
        }
        if let Some(v) = u.retention_days {
            if v == Some(0) {
                return Err(ApiError::bad_request(
                    "keep deliveries at least 1 day (leave it empty to keep them all)",
                ));
            }
            s.retention_days = v;
        }
        if let Some(v) = u.retention_max_mb {
            if v.is_some_and(|mb| mb < 10) {
                return Err(ApiError::bad_request(
                    "the database size limit must be at least 10 MB (leave it empty for no limit)",
                ));
            }
            s.retention_max_mb = v;
        }
        // A new receiver address is bound before anything is saved or stopped: one that cannot be
        // used (in use, not allowed) is refused and the running receiver keeps running.
        let current_addr = self.receiver.lock().expect("receiver lock").addr;
        let failed = matches!(self.receiver_state(), ReceiverState::Failed { .. });
        let rebind = new_listen.filter(|a| Some(*a) != current_addr || failed);
        let listener = match rebind {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                ApiError::bad_request(format!("cannot listen on {addr}: {e}. {}", bind_hint(addr, &e)))
            })?),
            None => None,
        };
        s.save(&self.data_dir).map_err(|e| {
            tracing::error!(error = %e, "cannot save settings");
            // The path and the OS error stay in the log (a 500 carries no internals).
            ApiError {
                kind: ApiErrorKind::Internal,
                message: "the settings could not be saved, so nothing changed: check that the data directory is writable (the log has the details)".into(),
            }
        })?;
        *self.secrets.write().expect("secrets lock") = effective_secrets(&self.env_secrets, &s);
        self.body_limit.store(s.body_limit, Ordering::Relaxed);
        // Forward mode switched on forwards what arrives from now on; switched off, it drops its queue.
        match (&old.forward_url, &s.forward_url) {
            (None, Some(_)) => {
                self.store.write(shipwatch_store::forwards::start_from_now).await.map_err(|e| {
                    tracing::error!(error = %e, "cannot start forward mode");
                    ApiError::internal()
                })?;
            }
            (Some(_), None) => {
                self.store
                    .write(|c| {
                        shipwatch_store::forwards::cancel_queued(c, "forward mode was turned off")?;
                        shipwatch_store::meta::delete(c, shipwatch_store::meta::FORWARD_WATERMARK)
                    })
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "cannot stop forward mode");
                        ApiError::internal()
                    })?;
            }
            _ => {}
        }
        let path_changed = s.webhook_path() != old.webhook_path();
        let tunnel_changed = s.tunnel_command != old.tunnel_command;
        let retention_changed =
            s.retention_days != old.retention_days || s.retention_max_mb != old.retention_max_mb;
        let desk_changed = s.stuck_after_days != old.stuck_after_days
            || s.pickup_after_days != old.pickup_after_days
            || s.archive_after_days != old.archive_after_days
            || s.alerts != old.alerts
            || s.digest_at != old.digest_at;
        *self.settings.write().expect("settings lock") = s;
        let receiver_moved = listener.is_some() || path_changed;
        if receiver_moved {
            let addr = rebind
                .or(current_addr)
                .unwrap_or_else(|| crate::config::DEFAULT_LISTEN.parse().expect("default"));
            self.start_receiver_on(addr, listener).await;
        }
        if tunnel_changed || (receiver_moved && self.settings().tunnel_command.is_some()) {
            if let Some(me) = self.me.upgrade() {
                crate::background::apply_tunnel(&me).await;
            }
        }
        // Pause or quiet hours may have ended: what they held is shown now.
        self.desk.wake.notify_one();
        if desk_changed {
            self.desk.desk_changed();
            self.poke_clock();
            let _ = self.live.send(LiveEvent::Desk);
        }
        if retention_changed {
            if let Some(me) = self.me.upgrade() {
                tokio::spawn(async move {
                    crate::background::retention_pass(&me).await;
                });
            }
        }
        Ok(self.settings_view())
    }
}

pub(crate) async fn start(config: EngineConfig) -> Result<Engine, EngineError> {
    let resolved = config.resolve()?;
    let data_dir = resolved.data_dir.clone();
    // Created private to the user (0700), like the files it will hold; an existing one is left as is.
    let mut dirs = std::fs::DirBuilder::new();
    dirs.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
    dirs.create(&data_dir).map_err(|source| EngineError::DataDir { path: data_dir.clone(), source })?;
    let data_dir_lock = lock_data_dir(&data_dir)?;
    let token = load_or_create_token(&data_dir)
        .map_err(|source| EngineError::DataDir { path: data_dir.clone(), source })?;
    let store = Store::open(&data_dir, WriterConfig::default())?;
    let secrets = effective_secrets(&resolved.env_secrets, &resolved.settings);
    let (events, _) = broadcast::channel(1024);
    let (live, _) = broadcast::channel(4096);
    let (desk, alerts) = crate::clock::DeskState::new(config.clock.clone(), config.notifications.is_some());
    let mut settings = resolved.settings.clone();
    let dropped_public_url = crate::background::drop_invalid_public_url(&mut settings);
    let inner = Arc::new_cyclic(|me| ApiInner {
        data_dir: data_dir.clone(),
        store,
        in_flight: Semaphore::new(resolved.limits.max_in_flight.max(1)),
        limits: resolved.limits.clone(),
        token,
        events,
        live,
        stopping: tokio::sync::watch::channel(false).0,
        body_limit: AtomicU64::new(settings.body_limit),
        secrets: RwLock::new(secrets),
        settings: RwLock::new(settings),
        env_secrets: resolved.env_secrets.clone(),
        receiver: Mutex::new(ReceiverSlot { state: ReceiverState::Stopped, addr: None, path: String::new() }),
        receiver_server: tokio::sync::Mutex::new(None),
        inspector_addr: OnceLock::new(),
        warnings: Mutex::new(Vec::new()),
        dev: crate::devtools::DevState::new(),
        desk,
        me: me.clone(),
    });
    if let Some(w) = dropped_public_url {
        inner.add_warning(w);
    }
    let inspector = match resolved.inspector_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr).await.map_err(|source| EngineError::Bind {
                what: "inspector",
                addr: addr.to_string(),
                hint: bind_hint(addr, &source).replace(
                    "--listen, SHIPWATCH_LISTEN or the receiver address in Settings",
                    "--inspector-listen or SHIPWATCH_INSPECTOR_LISTEN",
                ),
                source,
            })?;
            let running =
                serve::spawn(listener, inspector::router(inner.clone()), &inner.limits, "inspector");
            let _ = inner.inspector_addr.set(running.addr);
            tracing::info!(addr = %running.addr, "inspector listening");
            Some(running)
        }
        None => None,
    };
    inner.start_receiver(resolved.listen).await;
    crate::background::check_offline(&inner).await;
    // Background tasks end when `stopping` is set.
    tokio::spawn(crate::background::heartbeat(inner.clone(), inner.stopping.subscribe()));
    tokio::spawn(crate::background::forwarder(inner.clone(), inner.stopping.subscribe()));
    tokio::spawn(crate::background::retention(inner.clone(), inner.stopping.subscribe()));
    tokio::spawn(crate::background::body_dictionary(inner.clone(), inner.stopping.subscribe()));
    crate::clock::load(&inner).await;
    // The notifications listen before the clock's first pass hands them anything.
    let notifications = match (config.notifications, alerts) {
        (Some(n), Some(alerts)) => Some(crate::clock::spawn_notifications(&inner, n, alerts).await),
        _ => None,
    };
    // The clock's first pass, before the engine is said to have started: a parcel that became late
    // while Shipwatch was closed is handed to the notifications at once.
    crate::clock::pass(&inner).await;
    tokio::spawn(crate::clock::run(inner.clone(), inner.stopping.subscribe()));
    crate::background::apply_tunnel(&inner).await;
    Ok(Engine { inner, tasks: Tasks { inspector, notifications, data_dir_lock } })
}

pub(crate) async fn shutdown(engine: Engine) {
    let Engine { inner, tasks } = engine;
    // Receiver first: its in-flight deliveries are committed and answered before it returns.
    inner.stop_receiver().await;
    // End the UI's event streams, which never end on their own (the stop would wait for them), and
    // the background tasks; the last heartbeat marks when the receiver stopped.
    inner.stopping.send_replace(true);
    crate::background::write_heartbeat(&inner).await;
    if let Some(t) = inner.dev.tunnel.lock().await.take() {
        t.stop().await;
    }
    if let Some(i) = tasks.inspector {
        i.stop().await;
    }
    if let Some(n) = tasks.notifications {
        if tokio::time::timeout(std::time::Duration::from_secs(10), n).await.is_err() {
            tracing::warn!("the notifications did not finish within 10 s");
        }
    }
    match Arc::try_unwrap(inner) {
        Ok(inner) => inner.store.close(),
        Err(_) => tracing::debug!("engine still referenced; the writer stops when the last handle goes"),
    }
    // Only now may another engine open the data dir.
    drop(tasks.data_dir_lock);
    tracing::info!("engine stopped");
}
