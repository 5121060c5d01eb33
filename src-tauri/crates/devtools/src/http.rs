//! The HTTP client the developer tools send with ([`Sender`]): http and https (rustls, webpki
//! roots), no proxy, no redirects followed, timeouts, a capped response body, and [`SendError`],
//! which says in one sentence which hop failed (URL, DNS, connect, TLS, response, HTTP status) and
//! what to do. The tunnel self-test reuses these errors.
//!
//! What the target receives: the given headers in the given order, as [`headers_as_sent`] gives them
//! (names in lowercase, a repeated name's values together at its first place), then `accept: */*`
//! when none was given, `host` and `content-length`; the body byte for byte. The names' case and the
//! places of repeated names cannot be kept: reqwest writes an `http::HeaderMap` (lowercase names,
//! values grouped by name) through hyper, and offers only `http1_title_case_headers`; hyper's client
//! keeps a name's case only from its private `HeaderCaseMap` extension (hyperium/hyper#2695), which
//! a caller cannot fill. HTTP says names are case-insensitive; "copy as curl" sends them as given.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

use crate::{DevtoolsError, Result};

/// Which hop of the path to the target failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hop {
    /// The URL itself.
    Url,
    /// Resolving the host name.
    Dns,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake (https).
    Tls,
    /// Waiting for or reading the answer.
    Response,
    /// The target answered, with a status that is not 2xx.
    Http,
}

impl Hop {
    pub fn as_str(self) -> &'static str {
        match self {
            Hop::Url => "url",
            Hop::Dns => "dns",
            Hop::Connect => "connect",
            Hop::Tls => "tls",
            Hop::Response => "response",
            Hop::Http => "http",
        }
    }
}

/// Why a request did not get a 2xx answer: each variant's message says which hop failed and what to
/// do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("URL: {url:?} cannot be sent to ({reason}); use http://host:port/path or https://host/path")]
    InvalidUrl { url: String, reason: String },

    #[error(
        "DNS: the host name {host} does not resolve ({detail}); check it for typos, and for a tunnel check \
         that the tunnel is running and its URL is current (quick tunnels get a new name at every start)"
    )]
    Dns { host: String, detail: String },

    #[error(
        "connect: {addr} refused the connection: nothing listens on that port; start the target (e.g. \
         `shipwatch serve` or your app) or fix the port in the URL"
    )]
    ConnectionRefused { addr: String },

    #[error(
        "connect: no connection to {addr} within {timeout_ms} ms: the host is down or a firewall drops \
         the packets; check the address and the network"
    )]
    ConnectTimeout { addr: String, timeout_ms: u64 },

    #[error("connect: cannot reach {addr} ({detail}); check the address, the network and any firewall")]
    Connect { addr: String, detail: String },

    #[error("TLS: the secure connection to {host} failed ({detail}); {advice}")]
    Tls { host: String, detail: String, advice: String },

    #[error(
        "response: {url} took the request but sent no complete answer within {timeout_ms} ms; the app \
         behind it is stuck or too slow (AfterShip expects an answer within seconds)"
    )]
    ResponseTimeout { url: String, timeout_ms: u64 },

    #[error(
        "response: {url} did not answer in HTTP ({detail}); if that port serves HTTPS use https://, \
         otherwise check that the target is an HTTP server and did not crash"
    )]
    Protocol { url: String, detail: String },

    #[error("HTTP {status}: {advice}")]
    HttpStatus { status: u16, advice: String },
}

impl SendError {
    /// The hop that failed.
    pub fn hop(&self) -> Hop {
        match self {
            SendError::InvalidUrl { .. } => Hop::Url,
            SendError::Dns { .. } => Hop::Dns,
            SendError::ConnectionRefused { .. }
            | SendError::ConnectTimeout { .. }
            | SendError::Connect { .. } => Hop::Connect,
            SendError::Tls { .. } => Hop::Tls,
            SendError::ResponseTimeout { .. } | SendError::Protocol { .. } => Hop::Response,
            SendError::HttpStatus { .. } => Hop::Http,
        }
    }

    /// A stable machine name: `invalid_url`, `dns`, `connection_refused`, `connect_timeout`, `connect`,
    /// `tls`, `response_timeout`, `protocol`, `http_status`.
    pub fn kind(&self) -> &'static str {
        match self {
            SendError::InvalidUrl { .. } => "invalid_url",
            SendError::Dns { .. } => "dns",
            SendError::ConnectionRefused { .. } => "connection_refused",
            SendError::ConnectTimeout { .. } => "connect_timeout",
            SendError::Connect { .. } => "connect",
            SendError::Tls { .. } => "tls",
            SendError::ResponseTimeout { .. } => "response_timeout",
            SendError::Protocol { .. } => "protocol",
            SendError::HttpStatus { .. } => "http_status",
        }
    }

    /// The error for an answer that is not 2xx (`None` for 2xx), with advice that fits webhook
    /// receivers and the tunnels in front of them. `body` is the answer's body (or its start).
    pub fn from_status(status: u16, headers: &[(String, String)], body: &[u8]) -> Option<SendError> {
        if (200..300).contains(&status) {
            return None;
        }
        let body_text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
        let header =
            |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let advice = match status {
            300..=399 => format!(
                "the target redirects to {}: webhook senders do not follow redirects, so register the final URL",
                header("location").unwrap_or("another URL")
            ),
            401 => "the target refused the signature: none was sent, or it was made with another secret \
                    than the one the target checks with, or the body was changed on the way"
                .into(),
            403 => "forbidden: the target, or an access policy of the tunnel in front of it, blocks this \
                    request"
                .into(),
            404 if body_text.contains("ERR_NGROK_3200") => {
                "the ngrok tunnel is offline: start it again (and update the URL in AfterShip if it changed)"
                    .into()
            }
            404 => "wrong path: the target has nothing at this path; Shipwatch receives on \
                    /webhooks/aftership (or the path set in Settings)"
                .into(),
            405 => "method not allowed: this path does not take POST; point the URL at the webhook path".into(),
            413 => "the body is larger than the target accepts: raise its body limit".into(),
            502 | 504 => "the tunnel or proxy answered but cannot reach the app behind it: check that the \
                          receiver runs on the port the tunnel forwards to"
                .into(),
            503 => "the target is up but cannot take deliveries now (storage or overload); it will be retried"
                .into(),
            530 | 1033 => "the Cloudflare tunnel behind this host name is down: start cloudflared again \
                           (and update the URL in AfterShip if it changed)"
                .into(),
            500..=599 => "the target failed while handling the delivery: look at its logs".into(),
            _ => "the target did not accept the delivery: look at its answer".into(),
        };
        Some(SendError::HttpStatus { status, advice })
    }
}

/// Limits of one request.
#[derive(Clone, Debug)]
pub struct SendOptions {
    /// The whole exchange: connect, send, answer, body.
    pub timeout: Duration,
    /// The TCP connection (and TLS handshake).
    pub connect_timeout: Duration,
    /// Bytes of the answer's body kept; the rest is not read.
    pub max_response_body: usize,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_response_body: 1024 * 1024,
        }
    }
}

/// A request to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingRequest {
    /// `POST` usually.
    pub method: String,
    pub url: String,
    /// In order; `host`, `content-length` and hop-by-hop headers are the caller's to leave out.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the target answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetResponse {
    pub status: u16,
    /// e.g. `OK`, when the status has a standard reason phrase.
    pub reason: Option<String>,
    /// e.g. `HTTP/1.1`.
    pub http_version: String,
    /// In the order received.
    pub headers: Vec<(String, String)>,
    /// The body, at most [`SendOptions::max_response_body`] bytes.
    pub body: Vec<u8>,
    /// The body was longer than the cap: the rest was not read.
    pub body_truncated: bool,
    /// From sending the request to the end of the body (or the cap).
    pub elapsed: Duration,
    /// The address connected to.
    pub remote_addr: Option<SocketAddr>,
}

impl TargetResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The [`SendError::HttpStatus`] for a non-2xx answer.
    pub fn error(&self) -> Option<SendError> {
        SendError::from_status(self.status, &self.headers, &self.body)
    }
}

/// The DNS failure our resolver reports, so it can be told apart from other connect errors.
#[derive(Debug)]
struct DnsFailure {
    host: String,
    detail: String,
}

impl std::fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot resolve {}: {}", self.host, self.detail)
    }
}

impl std::error::Error for DnsFailure {}

/// The system resolver (getaddrinfo, off the async threads), with failures marked as DNS failures.
struct MarkingResolver;

impl Resolve for MarkingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // RFC 6761: `.invalid` never resolves; answer without asking the network.
            if host.trim_end_matches('.').to_ascii_lowercase().ends_with(".invalid") {
                return Err(
                    Box::new(DnsFailure { host, detail: "the .invalid domain never resolves".into() }) as _,
                );
            }
            let looked_up: std::io::Result<Vec<SocketAddr>> =
                tokio::net::lookup_host((host.as_str(), 0)).await.map(Iterator::collect);
            match looked_up {
                Ok(addrs) => {
                    if addrs.is_empty() {
                        Err(Box::new(DnsFailure { host, detail: "no addresses".into() }) as _)
                    } else {
                        Ok(Box::new(addrs.into_iter()) as Addrs)
                    }
                }
                Err(e) => Err(Box::new(DnsFailure { host, detail: e.to_string() }) as _),
            }
        })
    }
}

/// Sends requests; cheap to clone (connections are pooled).
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    options: SendOptions,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("options", &self.options).finish()
    }
}

impl Sender {
    pub fn new(options: SendOptions) -> Result<Sender> {
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(MarkingResolver))
            .pool_max_idle_per_host(4)
            .build()
            .map_err(|e| DevtoolsError::Client(e.to_string()))?;
        Ok(Sender { client, options })
    }

    pub fn options(&self) -> &SendOptions {
        &self.options
    }

    /// Sends the request and reads the answer (its body up to the cap). Any answer, 2xx or not, is
    /// `Ok`: use [`TargetResponse::error`] to treat non-2xx as a failure.
    pub async fn send(&self, request: &OutgoingRequest) -> Result<TargetResponse, SendError> {
        let url = parse_url(&request.url)?;
        let method =
            Method::from_bytes(request.method.trim().as_bytes()).map_err(|_| SendError::InvalidUrl {
                url: request.url.clone(),
                reason: format!("bad method {:?}", request.method),
            })?;
        let headers = header_map(&request.headers);
        let started = Instant::now();
        let response = self
            .client
            .request(method, url.clone())
            .headers(headers)
            .body(request.body.clone())
            .timeout(self.options.timeout)
            .send()
            .await
            .map_err(|e| classify(&e, &url, &self.options))?;

        let status = response.status();
        let http_version = format!("{:?}", response.version());
        let remote_addr = response.remote_addr();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
            })
            .collect();
        let cap = self.options.max_response_body;
        let mut body = Vec::new();
        let mut body_truncated = false;
        let mut response = response;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = cap - body.len();
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        body_truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(classify(&e, &url, &self.options)),
            }
        }
        let elapsed = started.elapsed();
        tracing::debug!(url = %url, status = status.as_u16(), elapsed_ms = elapsed.as_millis() as u64, "sent");
        Ok(TargetResponse {
            status: status.as_u16(),
            reason: status.canonical_reason().map(str::to_owned),
            http_version,
            headers,
            body,
            body_truncated,
            elapsed,
            remote_addr,
        })
    }
}

/// Checks that `url` is an absolute http(s) URL with a host.
pub fn parse_url(url: &str) -> Result<Url, SendError> {
    let invalid = |reason: &str| SendError::InvalidUrl { url: url.to_owned(), reason: reason.to_owned() };
    let parsed = Url::parse(url.trim()).map_err(|e| invalid(&e.to_string()))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => return Err(invalid(&format!("the scheme is {other:?}, not http or https"))),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(parsed)
}

/// The headers in order; a name or value HTTP cannot carry is left out (and logged by name).
fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        match (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_bytes(value.as_bytes())) {
            (Ok(name), Ok(value)) => {
                map.append(name, value);
            }
            _ => tracing::warn!(header = %name, "left out a header HTTP cannot carry"),
        }
    }
    map
}

/// The header lines [`Sender::send`] writes for `headers`, in their order: names in lowercase, a
/// repeated name's values together at its first place, those HTTP cannot carry left out.
pub fn headers_as_sent(headers: &[(String, String)]) -> Vec<(String, String)> {
    header_map(headers)
        .iter()
        .map(|(name, value)| {
            (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
        })
        .collect()
}

/// Headers an HTTP request cannot carry as they are (bad name or value bytes).
pub fn unsendable_headers(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(name, value)| {
            HeaderName::from_bytes(name.trim().as_bytes()).is_err()
                || HeaderValue::from_bytes(value.as_bytes()).is_err()
        })
        .map(|(name, _)| name.clone())
        .collect()
}

fn host_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => {
            if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        }
        None => host.to_owned(),
    }
}

/// Turns a reqwest error into the hop that failed.
fn classify(err: &reqwest::Error, url: &Url, options: &SendOptions) -> SendError {
    let host = url.host_str().unwrap_or_default().to_owned();
    let addr = host_port(url);
    let chain = error_chain(err);

    if err.is_builder() {
        return SendError::InvalidUrl { url: url.to_string(), reason: innermost(err) };
    }
    if let Some(dns) = chain.iter().find_map(|e| e.downcast_ref::<DnsFailure>()) {
        return SendError::Dns { host: dns.host.clone(), detail: dns.detail.clone() };
    }
    if let Some(tls) = find_tls(&chain) {
        return tls_error(host, tls);
    }
    let io_kind = chain.iter().find_map(|e| e.downcast_ref::<std::io::Error>()).map(std::io::Error::kind);
    if err.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        return if err.is_connect() {
            SendError::ConnectTimeout { addr, timeout_ms: options.connect_timeout.as_millis() as u64 }
        } else {
            SendError::ResponseTimeout {
                url: url.to_string(),
                timeout_ms: options.timeout.as_millis() as u64,
            }
        };
    }
    if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        return SendError::ConnectionRefused { addr };
    }
    if err.is_connect() {
        return SendError::Connect { addr, detail: innermost(err) };
    }
    SendError::Protocol { url: url.to_string(), detail: innermost(err) }
}

/// The error and its sources, outermost first, including errors wrapped inside `io::Error`s (whose
/// `source()` skips the wrapped error itself).
fn error_chain<'a>(err: &'a (dyn std::error::Error + 'static)) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        out.push(e);
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            out.push(inner);
            next = inner.source();
        } else {
            next = e.source();
        }
    }
    out
}

/// A TLS failure in the chain, as text.
fn find_tls(chain: &[&(dyn std::error::Error + 'static)]) -> Option<String> {
    if let Some(e) = chain.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return Some(e.to_string());
    }
    chain.iter().map(|e| e.to_string()).find(|text| {
        let t = text.to_ascii_lowercase();
        t.contains("certificate") || t.contains("tls handshake") || t.contains("invalidcontenttype")
    })
}

fn tls_error(host: String, detail: String) -> SendError {
    let lower = detail.to_ascii_lowercase();
    let advice = if lower.contains("invalidcontenttype") || lower.contains("corrupt message") {
        "the port answers in plain HTTP: use http:// for it (https:// is for the tunnel's public URL)"
    } else if lower.contains("certificate")
        || lower.contains("unknownissuer")
        || lower.contains("notvalidforname")
    {
        "the server's certificate is not trusted for this name (self-signed, expired or for another host): \
         use the tunnel's own https URL, or http:// for a local target"
    } else {
        "check that the URL's port serves HTTPS, and that nothing in between intercepts TLS"
    };
    SendError::Tls { host, detail, advice: advice.to_owned() }
}

/// The innermost message of an error chain (the most specific).
fn innermost(err: &reqwest::Error) -> String {
    error_chain(err).last().map(|e| e.to_string()).unwrap_or_else(|| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(parse_url("http://127.0.0.1:8787/webhooks/aftership").is_ok());
        assert!(parse_url("https://abc.trycloudflare.com/webhooks/aftership").is_ok());
        for bad in ["", "127.0.0.1:8787", "ftp://example.com/", "http://", "not a url"] {
            let err = parse_url(bad).unwrap_err();
            assert_eq!(err.hop(), Hop::Url, "{bad}: {err}");
            assert!(err.to_string().contains("http://host:port/path"), "{err}");
        }
    }

    #[test]
    fn statuses_give_advice() {
        assert_eq!(SendError::from_status(200, &[], b""), None);
        assert_eq!(SendError::from_status(204, &[], b""), None);
        let err = SendError::from_status(404, &[], b"not found").unwrap();
        assert_eq!(err.hop(), Hop::Http);
        assert!(err.to_string().starts_with("HTTP 404: wrong path"), "{err}");
        let ngrok = SendError::from_status(404, &[], b"<html>ERR_NGROK_3200</html>").unwrap();
        assert!(ngrok.to_string().contains("ngrok tunnel is offline"), "{ngrok}");
        let moved = SendError::from_status(301, &[("Location".into(), "https://x/y".into())], b"").unwrap();
        assert!(moved.to_string().contains("redirects to https://x/y"), "{moved}");
        for (status, words) in [
            (401, "signature"),
            (413, "body limit"),
            (502, "cannot reach the app"),
            (530, "cloudflared"),
            (500, "logs"),
        ] {
            let err = SendError::from_status(status, &[], b"").unwrap();
            assert!(err.to_string().contains(words), "{status}: {err}");
            assert_eq!(err.kind(), "http_status");
        }
    }

    #[test]
    fn unsendable_headers_are_found() {
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("bad name".to_string(), "x".to_string()),
            ("x-ok".to_string(), "line\nbreak".to_string()),
        ];
        assert_eq!(unsendable_headers(&headers), ["bad name", "x-ok"]);
        assert_eq!(header_map(&headers).len(), 1);
    }

    #[test]
    fn headers_as_sent_are_lowercased_and_grouped() {
        let headers: Vec<(String, String)> = [("X-A", "1"), ("Content-Type", "text/plain"), ("x-a", "2")]
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let sent = headers_as_sent(&headers);
        assert_eq!(
            sent,
            [("x-a", "1"), ("x-a", "2"), ("content-type", "text/plain")]
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
    }
}
