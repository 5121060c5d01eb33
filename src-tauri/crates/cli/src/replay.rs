//! `shipwatch replay`: sends a stored delivery to any URL (byte-exact body, original headers,
//! optionally re-signed) and prints what the target answered. Reads the database read-only, so it
//! works while `serve` runs on the same data dir.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use shipwatch_devtools::replay::{self, ReplayOptions};
use shipwatch_devtools::{DevtoolsError, SendOptions, Sender};
use shipwatch_server::config::Settings;
use shipwatch_store::{queries, StoreError};

use crate::common::{
    data_dir, local_receiver_url, open_database, printable_body, read_body, runtime,
    secrets_from_env_or_prompt, store_failure, CmdResult, Failure,
};

#[derive(Args)]
pub struct ReplayArgs {
    /// The delivery's id (as in `shipwatch export deliveries` or the inspector)
    #[arg(value_name = "ID")]
    id: i64,
    /// Where to send it, e.g. http://127.0.0.1:3000/webhooks/aftership [default: the local
    /// receiver, as for `send`: SHIPWATCH_LISTEN, else the address and path in the data dir's
    /// settings, else http://127.0.0.1:8787/webhooks/aftership]
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Re-sign with a secret (from SHIPWATCH_SECRET or a prompt, never argv) instead of keeping the
    /// original signature
    #[arg(long)]
    resign: bool,
    /// Send this body instead of the stored one (edit, then replay): a file, or - for stdin
    #[arg(long, value_name = "FILE|-")]
    body: Option<PathBuf>,
    /// Leave this header out too (repeatable), e.g. --drop-header cdn-loop
    #[arg(long = "drop-header", value_name = "NAME")]
    drop_headers: Vec<String>,
    /// Seconds to wait for the answer
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    timeout: u64,
    /// Where the database lives [default: the platform's data dir]
    #[arg(long, env = "SHIPWATCH_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

pub fn replay(args: ReplayArgs) -> CmdResult {
    let dir = data_dir(args.data_dir.clone())?;
    let conn = open_database(&dir)?;
    let record = queries::get_delivery(&conn, args.id).map_err(|e| match e {
        StoreError::NotFound => Failure::Usage(format!(
            "no delivery {} in {dir}: list them with `shipwatch export deliveries --data-dir {dir}`",
            args.id,
            dir = dir.display()
        )),
        other => store_failure(other),
    })?;
    drop(conn);
    let (to, local) = match &args.to {
        Some(url) => (url.trim().to_owned(), false),
        None => {
            let settings = Settings::load(&dir).map_err(|e| Failure::Usage(e.to_string()))?;
            (local_receiver_url(&settings)?, true)
        }
    };
    shipwatch_devtools::http::parse_url(&to).map_err(|e| Failure::Usage(e.to_string()))?;

    let body = args.body.as_deref().map(read_body).transpose()?;
    let resign_with =
        if args.resign { secrets_from_env_or_prompt("re-sign the delivery")?.current } else { None };
    let options = ReplayOptions { resign_with, body, drop_headers: args.drop_headers.clone() };
    let prepared = replay::prepare(&record, &options).map_err(|e| match e {
        DevtoolsError::TruncatedBody { .. } => {
            Failure::Usage(format!("{e}: save it to a file, fix it and pass --body FILE"))
        }
        other => Failure::Usage(other.to_string()),
    })?;

    let sender =
        Sender::new(SendOptions { timeout: Duration::from_secs(args.timeout.max(1)), ..Default::default() })
            .map_err(|e| Failure::Failed(e.to_string()))?;
    let signature = if prepared.resigned {
        "re-signed with the given secret"
    } else if prepared.signature().is_none() {
        "no signature header"
    } else if prepared.signature_stale {
        "original signature (it does not match the edited body: add --resign)"
    } else {
        "original signature"
    };
    eprintln!(
        "replaying delivery {} to {to}{}: {} body of {} bytes, {} headers, {signature}",
        record.item.id,
        if local { " (the local receiver; --to URL sends it elsewhere)" } else { "" },
        if prepared.body_edited { "edited" } else { "byte-exact" },
        prepared.body.len(),
        prepared.headers.len(),
    );
    let response = runtime()
        .block_on(sender.send(&prepared.request(&to)))
        .map_err(|e| Failure::Failed(format!("replay of delivery {} failed: {e}", record.item.id)))?;

    println!(
        "{} {} {}  ({} ms)",
        response.http_version,
        response.status,
        response.reason.as_deref().unwrap_or(""),
        response.elapsed.as_millis()
    );
    for (name, value) in &response.headers {
        println!("{name}: {value}");
    }
    println!();
    println!("{}", printable_body(&response.body));
    if response.body_truncated {
        eprintln!("(the answer's body was cut at {} bytes)", sender.options().max_response_body);
    }
    match response.error() {
        None => Ok(ExitCode::SUCCESS),
        Some(err) => Err(Failure::Failed(err.to_string())),
    }
}
