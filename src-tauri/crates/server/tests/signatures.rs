//! Signature verdicts end to end over real HTTP: AfterShip's sample signed the way AfterShip's Node
//! example signs (valid with the current and with the previous secret, and which one is recorded),
//! invalid, missing, malformed, unverified without a secret, the header's case variants, tampered and
//! re-serialised bodies (401, and the inspector's diagnosis says why), and the rule that no receiver
//! answer ever carries the expected signature.

mod common;

use common::*;
use serde_json::Value;

async fn detail_of_latest(t: &TestEngine) -> Value {
    let id = t.latest_delivery().await["id"].as_i64().unwrap();
    t.delivery(id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_signer_agrees_with_afterships_node_example() {
    // The constant was made with crypto.createHmac('sha256', secret).update(body, 'utf8').digest('base64').
    assert_eq!(sign(SECRET, FIXTURE), NODE_FIXTURE_SIG);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_signed_with_current_secret_is_valid_and_says_current() {
    let t = start_with(settings_with(Some(SECRET), Some(OTHER_SECRET))).await;
    let r = t.post(FIXTURE, &[("aftership-hmac-sha256", NODE_FIXTURE_SIG)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({"ok": true}));
    let d = detail_of_latest(&t).await;
    assert_eq!(d["verdict"], "valid");
    assert_eq!(d["status"], 200);
    assert_eq!(d["signature"]["secret"], "current");
    assert_eq!(d["signature"]["received"], NODE_FIXTURE_SIG);
    assert_eq!(d["event_id"], "3f645f5e-530b-4062-8695-db6a64420af8");
    assert_eq!(d["tracking_number"], "9361289676091361892011");
    assert_eq!(d["slug"], "usps");
    assert_eq!(d["tag"], "InTransit");
    assert_eq!(d["event"], "tracking_update");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_signed_with_previous_secret_is_valid_and_records_previous() {
    // Rotation: AfterShip still signs with the old secret, now saved as "previous".
    let t = start_with(settings_with(Some(OTHER_SECRET), Some(SECRET))).await;
    let r = t.post(FIXTURE, &[("aftership-hmac-sha256", NODE_FIXTURE_SIG)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = detail_of_latest(&t).await;
    assert_eq!(d["verdict"], "valid");
    assert_eq!(d["signature"]["secret"], "previous");
    assert!(d["signature"]["diagnosis"].as_str().unwrap().contains("previous secret"), "{d}");
    // It projects like any valid delivery.
    assert!(d["shipment_id"].is_i64(), "{d}");
    // Stored as previous in the database itself, not just recomputed for the report.
    let conn = rusqlite::Connection::open(t.db_path()).unwrap();
    let secret: Option<String> = conn
        .query_row("SELECT secret FROM deliveries WHERE id = ?1", [d["id"].as_i64().unwrap()], |r| r.get(0))
        .unwrap();
    assert_eq!(secret.as_deref(), Some("previous"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_is_invalid_401_generic_and_stored() {
    let t = start(Some(SECRET)).await;
    let sig = sign(OTHER_SECRET, FIXTURE);
    let r = t.post(FIXTURE, &[("aftership-hmac-sha256", &sig)]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json(), serde_json::json!({"error": "signature verification failed"}));
    let d = detail_of_latest(&t).await;
    assert_eq!(d["verdict"], "invalid");
    assert_eq!(d["status"], 401);
    assert!(d["signature"]["secret"].is_null());
    assert_eq!(d["signature"]["expected"], NODE_FIXTURE_SIG, "the local UI gets the expected signature");
    assert!(d["signature"]["diagnosis"].as_str().unwrap().contains("does not match"), "{d}");
    assert!(d["shipment_id"].is_null(), "an invalid delivery never makes a shipment");
    assert!(t.shipments().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_header_is_missing_401() {
    let t = start(Some(SECRET)).await;
    let r = t.post(FIXTURE, &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "signature verification failed");
    let d = detail_of_latest(&t).await;
    assert_eq!(d["verdict"], "missing");
    assert!(d["signature"]["received"].is_null());
    assert!(d["signature"]["diagnosis"].as_str().unwrap().contains("no aftership-hmac-sha256 header"), "{d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_headers_are_401_and_explained() {
    let t = start(Some(SECRET)).await;
    // Hex digest of the right HMAC: 64 hex characters, never base64 of 32 bytes.
    let r = t.post(FIXTURE, &[("aftership-hmac-sha256", NODE_FIXTURE_HEX_SIG)]).await;
    assert_eq!(r.status, 401);
    let d = detail_of_latest(&t).await;
    assert_eq!(d["verdict"], "malformed");
    let diagnosis = d["signature"]["diagnosis"].as_str().unwrap();
    assert!(diagnosis.contains("hex, not base64"), "{diagnosis}");
    assert!(diagnosis.contains("current secret"), "{diagnosis}");

    for bad in ["not base64 at all!", "c2hvcnQ=", ""] {
        let r = t.post(FIXTURE, &[("aftership-hmac-sha256", bad)]).await;
        assert_eq!(r.status, 401, "{bad:?}");
        assert_eq!(t.latest_delivery().await["verdict"], "malformed", "{bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_configured_is_unverified_200_and_flagged() {
    let t = start(None).await;
    let r = t.post(FIXTURE, &[("aftership-hmac-sha256", NODE_FIXTURE_SIG)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = detail_of_latest(&t).await;
    assert_eq!(d["verdict"], "unverified");
    assert!(d["signature"]["expected"].is_null(), "no secret, nothing expected");
    assert!(d["signature"]["diagnosis"].as_str().unwrap().contains("no secret is configured"), "{d}");
    // Projected, and the shipment says it was built from unverified deliveries.
    let sid = d["shipment_id"].as_i64().expect("projected");
    let s = t.shipment(sid).await;
    assert_eq!(s["unverified"], true);
    assert_eq!(s["tag"], "InTransit");
    let status = t.get_json("/api/status").await;
    assert_eq!(status["secret_configured"], false);
    assert!(status["warnings"][0].as_str().unwrap().contains("unverified"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_name_case_does_not_matter() {
    let t = start(Some(SECRET)).await;
    for name in
        ["aftership-hmac-sha256", "Aftership-Hmac-Sha256", "AFTERSHIP-HMAC-SHA256", "aFtErShIp-HmAc-ShA256"]
    {
        let (eid, body) = update("case", "InTransit", "2021-01-14T10:41:24+00:00", vec![]);
        let sig = sign(SECRET, &body);
        let r = t.post(&body, &[(name, &sig)]).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let items = t.deliveries_for_event(&eid).await;
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["verdict"], "valid", "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_body_is_401_and_the_diagnosis_says_the_secret_or_body_does_not_match() {
    let t = start(Some(SECRET)).await;
    // The signature of the sample, but one value in the body changed on the way: InTransit → Delivered.
    let tampered = String::from_utf8(FIXTURE.to_vec())
        .unwrap()
        .replace("\"tag\": \"InTransit\"", "\"tag\": \"Delivered\"");
    assert_ne!(tampered.as_bytes(), FIXTURE);
    let r = t.post(tampered.as_bytes(), &[("aftership-hmac-sha256", NODE_FIXTURE_SIG)]).await;
    assert_eq!(r.status, 401);
    let d = detail_of_latest(&t).await;
    assert_eq!(d["verdict"], "invalid");
    assert_eq!(d["tag"], "Delivered", "parsed all the same");
    let sig = &d["signature"];
    assert!(sig["diagnosis"].as_str().unwrap().contains("does not match"), "{sig}");
    assert!(sig["advice"].as_str().unwrap().contains("body was changed"), "{sig}");
    assert_eq!(sig["expected"], sign(SECRET, tampered.as_bytes()));
    // The forged "Delivered" changed nothing.
    assert!(t.shipments().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_with_added_trailing_newline_is_401_and_diagnosed() {
    let t = start(Some(SECRET)).await;
    let mut body = FIXTURE.to_vec();
    body.push(b'\n');
    let r = t.post(&body, &[("aftership-hmac-sha256", NODE_FIXTURE_SIG)]).await;
    assert_eq!(r.status, 401);
    let d = detail_of_latest(&t).await;
    assert_eq!(d["verdict"], "invalid");
    let diagnosis = d["signature"]["diagnosis"].as_str().unwrap();
    assert!(diagnosis.contains("trailing newline removed"), "{diagnosis}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserialised_body_is_401_and_diagnosed() {
    let t = start(Some(SECRET)).await;
    // AfterShip signed the compact JSON; a proxy pretty-printed it into the sample's bytes.
    let r = t.post(FIXTURE, &[("aftership-hmac-sha256", NODE_FIXTURE_STRINGIFIED_SIG)]).await;
    assert_eq!(r.status, 401);
    let d = detail_of_latest(&t).await;
    assert_eq!(d["verdict"], "invalid");
    let diagnosis = d["signature"]["diagnosis"].as_str().unwrap();
    assert!(diagnosis.contains("re-serialised as compact"), "{diagnosis}");
    assert!(d["signature"]["advice"].as_str().unwrap().contains("unchanged"), "{d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_receiver_answer_carries_the_expected_signature_or_the_secret() {
    let t = start_with(settings_with(Some(SECRET), Some(OTHER_SECRET))).await;
    let tampered = [FIXTURE, b" "].concat();
    type Headers = Vec<(&'static str, String)>;
    let cases: Vec<(Vec<u8>, Headers)> = vec![
        (FIXTURE.to_vec(), vec![("aftership-hmac-sha256", sign("wrong", FIXTURE))]),
        (FIXTURE.to_vec(), vec![("aftership-hmac-sha256", NODE_FIXTURE_HEX_SIG.to_owned())]),
        (FIXTURE.to_vec(), vec![("aftership-hmac-sha256", "garbage".to_owned())]),
        (FIXTURE.to_vec(), vec![]),
        (tampered.clone(), vec![("aftership-hmac-sha256", NODE_FIXTURE_SIG.to_owned())]),
        (FIXTURE.to_vec(), vec![("aftership-hmac-sha256", NODE_FIXTURE_SIG.to_owned())]),
    ];
    for (body, headers) in &cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = t.post(body, &h).await;
        let raw = r.raw_text();
        for secret in [SECRET, OTHER_SECRET] {
            let expected = sign(secret, body);
            assert!(!raw.contains(&expected), "answer {} leaks the expected signature: {raw}", r.status);
            assert!(!raw.contains(secret), "answer leaks a secret: {raw}");
        }
        assert!(!raw.contains("current") && !raw.contains("previous"), "answer says which secret: {raw}");
        if r.status == 401 {
            assert_eq!(r.json(), serde_json::json!({"error": "signature verification failed"}));
        }
    }
}
