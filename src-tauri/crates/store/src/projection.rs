//! Storing one delivery inside the writer's transaction: deduplication on `event_id`, then the
//! shipment projection.
//!
//! Rules: only accepted deliveries (valid, or unverified while no secret is configured) that are not
//! duplicates touch shipments. A shipment is keyed by AfterShip's tracking id (`legacy_id`, else `id`),
//! falling back to slug + tracking number. Its state (tag, subtag, EDD, ...) only moves forward: an
//! update whose `msg.last_updated_at`/`updated_at` (then `ts`) is older than the stored state is
//! "stale" — its checkpoints are merged into the timeline but the state is kept. Checkpoints are a
//! union keyed by their content ([`crate::timeline`]).

use std::cmp::Ordering;
use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};
use shipwatch_aftership::{Envelope, Tracking};
use shipwatch_api::ShipmentItem;

use crate::inplace::{values, InPlaceStatement};
use crate::queries::{
    event_key, rfc3339_ms, shipment_row, EVENT_DELIVERIES, SHIPMENT_COLUMNS, SHIPMENT_COLUMN_COUNT,
};
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

/// The ids of the deliveries a write transaction inserts. Only the writer inserts deliveries, so the
/// first id is looked up once per transaction and the others follow it, instead of a
/// `SELECT max(id) + 1` per delivery. An id of a delivery rolled back stays unused.
#[derive(Default)]
pub(crate) struct DeliveryIds {
    next: Option<i64>,
}

impl DeliveryIds {
    fn take(&mut self, conn: &Connection) -> Result<i64> {
        let id = match self.next {
            Some(id) => id,
            None => conn
                .prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM deliveries")?
                .query_row([], |r| r.get(0))?,
        };
        self.next = Some(id + 1);
        Ok(id)
    }
}

/// The statements every delivery runs, prepared once on the writer's connection and kept (rusqlite's
/// statement cache hashes and compares a statement's whole SQL text to find it, and again to put it
/// back). Each is prepared on first use; the writes bind their values in place ([`crate::inplace`]).
pub struct WriterStatements<'c> {
    conn: &'c Connection,
    queries: [Option<rusqlite::Statement<'c>>; 2],
    writes: [Option<InPlaceStatement<'c>>; 5],
}

/// The writer's kept queries, one slot each.
#[derive(Clone, Copy)]
enum Query {
    FindOriginal,
    ShipmentById,
}

/// The writer's kept writes (values bound in place: [`crate::inplace`]), one slot each.
#[derive(Clone, Copy)]
enum Write {
    InsertDelivery,
    InsertEvent,
    InsertShipment,
    UpdateShipment,
    UpdateStaleShipment,
}

impl<'c> WriterStatements<'c> {
    /// Statements on `conn` (prepared when first used).
    pub fn new(conn: &'c Connection) -> Self {
        WriterStatements { conn, queries: Default::default(), writes: Default::default() }
    }

    /// The connection the statements belong to.
    pub fn conn(&self) -> &'c Connection {
        self.conn
    }

    /// The query of `slot`, prepared from `sql` the first time (a slot always gets the same SQL).
    fn query<S: AsRef<str>>(
        &mut self,
        slot: Query,
        sql: impl FnOnce() -> S,
    ) -> Result<&mut rusqlite::Statement<'c>> {
        let kept = &mut self.queries[slot as usize];
        if kept.is_none() {
            *kept = Some(self.conn.prepare(sql().as_ref())?);
        }
        Ok(kept.as_mut().expect("prepared above"))
    }

    /// The write of `slot`, prepared from `sql` the first time.
    fn write(&mut self, slot: Write, sql: &str) -> Result<&mut InPlaceStatement<'c>> {
        let kept = &mut self.writes[slot as usize];
        if kept.is_none() {
            *kept = Some(InPlaceStatement::prepare(self.conn, sql)?);
        }
        Ok(kept.as_mut().expect("prepared above"))
    }
}

/// Inserts the delivery, deduplicates and projects it. Runs inside the writer's transaction, which
/// `ids` belongs to.
pub(crate) fn store_delivery(
    db: &mut WriterStatements<'_>,
    keys: &mut ShipmentKeys,
    seen: &mut SeenEvents,
    pending: &PendingInsert,
    ids: &mut DeliveryIds,
) -> Result<Inserted> {
    let conn = db.conn();
    let d = &pending.delivery;
    let env = d.envelope.as_ref();
    let msg = env.and_then(|e| e.msg.as_ref());
    let event_id = env.and_then(|e| e.event_id.as_deref());

    // Another attempt of an event we already accepted? (Only looked up if the event id may be stored.)
    let original: Option<(i64, u16, Option<i64>)> = match &event_id {
        Some(eid) if seen.may_hold(conn, eid)? => db
            .query(Query::FindOriginal, || {
                format!(
                    "SELECT d.id, d.status, d.shipment_id FROM {EVENT_DELIVERIES}
                        AND d.duplicate_of IS NULL AND d.verdict IN ('valid', 'unverified')
                     ORDER BY e.delivery_id LIMIT 1"
                )
            })?
            .query_row(params![eid, event_key(eid)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?,
        _ => None,
    };
    let accepted = d.verdict.accepted();
    let (status, duplicate_of, dup_shipment) = match original {
        // A repeat of an accepted event is answered like the original, so AfterShip stops retrying.
        Some((id, orig_status, ship)) if accepted => (orig_status, Some(id), ship),
        Some((id, _, _)) => (d.status, Some(id), None),
        None => (d.status, None, None),
    };

    // The row's id is taken up front (one writer: nobody else inserts), so the projection can run
    // first and the row, with its large body, is written once rather than inserted then updated.
    let id = ids.take(conn)?;

    let mut shipment = None;
    let projection: Option<String> = if let Some(orig) = duplicate_of {
        Some(format!("duplicate of delivery {orig}: changed nothing"))
    } else if !accepted {
        Some(format!("not applied: signature {}", d.verdict.as_str()))
    } else if let (Some(env), Some(msg)) = (env, msg) {
        match project(db, keys, id, d, env, msg)? {
            Some(change) => {
                let note = if change.stale {
                    "stale: older than the shipment's stored state; checkpoints merged, state kept".to_owned()
                } else if change.created {
                    "created the shipment".to_owned()
                } else {
                    "updated the shipment".to_owned()
                };
                shipment = Some(change);
                Some(note)
            }
            None => Some("not applied: no tracking id or tracking number".to_owned()),
        }
    } else if d.envelope.is_some() {
        Some("not applied: no tracking object (msg)".to_owned())
    } else {
        Some("not applied: the body is not an AfterShip envelope".to_owned())
    };
    let shipment_id = shipment.as_ref().map(|s: &ShipmentChange| s.shipment_id).or(dup_shipment);

    db.write(
        Write::InsertDelivery,
        "INSERT INTO deliveries (id, received_at, peer, forwarded_for, cf_connecting_ip, method, path, headers,
            body, body_size, body_truncated, verdict, secret, status, duplicate_of, event, event_id, ts,
            tracking_id, tracking_number, slug, tag, order_id, parse_error, shipment_id, projection)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
    )?
    .execute(&values![
        id,
        d.received_at_ms,
        d.peer,
        d.forwarded_for,
        d.cf_connecting_ip,
        d.method,
        d.path,
        pending.headers_json,
        d.body,
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
        shipment_id,
        projection,
    ])?;
    if let Some(eid) = event_id {
        // OR REPLACE: a row left behind by a delivery deleted without foreign keys (whose id this
        // one reuses) must not refuse this delivery; the event id itself decides every lookup.
        db.write(
            Write::InsertEvent,
            "INSERT OR REPLACE INTO delivery_events (delivery_id, event_key) VALUES (?1, ?2)",
        )?
        .execute(&values![id, event_key(eid)])?;
        seen.add(eid);
    }

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
    state_time: Option<i64>,
    state_ts: Option<i64>,
    tags_seen: String,
    last_location_time: Option<i64>,
    timeline: StoredTimeline,
    key: String,
}

/// FNV-1a of `s`: fixed from run to run; what it hashes (shipment keys, event ids) is not chosen by an
/// attacker, or not trusted by what uses it (a hit is always checked).
fn fnv1a(s: impl AsRef<[u8]>) -> u64 {
    s.as_ref().iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The event ids the `deliveries` table may hold: a Bloom filter (2 MiB, whatever the number of
/// deliveries) of their keys (first 8 bytes, as `delivery_events` holds them), which the writer reads
/// from that table on first use and adds every stored delivery's key to. AfterShip's event ids are
/// new in almost every delivery, and "not in the filter" means "not in the table", so the lookup of
/// an earlier attempt (a scan of `delivery_events`) is only made for the few that may be repeats.
/// Nothing is taken out: a delivery rolled back or deleted by retention stays a "may hold", which
/// only costs that lookup. About 1% of new event ids are looked up in vain with a million stored;
/// the filter fills (more lookups, never a wrong answer) beyond ten million.
#[derive(Default)]
pub struct SeenEvents {
    bits: Option<Box<[u64]>>,
}

impl SeenEvents {
    const BITS: u64 = 1 << 24;

    /// Two positions in the filter for an event key, from the two halves of a mixed 64-bit hash.
    fn positions(key: &[u8]) -> [u64; 2] {
        let mut h = fnv1a(key);
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        [h % Self::BITS, (h >> 32) % Self::BITS]
    }

    fn bits(&mut self, conn: &Connection) -> Result<&mut [u64]> {
        if self.bits.is_none() {
            let mut bits = vec![0u64; (Self::BITS / 64) as usize].into_boxed_slice();
            let mut stmt = conn.prepare("SELECT event_key FROM delivery_events")?;
            let mut rows = stmt.query([])?;
            let mut n = 0u64;
            while let Some(row) = rows.next()? {
                if let rusqlite::types::ValueRef::Blob(key) = row.get_ref(0)? {
                    Self::set(&mut bits, key);
                    n += 1;
                }
            }
            tracing::debug!(event_ids = n, "read the stored event ids");
            self.bits = Some(bits);
        }
        Ok(self.bits.as_deref_mut().expect("read above"))
    }

    fn set(bits: &mut [u64], key: &[u8]) {
        for p in Self::positions(key) {
            bits[(p / 64) as usize] |= 1 << (p % 64);
        }
    }

    /// False: no delivery in the table has this event id. True: one may have.
    pub(crate) fn may_hold(&mut self, conn: &Connection, event_id: &str) -> Result<bool> {
        let bits = self.bits(conn)?;
        Ok(Self::positions(event_key(event_id))
            .iter()
            .all(|&p| bits[(p / 64) as usize] & (1 << (p % 64)) != 0))
    }

    /// A delivery with this event id was inserted (after a [`Self::may_hold`], so the filter is read).
    pub(crate) fn add(&mut self, event_id: &str) {
        if let Some(bits) = self.bits.as_deref_mut() {
            Self::set(bits, event_key(event_id));
        }
    }
}

/// The writer's way from a shipment's key to its id.
///
/// `shipments.key` has no index (migration 5): keys are AfterShip's tracking ids, in no order, and an
/// index of them took a leaf at random for every new shipment, a WAL frame of its own per delivery.
/// This map (a 64-bit hash of the key to the id) is read from the table on first use and kept up to
/// date by the writer, the only one to add shipments; what a transaction or savepoint adds is taken
/// back when it rolls back. A hit is checked against the row's key, and a key that is not where the
/// map says (two keys with one hash) is looked for in the table: the map only makes lookups fast, it
/// never decides which shipment a delivery belongs to. About 30 bytes per shipment.
#[derive(Default)]
pub struct ShipmentKeys {
    ids: Option<HashMap<u64, i64>>,
    /// Hashes added since the last commit, in order (a savepoint rolls back to a mark in it).
    added: Vec<u64>,
}

impl ShipmentKeys {
    fn hash(key: &str) -> u64 {
        fnv1a(key)
    }

    fn ids(&mut self, conn: &Connection) -> Result<&mut HashMap<u64, i64>> {
        if self.ids.is_none() {
            let mut ids = HashMap::new();
            let mut stmt = conn.prepare("SELECT id, key FROM shipments ORDER BY id")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                // The first shipment of a hash keeps it; any other is found in the table.
                let key: String = row.get(1)?;
                ids.entry(Self::hash(&key)).or_insert(row.get(0)?);
            }
            tracing::debug!(shipments = ids.len(), "read the shipments' keys");
            self.ids = Some(ids);
        }
        Ok(self.ids.as_mut().expect("read above"))
    }

    /// The id of the shipment `key` may be (to check against its row); `None`: there is none.
    pub(crate) fn get(&mut self, conn: &Connection, key: &str) -> Result<Option<i64>> {
        Ok(self.ids(conn)?.get(&Self::hash(key)).copied())
    }

    /// A shipment added by the current transaction (after a [`Self::get`], so the map is read).
    pub(crate) fn add(&mut self, key: &str, id: i64) {
        let hash = Self::hash(key);
        if let Some(ids) = self.ids.as_mut() {
            if let std::collections::hash_map::Entry::Vacant(e) = ids.entry(hash) {
                e.insert(id);
                self.added.push(hash);
            }
        }
    }

    /// Where a savepoint starts, for [`Self::roll_back_to`].
    pub(crate) fn mark(&self) -> usize {
        self.added.len()
    }

    /// Takes back what was added since `mark` (its savepoint or transaction was rolled back).
    pub(crate) fn roll_back_to(&mut self, mark: usize) {
        if let Some(ids) = self.ids.as_mut() {
            for hash in self.added.drain(mark..) {
                ids.remove(&hash);
            }
        }
    }

    /// The transaction committed: what it added stays.
    pub(crate) fn committed(&mut self) {
        self.added.clear();
    }
}

/// A shipment's stored state, found by `column` (`id`, or `key`: a scan of the table).
fn stored_shipment(
    db: &mut WriterStatements<'_>,
    column: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Option<StoredShipment>> {
    let sql = || {
        format!(
            "SELECT {SHIPMENT_COLUMNS}, state_time, state_ts, tags_seen, last_location_time, {TIMELINE_COLUMNS}, key
             FROM shipments WHERE {column} = ?1"
        )
    };
    let read = |r: &rusqlite::Row<'_>| {
        Ok(StoredShipment {
            item: shipment_row(r)?,
            state_time: r.get(SHIPMENT_COLUMN_COUNT)?,
            state_ts: r.get(SHIPMENT_COLUMN_COUNT + 1)?,
            tags_seen: r.get(SHIPMENT_COLUMN_COUNT + 2)?,
            last_location_time: r.get(SHIPMENT_COLUMN_COUNT + 3)?,
            timeline: StoredTimeline::from_row(r, SHIPMENT_COLUMN_COUNT + 4)?,
            key: r.get(SHIPMENT_COLUMN_COUNT + 7)?,
        })
    };
    Ok(if column == "id" {
        db.query(Query::ShipmentById, sql)?.query_row([value], read)
    } else {
        db.conn().prepare_cached(&sql())?.query_row([value], read)
    }
    .optional()?)
}

fn project(
    db: &mut WriterStatements<'_>,
    keys: &mut ShipmentKeys,
    delivery_id: i64,
    d: &NewDelivery,
    env: &Envelope,
    msg: &Tracking,
) -> Result<Option<ShipmentChange>> {
    let Some(key) = shipment_key(msg) else { return Ok(None) };
    let conn = db.conn();
    let now = d.received_at_ms;
    let unverified = !matches!(d.verdict, StoredVerdict::Signature(v) if v.secret().is_some());
    let state_time = msg.state_time_ms();
    let tag = msg.tag.as_ref().map(|t| t.as_str().to_owned());
    let edd = msg.estimated_delivery.as_ref().map(|v| v.to_string());

    let existing: Option<StoredShipment> = match keys.get(conn, &key)? {
        Some(id) => match stored_shipment(db, "id", &id)? {
            Some(stored) if stored.key == key => Some(stored),
            // Not this key's shipment (two keys with one hash): look for it in the table.
            _ => stored_shipment(db, "key", &key)?,
        },
        None => None,
    };

    let Some(stored) = existing else {
        // A new shipment: its timeline is this delivery's checkpoints.
        let latest = msg.checkpoint_digest.latest.clone();
        let last_location = latest.as_ref().and_then(|l| l.place.clone());
        let timeline = timeline::apply(
            conn,
            StoredTimeline::none(),
            delivery_id,
            &msg.checkpoint_digest,
            &d.body,
            false,
        )?;
        db.write(
        Write::InsertShipment,
        "INSERT INTO shipments (key, tracking_id, tracking_number, slug, title, order_id, tag, subtag,
                subtag_message, expected_delivery, estimated_delivery, courier_tracking_link,
                courier_redirect_link, last_location, state_time, state_ts, state_delivery_id, tags_seen,
                unverified, created_at, updated_at, last_location_time, timeline_base_delivery_id,
                timeline_base_keys, timeline_extras)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?20,
                ?21, ?22, ?23, ?24)",
        )?
        .execute(&values![
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
            latest.and_then(|l| l.sort_time),
            timeline.base_delivery_id,
            timeline.base_keys,
            timeline.extras,
        ])?;
        let shipment_id = conn.last_insert_rowid();
        keys.add(&key, shipment_id);
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
        };
        return Ok(Some(ShipmentChange {
            shipment_id,
            created: true,
            previous_tag: None,
            tag_first_seen: tag.is_some(),
            tag,
            stale: false,
            unverified,
            changed: true,
            item,
        }));
    };

    let shipment_id = stored.item.id;
    let newest_checkpoint = msg.checkpoint_digest.latest.as_ref().and_then(|l| l.sort_time);
    let stale = freshness(
        (state_time, env.ts, newest_checkpoint),
        (stored.state_time, stored.state_ts, stored.last_location_time),
    ) == Ordering::Less;
    let tag_first_seen = !stale && tag.as_deref().is_some_and(|t| !has_tag(&stored.tags_seen, t));
    let tags_seen = tags_seen_with(&stored.tags_seen, tag.as_deref());

    // A stale update changes only the timeline (and perhaps the last location): kept to compare.
    let timeline_before = stale.then(|| stored.timeline.clone());
    let timeline =
        timeline::apply(conn, stored.timeline, delivery_id, &msg.checkpoint_digest, &d.body, stale)?;
    let timeline_changed = timeline_before.is_none_or(|before| before != timeline);
    let (mut last_location, mut last_location_time) =
        (stored.item.last_location.clone(), stored.last_location_time);
    if let Some(latest) = msg.checkpoint_digest.latest.clone() {
        // On a tie in time (carriers often send only a date), the update that is not stale wins, as
        // the last one sent wins within an update: whichever arrives first, the newer one's holds.
        let tie_to_newer = !stale && latest.sort_time.is_some() && latest.sort_time == last_location_time;
        if tie_to_newer || latest.newer_than(last_location_time, last_location.as_deref()) {
            (last_location, last_location_time) = (latest.place, latest.sort_time);
        }
    }

    let previous_tag = stored.item.tag.clone();
    let mut item = stored.item;
    let mut changed = true;
    if stale {
        db.write(Write::UpdateStaleShipment, {
            "UPDATE shipments SET tags_seen = ?2, last_location = ?3, last_location_time = ?4,
                timeline_base_delivery_id = ?5, timeline_base_keys = ?6, timeline_extras = ?7
             WHERE id = ?1"
        })?
        .execute(&values![
            shipment_id,
            tags_seen,
            last_location,
            last_location_time,
            timeline.base_delivery_id,
            timeline.base_keys,
            timeline.extras
        ])?;
        changed = timeline_changed || item.last_location != last_location;
        item.last_location = last_location;
    } else {
        // Fields the update does not carry keep their stored value.
        let keep = |new: &Option<String>, old: &mut Option<String>| {
            if new.is_some() {
                old.clone_from(new);
            }
        };
        keep(&msg.id, &mut item.tracking_id);
        keep(&msg.tracking_number, &mut item.tracking_number);
        keep(&msg.slug, &mut item.slug);
        keep(&msg.title, &mut item.title);
        keep(&msg.order_id, &mut item.order_id);
        keep(&tag, &mut item.tag);
        item.subtag.clone_from(&msg.subtag);
        item.subtag_message.clone_from(&msg.subtag_message);
        item.expected_delivery.clone_from(&msg.best_expected_delivery);
        item.last_location = last_location;
        item.unverified = unverified;
        item.updated_at = rfc3339_ms(now);
        db.write(
        Write::UpdateShipment,
        "UPDATE shipments SET tracking_id = ?2, tracking_number = ?3, slug = ?4, title = ?5, order_id = ?6,
                tag = ?7, subtag = ?8, subtag_message = ?9, expected_delivery = ?10, estimated_delivery = ?11,
                courier_tracking_link = coalesce(?12, courier_tracking_link),
                courier_redirect_link = coalesce(?13, courier_redirect_link),
                state_time = coalesce(?14, state_time), state_ts = coalesce(?15, state_ts),
                state_delivery_id = ?16, tags_seen = ?17, unverified = ?18, updated_at = ?19, last_location = ?20,
                last_location_time = ?21, timeline_base_delivery_id = ?22, timeline_base_keys = ?23,
                timeline_extras = ?24
             WHERE id = ?1",
        )?
        .execute(&values![
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
        ])?;
    }
    Ok(Some(ShipmentChange {
        shipment_id,
        created: false,
        previous_tag,
        tag: item.tag.clone(),
        tag_first_seen,
        stale,
        unverified: item.unverified,
        changed,
        item,
    }))
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
/// was already accepted); the stale-update rule still holds. Returns how many were checked and what
/// each newly valid one did. Runs inside the writer's transaction.
pub fn reverify_failed(
    conn: &Connection,
    keys: &mut ShipmentKeys,
    secrets: &shipwatch_aftership::Secrets,
) -> Result<(i64, Vec<StoredDelivery>)> {
    use shipwatch_aftership::signature::find_signature_header;
    use shipwatch_aftership::{parse_envelope_lean, verify_signature, DeliveryVerdict};

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
    let mut db = WriterStatements::new(conn);
    for id in &failed {
        let rec = crate::queries::get_delivery(conn, *id)?;
        let header = find_signature_header(rec.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let verdict = verify_signature(header, &rec.body, secrets);
        let DeliveryVerdict::Valid(slot) = verdict else { continue };
        let envelope = parse_envelope_lean(&rec.body).ok();
        let received_at_ms =
            conn.query_row("SELECT received_at FROM deliveries WHERE id = ?1", [id], |r| r.get(0))?;
        let d = NewDelivery {
            received_at_ms,
            peer: rec.peer.clone(),
            forwarded_for: None,
            cf_connecting_ip: None,
            method: rec.method.clone(),
            path: rec.path.clone(),
            headers: Vec::new(),
            // Read if its checkpoints must be copied into the shipment's timeline.
            body: rec.body,
            body_size: rec.item.size,
            body_truncated: false,
            verdict: StoredVerdict::Signature(verdict),
            status: rec.item.status,
            envelope,
            parse_error: rec.parse_error.clone(),
        };
        let env = d.envelope.as_ref();
        let event_id = env.and_then(|e| e.event_id.clone());
        let original: Option<(i64, Option<i64>)> = match &event_id {
            Some(eid) => conn
                .prepare_cached(&format!(
                    "SELECT d.id, d.shipment_id FROM {EVENT_DELIVERIES}
                        AND d.duplicate_of IS NULL AND d.verdict IN ('valid', 'unverified') AND d.id != ?3
                     ORDER BY e.delivery_id LIMIT 1"
                ))?
                .query_row(params![eid, event_key(eid), id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?,
            None => None,
        };
        let mut shipment = None;
        let note = if let Some((orig, _)) = original {
            format!("re-verified valid; duplicate of delivery {orig}: changed nothing")
        } else if let (Some(env), Some(msg)) = (env, env.and_then(|e| e.msg.as_ref())) {
            match project(&mut db, keys, *id, &d, env, msg)? {
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
                shipment_id = coalesce(?5, shipment_id)
             WHERE id = ?1",
        )?
        .execute(params![id, slot.as_str(), duplicate_of, note, shipment_id])?;
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

    fn shipment_of(conn: &Connection, keys: &mut ShipmentKeys, id: &str, day: u32) -> i64 {
        store_delivery(
            &mut WriterStatements::new(conn),
            keys,
            &mut SeenEvents::default(),
            &delivery(id, day),
            &mut DeliveryIds::default(),
        )
        .unwrap()
        .shipment_id
        .unwrap()
    }

    #[test]
    fn the_key_map_finds_shipments_and_is_read_from_the_table_when_new() {
        let (_dir, conn) = db();
        let mut keys = ShipmentKeys::default();
        let a = shipment_of(&conn, &mut keys, "aaa", 1);
        let b = shipment_of(&conn, &mut keys, "bbb", 1);
        assert_ne!(a, b);
        assert_eq!(shipment_of(&conn, &mut keys, "aaa", 2), a);
        // A writer started later reads the keys from the table.
        let mut fresh = ShipmentKeys::default();
        assert_eq!(fresh.get(&conn, "id:bbb").unwrap(), Some(b));
        assert_eq!(fresh.get(&conn, "id:ccc").unwrap(), None);
        assert_eq!(shipment_of(&conn, &mut fresh, "bbb", 3), b);
        let n: i64 = conn.query_row("SELECT count(*) FROM shipments", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn a_key_the_map_places_wrongly_still_finds_its_own_shipment() {
        // What two keys sharing a hash look like: the map gives another shipment's id.
        let (_dir, conn) = db();
        let mut keys = ShipmentKeys::default();
        let a = shipment_of(&conn, &mut keys, "aaa", 1);
        let b = shipment_of(&conn, &mut keys, "bbb", 1);
        keys.ids.as_mut().unwrap().insert(ShipmentKeys::hash("id:aaa"), b);
        assert_eq!(shipment_of(&conn, &mut keys, "aaa", 2), a, "found in the table, not taken from the map");
        // And an id the map holds for a shipment that is not there (rolled back) is no shipment.
        keys.ids.as_mut().unwrap().insert(ShipmentKeys::hash("id:ccc"), 99);
        let c = shipment_of(&conn, &mut keys, "ccc", 1);
        assert!(c != a && c != b && c != 99);
        let n: i64 = conn.query_row("SELECT count(*) FROM shipments", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn what_a_rollback_undoes_leaves_the_key_map() {
        let (_dir, conn) = db();
        let mut keys = ShipmentKeys::default();
        shipment_of(&conn, &mut keys, "kept", 1);
        keys.committed();
        let mark = keys.mark();
        shipment_of(&conn, &mut keys, "savepoint", 1);
        keys.roll_back_to(mark);
        assert_eq!(keys.ids.as_ref().unwrap().get(&ShipmentKeys::hash("id:savepoint")), None);
        shipment_of(&conn, &mut keys, "transaction", 1);
        keys.roll_back_to(0);
        assert_eq!(keys.ids.as_ref().unwrap().get(&ShipmentKeys::hash("id:transaction")), None);
        assert!(keys.ids.as_ref().unwrap().contains_key(&ShipmentKeys::hash("id:kept")), "committed: kept");
    }

    fn store(
        conn: &Connection,
        keys: &mut ShipmentKeys,
        seen: &mut SeenEvents,
        id: &str,
        day: u32,
    ) -> Inserted {
        let mut statements = WriterStatements::new(conn);
        store_delivery(&mut statements, keys, seen, &delivery(id, day), &mut DeliveryIds::default()).unwrap()
    }

    #[test]
    fn a_repeat_is_found_whether_the_event_filter_saw_it_or_read_it_from_the_table() {
        let (_dir, conn) = db();
        let (mut keys, mut seen) = (ShipmentKeys::default(), SeenEvents::default());
        let first = store(&conn, &mut keys, &mut seen, "aaa", 1);
        assert_eq!(first.duplicate_of, None);
        assert_eq!(store(&conn, &mut keys, &mut seen, "aaa", 1).duplicate_of, Some(first.id));
        // A writer started later reads the event ids from the table.
        let mut fresh = SeenEvents::default();
        assert!(fresh.may_hold(&conn, "aaa-1").unwrap());
        assert!(!fresh.may_hold(&conn, "aaa-2").unwrap());
        assert_eq!(store(&conn, &mut keys, &mut fresh, "aaa", 1).duplicate_of, Some(first.id));
        assert_eq!(store(&conn, &mut keys, &mut fresh, "aaa", 2).duplicate_of, None);
        assert!(fresh.may_hold(&conn, "aaa-2").unwrap(), "what the writer stores, the filter holds");
    }

    #[test]
    fn the_event_filter_spares_the_lookup_of_almost_every_new_event() {
        let (_dir, conn) = db();
        let mut seen = SeenEvents::default();
        seen.may_hold(&conn, "read the table").unwrap();
        let id = |i: u32| format!("{i:08x}-5bd2-4b4e-9c7e-3a54f1a5c2d1");
        for i in 0..100_000 {
            seen.add(&id(i));
        }
        assert!((0..100_000).all(|i| seen.may_hold(&conn, &id(i)).unwrap()));
        let looked_up_in_vain =
            (0..100_000).filter(|i| seen.may_hold(&conn, &id(0x8000_0000 + i)).unwrap()).count();
        assert!(looked_up_in_vain < 100, "{looked_up_in_vain} of 100,000 new event ids would be looked up");
    }

    #[test]
    fn a_row_left_by_a_delivery_deleted_without_foreign_keys_refuses_nothing() {
        let (_dir, conn) = db();
        let (mut keys, mut seen) = (ShipmentKeys::default(), SeenEvents::default());
        let old = store(&conn, &mut keys, &mut seen, "aaa", 1);
        // With foreign keys off, the delivery goes and its delivery_events row stays.
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        conn.execute("DELETE FROM deliveries WHERE id = ?1", [old.id]).unwrap();
        let left: i64 = conn.query_row("SELECT count(*) FROM delivery_events", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 1);
        let new = store(&conn, &mut keys, &mut seen, "bbb", 1);
        assert_eq!(new.id, old.id, "the id is taken again");
        assert_eq!(crate::queries::find_delivery_by_event_id(&conn, "bbb-1").unwrap(), Some(new.id));
        assert_eq!(crate::queries::find_delivery_by_event_id(&conn, "aaa-1").unwrap(), None);
    }
}
