//! `shipwatch`: the headless engine (`serve`) and the developer tools beside it.
//!
//! - `serve` ([`serve`]) starts the receiver (what the tunnel exposes) and the loopback inspector
//!   (API + UI), prints what to register in AfterShip, and stops cleanly on Ctrl-C or SIGTERM.
//! - `verify`, `sign` ([`signature`]): check or make an `aftership-hmac-sha256` signature.
//! - `send` ([`send`]): post AfterShip-shaped test deliveries.
//! - `replay` ([`replay`]): send a stored delivery to the local receiver or any URL.
//! - `export` ([`export`]), `stats` ([`stats`]): read the data dir (read-only, beside `serve`).
//! - `manpages` ([`manpages`], hidden): write the man pages, made from these very definitions, so
//!   they always say what `--help` says (the `.deb` ships them).
//!
//! Exit codes of the developer tools: 0 success, 1 the answer is no (invalid signature, non-2xx,
//! unreachable target), 2 usage error (bad input, no secret, no such delivery).

mod common;
mod export;
mod manpages;
mod replay;
mod send;
mod serve;
mod serve_output;
mod signature;
mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "shipwatch",
    version,
    about = "Receive, verify and keep AfterShip webhooks",
    long_about = "Receive, verify and keep AfterShip shipment-tracking webhooks.\n\n\
        `shipwatch serve` runs the receiver (expose it through a tunnel and register it in AfterShip) \
        and the inspector (API + UI, loopback only). The other commands are developer tools: check or \
        make a signature, send test deliveries, replay a stored one, export and count what was received.",
    after_help = ROOT_EXAMPLES,
    after_long_help = ROOT_LONG_AFTER
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const ROOT_EXAMPLES: &str = "Examples:
  shipwatch serve
  shipwatch send --tag Delivered
  shipwatch verify --body body.json --signature \"$SIG\"
  shipwatch export deliveries --verdict failed --format csv -o failed.csv

Each command has its own help: shipwatch <command> --help (or man shipwatch-<command>).";

const ROOT_LONG_AFTER: &str = "Examples:
  shipwatch serve
  shipwatch send --tag Delivered
  shipwatch verify --body body.json --signature \"$SIG\"
  shipwatch export deliveries --verdict failed --format csv -o failed.csv

Each command has its own help: shipwatch <command> --help (or man shipwatch-<command>).

Environment:
  SHIPWATCH_DATA_DIR           data directory [default: ~/.local/share/shipwatch]
  SHIPWATCH_LISTEN             receiver address [default: 127.0.0.1:8787]
  SHIPWATCH_INSPECTOR_LISTEN   inspector address, loopback only [default: 127.0.0.1:8788]
  SHIPWATCH_SECRET             the webhook secret from AfterShip (never taken from the command line)
  SHIPWATCH_PREVIOUS_SECRET    the previous secret, while rotating
  SHIPWATCH_LOG                log filter for stderr, else RUST_LOG [default: warn,shipwatch=info]

Files (in the data directory):
  shipwatch.db       every delivery, byte-exact, and the shipments (SQLite)
  settings.json      secrets, receiver address and path, notification settings (0600)
  inspector-token    the inspector's token (0600)
  shipwatch.lock     one Shipwatch per data directory

Exit status of the developer tools: 0 success, 1 the answer is no (invalid signature, non-2xx answer,
unreachable target), 2 usage error.";

#[derive(Subcommand)]
enum Command {
    /// Run the receiver and the inspector until Ctrl-C.
    ///
    /// Secrets come from the settings file in the data dir or from SHIPWATCH_SECRET and
    /// SHIPWATCH_PREVIOUS_SECRET (never from the command line).
    #[command(after_help = "Examples:
  shipwatch serve
  SHIPWATCH_SECRET=... shipwatch serve --listen 127.0.0.1:8080
  shipwatch serve --data-dir /tmp/sw --listen 127.0.0.1:0 --inspector-listen 127.0.0.1:0
  shipwatch serve --json | jq -c 'select(.verdict != \"valid\") | {id, diagnosis}'")]
    Serve {
        /// Where the database, settings and token live [default: the platform's data dir]
        #[arg(long, env = "SHIPWATCH_DATA_DIR", value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Receiver address (expose this through your tunnel) [default: 127.0.0.1:8787]
        #[arg(long, env = "SHIPWATCH_LISTEN", value_name = "ADDR", value_parser = listen_address)]
        listen: Option<SocketAddr>,
        /// Inspector address, loopback only [default: 127.0.0.1:8788]
        #[arg(long, env = "SHIPWATCH_INSPECTOR_LISTEN", value_name = "ADDR", value_parser = listen_address)]
        inspector_listen: Option<SocketAddr>,
        /// One JSON object per delivery on stdout instead of a line (the inspector API's item, with
        /// "type" and "diagnosis_label"); the startup lines go to stderr
        #[arg(long, conflicts_with = "quiet")]
        json: bool,
        /// Print no line per delivery (only the startup and stop lines)
        #[arg(long, short = 'q')]
        quiet: bool,
    },

    /// Check an aftership-hmac-sha256 signature against a body and your secret, and say why it fails.
    ///
    /// The secret comes from SHIPWATCH_SECRET (and SHIPWATCH_PREVIOUS_SECRET), or a prompt that does
    /// not echo; never from the command line. Exit status: 0 valid, 1 not valid, 2 usage error.
    #[command(after_help = "Examples:
  SHIPWATCH_SECRET=... shipwatch verify --body body.json --signature 'Qh1jhi3vGpD3Xp8X2sY0l4HvqX2BqmMmh6p8s0vQ2dM='
  shipwatch verify --body - --signature \"$SIG\" < body.json      (prompts for the secret)
  xclip -selection clipboard -o | shipwatch verify --body - --signature \"$SIG\"
  shipwatch verify --body body.json --signature \"$SIG\" --header 'as-signature-hmac-sha256: ...'")]
    Verify(signature::VerifyArgs),

    /// Print the aftership-hmac-sha256 signature AfterShip would send for a body (base64).
    ///
    /// The secret comes from SHIPWATCH_SECRET or a prompt that does not echo; never from the command line.
    #[command(after_help = "Examples:
  SHIPWATCH_SECRET=... shipwatch sign --body body.json
  curl -X POST http://127.0.0.1:8787/webhooks/aftership -H 'content-type: application/json' \\
       -H \"aftership-hmac-sha256: $(shipwatch sign --body body.json)\" --data-binary @body.json")]
    Sign(signature::SignArgs),

    /// Send AfterShip-shaped test deliveries (any tag and subtag, v4 or versioned) to the local
    /// receiver or any URL.
    ///
    /// Signed with SHIPWATCH_SECRET, else the secret saved in the data dir's settings, else a prompt
    /// (or --unsigned). Prints the status of each delivery; exit status 1 when any was not answered 2xx.
    #[command(after_help = "Examples:
  shipwatch send --tag Delivered
  shipwatch send --subtag Exception_004 --shape versioned
  shipwatch send --tag OutForDelivery --tracking-number 1Z999AA10123456784 --count 3
  shipwatch send --tag InTransit --to https://abc.trycloudflare.com/webhooks/aftership
  shipwatch send --tag AttemptFail --dry-run > delivery.txt")]
    Send(send::SendArgs),

    /// Send a stored delivery to the local receiver or any URL: byte-exact body, original headers and
    /// signature (or re-signed), then print the target's status, headers and body.
    ///
    /// Works while `shipwatch serve` runs on the same data dir (the database is read-only here).
    /// Without --to it goes to the local receiver, found as `send` finds it.
    /// Exit status: 0 when the target answered 2xx, 1 otherwise, 2 usage error.
    #[command(after_help = "Examples:
  shipwatch replay 42
  shipwatch replay 42 --to http://127.0.0.1:3000/webhooks/aftership
  SHIPWATCH_SECRET=new-secret shipwatch replay 42 --to http://localhost:3000/hook --resign
  shipwatch replay 42 --to http://localhost:3000/hook --body edited.json --resign
  shipwatch replay 7 --to https://staging.example.com/hooks/aftership --data-dir /srv/shipwatch")]
    Replay(replay::ReplayArgs),

    /// Export deliveries or shipments as NDJSON or CSV, with the inspector's filters.
    ///
    /// Newest first. Streams page by page (bounded memory); shows a progress bar on stderr for large
    /// exports at a terminal. Safe while `shipwatch serve` runs.
    #[command(after_help = "Examples:
  shipwatch export deliveries > deliveries.ndjson
  shipwatch export deliveries --verdict failed --format csv --out failed.csv
  shipwatch export deliveries --search 1Z999AA10123456784 --full
  shipwatch export shipments --tag Delivered --format csv -o delivered.csv")]
    Export(export::ExportArgs),

    /// Show deliveries (total, today, by verdict), shipments by tag, the database's size and the
    /// data dir.
    #[command(after_help = "Examples:
  shipwatch stats
  shipwatch stats --data-dir /srv/shipwatch --json")]
    Stats(stats::StatsArgs),

    /// Write the man pages (shipwatch.1 and one per command), made from this program's own help.
    ///
    /// Used to build the .deb; hidden from the command list.
    #[command(
        hide = true,
        after_help = "Examples:
  shipwatch manpages --out target/release/man
  shipwatch manpages | man -l -"
    )]
    Manpages(manpages::ManpagesArgs),
}

fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHIPWATCH_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,shipwatch=info"));
    // Colours for a terminal only: a log file or a pipe gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// `--listen` / `--inspector-listen` (or their env vars): `IP:PORT`, `localhost:PORT` or a bare port,
/// as the settings file takes them.
fn listen_address(value: &str) -> Result<SocketAddr, String> {
    shipwatch_server::config::parse_addr(value).ok_or_else(|| {
        "expected IP:PORT such as 127.0.0.1:8787, localhost:8787 or just a port (8787); \
         use 0 as the port to let the system pick one"
            .to_owned()
    })
}

/// mimalloc: the engine allocates on the async threads and frees on the storage writer (and back);
/// glibc malloc spends a tenth of their time on that (arena locks, consolidation).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Read before any thread starts: the local offset cannot be read safely afterwards.
    let local_offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Serve { data_dir, listen, inspector_listen, json, quiet } => {
            let output = match (json, quiet) {
                (_, true) => serve_output::Output::Quiet,
                (true, false) => serve_output::Output::Json,
                (false, false) => serve_output::Output::Lines,
            };
            let runtime = shipwatch_server::engine_runtime("shipwatch-async").expect("tokio runtime");
            return runtime.block_on(serve::serve(data_dir, listen, inspector_listen, output, local_offset));
        }
        Command::Verify(args) => signature::verify(args),
        Command::Sign(args) => signature::sign_body(args),
        Command::Send(args) => send::send(args),
        Command::Replay(args) => replay::replay(args),
        Command::Export(args) => export::export(args),
        Command::Stats(args) => stats::stats(args, local_offset),
        Command::Manpages(args) => manpages::manpages(args, Cli::command()),
    };
    result.unwrap_or_else(common::Failure::exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own consistency checks, then every command and argument has a help text and every
    /// command examples: an empty line in `--help` (or the man page) is a bug.
    #[test]
    fn every_command_and_argument_has_help_and_examples() {
        let root = Cli::command();
        root.clone().debug_assert();
        let mut problems = Vec::new();
        check_command(&root, "shipwatch", &mut problems);
        assert!(problems.is_empty(), "help problems:\n{}", problems.join("\n"));
    }

    fn check_command(cmd: &clap::Command, path: &str, problems: &mut Vec<String>) {
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        if about.trim().is_empty() {
            problems.push(format!("`{path}` has no about text"));
        }
        let after = cmd.get_after_help().map(|a| a.to_string()).unwrap_or_default();
        if !after.contains("Examples:") || !after.contains(&format!("{path} ")) {
            problems.push(format!("`{path} --help` has no example of `{path}` under \"Examples:\""));
        }
        for arg in cmd.get_arguments() {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            if help.trim().is_empty() {
                problems.push(format!("`{path}`: the argument `{}` has no help text", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            check_command(sub, &format!("{path} {}", sub.get_name()), problems);
        }
    }
}
