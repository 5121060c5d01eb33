//! Search: how a text a user types finds deliveries and shipments.
//!
//! - **Exact and prefix** matches of a shipment's tracking number, order id, order number (2025
//!   onward) or title go through
//!   `COLLATE NOCASE` indexes (`LIKE 'text%'`, which SQLite serves from such an index).
//! - **Substrings** of those, of a shipment's checkpoint messages and locations, and of the body
//!   fields a person looks a shipment up by ([`details_text`]: the courier's name, customer names,
//!   emails and phone numbers, the destination's city, state and postal code, `custom_fields`
//!   values, `note`, `subtag_message`, `signed_by`, as the newest delivery that changed the
//!   shipment sent them) go through the FTS5 table `shipment_search` (trigram tokenizer, one
//!   document per shipment, queued by the projection and written once per transaction, before the
//!   writer commits: [`flush`]). The details share the `checkpoints` column (an FTS5 table cannot
//!   gain a column, and a search matches every column alike).
//!   A late, older update that brings new checkpoints rewrites the document with its own details.
//! - **Bodies as a whole are not indexed**: a trigram index of every body would be gigabytes (5,000
//!   bodies of the benchmark's year, 5.3 KB on average, took 9.8 KB each in an FTS5 trigram index:
//!   9.8 GB for a year's million deliveries); the fields above are what a developer searches them
//!   by. Measured on the benchmark's year at 250,000 deliveries (31,700 shipments): the search
//!   index went from 41.7 to 46.4 MB with them (+19 bytes a delivery); searches stayed within
//!   the run-to-run noise (a customer's name: 4-8 ms, a common surname matching hundreds: 17-30 ms).
//! - A **delivery** matches when its shipment does, when its event id starts with the text (its
//!   index; as typed or in lower case: AfterShip's are lowercase), or, for one that failed
//!   verification and so changed no shipment, when its tracking number or order id starts with the
//!   text (read through the index of failed deliveries). The trigram
//!   tokenizer folds case by Unicode's simple case folding (so `ü` finds `Ü`, `straße` does not find
//!   `STRASSE`), and a substring of fewer than three characters matches only as a prefix.

use rusqlite::Connection;
use shipwatch_api::CheckpointItem;

use crate::Result;

/// What a shipment's search document holds, besides its identifiers: each distinct checkpoint
/// message and location, one per line.
pub(crate) fn checkpoint_text<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut text = String::new();
    for part in parts.into_iter().flatten().map(str::trim).filter(|p| !p.is_empty()) {
        if seen.insert(part) {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(part);
        }
    }
    text
}

/// The messages and locations of API checkpoints, for [`checkpoint_text`].
pub(crate) fn item_parts(items: &[CheckpointItem]) -> impl Iterator<Item = Option<&str>> {
    items.iter().flat_map(|c| [c.message.as_deref(), c.location.as_deref()])
}

/// A shipment's searchable text.
pub(crate) struct ShipmentDocument<'a> {
    pub(crate) tracking_number: Option<&'a str>,
    pub(crate) order_id: Option<&'a str>,
    /// `order_number`: indexed in the `order_id` column, beside the order id.
    pub(crate) order_number: Option<&'a str>,
    pub(crate) title: Option<&'a str>,
    pub(crate) checkpoints: &'a str,
    /// [`details_text`] of the delivery, indexed with the checkpoints.
    pub(crate) details: &'a str,
}

/// The searchable body fields of a delivery's tracking, one per line: the courier's display name
/// and [`shipwatch_aftership::Tracking::search_details`].
pub(crate) fn details_text(msg: &shipwatch_aftership::Tracking) -> String {
    let courier = msg.slug.as_deref().map(crate::queries::courier_of);
    let mut text = String::new();
    for part in courier.iter().chain(msg.search_details.iter()) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(part);
    }
    text
}

impl ShipmentDocument<'_> {
    /// The text of the `checkpoints` column: the checkpoints, then the details.
    fn checkpoints_text(&self) -> std::borrow::Cow<'_, str> {
        match (self.checkpoints.is_empty(), self.details.is_empty()) {
            (_, true) => self.checkpoints.into(),
            (true, false) => self.details.into(),
            (false, false) => format!("{}\n{}", self.checkpoints, self.details).into(),
        }
    }

    /// The text of the `order_id` column: the order id and the order number, one per line.
    fn order_text(&self) -> Option<String> {
        match (self.order_id, self.order_number) {
            (Some(id), Some(number)) if id != number => Some(format!("{id}\n{number}")),
            (Some(one), _) | (None, Some(one)) => Some(one.to_owned()),
            (None, None) => None,
        }
    }
}

/// The search documents waiting for the end of the writer's transaction: a temporary table (in
/// memory, on the writer's connection, rolled back with the transaction it belongs to).
///
/// FTS5 writes what it has been given to disk at every statement that opens a savepoint, which every
/// write to it does: a document written per delivery was a new FTS5 segment per delivery and the
/// merges that follow (a fifth of the writer's time). Queued here, they go into the index in one
/// statement per transaction ([`flush`]).
const PENDING: &str = "CREATE TEMP TABLE IF NOT EXISTS search_pending (
    shipment_id     INTEGER PRIMARY KEY,
    new             INTEGER NOT NULL,   -- the shipment has no document yet
    tracking_number TEXT,
    order_id        TEXT,
    title           TEXT,
    checkpoints     TEXT NOT NULL
)";

/// Creates the queue of [`flush`] on a writing connection (once per connection).
pub(crate) fn prepare_queue(conn: &Connection) -> Result<()> {
    conn.execute_batch(PENDING)?;
    Ok(())
}

/// Queues shipment `id`'s search document (replacing the one it has; `new`: it has none), to be
/// written by [`flush`] before the transaction commits.
pub(crate) fn index_shipment(
    conn: &Connection,
    id: i64,
    doc: &ShipmentDocument<'_>,
    new: bool,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO temp.search_pending (shipment_id, new, tracking_number, order_id, title, checkpoints)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (shipment_id) DO UPDATE SET tracking_number = excluded.tracking_number,
            order_id = excluded.order_id, title = excluded.title, checkpoints = excluded.checkpoints",
    )?
    .execute(rusqlite::params![
        id,
        new,
        doc.tracking_number,
        doc.order_text(),
        doc.title,
        doc.checkpoints_text()
    ])?;
    Ok(())
}

/// Writes the queued documents into the full-text index: run by the writer in each transaction,
/// just before it commits.
pub(crate) fn flush(conn: &Connection) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM shipment_search WHERE rowid IN (SELECT shipment_id FROM temp.search_pending WHERE NOT new)",
    )?
    .execute([])?;
    conn.prepare_cached(
        "INSERT INTO shipment_search (rowid, tracking_number, order_id, title, checkpoints)
         SELECT shipment_id, tracking_number, order_id, title, checkpoints FROM temp.search_pending",
    )?
    .execute([])?;
    conn.prepare_cached("DELETE FROM temp.search_pending")?.execute([])?;
    Ok(())
}

/// Writes the search document of every shipment (migration 8, for the shipments stored before it).
pub(crate) fn index_every_shipment(conn: &Connection) -> Result<()> {
    prepare_queue(conn)?;
    type Row = (i64, Option<String>, Option<String>, Option<String>);
    let shipments: Vec<Row> = conn
        .prepare("SELECT id, tracking_number, order_id, title FROM shipments ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, tracking_number, order_id, title) in &shipments {
        let items = crate::timeline::checkpoint_items(conn, *id)?;
        let checkpoints = checkpoint_text(item_parts(&items));
        let doc = ShipmentDocument {
            tracking_number: tracking_number.as_deref(),
            order_id: order_id.as_deref(),
            order_number: None,
            title: title.as_deref(),
            checkpoints: &checkpoints,
            details: "",
        };
        index_shipment(conn, *id, &doc, true)?;
    }
    flush(conn)?;
    if !shipments.is_empty() {
        tracing::info!(shipments = shipments.len(), "indexed the stored shipments for search");
    }
    Ok(())
}

/// `q` as an FTS5 phrase: the whole text, quoted (a `"` inside doubled), so that no character of it
/// is read as FTS5 query syntax.
pub(crate) fn fts_phrase(q: &str) -> String {
    format!("\"{}\"", q.trim().replace('"', "\"\""))
}

/// `q` as a `LIKE` prefix pattern (its wildcards escaped with `\`).
pub(crate) fn like_prefix(q: &str) -> String {
    let escaped = q.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("{escaped}%")
}

/// `q` as a `GLOB` prefix pattern (its wildcards in brackets), for the event id's index.
pub(crate) fn glob_prefix(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 1);
    for c in q.trim().chars() {
        match c {
            '*' | '?' | '[' => {
                p.push('[');
                p.push(c);
                p.push(']');
            }
            c => p.push(c),
        }
    }
    p.push('*');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_what_their_syntax_reads() {
        assert_eq!(like_prefix(" a%b_c\\ "), "a\\%b\\_c\\\\%");
        assert_eq!(glob_prefix("a*b?[c"), "a[*]b[?][[]c*");
        assert_eq!(fts_phrase("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn checkpoint_text_keeps_each_part_once_in_order() {
        let text = checkpoint_text([Some("Departed"), None, Some(" Reno "), Some("Departed"), Some("")]);
        assert_eq!(text, "Departed\nReno");
    }
}
