//! Webhook signatures: `aftership-hmac-sha256` = standard base64 of HMAC-SHA256(secret as UTF-8 bytes,
//! raw body). Verification ([`verify_signature`]) and the explanation of a failure ([`diagnose`]).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::reserialise::{reserialisations, Layout};

type HmacSha256 = Hmac<Sha256>;

/// The header AfterShip Tracking signs with (look it up case-insensitively).
pub const SIGNATURE_HEADER: &str = "aftership-hmac-sha256";

/// The configured webhook secrets: the current one and, while rotating, the previous one.
/// `Debug` never prints them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub current: Option<String>,
    pub previous: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("current", &self.current.as_ref().map(|_| "<set>"))
            .field("previous", &self.previous.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Secrets {
    /// True when at least one secret is set (empty strings count as unset).
    pub fn any(&self) -> bool {
        self.configured().next().is_some()
    }

    /// The set secrets, current first.
    fn configured(&self) -> impl Iterator<Item = (SecretSlot, &str)> {
        [(SecretSlot::Current, self.current.as_deref()), (SecretSlot::Previous, self.previous.as_deref())]
            .into_iter()
            .filter_map(|(slot, secret)| secret.filter(|s| !s.is_empty()).map(|s| (slot, s)))
    }

    /// The secret `expected` signatures are made with: the current one, else the previous one.
    fn primary(&self) -> Option<&str> {
        self.configured().next().map(|(_, secret)| secret)
    }
}

/// Which configured secret matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretSlot {
    Current,
    Previous,
}

impl SecretSlot {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretSlot::Current => "current",
            SecretSlot::Previous => "previous",
        }
    }
}

/// The verdict on one delivery's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryVerdict {
    /// Matches a configured secret.
    Valid(SecretSlot),
    /// A header is present and well-formed but matches no configured secret.
    Invalid,
    /// No signature header.
    Missing,
    /// The header is not 32 bytes of standard base64.
    Malformed,
    /// No secret is configured: nothing could be checked.
    Unverified,
}

impl DeliveryVerdict {
    /// `valid`, `invalid`, `missing`, `malformed` or `unverified`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryVerdict::Valid(_) => "valid",
            DeliveryVerdict::Invalid => "invalid",
            DeliveryVerdict::Missing => "missing",
            DeliveryVerdict::Malformed => "malformed",
            DeliveryVerdict::Unverified => "unverified",
        }
    }

    /// Valid or unverified: answered 200 and allowed to update shipments.
    pub fn accepted(self) -> bool {
        matches!(self, DeliveryVerdict::Valid(_) | DeliveryVerdict::Unverified)
    }

    pub fn secret(self) -> Option<SecretSlot> {
        match self {
            DeliveryVerdict::Valid(s) => Some(s),
            _ => None,
        }
    }
}

/// Standard padded base64 of HMAC-SHA256(secret, body): what AfterShip puts in the header.
pub fn sign(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac_of(secret.as_bytes(), body).finalize().into_bytes())
}

/// Finds the signature header among `(name, value)` pairs, case-insensitively. First one wins.
pub fn find_signature_header<'a, I>(headers: I) -> Option<&'a str>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    headers
        .into_iter()
        .find(|(name, _)| name.trim().eq_ignore_ascii_case(SIGNATURE_HEADER))
        .map(|(_, value)| value)
}

/// Verifies the header value (None = no header) against the body with the current, then the
/// previous secret, in constant time.
pub fn verify_signature(header: Option<&str>, body: &[u8], secrets: &Secrets) -> DeliveryVerdict {
    let Some(header) = header else {
        return DeliveryVerdict::Missing;
    };
    if !secrets.any() {
        return DeliveryVerdict::Unverified;
    }
    let Some(signature) = decode_signature(header) else {
        return DeliveryVerdict::Malformed;
    };
    match slot_signing(secrets, body, &signature, literal_key) {
        Some(slot) => DeliveryVerdict::Valid(slot),
        None => DeliveryVerdict::Invalid,
    }
}

/// The length of an HMAC-SHA256.
const SIGNATURE_LEN: usize = 32;

fn hmac_of(key: &[u8], body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac
}

/// The header value, trimmed, as standard padded base64 of exactly 32 bytes.
fn decode_signature(header: &str) -> Option<Vec<u8>> {
    decode_32(&STANDARD, header.trim())
}

fn decode_32(engine: &GeneralPurpose, text: &str) -> Option<Vec<u8>> {
    engine.decode(text).ok().filter(|bytes| bytes.len() == SIGNATURE_LEN)
}

/// The key AfterShip uses: the secret's text as UTF-8 bytes.
fn literal_key(secret: &str) -> Option<Vec<u8>> {
    Some(secret.as_bytes().to_vec())
}

/// The first set secret whose key (made from the secret by `key_of`) signs `body` into `signature`.
/// Each comparison runs in constant time.
fn slot_signing(
    secrets: &Secrets,
    body: &[u8],
    signature: &[u8],
    key_of: impl Fn(&str) -> Option<Vec<u8>>,
) -> Option<SecretSlot> {
    secrets.configured().find_map(|(slot, secret)| {
        let key = key_of(secret)?;
        hmac_of(&key, body).verify_slice(signature).is_ok().then_some(slot)
    })
}

pub use shipwatch_api::DiagnosisCode;

/// The diagnosis code of a delivery whose `verdict` was computed by [`verify_signature`] from the
/// same headers, body and secrets. A valid or unverified delivery costs nothing more; a failing one
/// runs the explanation (body and secret variants), as [`diagnose`] does.
pub fn diagnosis_code(
    verdict: DeliveryVerdict,
    headers: &[(String, String)],
    body: &[u8],
    secrets: &Secrets,
) -> DiagnosisCode {
    match verdict {
        DeliveryVerdict::Valid(SecretSlot::Current) => DiagnosisCode::ValidCurrent,
        DeliveryVerdict::Valid(SecretSlot::Previous) => DiagnosisCode::ValidPrevious,
        DeliveryVerdict::Unverified => DiagnosisCode::UnverifiedNoSecret,
        DeliveryVerdict::Missing | DeliveryVerdict::Malformed | DeliveryVerdict::Invalid => {
            explain(verdict, headers, body, secrets).code
        }
    }
}

/// Why a signature passed or failed, in plain words, for the local UI only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    pub verdict: DeliveryVerdict,
    /// The explanation as a stable code (`wrong_secret`, `hex_signature`, ...), for lists, filters
    /// and exports; [`DiagnosisCode::label`] is its short wording.
    pub code: DiagnosisCode,
    /// What the current secret (or, failing that, the previous one) gives for this body.
    pub expected: Option<String>,
    /// One sentence: "the header is hex, not base64", "matches the body with a trailing newline
    /// removed", "no secret configured", ...
    pub diagnosis: String,
    /// What to do about it, when something can be done.
    pub advice: Option<String>,
}

/// Explains the verdict for a delivery, looking at all its headers (to recognise other AfterShip
/// products' signatures) and at likely transformations of the body (re-serialised JSON, trailing
/// newline, CRLF) and of the secret (whitespace, hex- or base64-decoded).
pub fn diagnose(headers: &[(String, String)], body: &[u8], secrets: &Secrets) -> Diagnosis {
    let header = find_signature_header(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let verdict = verify_signature(header, body, secrets);
    let explanation = explain(verdict, headers, body, secrets);
    Diagnosis {
        verdict,
        code: explanation.code,
        expected: secrets.primary().map(|secret| sign(secret, body)),
        diagnosis: explanation.diagnosis,
        advice: explanation.advice,
    }
}

/// The explanation of `verdict` (computed from the same headers, body and secrets).
fn explain(
    verdict: DeliveryVerdict,
    headers: &[(String, String)],
    body: &[u8],
    secrets: &Secrets,
) -> Explanation {
    let header = find_signature_header(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let header = header.unwrap_or_default();
    match verdict {
        DeliveryVerdict::Valid(slot) => explain_valid(slot, header, secrets),
        DeliveryVerdict::Unverified => Explanation::new(
            DiagnosisCode::UnverifiedNoSecret,
            "A signature header is present, but no secret is configured in Shipwatch, so it could not \
             be checked: the delivery was accepted unverified.",
            Some(ADVICE_CONFIGURE_SECRET),
        ),
        DeliveryVerdict::Missing => explain_missing(headers, secrets),
        DeliveryVerdict::Malformed => explain_malformed(header, body, secrets),
        DeliveryVerdict::Invalid => explain_invalid(headers, header, body, secrets),
    }
}

/// The header AfterShip Returns and Warranty sign with.
const RETURNS_WARRANTY_HEADER: &str = "as-signature-hmac-sha256";
/// The header AfterShip Shipping (ex-Postmen) and Returns accounts created before 2022-10-25 sign with.
const SHIPPING_HEADER: &str = "am-webhook-signature";

const ADVICE_CONFIGURE_SECRET: &str = "Copy the webhook secret from AfterShip → Settings → \
    Notifications into Shipwatch's settings so that deliveries are verified.";
const ADVICE_FORWARD_UNCHANGED: &str = "Shipwatch must receive the body byte for byte as AfterShip \
    sent it: make the proxy, relay or tunnel in between forward the request unchanged.";
const ADVICE_FIX_SENDER_ENCODING: &str = "AfterShip sends standard base64 (44 characters ending in \
    '='): whatever produced this header (a relay or a test script) must send \
    digest('base64') unchanged.";
const ADVICE_FIX_SENDER_KEY: &str = "AfterShip keys the HMAC with the secret's text exactly as shown: \
    fix whatever signed this (a relay or a test script) to use the secret as it is, undecoded.";

struct Explanation {
    code: DiagnosisCode,
    diagnosis: String,
    advice: Option<String>,
}

impl Explanation {
    fn new(code: DiagnosisCode, diagnosis: impl Into<String>, advice: Option<&str>) -> Self {
        Explanation { code, diagnosis: diagnosis.into(), advice: advice.map(str::to_string) }
    }
}

fn secret_words(slot: SecretSlot) -> &'static str {
    match slot {
        SecretSlot::Current => "the current secret",
        SecretSlot::Previous => "the previous secret",
    }
}

fn explain_valid(slot: SecretSlot, header: &str, secrets: &Secrets) -> Explanation {
    let whitespace_note =
        if header.trim() != header { " (the whitespace around the header value was ignored)" } else { "" };
    match slot {
        SecretSlot::Current => Explanation::new(
            DiagnosisCode::ValidCurrent,
            format!("The signature matches the current secret{whitespace_note}."),
            secrets.configured().any(|(slot, _)| slot == SecretSlot::Previous).then_some(
                "AfterShip signs with the current secret now: clear the previous secret once \
                     retries of older deliveries are over (they run for about 68 hours).",
            ),
        ),
        SecretSlot::Previous => Explanation::new(
            DiagnosisCode::ValidPrevious,
            format!(
                "The signature matches the previous secret{whitespace_note}; AfterShip is still \
                 signing with it — finish the rotation."
            ),
            Some(
                "Make the secret in AfterShip → Settings → Notifications the one saved as current in \
                 Shipwatch (or save AfterShip's secret as current here), then clear the previous \
                 secret.",
            ),
        ),
    }
}

fn explain_missing(headers: &[(String, String)], secrets: &Secrets) -> Explanation {
    let has_header = |wanted: &str| headers.iter().any(|(name, _)| name.trim().eq_ignore_ascii_case(wanted));
    if has_header(RETURNS_WARRANTY_HEADER) {
        return Explanation::new(
            DiagnosisCode::ReturnsOrWarrantyProduct,
            "There is no aftership-hmac-sha256 header but an as-signature-hmac-sha256 one: this is a \
             Returns or Warranty webhook, signed with that product's secret.",
            Some(
                "Shipwatch follows AfterShip Tracking webhooks: send Returns and Warranty webhooks \
                 elsewhere, and point the Tracking webhook (Tracking admin → Settings → \
                 Notifications) at this URL.",
            ),
        );
    }
    if has_header(SHIPPING_HEADER) {
        return Explanation::new(
            DiagnosisCode::ShippingProduct,
            "There is no aftership-hmac-sha256 header but an am-webhook-signature one: this is a \
             Shipping (formerly Postmen) webhook, or a Returns webhook from an account created before \
             2022-10-25, signed with that product's secret.",
            Some(
                "Shipwatch follows AfterShip Tracking webhooks: send that product's webhooks \
                 elsewhere, and point the Tracking webhook (Tracking admin → Settings → \
                 Notifications) at this URL.",
            ),
        );
    }
    if let Some((name, _)) = headers.iter().find(|(name, _)| is_renamed_signature_header(name)) {
        return Explanation::new(
            DiagnosisCode::RenamedHeader,
            format!(
                "There is no aftership-hmac-sha256 header, but a header named \"{}\" looks like it: \
                 something between AfterShip and Shipwatch renamed it.",
                name.trim()
            ),
            Some("Make the proxy, relay or tunnel in between forward headers unchanged."),
        );
    }
    let advice = if secrets.any() {
        "Check that the request came from AfterShip Tracking, and that any proxy, relay or tunnel in \
         between forwards every header."
    } else {
        "Check that the request came from AfterShip Tracking, and that any proxy, relay or tunnel in \
         between forwards every header. No secret is configured either: copy it from AfterShip → \
         Settings → Notifications into Shipwatch."
    };
    Explanation::new(
        DiagnosisCode::MissingHeader,
        "The delivery has no aftership-hmac-sha256 header: AfterShip Tracking did not send it (a \
         request made by hand or by another service), or something in between dropped the header.",
        Some(advice),
    )
}

/// `X-Aftership-Hmac-Sha256`, `aftership_hmac_sha256`, `HTTP_AFTERSHIP_HMAC_SHA256`...
fn is_renamed_signature_header(name: &str) -> bool {
    let normalised = name.trim().to_ascii_lowercase().replace('_', "-");
    let bare =
        normalised.strip_prefix("x-").or_else(|| normalised.strip_prefix("http-")).unwrap_or(&normalised);
    !name.trim().eq_ignore_ascii_case(SIGNATURE_HEADER) && bare == SIGNATURE_HEADER
}

/// Standard alphabet, padding optional.
const STANDARD_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// Standard alphabet, no padding allowed.
const STANDARD_UNPADDED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone),
);
/// base64url alphabet, padding optional.
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// "it matches the current secret" or "it matches no configured secret", for a signature recovered
/// from a malformed header.
fn match_words(secrets: &Secrets, body: &[u8], signature: &[u8]) -> String {
    match slot_signing(secrets, body, signature, literal_key) {
        Some(slot) => format!("it matches {}", secret_words(slot)),
        None => "it matches no configured secret".to_string(),
    }
}

fn explain_malformed(header: &str, body: &[u8], secrets: &Secrets) -> Explanation {
    let value = header.trim();
    if value.is_empty() {
        return Explanation::new(
            DiagnosisCode::EmptyHeader,
            "The aftership-hmac-sha256 header is present but empty.",
            Some(
                "AfterShip always fills it: the request did not come from AfterShip Tracking, or \
                 something in between blanked the header.",
            ),
        );
    }
    if let Some(inner) = strip_quotes(value) {
        if let Some(signature) = decode_signature(inner) {
            return Explanation::new(
                DiagnosisCode::QuotedHeader,
                format!(
                    "The header is wrapped in quotes; without them {}.",
                    match_words(secrets, body, &signature)
                ),
                Some(
                    "Whatever sets the header (a relay or a test script) must send the bare base64 \
                     value, without quotes.",
                ),
            );
        }
    }
    for prefix in ["hmac-sha256=", "sha256=", "sha256:"] {
        let inner = value
            .get(..prefix.len())
            .filter(|head| head.eq_ignore_ascii_case(prefix))
            .map(|_| &value[prefix.len()..]);
        if let Some(signature) = inner.and_then(decode_signature) {
            return Explanation::new(
                DiagnosisCode::PrefixedHeader,
                format!(
                    "The header starts with \"{prefix}\", which AfterShip Tracking never sends; \
                     without it {}.",
                    match_words(secrets, body, &signature)
                ),
                Some(
                    "That prefix is the style of other AfterShip products (am-webhook-signature) and \
                     of other services: check which product sent this, or fix the relay or script \
                     that added it.",
                ),
            );
        }
    }
    if value.len() == 2 * SIGNATURE_LEN {
        if let Some(signature) = hex_decode(value) {
            let diagnosis = match slot_signing(secrets, body, &signature, literal_key) {
                Some(slot) => format!(
                    "The header is hex, not base64: the sender used a hex digest of the right HMAC \
                     (it matches {}) instead of base64.",
                    secret_words(slot)
                ),
                None => "The header is hex, not base64, and even read as hex it matches no \
                         configured secret."
                    .to_string(),
            };
            return Explanation::new(
                DiagnosisCode::HexSignature,
                diagnosis,
                Some(ADVICE_FIX_SENDER_ENCODING),
            );
        }
    }
    if value.contains(['-', '_']) {
        if let Some(signature) = decode_32(&URL_SAFE_ANY_PADDING, value) {
            return Explanation::new(
                DiagnosisCode::Base64urlSignature,
                format!(
                    "The header uses the base64url alphabet ('-' and '_' instead of '+' and '/'); \
                     read that way {}.",
                    match_words(secrets, body, &signature)
                ),
                Some(ADVICE_FIX_SENDER_ENCODING),
            );
        }
    }
    if let Some(signature) = decode_32(&STANDARD_UNPADDED, value) {
        return Explanation::new(
            DiagnosisCode::UnpaddedSignature,
            format!(
                "The header lacks its trailing '=' padding; with it {}.",
                match_words(secrets, body, &signature)
            ),
            Some(ADVICE_FIX_SENDER_ENCODING),
        );
    }
    if let Ok(bytes) = STANDARD_ANY_PADDING.decode(value) {
        return Explanation::new(
            DiagnosisCode::WrongLength,
            format!(
                "The header is base64 but decodes to {} bytes, not the 32 of an HMAC-SHA256 (SHA-1 \
                 gives 20, SHA-512 gives 64): it is not an AfterShip Tracking signature.",
                bytes.len()
            ),
            Some(
                "Check which service sent this request; AfterShip Tracking signs with HMAC-SHA256 \
                 in standard base64.",
            ),
        );
    }
    Explanation::new(
        DiagnosisCode::NotBase64,
        "The header is not base64: it is not an AfterShip Tracking signature, or something mangled it \
         on the way.",
        Some(
            "Check which service sent this request, and that any proxy, relay or tunnel in between \
             forwards headers unchanged.",
        ),
    )
}

fn strip_quotes(value: &str) -> Option<&str> {
    ['"', '\''].into_iter().find_map(|quote| value.strip_prefix(quote)?.strip_suffix(quote)).map(str::trim)
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let pairs = text.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    let nibble = |digit: u8| char::from(digit).to_digit(16).map(|n| n as u8);
    pairs.map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?)).collect()
}

/// A likely change of the body on its way to us, and what it says when the header matches the body
/// undone that way.
struct BodyVariant {
    bytes: Vec<u8>,
    code: DiagnosisCode,
    diagnosis: String,
}

fn body_variants(body: &[u8]) -> Vec<BodyVariant> {
    let mut variants = Vec::new();
    let without_newline = body.strip_suffix(b"\r\n").or_else(|| body.strip_suffix(b"\n"));
    if let Some(stripped) = without_newline {
        variants.push(BodyVariant {
            bytes: stripped.to_vec(),
            code: DiagnosisCode::TrailingNewline,
            diagnosis: "The header matches the body with its trailing newline removed: something \
                        between AfterShip and Shipwatch added a newline at the end of the body."
                .to_string(),
        });
    }
    let mut with_newline = body.to_vec();
    with_newline.push(b'\n');
    variants.push(BodyVariant {
        bytes: with_newline,
        code: DiagnosisCode::MissingNewline,
        diagnosis: "The header matches the body with a trailing newline added: something between \
                    AfterShip and Shipwatch removed the newline that ended the body."
            .to_string(),
    });
    if body.windows(2).any(|w| w == b"\r\n") {
        variants.push(BodyVariant {
            bytes: replace_crlf_with_lf(body),
            code: DiagnosisCode::CrlfBody,
            diagnosis: "The header matches the body with its CRLF line endings turned into LF: \
                        something between AfterShip and Shipwatch changed LF line endings to CRLF."
                .to_string(),
        });
    }
    let lone_lf = body.iter().enumerate().any(|(i, &b)| b == b'\n' && (i == 0 || body[i - 1] != b'\r'));
    if lone_lf {
        variants.push(BodyVariant {
            bytes: replace_lf_with_crlf(body),
            code: DiagnosisCode::LfBody,
            diagnosis: "The header matches the body with its LF line endings turned into CRLF: \
                        something between AfterShip and Shipwatch changed CRLF line endings to LF."
                .to_string(),
        });
    }
    for reserialised in reserialisations(body) {
        let keys = if reserialised.sorted_keys { ", keys sorted" } else { ", keys in their order" };
        let layout = reserialised.layout.describe();
        // Pretty-printed text is often signed as a file is written: with a final newline.
        if reserialised.layout != Layout::Compact {
            let mut with_newline = reserialised.bytes.clone();
            with_newline.push(b'\n');
            variants.push(BodyVariant {
                bytes: with_newline,
                code: DiagnosisCode::ReserialisedBody,
                diagnosis: format!(
                    "The header matches the body re-serialised as {layout} and a final newline{keys}: \
                     the body was signed in another layout and re-serialised (compacted, say) \
                     before it reached us."
                ),
            });
        }
        variants.push(BodyVariant {
            bytes: reserialised.bytes,
            code: DiagnosisCode::ReserialisedBody,
            diagnosis: format!(
                "The header matches the body re-serialised as {layout}{keys}: a proxy or framework \
                 re-serialised the JSON before it reached us."
            ),
        });
    }
    variants
}

fn replace_crlf_with_lf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\r' && body.get(i + 1) == Some(&b'\n') {
            i += 1;
        }
        out.push(body[i]);
        i += 1;
    }
    out
}

fn replace_lf_with_crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 16);
    for (i, &b) in body.iter().enumerate() {
        if b == b'\n' && (i == 0 || body[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// A likely change of the secret, and what it says when the header matches the secret changed that
/// way.
struct SecretVariant {
    code: DiagnosisCode,
    key_of: fn(&str) -> Option<Vec<u8>>,
    diagnosis: fn(SecretSlot) -> String,
    advice: &'static str,
}

const SECRET_VARIANTS: [SecretVariant; 3] = [
    SecretVariant {
        code: DiagnosisCode::SecretWhitespace,
        key_of: trimmed_key,
        diagnosis: |slot| {
            format!(
                "The header matches {} without the whitespace around it: the secret saved in \
                 Shipwatch has spaces or a line break around it.",
                secret_words(slot)
            )
        },
        advice: "Enter the secret again in Shipwatch, without spaces or line breaks around it.",
    },
    SecretVariant {
        code: DiagnosisCode::SecretDecoded,
        key_of: hex_decoded_key,
        diagnosis: |slot| {
            format!(
                "The header matches an HMAC keyed with the hex-decoded {} secret: the sender \
                 decoded the secret instead of using its text as the key.",
                slot.as_str()
            )
        },
        advice: ADVICE_FIX_SENDER_KEY,
    },
    SecretVariant {
        code: DiagnosisCode::SecretDecoded,
        key_of: base64_decoded_key,
        diagnosis: |slot| {
            format!(
                "The header matches an HMAC keyed with the base64-decoded {} secret: the sender \
                 decoded the secret instead of using its text as the key.",
                slot.as_str()
            )
        },
        advice: ADVICE_FIX_SENDER_KEY,
    },
];

fn trimmed_key(secret: &str) -> Option<Vec<u8>> {
    let trimmed = secret.trim();
    (trimmed != secret && !trimmed.is_empty()).then(|| trimmed.as_bytes().to_vec())
}

fn hex_decoded_key(secret: &str) -> Option<Vec<u8>> {
    hex_decode(secret.trim()).filter(|key| !key.is_empty())
}

fn base64_decoded_key(secret: &str) -> Option<Vec<u8>> {
    let secret = secret.trim();
    STANDARD_ANY_PADDING
        .decode(secret)
        .or_else(|_| URL_SAFE_ANY_PADDING.decode(secret))
        .ok()
        .filter(|key| !key.is_empty())
}

fn explain_invalid(
    headers: &[(String, String)],
    header: &str,
    body: &[u8],
    secrets: &Secrets,
) -> Explanation {
    // Invalid means the header decoded; keep going gracefully if it somehow did not.
    let signature = decode_signature(header).unwrap_or_default();
    let both_secrets = secrets.configured().count() == 2;
    let slot_note = |slot: SecretSlot| {
        if both_secrets && slot == SecretSlot::Previous {
            " (with the previous secret)"
        } else {
            ""
        }
    };

    for variant in body_variants(body) {
        if let Some(slot) = slot_signing(secrets, &variant.bytes, &signature, literal_key) {
            let diagnosis = match variant.diagnosis.strip_suffix('.') {
                Some(sentence) if both_secrets => format!("{sentence}{}.", slot_note(slot)),
                _ => variant.diagnosis,
            };
            return Explanation::new(variant.code, diagnosis, Some(ADVICE_FORWARD_UNCHANGED));
        }
    }
    for variant in &SECRET_VARIANTS {
        if let Some(slot) = slot_signing(secrets, body, &signature, variant.key_of) {
            return Explanation::new(variant.code, (variant.diagnosis)(slot), Some(variant.advice));
        }
    }
    if body.is_empty() {
        return Explanation::new(
            DiagnosisCode::EmptyBody,
            "The body arrived empty, so no secret can match: something between AfterShip and \
             Shipwatch dropped it.",
            Some(ADVICE_FORWARD_UNCHANGED),
        );
    }
    let compressed = headers.iter().any(|(name, value)| {
        name.trim().eq_ignore_ascii_case("content-encoding") && !value.trim().eq_ignore_ascii_case("identity")
    });
    if compressed {
        return Explanation::new(
            DiagnosisCode::CompressedBody,
            "No secret matches, and the body arrived compressed (Content-Encoding): the signature may \
             cover the body before compression, or a proxy changed the encoding.",
            Some(
                "Make the proxy, relay or tunnel in between pass the body on uncompressed and \
                 unchanged, then send a test webhook again.",
            ),
        );
    }
    let diagnosis = if both_secrets {
        "Neither secret matches: the secret in Shipwatch is not the one in AfterShip → Settings → \
         Notifications."
    } else {
        "The secret does not match: the secret in Shipwatch is not the one in AfterShip → Settings → \
         Notifications."
    };
    Explanation::new(
        DiagnosisCode::WrongSecret,
        diagnosis,
        Some(
            "Copy the webhook secret again from AfterShip → Settings → Notifications into Shipwatch. \
             If it is already the same, the request did not come from AfterShip Tracking or its body \
             was changed on the way.",
        ),
    )
}
