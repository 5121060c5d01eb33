//! A shipment's timeline: the union of the checkpoints of every delivery applied to it, oldest first.
//!
//! AfterShip resends a shipment's whole checkpoint list with every update, so the timeline is stored
//! without copying what the deliveries already hold (columns `timeline_*` of the shipment's row):
//!
//! - the **base**: a delivery whose checkpoints all belong to the timeline (its raw body is kept
//!   byte-exact anyway), with the content keys of those checkpoints;
//! - the **extras**: a JSON document of the checkpoints no base carries (an older update that came
//!   late, a checkpoint AfterShip later dropped), usually empty.
//!
//! The base follows the shipment's state: a delivery that is not stale becomes the base, and any
//! checkpoint of the old base it does not carry moves to the extras (only then is the old base's
//! body read); a stale one adds the checkpoints it brings to the extras. So the delivery that set the
//! state usually holds the whole timeline, and older deliveries stay free for retention, which never
//! deletes a base. Reading a timeline parses the base's body and merges the extras.
//!
//! Each checkpoint is identified by [`checkpoint_key`], so the same checkpoint sent again is kept
//! once: its `hash` when AfterShip sends one (2026-07 onward; a checkpoint the courier rewords keeps
//! its hash and is kept once, in the newest words), else its content (time, tag, subtag, message,
//! location). A checkpoint with a hash and one without are the same when their contents are, so a
//! URL moved to 2026-07 (or back) does not show its checkpoints twice. Order: by the checkpoint's
//! time (parsed leniently), those without a time last, then by the time as sent.

use std::borrow::Cow;
use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use shipwatch_aftership::dates::parse_lenient_ms;
use shipwatch_aftership::{checkpoint_key, Checkpoint, CheckpointDigest, CheckpointIdentity};
use shipwatch_api::CheckpointItem;

use crate::Result;

/// One checkpoint as stored. Text borrows from the delivery or the stored document where it can.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TimelineEntry<'a> {
    /// [`checkpoint_key`] of the checkpoint.
    pub key: i64,
    /// Unix ms of `checkpoint_time`, when it parses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_time: Option<i64>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub checkpoint_time: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub subtag: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub subtag_message: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub message: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub location: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub city: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub state: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub country: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub slug: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Cow<'a, str>>,
    /// AfterShip's `hash` of the checkpoint (2026-07 onward): then `key` is of the hash.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub hash: Option<Cow<'a, str>>,
}

fn borrowed(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(Cow::Borrowed)
}

impl<'a> TimelineEntry<'a> {
    pub fn of(c: &'a Checkpoint) -> TimelineEntry<'a> {
        TimelineEntry {
            key: checkpoint_key(c),
            sort_time: c.checkpoint_time.as_deref().and_then(parse_lenient_ms),
            checkpoint_time: borrowed(&c.checkpoint_time),
            tag: c.tag.as_ref().map(|t| Cow::Borrowed(t.as_str())),
            subtag: borrowed(&c.subtag),
            subtag_message: borrowed(&c.subtag_message),
            message: borrowed(&c.message),
            location: borrowed(&c.location),
            city: borrowed(&c.city),
            state: borrowed(&c.state),
            postal_code: borrowed(&c.postal_code),
            country: borrowed(&c.country),
            slug: borrowed(&c.slug),
            events: c.events.iter().map(|e| Cow::Borrowed(e.as_str())).collect(),
            hash: borrowed(&c.hash),
        }
    }

    /// The key of its content ([`CheckpointIdentity::content_key`]): its `key` unless it has a hash.
    pub fn content_key(&self) -> i64 {
        if self.hash.is_none() {
            return self.key;
        }
        CheckpointIdentity {
            checkpoint_time: self.checkpoint_time.as_deref(),
            tag: self.tag.as_deref(),
            subtag: self.subtag.as_deref(),
            message: self.message.as_deref(),
            location: self.location.as_deref(),
            ..Default::default()
        }
        .content_key()
    }

    pub fn to_item(&self) -> CheckpointItem {
        let owned = |s: &Option<Cow<'_, str>>| s.as_deref().map(str::to_owned);
        CheckpointItem {
            checkpoint_time: owned(&self.checkpoint_time),
            tag: owned(&self.tag),
            subtag: owned(&self.subtag),
            subtag_message: owned(&self.subtag_message),
            message: owned(&self.message),
            location: owned(&self.location),
            city: owned(&self.city),
            state: owned(&self.state),
            postal_code: owned(&self.postal_code),
            country: owned(&self.country),
            slug: owned(&self.slug),
            events: self.events.iter().map(|e| e.to_string()).collect(),
        }
    }
}

/// Which checkpoints a timeline (or a delivery) holds, to tell whether another is one of them: the
/// same key (the same hash, or both without one and the same content), or one has a hash and the
/// other not and their contents are the same.
#[derive(Default)]
pub(crate) struct Held {
    /// Every key (of a hash, or of the content when there is none).
    keys: HashSet<i64>,
    /// The content keys of those with a hash.
    hashed_contents: HashSet<i64>,
}

impl Held {
    fn add(&mut self, key: i64, content_key: i64) {
        self.keys.insert(key);
        if content_key != key {
            self.hashed_contents.insert(content_key);
        }
    }

    fn add_entry(&mut self, e: &TimelineEntry<'_>) {
        self.add(e.key, e.content_key());
    }

    /// What a delivery's digest holds.
    fn of_digest(digest: &CheckpointDigest) -> Held {
        let mut held = Held::default();
        for (i, key) in digest.keys.iter().enumerate() {
            held.add(*key, digest.content_keys.get(i).copied().unwrap_or(*key));
        }
        held
    }

    /// Whether a checkpoint of key `key` (and `content_key`) is one of these.
    fn holds_key(&self, key: i64, content_key: i64) -> bool {
        if self.keys.contains(&key) {
            return true;
        }
        if content_key != key {
            // It has a hash: one without a hash is keyed by the same content.
            self.keys.contains(&content_key)
        } else {
            // It has none: one with a hash may have the same content.
            self.hashed_contents.contains(&key)
        }
    }

    fn holds(&self, e: &TimelineEntry<'_>) -> bool {
        self.holds_key(e.key, e.content_key())
    }
}

/// Checkpoints in timeline order, each once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline<'a> {
    pub entries: Vec<TimelineEntry<'a>>,
}

impl<'a> Timeline<'a> {
    /// Parses a stored extras document.
    pub fn parse(doc: &'a str) -> Result<Timeline<'a>> {
        Ok(Timeline { entries: serde_json::from_str(doc)? })
    }

    /// Adds the entries whose keys are not already in the timeline and keeps the order. Returns how
    /// many were new.
    pub fn merge(&mut self, entries: impl IntoIterator<Item = TimelineEntry<'a>>) -> usize {
        let mut known = Held::default();
        self.entries.iter().for_each(|e| known.add_entry(e));
        let before = self.entries.len();
        self.entries.extend(entries.into_iter().filter(|e| {
            let new = !known.holds(e);
            if new {
                known.add_entry(e);
            }
            new
        }));
        let added = self.entries.len() - before;
        if added > 0 {
            // Stable: entries with equal times keep the order they arrived in.
            self.entries.sort_by(|a, b| {
                (a.sort_time.is_none(), a.sort_time, &a.checkpoint_time).cmp(&(
                    b.sort_time.is_none(),
                    b.sort_time,
                    &b.checkpoint_time,
                ))
            });
        }
        added
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.entries).expect("a timeline serialises")
    }

    pub fn items(&self) -> Vec<CheckpointItem> {
        self.entries.iter().map(TimelineEntry::to_item).collect()
    }
}

/// A shipment's timeline as its row stores it (columns `timeline_*` of `shipments`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct StoredTimeline {
    pub(crate) base_delivery_id: Option<i64>,
    /// The base's checkpoint keys, sorted, 8 bytes little-endian each.
    pub(crate) base_keys: Vec<u8>,
    /// JSON array of the extra checkpoints.
    pub(crate) extras: String,
}

/// The columns of `shipments` holding its timeline, in [`StoredTimeline`]'s order.
pub(crate) const TIMELINE_COLUMNS: &str = "timeline_base_delivery_id, timeline_base_keys, timeline_extras";

impl StoredTimeline {
    /// The empty timeline of a shipment no checkpoint has reached yet.
    pub(crate) fn none() -> StoredTimeline {
        StoredTimeline { base_delivery_id: None, base_keys: Vec::new(), extras: "[]".to_owned() }
    }

    /// Reads [`TIMELINE_COLUMNS`] starting at column `at`.
    pub(crate) fn from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<StoredTimeline> {
        Ok(StoredTimeline { base_delivery_id: r.get(at)?, base_keys: r.get(at + 1)?, extras: r.get(at + 2)? })
    }

    fn is_empty(&self) -> bool {
        self.base_delivery_id.is_none() && self.extras == "[]"
    }

    fn keys(&self) -> Vec<i64> {
        self.base_keys.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
    }
}

fn keys_to_blob(keys: &[i64]) -> Vec<u8> {
    keys.iter().flat_map(|k| k.to_le_bytes()).collect()
}

/// Adds a delivery's checkpoints (its digest; `body` is read only when a checkpoint must be copied
/// into the extras) to a shipment's timeline `stored`, following the module's rules, and returns the
/// timeline to store. `stale`: the delivery is older than the shipment's state.
pub(crate) fn apply(
    conn: &Connection,
    stored: StoredTimeline,
    delivery_id: i64,
    digest: &CheckpointDigest,
    body: &[u8],
    stale: bool,
) -> Result<StoredTimeline> {
    if digest.keys.is_empty() {
        return Ok(stored);
    }
    let mut keys: Vec<i64> = digest.keys.clone();
    keys.sort_unstable();
    keys.dedup();
    if stored.is_empty() {
        // The first checkpoints the shipment gets: this delivery holds its whole timeline.
        return Ok(StoredTimeline {
            base_delivery_id: Some(delivery_id),
            base_keys: keys_to_blob(&keys),
            ..stored
        });
    }

    let mut extras = match Timeline::parse(&stored.extras) {
        Ok(t) => t,
        Err(e) => {
            // Never refuse a delivery over it: the raw deliveries still hold every checkpoint.
            tracing::error!(delivery_id, error = %e, "a stored timeline is unreadable; its extra checkpoints are dropped");
            Timeline::default()
        }
    };
    let base_keys = stored.keys();
    let carried = Held::of_digest(digest);
    if stale {
        let known: HashSet<i64> =
            base_keys.iter().copied().chain(extras.entries.iter().map(|e| e.key)).collect();
        let content_of = |i: usize| digest.content_keys.get(i).copied().unwrap_or(digest.keys[i]);
        if (0..digest.keys.len()).all(|i| known.contains(&digest.keys[i]) || known.contains(&content_of(i))) {
            return Ok(stored);
        }
        // Some checkpoint is not known by key: what the timeline holds is read whole (the base's
        // checkpoints may carry hashes this delivery lacks, or the other way round).
        let base_body: Option<Vec<u8>> = match stored.base_delivery_id {
            Some(base) => crate::bodies::body_of(conn, base)?,
            None => None,
        };
        let base_checkpoints = base_body.as_deref().map(body_checkpoints).unwrap_or_default();
        let mut held = Held::default();
        base_checkpoints.iter().map(TimelineEntry::of).for_each(|e| held.add_entry(&e));
        extras.entries.iter().for_each(|e| held.add_entry(e));
        let checkpoints = body_checkpoints(body);
        if extras.merge(checkpoints.iter().map(TimelineEntry::of).filter(|e| !held.holds(e))) == 0 {
            return Ok(stored);
        }
        return Ok(StoredTimeline { extras: extras.to_json(), ..stored });
    }

    // This delivery becomes the base. What the old base holds and this one lacks moves to the extras.
    let old_body: Option<Vec<u8>> = match stored.base_delivery_id {
        Some(old) if old != delivery_id && base_keys.iter().any(|k| !carried.holds_key(*k, *k)) => {
            crate::bodies::body_of(conn, old)?
        }
        _ => None,
    };
    let old_checkpoints = old_body.as_deref().map(body_checkpoints).unwrap_or_default();
    extras.entries.retain(|e| !carried.holds(e));
    extras.merge(old_checkpoints.iter().map(TimelineEntry::of).filter(|e| !carried.holds(e)));
    Ok(StoredTimeline {
        base_delivery_id: Some(delivery_id),
        base_keys: keys_to_blob(&keys),
        extras: extras.to_json(),
    })
}

/// The checkpoints of a delivery's raw body.
fn body_checkpoints(body: &[u8]) -> Vec<Checkpoint> {
    shipwatch_aftership::parse_envelope(body)
        .ok()
        .and_then(|e| e.msg)
        .map(|m| m.checkpoints)
        .unwrap_or_default()
}

/// A shipment's checkpoints for the API, oldest first: its base delivery's, then the extras.
pub fn checkpoint_items(conn: &Connection, shipment_id: i64) -> Result<Vec<CheckpointItem>> {
    let Some(row) = conn
        .prepare_cached(&format!("SELECT {TIMELINE_COLUMNS} FROM shipments WHERE id = ?1"))?
        .query_row([shipment_id], |r| StoredTimeline::from_row(r, 0))
        .optional()?
    else {
        return Ok(Vec::new());
    };
    let extras = Timeline::parse(&row.extras)?;
    let base_body: Option<Vec<u8>> = match row.base_delivery_id {
        Some(id) => crate::bodies::body_of(conn, id)?,
        None => None,
    };
    let base_checkpoints = base_body.as_deref().map(body_checkpoints).unwrap_or_default();
    if row.base_delivery_id.is_some() && base_checkpoints.is_empty() {
        tracing::warn!(
            shipment_id,
            "the delivery holding this shipment's timeline is gone; showing the rest"
        );
    }
    let mut timeline = Timeline::default();
    timeline.merge(base_checkpoints.iter().map(TimelineEntry::of));
    timeline.merge(extras.entries);
    Ok(timeline.items())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipwatch_aftership::Tag;

    fn checkpoint(time: Option<&str>, message: &str, location: Option<&str>) -> Checkpoint {
        Checkpoint {
            checkpoint_time: time.map(str::to_owned),
            tag: Some(Tag::InTransit),
            message: Some(message.to_owned()),
            location: location.map(str::to_owned),
            city: Some("Louisville".into()),
            country: Some("USA".into()),
            events: vec!["code_a".into()],
            ..Default::default()
        }
    }

    fn merged(parts: &[&[Checkpoint]]) -> Vec<String> {
        let mut t = Timeline::default();
        for p in parts {
            t.merge(p.iter().map(TimelineEntry::of));
        }
        let doc = t.to_json();
        let back = Timeline::parse(&doc).unwrap();
        assert_eq!(back, t, "the stored form reads back the same");
        back.entries.iter().map(|e| e.message.as_deref().unwrap().to_owned()).collect()
    }

    #[test]
    fn merging_keeps_each_checkpoint_once_in_time_order() {
        let first = vec![
            checkpoint(Some("2026-11-20T10:00:00Z"), "b", Some("Reno")),
            checkpoint(None, "undated", None),
            checkpoint(Some("2026-11-19T10:00:00Z"), "a", None),
        ];
        let second = vec![
            checkpoint(Some("2026-11-21T10:00:00Z"), "c", Some("Boise")),
            checkpoint(Some("2026-11-20T10:00:00Z"), "b", Some("Reno")),
        ];
        assert_eq!(merged(&[&first, &first, &second]), ["a", "b", "c", "undated"]);
        assert_eq!(merged(&[&second, &first]), ["a", "b", "c", "undated"]);
        let item = TimelineEntry::of(&first[2]).to_item();
        assert_eq!(
            (item.events, item.location, item.city.as_deref()),
            (vec!["code_a".to_owned()], None, Some("Louisville"))
        );
    }
}
