//! `shipwatch stats`: deliveries (total, today, by verdict, failures), shipments by tag, the
//! database's size and where the data lives. Read-only: fine while `serve` runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use shipwatch_devtools::stats::{collect, human_bytes, local_midnight_ms, FAILED_VERDICTS};
use shipwatch_store::queries::rfc3339_ms;

use crate::common::{data_dir, open_database, CmdResult, Failure};

#[derive(Args)]
pub struct StatsArgs {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
    /// Where the database lives [default: the platform's data dir]
    #[arg(long, env = "SHIPWATCH_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// `offset`: the local UTC offset, read before any thread started (UTC when unknown).
pub fn stats(args: StatsArgs, offset: time::UtcOffset) -> CmdResult {
    let dir = data_dir(args.data_dir.clone())?;
    let conn = open_database(&dir)?;
    let today = local_midnight_ms(time::OffsetDateTime::now_utc(), offset);
    let s = collect(&conn, &dir, today).map_err(|e| Failure::Failed(e.to_string()))?;
    let today_count =
        |verdict: &str| s.verdicts_today.iter().find(|(v, _)| v == verdict).map_or(0, |(_, n)| *n);

    if args.json {
        let counts = |list: &[(String, i64)]| {
            serde_json::Value::Object(list.iter().map(|(v, n)| (v.clone(), serde_json::json!(n))).collect())
        };
        let value = serde_json::json!({
            "data_dir": s.data_dir,
            "database": s.database,
            "database_bytes": s.database_bytes,
            "deliveries": {
                "total": s.deliveries_total,
                "today": s.deliveries_today,
                "failed": s.failed_total,
                "failed_today": s.failed_today,
                "by_verdict": counts(&s.verdicts),
                "today_by_verdict": counts(&s.verdicts_today),
                "first_at": s.first_delivery_ms.map(rfc3339_ms),
                "last_at": s.last_delivery_ms.map(rfc3339_ms),
            },
            "shipments": {
                "total": s.shipments_total,
                "test": s.shipments_test,
                "by_tag": s.shipments_by_tag.iter().map(|t| (t.tag.clone(), serde_json::json!(t.count))).collect::<serde_json::Map<_, _>>(),
            },
        });
        println!("{}", serde_json::to_string_pretty(&value).expect("stats serialise"));
        return Ok(ExitCode::SUCCESS);
    }

    println!("data dir:    {}", s.data_dir.display());
    println!("database:    {} ({})", s.database.display(), human_bytes(s.database_bytes));
    println!("deliveries:  {} total, {} today", s.deliveries_total, s.deliveries_today);
    for (verdict, count) in &s.verdicts {
        println!("  {verdict:<12} {count:>8}   today {:>6}", today_count(verdict));
    }
    println!(
        "  {:<12} {:>8}   today {:>6}   ({})",
        "failed",
        s.failed_total,
        s.failed_today,
        FAILED_VERDICTS.join(", ")
    );
    if let (Some(first), Some(last)) = (s.first_delivery_ms, s.last_delivery_ms) {
        println!("  first {}, last {}", rfc3339_ms(first), rfc3339_ms(last));
    }
    if s.shipments_test > 0 {
        println!("shipments:   {} (and {} test, left out)", s.shipments_total, s.shipments_test);
    } else {
        println!("shipments:   {}", s.shipments_total);
    }
    for tag in &s.shipments_by_tag {
        println!("  {:<20} {:>8}", tag.tag, tag.count);
    }
    Ok(ExitCode::SUCCESS)
}
