//! Replay: send a stored delivery (or an edited body) to any URL as AfterShip sent it. The body goes
//! byte for byte; the original headers go in their order (names in lowercase and a repeated name's
//! values together, as the HTTP client writes them: [`PreparedReplay::headers_as_sent`]; "copy as
//! curl" keeps the case and places received), minus `host`, `content-length` and the
//! hop-by-hop ones (which describe the original connection, not the delivery); the original
//! `aftership-hmac-sha256` stays unless the delivery is re-signed with a chosen secret, which
//! replaces its value in place (or adds the header when there was none). [`Signing`] picks that
//! secret: the current or the previous one set in Shipwatch, or one the user typed.

use shipwatch_aftership::{sign, Secrets, SIGNATURE_HEADER};
use shipwatch_api::SignWith;
use shipwatch_store::queries::DeliveryRecord;

use crate::http::{headers_as_sent, unsendable_headers, OutgoingRequest, Sender, TargetResponse};
use crate::{DevtoolsError, Result};

/// Headers never replayed: they belong to the connection the delivery came on, and the client
/// writes its own `host` and `content-length`. `expect` is left out because the body is sent at once.
pub const DROPPED_HEADERS: [&str; 12] = [
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// Which signature a replay carries: the header as received, or one made with a chosen secret.
/// `Debug` never prints a typed secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Signing {
    /// The signature header as received (none if there was none).
    #[default]
    Original,
    /// The current secret set in Shipwatch.
    Current,
    /// The previous secret (rotation).
    Previous,
    /// A secret the user typed, used as its literal UTF-8 bytes (never trimmed or decoded).
    Typed(String),
}

impl std::fmt::Debug for Signing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signing::Original => "Original",
            Signing::Current => "Current",
            Signing::Previous => "Previous",
            Signing::Typed(_) => "Typed(<set>)",
        })
    }
}

impl Signing {
    /// From the API's `sign_with` and `secret`. A typed secret must be given (and not be empty)
    /// for `typed`, and only then.
    pub fn from_api(sign_with: SignWith, secret: Option<String>) -> Result<Signing> {
        match (sign_with, secret) {
            (SignWith::Typed, Some(s)) if !s.is_empty() => Ok(Signing::Typed(s)),
            (SignWith::Typed, _) => Err(DevtoolsError::Invalid(
                "type the secret to sign with (sign_with \"typed\" needs `secret`)".into(),
            )),
            (_, Some(_)) => Err(DevtoolsError::Invalid(
                "a secret is only used with sign_with \"typed\": choose \"typed\" or leave the secret out"
                    .into(),
            )),
            (SignWith::Original, None) => Ok(Signing::Original),
            (SignWith::Current, None) => Ok(Signing::Current),
            (SignWith::Previous, None) => Ok(Signing::Previous),
        }
    }

    /// The API's name for it.
    pub fn sign_with(&self) -> SignWith {
        match self {
            Signing::Original => SignWith::Original,
            Signing::Current => SignWith::Current,
            Signing::Previous => SignWith::Previous,
            Signing::Typed(_) => SignWith::Typed,
        }
    }

    /// The secret to re-sign with (`None`: keep the original header). Fails when the chosen slot
    /// has no secret set, saying where to set it.
    pub fn secret(&self, secrets: &Secrets) -> Result<Option<String>> {
        let set = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        match self {
            Signing::Original => Ok(None),
            Signing::Current => set(&secrets.current).map(Some).ok_or_else(|| {
                DevtoolsError::Invalid(
                    "no current secret is set to re-sign with: set the webhook secret in Settings, or type one"
                        .into(),
                )
            }),
            Signing::Previous => set(&secrets.previous).map(Some).ok_or_else(|| {
                DevtoolsError::Invalid(
                    "no previous secret is set to re-sign with: it is set in Settings while rotating the secret"
                        .into(),
                )
            }),
            Signing::Typed(s) => Ok(Some(s.clone())),
        }
    }
}

/// How to replay.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Re-sign with this secret (replacing the signature header). Never logged.
    pub resign_with: Option<String>,
    /// Send this body instead of the stored one (edit-then-replay).
    pub body: Option<Vec<u8>>,
    /// More header names to leave out (case-insensitive), e.g. `cdn-loop` when replaying to a host
    /// behind the same CDN.
    pub drop_headers: Vec<String>,
}

impl std::fmt::Debug for ReplayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayOptions")
            .field("resign_with", &self.resign_with.as_ref().map(|_| "<set>"))
            .field("body", &self.body.as_ref().map(Vec::len))
            .field("drop_headers", &self.drop_headers)
            .finish()
    }
}

/// The request a replay sends, before it is sent (what the UI previews).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedReplay {
    pub delivery_id: i64,
    pub method: String,
    /// In the original order, each name in the case received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The original headers left out, by name.
    pub dropped_headers: Vec<String>,
    /// The signature header was replaced (or added) with one made with the chosen secret.
    pub resigned: bool,
    pub body_edited: bool,
    /// The body was edited but not re-signed: the original signature no longer matches it.
    pub signature_stale: bool,
}

impl PreparedReplay {
    pub fn request(&self, url: &str) -> OutgoingRequest {
        OutgoingRequest {
            method: self.method.clone(),
            url: url.to_owned(),
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }

    /// The header lines [`Sender::send`] writes for this request: `headers` with names in lowercase
    /// and a repeated name's values together at its first place (see [`headers_as_sent`]).
    pub fn headers_as_sent(&self) -> Vec<(String, String)> {
        headers_as_sent(&self.headers)
    }

    /// The signature header sent, if any.
    pub fn signature(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(SIGNATURE_HEADER))
            .map(|(_, v)| v.as_str())
    }
}

/// What a replay did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayOutcome {
    pub url: String,
    pub request: PreparedReplay,
    pub response: TargetResponse,
}

/// Builds the request a replay of `record` sends. Fails for a delivery whose body was truncated
/// (over the size limit) unless an edited body is given.
pub fn prepare(record: &DeliveryRecord, options: &ReplayOptions) -> Result<PreparedReplay> {
    let id = record.item.id;
    if record.body_truncated && options.body.is_none() {
        return Err(DevtoolsError::TruncatedBody { id, size: record.item.size, kept: record.body.len() });
    }
    let body_edited = options.body.as_ref().is_some_and(|b| *b != record.body);
    let body = options.body.clone().unwrap_or_else(|| record.body.clone());

    // Names the original `Connection` header lists are hop-by-hop too.
    let connection_listed: Vec<String> = record
        .headers
        .iter()
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_ascii_lowercase()).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let unsendable = unsendable_headers(&record.headers);
    let dropped_by = |name: &str| {
        let lower = name.trim().to_ascii_lowercase();
        DROPPED_HEADERS.contains(&lower.as_str())
            || connection_listed.contains(&lower)
            || options.drop_headers.iter().any(|d| d.trim().eq_ignore_ascii_case(&lower))
    };

    let mut headers = Vec::with_capacity(record.headers.len() + 1);
    let mut dropped_headers = Vec::new();
    for (name, value) in &record.headers {
        if dropped_by(name) || unsendable.contains(name) {
            dropped_headers.push(name.clone());
        } else {
            headers.push((name.clone(), value.clone()));
        }
    }

    let had_signature = headers.iter().any(|(n, _)| n.trim().eq_ignore_ascii_case(SIGNATURE_HEADER));
    let resigned = match options.resign_with.as_deref() {
        Some(secret) => {
            let signature = sign(secret, &body);
            let mut replaced = false;
            headers.retain_mut(|(name, value)| {
                if !name.trim().eq_ignore_ascii_case(SIGNATURE_HEADER) {
                    return true;
                }
                if replaced {
                    return false; // one signature header only
                }
                *value = signature.clone();
                replaced = true;
                true
            });
            if !replaced {
                headers.push((SIGNATURE_HEADER.to_owned(), signature));
            }
            true
        }
        None => false,
    };
    let method = if record.method.trim().is_empty() { "POST".to_owned() } else { record.method.clone() };
    Ok(PreparedReplay {
        delivery_id: id,
        method,
        headers,
        body,
        dropped_headers,
        resigned,
        body_edited,
        signature_stale: body_edited && had_signature && !resigned,
    })
}

/// Replays `record` to `url` and reads the answer. A non-2xx answer is `Ok`: look at
/// `response.status` (or [`TargetResponse::error`]).
pub async fn replay(
    sender: &Sender,
    record: &DeliveryRecord,
    url: &str,
    options: &ReplayOptions,
) -> Result<ReplayOutcome> {
    let request = prepare(record, options)?;
    tracing::info!(delivery = request.delivery_id, %url, resigned = request.resigned, "replaying");
    let response = sender.send(&request.request(url)).await?;
    Ok(ReplayOutcome { url: url.to_owned(), request, response })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipwatch_aftership::{verify_signature, DeliveryVerdict, SecretSlot};
    use shipwatch_api::{DeliveryItem, Verdict};

    fn record(headers: &[(&str, &str)], body: &[u8]) -> DeliveryRecord {
        DeliveryRecord {
            item: DeliveryItem {
                id: 7,
                received_at: "2025-07-01T12:00:00.000Z".into(),
                event_id: None,
                event: None,
                verdict: Verdict::Valid,
                status: 200,
                duplicate: false,
                tracking_number: None,
                slug: None,
                tag: None,
                order_id: None,
                shipment_id: None,
                size: body.len() as i64,
                title: None,
                courier: None,
                webhook_version: None,
                test: false,
                forward: None,
                diagnosis: None,
            },
            method: "POST".into(),
            path: "/webhooks/aftership".into(),
            peer: "127.0.0.1:5000".into(),
            forwarded_for: None,
            cf_connecting_ip: None,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.to_vec(),
            body_truncated: false,
            secret: Some("current".into()),
            parse_error: None,
            projection: None,
            duplicate_of: None,
        }
    }

    const HEADERS: &[(&str, &str)] = &[
        ("Host", "abc.trycloudflare.com"),
        ("User-Agent", "AfterShipTrackingWebhook/4.0.0"),
        ("Content-Length", "11"),
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "1"),
        ("Aftership-Hmac-Sha256", "original="),
        ("Content-Type", "application/json"),
        ("Transfer-Encoding", "chunked"),
        ("cdn-loop", "cloudflare"),
    ];

    #[test]
    fn keeps_order_and_signature_drops_hop_by_hop() {
        let prepared = prepare(&record(HEADERS, b"{\"a\": 1}\r\n"), &ReplayOptions::default()).unwrap();
        let names: Vec<&str> = prepared.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["User-Agent", "Aftership-Hmac-Sha256", "Content-Type", "cdn-loop"]);
        assert_eq!(prepared.signature(), Some("original="));
        assert_eq!(prepared.body, b"{\"a\": 1}\r\n");
        assert_eq!(
            prepared.dropped_headers,
            ["Host", "Content-Length", "Connection", "X-Hop", "Transfer-Encoding"]
        );
        assert!(!prepared.resigned && !prepared.body_edited && !prepared.signature_stale);
    }

    #[test]
    fn resign_replaces_in_place_and_extra_drops_apply() {
        let options = ReplayOptions {
            resign_with: Some("new-secret".into()),
            drop_headers: vec!["CDN-Loop".into()],
            ..Default::default()
        };
        let prepared = prepare(&record(HEADERS, b"{}"), &options).unwrap();
        let names: Vec<&str> = prepared.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["User-Agent", "Aftership-Hmac-Sha256", "Content-Type"]);
        assert_eq!(prepared.signature(), Some(sign("new-secret", b"{}").as_str()));
        assert!(prepared.resigned);
        assert!(!format!("{options:?}").contains("new-secret"));
    }

    #[test]
    fn resign_adds_a_missing_signature_and_edits_are_flagged() {
        let options = ReplayOptions {
            resign_with: Some("k".into()),
            body: Some(b"{\"b\":2}".to_vec()),
            ..Default::default()
        };
        let prepared = prepare(&record(&[("Content-Type", "application/json")], b"{}"), &options).unwrap();
        assert_eq!(prepared.headers.last().unwrap(), &(SIGNATURE_HEADER.to_owned(), sign("k", b"{\"b\":2}")));
        assert!(prepared.body_edited && !prepared.signature_stale);

        let edited = ReplayOptions { body: Some(b"{\"b\":2}".to_vec()), ..Default::default() };
        let prepared = prepare(&record(HEADERS, b"{}"), &edited).unwrap();
        assert!(prepared.signature_stale);
        assert_eq!(prepared.signature(), Some("original="));
    }

    fn secrets() -> Secrets {
        Secrets { current: Some("cur-secret".into()), previous: Some("prev-secret".into()) }
    }

    /// Prepares a replay signed as `signing` says, as the engine does.
    fn prepare_signed(signing: &Signing, secrets: &Secrets, body: Option<&[u8]>) -> PreparedReplay {
        let options = ReplayOptions {
            resign_with: signing.secret(secrets).unwrap(),
            body: body.map(<[u8]>::to_vec),
            ..Default::default()
        };
        prepare(&record(HEADERS, b"{\"a\":  1}"), &options).unwrap()
    }

    #[test]
    fn each_slot_signs_so_the_receiver_verifies_it_as_that_slot() {
        let secrets = secrets();
        let edited: &[u8] = b"{\"a\":2}";
        for (signing, slot) in
            [(Signing::Current, SecretSlot::Current), (Signing::Previous, SecretSlot::Previous)]
        {
            let p = prepare_signed(&signing, &secrets, Some(edited));
            assert!(p.resigned && p.body_edited && !p.signature_stale, "{signing:?}");
            // In place: the header keeps its received spelling and position.
            let names: Vec<&str> = p.headers.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["User-Agent", "Aftership-Hmac-Sha256", "Content-Type", "cdn-loop"]);
            assert_eq!(verify_signature(p.signature(), &p.body, &secrets), DeliveryVerdict::Valid(slot));
        }
        // Only the previous secret set: signing with the previous one still verifies as previous.
        let only_previous = Secrets { current: None, previous: Some("prev-secret".into()) };
        let p = prepare_signed(&Signing::Previous, &only_previous, None);
        assert_eq!(p.signature(), Some(sign("prev-secret", b"{\"a\":  1}").as_str()));
        assert_eq!(
            verify_signature(p.signature(), &p.body, &secrets),
            DeliveryVerdict::Valid(SecretSlot::Previous)
        );
    }

    #[test]
    fn a_typed_secret_signs_as_typed_and_is_never_printed() {
        // Padded with a space on purpose: the literal bytes, never trimmed.
        let typed = Signing::from_api(SignWith::Typed, Some("typed-secret ".into())).unwrap();
        assert_eq!(typed.sign_with(), SignWith::Typed);
        let p = prepare_signed(&typed, &secrets(), None);
        assert_eq!(p.signature(), Some(sign("typed-secret ", b"{\"a\":  1}").as_str()));
        assert_ne!(p.signature(), Some(sign("typed-secret", b"{\"a\":  1}").as_str()));
        // It matches neither configured secret, only itself.
        assert_eq!(verify_signature(p.signature(), &p.body, &secrets()), DeliveryVerdict::Invalid);
        let own = Secrets { current: Some("typed-secret ".into()), previous: None };
        assert_eq!(
            verify_signature(p.signature(), &p.body, &own),
            DeliveryVerdict::Valid(SecretSlot::Current)
        );
        assert!(!format!("{typed:?}").contains("typed-secret"), "{typed:?}");
        assert!(!format!("{p:?}").contains("typed-secret"));
    }

    #[test]
    fn original_keeps_the_received_header_byte_for_byte() {
        let p = prepare_signed(&Signing::Original, &secrets(), None);
        assert!(!p.resigned && !p.body_edited && !p.signature_stale);
        assert_eq!(p.signature(), Some("original="));
        assert_eq!(p.body, b"{\"a\":  1}");
        // Edited but kept: the stale signature is said.
        let p = prepare_signed(&Signing::Original, &secrets(), Some(b"{}"));
        assert!(p.signature_stale && !p.resigned);
        assert_eq!(p.signature(), Some("original="));
    }

    #[test]
    fn slots_without_a_secret_and_bad_typed_requests_say_what_to_do() {
        let none = Secrets::default();
        let err = Signing::Current.secret(&none).unwrap_err().to_string();
        assert!(err.contains("no current secret is set"), "{err}");
        let err =
            Signing::Previous.secret(&Secrets { current: Some("c".into()), previous: Some(String::new()) });
        assert!(err.unwrap_err().to_string().contains("no previous secret is set"));
        assert_eq!(Signing::Original.secret(&none).unwrap(), None);
        for missing in [None, Some(String::new())] {
            let err = Signing::from_api(SignWith::Typed, missing).unwrap_err().to_string();
            assert!(err.contains("type the secret"), "{err}");
        }
        let err = Signing::from_api(SignWith::Current, Some("stray".into())).unwrap_err().to_string();
        assert!(err.contains("only used with sign_with \"typed\"") && !err.contains("stray"), "{err}");
        assert_eq!(Signing::from_api(SignWith::Previous, None).unwrap(), Signing::Previous);
        assert_eq!(Signing::from_api(SignWith::Original, None).unwrap(), Signing::Original);
    }

    #[test]
    fn truncated_bodies_are_refused_unless_edited() {
        let mut r = record(HEADERS, b"{\"partial");
        r.body_truncated = true;
        r.item.size = 2_000_000;
        let err = prepare(&r, &ReplayOptions::default()).unwrap_err().to_string();
        assert!(err.contains("delivery 7 was over the size limit (2000000 bytes)"), "{err}");
        assert!(prepare(&r, &ReplayOptions { body: Some(b"{}".to_vec()), ..Default::default() }).is_ok());
    }
}
