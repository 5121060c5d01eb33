//! The supervisor against real processes: a fake tunnel command that prints a URL and exits proves
//! capture, restart with backoff, log keeping and a clean stop.

use std::time::Duration;

use shipwatch_tunnel::{TunnelPhase, TunnelSupervisor};

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
        if unsafe { libc::kill(pid, 0) } != 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the tunnel agent (pid {pid}) survived stop");
}
