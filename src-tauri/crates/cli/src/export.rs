//! `shipwatch export`: deliveries or shipments as NDJSON or CSV, with the inspector API's filters,
//! to stdout or a file, with a progress bar on stderr for large exports at a terminal.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use shipwatch_api::{DeliveryQuery, ShipmentQuery};
use shipwatch_devtools::export::{export_deliveries, export_shipments};
use shipwatch_devtools::stats::human_bytes;
use shipwatch_devtools::{DevtoolsError, ExportFormat, ExportOptions, ExportProgress};

use crate::common::{data_dir, open_database, store_failure, CmdResult, Failure};

/// Exports with at least this many rows get a progress bar.
const PROGRESS_FROM_ROWS: u64 = 2_000;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// Every delivery received, with its verdict and answer
    Deliveries,
    /// The shipments the deliveries built
    Shipments,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line
    Ndjson,
    /// Comma-separated, with a header row
    Csv,
}

#[derive(Args)]
pub struct ExportArgs {
    /// What to export
    what: What,
    /// Output format
    #[arg(long, value_enum, default_value = "ndjson")]
    format: Format,
    /// Deliveries only: valid, invalid, missing, malformed, unverified, too_large, or failed (all
    /// that were answered 401/413)
    #[arg(long)]
    verdict: Option<String>,
    /// Text to match: tracking number, order id, event id (deliveries) or title (shipments).
    /// (`--q`, its old name, still works.)
    #[arg(long, short = 'q', alias = "q", value_name = "TEXT")]
    search: Option<String>,
    /// Status tag, e.g. Delivered
    #[arg(long)]
    tag: Option<String>,
    /// Deliveries only: courier slug, e.g. usps
    #[arg(long)]
    slug: Option<String>,
    /// Deliveries only: why the signature passed or failed, as a diagnosis code: wrong_secret,
    /// hex_signature, reserialised_body, trailing_newline, missing_header, valid_current, ... (the
    /// `diagnosis` field of each row)
    #[arg(long, value_name = "CODE")]
    diagnosis: Option<String>,
    /// Deliveries only: received at or after this time, RFC 3339 (2026-12-08T09:00:00Z, or with an
    /// offset) or a date (2026-12-08, from its start in UTC)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Deliveries only: received before this time, RFC 3339 or a date (a date includes that whole
    /// day, UTC)
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Export at most N rows (newest first)
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// Deliveries only: add method, path, peer, headers and the body (base64) of each
    #[arg(long)]
    full: bool,
    /// Write to this file instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
    /// Where the database lives [default: the platform's data dir]
    #[arg(long, env = "SHIPWATCH_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

pub fn export(args: ExportArgs) -> CmdResult {
    if args.what == What::Shipments {
        for (set, flag) in [
            (args.verdict.is_some(), "--verdict"),
            (args.slug.is_some(), "--slug"),
            (args.full, "--full"),
            (args.since.is_some(), "--since"),
            (args.until.is_some(), "--until"),
        ] {
            if set {
                return Err(Failure::Usage(format!(
                    "{flag} applies to deliveries only: drop it or export deliveries"
                )));
            }
        }
    }
    if args.limit == Some(0) {
        return Err(Failure::Usage("--limit must be at least 1 (leave it out to export everything)".into()));
    }
    let dir = data_dir(args.data_dir.clone())?;
    let conn = open_database(&dir)?;
    let options = ExportOptions {
        format: match args.format {
            Format::Ndjson => ExportFormat::Ndjson,
            Format::Csv => ExportFormat::Csv,
        },
        include_bodies: args.full,
    };

    let (mut out, out_name): (Box<dyn Write>, String) = match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", path.display())))?;
            (Box::new(file), path.display().to_string())
        }
        None => (Box::new(std::io::stdout().lock()), "stdout".to_owned()),
    };

    let bar = ProgressBar::new(args.out.is_some() || !std::io::stdout().is_terminal());
    let mut progress = |p: ExportProgress| bar.update(p);
    let what = match args.what {
        What::Deliveries => "deliveries",
        What::Shipments => "shipments",
    };
    let result = match args.what {
        What::Deliveries => {
            let query = DeliveryQuery {
                verdict: args.verdict.clone(),
                q: args.search.clone(),
                tag: args.tag.clone(),
                slug: args.slug.clone(),
                diagnosis: args.diagnosis.clone(),
                since: args.since.clone(),
                until: args.until.clone(),
                limit: args.limit,
                ..Default::default()
            };
            export_deliveries(&conn, &query, options, &mut out, &mut progress)
        }
        What::Shipments => {
            let query = ShipmentQuery {
                tag: args.tag.clone(),
                q: args.search.clone(),
                limit: args.limit,
                ..Default::default()
            };
            export_shipments(&conn, &query, options, &mut out, &mut progress)
        }
    };
    bar.finish();
    let summary = result.map_err(|e| match e {
        DevtoolsError::Store(store) => store_failure(store),
        DevtoolsError::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
            Failure::Failed(String::new())
        }
        other => Failure::Failed(format!("export to {out_name} failed: {other}")),
    })?;
    out.flush().map_err(|e| Failure::Failed(format!("cannot write to {out_name}: {e}")))?;
    if args.out.is_some() || std::io::stderr().is_terminal() {
        eprintln!("exported {} {what} ({}) to {out_name}", summary.rows, human_bytes(summary.bytes));
    }
    Ok(ExitCode::SUCCESS)
}

/// indicatif's bar on stderr, shown only at a terminal and for large exports.
struct ProgressBar {
    bar: std::cell::OnceCell<indicatif::ProgressBar>,
    allowed: bool,
}

impl ProgressBar {
    /// `allowed`: stdout is not the terminal the bar would draw over.
    fn new(allowed: bool) -> Self {
        ProgressBar { bar: std::cell::OnceCell::new(), allowed: allowed && std::io::stderr().is_terminal() }
    }

    fn update(&self, p: ExportProgress) {
        if !self.allowed || p.total < PROGRESS_FROM_ROWS {
            return;
        }
        let bar = self.bar.get_or_init(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(p.total),
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({percent}%)  eta {eta}")
                    .expect("progress template"),
            );
            bar
        });
        bar.set_position(p.rows);
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}
