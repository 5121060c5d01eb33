//! What the developer subcommands share: how a command fails (exit 1 or 2, a message saying what to
//! do), the data dir (resolved like `serve`), the read-only database, the webhook secret (from the
//! environment or a prompt without echo, never from argv) and reading a body from a file or stdin.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rusqlite::Connection;
use shipwatch_aftership::Secrets;
use shipwatch_server::config::{parse_addr, Settings, DEFAULT_LISTEN};
use shipwatch_store::StoreError;

/// How a command ended badly.
#[derive(Debug)]
pub enum Failure {
    /// The command ran and the answer is "no" (invalid signature, non-2xx answer, unreachable
    /// target): exit 1.
    Failed(String),
    /// The command could not run as asked (bad input, no secret, no such delivery): exit 2.
    Usage(String),
}

pub type CmdResult = Result<ExitCode, Failure>;

impl Failure {
    pub fn exit(self) -> ExitCode {
        match self {
            Failure::Failed(message) => {
                if !message.is_empty() {
                    eprintln!("shipwatch: {message}");
                }
                ExitCode::from(1)
            }
            Failure::Usage(message) => {
                eprintln!("shipwatch: {message}");
                ExitCode::from(2)
            }
        }
    }
}

/// `--data-dir`, else `SHIPWATCH_DATA_DIR` (clap reads it), else the platform's data dir: the same
/// resolution as `serve`.
pub fn data_dir(flag: Option<PathBuf>) -> Result<PathBuf, Failure> {
    flag.filter(|p| !p.as_os_str().is_empty()).or_else(shipwatch_server::config::default_data_dir).ok_or_else(
        || Failure::Usage("no data directory: pass --data-dir DIR or set SHIPWATCH_DATA_DIR".into()),
    )
}

/// The local receiver's webhook URL, where `send` and `replay` go without `--to`: the address from
/// `SHIPWATCH_LISTEN`, else the settings' address, else the default (127.0.0.1:8787; an unspecified
/// address such as 0.0.0.0 is reached on loopback), and the settings' webhook path.
pub fn local_receiver_url(settings: &Settings) -> Result<String, Failure> {
    let listen = std::env::var("SHIPWATCH_LISTEN")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| settings.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let mut addr = parse_addr(&listen).ok_or_else(|| {
        Failure::Usage(format!("the receiver address {listen:?} is not like 127.0.0.1:8787: pass --to URL"))
    })?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Ok(format!("http://{addr}{}", settings.webhook_path()))
}

/// Opens the data dir's database read-only (safe while `serve` writes to it).
pub fn open_database(data_dir: &Path) -> Result<Connection, Failure> {
    shipwatch_store::queries::open_read_only(data_dir).map_err(|e| match e {
        StoreError::Open { .. } if !shipwatch_store::db_path(data_dir).is_file() => Failure::Usage(format!(
            "no Shipwatch database in {dir}: start `shipwatch serve --data-dir {dir}` once, or pass the \
             --data-dir that `shipwatch serve` printed as `data:`",
            dir = data_dir.display()
        )),
        other => Failure::Usage(format!("cannot read the database in {}: {other}", data_dir.display())),
    })
}

/// A store error while reading, as a failure.
pub fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::BadQuery(message) => Failure::Usage(message),
        other => Failure::Failed(format!("database error: {other}")),
    }
}

fn env_secret(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

/// The webhook secret: `SHIPWATCH_SECRET` (with `SHIPWATCH_PREVIOUS_SECRET` as the previous one),
/// else a prompt without echo when a person is at the terminal. Never from argv.
pub fn secrets_from_env_or_prompt(why: &str) -> Result<Secrets, Failure> {
    if let Some(current) = env_secret("SHIPWATCH_SECRET") {
        return Ok(Secrets { current: Some(current), previous: env_secret("SHIPWATCH_PREVIOUS_SECRET") });
    }
    if let Some(secret) = prompt_secret(why)? {
        return Ok(Secrets { current: Some(secret), previous: None });
    }
    Err(Failure::Usage(format!(
        "no webhook secret to {why}: set SHIPWATCH_SECRET (the secret from AfterShip → Settings → \
         Notifications), or run this in a terminal to be asked for it; it is never taken from the \
         command line"
    )))
}

/// Asks for the secret on the terminal without echo, when someone is there to type it.
pub fn prompt_secret(why: &str) -> Result<Option<String>, Failure> {
    if !(std::io::stdin().is_terminal() || std::io::stderr().is_terminal()) {
        return Ok(None);
    }
    match rpassword::prompt_password(format!("Webhook secret (to {why}; not echoed): ")) {
        Ok(secret) if !secret.is_empty() => {
            warn_whitespace(&secret);
            Ok(Some(secret))
        }
        Ok(_) => Err(Failure::Usage("the secret is empty".into())),
        // No terminal to read from after all (e.g. no controlling tty).
        Err(_) => Ok(None),
    }
}

/// AfterShip's secrets have no surrounding whitespace; a pasted one sometimes does.
pub fn warn_whitespace(secret: &str) {
    if secret.trim() != secret {
        eprintln!(
            "note: the secret starts or ends with whitespace; AfterShip's secret has none, so this is \
             probably a copy-and-paste slip"
        );
    }
}

/// The bytes of `--body FILE`, or stdin for `-`.
pub fn read_body(path: &Path) -> Result<Vec<u8>, Failure> {
    if path.as_os_str() == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .map_err(|e| Failure::Usage(format!("cannot read the body from stdin: {e}")))?;
        return Ok(body);
    }
    std::fs::read(path)
        .map_err(|e| Failure::Usage(format!("cannot read the body from {}: {e}", path.display())))
}

/// A multi-thread tokio runtime for the commands that use the network.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

/// A response or request body for people: the text when it is UTF-8, else a note.
pub fn printable_body(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("<{} bytes, not UTF-8 text>", body.len()),
    }
}
