//! The developer tools over the real `shipwatch` binary: verify, sign, send (to a real `serve`),
//! replay (byte-exactness against a capture server, while `serve` runs on the same data dir),
//! export and stats.

mod devtools_common;

use base64::Engine as _;
use devtools_common::*;
use shipwatch_aftership::{verify_signature, DeliveryVerdict, SecretSlot, Secrets};

/// A vector made with Node's crypto:
/// `crypto.createHmac('sha256', 'node-secret-123').update(body).digest('base64')` (and `'hex'`).
const NODE_BODY: &[u8] = br#"{"event":"tracking_update","msg":{"tag":"Delivered"}}"#;
const NODE_SECRET: &str = "node-secret-123";
const NODE_SIGNATURE: &str = "wwSI6eRBi5h/svxQcH7dcvQgBylDpxGVFkL+EjTsp+Q=";
const NODE_HEX: &str = "c30488e9e4418b987fb2fc50707edd72f420072943a711951642fe1234eca7e4";

fn secrets(secret: &str) -> Secrets {
    Secrets { current: Some(secret.into()), previous: None }
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn verify_accepts_a_signature_made_by_node() {
    let tmp = tempfile::tempdir().unwrap();
    let body = write(tmp.path(), "body.json", NODE_BODY);
    let out = shipwatch(
        &["verify", "--body", &body, "--signature", NODE_SIGNATURE],
        &[("SHIPWATCH_SECRET", NODE_SECRET)],
        None,
    );
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("verdict:   valid (current secret)"), "{}", stdout(&out));
    assert!(stdout(&out).contains("The signature matches the current secret."));
    assert!(
        !stdout(&out).contains(NODE_SECRET) && !stderr(&out).contains(NODE_SECRET),
        "the secret is never printed"
    );

    // The same from stdin, and against the shared fixture signed by node live when node is here.
    let out = shipwatch(
        &["verify", "--body", "-", "--signature", NODE_SIGNATURE],
        &[("SHIPWATCH_SECRET", NODE_SECRET)],
        Some(NODE_BODY),
    );
    assert_exit(&out, 0);
    let fixture =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../tests/fixtures/aftership-v4-tracking-update.json");
    let node = std::process::Command::new("node")
        .args([
            "-e",
            "const c=require('crypto');process.stdout.write(c.createHmac('sha256',process.argv[1]).update(require('fs').readFileSync(process.argv[2])).digest('base64'))",
            NODE_SECRET,
            fixture,
        ])
        .output();
    match node {
        Ok(node) if node.status.success() => {
            let signature = String::from_utf8(node.stdout).unwrap();
            let out = shipwatch(
                &["verify", "--body", fixture, "--signature", &signature],
                &[("SHIPWATCH_SECRET", NODE_SECRET)],
                None,
            );
            assert_exit(&out, 0);
        }
        _ => eprintln!("node is not available: checked the recorded vector only"),
    }
}

#[test]
fn verify_rejects_a_wrong_secret_with_a_diagnosis() {
    let tmp = tempfile::tempdir().unwrap();
    let body = write(tmp.path(), "body.json", NODE_BODY);
    let out = shipwatch(
        &["verify", "--body", &body, "--signature", NODE_SIGNATURE],
        &[("SHIPWATCH_SECRET", "another-secret")],
        None,
    );
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("verdict:   invalid"), "{text}");
    assert!(text.contains("diagnosis: The secret does not match"), "{text}");
    assert!(text.contains("advice:"), "{text}");
    assert!(text.contains(&format!("received:  {NODE_SIGNATURE}")), "{text}");
    assert!(!text.contains("another-secret"));

    // A body changed on the way (a trailing newline added) is recognised.
    let changed = write(tmp.path(), "changed.json", &[NODE_BODY, b"\n"].concat());
    let out = shipwatch(
        &["verify", "--body", &changed, "--signature", NODE_SIGNATURE],
        &[("SHIPWATCH_SECRET", NODE_SECRET)],
        None,
    );
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("newline"), "{}", stdout(&out));
}

#[test]
fn verify_explains_a_hex_header() {
    let tmp = tempfile::tempdir().unwrap();
    let body = write(tmp.path(), "body.json", NODE_BODY);
    let out = shipwatch(
        &["verify", "--body", &body, "--signature", NODE_HEX],
        &[("SHIPWATCH_SECRET", NODE_SECRET)],
        None,
    );
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("verdict:   malformed"), "{text}");
    assert!(text.contains("hex, not base64"), "{text}");
    assert!(text.contains(&format!("expected:  {NODE_SIGNATURE}")), "{text}");
}

#[test]
fn verify_usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let body = write(tmp.path(), "body.json", NODE_BODY);
    // No secret and no terminal to ask on.
    let out = shipwatch(&["verify", "--body", &body, "--signature", NODE_SIGNATURE], &[], None);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("set SHIPWATCH_SECRET"), "{}", stderr(&out));
    assert!(stderr(&out).contains("never taken from the command line"));
    // A secret is never accepted on the command line.
    let out = shipwatch(
        &["verify", "--body", &body, "--signature", NODE_SIGNATURE, "--secret", NODE_SECRET],
        &[("SHIPWATCH_SECRET", NODE_SECRET)],
        None,
    );
    assert_exit(&out, 2);
    // A body that cannot be read.
    let missing = tmp.path().join("nope.json");
    let out = shipwatch(
        &["verify", "--body", missing.to_str().unwrap(), "--signature", NODE_SIGNATURE],
        &[("SHIPWATCH_SECRET", NODE_SECRET)],
        None,
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("cannot read the body from"), "{}", stderr(&out));
    // No --signature.
    let out = shipwatch(&["verify", "--body", &body], &[("SHIPWATCH_SECRET", NODE_SECRET)], None);
    assert_exit(&out, 2);
}

#[test]
fn sign_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let body = write(tmp.path(), "body.json", NODE_BODY);
    let out = shipwatch(&["sign", "--body", &body], &[("SHIPWATCH_SECRET", NODE_SECRET)], None);
    assert_exit(&out, 0);
    let signature = stdout(&out).trim().to_owned();
    assert_eq!(signature, NODE_SIGNATURE, "the same signature as Node's crypto");
    assert_eq!(
        verify_signature(Some(&signature), NODE_BODY, &secrets(NODE_SECRET)),
        DeliveryVerdict::Valid(SecretSlot::Current)
    );

    // Any bytes, from stdin; then verify what sign made.
    let odd: &[u8] = b"{ \"a\" : 1 }\r\n\xff\x00";
    let out = shipwatch(&["sign", "--body", "-"], &[("SHIPWATCH_SECRET", "k")], Some(odd));
    assert_exit(&out, 0);
    let signature = stdout(&out).trim().to_owned();
    let odd_path = write(tmp.path(), "odd.bin", odd);
    let out = shipwatch(
        &["verify", "--body", &odd_path, "--signature", &signature],
        &[("SHIPWATCH_SECRET", "k")],
        None,
    );
    assert_exit(&out, 0);

    let out = shipwatch(&["sign", "--body", &body], &[], None);
    assert_exit(&out, 2);
}

#[test]
fn send_posts_signed_test_deliveries_to_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&tmp.path().join("data"), Some("send-secret"));
    let out = shipwatch(
        &[
            "send",
            "--to",
            &serve.receiver_url,
            "--tag",
            "Delivered",
            "--subtag",
            "Delivered_005",
            "--shape",
            "versioned",
            "--count",
            "2",
            "--tracking-number",
            "SEND-1",
        ],
        &[("SHIPWATCH_SECRET", "send-secret")],
        None,
    );
    assert_exit(&out, 0);
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("[1/2] 200 OK"), "{lines:?}");
    assert!(lines[1].contains("Delivered/Delivered_005 SEND-1"), "{lines:?}");
    assert!(lines[1].contains("(versioned, signed)"), "{lines:?}");

    // What serve stored (read while it runs): two valid deliveries, one shipment at Delivered_005.
    let out = shipwatch(&["export", "deliveries", "--data-dir", serve.data_dir_str()], &[], None);
    assert_exit(&out, 0);
    let deliveries = ndjson(&stdout(&out));
    assert_eq!(deliveries.len(), 2);
    for d in &deliveries {
        assert_eq!(d["verdict"], "valid");
        assert_eq!(d["status"], 200);
        assert_eq!(d["tag"], "Delivered");
        assert_eq!(d["tracking_number"], "SEND-1");
    }
    let id = deliveries[0]["id"].as_i64().unwrap();
    let conn = shipwatch_store::queries::open_read_only(&serve.data_dir).unwrap();
    let record = shipwatch_store::queries::get_delivery(&conn, id).unwrap();
    let version = record.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("as-webhook-version"));
    assert_eq!(version.map(|(_, v)| v.as_str()), Some("2025-07"));
    let shipment = shipwatch_store::queries::list_shipments(&conn, &Default::default()).unwrap();
    assert_eq!(shipment.items.len(), 1);
    assert_eq!(shipment.items[0].subtag.as_deref(), Some("Delivered_005"));
    assert_eq!(shipment.items[0].subtag_message.as_deref(), Some("Delivered to neighbor"));

    // Without --to: the receiver address and the secret come from the data dir's settings.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("settings.json"),
        format!(r#"{{"listen": "{}", "secret": "send-secret"}}"#, serve.receiver_addr),
    )
    .unwrap();
    let out =
        shipwatch(&["send", "--tag", "OutForDelivery", "--data-dir", other.to_str().unwrap()], &[], None);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("200 OK"), "{}", stdout(&out));
    assert!(stdout(&out).contains("OutForDelivery/OutForDelivery_001"), "{}", stdout(&out));

    // A wrong secret: the receiver answers 401, send says why and exits 1.
    let out = shipwatch(&["send", "--to", &serve.receiver_url], &[("SHIPWATCH_SECRET", "wrong")], None);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("401"), "{}", stdout(&out));
    assert!(stderr(&out).contains("refused the signature"), "{}", stderr(&out));

    // Usage: a subtag of another tag, no secret at all.
    let out = shipwatch(
        &["send", "--to", &serve.receiver_url, "--tag", "InTransit", "--subtag", "Delivered_001"],
        &[("SHIPWATCH_SECRET", "send-secret")],
        None,
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("not a subtag of InTransit"), "{}", stderr(&out));
    let empty = tmp.path().join("empty");
    let out =
        shipwatch(&["send", "--to", &serve.receiver_url, "--data-dir", empty.to_str().unwrap()], &[], None);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--unsigned"), "{}", stderr(&out));
}

#[test]
fn send_reports_the_hop_that_failed() {
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let out = shipwatch(
        &["send", "--to", &format!("http://127.0.0.1:{port}/webhooks/aftership"), "--unsigned"],
        &[],
        None,
    );
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("refused the connection"), "{}", stderr(&out));
    let out = shipwatch(
        &["send", "--to", "http://shipwatch-test.invalid/webhooks/aftership", "--unsigned"],
        &[],
        None,
    );
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("DNS:"), "{}", stderr(&out));
    let out = shipwatch(&["send", "--to", "127.0.0.1:8787/webhooks/aftership", "--unsigned"], &[], None);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("http://host:port/path"), "{}", stderr(&out));
}

/// Posts an oddly formatted, validly signed delivery to serve and returns (id, body, signature).
fn store_odd_delivery(serve: &Serve, secret: &str) -> (i64, Vec<u8>, String) {
    let body = "{\"event\":\"tracking_update\",  \"event_id\":\"0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b\",\n \"msg\":{\"tracking_number\":\"REPLAY-1\",\"tag\":\"InTransit\",\"title\":\"caf\\u00e9 \u{2713}\"}, \"ts\": 1751371200}\r\n"
        .as_bytes()
        .to_vec();
    let signature = shipwatch_aftership::sign(secret, &body);
    let status = post_raw(
        serve.receiver_addr,
        "/webhooks/aftership",
        &[
            ("Content-Type", "application/json"),
            ("Aftership-Hmac-Sha256", &signature),
            ("X-Custom-Order", "first"),
            ("User-Agent", "AfterShipTrackingWebhook/4.0.0"),
            ("X-Forwarded-For", "203.0.113.9"),
        ],
        &body,
    );
    assert_eq!(status, 200);
    let out = shipwatch(
        &["export", "deliveries", "--q", "REPLAY-1", "--data-dir", serve.data_dir_str()],
        &[],
        None,
    );
    assert_exit(&out, 0);
    let items = ndjson(&stdout(&out));
    assert_eq!(items.len(), 1, "{}", stdout(&out));
    (items[0]["id"].as_i64().unwrap(), body, signature)
}

#[test]
fn replay_is_byte_exact_while_serve_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&tmp.path().join("data"), Some("replay-secret"));
    let (id, body, signature) = store_odd_delivery(&serve, "replay-secret");

    let capture = CaptureServer::start("/hook");
    let out = shipwatch(
        &["replay", &id.to_string(), "--to", &capture.url, "--data-dir", serve.data_dir_str()],
        &[],
        None,
    );
    let got = capture.take();
    assert_exit(&out, 0);
    assert_eq!(got.body, body, "the body arrives byte for byte");
    assert_eq!(got.request_line, "POST /hook HTTP/1.1");
    assert_eq!(got.header("aftership-hmac-sha256"), Some(signature.as_str()), "the original signature");
    assert_eq!(got.header_count("aftership-hmac-sha256"), 1);
    assert_eq!(got.header_count("content-length"), 1);
    assert_eq!(got.header("content-length"), Some(body.len().to_string().as_str()));
    let capture_host = capture.url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    assert_eq!(got.header("host"), Some(capture_host.as_str()), "host is the target's");
    // The original headers keep their order.
    let position = |name: &str| got.headers.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)).unwrap();
    let order: Vec<usize> =
        ["content-type", "aftership-hmac-sha256", "x-custom-order", "user-agent", "x-forwarded-for"]
            .iter()
            .map(|n| position(n))
            .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{:?}", got.headers);
    assert_eq!(got.header("x-custom-order"), Some("first"));
    // The raw request ends with exactly the body.
    assert!(got.raw.ends_with(&body));

    // The target's answer is printed.
    let text = stdout(&out);
    assert!(text.starts_with("HTTP/1.1 202 Accepted"), "{text}");
    assert!(text.contains("x-capture: yes"), "{text}");
    assert!(text.contains("\ncaptured"), "{text}");
    assert!(stderr(&out).contains("byte-exact body"), "{}", stderr(&out));
}

#[test]
fn replay_resigns_and_sends_edited_bodies() {
    let tmp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&tmp.path().join("data"), Some("old-secret"));
    let (id, body, signature) = store_odd_delivery(&serve, "old-secret");
    let id = id.to_string();

    // --resign: same bytes, a new signature made with the secret from the environment.
    let capture = CaptureServer::start("/hook");
    let out = shipwatch(
        &["replay", &id, "--to", &capture.url, "--data-dir", serve.data_dir_str(), "--resign"],
        &[("SHIPWATCH_SECRET", "rotated-secret")],
        None,
    );
    let got = capture.take();
    assert_exit(&out, 0);
    assert_eq!(got.body, body);
    let new_signature = got.header("aftership-hmac-sha256").unwrap();
    assert_ne!(new_signature, signature);
    assert_eq!(
        verify_signature(Some(new_signature), &got.body, &secrets("rotated-secret")),
        DeliveryVerdict::Valid(SecretSlot::Current)
    );
    assert_eq!(got.header_count("aftership-hmac-sha256"), 1);
    assert!(stderr(&out).contains("re-signed"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("rotated-secret") && !stderr(&out).contains("rotated-secret"));

    // Edited body, re-signed.
    let edited: &[u8] =
        br#"{"event":"tracking_update","msg":{"tracking_number":"REPLAY-1","tag":"Delivered"}}"#;
    let edited_path = write(tmp.path(), "edited.json", edited);
    let capture = CaptureServer::start("/hook");
    let out = shipwatch(
        &[
            "replay",
            &id,
            "--to",
            &capture.url,
            "--data-dir",
            serve.data_dir_str(),
            "--resign",
            "--body",
            &edited_path,
        ],
        &[("SHIPWATCH_SECRET", "old-secret")],
        None,
    );
    let got = capture.take();
    assert_exit(&out, 0);
    assert_eq!(got.body, edited);
    assert!(verify_signature(got.header("aftership-hmac-sha256"), edited, &secrets("old-secret")).accepted());

    // Edited but not re-signed: the original signature goes, with a warning that it no longer matches.
    let capture = CaptureServer::start("/hook");
    let out = shipwatch(
        &["replay", &id, "--to", &capture.url, "--data-dir", serve.data_dir_str(), "--body", &edited_path],
        &[],
        None,
    );
    let got = capture.take();
    assert_exit(&out, 0);
    assert_eq!(got.header("aftership-hmac-sha256"), Some(signature.as_str()));
    assert!(stderr(&out).contains("does not match the edited body"), "{}", stderr(&out));

    // Replaying into serve itself: it is a duplicate of an accepted event, answered 200.
    let out = shipwatch(
        &["replay", &id, "--to", &serve.receiver_url, "--data-dir", serve.data_dir_str()],
        &[],
        None,
    );
    assert_exit(&out, 0);
    assert!(stdout(&out).contains(" 200 OK"), "{}", stdout(&out));
}

#[test]
fn replay_errors_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&tmp.path().join("data"), Some("s"));
    let (id, _, _) = store_odd_delivery(&serve, "s");

    let out = shipwatch(
        &["replay", "999", "--to", "http://127.0.0.1:9/x", "--data-dir", serve.data_dir_str()],
        &[],
        None,
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("no delivery 999 in"), "{}", stderr(&out));
    assert!(stderr(&out).contains("shipwatch export deliveries"), "{}", stderr(&out));

    let empty = tmp.path().join("empty");
    let out = shipwatch(
        &["replay", "1", "--to", "http://127.0.0.1:9/x", "--data-dir", empty.to_str().unwrap()],
        &[],
        None,
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("no Shipwatch database in"), "{}", stderr(&out));

    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let out = shipwatch(
        &[
            "replay",
            &id.to_string(),
            "--to",
            &format!("http://127.0.0.1:{port}/"),
            "--data-dir",
            serve.data_dir_str(),
        ],
        &[],
        None,
    );
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("refused the connection"), "{}", stderr(&out));

    // A non-2xx answer: printed, exit 1, with advice.
    let wrong_path = serve.receiver_url.replace("/webhooks/aftership", "/nope");
    let out = shipwatch(
        &["replay", &id.to_string(), "--to", &wrong_path, "--data-dir", serve.data_dir_str()],
        &[],
        None,
    );
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("404"), "{}", stdout(&out));
    assert!(stderr(&out).contains("wrong path"), "{}", stderr(&out));
}

/// Serve with four deliveries: two Delivered (one shipment), one InTransit with an order id, one
/// signed with a wrong secret.
fn serve_with_history(tmp: &std::path::Path) -> Serve {
    let serve = Serve::start(&tmp.join("data"), Some("exp-secret"));
    let env = [("SHIPWATCH_SECRET", "exp-secret")];
    let to = serve.receiver_url.clone();
    let out = shipwatch(
        &["send", "--to", &to, "--tag", "Delivered", "--count", "2", "--tracking-number", "EXP-D"],
        &env,
        None,
    );
    assert_exit(&out, 0);
    let out = shipwatch(
        &["send", "--to", &to, "--tag", "InTransit", "--tracking-number", "EXP-T", "--order-id", "ORDER-77"],
        &env,
        None,
    );
    assert_exit(&out, 0);
    let out = shipwatch(
        &["send", "--to", &to, "--tag", "Exception", "--tracking-number", "EXP-X"],
        &[("SHIPWATCH_SECRET", "wrong")],
        None,
    );
    assert_exit(&out, 1);
    serve
}

#[test]
fn export_ndjson_and_csv_with_filters() {
    let tmp = tempfile::tempdir().unwrap();
    let serve = serve_with_history(tmp.path());
    let dir = serve.data_dir_str();
    let export = |args: &[&str]| {
        let mut all = vec!["export"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--data-dir", dir]);
        let out = shipwatch(&all, &[], None);
        assert_exit(&out, 0);
        stdout(&out)
    };

    let all = ndjson(&export(&["deliveries"]));
    assert_eq!(all.len(), 4);
    let ids: Vec<i64> = all.iter().map(|d| d["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(all[0]["tracking_number"], "EXP-X");
    assert_eq!(all[0]["verdict"], "invalid");
    assert_eq!(all[0]["status"], 401);

    let failed = ndjson(&export(&["deliveries", "--verdict", "failed"]));
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["tracking_number"], "EXP-X");
    assert_eq!(ndjson(&export(&["deliveries", "--verdict", "valid"])).len(), 3);
    assert_eq!(ndjson(&export(&["deliveries", "--tag", "Delivered"])).len(), 2);
    let by_order = ndjson(&export(&["deliveries", "--q", "order-77"]));
    assert_eq!(by_order.len(), 1);
    assert_eq!(by_order[0]["tracking_number"], "EXP-T");
    assert_eq!(ndjson(&export(&["deliveries", "--limit", "3"])).len(), 3);
    assert_eq!(ndjson(&export(&["deliveries", "--slug", "fedex"])).len(), 0);

    let csv = export(&["deliveries", "--format", "csv", "--tag", "Delivered"]);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "id,received_at,event_id,event,verdict,status,duplicate,tracking_number,slug,tag,order_id,shipment_id,size,diagnosis");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].contains(",tracking_update,valid,200,false,EXP-D,usps,Delivered,,"), "{}", lines[1]);

    // --full carries headers and the body as stored.
    let full = ndjson(&export(&["deliveries", "--full", "--q", "EXP-T"]));
    assert_eq!(full.len(), 1);
    let body =
        base64::engine::general_purpose::STANDARD.decode(full[0]["body_base64"].as_str().unwrap()).unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(parsed["msg"]["order_id"], "ORDER-77");
    let headers = full[0]["headers"].as_array().unwrap();
    assert!(headers.iter().any(|h| h[0].as_str().unwrap().eq_ignore_ascii_case("aftership-hmac-sha256")));
    assert_eq!(full[0]["method"], "POST");

    // Shipments: the invalid delivery made none.
    let shipments = ndjson(&export(&["shipments"]));
    assert_eq!(shipments.len(), 2);
    let delivered = ndjson(&export(&["shipments", "--tag", "Delivered"]));
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["tracking_number"], "EXP-D");
    let csv = export(&["shipments", "--format", "csv", "--q", "EXP-T"]);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "id,tracking_id,tracking_number,slug,title,order_id,tag,subtag,subtag_message,expected_delivery,last_location,updated_at,unverified");
    assert_eq!(lines.len(), 2);
    assert!(
        lines[1].contains(",EXP-T,usps,EXP-T,ORDER-77,InTransit,InTransit_001,In Transit,"),
        "{}",
        lines[1]
    );

    // --out writes the same bytes to a file and says so.
    let file = tmp.path().join("out.ndjson");
    let out =
        shipwatch(&["export", "deliveries", "--out", file.to_str().unwrap(), "--data-dir", dir], &[], None);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), export(&["deliveries"]));
    assert!(stderr(&out).contains("exported 4 deliveries"), "{}", stderr(&out));

    // Usage errors.
    let out = shipwatch(&["export", "shipments", "--verdict", "valid", "--data-dir", dir], &[], None);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--verdict applies to deliveries only"), "{}", stderr(&out));
    let out = shipwatch(&["export", "deliveries", "--verdict", "bogus", "--data-dir", dir], &[], None);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("unknown verdict"), "{}", stderr(&out));
    let out = shipwatch(&["export", "deliveries", "--format", "xml", "--data-dir", dir], &[], None);
    assert_exit(&out, 2);
}

#[test]
fn stats_show_counts_and_where_the_data_lives() {
    let tmp = tempfile::tempdir().unwrap();
    let serve = serve_with_history(tmp.path());
    let out = shipwatch(&["stats", "--data-dir", serve.data_dir_str()], &[], None);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains(&format!("data dir:    {}", serve.data_dir_str())), "{text}");
    assert!(text.contains("shipwatch.db ("), "{text}");
    assert!(text.contains("deliveries:  4 total, 4 today"), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("valid") && l.contains(" 3 ")), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("failed") && l.contains(" 1 ")), "{text}");
    // `send` makes test data: left out of the counts by tag, counted apart.
    assert!(text.contains("shipments:   0 (and 2 test, left out)"), "{text}");

    let out = shipwatch(&["stats", "--json", "--data-dir", serve.data_dir_str()], &[], None);
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["deliveries"]["total"], 4);
    assert_eq!(json["deliveries"]["today"], 4);
    assert_eq!(json["deliveries"]["failed"], 1);
    assert_eq!(json["deliveries"]["by_verdict"]["valid"], 3);
    assert_eq!(json["deliveries"]["by_verdict"]["invalid"], 1);
    assert_eq!(json["shipments"]["total"], 0);
    assert_eq!(json["shipments"]["test"], 2);
    assert!(json["database_bytes"].as_u64().unwrap() > 0);

    let out = shipwatch(&["stats", "--data-dir", tmp.path().join("none").to_str().unwrap()], &[], None);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("no Shipwatch database in"), "{}", stderr(&out));
}

#[test]
fn every_tool_has_help_with_examples() {
    for command in ["verify", "sign", "send", "replay", "export", "stats"] {
        let out = shipwatch(&[command, "--help"], &[], None);
        assert_exit(&out, 0);
        let text = stdout(&out);
        assert!(text.contains("Examples:"), "{command} --help:\n{text}");
        assert!(text.contains(&format!("shipwatch {command}")), "{command} --help:\n{text}");
    }
}
