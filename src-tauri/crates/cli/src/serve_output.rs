//! What `shipwatch serve` prints per delivery: one line each (time, verdict, HTTP status, event,
//! tracking number, tag, the diagnosis's short label, the delivery's id), and in forward mode one
//! line per forward attempt. Coloured when stdout is a terminal (anstream: `NO_COLOR` turns colours
//! off, `CLICOLOR_FORCE` on), plain otherwise. `--json`: one JSON object per line instead, the
//! inspector API's item with `"type": "delivery"` (or `"forward"`) and the label. `--quiet`: none.
//!
//! Nothing printed here carries a secret or an expected signature: the list item has neither.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use serde_json::{json, Value};
use shipwatch_api::{DeliveryItem, ForwardAttempt, LiveEvent, Verdict};
use time::format_description::well_known::Rfc3339;
use time::UtcOffset;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::oneshot;

/// How `serve` reports deliveries on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// One readable line per delivery (the default).
    Lines,
    /// One JSON object per delivery, for piping (`jq`, a log collector).
    Json,
    /// Nothing per delivery.
    Quiet,
}

const DIM: Style = Style::new().dimmed();
const GREEN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
const YELLOW: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
const RED: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red))).bold();
const BOLD: Style = Style::new().bold();

/// Lines waiting for stdout: when a reader stalls (a paused pager), later ones are counted, not kept.
const QUEUE: usize = 1024;

/// Prints each live event until `stop` fires (then what is already queued) or the channel closes.
///
/// The writing is done by a thread of its own: a stdout that blocks (a pipe nobody reads) holds that
/// thread only, never the engine's async workers.
pub async fn print_events(
    mut events: broadcast::Receiver<LiveEvent>,
    output: Output,
    offset: UtcOffset,
    mut stop: oneshot::Receiver<()>,
) {
    let (queue, texts) = std::sync::mpsc::sync_channel::<String>(QUEUE);
    let (written, all_written) = oneshot::channel::<()>();
    let writer = std::thread::Builder::new().name("serve-output".into()).spawn(move || {
        for text in texts {
            let mut out = anstream::stdout().lock();
            // A closed stdout (the reader of a pipe went away) stops the lines, never the engine.
            if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
                return;
            }
        }
        let _ = written.send(());
    });
    if writer.is_err() {
        return;
    }
    let mut printer = Printer { queue, dropped: 0, output, offset };
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = &mut stop => {
                // The engine has stopped: what it sent before is printed, then we are done.
                loop {
                    let event = match events.try_recv() {
                        Ok(event) => Ok(event),
                        Err(TryRecvError::Lagged(missed)) => Err(RecvError::Lagged(missed)),
                        Err(_) => break,
                    };
                    if !printer.print(event) {
                        break;
                    }
                }
                break;
            }
        };
        if matches!(event, Err(RecvError::Closed)) || !printer.print(event) {
            break;
        }
    }
    printer.flush_dropped();
    drop(printer);
    // The last lines reach the terminal before "stopped." (unless stdout stays blocked).
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), all_written).await;
}

struct Printer {
    queue: std::sync::mpsc::SyncSender<String>,
    /// Events not shown because the writer fell behind, not yet reported.
    dropped: u64,
    output: Output,
    offset: UtcOffset,
}

impl Printer {
    /// Queues one event's text; false once the writer has stopped (stdout closed).
    fn print(&mut self, event: Result<LiveEvent, RecvError>) -> bool {
        let text = match event {
            Ok(LiveEvent::Delivery { delivery }) => delivery_text(&delivery, self.output, self.offset),
            Ok(LiveEvent::Forward { forward }) => forward_text(&forward, self.output, self.offset),
            Ok(_) | Err(RecvError::Closed) => None,
            Err(RecvError::Lagged(missed)) => {
                self.dropped += missed;
                None
            }
        };
        let Some(text) = text else { return true };
        if !self.flush_dropped() {
            self.dropped += 1;
            return true;
        }
        match self.queue.try_send(text) {
            Ok(()) => true,
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                self.dropped += 1;
                true
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => false,
        }
    }

    /// Says how many events were not shown, when some were and there is room; true when nothing
    /// is left to say.
    fn flush_dropped(&mut self) -> bool {
        if self.dropped == 0 {
            return true;
        }
        let Some(text) = lagged_text(self.dropped, self.output) else {
            self.dropped = 0;
            return true;
        };
        match self.queue.try_send(text) {
            Ok(()) => {
                self.dropped = 0;
                true
            }
            Err(_) => false,
        }
    }
}

fn delivery_text(d: &DeliveryItem, output: Output, offset: UtcOffset) -> Option<String> {
    match output {
        Output::Quiet => None,
        Output::Json => Some(delivery_json(d).to_string()),
        Output::Lines => Some(delivery_line(d, offset)),
    }
}

fn forward_text(f: &ForwardAttempt, output: Output, offset: UtcOffset) -> Option<String> {
    match output {
        Output::Quiet => None,
        Output::Json => {
            let mut value = serde_json::to_value(f).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                map.insert("type".into(), "forward".into());
            }
            Some(value.to_string())
        }
        Output::Lines => Some(forward_line(f, offset)),
    }
}

fn lagged_text(missed: u64, output: Output) -> Option<String> {
    match output {
        Output::Quiet => None,
        Output::Json => Some(json!({"type": "lagged", "missed": missed}).to_string()),
        Output::Lines => Some(format!(
            "{YELLOW}… {missed} events not shown: this terminal fell behind (all are stored; see the inspector){YELLOW:#}"
        )),
    }
}

/// The short words of a stored diagnosis code ("wrong secret").
pub fn diagnosis_label(d: &DeliveryItem) -> Option<&'static str> {
    let code = d.diagnosis?;
    shipwatch_aftership::DiagnosisCode::parse(code.as_str()).map(|c| c.label())
}

/// The API's list item, `"type": "delivery"` and the diagnosis's label.
pub fn delivery_json(d: &DeliveryItem) -> Value {
    let mut value = serde_json::to_value(d).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("type".into(), "delivery".into());
        map.insert("diagnosis_label".into(), diagnosis_label(d).into());
    }
    value
}

/// `14:03:22` in the local time zone (the stored RFC 3339 text when it cannot be read).
fn local_time(rfc3339: &str, offset: UtcOffset) -> String {
    let format = time::macros::format_description!("[hour]:[minute]:[second]");
    time::OffsetDateTime::parse(rfc3339, &Rfc3339)
        .ok()
        .and_then(|t| t.to_offset(offset).format(&format).ok())
        .unwrap_or_else(|| rfc3339.to_owned())
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Missing => "missing",
        Verdict::Malformed => "malformed",
        Verdict::Unverified => "unverified",
        Verdict::TooLarge => "too_large",
    }
}

/// `14:03:22  401 invalid     tracking_update  9400111899562537680000  InTransit     wrong secret  #7`
pub fn delivery_line(d: &DeliveryItem, offset: UtcOffset) -> String {
    let style = match d.verdict {
        Verdict::Valid => GREEN,
        Verdict::Unverified => YELLOW,
        _ => RED,
    };
    let failed = !matches!(d.verdict, Verdict::Valid | Verdict::Unverified);
    let label = diagnosis_label(d).unwrap_or(if failed { "see the inspector" } else { "" });
    let label_style = if failed || d.verdict == Verdict::Unverified { style } else { DIM };
    let mut line = format!(
        "{DIM}{time}{DIM:#}  {style}{status} {verdict:<10}{style:#} {event:<21} {BOLD}{tn:<24}{BOLD:#} {tag:<18} {label_style}{label:<22}{label_style:#}",
        time = local_time(&d.received_at, offset),
        status = d.status,
        verdict = verdict_word(d.verdict),
        event = d.event.as_deref().unwrap_or("-"),
        tn = d.tracking_number.as_deref().unwrap_or("-"),
        tag = d.tag.as_deref().unwrap_or("-"),
    );
    if d.duplicate {
        line.push_str(&format!("  {YELLOW}duplicate{YELLOW:#}"));
    }
    if d.test {
        line.push_str(&format!("  {DIM}test{DIM:#}"));
    }
    line.push_str(&format!("  {DIM}#{}{DIM:#}", d.id));
    line
}

/// `14:03:23  ↳ #7 forwarded: 200 in 12 ms → http://127.0.0.1:3000/hook`
pub fn forward_line(f: &ForwardAttempt, offset: UtcOffset) -> String {
    let time =
        f.last_attempt_at.as_deref().map(|t| local_time(t, offset)).unwrap_or_else(|| "--:--:--".into());
    let answer = match (f.status, f.error.as_deref()) {
        (Some(status), _) => status.to_string(),
        (None, Some(error)) => error.to_owned(),
        (None, None) => "no answer".to_owned(),
    };
    let took = f.round_trip_ms.map(|ms| format!(" in {ms} ms")).unwrap_or_default();
    let (style, what) = match f.state.as_str() {
        "delivered" => (GREEN, format!("forwarded: {answer}{took}")),
        "retrying" => {
            let next =
                f.next_attempt_at.as_deref().map(|t| format!(", retrying at {}", local_time(t, offset)));
            (YELLOW, format!("forward failed (attempt {}): {answer}{}", f.attempts, next.unwrap_or_default()))
        }
        "gave_up" => (RED, format!("forward gave up after {} attempts: {answer}", f.attempts)),
        other => (DIM, format!("forward {other}")),
    };
    format!(
        "{DIM}{time}{DIM:#}  ↳ {DIM}#{id}{DIM:#} {style}{what}{style:#} {DIM}→ {target}{DIM:#}",
        id = f.delivery_id,
        target = f.target
    )
}
