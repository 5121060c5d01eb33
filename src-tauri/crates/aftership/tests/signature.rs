//! Signature verification and diagnosis against AfterShip's published sample and against signatures
//! made with Node exactly as AfterShip's own example does.

use shipwatch_aftership::signature::find_signature_header;
use shipwatch_aftership::{
    diagnose, diagnosis_code, sign, verify_signature, DeliveryVerdict, Diagnosis, DiagnosisCode, SecretSlot,
    Secrets,
};

/// AfterShip's published sample delivery, byte for byte (4-space pretty JSON with a final newline).
const FIXTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../tests/fixtures/aftership-v4-tracking-update.json"
));

const SECRET: &str = "shipwatch-test-secret-4f1c9a";
const OTHER_SECRET: &str = "another-secret-entirely-77d2e0";

// Test vectors made with Node 20 exactly as AfterShip's example computes the header:
//   crypto.createHmac('sha256', SECRET).update(body, 'utf8').digest('base64')
// with `body = fs.readFileSync('tests/fixtures/aftership-v4-tracking-update.json', 'utf8')`:
//
//   node -e "const c=require('crypto'),fs=require('fs');
//     const f=fs.readFileSync('tests/fixtures/aftership-v4-tracking-update.json','utf8');
//     const s=(k,b,e='base64')=>c.createHmac('sha256',k).update(b,'utf8').digest(e);
//     const S='shipwatch-test-secret-4f1c9a';
//     console.log(s(S,f));                                      // NODE_FIXTURE
//     console.log(s(S,f,'hex'));                                // NODE_FIXTURE_HEX
//     console.log(s(S,JSON.stringify(JSON.parse(f))));          // NODE_FIXTURE_STRINGIFIED
//     console.log(s(S,JSON.stringify(JSON.parse(f),null,2)));   // NODE_FIXTURE_STRINGIFIED_2
//     console.log(s('sécret-ünïcode-🔑',NON_ASCII_BODY));        // NODE_NON_ASCII
//     console.log(s(S,''));                                     // NODE_EMPTY_BODY
//     console.log(s('5f4dcc3b5aa765d61d8327deb882cf99','hello\r\nworld\n')); // NODE_HEX_LOOKING_SECRET
//     const b='{\"event\":\"tracking_update\",\"ts\":1610620885}';
//     console.log(c.createHmac('sha256',Buffer.from('5f4dcc3b5aa765d61d8327deb882cf99','hex'))
//       .update(b,'utf8').digest('base64'));                    // NODE_HEX_DECODED_KEY
//     console.log(c.createHmac('sha256',Buffer.from('c2hpcHdhdGNoLXNlY3JldA==','base64'))
//       .update(b,'utf8').digest('base64'));                    // NODE_BASE64_DECODED_KEY"
const NODE_FIXTURE: &str = "482CdaXmJqwcuSwdMUVYQeVjJWj/7uudLBIF/uPEWGc=";
const NODE_FIXTURE_HEX: &str = "e3cd8275a5e626ac1cb92c1d31455841e5632568ffeeeb9d2c1205fee3c45867";
const NODE_FIXTURE_STRINGIFIED: &str = "hp8icNqo/P1U35aF51FXrrlP7cC8NI5h1J8hKn0zdlk=";
const NODE_FIXTURE_STRINGIFIED_2: &str = "z/eInq3GVepUb8p29seTi1CYoQWrg93tXGWMXvTGgJQ=";
const NON_ASCII_SECRET: &str = "sécret-ünïcode-🔑";
const NON_ASCII_BODY: &str = r#"{"msg":{"title":"Café – 東京 📦","customer_name":"Zoë"},"ts":1610620885}"#;
const NODE_NON_ASCII: &str = "Bj8KH70JMN5T8fLZW8Nf1VfS9e5/2YKb6BknB9TQm4M=";
const NODE_EMPTY_BODY: &str = "Za+aN8r2UPBH1NnVkGPy1rywheNctCoRSqkT4/iZArc=";
const HEX_LOOKING_SECRET: &str = "5f4dcc3b5aa765d61d8327deb882cf99";
const NODE_HEX_LOOKING_SECRET: &str = "qhCzXg0EG4BP6YQ0t6/oaiOQ9dT4+ug51bJmkBxjxkw=";
const SMALL_BODY: &[u8] = br#"{"event":"tracking_update","ts":1610620885}"#;
const BASE64_LOOKING_SECRET: &str = "c2hpcHdhdGNoLXNlY3JldA==";
const NODE_HEX_DECODED_KEY: &str = "uqbKfDC3RM1Qfx5kXB1jJy1rS/uFUpT+Z/ZDrv81kIU=";
const NODE_BASE64_DECODED_KEY: &str = "O/rKvGRhm74waDoQM9rLwq/PXDM4zpxjMICPFG0kaaA=";

fn current(secret: &str) -> Secrets {
    Secrets { current: Some(secret.to_string()), previous: None }
}

fn rotating(current: &str, previous: &str) -> Secrets {
    Secrets { current: Some(current.to_string()), previous: Some(previous.to_string()) }
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
}

/// Runs `diagnose` and checks what must hold for every diagnosis: the verdict agrees with
/// `verify_signature`, `expected` is the current (else previous) secret's signature, and neither the
/// secrets nor the expected signature appear in the words shown to the user.
fn diagnosed(pairs: &[(&str, &str)], body: &[u8], secrets: &Secrets) -> Diagnosis {
    let headers = headers(pairs);
    let diagnosis = diagnose(&headers, body, secrets);

    let header = find_signature_header(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    assert_eq!(diagnosis.verdict, verify_signature(header, body, secrets));
    // The code alone (as the receiver computes it) is the code of the whole diagnosis.
    assert_eq!(diagnosis_code(diagnosis.verdict, &headers, body, secrets), diagnosis.code);

    let primary = secrets
        .current
        .as_deref()
        .filter(|s| !s.is_empty())
        .or(secrets.previous.as_deref().filter(|s| !s.is_empty()));
    assert_eq!(diagnosis.expected, primary.map(|s| sign(s, body)));

    let words = format!("{}\n{}", diagnosis.diagnosis, diagnosis.advice.as_deref().unwrap_or_default());
    assert!(!diagnosis.diagnosis.trim().is_empty());
    for secret in [&secrets.current, &secrets.previous].into_iter().flatten() {
        for form in [secret.as_str(), secret.trim()] {
            if !form.is_empty() {
                assert!(!words.contains(form), "a secret leaked into: {words}");
            }
        }
    }
    if let Some(expected) = &diagnosis.expected {
        assert!(!words.contains(expected.as_str()), "the expected signature leaked into: {words}");
        assert!(!words.contains(expected.trim_end_matches('=')));
    }
    diagnosis
}

fn assert_mentions(diagnosis: &Diagnosis, needle: &str) {
    assert!(
        diagnosis.diagnosis.to_lowercase().contains(&needle.to_lowercase()),
        "expected {needle:?} in {:?}",
        diagnosis.diagnosis
    );
}

// ---------------------------------------------------------------------------------------------
// Signing and verification

#[test]
fn sign_matches_node_for_the_fixture() {
    assert_eq!(sign(SECRET, FIXTURE), NODE_FIXTURE);
    let signature = sign(SECRET, FIXTURE);
    assert_eq!(signature.len(), 44);
    assert!(signature.ends_with('='));
}

#[test]
fn sign_matches_node_for_odd_bodies_and_secrets() {
    assert_eq!(sign(NON_ASCII_SECRET, NON_ASCII_BODY.as_bytes()), NODE_NON_ASCII);
    assert_eq!(sign(SECRET, b""), NODE_EMPTY_BODY);
    assert_eq!(sign(HEX_LOOKING_SECRET, b"hello\r\nworld\n"), NODE_HEX_LOOKING_SECRET);
}

#[test]
fn fixture_signed_by_node_verifies() {
    assert_eq!(
        verify_signature(Some(NODE_FIXTURE), FIXTURE, &current(SECRET)),
        DeliveryVerdict::Valid(SecretSlot::Current)
    );
}

#[test]
fn node_vectors_for_odd_bodies_verify() {
    assert_eq!(
        verify_signature(Some(NODE_NON_ASCII), NON_ASCII_BODY.as_bytes(), &current(NON_ASCII_SECRET)),
        DeliveryVerdict::Valid(SecretSlot::Current)
    );
    assert_eq!(
        verify_signature(Some(NODE_EMPTY_BODY), b"", &current(SECRET)),
        DeliveryVerdict::Valid(SecretSlot::Current)
    );
    // A secret that looks like hex is still used as its literal text.
    assert_eq!(
        verify_signature(Some(NODE_HEX_LOOKING_SECRET), b"hello\r\nworld\n", &current(HEX_LOOKING_SECRET)),
        DeliveryVerdict::Valid(SecretSlot::Current)
    );
    assert_eq!(
        verify_signature(Some(NODE_HEX_DECODED_KEY), SMALL_BODY, &current(HEX_LOOKING_SECRET)),
        DeliveryVerdict::Invalid
    );
}

#[test]
fn header_is_found_case_insensitively_first_one_wins() {
    let pairs = [
        ("Content-Type", "application/json"),
        ("Aftership-Hmac-Sha256", "first"),
        ("aftership-hmac-sha256", "second"),
    ];
    assert_eq!(find_signature_header(pairs), Some("first"));
    assert_eq!(find_signature_header([("AFTERSHIP-HMAC-SHA256", "x")]), Some("x"));
    assert_eq!(find_signature_header([("content-type", "application/json")]), None);
    assert_eq!(find_signature_header(Vec::<(&str, &str)>::new()), None);
}

#[test]
fn fixture_verifies_under_both_header_casings() {
    for name in ["aftership-hmac-sha256", "Aftership-Hmac-Sha256"] {
        let diagnosis = diagnosed(
            &[("Content-Type", "application/json"), (name, NODE_FIXTURE)],
            FIXTURE,
            &current(SECRET),
        );
        assert_eq!(diagnosis.verdict, DeliveryVerdict::Valid(SecretSlot::Current));
        assert_mentions(&diagnosis, "matches the current secret");
        assert_eq!(diagnosis.code, DiagnosisCode::ValidCurrent);
    }
}

#[test]
fn tampered_body_is_invalid() {
    let mut tampered = FIXTURE.to_vec();
    let at = tampered.windows(9).position(|w| w == b"InTransit").unwrap();
    tampered[at..at + 9].copy_from_slice(b"Delivered");
    assert_eq!(verify_signature(Some(NODE_FIXTURE), &tampered, &current(SECRET)), DeliveryVerdict::Invalid);
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE)], &tampered, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "does not match");
    assert_eq!(diagnosis.code, DiagnosisCode::WrongSecret);
}

#[test]
fn wrong_secret_is_invalid_and_explained() {
    let one = diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE)], FIXTURE, &current(OTHER_SECRET));
    assert_eq!(one.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&one, "the secret in Shipwatch is not the one in AfterShip → Settings → Notifications");
    assert_eq!(one.code, DiagnosisCode::WrongSecret);
    assert!(one.advice.is_some());

    let two = diagnosed(
        &[("aftership-hmac-sha256", NODE_FIXTURE)],
        FIXTURE,
        &rotating(OTHER_SECRET, "yet-another-secret-0c3b"),
    );
    assert_eq!(two.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&two, "Neither secret matches");
    assert_eq!(two.code, DiagnosisCode::WrongSecret);
}

#[test]
fn previous_secret_is_valid_previous() {
    let secrets = rotating(OTHER_SECRET, SECRET);
    assert_eq!(
        verify_signature(Some(NODE_FIXTURE), FIXTURE, &secrets),
        DeliveryVerdict::Valid(SecretSlot::Previous)
    );
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE)], FIXTURE, &secrets);
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Valid(SecretSlot::Previous));
    assert_mentions(&diagnosis, "matches the previous secret");
    assert_eq!(diagnosis.code, DiagnosisCode::ValidPrevious);
    assert_mentions(&diagnosis, "AfterShip is still signing with it — finish the rotation");
    assert_eq!(diagnosis.code, DiagnosisCode::ValidPrevious);
    assert!(diagnosis.advice.is_some());
    // `expected` is made with the current secret.
    assert_eq!(diagnosis.expected, Some(sign(OTHER_SECRET, FIXTURE)));
}

#[test]
fn previous_alone_is_used_when_current_is_empty() {
    let secrets = Secrets { current: Some(String::new()), previous: Some(SECRET.to_string()) };
    assert!(secrets.any());
    assert_eq!(
        verify_signature(Some(NODE_FIXTURE), FIXTURE, &secrets),
        DeliveryVerdict::Valid(SecretSlot::Previous)
    );
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE)], FIXTURE, &secrets);
    assert_eq!(diagnosis.expected, Some(NODE_FIXTURE.to_string()));
}

#[test]
fn current_wins_over_previous_when_both_match() {
    assert_eq!(
        verify_signature(Some(NODE_FIXTURE), FIXTURE, &rotating(SECRET, SECRET)),
        DeliveryVerdict::Valid(SecretSlot::Current)
    );
}

#[test]
fn valid_current_while_rotating_advises_clearing_previous() {
    let diagnosis =
        diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE)], FIXTURE, &rotating(SECRET, OTHER_SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Valid(SecretSlot::Current));
    assert_eq!(diagnosis.code, DiagnosisCode::ValidCurrent);
    assert!(diagnosis.advice.unwrap().contains("clear the previous secret"));
}

#[test]
fn no_secret_is_unverified_even_with_a_header() {
    for secrets in
        [Secrets::default(), Secrets { current: Some(String::new()), previous: Some(String::new()) }]
    {
        assert!(!secrets.any());
        assert_eq!(verify_signature(Some(NODE_FIXTURE), FIXTURE, &secrets), DeliveryVerdict::Unverified);
        assert_eq!(verify_signature(Some("garbage"), FIXTURE, &secrets), DeliveryVerdict::Unverified);
        let diagnosis = diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE)], FIXTURE, &secrets);
        assert_eq!(diagnosis.verdict, DeliveryVerdict::Unverified);
        assert_eq!(diagnosis.expected, None);
        assert_mentions(&diagnosis, "no secret is configured");
        assert_eq!(diagnosis.code, DiagnosisCode::UnverifiedNoSecret);
        assert!(diagnosis.advice.unwrap().contains("AfterShip → Settings → Notifications"));
    }
}

#[test]
fn no_header_is_missing() {
    assert_eq!(verify_signature(None, FIXTURE, &current(SECRET)), DeliveryVerdict::Missing);
    assert_eq!(verify_signature(None, FIXTURE, &Secrets::default()), DeliveryVerdict::Missing);
    let diagnosis = diagnosed(&[("Content-Type", "application/json")], FIXTURE, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Missing);
    assert_mentions(&diagnosis, "no aftership-hmac-sha256 header");
    assert_eq!(diagnosis.code, DiagnosisCode::MissingHeader);
    let unconfigured = diagnosed(&[], FIXTURE, &Secrets::default());
    assert_eq!(unconfigured.verdict, DeliveryVerdict::Missing);
    assert_eq!(unconfigured.code, DiagnosisCode::MissingHeader);
    assert!(unconfigured.advice.unwrap().contains("No secret is configured"));
}

#[test]
fn missing_with_returns_or_warranty_header() {
    let diagnosis = diagnosed(&[("As-Signature-Hmac-Sha256", NODE_FIXTURE)], FIXTURE, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Missing);
    assert_mentions(&diagnosis, "this is a Returns or Warranty webhook, signed with that product's secret");
    assert_eq!(diagnosis.code, DiagnosisCode::ReturnsOrWarrantyProduct);
}

#[test]
fn missing_with_shipping_header() {
    let diagnosis = diagnosed(
        &[("am-webhook-signature", "hmac-sha256=482CdaXmJqwcuSwdMUVYQeVjJWj/7uudLBIF/uPEWGc=")],
        FIXTURE,
        &current(SECRET),
    );
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Missing);
    assert_mentions(&diagnosis, "Shipping (formerly Postmen)");
    assert_eq!(diagnosis.code, DiagnosisCode::ShippingProduct);
    assert_mentions(&diagnosis, "Returns webhook from an account created before 2022-10-25");
    assert_eq!(diagnosis.code, DiagnosisCode::ShippingProduct);
}

#[test]
fn missing_with_a_renamed_header() {
    let diagnosis = diagnosed(&[("X-Aftership-Hmac-Sha256", NODE_FIXTURE)], FIXTURE, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Missing);
    assert_mentions(&diagnosis, "renamed it");
    assert_eq!(diagnosis.code, DiagnosisCode::RenamedHeader);
    let underscored = diagnosed(&[("aftership_hmac_sha256", NODE_FIXTURE)], FIXTURE, &current(SECRET));
    assert_mentions(&underscored, "renamed it");
    assert_eq!(underscored.code, DiagnosisCode::RenamedHeader);
}

// ---------------------------------------------------------------------------------------------
// Malformed headers

#[test]
fn hex_header_of_the_right_hmac() {
    assert_eq!(
        verify_signature(Some(NODE_FIXTURE_HEX), FIXTURE, &current(SECRET)),
        DeliveryVerdict::Malformed
    );
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE_HEX)], FIXTURE, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Malformed);
    assert_mentions(&diagnosis, "the header is hex, not base64");
    assert_eq!(diagnosis.code, DiagnosisCode::HexSignature);
    assert_mentions(&diagnosis, "hex digest");
    assert_eq!(diagnosis.code, DiagnosisCode::HexSignature);
    assert_mentions(&diagnosis, "current secret");
    assert_eq!(diagnosis.code, DiagnosisCode::HexSignature);
    // Upper-case hex too.
    let upper =
        diagnosed(&[("aftership-hmac-sha256", &NODE_FIXTURE_HEX.to_uppercase())], FIXTURE, &current(SECRET));
    assert_mentions(&upper, "hex digest");
    assert_eq!(upper.code, DiagnosisCode::HexSignature);
}

#[test]
fn hex_header_of_another_hmac() {
    let diagnosis =
        diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE_HEX)], FIXTURE, &current(OTHER_SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Malformed);
    assert_mentions(&diagnosis, "the header is hex, not base64");
    assert_eq!(diagnosis.code, DiagnosisCode::HexSignature);
    assert_mentions(&diagnosis, "matches no configured secret");
    assert_eq!(diagnosis.code, DiagnosisCode::HexSignature);
    assert!(!diagnosis.diagnosis.contains("hex digest of the right HMAC"));
}

#[test]
fn base64_of_the_wrong_length() {
    // 20 bytes, as SHA-1 would give.
    let sha1_sized = "AAECAwQFBgcICQoLDA0ODxAREhM=";
    assert_eq!(verify_signature(Some(sha1_sized), FIXTURE, &current(SECRET)), DeliveryVerdict::Malformed);
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", sha1_sized)], FIXTURE, &current(SECRET));
    assert_mentions(&diagnosis, "base64 but decodes to 20 bytes");
    assert_eq!(diagnosis.code, DiagnosisCode::WrongLength);
}

#[test]
fn base64url_alphabet() {
    assert!(NODE_FIXTURE.contains('/'));
    let url_safe = NODE_FIXTURE.replace('/', "_").replace('+', "-");
    assert_eq!(verify_signature(Some(&url_safe), FIXTURE, &current(SECRET)), DeliveryVerdict::Malformed);
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", &url_safe)], FIXTURE, &current(SECRET));
    assert_mentions(&diagnosis, "base64url alphabet");
    assert_eq!(diagnosis.code, DiagnosisCode::Base64urlSignature);
    assert_mentions(&diagnosis, "it matches the current secret");
    assert_eq!(diagnosis.code, DiagnosisCode::Base64urlSignature);
}

#[test]
fn missing_padding() {
    let unpadded = NODE_FIXTURE.trim_end_matches('=');
    assert_eq!(verify_signature(Some(unpadded), FIXTURE, &current(SECRET)), DeliveryVerdict::Malformed);
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", unpadded)], FIXTURE, &current(SECRET));
    assert_mentions(&diagnosis, "lacks its trailing '=' padding");
    assert_eq!(diagnosis.code, DiagnosisCode::UnpaddedSignature);
}

#[test]
fn surrounding_whitespace_is_ignored() {
    let spaced = format!("  {NODE_FIXTURE}\t");
    assert_eq!(
        verify_signature(Some(&spaced), FIXTURE, &current(SECRET)),
        DeliveryVerdict::Valid(SecretSlot::Current)
    );
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", &spaced)], FIXTURE, &current(SECRET));
    assert_mentions(&diagnosis, "whitespace around the header value was ignored");
    assert_eq!(diagnosis.code, DiagnosisCode::ValidCurrent);
}

#[test]
fn surrounding_quotes() {
    for quoted in [format!("\"{NODE_FIXTURE}\""), format!(" '{NODE_FIXTURE}' ")] {
        assert_eq!(verify_signature(Some(&quoted), FIXTURE, &current(SECRET)), DeliveryVerdict::Malformed);
        let diagnosis = diagnosed(&[("aftership-hmac-sha256", &quoted)], FIXTURE, &current(SECRET));
        assert_mentions(&diagnosis, "wrapped in quotes; without them it matches the current secret");
        assert_eq!(diagnosis.code, DiagnosisCode::QuotedHeader);
    }
}

#[test]
fn prefixed_header() {
    let prefixed = format!("sha256={NODE_FIXTURE}");
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", &prefixed)], FIXTURE, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Malformed);
    assert_mentions(&diagnosis, "starts with \"sha256=\"");
    assert_eq!(diagnosis.code, DiagnosisCode::PrefixedHeader);
}

#[test]
fn empty_and_garbage_headers() {
    let empty = diagnosed(&[("aftership-hmac-sha256", "  ")], FIXTURE, &current(SECRET));
    assert_eq!(empty.verdict, DeliveryVerdict::Malformed);
    assert_mentions(&empty, "present but empty");
    assert_eq!(empty.code, DiagnosisCode::EmptyHeader);
    let garbage = diagnosed(&[("aftership-hmac-sha256", "not a signature!")], FIXTURE, &current(SECRET));
    assert_eq!(garbage.verdict, DeliveryVerdict::Malformed);
    assert_mentions(&garbage, "not base64");
    assert_eq!(garbage.code, DiagnosisCode::NotBase64);
}

// ---------------------------------------------------------------------------------------------
// Bodies changed on the way

#[test]
fn reserialised_by_javascript_is_invalid_and_explained() {
    // The signature of `JSON.stringify(JSON.parse(fixture))`, delivered with the pretty fixture:
    // as if AfterShip sent compact JSON and a relay pretty-printed it.
    assert_eq!(
        verify_signature(Some(NODE_FIXTURE_STRINGIFIED), FIXTURE, &current(SECRET)),
        DeliveryVerdict::Invalid
    );
    let diagnosis =
        diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE_STRINGIFIED)], FIXTURE, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "a proxy or framework re-serialised the JSON before it reached us");
    assert_eq!(diagnosis.code, DiagnosisCode::ReserialisedBody);
    assert_mentions(&diagnosis, "compact JSON, keys in their order");
    assert_eq!(diagnosis.code, DiagnosisCode::ReserialisedBody);
}

#[test]
fn reserialised_two_space_pretty() {
    let diagnosis =
        diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE_STRINGIFIED_2)], FIXTURE, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "pretty-printed with 2-space indents");
    assert_eq!(diagnosis.code, DiagnosisCode::ReserialisedBody);
    assert_mentions(&diagnosis, "re-serialised the JSON");
    assert_eq!(diagnosis.code, DiagnosisCode::ReserialisedBody);
}

#[test]
fn reserialised_four_space_pretty() {
    // AfterShip signed the 4-space pretty text; we received it compacted.
    let signed = FIXTURE.strip_suffix(b"\n").unwrap();
    let header = sign(SECRET, signed);
    let received = minify(FIXTURE);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&received).unwrap(),
        serde_json::from_slice::<serde_json::Value>(FIXTURE).unwrap()
    );
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", &header)], &received, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "pretty-printed with 4-space indents");
    assert_eq!(diagnosis.code, DiagnosisCode::ReserialisedBody);
}

#[test]
fn reserialised_four_space_pretty_signed_with_its_final_newline() {
    // The fixture file as written (4-space indents and a final newline) was signed; we received it
    // compacted. The diagnosis names the re-serialisation, not a wrong secret.
    let header = sign(SECRET, FIXTURE);
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", &header)], &minify(FIXTURE), &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(
        &diagnosis,
        "pretty-printed with 4-space indents and a final newline, keys in their order",
    );
    assert_eq!(diagnosis.code, DiagnosisCode::ReserialisedBody);
    assert_mentions(&diagnosis, "re-serialised");
    assert_eq!(diagnosis.code, DiagnosisCode::ReserialisedBody);
}

/// Drops the whitespace between JSON tokens, keeping key order and string contents.
fn minify(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &byte in json {
        if in_string {
            out.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if byte == b'"' {
            in_string = true;
            out.push(byte);
        } else if !byte.is_ascii_whitespace() {
            out.push(byte);
        }
    }
    out
}

#[test]
fn reserialised_with_sorted_keys() {
    let sorted: serde_json::Value = serde_json::from_slice(FIXTURE).unwrap();
    let header = sign(SECRET, &serde_json::to_vec(&sorted).unwrap());
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", &header)], FIXTURE, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "compact JSON, keys sorted");
    assert_eq!(diagnosis.code, DiagnosisCode::ReserialisedBody);
}

#[test]
fn reserialised_with_the_previous_secret_says_so() {
    let diagnosis = diagnosed(
        &[("aftership-hmac-sha256", NODE_FIXTURE_STRINGIFIED)],
        FIXTURE,
        &rotating(OTHER_SECRET, SECRET),
    );
    assert_mentions(&diagnosis, "re-serialised");
    assert_eq!(diagnosis.code, DiagnosisCode::ReserialisedBody);
    assert_mentions(&diagnosis, "(with the previous secret)");
    assert_eq!(diagnosis.code, DiagnosisCode::ReserialisedBody);
}

#[test]
fn trailing_newline_added_on_the_way() {
    // The fixture ends with a newline; AfterShip signed it without.
    let signed = FIXTURE.strip_suffix(b"\n").unwrap();
    let header = sign(SECRET, signed);
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", &header)], FIXTURE, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "matches the body with its trailing newline removed");
    assert_eq!(diagnosis.code, DiagnosisCode::TrailingNewline);
}

#[test]
fn trailing_newline_removed_on_the_way() {
    let received = FIXTURE.strip_suffix(b"\n").unwrap();
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE)], received, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "matches the body with a trailing newline added");
    assert_eq!(diagnosis.code, DiagnosisCode::MissingNewline);
}

fn to_crlf(body: &[u8]) -> Vec<u8> {
    String::from_utf8(body.to_vec()).unwrap().replace('\n', "\r\n").into_bytes()
}

#[test]
fn line_endings_changed_to_crlf_on_the_way() {
    let received = to_crlf(FIXTURE);
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE)], &received, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "CRLF line endings turned into LF");
    assert_eq!(diagnosis.code, DiagnosisCode::CrlfBody);
}

#[test]
fn line_endings_changed_to_lf_on_the_way() {
    let header = sign(SECRET, &to_crlf(FIXTURE));
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", &header)], FIXTURE, &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "LF line endings turned into CRLF");
    assert_eq!(diagnosis.code, DiagnosisCode::LfBody);
}

#[test]
fn empty_body_with_a_foreign_signature() {
    let header = sign(OTHER_SECRET, b"{}");
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", &header)], b"", &current(SECRET));
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "body arrived empty");
    assert_eq!(diagnosis.code, DiagnosisCode::EmptyBody);
}

#[test]
fn compressed_body() {
    let header = sign(OTHER_SECRET, b"{}");
    let diagnosis = diagnosed(
        &[("aftership-hmac-sha256", &header), ("Content-Encoding", "gzip")],
        FIXTURE,
        &current(SECRET),
    );
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "arrived compressed");
    assert_eq!(diagnosis.code, DiagnosisCode::CompressedBody);
}

// ---------------------------------------------------------------------------------------------
// Secrets changed

#[test]
fn secret_saved_with_surrounding_whitespace() {
    let padded = format!("  {SECRET}\n");
    let secrets = current(&padded);
    assert_eq!(verify_signature(Some(NODE_FIXTURE), FIXTURE, &secrets), DeliveryVerdict::Invalid);
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", NODE_FIXTURE)], FIXTURE, &secrets);
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "matches the current secret without the whitespace around it");
    assert_eq!(diagnosis.code, DiagnosisCode::SecretWhitespace);
}

#[test]
fn sender_hex_decoded_the_secret() {
    let secrets = current(HEX_LOOKING_SECRET);
    assert_eq!(verify_signature(Some(NODE_HEX_DECODED_KEY), SMALL_BODY, &secrets), DeliveryVerdict::Invalid);
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", NODE_HEX_DECODED_KEY)], SMALL_BODY, &secrets);
    assert_mentions(&diagnosis, "hex-decoded current secret");
    assert_eq!(diagnosis.code, DiagnosisCode::SecretDecoded);
    assert_mentions(&diagnosis, "the sender decoded the secret");
    assert_eq!(diagnosis.code, DiagnosisCode::SecretDecoded);
}

#[test]
fn sender_base64_decoded_the_secret() {
    let secrets = rotating(OTHER_SECRET, BASE64_LOOKING_SECRET);
    let diagnosis = diagnosed(&[("aftership-hmac-sha256", NODE_BASE64_DECODED_KEY)], SMALL_BODY, &secrets);
    assert_eq!(diagnosis.verdict, DeliveryVerdict::Invalid);
    assert_mentions(&diagnosis, "base64-decoded previous secret");
    assert_eq!(diagnosis.code, DiagnosisCode::SecretDecoded);
    assert_mentions(&diagnosis, "the sender decoded the secret");
    assert_eq!(diagnosis.code, DiagnosisCode::SecretDecoded);
}

#[test]
fn secrets_debug_hides_them() {
    let debug = format!("{:?}", rotating(SECRET, OTHER_SECRET));
    assert!(!debug.contains(SECRET));
    assert!(!debug.contains(OTHER_SECRET));
    assert!(debug.contains("<set>"));
}

#[test]
fn verdict_words_and_acceptance() {
    assert_eq!(DeliveryVerdict::Valid(SecretSlot::Previous).as_str(), "valid");
    assert!(DeliveryVerdict::Valid(SecretSlot::Current).accepted());
    assert!(DeliveryVerdict::Unverified.accepted());
    assert!(!DeliveryVerdict::Invalid.accepted());
    assert!(!DeliveryVerdict::Malformed.accepted());
    assert!(!DeliveryVerdict::Missing.accepted());
}

#[test]
fn diagnosis_codes_are_stable_distinct_and_labelled() {
    let codes: std::collections::HashSet<&str> = DiagnosisCode::ALL.iter().map(|c| c.as_str()).collect();
    let labels: std::collections::HashSet<&str> = DiagnosisCode::ALL.iter().map(|c| c.label()).collect();
    assert_eq!(codes.len(), DiagnosisCode::ALL.len());
    assert_eq!(labels.len(), DiagnosisCode::ALL.len());
    for code in DiagnosisCode::ALL {
        assert_eq!(DiagnosisCode::parse(code.as_str()), Some(code));
        assert!(code.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        assert!(!code.label().is_empty() && code.label().len() <= 24, "{:?}", code.label());
    }
    assert_eq!(DiagnosisCode::parse("nonsense"), None);
    // Stored in the database: these never change.
    assert_eq!(DiagnosisCode::WrongSecret.as_str(), "wrong_secret");
    assert_eq!(DiagnosisCode::HexSignature.as_str(), "hex_signature");
    assert_eq!(DiagnosisCode::ReserialisedBody.as_str(), "reserialised_body");
}
