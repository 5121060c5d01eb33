//! The loopback inspector: the JSON API of `docs/api.md`, the SSE stream and the UI's files.
//!
//! Guards, in order: the `Host` must be localhost / 127.0.0.1 / [::1] (DNS rebinding), a state-changing
//! request's `Origin`, when sent, must be that same host, and every `/api/` call needs the token
//! (`Authorization: Bearer`, the `shipwatch_token` cookie, or `?token=` once, which sets the cookie).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures_util::stream::Stream;
use shipwatch_api::*;
use subtle::ConstantTimeEq;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

use crate::engine_impl::ApiInner;

/// The cookie that carries the token after `?token=`.
pub const TOKEN_COOKIE: &str = "shipwatch_token";

/// An [`ApiError`] as an HTTP response: the status for its kind and `{"error": "..."}`.
pub struct HttpError(pub ApiError);

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = match self.0.kind {
            ApiErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ApiErrorKind::NotFound => StatusCode::NOT_FOUND,
            ApiErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(self.0.body())).into_response()
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(ApiErrorBody { error: message.into() })).into_response()
}

type ApiResult<T> = Result<Json<T>, HttpError>;

/// A request body that is not the JSON a call takes: 400 `{"error": ...}` like every other API error
/// (axum's own rejection is a plain-text 415 or 422, which docs/api.md does not promise).
fn bad_json(rejection: JsonRejection) -> HttpError {
    HttpError(ApiError::bad_request(format!(
        "the request body is not the JSON this call takes: {}",
        rejection.body_text()
    )))
}

/// An id in the path that is not a number: 400 `{"error": ...}` (axum's own is plain text).
fn bad_path(rejection: PathRejection) -> HttpError {
    tracing::debug!(error = %rejection.body_text(), "bad id in an API path");
    HttpError(ApiError::bad_request(
        "the id in the path must be a whole number: use the `id` of an item from a list (GET /api/deliveries or /api/shipments)",
    ))
}

/// Query parameters of the wrong type (`limit=lots`): 400 `{"error": ...}` (axum's own is plain text).
fn bad_query(rejection: QueryRejection) -> HttpError {
    let text = rejection.body_text();
    let why = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text);
    HttpError(ApiError::bad_request(format!(
        "bad query parameters: {why}; docs/api.md lists each call's parameters"
    )))
}

pub(crate) fn router(inner: Arc<ApiInner>) -> Router {
    let api = Router::new()
        .route("/status", get(status))
        .route("/deliveries", get(list_deliveries))
        .route("/deliveries/{id}", get(get_delivery))
        .route("/deliveries/{id}/reverify", post(reverify_delivery))
        .route("/shipments", get(list_shipments))
        .route("/shipments/{id}", get(get_shipment))
        .route("/shipments/{id}/archive", post(archive_shipment))
        .route("/desk", get(desk))
        .route("/test-data", delete(remove_test_data))
        .route("/settings", get(get_settings).put(update_settings))
        .route("/test-delivery", post(send_test_delivery))
        .route("/deliveries/{id}/replay", post(replay_delivery))
        .route("/deliveries/{id}/forwards", get(delivery_forwards))
        .route("/reverify-failed", post(reverify_failed))
        .route("/tunnel", get(tunnel_status))
        .route("/tunnel/restart", post(restart_tunnel))
        .route("/self-test", post(self_test))
        .route("/stream", get(stream))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such API endpoint; see docs/api.md") })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not take that method; see docs/api.md")
        })
        .route_layer(middleware::from_fn_with_state(inner.clone(), require_token));
    Router::new()
        .nest("/api", api)
        .fallback(get(ui_file))
        .layer(middleware::from_fn(check_host_and_origin))
        .with_state(inner)
}

/// True for `localhost`, `127.0.0.1`, `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    // After the name, only `:port` (digits) may follow.
    let port_ok = |rest: &str| {
        rest.is_empty()
            || rest.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, after)) => return inside == "::1" && port_ok(after),
            None => return false,
        }
    } else {
        match host.find(':') {
            Some(i) if port_ok(&host[i..]) => &host[..i],
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1"
}

async fn check_host_and_origin(request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    // One Host only (RFC 9112 makes two a bad request), and an absolute-form target's authority,
    // which takes precedence over Host, must be loopback as well.
    let hosts = request.headers().get_all(header::HOST).iter().count();
    let target_ok = request.uri().authority().is_none_or(|a| is_loopback_host(a.as_str()));
    if hosts > 1 || !target_ok || !is_loopback_host(host) {
        tracing::warn!(%host, "refused a request for a non-loopback Host");
        let why = if host.is_empty() { "the request has no Host header: " } else { "" };
        return error(
            StatusCode::FORBIDDEN,
            &format!("{why}the inspector answers only to localhost, 127.0.0.1 or [::1] (with its port)"),
        );
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if let Some(origin) = request.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
            if origin_host != host {
                tracing::warn!(%origin, %host, "refused a cross-origin request");
                return error(StatusCode::FORBIDDEN, "cross-origin requests are refused");
            }
        }
    }
    next.run(request).await
}

fn token_from_query(uri: &Uri) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| kv.strip_prefix("token=")).map(|t| t.to_owned())
}

fn token_from_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        c.split(';')
            .map(str::trim)
            .find_map(|kv| kv.strip_prefix(&format!("{TOKEN_COOKIE}=")).map(str::to_owned))
    })
}

fn token_from_bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    let (scheme, token) = v.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

fn token_matches(expected: &str, given: &str) -> bool {
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

fn token_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"))
        .expect("token is hex")
}

async fn require_token(State(inner): State<Arc<ApiInner>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if token_from_bearer(headers).is_some_and(|t| token_matches(&inner.token, &t))
        || token_from_cookie(headers).is_some_and(|t| token_matches(&inner.token, &t))
    {
        return next.run(request).await;
    }
    if token_from_query(request.uri()).is_some_and(|t| token_matches(&inner.token, &t)) {
        let mut response = next.run(request).await;
        response.headers_mut().insert(header::SET_COOKIE, token_cookie(&inner.token));
        return response;
    }
    error(
        StatusCode::UNAUTHORIZED,
        "missing or wrong token: open the inspector URL that `shipwatch serve` printed (it carries ?token=), or send Authorization: Bearer <the token in <data dir>/inspector-token>",
    )
}

async fn status(State(inner): State<Arc<ApiInner>>) -> ApiResult<Status> {
    Ok(Json(inner.status().await?))
}

async fn list_deliveries(
    State(inner): State<Arc<ApiInner>>,
    q: Result<Query<DeliveryQuery>, QueryRejection>,
) -> ApiResult<Page<DeliveryItem>> {
    let Query(q) = q.map_err(bad_query)?;
    Ok(Json(inner.list_deliveries(q).await?))
}

async fn get_delivery(
    State(inner): State<Arc<ApiInner>>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<DeliveryDetail> {
    let Path(id) = id.map_err(bad_path)?;
    Ok(Json(inner.get_delivery(id).await?))
}

async fn reverify_delivery(
    State(inner): State<Arc<ApiInner>>,
    id: Result<Path<i64>, PathRejection>,
    request: Result<Json<ReverifyRequest>, JsonRejection>,
) -> ApiResult<SignatureReport> {
    let Path(id) = id.map_err(bad_path)?;
    let Json(request) = request.map_err(bad_json)?;
    Ok(Json(inner.reverify_delivery(id, request).await?))
}

async fn list_shipments(
    State(inner): State<Arc<ApiInner>>,
    q: Result<Query<ShipmentQuery>, QueryRejection>,
) -> ApiResult<ShipmentList> {
    let Query(q) = q.map_err(bad_query)?;
    Ok(Json(inner.list_shipments(q).await?))
}

async fn get_shipment(
    State(inner): State<Arc<ApiInner>>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<ShipmentDetail> {
    let Path(id) = id.map_err(bad_path)?;
    Ok(Json(inner.get_shipment(id).await?))
}

async fn desk(State(inner): State<Arc<ApiInner>>) -> ApiResult<Desk> {
    Ok(Json(inner.desk().await?))
}

async fn archive_shipment(
    State(inner): State<Arc<ApiInner>>,
    id: Result<Path<i64>, PathRejection>,
    request: Result<Json<ArchiveRequest>, JsonRejection>,
) -> ApiResult<ShipmentItem> {
    let Path(id) = id.map_err(bad_path)?;
    let Json(request) = request.map_err(bad_json)?;
    Ok(Json(inner.archive_shipment(id, request).await?))
}

async fn remove_test_data(State(inner): State<Arc<ApiInner>>) -> ApiResult<TestDataRemoved> {
    Ok(Json(inner.remove_test_data().await?))
}

async fn get_settings(State(inner): State<Arc<ApiInner>>) -> ApiResult<SettingsView> {
    Ok(Json(inner.get_settings().await?))
}

async fn update_settings(
    State(inner): State<Arc<ApiInner>>,
    update: Result<Json<SettingsUpdate>, JsonRejection>,
) -> ApiResult<SettingsView> {
    let Json(update) = update.map_err(bad_json)?;
    Ok(Json(inner.update_settings(update).await?))
}

async fn send_test_delivery(
    State(inner): State<Arc<ApiInner>>,
    body: Result<Option<Json<TestDeliveryRequest>>, JsonRejection>,
) -> ApiResult<TestDeliveryResult> {
    let body = body.map_err(bad_json)?;
    Ok(Json(inner.send_test_delivery(body.map(|b| b.0).unwrap_or_default()).await?))
}

async fn replay_delivery(
    State(inner): State<Arc<ApiInner>>,
    id: Result<Path<i64>, PathRejection>,
    request: Result<Option<Json<ReplayRequest>>, JsonRejection>,
) -> ApiResult<ReplayResult> {
    let Path(id) = id.map_err(bad_path)?;
    let request = request.map_err(bad_json)?.map(|j| j.0).unwrap_or_default();
    Ok(Json(inner.replay_delivery(id, request).await?))
}

async fn delivery_forwards(
    State(inner): State<Arc<ApiInner>>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Vec<ForwardAttempt>> {
    let Path(id) = id.map_err(bad_path)?;
    Ok(Json(inner.delivery_forwards(id).await?))
}

async fn reverify_failed(State(inner): State<Arc<ApiInner>>) -> ApiResult<ReverifyFailedResult> {
    Ok(Json(inner.reverify_failed().await?))
}

async fn tunnel_status(State(inner): State<Arc<ApiInner>>) -> ApiResult<TunnelStatus> {
    Ok(Json(inner.tunnel_status().await))
}

async fn restart_tunnel(State(inner): State<Arc<ApiInner>>) -> ApiResult<TunnelStatus> {
    Ok(Json(crate::background::restart_tunnel(&inner).await?))
}

async fn self_test(State(inner): State<Arc<ApiInner>>) -> ApiResult<SelfTestResult> {
    Ok(Json(inner.self_test().await?))
}

fn live_event_name(e: &LiveEvent) -> &'static str {
    match e {
        LiveEvent::Delivery { .. } => "delivery",
        LiveEvent::Shipment { .. } => "shipment",
        LiveEvent::Forward { .. } => "forward",
        LiveEvent::Desk => "desk",
        LiveEvent::Lagged { .. } => "lagged",
    }
}

async fn stream(State(inner): State<Arc<ApiInner>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut stopping = inner.stopping.subscribe();
    let stopped = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let events = BroadcastStream::new(inner.live.subscribe()).map(|r| {
        let ev = match r {
            Ok(ev) => ev,
            Err(BroadcastStreamRecvError::Lagged(missed)) => LiveEvent::Lagged { missed },
        };
        let data = serde_json::to_string(&ev).expect("live events serialise");
        Ok(Event::default().event(live_event_name(&ev)).data(data))
    });
    // Ends when the engine stops, so a graceful stop does not wait for the UI to hang up.
    let events = futures_util::StreamExt::take_until(events, stopped);
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The built UI (`ui/dist`). In debug builds rust-embed reads the folder at run time, so a rebuilt UI
/// shows without recompiling; release builds carry the files inside the binary.
#[derive(rust_embed::RustEmbed)]
#[folder = "../../../ui/dist/"]
struct UiFiles;

const UI_MISSING: &str = "<!doctype html><meta charset=utf-8><title>Shipwatch</title>
<body style=\"font:16px system-ui;max-width:40em;margin:3em auto\"><h1>Shipwatch</h1>
<p>The inspector API is running, but this build has no UI: build it with <code>.ci/setup</code>
(or <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>) and restart <code>shipwatch serve</code>.</p>
<p>The API is under <code>/api/</code>; see <code>docs/api.md</code>.</p>";

async fn ui_file(State(inner): State<Arc<ApiInner>>, uri: Uri, headers: HeaderMap) -> Response {
    // `/?token=…` sets the cookie and sends the browser to a clean URL.
    if let Some(t) = token_from_query(&uri) {
        if token_matches(&inner.token, &t) {
            let mut r = Redirect::to(uri.path()).into_response();
            r.headers_mut().insert(header::SET_COOKIE, token_cookie(&inner.token));
            return r;
        }
        return error(StatusCode::UNAUTHORIZED, "wrong token: use the URL that `shipwatch serve` printed");
    }
    let _ = headers;
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    match UiFiles::get(path) {
        Some(file) => {
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            let cache = if path == "index.html" { "no-cache" } else { "public, max-age=3600" };
            Response::builder()
                .header(header::CONTENT_TYPE, mime.as_ref())
                .header(header::CACHE_CONTROL, cache)
                .header("x-content-type-options", "nosniff")
                .body(Body::from(file.data.into_owned()))
                .expect("static response")
        }
        None if path == "index.html" => {
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], UI_MISSING).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in
            ["localhost", "localhost:8788", "127.0.0.1", "127.0.0.1:1", "[::1]:8788", "[::1]", "LOCALHOST:1"]
        {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.com",
            "evil.com:8788",
            "127.0.0.1.evil.com",
            "localhost.evil.com:80",
            "[::2]:1",
            "10.0.0.1:8788",
            "localhost:evil.com",
            "localhost:80@evil.com",
            "[::1]:80.evil.com",
            "[::1]evil.com",
            "127.0.0.1:",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn tokens_are_found_where_sent() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; shipwatch_token=abc; c=d"));
        assert_eq!(token_from_cookie(&h).as_deref(), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer xyz"));
        assert_eq!(token_from_bearer(&h).as_deref(), Some("xyz"));
        let uri: Uri = "/api/status?x=1&token=t0k".parse().unwrap();
        assert_eq!(token_from_query(&uri).as_deref(), Some("t0k"));
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
        assert!(!token_matches("abc", "ab"));
    }
}
