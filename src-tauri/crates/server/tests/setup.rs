//! Honest setup (issue 22), against a real engine over loopback HTTP: a public URL must be one
//! AfterShip can reach (https, a real host name), in the API and in the settings file read at start;
//! a tunnel command whose program is not installed is not started, says what to install and is not
//! retried until the settings change or Restart.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

async fn tunnel_until(t: &TestEngine, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        last = t.get_json("/api/tunnel").await;
        if cond(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the tunnel never got to {what}: {last}");
}

#[tokio::test]
async fn the_public_url_must_be_https_and_a_real_host_name() {
    let t = start(Some("s3cret")).await;
    for (raw, says) in [
        ("https://shop-hoo", "is not a public host name"),
        ("http://shop.trycloudflare.com", "only delivers webhooks to https://"),
        ("https://localhost", "is this machine"),
        ("http://127.0.0.1:8787", "https://"),
        ("https://203.0.113.7", "is an IP address"),
        ("https://shop.example.com/some/path", "without the path"),
        ("https://shop.example.com:9443", "ports 80, 443 and 8080"),
        ("shop.trycloudflare.com", "is not a URL"),
    ] {
        let r = t.api("PUT", "/api/settings", Some(&json!({ "public_url": raw }))).await;
        assert_eq!(r.status, 400, "{raw}: {}", r.text());
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(says), "{raw}: {error}");
        assert!(error.contains("e.g. https://shop.trycloudflare.com"), "says what is expected: {error}");
    }
    assert!(t.get_json("/api/settings").await["public_url"].is_null(), "nothing refused was saved");

    let r = t
        .api(
            "PUT",
            "/api/settings",
            Some(&json!({ "public_url": " https://Shop.TryCloudflare.com/webhooks/aftership " })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["public_url"], "https://shop.trycloudflare.com");
    assert_eq!(
        t.get_json("/api/status").await["public_webhook_url"],
        "https://shop.trycloudflare.com/webhooks/aftership"
    );
}

#[tokio::test]
async fn a_public_url_in_the_settings_file_that_aftership_cannot_reach_is_not_used() {
    let mut settings = settings_with(Some("s3cret"), None);
    settings.public_url = Some("https://shop-hoo".into());
    let t = start_with(settings).await;
    let status = t.get_json("/api/status").await;
    assert!(status["public_url"].is_null(), "{status}");
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains("The public URL in settings.json, https://shop-hoo, is not used"),
        "{warnings}"
    );
    // The self-test does not post to it.
    assert_eq!(t.api("POST", "/api/self-test", None).await.json()["hop"], "no_public_url");

    // Setting a good one clears the warning.
    let r =
        t.api("PUT", "/api/settings", Some(&json!({ "public_url": "https://shop.trycloudflare.com" }))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let status = t.get_json("/api/status").await;
    assert_eq!(status["public_url"], "https://shop.trycloudflare.com");
    assert!(!status["warnings"].to_string().contains("settings.json"), "{status}");
}

#[tokio::test]
async fn a_tunnel_program_that_is_not_installed_is_not_started_nor_retried_until_the_settings_change() {
    let t = start(Some("s3cret")).await;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let command = format!("definitely-not-installed-xyz --url {{url}}; touch {}", marker.display());
    let r = t.api("PUT", "/api/settings", Some(&json!({ "tunnel_command": command }))).await;
    assert_eq!(r.status, 200, "{}", r.text());

    let tunnel = tunnel_until(&t, "a stop", |v| v["stopped_reason"].is_object()).await;
    assert_eq!(tunnel["state"], "stopped");
    let reason = &tunnel["stopped_reason"];
    assert_eq!(reason["code"], "program_not_found");
    assert_eq!(reason["program"], "definitely-not-installed-xyz");
    assert!(
        reason["message"].as_str().unwrap().contains("definitely-not-installed-xyz is not installed"),
        "{reason}"
    );
    assert!(reason["advice"].as_str().unwrap().contains("I run the tunnel"), "{reason}");
    assert_eq!(tunnel["restarts"], 0);
    assert!(tunnel["pid"].is_null());
    assert!(!marker.exists(), "the command was started");

    // Restart checks again (still missing: the same answer, still not started).
    let r = t.api("POST", "/api/tunnel/restart", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tunnel = tunnel_until(&t, "a stop after Restart", |v| v["stopped_reason"].is_object()).await;
    assert_eq!(tunnel["stopped_reason"]["code"], "program_not_found");
    assert!(!marker.exists(), "the command was started");

    // cloudflared, as the UI suggests it, names where to get it (when it is not installed here).
    if which_missing("cloudflared") {
        let r = t
            .api(
                "PUT",
                "/api/settings",
                Some(&json!({ "tunnel_command": "cloudflared tunnel --url http://127.0.0.1:{port}" })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let tunnel = tunnel_until(&t, "a stop", |v| v["stopped_reason"].is_object()).await;
        let reason = &tunnel["stopped_reason"];
        assert_eq!(reason["program"], "cloudflared");
        assert!(reason["message"].as_str().unwrap().starts_with("cloudflared is not installed"), "{reason}");
        assert!(reason["advice"].as_str().unwrap().contains("developers.cloudflare.com"), "{reason}");
    }

    // New settings: a command that runs is started and its URL captured.
    let r = t
        .api(
            "PUT",
            "/api/settings",
            Some(&json!({ "tunnel_command": "echo 'ready at https://fixed-{port}.trycloudflare.com'; exec sleep 30" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tunnel =
        tunnel_until(&t, "running", |v| v["state"] == "running" && v["public_url"].is_string()).await;
    assert!(tunnel["stopped_reason"].is_null(), "{tunnel}");
}

#[tokio::test]
async fn the_shell_saying_not_found_stops_the_tunnel_at_once() {
    let t = start(Some("s3cret")).await;
    let r = t
        .api(
            "PUT",
            "/api/settings",
            Some(&json!({ "tunnel_command": "true && definitely-not-installed-xyz --url {url}" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tunnel = tunnel_until(&t, "a stop", |v| v["stopped_reason"].is_object()).await;
    assert_eq!(tunnel["state"], "stopped");
    assert_eq!(tunnel["stopped_reason"]["code"], "program_not_found");
    assert!(
        tunnel["stopped_reason"]["last_error"].as_str().is_some_and(|l| l.contains("not found")),
        "the shell's own words: {tunnel}"
    );
    assert_eq!(tunnel["restarts"], 0, "not retried");
}

fn which_missing(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).all(|d| !d.join(program).is_file()))
        .unwrap_or(true)
}
