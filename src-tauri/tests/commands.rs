//! The Tauri commands through the mock runtime (real IPC dispatch, no window system) against a
//! real engine on a temporary data dir; plus the notification path from a real receiver to a
//! recording notifier. Run with `cargo test --workspace` (no display or session bus needed).

use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};
use shipwatch_desktop::backend::Backend;
use shipwatch_notify::testing::RecordingNotifier;
use shipwatch_notify::{NotificationLog, Policy, RunnerConfig, SystemClock};
use shipwatch_server::{Engine, EngineConfig};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, WebviewWindow, WebviewWindowBuilder};

const SECRET: &str = "test-secret-7f3a";

/// One tokio runtime for the whole test binary, shared with Tauri (as in the app).
fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        tauri::async_runtime::set(rt.handle().clone());
        rt
    })
}

fn start_engine(dir: &std::path::Path) -> Engine {
    let config = EngineConfig {
        data_dir: Some(dir.to_path_buf()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        inspector_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    };
    rt().block_on(Engine::start(config)).expect("engine starts on a temp dir")
}

struct Harness {
    app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    _dir: tempfile::TempDir,
}

fn app_with(backend: Backend, dir: tempfile::TempDir) -> Harness {
    rt();
    let app = mock_builder()
        .manage(backend)
        .invoke_handler(shipwatch_desktop::commands::handler())
        .build(mock_context(noop_assets()))
        .expect("mock app builds");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    Harness { app, webview, _dir: dir }
}

fn running() -> (Harness, Api) {
    let dir = tempfile::tempdir().unwrap();
    let engine = start_engine(dir.path());
    let api = engine.api();
    (app_with(Backend::running(engine), dir), api)
}

type Api = shipwatch_server::Api;

impl Harness {
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(&self.webview, request).map(|b| b.deserialize::<Value>().unwrap())
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    fn receiver_addr(&self) -> String {
        let status = self.ok("status", json!({}));
        assert_eq!(status["receiver"]["state"], "listening", "{status}");
        status["receiver"]["addr"].as_str().unwrap().to_string()
    }

    fn set_secret(&self) {
        let view = self.ok("update_settings", json!({ "update": { "secret": SECRET } }));
        assert_eq!(view["secret_set"], true);
        assert!(!view.to_string().contains(SECRET), "the secret must never reach the UI: {view}");
    }
}

/// The fixture with `tag`, a fresh event id and (optionally) another tracking number.
fn payload(tag: &str, event_id: &str, tracking_number: Option<&str>) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/aftership-v4-tracking-update.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["event_id"] = json!(event_id);
    v["msg"]["tag"] = json!(tag);
    v["msg"]["subtag"] = json!(format!("{tag}_001"));
    if let Some(tn) = tracking_number {
        v["msg"]["tracking_number"] = json!(tn);
        v["msg"]["title"] = json!(tn);
        v["msg"]["id"] = json!(format!("id-{tn}"));
    }
    serde_json::to_vec(&v).unwrap()
}

/// POSTs a body to the receiver over a real socket; returns the status code.
fn post(addr: &str, body: &[u8], signature: Option<&str>) -> u16 {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!(
        "POST /webhooks/aftership HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(sig) = signature {
        head.push_str(&format!("aftership-hmac-sha256: {sig}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    response.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn status_and_settings_over_ipc() {
    let (h, _api) = running();
    let status = h.ok("status", json!({}));
    assert!(status["receiver"]["addr"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(status["secret_configured"], false);
    assert_eq!(h.ok("startup_error", json!({})), Value::Null);
    h.set_secret();
    let settings = h.ok("get_settings", json!({}));
    assert_eq!(settings["secret_set"], true);
    assert_eq!(settings["notifications_paused"], false);
    assert!(settings["notify_tags"].as_array().unwrap().contains(&json!("Delivered")));
    let paused = h.ok("update_settings", json!({ "update": { "notifications_paused": true } }));
    assert_eq!(paused["notifications_paused"], true);
    assert_eq!(h.ok("get_settings", json!({}))["notifications_paused"], true);
}

#[test]
fn deliveries_and_shipments_over_ipc() {
    let (h, _api) = running();
    h.set_secret();
    let addr = h.receiver_addr();
    let body = payload("Delivered", "11111111-1111-4111-8111-111111111111", None);
    assert_eq!(post(&addr, &body, Some(&shipwatch_aftership::sign(SECRET, &body))), 200);

    // Lists, with and without a query argument.
    let page = h.ok("list_deliveries", json!({ "query": { "verdict": "valid" } }));
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["tag"], "Delivered");
    assert_eq!(h.ok("list_deliveries", json!({}))["items"].as_array().unwrap().len(), 1);
    let id = items[0]["id"].as_i64().unwrap();

    let detail = h.ok("get_delivery", json!({ "id": id }));
    assert_eq!(detail["signature"]["verdict"], "valid");
    let report = h.ok("reverify_delivery", json!({ "id": id, "request": { "secret": "wrong" } }));
    assert_ne!(report["verdict"], "valid", "{report}");
    let report = h.ok("reverify_delivery", json!({ "id": id, "request": { "secret": SECRET } }));
    assert_eq!(report["verdict"], "valid", "{report}");

    let shipments = h.ok("list_shipments", json!({ "query": {} }));
    assert_eq!(shipments["items"].as_array().unwrap().len(), 1);
    assert!(shipments["counts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["tag"] == "Delivered" && c["count"] == 1));
    let sid = shipments["items"][0]["id"].as_i64().unwrap();
    let shipment = h.ok("get_shipment", json!({ "id": sid }));
    assert_eq!(shipment["tracking_number"], "9361289676091361892011");
}

#[test]
fn errors_are_the_api_error_body() {
    let (h, _api) = running();
    let err = h.invoke("get_delivery", json!({ "id": 999_999 })).unwrap_err();
    assert!(err["error"].as_str().is_some_and(|m| !m.is_empty()), "{err}");
    assert_eq!(err.as_object().unwrap().len(), 1, "only {{\"error\"}}: {err}");
    let err = h.invoke("get_shipment", json!({ "id": 999_999 })).unwrap_err();
    assert!(err["error"].is_string(), "{err}");
}

#[test]
fn send_test_delivery_over_ipc_and_live_events() {
    let (h, api) = running();
    h.set_secret();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    h.app.listen_any("live", move |event| {
        let _ = tx.send(serde_json::from_str(event.payload()).unwrap());
    });
    rt().spawn(shipwatch_desktop::live::forward(h.app.handle().clone(), api.subscribe_live()));
    let result = h.ok("send_test_delivery", json!({ "request": { "tag": "OutForDelivery" } }));
    assert_eq!(result["status"], 200, "{result}");
    let event = rx.recv_timeout(Duration::from_secs(10)).expect("a live event");
    assert!(["delivery", "shipment"].contains(&event["type"].as_str().unwrap()), "{event}");
    // Without arguments too.
    assert_eq!(h.ok("send_test_delivery", json!({}))["status"], 200);
}

#[test]
fn a_failed_start_answers_every_command_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let why = "cannot open the database /nowhere/shipwatch.db: unable to open database file";
    let h = app_with(Backend::failed(why), dir);
    for cmd in ["status", "get_settings", "list_shipments", "list_deliveries"] {
        let err = h.invoke(cmd, json!({})).unwrap_err();
        assert_eq!(err, json!({ "error": format!("Shipwatch could not start: {why}") }), "{cmd}");
    }
    assert_eq!(h.ok("startup_error", json!({})), json!(why));
    assert_eq!(h.ok("notification_log", json!({})), json!([]));
}

#[test]
fn an_unusable_data_dir_fails_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the data dir should be.
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let config = EngineConfig {
        data_dir: Some(not_a_dir),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        inspector_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    };
    let err = match rt().block_on(shipwatch_desktop::backend::start_engine(config)) {
        Ok(_) => panic!("must not start on a file"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("file"), "{err}");
}

/// The notification path with a real receiver and store: one notification for a signed
/// Delivered, none for its retry or an unsigned spoof.
#[test]
fn signed_delivered_notifies_once_retry_and_spoof_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start_engine(dir.path());
    let api = engine.api();
    let notifier = Arc::new(RecordingNotifier::default());
    let log = NotificationLog::default();
    let events = engine.subscribe();
    let policy_api = api.clone();
    let task = rt().spawn(shipwatch_notify::run(
        events,
        notifier.clone(),
        move || {
            let s = policy_api.settings();
            Policy::from_settings(&s.notify_tags, s.quiet_hours.as_ref(), s.notifications_paused)
        },
        |_| {},
        log.clone(),
        Arc::new(SystemClock),
        RunnerConfig {
            coalesce: shipwatch_notify::CoalesceConfig {
                window: Duration::from_millis(200),
                max_individual: 3,
            },
            ..Default::default()
        },
    ));
    let h = app_with(Backend::running(engine), dir);
    h.set_secret();
    let addr = h.receiver_addr();

    let body = payload("Delivered", "22222222-2222-4222-8222-222222222222", None);
    let sig = shipwatch_aftership::sign(SECRET, &body);
    assert_eq!(post(&addr, &body, Some(&sig)), 200);
    wait_until("one notification", || notifier.shown().len() == 1);
    let shown = &notifier.shown()[0];
    assert_eq!(shown.summary, "Delivered · USPS");
    assert!(shown.body.contains("9361289676091361892011"), "{}", shown.body);

    assert_eq!(post(&addr, &body, Some(&sig)), 200, "a retry is answered like the original");
    let spoof = payload("Delivered", "33333333-3333-4333-8333-333333333333", Some("SPOOF123"));
    assert_eq!(post(&addr, &spoof, None), 401);
    wait_until("both recorded as skipped", || log.len() == 3);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(notifier.shown().len(), 1, "{:?}", log.entries());
    let reasons: Vec<String> =
        log.entries().iter().map(|e| format!("{:?}: {}", e.outcome, e.reason)).collect();
    assert!(reasons.iter().any(|r| r.starts_with("Sent")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("retry of delivery")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("signature missing")), "{reasons:?}");
    task.abort();
}

#[test]
fn developer_tools_over_ipc() {
    let (h, _api) = running();
    h.set_secret();
    let sent =
        h.ok("send_test_delivery", json!({ "request": { "subtag": "Delivered_005", "shape": "versioned" } }));
    let id = sent["delivery_id"].as_i64().expect("stored");
    // Replay into our own pipeline: a new attempt of the same event.
    let replay = h.ok("replay_delivery", json!({ "id": id }));
    assert_eq!(replay["status"], 200, "{replay}");
    assert!(replay["delivery_id"].as_i64().unwrap() > id);
    assert_eq!(h.ok("delivery_forwards", json!({ "id": id })), json!([]));
    assert_eq!(h.ok("reverify_failed", json!({}))["checked"], 0);
    assert_eq!(h.ok("tunnel_status", json!({}))["state"], "off");
    assert_eq!(h.ok("self_test", json!({}))["hop"], "no_public_url");
    let err = h.invoke("restart_tunnel", json!({})).unwrap_err();
    assert!(err["error"].as_str().unwrap().contains("no tunnel command"), "{err}");
}
