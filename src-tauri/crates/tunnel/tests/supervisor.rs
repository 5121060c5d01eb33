//! The supervisor against real processes: a fake tunnel command that prints a URL and exits proves
//! capture, restart with backoff, log keeping and a clean stop; a program that is not installed is
//! never started, and a command that keeps exiting at once is given up on.

use std::time::Duration;

use shipwatch_tunnel::{GaveUpKind, SupervisorOptions, TunnelPhase, TunnelSupervisor};

async fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn captures_the_url_and_restarts_a_command_that_exits() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("runs");
    // Each run prints a docs link, then a fresh URL naming the run number and the port, then exits 3.
    let cmd = format!(
        "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; echo 'docs at https://developers.cloudflare.com/x'; echo \"ready at https://run$n-{{port}}.trycloudflare.com\"; echo oops >&2; exit 3",
        c = counter.display()
    );
    let sup =
        TunnelSupervisor::start_with_backoff(&cmd, 8787, "http://127.0.0.1:8787", Duration::from_millis(50));
    let mut url = sup.public_url();
    tokio::time::timeout(Duration::from_secs(5), url.wait_for(|u| u.is_some())).await.unwrap().unwrap();
    assert!(url.borrow().as_deref().unwrap().ends_with("-8787.trycloudflare.com"));
    wait_for(|| sup.snapshot().restarts >= 2, "two restarts").await;
    let snap = sup.snapshot();
    assert!(snap.last_exit.as_deref().unwrap().contains("exit status: 3"), "{:?}", snap.last_exit);
    assert!(snap.log.iter().any(|l| l == "err: oops"), "{:?}", snap.log);
    assert!(snap.log.iter().any(|l| l.starts_with("shipwatch: the tunnel command exited")), "{:?}", snap.log);
    // A later run's URL replaces the first one.
    wait_for(
        || sup.snapshot().public_url.as_deref().is_some_and(|u| !u.starts_with("https://run1-")),
        "a new URL",
    )
    .await;
    sup.stop().await;
}

#[tokio::test]
async fn stop_ends_a_long_running_command_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    // The "agent" is a child of sh that keeps running; stopping must end it too.
    let cmd =
        format!("sleep 30 & echo $! > {}; echo https://abc.example-tunnel.dev; wait", pidfile.display());
    let sup = TunnelSupervisor::start(&cmd, 1, "http://127.0.0.1:1");
    let mut url = sup.public_url();
    tokio::time::timeout(Duration::from_secs(5), url.wait_for(|u| u.is_some())).await.unwrap().unwrap();
    assert_eq!(sup.snapshot().phase, TunnelPhase::Running);
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    sup.stop().await;
    // The sleeping child is gone (kill(pid, 0) fails) within a moment.
    let mut gone = false;
    for _ in 0..100 {
        if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the tunnel agent (pid {pid}) survived stop");
}

fn quick_options() -> SupervisorOptions {
    SupervisorOptions { first_backoff: Duration::from_millis(20), give_up_after: 3, ..Default::default() }
}

/// Waits for the supervisor to end on its own; one that keeps retrying never does.
async fn ended(sup: &TunnelSupervisor) {
    tokio::time::timeout(Duration::from_secs(20), sup.ended())
        .await
        .unwrap_or_else(|_| panic!("the supervisor is still retrying: {:?}", sup.snapshot()));
}

#[tokio::test]
async fn a_program_that_is_not_installed_is_not_started_and_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    // If this ran through sh, the first command would fail ("not found") and the second leave a mark.
    let cmd = format!("definitely-not-installed-xyz --url {{url}}; touch {}", marker.display());
    let sup = TunnelSupervisor::start_with(&cmd, 8787, "http://127.0.0.1:8787", quick_options());
    ended(&sup).await;
    let snap = sup.snapshot();
    assert_eq!(snap.phase, TunnelPhase::Stopped);
    let gave_up = snap.gave_up.clone().expect("gave up");
    assert_eq!(gave_up.kind, GaveUpKind::ProgramNotFound);
    assert_eq!(gave_up.program.as_deref(), Some("definitely-not-installed-xyz"));
    assert!(gave_up.message.contains("definitely-not-installed-xyz is not installed"), "{}", gave_up.message);
    assert!(gave_up.advice.contains("I run the tunnel"), "{}", gave_up.advice);
    assert_eq!((snap.restarts, snap.pid, &snap.last_exit), (0, None, &None));
    assert!(!snap.log.iter().any(|l| l.starts_with("err:")), "nothing ran: {:?}", snap.log);
    assert!(!marker.exists(), "the command was started");
    sup.stop().await;

    // cloudflared, the example the UI offers, names where to get it (it is not installed here).
    if which::which("cloudflared").is_err() {
        let sup = TunnelSupervisor::start_with(
            "cloudflared tunnel --url http://127.0.0.1:{port}",
            8787,
            "http://127.0.0.1:8787",
            quick_options(),
        );
        ended(&sup).await;
        let gave_up = sup.snapshot().gave_up.expect("gave up");
        assert!(gave_up.advice.contains("developers.cloudflare.com"), "{}", gave_up.advice);
        sup.stop().await;
    }
}

#[tokio::test]
async fn a_command_that_keeps_exiting_at_once_is_given_up_on_with_its_last_error() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("runs");
    let cmd = format!(
        "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; echo \"starting run $n\"; echo \"error: bad flag --url (run $n)\" >&2; exit 1",
        c = counter.display()
    );
    let sup = TunnelSupervisor::start_with(&cmd, 8787, "http://127.0.0.1:8787", quick_options());
    ended(&sup).await;
    let snap = sup.snapshot();
    assert_eq!(snap.phase, TunnelPhase::Stopped);
    let gave_up = snap.gave_up.clone().expect("gave up");
    assert_eq!(gave_up.kind, GaveUpKind::KeepsExiting);
    assert_eq!(gave_up.last_error.as_deref(), Some("error: bad flag --url (run 3)"));
    assert!(gave_up.message.contains("3 times in a row"), "{}", gave_up.message);
    assert!(gave_up.message.contains("error: bad flag --url (run 3)"), "{}", gave_up.message);
    assert_eq!(snap.restarts, 2);
    assert_eq!(std::fs::read_to_string(&counter).unwrap().trim(), "3", "ran exactly three times");
    sup.stop().await;
}

#[tokio::test]
async fn the_shell_saying_not_found_stops_at_once() {
    // A program the check cannot see (behind shell syntax) that the shell then cannot find.
    let sup = TunnelSupervisor::start_with(
        "true && definitely-not-installed-xyz --url {url}",
        8787,
        "http://127.0.0.1:8787",
        quick_options(),
    );
    ended(&sup).await;
    let snap = sup.snapshot();
    let gave_up = snap.gave_up.clone().expect("gave up");
    assert_eq!(gave_up.kind, GaveUpKind::ProgramNotFound);
    assert!(gave_up.last_error.as_deref().is_some_and(|l| l.contains("not found")), "{gave_up:?}");
    assert_eq!(snap.restarts, 0, "not retried");
    sup.stop().await;
}
