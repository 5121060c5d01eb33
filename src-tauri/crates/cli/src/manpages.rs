//! `shipwatch manpages` (hidden): the man pages, rendered by clap_mangen from the same clap
//! definitions as `--help`, so the two never disagree. `tests/desktop/package-deb.sh` runs it on the
//! release binary and the `.deb` ships the pages in /usr/share/man/man1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::common::{CmdResult, Failure};

#[derive(Args)]
pub struct ManpagesArgs {
    /// Write shipwatch.1 and shipwatch-<command>.1 into this directory (created if missing)
    /// instead of printing shipwatch.1 to stdout
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn manpages(args: ManpagesArgs, cli: clap::Command) -> CmdResult {
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", dir.display())))?;
            clap_mangen::generate_to(cli, dir).map_err(|e| {
                Failure::Failed(format!("cannot write the man pages to {}: {e}", dir.display()))
            })?;
            let mut pages: Vec<String> = std::fs::read_dir(dir)
                .map_err(|e| Failure::Failed(format!("cannot list {}: {e}", dir.display())))?
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .filter(|name| name.ends_with(".1"))
                .collect();
            pages.sort();
            eprintln!("wrote {} man pages to {}: {}", pages.len(), dir.display(), pages.join(" "));
        }
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cli.disable_help_subcommand(true))
                .render(&mut out)
                .map_err(|e| Failure::Failed(format!("cannot write the man page: {e}")))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
