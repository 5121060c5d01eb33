//! `shipwatch send`: posts AfterShip-shaped test deliveries (any tag and subtag, v4 or versioned
//! shape, signed with the user's secret) to the local receiver or any URL, and prints each answer.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use shipwatch_aftership::{EventKind, Tag};
use shipwatch_devtools::events::{self, tag_of_subtag, Shape, TestEvent, DEFAULT_WEBHOOK_VERSION};
use shipwatch_devtools::{SendOptions, Sender};
use shipwatch_server::config::Settings;

use crate::common::{
    data_dir, local_receiver_url, printable_body, prompt_secret, runtime, CmdResult, Failure,
};

#[derive(Args)]
pub struct SendArgs {
    /// Status tag: Pending, InfoReceived, InTransit, OutForDelivery, AttemptFail, Delivered,
    /// AvailableForPickup, Exception, Expired (or any other name) [default: InTransit, or the
    /// subtag's tag]
    #[arg(long)]
    tag: Option<String>,
    /// Subtag, e.g. Delivered_005 or Exception_004 [default: the tag's _001]
    #[arg(long)]
    subtag: Option<String>,
    /// Payload shape: v4 (legacy) or versioned (sent with as-webhook-version)
    #[arg(long, default_value = "v4", value_name = "v4|versioned")]
    shape: String,
    /// The as-webhook-version of the versioned shape
    #[arg(long = "webhook-version", default_value = DEFAULT_WEBHOOK_VERSION, value_name = "YYYY-MM")]
    webhook_version: String,
    /// Event: tracking_update, edd_revise or tracking_pending_time
    #[arg(long, default_value = "tracking_update")]
    event: String,
    /// Where to post [default: the local receiver: the address and path in the data dir's
    /// settings, else http://127.0.0.1:8787/webhooks/aftership]
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// How many deliveries to send (each its own event id)
    #[arg(long, default_value_t = 1, value_name = "N")]
    count: u32,
    /// Tracking number of every delivery [default: a new SWTEST… number per delivery]
    #[arg(long, value_name = "NUMBER")]
    tracking_number: Option<String>,
    /// Courier slug
    #[arg(long, default_value = "usps")]
    slug: String,
    /// The shipment's title (msg.title), e.g. "Blue mug" [default: the tracking number, as AfterShip
    /// sets it]
    #[arg(long)]
    title: Option<String>,
    /// The order id (msg.order_id), found by the inspector's search and `export --search` [default:
    /// none]
    #[arg(long = "order-id", value_name = "ID")]
    order_id: Option<String>,
    /// Checkpoints in each delivery (42 give a body of about 17 KB)
    #[arg(long, default_value_t = 2, value_name = "N")]
    checkpoints: usize,
    /// Send without a signature header
    #[arg(long)]
    unsigned: bool,
    /// Print the first delivery's headers and body instead of sending
    #[arg(long)]
    dry_run: bool,
    /// Seconds to wait for each answer
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    timeout: u64,
    /// Data dir whose settings give the default target and secret
    #[arg(long, env = "SHIPWATCH_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

fn parse_event(name: &str) -> Result<EventKind, Failure> {
    match EventKind::parse(name.trim()) {
        EventKind::Unknown(other) => Err(Failure::Usage(format!(
            "unknown event {other:?}: use tracking_update, edd_revise or tracking_pending_time"
        ))),
        known => Ok(known),
    }
}

pub fn send(args: SendArgs) -> CmdResult {
    let shape: Shape =
        args.shape.parse().map_err(|e: shipwatch_devtools::DevtoolsError| Failure::Usage(e.to_string()))?;
    let tag = match (&args.tag, &args.subtag) {
        (Some(tag), _) => Tag::parse(tag.trim()),
        (None, Some(subtag)) => tag_of_subtag(subtag.trim()),
        (None, None) => Tag::InTransit,
    };
    if let Tag::Unknown(name) = &tag {
        eprintln!(
            "note: {name:?} is not a tag AfterShip documents; sending it anyway (tags are an open set)"
        );
    }
    if args.count == 0 {
        return Err(Failure::Usage("--count must be at least 1".into()));
    }
    let event_kind = parse_event(&args.event)?;
    let mut event = TestEvent::new(tag);
    event.subtag = args.subtag.clone().map(|s| s.trim().to_owned());
    event.shape = shape;
    event.version = args.webhook_version.trim().to_owned();
    event.event = Some(event_kind);
    event.slug = args.slug.clone();
    event.title = args.title.clone();
    event.order_id = args.order_id.clone();
    event.checkpoints = args.checkpoints;
    event.validate().map_err(|e| Failure::Usage(e.to_string()))?;

    let dir = data_dir(args.data_dir.clone())?;
    let settings = Settings::load(&dir).map_err(|e| Failure::Usage(e.to_string()))?;
    let url = match &args.to {
        Some(url) => url.trim().to_owned(),
        None => local_receiver_url(&settings)?,
    };
    shipwatch_devtools::http::parse_url(&url).map_err(|e| Failure::Usage(e.to_string()))?;

    let secret = if args.unsigned { None } else { Some(secret_for_send(&settings, &dir)?) };

    if args.dry_run {
        event.tracking_number = args.tracking_number.clone();
        let delivery = events::build(&event, secret.as_deref()).map_err(|e| Failure::Usage(e.to_string()))?;
        println!("POST {url}");
        for (name, value) in &delivery.headers {
            println!("{name}: {value}");
        }
        println!();
        println!("{}", printable_body(&delivery.body));
        return Ok(ExitCode::SUCCESS);
    }

    let sender =
        Sender::new(SendOptions { timeout: Duration::from_secs(args.timeout.max(1)), ..Default::default() })
            .map_err(|e| Failure::Failed(e.to_string()))?;
    let rt = runtime();
    let mut failures = 0u32;
    let mut explained: Vec<u16> = Vec::new();
    for n in 1..=args.count {
        let mut event = event.clone();
        event.tracking_number = args.tracking_number.clone();
        let delivery = events::build(&event, secret.as_deref()).map_err(|e| Failure::Usage(e.to_string()))?;
        let subtag = event.subtag.clone().unwrap_or_else(|| format!("{}_001", event.tag.as_str()));
        let what = format!(
            "{}/{} {} event {} ({}, {})",
            event.tag,
            subtag,
            delivery.tracking_number,
            delivery.event_id,
            shape.as_str(),
            if delivery.signed { "signed" } else { "unsigned" }
        );
        match rt.block_on(events::send(&sender, &url, &delivery)) {
            Ok(response) => {
                println!(
                    "[{n}/{}] {} {} in {} ms: {what}",
                    args.count,
                    response.status,
                    response.reason.as_deref().unwrap_or(""),
                    response.elapsed.as_millis()
                );
                if let Some(err) = response.error() {
                    failures += 1;
                    // Explain the first failure of each status; the rest only get their status line.
                    if !explained.contains(&response.status) {
                        explained.push(response.status);
                        let body = printable_body(&response.body);
                        let snippet: String = body.chars().take(300).collect();
                        eprintln!("  answer: {snippet}");
                        if response.status == 401 && !delivery.signed {
                            eprintln!("  HTTP 401: the target requires a signature: leave out --unsigned");
                        } else {
                            eprintln!("  {err}");
                        }
                    }
                }
            }
            Err(err) => {
                return Err(Failure::Failed(format!("[{n}/{}] not sent to {url}: {err}", args.count)));
            }
        }
    }
    if failures > 0 {
        return Err(Failure::Failed(format!(
            "{failures} of {} deliveries were not accepted (2xx)",
            args.count
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// `SHIPWATCH_SECRET`, else the secret saved in the data dir's settings, else a prompt.
fn secret_for_send(settings: &Settings, dir: &std::path::Path) -> Result<String, Failure> {
    if let Ok(secret) = std::env::var("SHIPWATCH_SECRET") {
        if !secret.is_empty() {
            return Ok(secret);
        }
    }
    let saved = settings.secrets();
    if let Some(secret) = saved.current.or(saved.previous) {
        return Ok(secret);
    }
    if let Some(secret) = prompt_secret("sign the test deliveries")? {
        return Ok(secret);
    }
    Err(Failure::Usage(format!(
        "no webhook secret to sign with: set SHIPWATCH_SECRET, save the secret in Settings (it is read \
         from {}), or pass --unsigned",
        Settings::path(dir).display()
    )))
}
