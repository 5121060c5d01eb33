//! Each delivery's diagnosis code (migration 10): written when it is stored (the receiver's code for a
//! failed delivery, the verdict's own for a valid, unverified or too-large one), updated by
//! re-verification, listed, filtered on through the partial index, on real SQLite files.

use shipwatch_aftership::sample::{sample_body, SampleOptions};
use shipwatch_aftership::{
    diagnosis_code, parse_envelope, sign, verify_signature, DiagnosisCode, Secrets, Tag,
};
use shipwatch_api::{DeliveryQuery, Verdict};
use shipwatch_store::{projection, queries, NewDelivery, Store, StoreError, StoredVerdict, WriterConfig};

const SECRET: &str = "the-real-secret";

fn secrets(s: &str) -> Secrets {
    Secrets { current: Some(s.into()), previous: None }
}

/// A delivery as the receiver builds it: verified with `secrets`, diagnosed when it failed.
fn delivery(body: Vec<u8>, signature: Option<&str>, secrets: &Secrets, at: i64) -> NewDelivery {
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(s) = signature {
        headers.push(("aftership-hmac-sha256".to_owned(), s.to_owned()));
    }
    let verdict = verify_signature(signature, &body, secrets);
    let diagnosis = (!verdict.accepted()).then(|| diagnosis_code(verdict, &headers, &body, secrets));
    NewDelivery {
        received_at_ms: at,
        peer: "127.0.0.1:1".into(),
        forwarded_for: None,
        cf_connecting_ip: None,
        method: "POST".into(),
        path: "/webhooks/aftership".into(),
        headers,
        envelope: parse_envelope(&body).ok(),
        body_size: body.len() as i64,
        body,
        body_truncated: false,
        verdict: StoredVerdict::Signature(verdict),
        status: if verdict.accepted() { 200 } else { 401 },
        parse_error: None,
        diagnosis,
    }
}

fn sample(event: &str, tn: &str, ts: i64) -> Vec<u8> {
    sample_body(&SampleOptions::new(event, tn, Tag::InTransit, ts))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_signature(secret: &str, body: &[u8]) -> String {
    use base64::Engine as _;
    hex(&base64::engine::general_purpose::STANDARD.decode(sign(secret, body)).unwrap())
}

async fn codes(store: &Store, diagnosis: Option<&str>) -> Vec<(i64, Option<String>)> {
    let query = DeliveryQuery { diagnosis: diagnosis.map(str::to_owned), ..Default::default() };
    let page = store.read(move |c| queries::list_deliveries(c, &query)).await.unwrap();
    page.items.iter().map(|d| (d.id, d.diagnosis.map(|c| c.as_str().to_owned()))).collect()
}

#[test]
fn every_code_is_its_json_string_and_the_typescript_union_lists_them_all() {
    for code in DiagnosisCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
        assert_eq!(DiagnosisCode::parse(code.as_str()), Some(code), "{code}");
    }
    // And no more: the TypeScript union generated from the one declaration lists exactly these.
    let ts = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../ui/src/generated/DiagnosisCode.ts"
    ))
    .unwrap();
    assert_eq!(ts.matches('"').count() / 2, DiagnosisCode::ALL.len(), "{ts}");
    assert_eq!(DiagnosisCode::parse("nonsense"), None);
}

#[tokio::test]
async fn each_delivery_is_stored_with_its_code_and_listed_filtered_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(dir.path(), WriterConfig { full_sync: false, ..WriterConfig::default() }).unwrap();
    let s = secrets(SECRET);
    let valid = sample("e1", "T1", 1_700_000_000);
    let wrong = sample("e2", "T2", 1_700_000_100);
    let hexed = sample("e3", "T3", 1_700_000_200);
    let unsigned = sample("e4", "T4", 1_700_000_300);
    store.insert(delivery(valid.clone(), Some(&sign(SECRET, &valid)), &s, 1)).await.unwrap();
    let stored = store.insert(delivery(wrong.clone(), Some(&sign("another", &wrong)), &s, 2)).await.unwrap();
    assert_eq!(stored.item.diagnosis.map(|c| serde_json::to_value(c).unwrap()), Some("wrong_secret".into()));
    store.insert(delivery(hexed.clone(), Some(&hex_signature(SECRET, &hexed)), &s, 3)).await.unwrap();
    store.insert(delivery(unsigned.clone(), None, &s, 4)).await.unwrap();
    store.insert(delivery(valid.clone(), Some(&sign(SECRET, &valid)), &Secrets::default(), 5)).await.unwrap();
    let mut too_large = delivery(b"{\"event\":".to_vec(), None, &s, 6);
    too_large.verdict = StoredVerdict::TooLarge;
    too_large.status = 413;
    too_large.body_truncated = true;
    too_large.diagnosis = None;
    store.insert(too_large).await.unwrap();

    let all = codes(&store, None).await;
    let expected = [
        (6, "too_large"),
        (5, "unverified_no_secret"),
        (4, "missing_header"),
        (3, "hex_signature"),
        (2, "wrong_secret"),
        (1, "valid_current"),
    ];
    assert_eq!(all, expected.map(|(id, c)| (id, Some(c.to_owned()))));
    for (id, code) in expected {
        assert_eq!(codes(&store, Some(code)).await, [(id, Some(code.to_owned()))], "{code}");
    }
    assert!(codes(&store, Some("reserialised_body")).await.is_empty());
    // With another filter, and counted alike.
    let q = DeliveryQuery {
        diagnosis: Some("wrong_secret".into()),
        verdict: Some("failed".into()),
        ..Default::default()
    };
    assert_eq!(store.read(move |c| queries::count_deliveries(c, &q)).await.unwrap(), 1);

    let bad = DeliveryQuery { diagnosis: Some("wrong secret".into()), ..Default::default() };
    match store.read(move |c| queries::list_deliveries(c, &bad)).await {
        Err(StoreError::BadQuery(message)) => {
            assert!(message.contains("unknown diagnosis") && message.contains("wrong_secret"), "{message}")
        }
        other => panic!("expected a bad query, got {other:?}"),
    }
    store.close();
}

#[tokio::test]
async fn the_filter_by_diagnosis_is_served_by_its_partial_index() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(dir.path(), WriterConfig { full_sync: false, ..WriterConfig::default() }).unwrap();
    let s = secrets(SECRET);
    for n in 0..50 {
        let body = sample(&format!("e{n}"), &format!("T{n}"), 1_700_000_000 + n);
        let signature = if n % 5 == 0 { sign("another", &body) } else { sign(SECRET, &body) };
        store.insert(delivery(body, Some(&signature), &s, n)).await.unwrap();
    }
    store.write(|c| Ok(c.execute_batch("ANALYZE")?)).await.unwrap();
    for query in [
        DeliveryQuery { diagnosis: Some("wrong_secret".into()), ..Default::default() },
        DeliveryQuery {
            diagnosis: Some("wrong_secret".into()),
            verdict: Some("failed".into()),
            tag: Some("InTransit".into()),
            ..Default::default()
        },
    ] {
        let plan = store.read(move |c| queries::list_deliveries_plan(c, &query)).await.unwrap();
        assert!(plan.contains("USING INDEX deliveries_diagnosis"), "{plan}");
        assert!(!plan.contains("SCAN deliveries"), "{plan}");
    }
    // Within a received-time range the list walks the time index, testing the code on the way.
    let ranged = DeliveryQuery {
        diagnosis: Some("wrong_secret".into()),
        since: Some("1970-01-01".into()),
        ..Default::default()
    };
    let plan = store.read(move |c| queries::list_deliveries_plan(c, &ranged)).await.unwrap();
    assert!(plan.contains("USING INDEX") && !plan.contains("SCAN deliveries"), "{plan}");
    store.close();
}

#[tokio::test]
async fn reverification_rewrites_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(dir.path(), WriterConfig { full_sync: false, ..WriterConfig::default() }).unwrap();
    let typo = secrets("typo");
    let fixed = sample("e1", "T1", 1_700_000_000);
    // Signed by AfterShip without the newline a relay added: with the typo it is a wrong secret;
    // with the real secret it is the newline.
    let mut newline = sample("e2", "T2", 1_700_000_100);
    let newline_signature = sign(SECRET, &newline);
    newline.push(b'\n');
    store.insert(delivery(fixed.clone(), Some(&sign(SECRET, &fixed)), &typo, 1)).await.unwrap();
    store.insert(delivery(newline, Some(&newline_signature), &typo, 2)).await.unwrap();
    let before = codes(&store, None).await;
    assert_eq!(before, [(2, Some("wrong_secret".to_owned())), (1, Some("wrong_secret".to_owned()))]);

    let (checked, changed) = store.write(|c| projection::reverify_failed(c, &secrets(SECRET))).await.unwrap();
    assert_eq!((checked, changed.len()), (2, 1));
    assert_eq!(changed[0].item.verdict, Verdict::Valid);
    assert_eq!(
        changed[0].item.diagnosis.map(|c| serde_json::to_value(c).unwrap()),
        Some("valid_current".into())
    );
    let after = codes(&store, None).await;
    assert_eq!(after, [(2, Some("trailing_newline".to_owned())), (1, Some("valid_current".to_owned()))]);
    assert_eq!(codes(&store, Some("wrong_secret")).await, []);
    store.close();
}
