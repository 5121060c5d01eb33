//! Export: deliveries or shipments as NDJSON (one API item per line, the same JSON as the inspector
//! API) or CSV (RFC 4180, a header row), with the API's filters (`DeliveryQuery`, `ShipmentQuery`).
//! Rows are read page by page with the store's cursor inside one read transaction (a consistent
//! snapshot, even while `serve` writes), so memory stays bounded whatever the row count. `limit`
//! caps the rows exported (all when absent) and `before` starts from a cursor.
//!
//! The functions are blocking: from async code run them on a blocking thread (e.g. inside
//! `Store::read`), writing into a [`ChannelWriter`] to stream an HTTP response.

use std::io::{self, Write};
use std::str::FromStr;

use base64::Engine as _;
use rusqlite::Connection;
use serde::Serialize;
use shipwatch_api::{DeliveryItem, DeliveryQuery, ShipmentItem, ShipmentQuery};
use shipwatch_store::queries;

use crate::{DevtoolsError, Result};

/// Rows read per page.
const PAGE: u32 = 500;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    #[default]
    Ndjson,
    Csv,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Csv => "csv",
        }
    }

    /// The media type for an HTTP response.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

impl FromStr for ExportFormat {
    type Err = DevtoolsError;

    fn from_str(s: &str) -> Result<ExportFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ndjson" | "jsonl" | "json-lines" => Ok(ExportFormat::Ndjson),
            "csv" => Ok(ExportFormat::Csv),
            other => Err(DevtoolsError::Invalid(format!("unknown format {other:?}: use ndjson or csv"))),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportOptions {
    pub format: ExportFormat,
    /// Deliveries only: add each delivery's method, path, peer, headers and body (base64), as in
    /// `GET /api/deliveries/{id}` (one more lookup per row).
    pub include_bodies: bool,
}

/// Progress after each page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportProgress {
    pub rows: u64,
    /// Rows matching the filters (capped by `limit`), counted when the export started.
    pub total: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    pub rows: u64,
    pub bytes: u64,
}

const DELIVERY_COLUMNS: [&str; 14] = [
    "id",
    "received_at",
    "event_id",
    "event",
    "verdict",
    "status",
    "duplicate",
    "tracking_number",
    "slug",
    "tag",
    "order_id",
    "shipment_id",
    "size",
    "diagnosis",
];
const DELIVERY_BODY_COLUMNS: [&str; 8] = [
    "method",
    "path",
    "peer",
    "forwarded_for",
    "cf_connecting_ip",
    "headers",
    "body_base64",
    "body_truncated",
];
const SHIPMENT_COLUMNS: [&str; 13] = [
    "id",
    "tracking_id",
    "tracking_number",
    "slug",
    "title",
    "order_id",
    "tag",
    "subtag",
    "subtag_message",
    "expected_delivery",
    "last_location",
    "updated_at",
    "unverified",
];

/// A delivery with what was kept of it, for `include_bodies`.
#[derive(Serialize)]
struct FullDelivery<'a> {
    #[serde(flatten)]
    item: &'a DeliveryItem,
    method: &'a str,
    path: &'a str,
    peer: &'a str,
    forwarded_for: Option<&'a str>,
    cf_connecting_ip: Option<&'a str>,
    headers: &'a [(String, String)],
    body_base64: String,
    body_truncated: bool,
}

/// Streams the deliveries matching `query`, newest first.
pub fn export_deliveries(
    conn: &Connection,
    query: &DeliveryQuery,
    options: ExportOptions,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(ExportProgress),
) -> Result<ExportSummary> {
    let snapshot = Snapshot::begin(conn)?;
    let cap = query.limit.map(u64::from);
    let total = capped(queries::count_deliveries(conn, query)? as u64, cap);
    let mut out = Counting::new(out);
    let mut csv_header: Vec<&str> = DELIVERY_COLUMNS.to_vec();
    if options.include_bodies {
        csv_header.extend(DELIVERY_BODY_COLUMNS);
    }
    if options.format == ExportFormat::Csv {
        write_csv_row(&mut out, csv_header.iter().map(|s| Field::Text(s)))?;
    }
    let mut rows = 0u64;
    let mut page_query = DeliveryQuery { limit: None, ..query.clone() };
    progress(ExportProgress { rows, total });
    loop {
        let want = cap.map_or(PAGE as u64, |cap| (cap - rows).min(PAGE as u64));
        if want == 0 {
            break;
        }
        page_query.limit = Some(want as u32);
        let page = queries::list_deliveries(conn, &page_query)?;
        for item in &page.items {
            let record =
                if options.include_bodies { Some(queries::get_delivery(conn, item.id)?) } else { None };
            match options.format {
                ExportFormat::Ndjson => {
                    match &record {
                        Some(r) => serde_json::to_writer(&mut out, &full_delivery(r)),
                        None => serde_json::to_writer(&mut out, item),
                    }
                    .map_err(json_io)?;
                    out.write_all(b"\n")?;
                }
                ExportFormat::Csv => {
                    let body_base64;
                    let headers_json;
                    let mut fields = delivery_fields(item);
                    if let Some(r) = &record {
                        body_base64 = base64::engine::general_purpose::STANDARD.encode(&r.body);
                        headers_json = serde_json::to_string(&r.headers).map_err(json_io)?;
                        fields.extend([
                            Field::Text(&r.method),
                            Field::Text(&r.path),
                            Field::Text(&r.peer),
                            Field::Opt(r.forwarded_for.as_deref()),
                            Field::Opt(r.cf_connecting_ip.as_deref()),
                            Field::Text(&headers_json),
                            Field::Text(&body_base64),
                            Field::Bool(r.body_truncated),
                        ]);
                    }
                    write_csv_row(&mut out, fields)?;
                }
            }
        }
        rows += page.items.len() as u64;
        progress(ExportProgress { rows, total });
        match page.next {
            Some(next) => page_query.before = Some(next),
            None => break,
        }
    }
    out.flush()?;
    snapshot.end()?;
    Ok(ExportSummary { rows, bytes: out.bytes })
}

/// Streams the shipments matching `query`, most recently changed first.
pub fn export_shipments(
    conn: &Connection,
    query: &ShipmentQuery,
    options: ExportOptions,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(ExportProgress),
) -> Result<ExportSummary> {
    let snapshot = Snapshot::begin(conn)?;
    let cap = query.limit.map(u64::from);
    let total = capped(queries::count_shipments(conn, query)? as u64, cap);
    let mut out = Counting::new(out);
    if options.format == ExportFormat::Csv {
        write_csv_row(&mut out, SHIPMENT_COLUMNS.iter().map(|s| Field::Text(s)))?;
    }
    let mut rows = 0u64;
    let mut page_query = ShipmentQuery { limit: None, ..query.clone() };
    progress(ExportProgress { rows, total });
    loop {
        let want = cap.map_or(PAGE as u64, |cap| (cap - rows).min(PAGE as u64));
        if want == 0 {
            break;
        }
        page_query.limit = Some(want as u32);
        let page = queries::list_shipments_page(conn, &page_query)?;
        for item in &page.items {
            match options.format {
                ExportFormat::Ndjson => {
                    serde_json::to_writer(&mut out, item).map_err(json_io)?;
                    out.write_all(b"\n")?;
                }
                ExportFormat::Csv => write_csv_row(&mut out, shipment_fields(item))?,
            }
        }
        rows += page.items.len() as u64;
        progress(ExportProgress { rows, total });
        match page.next {
            Some(next) => page_query.before = Some(next),
            None => break,
        }
    }
    out.flush()?;
    snapshot.end()?;
    Ok(ExportSummary { rows, bytes: out.bytes })
}

fn capped(count: u64, cap: Option<u64>) -> u64 {
    cap.map_or(count, |cap| count.min(cap))
}

fn full_delivery(r: &queries::DeliveryRecord) -> FullDelivery<'_> {
    FullDelivery {
        item: &r.item,
        method: &r.method,
        path: &r.path,
        peer: &r.peer,
        forwarded_for: r.forwarded_for.as_deref(),
        cf_connecting_ip: r.cf_connecting_ip.as_deref(),
        headers: &r.headers,
        body_base64: base64::engine::general_purpose::STANDARD.encode(&r.body),
        body_truncated: r.body_truncated,
    }
}

fn json_io(e: serde_json::Error) -> io::Error {
    if e.is_io() {
        io::Error::from(e)
    } else {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// One CSV cell.
enum Field<'a> {
    Text(&'a str),
    Opt(Option<&'a str>),
    Int(i64),
    Bool(bool),
}

fn verdict_str(item: &DeliveryItem) -> &'static str {
    match item.verdict {
        shipwatch_api::Verdict::Valid => "valid",
        shipwatch_api::Verdict::Invalid => "invalid",
        shipwatch_api::Verdict::Missing => "missing",
        shipwatch_api::Verdict::Malformed => "malformed",
        shipwatch_api::Verdict::Unverified => "unverified",
        shipwatch_api::Verdict::TooLarge => "too_large",
    }
}

fn delivery_fields(d: &DeliveryItem) -> Vec<Field<'_>> {
    vec![
        Field::Int(d.id),
        Field::Text(&d.received_at),
        Field::Opt(d.event_id.as_deref()),
        Field::Opt(d.event.as_deref()),
        Field::Text(verdict_str(d)),
        Field::Int(i64::from(d.status)),
        Field::Bool(d.duplicate),
        Field::Opt(d.tracking_number.as_deref()),
        Field::Opt(d.slug.as_deref()),
        Field::Opt(d.tag.as_deref()),
        Field::Opt(d.order_id.as_deref()),
        match d.shipment_id {
            Some(id) => Field::Int(id),
            None => Field::Opt(None),
        },
        Field::Int(d.size),
        Field::Opt(d.diagnosis.map(|c| c.as_str())),
    ]
}

fn shipment_fields(s: &ShipmentItem) -> Vec<Field<'_>> {
    vec![
        Field::Int(s.id),
        Field::Opt(s.tracking_id.as_deref()),
        Field::Opt(s.tracking_number.as_deref()),
        Field::Opt(s.slug.as_deref()),
        Field::Opt(s.title.as_deref()),
        Field::Opt(s.order_id.as_deref()),
        Field::Opt(s.tag.as_deref()),
        Field::Opt(s.subtag.as_deref()),
        Field::Opt(s.subtag_message.as_deref()),
        Field::Opt(s.expected_delivery.as_deref()),
        Field::Opt(s.last_location.as_deref()),
        Field::Text(&s.updated_at),
        Field::Bool(s.unverified),
    ]
}

/// Writes one RFC 4180 row: fields with a comma, quote, CR or LF are quoted (quotes doubled);
/// rows end with CRLF. Absent values are empty cells.
fn write_csv_row<'a>(out: &mut dyn Write, fields: impl IntoIterator<Item = Field<'a>>) -> io::Result<()> {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        match field {
            Field::Int(n) => write!(out, "{n}")?,
            Field::Bool(b) => out.write_all(if b { b"true" } else { b"false" })?,
            Field::Opt(None) => {}
            Field::Text(s) | Field::Opt(Some(s)) => {
                if s.contains([',', '"', '\r', '\n']) {
                    out.write_all(b"\"")?;
                    out.write_all(s.replace('"', "\"\"").as_bytes())?;
                    out.write_all(b"\"")?;
                } else {
                    out.write_all(s.as_bytes())?;
                }
            }
        }
    }
    out.write_all(b"\r\n")
}

/// A read transaction around the export (a consistent snapshot), unless the caller already holds one.
struct Snapshot<'a> {
    conn: Option<&'a Connection>,
}

impl<'a> Snapshot<'a> {
    fn begin(conn: &'a Connection) -> Result<Snapshot<'a>> {
        if conn.is_autocommit() {
            conn.execute_batch("BEGIN DEFERRED").map_err(shipwatch_store::StoreError::from)?;
            Ok(Snapshot { conn: Some(conn) })
        } else {
            Ok(Snapshot { conn: None })
        }
    }

    fn end(mut self) -> Result<()> {
        if let Some(conn) = self.conn.take() {
            conn.execute_batch("COMMIT").map_err(shipwatch_store::StoreError::from)?;
        }
        Ok(())
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

/// Buffers and counts what is written.
struct Counting<'a> {
    inner: io::BufWriter<&'a mut dyn Write>,
    bytes: u64,
}

impl<'a> Counting<'a> {
    fn new(inner: &'a mut dyn Write) -> Self {
        Counting { inner: io::BufWriter::with_capacity(64 * 1024, inner), bytes: 0 }
    }
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A `Write` that hands what is written, in chunks, to an async receiver (e.g. an HTTP response
/// body), waiting while the receiver is behind. Use it from a blocking thread. Once the receiver
/// is dropped (the client went away), writes fail with `BrokenPipe` and the export stops.
pub struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
}

impl ChannelWriter {
    /// A writer and the receiver of its chunks; at most `chunks` chunks (of up to 64 KiB from an
    /// export) wait in between.
    pub fn new(chunks: usize) -> (ChannelWriter, tokio::sync::mpsc::Receiver<Vec<u8>>) {
        let (tx, rx) = tokio::sync::mpsc::channel(chunks.max(1));
        (ChannelWriter { tx }, rx)
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.tx
            .blocking_send(buf.to_vec())
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the export's reader went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        let mut out = Vec::new();
        write_csv_row(
            &mut out,
            [
                Field::Int(1),
                Field::Text("plain"),
                Field::Text("a,b"),
                Field::Text("say \"hi\""),
                Field::Opt(None),
                Field::Text("two\nlines"),
                Field::Bool(true),
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1,plain,\"a,b\",\"say \"\"hi\"\"\",,\"two\nlines\",true\r\n"
        );
    }

    #[test]
    fn formats_parse() {
        assert_eq!("CSV".parse::<ExportFormat>().unwrap(), ExportFormat::Csv);
        assert_eq!("jsonl".parse::<ExportFormat>().unwrap(), ExportFormat::Ndjson);
        assert!("xml".parse::<ExportFormat>().unwrap_err().to_string().contains("use ndjson or csv"));
    }

    #[test]
    fn channel_writer_stops_when_the_reader_goes() {
        let (mut writer, rx) = ChannelWriter::new(1);
        drop(rx);
        let err = writer.write(b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}
