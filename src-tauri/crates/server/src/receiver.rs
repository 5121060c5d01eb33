//! The tunnel-facing listener. It serves exactly two things: `POST <webhook path>` (a delivery) and
//! `GET /healthz`. Everything else is 404 (405 for a wrong method on those paths): this port is public
//! through the tunnel, so nothing of the inspector is ever reachable here.
//!
//! A delivery's raw body is read once and kept byte-exact; it is verified, parsed, handed to the store
//! and answered only after the commit: 200 for valid/unverified, 401 for a bad signature (stored all
//! the same), 413 over the body limit (an attempt is recorded), 503 when storage fails so AfterShip
//! retries. Never a 2xx for anything not on disk.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::json;
use shipwatch_aftership::signature::find_signature_header;
use shipwatch_aftership::{diagnosis_code, parse_envelope, verify_signature};
use shipwatch_store::{NewDelivery, StoredVerdict};
use tower_http::timeout::TimeoutLayer;

use crate::engine_impl::ApiInner;
use crate::serve::WireHeaders;

/// How much of an oversize body is kept for inspection.
pub const TRUNCATED_KEEP: usize = 64 * 1024;

pub(crate) fn router(inner: Arc<ApiInner>, webhook_path: &str) -> Router {
    let timeout = inner.limits.request_timeout;
    Router::new()
        .route(webhook_path, post(receive_delivery))
        .route("/healthz", get(healthz))
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))) })
        .method_not_allowed_fallback(|| async {
            (StatusCode::METHOD_NOT_ALLOWED, Json(json!({"error": "method not allowed"})))
        })
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .with_state(inner)
}

/// For tunnels' and monitors' health checks: 503 once saving to disk has failed, since every
/// delivery is then refused (the reason stays in the log and the inspector's status).
async fn healthz(State(inner): State<Arc<ApiInner>>) -> Response {
    if inner.store.disk_failed() {
        return (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
    }
    "ok".into_response()
}

pub(crate) fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// How reading the body ended.
enum BodyRead {
    Complete(Vec<u8>),
    /// Over the limit: the first [`TRUNCATED_KEEP`] bytes and how many we know of.
    TooLarge {
        head: Vec<u8>,
        size: i64,
    },
}

async fn read_body(
    body: Body,
    limit: usize,
    declared: Option<u64>,
    expects_continue: bool,
) -> Result<BodyRead, axum::Error> {
    if declared.is_some_and(|d| d > limit as u64) {
        if expects_continue {
            // The client waits for "100 Continue" before sending the body: refuse at once rather
            // than invite it to upload what will not be kept (reading would send the 100).
            return Ok(BodyRead::TooLarge { head: Vec::new(), size: declared.unwrap_or(0) as i64 });
        }
        // Keep what arrives of the first 64 KiB, then stop reading: the client is told 413.
        let mut head = Vec::with_capacity(TRUNCATED_KEEP);
        let mut body = body;
        while head.len() < TRUNCATED_KEEP {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        let take = (TRUNCATED_KEEP - head.len()).min(data.len());
                        head.extend_from_slice(&data[..take]);
                    }
                }
                Some(Err(_)) | None => break,
            }
        }
        return Ok(BodyRead::TooLarge { head, size: declared.unwrap_or(0) as i64 });
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(16 * 1024).min(limit as u64) as usize);
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Some(data) = frame.data_ref() {
            if buf.len() + data.len() > limit {
                let size = (buf.len() + data.len()) as i64;
                buf.truncate(TRUNCATED_KEEP);
                if buf.len() < TRUNCATED_KEEP {
                    let take = (TRUNCATED_KEEP - buf.len()).min(data.len());
                    buf.extend_from_slice(&data[..take]);
                }
                return Ok(BodyRead::TooLarge { head: buf, size });
            }
            buf.extend_from_slice(data);
        }
    }
    Ok(BodyRead::Complete(buf))
}

async fn receive_delivery(
    State(inner): State<Arc<ApiInner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    // Bounded work in flight: memory stays about max_in_flight × body limit under a burst.
    let _permit = inner.in_flight.acquire().await.expect("semaphore never closed");
    let received_at_ms = now_ms();
    let (mut parts, body) = request.into_parts();
    // As they arrived (case, order, repeats in place) when the listener could tell; else as hyper
    // parsed them (lowercased, a repeated name's values together).
    let headers: Vec<(String, String)> = match parts.extensions.remove::<WireHeaders>() {
        Some(WireHeaders(lines)) => lines,
        None => parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = inner.body_limit();

    let expects_continue =
        parts.headers.get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let read = match read_body(body, limit, declared, expects_continue).await {
        Ok(r) => r,
        Err(e) => {
            // The client went away mid-body: nobody is waiting for an answer and AfterShip retries.
            tracing::warn!(%peer, error = %e, "delivery body could not be read; not stored");
            return (StatusCode::BAD_REQUEST, Json(json!({"error": "the request body could not be read"})))
                .into_response();
        }
    };

    let mut new = NewDelivery {
        received_at_ms,
        peer: peer.to_string(),
        forwarded_for: header_str(&parts.headers, "x-forwarded-for"),
        cf_connecting_ip: header_str(&parts.headers, "cf-connecting-ip"),
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers,
        body: Vec::new(),
        body_size: 0,
        body_truncated: false,
        verdict: StoredVerdict::TooLarge,
        status: 413,
        envelope: None,
        parse_error: None,
        diagnosis: None,
    };
    match read {
        BodyRead::TooLarge { head, size } => {
            new.body_size = size;
            new.body = head;
            new.body_truncated = true;
            new.parse_error = Some(format!(
                "the body ({size} bytes) is over the {limit}-byte limit; raise the limit in Settings"
            ));
        }
        BodyRead::Complete(body) => {
            let secrets = inner.secrets();
            let sig = find_signature_header(new.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let verdict = verify_signature(sig, &body, &secrets);
            new.verdict = StoredVerdict::Signature(verdict);
            if !verdict.accepted() {
                // Why it failed, kept with it for the feed, its filter and exports. The explanation
                // tries likely changes of the body (re-serialised JSON, newlines) and of the secret:
                // CPU work, done off the async workers. (A valid delivery costs nothing more.)
                let (headers, body, secrets) = (new.headers.clone(), body.clone(), secrets.clone());
                new.diagnosis =
                    tokio::task::spawn_blocking(move || diagnosis_code(verdict, &headers, &body, &secrets))
                        .await
                        .ok();
            }
            new.status = if verdict.accepted() { 200 } else { 401 };
            match parse_envelope(&body) {
                Ok(env) => new.envelope = Some(env),
                Err(e) => new.parse_error = Some(e.to_string()),
            }
            new.body_size = body.len() as i64;
            new.body = body;
        }
    }

    match inner.store.insert(new).await {
        Ok(stored) => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            inner.publish(stored);
            // Fixed bodies, written as they are (every delivery is answered with one of them).
            let body = match status.as_u16() {
                200 => r#"{"ok":true}"#,
                401 => r#"{"error":"signature verification failed"}"#,
                413 => r#"{"error":"payload too large"}"#,
                _ => return status.into_response(),
            };
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, %peer, "could not store a delivery; answering 503 so AfterShip retries");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "temporarily unavailable"})))
                .into_response()
        }
    }
}
