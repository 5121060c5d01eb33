//! Developer tools on the engine: test deliveries (any tag, subtag and shape, to us or any URL),
//! replay (into our own pipeline or to any URL, byte-exact, optionally re-signed or edited), the
//! self-test through the public URL, re-verifying failed deliveries, and the state these share
//! (the HTTP client, the tunnel's URL, the public URL the last delivery came through).

use std::sync::{Mutex, RwLock};
use std::time::Instant;

use shipwatch_aftership::{parse_envelope, Tag};
use shipwatch_api::*;
use shipwatch_devtools::events::{self, Shape, TestEvent};
use shipwatch_devtools::http::{Hop, SendError, SendOptions, Sender};
use shipwatch_devtools::replay::{self, ReplayOptions, Signing};
use shipwatch_store::{forwards, projection, queries, StoreError};

use crate::engine_impl::ApiInner;

/// State the developer tools share, kept in the engine.
pub(crate) struct DevState {
    pub(crate) sender: Sender,
    /// The URL the supervised tunnel printed (wins over the settings' `public_url`).
    pub(crate) tunnel_url: RwLock<Option<String>>,
    /// The public URL in effect when the last accepted delivery arrived.
    pub(crate) last_delivery_public_url: RwLock<Option<String>>,
    /// Set at start when the receiver had been offline: shown as a warning.
    pub(crate) offline_warning: Mutex<Option<String>>,
    pub(crate) tunnel: tokio::sync::Mutex<Option<shipwatch_tunnel::TunnelSupervisor>>,
}

impl DevState {
    pub(crate) fn new() -> DevState {
        DevState {
            sender: Sender::new(SendOptions::default()).expect("HTTP client"),
            tunnel_url: RwLock::new(None),
            last_delivery_public_url: RwLock::new(None),
            offline_warning: Mutex::new(None),
            tunnel: tokio::sync::Mutex::new(None),
        }
    }
}

fn store_error(e: StoreError, what: &str) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found(format!("no {what}")),
        StoreError::BadQuery(m) => ApiError::bad_request(m),
        e => {
            tracing::error!(error = %e, "developer tool failed");
            ApiError::internal()
        }
    }
}

impl ApiInner {
    /// The public base URL: the tunnel's, else the one set in Settings.
    pub(crate) fn public_url(&self) -> Option<String> {
        self.dev.tunnel_url.read().expect("tunnel url").clone().or_else(|| self.configured_public_url())
    }

    /// The secret test deliveries are signed with. AfterShip always signs: with no secret set here, a
    /// throwaway one stands in for the account's, so our receiver answers what a real delivery gets
    /// (200, unverified) rather than a 401 "missing" no real delivery would see.
    fn signing_secret(&self) -> String {
        let secrets = self.secrets();
        secrets
            .current
            .or(secrets.previous)
            .unwrap_or_else(|| format!("unconfigured-{}", events::random_event_id()))
    }

    /// Tunnel supervision state (`GET /api/tunnel`).
    pub(crate) async fn tunnel_status(&self) -> TunnelStatus {
        crate::background::tunnel_status(self).await
    }

    /// Remembers which public URL was in effect for an accepted delivery (for the "URL changed" warning).
    pub(crate) fn note_delivery_public_url(&self) {
        let current = self.public_url();
        if current.is_some() {
            let mut last = self.dev.last_delivery_public_url.write().expect("last url");
            if *last != current {
                *last = current;
            }
        }
    }

    /// Warnings the developer tools add to the status bar.
    pub(crate) fn dev_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(w) = self.dev.offline_warning.lock().expect("offline warning").clone() {
            out.push(w);
        }
        let last = self.dev.last_delivery_public_url.read().expect("last url").clone();
        if let (Some(last), Some(now)) = (last, self.public_url()) {
            if last != now {
                out.push(format!(
                    "The public URL changed since the last delivery: it was {last}, now {now}. AfterShip keeps sending (and retrying, for about 68 hours) to the URL registered there: put {now}{} in AfterShip → Settings → Notifications → Webhooks, or those deliveries are lost.",
                    self.settings().webhook_path()
                ));
            }
        }
        out
    }

    fn own_webhook_url(&self) -> Result<String, ApiError> {
        self.receiver_url().ok_or_else(|| {
            ApiError::bad_request("the receiver is not listening; fix its address in Settings first")
        })
    }

    /// `POST /api/test-delivery`.
    pub(crate) async fn send_test_delivery(
        &self,
        r: TestDeliveryRequest,
    ) -> Result<TestDeliveryResult, ApiError> {
        let subtag = r.subtag.filter(|s| !s.trim().is_empty());
        let tag = match (r.tag.as_deref().filter(|t| !t.trim().is_empty()), &subtag) {
            (Some(t), _) => Tag::parse(t.trim()),
            (None, Some(s)) => events::tag_of_subtag(s),
            (None, None) => Tag::InTransit,
        };
        let mut event = TestEvent::new(tag);
        event.subtag = subtag;
        event.title = Some("Shipwatch test delivery".into());
        if let Some(shape) = r.shape.as_deref().filter(|s| !s.trim().is_empty()) {
            event.shape = shape.parse::<Shape>().map_err(|e| ApiError::bad_request(e.to_string()))?;
        }
        let delivery = events::build(&event, Some(&self.signing_secret()))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let url = match r.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(to) => to.to_owned(),
            None => self.own_webhook_url()?,
        };
        let response = events::send(&self.dev.sender, &url, &delivery)
            .await
            .map_err(|e| ApiError::bad_request(format!("could not send the test delivery to {url}: {e}")))?;
        let eid = delivery.event_id.clone();
        let delivery_id = self
            .store
            .read(move |c| queries::find_delivery_by_event_id(c, &eid))
            .await
            .map_err(|e| store_error(e, "delivery"))?;
        Ok(TestDeliveryResult {
            status: response.status,
            delivery_id,
            event_id: delivery.event_id,
            tracking_number: delivery.tracking_number,
        })
    }

    /// `POST /api/deliveries/{id}/replay`. A typed secret is used once to sign and never logged or
    /// answered; `dry_run` only prepares the request (for "copy as curl").
    pub(crate) async fn replay_delivery(&self, id: i64, r: ReplayRequest) -> Result<ReplayResult, ApiError> {
        let ReplayRequest { to, resign, sign_with, secret, body, dry_run } = r;
        let dry_run = dry_run.unwrap_or(false);
        // Checked before the store is read: a bad choice is a 400 whatever the delivery.
        let signing = match (sign_with, resign) {
            (Some(w), _) => Signing::from_api(w, secret),
            // The older `resign: true`: the current secret, else the previous one.
            (None, Some(true)) if secret.is_none() => {
                let secrets = self.secrets();
                let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
                Ok(if !set(&secrets.current) && set(&secrets.previous) {
                    Signing::Previous
                } else {
                    Signing::Current
                })
            }
            (None, _) => Signing::from_api(SignWith::Original, secret),
        }
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let resign_with =
            signing.secret(&self.secrets()).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let record = self
            .store
            .read(move |c| queries::get_delivery(c, id))
            .await
            .map_err(|e| store_error(e, &format!("delivery {id}")))?;
        let options =
            ReplayOptions { resign_with, body: body.map(String::into_bytes), drop_headers: Vec::new() };
        let to = to.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        let own = to.is_none();
        let target = match to {
            Some(t) => t,
            // A dry run sends nothing: it needs no listening receiver.
            None if dry_run => self.receiver_url().unwrap_or_default(),
            None => self.own_webhook_url()?,
        };
        let prepared =
            replay::prepare(&record, &options).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mut result = ReplayResult {
            target,
            status: None,
            headers: Vec::new(),
            body: String::new(),
            round_trip_ms: 0,
            error: None,
            delivery_id: None,
            sent_headers: prepared.headers.clone(),
            signed_with: signing.sign_with(),
            body_edited: prepared.body_edited,
            signature_stale: prepared.signature_stale,
            dry_run,
        };
        if dry_run {
            return Ok(result);
        }
        // What the client writes: names in lowercase, a repeated name's values together.
        result.sent_headers = prepared.headers_as_sent();
        let started = Instant::now();
        let outcome = self.dev.sender.send(&prepared.request(&result.target)).await;
        result.round_trip_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(resp) => {
                result.status = Some(resp.status);
                result.error = resp.error().filter(|_| !own).map(|e| e.to_string());
                result.headers = resp.headers;
                result.body = String::from_utf8_lossy(&resp.body).into_owned();
            }
            Err(e) => result.error = Some(e.to_string()),
        }
        // Into our own pipeline: find the delivery it became (by its event id, or the newest).
        if own && result.status.is_some() {
            let event_id = parse_envelope(&prepared.body).ok().and_then(|e| e.event_id);
            result.delivery_id = self
                .store
                .read(move |c| match event_id {
                    Some(eid) => queries::find_delivery_by_event_id(c, &eid),
                    None => Ok(c.query_row("SELECT max(id) FROM deliveries", [], |r| r.get(0))?),
                })
                .await
                .map_err(|e| store_error(e, "delivery"))?;
        }
        Ok(result)
    }

    /// `GET /api/deliveries/{id}/forwards`.
    pub(crate) async fn delivery_forwards(&self, id: i64) -> Result<Vec<ForwardAttempt>, ApiError> {
        self.store
            .read(move |c| {
                // An unknown delivery is a 404, as for every other `{id}` call, not an empty list.
                queries::delivery_exists(c, id)?;
                forwards::for_delivery(c, id)
            })
            .await
            .map_err(|e| store_error(e, &format!("delivery {id}")))
    }

    /// `POST /api/reverify-failed`.
    pub(crate) async fn reverify_failed(&self) -> Result<ReverifyFailedResult, ApiError> {
        let secrets = self.secrets();
        if !secrets.any() {
            return Err(ApiError::bad_request(
                "set the webhook secret first: failed deliveries are checked against it",
            ));
        }
        let (checked, changed) = self
            .store
            .write(move |c| projection::reverify_failed(c, &secrets))
            .await
            .map_err(|e| store_error(e, "delivery"))?;
        let now_valid = changed.len() as i64;
        let shipments_updated =
            changed.iter().filter(|d| d.shipment.as_ref().is_some_and(|s| !s.stale)).count() as i64;
        for d in changed {
            self.publish(d);
        }
        tracing::info!(checked, now_valid, shipments_updated, "re-verified failed deliveries");
        Ok(ReverifyFailedResult { checked, now_valid, shipments_updated })
    }

    /// `POST /api/self-test`: a signed sample through the public URL, looked for on arrival.
    pub(crate) async fn self_test(&self) -> Result<SelfTestResult, ApiError> {
        let Some(base) = self.public_url() else {
            // The tunnel must point at the receiver as it listens now, not at the default port.
            let local = self.receiver_base_url().unwrap_or_else(|| "http://127.0.0.1:8787".into());
            return Ok(SelfTestResult {
                ok: false,
                hop: SelfTestHop::NoPublicUrl,
                message: "No public URL: set the URL your tunnel printed, or a tunnel command, in Settings."
                    .into(),
                advice: Some(format!(
                    "Run e.g. `cloudflared tunnel --url {local}` and paste its https:// address."
                )),
                url: None,
                status: None,
                round_trip_ms: None,
                delivery_id: None,
            });
        };
        let url = format!("{}{}", base.trim_end_matches('/'), self.settings().webhook_path());
        let mut event = TestEvent::new(Tag::InTransit);
        event.title = Some("Shipwatch self-test through the tunnel".into());
        let delivery = events::build(&event, Some(&self.signing_secret()))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let started = Instant::now();
        let sent = events::send(&self.dev.sender, &url, &delivery).await;
        let rtt = started.elapsed().as_millis() as u64;
        let eid = delivery.event_id.clone();
        let arrived = self
            .store
            .read(move |c| {
                Ok(match queries::find_delivery_by_event_id(c, &eid)? {
                    Some(id) => Some(queries::get_delivery(c, id)?),
                    None => None,
                })
            })
            .await
            .map_err(|e| store_error(e, "delivery"))?;
        Ok(self_test_verdict(url, &delivery.body, sent, arrived, rtt))
    }
}

fn result(
    hop: SelfTestHop,
    message: String,
    advice: Option<&str>,
    url: &str,
    status: Option<u16>,
    rtt: u64,
    delivery_id: Option<i64>,
) -> SelfTestResult {
    SelfTestResult {
        ok: hop == SelfTestHop::Ok,
        hop,
        message,
        advice: advice.map(str::to_owned),
        url: Some(url.to_owned()),
        status,
        round_trip_ms: Some(rtt),
        delivery_id,
    }
}

/// Decides which hop failed from what the request got and what (if anything) arrived.
pub(crate) fn self_test_verdict(
    url: String,
    sent_body: &[u8],
    sent: Result<shipwatch_devtools::http::TargetResponse, SendError>,
    arrived: Option<queries::DeliveryRecord>,
    rtt: u64,
) -> SelfTestResult {
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            let hop = match (e.hop(), &e) {
                (Hop::Dns, _) => SelfTestHop::Dns,
                (Hop::Tls, _) => SelfTestHop::Tls,
                (_, SendError::ResponseTimeout { .. } | SendError::ConnectTimeout { .. }) => {
                    SelfTestHop::Timeout
                }
                _ => SelfTestHop::Connect,
            };
            return result(
                hop,
                e.to_string(),
                Some("Check that the tunnel runs and that the public URL is its current one."),
                &url,
                None,
                rtt,
                None,
            );
        }
    };
    let status = Some(response.status);
    if let Some(rec) = arrived {
        let id = Some(rec.item.id);
        if rec.body != sent_body {
            return result(
                SelfTestHop::BodyAltered,
                format!("The delivery arrived, but its body was changed on the way ({} bytes sent, {} arrived), so AfterShip's signatures will fail.", sent_body.len(), rec.body.len()),
                Some("Something between the tunnel and Shipwatch re-writes bodies (a proxy that parses and re-serialises JSON, a body-rewriting relay such as smee). Point the tunnel straight at Shipwatch's receiver."),
                &url,
                status,
                rtt,
                id,
            );
        }
        if response.status == 200 && rec.item.verdict == Verdict::Valid {
            return result(
                SelfTestHop::Ok,
                format!("Arrived byte-exact with a valid signature in {rtt} ms."),
                None,
                &url,
                status,
                rtt,
                id,
            );
        }
        if rec.item.verdict == Verdict::Unverified {
            return result(
                SelfTestHop::Ok,
                format!("Arrived byte-exact in {rtt} ms (no secret is set, so it is unverified)."),
                Some("Set the webhook secret so deliveries are verified."),
                &url,
                status,
                rtt,
                id,
            );
        }
        return result(
            SelfTestHop::Rejected,
            format!("It arrived byte-exact but our receiver answered {}: the signature header was changed or dropped on the way.", response.status),
            Some("Make sure the tunnel passes the aftership-hmac-sha256 header through unchanged."),
            &url,
            status,
            rtt,
            id,
        );
    }
    let (hop, message, advice) = match response.status {
        200..=299 => (
            SelfTestHop::NotArrived,
            format!(
                "The public URL answered {} but the delivery never reached this Shipwatch.",
                response.status
            ),
            "The tunnel points at another program or another Shipwatch: point it at this receiver's address.",
        ),
        404 => (
            SelfTestHop::WrongPath,
            "The public URL answered 404: the tunnel reaches something, but not Shipwatch's webhook path."
                .to_owned(),
            "Check the tunnel's target port and that the URL ends with the webhook path shown in Settings.",
        ),
        502 | 503 | 504 | 521 | 522 | 523 | 530 => (
            SelfTestHop::TunnelDown,
            format!(
                "The tunnel answered {}: it runs, but cannot reach Shipwatch behind it.",
                response.status
            ),
            "Start Shipwatch's receiver (or fix the port the tunnel forwards to) and restart the tunnel.",
        ),
        s => (
            SelfTestHop::Rejected,
            format!("The public URL answered {s} and nothing arrived here."),
            "Check what answers at the public URL: it is not this Shipwatch.",
        ),
    };
    result(hop, message, Some(advice), &url, status, rtt, None)
}
