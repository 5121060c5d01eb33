//! Storing one delivery inside the writer's transaction: deduplication on `event_id`, then the
//! shipment projection.
//!
//! Rules: only accepted deliveries (valid, or unverified while no secret is configured) that are not
//! duplicates touch shipments. A shipment is keyed by AfterShip's tracking id (`legacy_id`, else `id`),
//! falling back to slug + tracking number; a delivery that names it the other way finds it by
//! tracking number and slug (one parcel is one shipment however an event names it). Its state (tag, subtag, EDD, ...) only moves forward: an
//! update whose `msg.last_updated_at`/`updated_at` (then `ts`) is older than the stored state is
//! "stale" — its checkpoints are merged into the timeline but the state is kept. Checkpoints are a
//! union keyed by their identity ([`crate::timeline`]).
//!
//! It also writes what the merchant's desk reads: the order number, the due date (`due`, `due_at`:
//! the end of the due date), when it was delivered, the proof of delivery, since when AfterShip says
//! it stayed pending, the test mark (a shipment only test deliveries built), each move of the
//! estimate (`estimate_changes`), and per delivery its webhook version and test mark.

use std::cmp::Ordering;

use rusqlite::{params, Connection, OptionalExtension, Row};
use shipwatch_aftership::dates::due_end_ms;
use shipwatch_aftership::{Envelope, EventKind, Tag, Tracking};
use shipwatch_api::{EstimateChange, ShipmentItem};

use crate::queries::{courier_of, rfc3339_ms, shipment_row, SHIPMENT_COLUMNS, SHIPMENT_COLUMN_COUNT};
use crate::search::{checkpoint_text, item_parts, ShipmentDocument};
use crate::timeline::{self, StoredTimeline, TIMELINE_COLUMNS};
use crate::writer::PendingInsert;
use crate::{NewDelivery, Result, ShipmentChange, StoredDelivery, StoredVerdict};

/// What storing a delivery did, as the writer reports it (the caller builds the list item from it).
#[derive(Debug)]
pub(crate) struct Inserted {
    pub(crate) id: i64,
    pub(crate) status: u16,
    pub(crate) duplicate_of: Option<i64>,
    /// The shipment it changed, or (a duplicate) the shipment of the delivery it repeats.
    pub(crate) shipment_id: Option<i64>,
    pub(crate) shipment: Option<ShipmentChange>,
}

/// The first accepted delivery of `event_id` other than `except`: (id, status, shipment).
fn original_of(conn: &Connection, event_id: &str, except: i64) -> Result<Option<(i64, u16, Option<i64>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, status, shipment_id FROM deliveries
             WHERE event_id = ?1 AND duplicate_of IS NULL AND verdict IN ('valid', 'unverified') AND id <> ?2
             ORDER BY id LIMIT 1",
        )?
        .query_row(params![event_id, except], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?)
}

/// Inserts the delivery, deduplicates and projects it. Runs inside the writer's transaction.
pub(crate) fn store_delivery(conn: &Connection, pending: &PendingInsert) -> Result<Inserted> {
    let d = &pending.delivery;
    let env = d.envelope.as_ref();
    let msg = env.and_then(|e| e.msg.as_ref());
    let event_id = env.and_then(|e| e.event_id.as_deref());

    // Another attempt of an event we already accepted? (The event id's index answers.)
    let original = match event_id {
        Some(eid) => original_of(conn, eid, 0)?,
        None => None,
    };
    let accepted = d.verdict.accepted();
    let (status, duplicate_of, dup_shipment) = match original {
        // A repeat of an accepted event is answered like the original, so AfterShip stops retrying.
        Some((id, orig_status, ship)) if accepted => (orig_status, Some(id), ship),
        Some((id, _, _)) => (d.status, Some(id), None),
        None => (d.status, None, None),
    };

    // What the projection will do is decided before the delivery is written, so that its row is
    // written once, with its shipment and what it did to it.
    let plan = match (duplicate_of, env, msg) {
        (None, Some(env), Some(msg)) if accepted => plan(conn, env, msg)?,
        _ => None,
    };
    let note: String = if let Some(orig) = duplicate_of {
        format!("duplicate of delivery {orig}: changed nothing")
    } else if !accepted {
        format!("not applied: signature {}", d.verdict.as_str())
    } else if let Some(plan) = &plan {
        match (&plan.existing, plan.stale) {
            (None, _) => "created the shipment",
            (Some(_), true) => {
                "stale: older than the shipment's stored state; checkpoints merged, state kept"
            }
            (Some(_), false) => "updated the shipment",
        }
        .to_owned()
    } else if msg.is_some() {
        "not applied: no tracking id or tracking number".to_owned()
    } else if d.envelope.is_some() {
        "not applied: no tracking object (msg)".to_owned()
    } else {
        "not applied: the body is not an AfterShip envelope".to_owned()
    };

    conn.prepare_cached(
        "INSERT INTO deliveries (received_at, peer, forwarded_for, cf_connecting_ip, method, path, headers,
            headers_codec, body, body_codec, dictionary_id, body_size, body_truncated, verdict, secret, status,
            duplicate_of, event, event_id, ts, tracking_id, tracking_number, slug, tag, order_id, parse_error,
            shipment_id, projection, webhook_version, test, diagnosis)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
            ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)",
    )?
    .execute(params![
        d.received_at_ms,
        d.peer,
        d.forwarded_for,
        d.cf_connecting_ip,
        d.method,
        d.path,
        pending.stored.headers,
        pending.stored.headers_codec,
        pending.stored.body,
        pending.stored.body_codec,
        pending.stored.dictionary_id,
        d.body_size,
        d.body_truncated,
        d.verdict.as_str(),
        secret_of(d.verdict),
        status,
        duplicate_of,
        env.and_then(|e| e.event.as_ref()).map(|e| e.as_str()),
        event_id,
        env.and_then(|e| e.ts),
        msg.and_then(|m| m.id.as_deref()),
        msg.and_then(|m| m.tracking_number.as_deref()),
        msg.and_then(|m| m.slug.as_deref()),
        msg.and_then(|m| m.tag.as_ref()).map(|t| t.as_str()),
        msg.and_then(|m| m.order_id.as_deref()),
        d.parse_error,
        plan.as_ref().and_then(|p| p.existing.as_ref().map(|s| s.item.id)).or(dup_shipment),
        note,
        d.webhook_version(),
        d.is_test(),
        d.diagnosis_code().map(|c| c.as_str()),
    ])?;
    let id = conn.last_insert_rowid();

    let shipment = match (plan, env, msg) {
        (Some(plan), Some(env), Some(msg)) => {
            let change = project(conn, id, d, env, msg, plan)?;
            if change.created {
                conn.prepare_cached("UPDATE deliveries SET shipment_id = ?2 WHERE id = ?1")?
                    .execute(params![id, change.shipment_id])?;
            }
            Some(change)
        }
        _ => None,
    };
    let shipment_id = shipment.as_ref().map(|s: &ShipmentChange| s.shipment_id).or(dup_shipment);

    Ok(Inserted { id, status, duplicate_of, shipment_id, shipment })
}

fn secret_of(v: StoredVerdict) -> Option<&'static str> {
    match v {
        StoredVerdict::Signature(s) => s.secret().map(|s| s.as_str()),
        StoredVerdict::TooLarge => None,
    }
}

/// The shipment key: AfterShip's tracking id, else slug + tracking number.
pub fn shipment_key(msg: &Tracking) -> Option<String> {
    if let Some(id) = msg.legacy_id.as_deref().or(msg.id.as_deref()).filter(|s| !s.is_empty()) {
        return Some(format!("id:{id}"));
    }
    msg.tracking_number
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|tn| format!("tn:{}:{tn}", msg.slug.as_deref().unwrap_or("")))
}

/// Compares (state time, ts, newest checkpoint's time) of an update with the stored state, in that
/// order: the state time (`last_updated_at`, else `updated_at`, see `Tracking::state_time_ms`), then
/// the envelope's `ts`, as AfterShip's notes say; the checkpoints break a tie of both: an
/// update whose newest checkpoint is older than one already seen is the older update. Missing values
/// compare as unknown: the update is taken as newer unless something known says otherwise.
fn freshness(
    new: (Option<i64>, Option<i64>, Option<i64>),
    stored: (Option<i64>, Option<i64>, Option<i64>),
) -> Ordering {
    let known = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => Ordering::Equal,
    };
    known(new.0, stored.0).then(known(new.1, stored.1)).then(known(new.2, stored.2))
}

/// The stored state of a shipment the projection reads before changing it.
struct StoredShipment {
    item: ShipmentItem,
    key: String,
    state_time: Option<i64>,
    state_ts: Option<i64>,
    tags_seen: String,
    last_location_time: Option<i64>,
    delivered_at: Option<i64>,
    pending_since: Option<i64>,
    timeline: StoredTimeline,
}

/// The columns a [`StoredShipment`] reads after [`SHIPMENT_COLUMNS`], then [`TIMELINE_COLUMNS`].
const STORED_COLUMNS: &str =
    "key, state_time, state_ts, tags_seen, last_location_time, delivered_at, pending_since";

fn stored_row(r: &Row<'_>) -> rusqlite::Result<StoredShipment> {
    let at = SHIPMENT_COLUMN_COUNT;
    Ok(StoredShipment {
        item: shipment_row(r)?,
        key: r.get(at)?,
        state_time: r.get(at + 1)?,
        state_ts: r.get(at + 2)?,
        tags_seen: r.get(at + 3)?,
        last_location_time: r.get(at + 4)?,
        delivered_at: r.get(at + 5)?,
        pending_since: r.get(at + 6)?,
        timeline: StoredTimeline::from_row(r, at + 7)?,
    })
}

/// A shipment's stored state, found by its key (the UNIQUE index answers).
fn stored_shipment(conn: &Connection, key: &str) -> Result<Option<StoredShipment>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SHIPMENT_COLUMNS}, {STORED_COLUMNS}, {TIMELINE_COLUMNS} FROM shipments WHERE key = ?1"
        ))?
        .query_row([key], stored_row)
        .optional()?)
}

/// The conditions of [`shipment_by_tracking_number`] (public for the query-plan tests): the
/// tracking number through its NOCASE index (`?1`), the slug in any case when the delivery names one
/// (`?2`), and (`?3` = 1) only a shipment keyed by slug + tracking number; the newest first.
pub const BY_TRACKING_NUMBER: &str = "FROM shipments
     WHERE tracking_number = ?1 COLLATE NOCASE AND (?2 IS NULL OR slug = ?2 COLLATE NOCASE)
        AND (?3 = 0 OR key GLOB 'tn:*')
     ORDER BY id DESC LIMIT 1";

/// The shipment of a parcel named by its tracking number and slug, whatever its key: a delivery
/// without AfterShip's id (an `edd_revise` or `tracking_pending_time` of 2026-07 may name the
/// tracking by slug + tracking number only) belongs to the shipment that has them, and
/// (`keyed_by_number_only`) a delivery with the id joins a shipment that had none.
fn shipment_by_tracking_number(
    conn: &Connection,
    tracking_number: &str,
    slug: Option<&str>,
    keyed_by_number_only: bool,
) -> Result<Option<StoredShipment>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SHIPMENT_COLUMNS}, {STORED_COLUMNS}, {TIMELINE_COLUMNS} {BY_TRACKING_NUMBER}"
        ))?
        .query_row(
            params![tracking_number, slug.filter(|s| !s.trim().is_empty()), keyed_by_number_only],
            stored_row,
        )
        .optional()?)
}

/// What the projection will do with a delivery, decided before anything is written.
pub(crate) struct Plan {
    key: String,
    /// The shipment the delivery belongs to; `None`: it creates one.
    existing: Option<StoredShipment>,
    /// The shipment is keyed by slug + tracking number and the delivery brings AfterShip's id: the
    /// shipment takes the delivery's key.
    rekey: bool,
    /// Older than the shipment's stored state: its checkpoints are merged, the state kept.
    stale: bool,
}

/// Reads the shipment a delivery belongs to and decides whether the delivery is stale. `None`: the
/// delivery names no shipment (no tracking id or tracking number).
///
/// A shipment is one parcel however a delivery names it: by its key first (AfterShip's id, else
/// slug + tracking number); else by tracking number and slug (any case), which finds the shipment
/// keyed by AfterShip's id for a delivery that names only slug + tracking number, and the shipment
/// keyed by slug + tracking number for a delivery that brings the id (two different ids are two
/// trackings).
fn plan(conn: &Connection, env: &Envelope, msg: &Tracking) -> Result<Option<Plan>> {
    let Some(key) = shipment_key(msg) else { return Ok(None) };
    let mut existing = stored_shipment(conn, &key)?;
    let mut rekey = false;
    if existing.is_none() {
        if let Some(tn) = msg.tracking_number.as_deref().filter(|s| !s.is_empty()) {
            let with_id = key.starts_with("id:");
            existing = shipment_by_tracking_number(conn, tn, msg.slug.as_deref(), with_id)?;
            rekey = with_id && existing.is_some();
        }
    }
    let stale = existing.as_ref().is_some_and(|stored| {
        let newest_checkpoint = msg.checkpoint_digest.latest.as_ref().and_then(|l| l.sort_time);
        freshness(
            (msg.state_time_ms(), env.ts, newest_checkpoint),
            (stored.state_time, stored.state_ts, stored.last_location_time),
        ) == Ordering::Less
    });
    Ok(Some(Plan { key, existing, rekey, stale }))
}

/// When a shipment at `tag` was delivered: its newest Delivered checkpoint, else when it was
/// already known to be, else `now` (the delivery that says so). Not delivered: `None`; no tag (an
/// event that does not carry the state): as stored.
fn delivered_at(tag: Option<&str>, msg: &Tracking, stored: Option<i64>, now: i64) -> Option<i64> {
    match tag {
        Some(t) if t == Tag::Delivered.as_str() => {
            Some(msg.checkpoint_digest.delivered_at.or(stored).unwrap_or(now))
        }
        Some(_) => None,
        None => stored,
    }
}

/// Whether a due date moved: their ends differ (`2026-12-03` and `2026-12-04T00:00:00Z` are the same
/// end), or, when one does not parse, their text.
fn due_moved(old: Option<&str>, new: Option<&str>) -> bool {
    match (old.and_then(due_end_ms), new.and_then(due_end_ms)) {
        (Some(a), Some(b)) => a != b,
        _ => old.map(str::trim) != new.map(str::trim),
    }
}

/// Applies delivery `delivery_id` to its shipment as `plan` decided.
fn project(
    conn: &Connection,
    delivery_id: i64,
    d: &NewDelivery,
    env: &Envelope,
    msg: &Tracking,
    plan: Plan,
) -> Result<ShipmentChange> {
    let Plan { key, existing, rekey, stale } = plan;
    let now = d.received_at_ms;
    let unverified = !matches!(d.verdict, StoredVerdict::Signature(v) if v.secret().is_some());
    let test = d.is_test();
    let state_time = msg.state_time_ms();
    let tag = msg.tag.as_ref().map(|t| t.as_str().to_owned());
    let edd = msg.estimated_delivery.as_ref().map(|v| v.to_string());
    let proof_of_delivery = msg.proof_of_delivery.as_ref().map(|v| v.to_string());
    let pending_event = env.event == Some(EventKind::TrackingPendingTime);

    let Some(stored) = existing else {
        // A new shipment: its timeline is this delivery's checkpoints.
        let latest = msg.checkpoint_digest.latest.clone();
        let last_location = latest.as_ref().and_then(|l| l.place.clone());
        let last_location_time = latest.and_then(|l| l.sort_time);
        let delivered_at = delivered_at(tag.as_deref(), msg, None, now);
        let pending_since = pending_event.then_some(now);
        let timeline = timeline::apply(
            conn,
            StoredTimeline::none(),
            delivery_id,
            &msg.checkpoint_digest,
            &d.body,
            false,
        )?;
        conn.prepare_cached(
            "INSERT INTO shipments (key, tracking_id, tracking_number, slug, title, order_id, tag, subtag,
                subtag_message, expected_delivery, estimated_delivery, courier_tracking_link,
                courier_redirect_link, last_location, state_time, state_ts, state_delivery_id, tags_seen,
                unverified, created_at, updated_at, last_location_time, timeline_base_delivery_id,
                timeline_base_keys, timeline_extras, order_number, due, due_at, delivered_at, signed_by,
                proof_of_delivery, pending_since, test)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?20,
                ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32)",
        )?
        .execute(params![
            key,
            msg.id,
            msg.tracking_number,
            msg.slug,
            msg.title,
            msg.order_id,
            tag,
            msg.subtag,
            msg.subtag_message,
            msg.best_expected_delivery,
            edd,
            msg.courier_tracking_link,
            msg.courier_redirect_link,
            last_location,
            state_time,
            env.ts,
            delivery_id,
            tags_seen_with(",", tag.as_deref()),
            unverified,
            now,
            last_location_time,
            timeline.base_delivery_id,
            timeline.base_keys,
            timeline.extras,
            msg.order_number,
            msg.due,
            msg.due.as_deref().and_then(due_end_ms),
            delivered_at,
            msg.signed_by,
            proof_of_delivery,
            pending_since,
            test,
        ])?;
        let shipment_id = conn.last_insert_rowid();
        let checkpoints = checkpoint_text(delivery_checkpoint_parts(msg));
        crate::search::index_shipment(
            conn,
            shipment_id,
            &ShipmentDocument {
                tracking_number: msg.tracking_number.as_deref(),
                order_id: msg.order_id.as_deref(),
                order_number: msg.order_number.as_deref(),
                title: msg.title.as_deref(),
                checkpoints: &checkpoints,
                details: &crate::search::details_text(msg),
            },
            true,
        )?;
        let item = ShipmentItem {
            id: shipment_id,
            tracking_id: msg.id.clone(),
            tracking_number: msg.tracking_number.clone(),
            slug: msg.slug.clone(),
            title: msg.title.clone(),
            order_id: msg.order_id.clone(),
            tag: tag.clone(),
            subtag: msg.subtag.clone(),
            subtag_message: msg.subtag_message.clone(),
            expected_delivery: msg.best_expected_delivery.clone(),
            last_location,
            updated_at: rfc3339_ms(now),
            unverified,
            courier: msg.slug.as_deref().map(courier_of),
            order_number: msg.order_number.clone(),
            last_scan_at: last_location_time.map(rfc3339_ms),
            delivered_at: delivered_at.map(rfc3339_ms),
            due: msg.due.clone(),
            archived: false,
            test,
        };
        return Ok(ShipmentChange {
            shipment_id,
            created: true,
            previous_tag: None,
            tag_first_seen: tag.is_some(),
            tag,
            stale: false,
            unverified,
            changed: true,
            item,
            estimate_change: None,
        });
    };

    let shipment_id = stored.item.id;
    let previous_tag = stored.item.tag.clone();
    let mut item = stored.item;
    if rekey {
        // The parcel was known by slug + tracking number only; now by AfterShip's id as well.
        conn.prepare_cached(
            "UPDATE shipments SET key = ?2, tracking_id = coalesce(?3, tracking_id) WHERE id = ?1",
        )?
        .execute(params![shipment_id, key, msg.id])?;
        if msg.id.is_some() {
            item.tracking_id.clone_from(&msg.id);
        }
        tracing::debug!(shipment_id, from = %stored.key, to = %key, "a shipment known by its tracking number now has AfterShip's id");
    }
    if item.test && !test {
        // Test data is what only test deliveries built.
        conn.prepare_cached("UPDATE shipments SET test = 0 WHERE id = ?1")?.execute([shipment_id])?;
        item.test = false;
    }

    let tag_first_seen = !stale && tag.as_deref().is_some_and(|t| !has_tag(&stored.tags_seen, t));
    let tags_seen = tags_seen_with(&stored.tags_seen, tag.as_deref());

    // A stale update changes only the timeline (and perhaps the last location): kept to compare.
    let timeline_before = stale.then(|| stored.timeline.clone());
    let timeline =
        timeline::apply(conn, stored.timeline, delivery_id, &msg.checkpoint_digest, &d.body, stale)?;
    let timeline_changed = timeline_before.is_none_or(|before| before != timeline);
    let (mut last_location, mut last_location_time) = (item.last_location.clone(), stored.last_location_time);
    if let Some(latest) = msg.checkpoint_digest.latest.clone() {
        // On a tie in time (carriers often send only a date), the update that is not stale wins, as
        // the last one sent wins within an update: whichever arrives first, the newer one's holds.
        let tie_to_newer = !stale && latest.sort_time.is_some() && latest.sort_time == last_location_time;
        if tie_to_newer || latest.newer_than(last_location_time, last_location.as_deref()) {
            (last_location, last_location_time) = (latest.place, latest.sort_time);
        }
    }
    // "Pending for too long" holds until a newer courier scan arrives.
    let scanned_since = match (last_location_time, stored.last_location_time) {
        (Some(new), Some(old)) => new > old,
        (new, old) => new.is_some() && old.is_none(),
    };
    let pending_since = if pending_event && !stale {
        Some(now)
    } else if scanned_since {
        None
    } else {
        stored.pending_since
    };
    item.last_scan_at = last_location_time.map(rfc3339_ms);

    let mut changed = true;
    let mut estimate_change = None;
    if stale {
        conn.prepare_cached(
            "UPDATE shipments SET tags_seen = ?2, last_location = ?3, last_location_time = ?4,
                timeline_base_delivery_id = ?5, timeline_base_keys = ?6, timeline_extras = ?7, pending_since = ?8
             WHERE id = ?1",
        )?
        .execute(params![
            shipment_id,
            tags_seen,
            last_location,
            last_location_time,
            timeline.base_delivery_id,
            timeline.base_keys,
            timeline.extras,
            pending_since,
        ])?;
        changed = timeline_changed
            || item.last_location != last_location
            || pending_since != stored.pending_since
            || rekey;
        item.last_location = last_location;
        if timeline_changed {
            reindex(conn, &item, &timeline, delivery_id, msg)?;
        }
    } else {
        // Fields the update does not carry keep their stored value. An event that does not carry
        // the state (no tag: an `edd_revise` or `tracking_pending_time` naming the tracking only)
        // keeps the subtag and the estimate it does not mention.
        let carries_state = tag.is_some();
        let keep = |new: &Option<String>, old: &mut Option<String>| {
            if new.is_some() {
                old.clone_from(new);
            }
        };
        // The searchable identifiers are written only when they change: each has an index, and
        // SQLite rewrites an index entry for every column an UPDATE sets, changed or not.
        let identifiers = |i: &ShipmentItem| {
            (i.tracking_number.clone(), i.title.clone(), i.order_id.clone(), i.order_number.clone())
        };
        let identifiers_before = identifiers(&item);
        keep(&msg.id, &mut item.tracking_id);
        keep(&msg.tracking_number, &mut item.tracking_number);
        keep(&msg.slug, &mut item.slug);
        keep(&msg.title, &mut item.title);
        keep(&msg.order_id, &mut item.order_id);
        keep(&msg.order_number, &mut item.order_number);
        keep(&tag, &mut item.tag);
        if carries_state {
            item.subtag.clone_from(&msg.subtag);
            item.subtag_message.clone_from(&msg.subtag_message);
            item.expected_delivery.clone_from(&msg.best_expected_delivery);
        } else {
            keep(&msg.best_expected_delivery, &mut item.expected_delivery);
        }
        item.courier = item.slug.as_deref().map(courier_of);
        item.last_location = last_location;
        item.unverified = unverified;
        item.updated_at = rfc3339_ms(now);
        conn.prepare_cached(
            "UPDATE shipments SET tracking_id = ?2, slug = ?4,
                tag = ?7, subtag = ?8, subtag_message = ?9, expected_delivery = ?10,
                estimated_delivery = CASE WHEN ?25 THEN ?11
                    ELSE coalesce(CASE WHEN json_valid(estimated_delivery) THEN json_patch(estimated_delivery, ?11) END,
                        ?11, estimated_delivery) END,
                courier_tracking_link = coalesce(?12, courier_tracking_link),
                courier_redirect_link = coalesce(?13, courier_redirect_link),
                state_time = coalesce(?14, state_time), state_ts = coalesce(?15, state_ts),
                state_delivery_id = ?16, tags_seen = ?17, unverified = ?18, updated_at = ?19, last_location = ?20,
                last_location_time = ?21, timeline_base_delivery_id = ?22, timeline_base_keys = ?23,
                timeline_extras = ?24
             WHERE id = ?1",
        )?
        .execute(params![
            shipment_id,
            item.tracking_id,
            item.tracking_number,
            item.slug,
            item.title,
            item.order_id,
            item.tag,
            item.subtag,
            item.subtag_message,
            item.expected_delivery,
            edd,
            msg.courier_tracking_link,
            msg.courier_redirect_link,
            state_time,
            env.ts,
            delivery_id,
            tags_seen,
            unverified,
            now,
            item.last_location,
            last_location_time,
            timeline.base_delivery_id,
            timeline.base_keys,
            timeline.extras,
            carries_state,
        ])?;
        if identifiers(&item) != identifiers_before {
            conn.prepare_cached(
                "UPDATE shipments SET tracking_number = ?2, title = ?3, order_id = ?4, order_number = ?5
                 WHERE id = ?1",
            )?
            .execute(params![
                shipment_id,
                item.tracking_number,
                item.title,
                item.order_id,
                item.order_number
            ])?;
        }

        // What the merchant's desk reads: the due date, when it was delivered, the proof, and
        // whether AfterShip said it stayed pending. Written only when something of it changes
        // (the desk's partial indexes cover these columns).
        let previous_due = item.due.clone();
        keep(&msg.due, &mut item.due);
        let moved = msg.due.is_some() && due_moved(previous_due.as_deref(), item.due.as_deref());
        let delivered_at = delivered_at(tag.as_deref(), msg, stored.delivered_at, now);
        item.delivered_at = delivered_at.map(rfc3339_ms);
        if moved
            || delivered_at != stored.delivered_at
            || pending_since != stored.pending_since
            || msg.signed_by.is_some()
            || proof_of_delivery.is_some()
        {
            conn.prepare_cached(
                "UPDATE shipments SET due = ?2, due_at = ?3, delivered_at = ?4, pending_since = ?5,
                    signed_by = coalesce(?6, signed_by), proof_of_delivery = coalesce(?7, proof_of_delivery)
                 WHERE id = ?1",
            )?
            .execute(params![
                shipment_id,
                item.due,
                item.due.as_deref().and_then(due_end_ms),
                delivered_at,
                pending_since,
                msg.signed_by,
                proof_of_delivery,
            ])?;
        }
        // A move of the estimate is kept in the shipment's history (a first estimate is not a
        // move, unless AfterShip sent it as a revision).
        if moved && (previous_due.is_some() || env.event == Some(EventKind::EddRevise)) {
            let later = match (
                previous_due.as_deref().and_then(due_end_ms),
                item.due.as_deref().and_then(due_end_ms),
            ) {
                (Some(before), Some(after)) => after > before,
                _ => false,
            };
            conn.prepare_cached(
                "INSERT INTO estimate_changes (shipment_id, delivery_id, received_at, previous, estimate, reason, later)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![shipment_id, delivery_id, now, previous_due, item.due, msg.revise_reason, later])?;
            estimate_change = Some(EstimateChange {
                at: rfc3339_ms(now),
                delivery_id,
                previous: previous_due,
                estimate: item.due.clone(),
                reason: msg.revise_reason.clone(),
                later,
            });
        }
        reindex(conn, &item, &timeline, delivery_id, msg)?;
    }
    Ok(ShipmentChange {
        shipment_id,
        created: false,
        previous_tag,
        tag: item.tag.clone(),
        tag_first_seen,
        stale,
        unverified: item.unverified,
        changed,
        item,
        estimate_change,
    })
}

/// The messages and locations of a delivery's checkpoints, for its shipment's search document.
fn delivery_checkpoint_parts(msg: &Tracking) -> impl Iterator<Item = Option<&str>> {
    msg.checkpoints.iter().flat_map(|c| [c.message.as_deref(), c.location.as_deref()])
}

/// Rewrites a shipment's search document after an update changed it or its timeline. When this
/// delivery is the timeline's base, its checkpoints are at hand; otherwise the timeline is read.
fn reindex(
    conn: &Connection,
    item: &ShipmentItem,
    timeline: &StoredTimeline,
    delivery_id: i64,
    msg: &Tracking,
) -> Result<()> {
    let checkpoints = if timeline.base_delivery_id == Some(delivery_id) {
        let extras = timeline::Timeline::parse(&timeline.extras).unwrap_or_default();
        let extra_parts = extras.entries.iter().flat_map(|e| [e.message.as_deref(), e.location.as_deref()]);
        checkpoint_text(delivery_checkpoint_parts(msg).chain(extra_parts))
    } else {
        checkpoint_text(item_parts(&timeline::checkpoint_items(conn, item.id)?))
    };
    let doc = ShipmentDocument {
        tracking_number: item.tracking_number.as_deref(),
        order_id: item.order_id.as_deref(),
        order_number: item.order_number.as_deref(),
        title: item.title.as_deref(),
        checkpoints: &checkpoints,
        details: &crate::search::details_text(msg),
    };
    crate::search::index_shipment(conn, item.id, &doc, false)
}

/// Whether `seen` (`,InTransit,Delivered,`) holds `tag`, i.e. holds `,{tag},`.
fn has_tag(seen: &str, tag: &str) -> bool {
    seen.match_indices(tag)
        .any(|(at, _)| seen[..at].ends_with(',') && seen[at + tag.len()..].starts_with(','))
}

fn tags_seen_with(seen: &str, tag: Option<&str>) -> String {
    match tag {
        Some(t) if !has_tag(seen, t) => {
            let mut with = String::with_capacity(seen.len() + t.len() + 1);
            with.push_str(seen);
            with.push_str(t);
            with.push(',');
            with
        }
        _ => seen.to_owned(),
    }
}

/// Checks every failed delivery (invalid, missing, malformed) again with `secrets`. Those now valid
/// get verdict `valid` and are projected in the order received (or flagged duplicate when their event
/// was already accepted); the stale-update rule still holds. Those still failing get their diagnosis
/// code again (the new secrets may explain them otherwise, say a trailing newline instead of a
/// wrong secret). Returns how many were checked and what
/// each newly valid one did. Runs inside the writer's transaction.
pub fn reverify_failed(
    conn: &Connection,
    secrets: &shipwatch_aftership::Secrets,
) -> Result<(i64, Vec<StoredDelivery>)> {
    use shipwatch_aftership::signature::find_signature_header;
    use shipwatch_aftership::{diagnosis_code, parse_envelope, verify_signature, DeliveryVerdict};

    let failed: Vec<i64> = conn
        .prepare_cached(
            &format!(
                "SELECT id FROM deliveries WHERE {} AND verdict != 'too_large' AND body_truncated = 0 ORDER BY id",
                crate::queries::FAILED
            ),
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut changed = Vec::new();
    for id in &failed {
        let rec = crate::queries::get_delivery(conn, *id)?;
        let header = find_signature_header(rec.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let verdict = verify_signature(header, &rec.body, secrets);
        let DeliveryVerdict::Valid(slot) = verdict else {
            if matches!(
                verdict,
                DeliveryVerdict::Invalid | DeliveryVerdict::Missing | DeliveryVerdict::Malformed
            ) {
                let code = diagnosis_code(verdict, &rec.headers, &rec.body, secrets);
                conn.prepare_cached(
                    "UPDATE deliveries SET diagnosis = ?2 WHERE id = ?1 AND diagnosis IS NOT ?2",
                )?
                .execute(params![id, code.as_str()])?;
            }
            continue;
        };
        let envelope = parse_envelope(&rec.body).ok();
        let received_at_ms =
            conn.query_row("SELECT received_at FROM deliveries WHERE id = ?1", [id], |r| r.get(0))?;
        let d = NewDelivery {
            received_at_ms,
            peer: rec.peer.clone(),
            forwarded_for: None,
            cf_connecting_ip: None,
            method: rec.method.clone(),
            path: rec.path.clone(),
            // For the test mark (`x-shipwatch-test` and, now, a valid signature).
            headers: rec.headers.clone(),
            // Read if its checkpoints must be copied into the shipment's timeline.
            body: rec.body,
            body_size: rec.item.size,
            body_truncated: false,
            verdict: StoredVerdict::Signature(verdict),
            status: rec.item.status,
            envelope,
            parse_error: rec.parse_error.clone(),
            diagnosis: None,
        };
        let env = d.envelope.as_ref();
        let event_id = env.and_then(|e| e.event_id.clone());
        let original = match &event_id {
            Some(eid) => original_of(conn, eid, *id)?.map(|(id, _, shipment)| (id, shipment)),
            None => None,
        };
        let mut shipment = None;
        let note = if let Some((orig, _)) = original {
            format!("re-verified valid; duplicate of delivery {orig}: changed nothing")
        } else if let (Some(env), Some(msg)) = (env, env.and_then(|e| e.msg.as_ref())) {
            match plan(conn, env, msg)?.map(|plan| project(conn, *id, &d, env, msg, plan)).transpose()? {
                Some(change) => {
                    let n = if change.stale {
                        "re-verified valid; stale: checkpoints merged, state kept"
                    } else {
                        "re-verified valid; updated the shipment"
                    };
                    shipment = Some(change);
                    n.to_owned()
                }
                None => "re-verified valid; not applied: no tracking id or tracking number".to_owned(),
            }
        } else {
            "re-verified valid; not applied: the body is not an AfterShip envelope".to_owned()
        };
        let duplicate_of = original.map(|o| o.0);
        let shipment_id =
            shipment.as_ref().map(|s: &ShipmentChange| s.shipment_id).or(original.and_then(|o| o.1));
        conn.prepare_cached(
            "UPDATE deliveries SET verdict = 'valid', secret = ?2, duplicate_of = ?3, projection = ?4,
                shipment_id = coalesce(?5, shipment_id), test = ?6, diagnosis = ?7
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            slot.as_str(),
            duplicate_of,
            note,
            shipment_id,
            d.is_test(),
            d.diagnosis_code().map(|c| c.as_str())
        ])?;
        let item = crate::queries::get_delivery(conn, *id)?.item;
        changed.push(StoredDelivery {
            id: *id,
            status: rec.item.status,
            duplicate_of,
            verdict: d.verdict,
            item,
            shipment,
        });
    }
    Ok((failed.len() as i64, changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_prefers_state_time_then_ts_then_the_newest_checkpoint() {
        assert_eq!(freshness((Some(2), Some(1), Some(0)), (Some(1), Some(9), Some(9))), Ordering::Greater);
        assert_eq!(freshness((Some(1), Some(1), None), (Some(2), Some(0), None)), Ordering::Less);
        assert_eq!(freshness((Some(5), Some(3), Some(9)), (Some(5), Some(4), Some(1))), Ordering::Less);
        assert_eq!(freshness((None, Some(3), None), (Some(5), Some(2), None)), Ordering::Greater);
        assert_eq!(freshness((None, None, None), (Some(5), Some(2), Some(1))), Ordering::Equal);
        // A tie of both times: the checkpoints decide, and only when both are known.
        assert_eq!(freshness((Some(5), Some(3), Some(1)), (Some(5), Some(3), Some(2))), Ordering::Less);
        assert_eq!(freshness((None, None, Some(2)), (Some(5), None, Some(1))), Ordering::Greater);
        assert_eq!(freshness((Some(5), Some(3), None), (Some(5), Some(3), Some(2))), Ordering::Equal);
    }

    #[test]
    fn tags_seen_accumulates_once() {
        let s = tags_seen_with(",", Some("InTransit"));
        let s = tags_seen_with(&s, Some("InTransit"));
        let s = tags_seen_with(&s, Some("Delivered"));
        assert_eq!(s, ",InTransit,Delivered,");
        assert_eq!(tags_seen_with(&s, None), s);
        // A tag is matched whole, not as a part of another.
        assert!(has_tag(",InTransit,Delivered,", "Delivered"));
        assert!(!has_tag(",InTransit,Delivered,", "Transit"));
        assert!(!has_tag(",InTransitX,", "InTransit"));
        assert_eq!(tags_seen_with(",InTransitX,", Some("InTransit")), ",InTransitX,InTransit,");
    }

    /// A store's connection with its schema, and a delivery of tracking id `id` on `day`.
    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        crate::migrations::migrate(&mut conn, &path).unwrap();
        crate::search::prepare_queue(&conn).unwrap();
        (dir, conn)
    }

    fn delivery(id: &str, day: u32) -> PendingInsert {
        let body = serde_json::to_vec(&serde_json::json!({
            "event_id": format!("{id}-{day}"),
            "msg": { "id": id, "tag": "InTransit", "last_updated_at": format!("2026-01-{day:02}T10:00:00Z") },
        }))
        .unwrap();
        let mut pending = crate::test_delivery(body);
        pending.delivery.received_at_ms = i64::from(day);
        pending
    }

    fn store(conn: &Connection, id: &str, day: u32) -> Inserted {
        store_delivery(conn, &delivery(id, day)).unwrap()
    }

    #[test]
    fn a_shipment_is_found_by_its_unique_key() {
        let (_dir, conn) = db();
        let a = store(&conn, "aaa", 1).shipment_id.unwrap();
        let b = store(&conn, "bbb", 1).shipment_id.unwrap();
        assert_ne!(a, b);
        assert_eq!(store(&conn, "aaa", 2).shipment_id, Some(a));
        let n: i64 = conn.query_row("SELECT count(*) FROM shipments", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2);
        // The schema refuses a second shipment of one key, whatever writes it.
        let second =
            conn.execute("INSERT INTO shipments (key, created_at, updated_at) VALUES ('id:aaa', 1, 1)", []);
        assert!(second.is_err(), "a second row for one key");
    }

    #[test]
    fn a_repeat_is_found_through_the_event_index() {
        let (_dir, conn) = db();
        let first = store(&conn, "aaa", 1);
        assert_eq!(first.duplicate_of, None);
        assert_eq!(store(&conn, "aaa", 1).duplicate_of, Some(first.id));
        assert_eq!(store(&conn, "aaa", 2).duplicate_of, None);
        let plan: String = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT id, status, shipment_id FROM deliveries
                 WHERE event_id = ?1 AND duplicate_of IS NULL AND verdict IN ('valid', 'unverified') AND id <> ?2
                 ORDER BY id LIMIT 1",
            )
            .unwrap()
            .query_map(params!["aaa-1", 0], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("; ");
        assert!(plan.contains("deliveries_event_id"), "plan: {plan}");
    }

    #[test]
    fn ids_are_never_reused_even_after_the_newest_is_deleted() {
        let (_dir, conn) = db();
        let old = store(&conn, "aaa", 1);
        conn.execute("DELETE FROM deliveries WHERE id = ?1", [old.id]).unwrap();
        let new = store(&conn, "bbb", 1);
        assert!(new.id > old.id, "{} after {}", new.id, old.id);
    }
}
