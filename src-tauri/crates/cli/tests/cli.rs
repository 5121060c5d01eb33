//! The CLI's own behaviour over the real `shipwatch` binary: `replay` goes to the local receiver
//! without `--to` (found as `send` finds it), `export --search` / `-q` / the old `--q`, one log line
//! for the schema on first start, the port-busy error said once, and help texts a Linux user can
//! follow.

mod devtools_common;

use devtools_common::*;

/// Posts a signed delivery for `tracking` to `serve` and returns its id.
fn store_delivery(serve: &Serve, secret: &str, tracking: &str) -> i64 {
    let out = shipwatch(
        &["send", "--to", &serve.receiver_url, "--tag", "InTransit", "--tracking-number", tracking],
        &[("SHIPWATCH_SECRET", secret)],
        None,
    );
    assert_exit(&out, 0);
    let out = shipwatch(
        &["export", "deliveries", "--search", tracking, "--data-dir", serve.data_dir_str()],
        &[],
        None,
    );
    assert_exit(&out, 0);
    let items = ndjson(&stdout(&out));
    assert_eq!(items.len(), 1, "{}", stdout(&out));
    items[0]["id"].as_i64().unwrap()
}

#[test]
fn replay_without_to_goes_to_the_local_receiver_like_send() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // A webhook path of the user's own in the settings: the default target must use it.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("settings.json"), r#"{"webhook_path": "/hooks/mine"}"#).unwrap();
    let serve = Serve::start(&data, Some("replay-default"));
    assert!(serve.receiver_url.ends_with("/hooks/mine"), "{}", serve.receiver_url);
    let id = store_delivery(&serve, "replay-default", "REPLAY-DEFAULT");
    let listen = serve.receiver_addr.to_string();

    // `send` without --to reaches this serve through SHIPWATCH_LISTEN and the settings' path ...
    let out = shipwatch(
        &[
            "send",
            "--tag",
            "Delivered",
            "--tracking-number",
            "SEND-DEFAULT",
            "--data-dir",
            serve.data_dir_str(),
        ],
        &[("SHIPWATCH_LISTEN", &listen), ("SHIPWATCH_SECRET", "replay-default")],
        None,
    );
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("200 OK"), "{}", stdout(&out));

    // ... and so does `replay`: no --to needed. The event was accepted before, so the receiver
    // answers 200 and keeps the replay as a duplicate.
    let out = shipwatch(
        &["replay", &id.to_string(), "--data-dir", serve.data_dir_str()],
        &[("SHIPWATCH_LISTEN", &listen)],
        None,
    );
    assert_exit(&out, 0);
    assert!(stdout(&out).starts_with("HTTP/1.1 200 OK"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(&format!("to {} (the local receiver", serve.receiver_url)),
        "{}",
        stderr(&out)
    );
    let out = shipwatch(
        &["export", "deliveries", "--search", "REPLAY-DEFAULT", "--data-dir", serve.data_dir_str()],
        &[],
        None,
    );
    assert_exit(&out, 0);
    let items = ndjson(&stdout(&out));
    assert_eq!(items.len(), 2, "the original and its replay: {}", stdout(&out));
    assert_eq!(items[0]["duplicate"], true, "{}", stdout(&out));
    assert_eq!(items[0]["status"], 200);

    // The address from the data dir's settings when SHIPWATCH_LISTEN is not set (another data dir
    // whose settings name this receiver; its database is a copy of serve's, read-only here).
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("settings.json"),
        format!(r#"{{"listen": "{listen}", "webhook_path": "/hooks/mine"}}"#),
    )
    .unwrap();
    let conn = shipwatch_store::queries::open_read_only(&data).unwrap();
    conn.execute("VACUUM INTO ?1", [other.join("shipwatch.db").to_str().unwrap()]).unwrap();
    drop(conn);
    let out = shipwatch(&["replay", &id.to_string(), "--data-dir", other.to_str().unwrap()], &[], None);
    assert_exit(&out, 0);
    assert!(stdout(&out).starts_with("HTTP/1.1 200 OK"), "{}", stdout(&out));
    assert!(stderr(&out).contains(&serve.receiver_url), "{}", stderr(&out));

    // A receiver address that is not one says to pass --to.
    let out = shipwatch(
        &["replay", &id.to_string(), "--data-dir", serve.data_dir_str()],
        &[("SHIPWATCH_LISTEN", "not-an-address")],
        None,
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("pass --to URL"), "{}", stderr(&out));
}

#[test]
fn export_search_has_a_long_name_a_short_one_and_keeps_the_old_q() {
    let tmp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&tmp.path().join("data"), Some("export-search"));
    store_delivery(&serve, "export-search", "SEARCH-ONE");
    store_delivery(&serve, "export-search", "SEARCH-TWO");
    let dir = serve.data_dir_str();

    let mut answers = Vec::new();
    for flag in ["--search", "-q", "--q"] {
        let out = shipwatch(&["export", "deliveries", flag, "search-two", "--data-dir", dir], &[], None);
        assert_exit(&out, 0);
        let items = ndjson(&stdout(&out));
        assert_eq!(items.len(), 1, "{flag}: {}", stdout(&out));
        assert_eq!(items[0]["tracking_number"], "SEARCH-TWO", "{flag}");
        answers.push(stdout(&out));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "the three spellings export the same");
    let out = shipwatch(&["export", "shipments", "--q", "SEARCH-ONE", "--data-dir", dir], &[], None);
    assert_exit(&out, 0);
    assert_eq!(ndjson(&stdout(&out)).len(), 1, "{}", stdout(&out));

    // The help names --search (and -q); the old spelling is not advertised.
    let out = shipwatch(&["export", "--help"], &[], None);
    assert_exit(&out, 0);
    let help = stdout(&out);
    assert!(help.contains("-q, --search <TEXT>"), "{help}");
    assert!(help.contains("export deliveries --search "), "{help}");
    assert!(!help.contains("--q <"), "{help}");
}

#[test]
fn first_start_logs_one_line_for_the_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let schema_lines = |log: &str| -> Vec<String> {
        log.lines().filter(|l| l.contains("schema") || l.contains("migrat")).map(str::to_owned).collect()
    };

    // Serve writes its stderr to DATA.serve.log; the engine has opened the database before it
    // prints the receiver line that Serve::start waits for.
    let serve = Serve::start(&data, None);
    let log = std::fs::read_to_string(data.with_extension("serve.log")).unwrap();
    drop(serve);
    let lines = schema_lines(&log);
    assert_eq!(lines.len(), 1, "one line about the schema on first start:\n{log}");
    assert!(lines[0].contains(" INFO "), "{}", lines[0]);
    let latest = shipwatch_store::migrations::latest_version();
    assert!(lines[0].contains(&format!("database created at schema {latest}")), "{}", lines[0]);

    // Once it is up to date, nothing more.
    let serve = Serve::start(&data, None);
    let log = std::fs::read_to_string(data.with_extension("serve.log")).unwrap();
    drop(serve);
    assert_eq!(schema_lines(&log), Vec::<String>::new(), "{log}");
}

#[test]
fn a_busy_port_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    for log in [None, Some("off")] {
        let mut env = Vec::new();
        if let Some(filter) = log {
            env.push(("SHIPWATCH_LOG", filter));
        }
        let data = tmp.path().join(format!("data-{}", log.unwrap_or("default")));
        let out = shipwatch(
            &[
                "serve",
                "--data-dir",
                data.to_str().unwrap(),
                "--listen",
                &addr,
                "--inspector-listen",
                "127.0.0.1:0",
            ],
            &env,
            None,
        );
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert_eq!(
            err.matches(&format!("cannot listen on {addr}")).count(),
            1,
            "SHIPWATCH_LOG={log:?}: said once\n{err}"
        );
        assert!(err.contains("Another program (perhaps another Shipwatch)"), "{err}");
        assert!(!stdout(&out).contains("receiver:"), "{}", stdout(&out));
    }
}

#[test]
fn help_examples_are_for_linux_and_every_command_has_them() {
    let out = shipwatch(&["--help"], &[], None);
    assert_exit(&out, 0);
    let root = stdout(&out);
    assert!(root.contains("Examples:"), "{root}");
    for command in ["serve", "verify", "sign", "send", "replay", "export", "stats"] {
        assert!(root.contains(&format!("\n  {command} ")), "`{command}` listed:\n{root}");
        let out = shipwatch(&[command, "--help"], &[], None);
        assert_exit(&out, 0);
        let text = stdout(&out);
        assert!(text.contains("Examples:"), "{command} --help:\n{text}");
        assert!(text.contains(&format!("shipwatch {command}")), "{command} --help:\n{text}");
        assert!(!text.contains("pbpaste"), "{command} --help has a macOS-only example:\n{text}");
    }
    let out = shipwatch(&["verify", "--help"], &[], None);
    assert!(stdout(&out).contains("shipwatch verify --body - --signature \"$SIG\" < body.json"));
    let out = shipwatch(&["send", "--help"], &[], None);
    let text = stdout(&out);
    for flag in ["--title <TITLE>", "--order-id <ID>"] {
        let line = text.lines().position(|l| l.trim_start().starts_with(flag)).expect(flag);
        let help = text.lines().nth(line + 1).unwrap_or_default();
        assert!(!help.trim().is_empty() && !help.trim_start().starts_with('-'), "{flag} has help:\n{text}");
    }
    let out = shipwatch(&["replay", "--help"], &[], None);
    assert!(stdout(&out).contains("[default: the local receiver"), "{}", stdout(&out));
}

#[test]
fn the_man_pages_are_made_from_the_help() {
    let tmp = tempfile::tempdir().unwrap();
    let out = shipwatch(&["manpages", "--out", tmp.path().to_str().unwrap()], &[], None);
    assert_exit(&out, 0);
    let mut pages: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "shipwatch-export.1",
            "shipwatch-replay.1",
            "shipwatch-send.1",
            "shipwatch-serve.1",
            "shipwatch-sign.1",
            "shipwatch-stats.1",
            "shipwatch-verify.1",
            "shipwatch.1"
        ]
    );
    let root = std::fs::read_to_string(tmp.path().join("shipwatch.1")).unwrap();
    assert!(root.contains(".TH shipwatch 1"), "{root}");
    assert!(root.contains("SHIPWATCH_SECRET"), "{root}");
    let replay = std::fs::read_to_string(tmp.path().join("shipwatch-replay.1")).unwrap();
    assert!(replay.contains("the local") && replay.contains("receiver"), "{replay}");
    // The hidden generator itself has no page, and stdout gets the main page without --out.
    assert!(!pages.iter().any(|p| p.contains("manpages")));
    let out = shipwatch(&["manpages"], &[], None);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains(".TH shipwatch 1"), "{}", stdout(&out));
}
