//! The schema, as an ordered list of migrations embedded in the binary. `PRAGMA user_version` counts
//! how many have been applied; each runs in its own transaction. A database from a newer Shipwatch
//! is refused rather than damaged.

use std::path::Path;

use rusqlite::Connection;

use crate::{Result, StoreError};

/// Migration N (1-based) is `MIGRATIONS[N-1]`. Append only: never edit one that has shipped.
pub const MIGRATIONS: &[&str] = &[
    // 1: deliveries, shipments, checkpoints, notifications.
    r#"
CREATE TABLE shipments (
    id                    INTEGER PRIMARY KEY,
    key                   TEXT NOT NULL UNIQUE,   -- 'id:<msg.legacy_id or msg.id>' or 'tn:<slug>:<tracking number>'
    tracking_id           TEXT,
    tracking_number       TEXT,
    slug                  TEXT,
    title                 TEXT,
    order_id              TEXT,
    tag                   TEXT,
    subtag                TEXT,
    subtag_message        TEXT,
    expected_delivery     TEXT,
    estimated_delivery    TEXT,                   -- JSON of the versioned EDD objects
    courier_tracking_link TEXT,
    courier_redirect_link TEXT,
    last_location         TEXT,
    state_time            INTEGER,                -- ms: msg.last_updated_at / updated_at of the state shown
    state_ts              INTEGER,                -- envelope ts of the state shown
    state_delivery_id     INTEGER,
    tags_seen             TEXT NOT NULL DEFAULT ',',  -- ',InTransit,Delivered,'
    unverified            INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX shipments_tag ON shipments(tag);
CREATE INDEX shipments_updated ON shipments(updated_at DESC, id DESC);
CREATE INDEX shipments_tracking_number ON shipments(tracking_number);

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    received_at      INTEGER NOT NULL,            -- unix ms
    peer             TEXT NOT NULL,
    forwarded_for    TEXT,
    cf_connecting_ip TEXT,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    headers          TEXT NOT NULL,               -- JSON [[name, value], ...] in the order received
    body             BLOB NOT NULL,               -- exactly as received (first 64 KiB if truncated)
    body_size        INTEGER NOT NULL,
    body_truncated   INTEGER NOT NULL DEFAULT 0,
    verdict          TEXT NOT NULL,               -- valid invalid missing malformed unverified too_large
    secret           TEXT,                        -- current | previous
    status           INTEGER NOT NULL,            -- what we answered
    duplicate_of     INTEGER REFERENCES deliveries(id),
    event            TEXT,
    event_id         TEXT,
    ts               INTEGER,
    tracking_id      TEXT,
    tracking_number  TEXT,
    slug             TEXT,
    tag              TEXT,
    order_id         TEXT,
    parse_error      TEXT,
    shipment_id      INTEGER REFERENCES shipments(id),
    projection       TEXT                         -- what it did to its shipment
);
CREATE INDEX deliveries_event_id ON deliveries(event_id) WHERE event_id IS NOT NULL;
CREATE INDEX deliveries_verdict ON deliveries(verdict, id);
CREATE INDEX deliveries_shipment ON deliveries(shipment_id, id);
CREATE INDEX deliveries_received_at ON deliveries(received_at);

CREATE TABLE checkpoints (
    shipment_id       INTEGER NOT NULL REFERENCES shipments(id),
    fingerprint       INTEGER NOT NULL,           -- FNV-1a of time|tag|subtag|message|location: the same checkpoint resent
    sort_time         INTEGER,                    -- ms, lenient parse of checkpoint_time
    checkpoint_time   TEXT,
    tag               TEXT,
    subtag            TEXT,
    subtag_message    TEXT,
    message           TEXT,
    location          TEXT,
    city              TEXT,
    state             TEXT,
    postal_code       TEXT,
    country           TEXT,
    slug              TEXT,
    events            TEXT NOT NULL DEFAULT '[]', -- JSON array of event codes
    first_delivery_id INTEGER,
    PRIMARY KEY (shipment_id, fingerprint)
) WITHOUT ROWID;

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    shipment_id INTEGER,
    delivery_id INTEGER,
    tag         TEXT,
    summary     TEXT NOT NULL,
    body        TEXT NOT NULL,
    outcome     TEXT NOT NULL,                    -- sent | suppressed | failed
    reason      TEXT
);
"#,
    // 2: key-value facts (liveness, public URL history, forward watermark) and the forward queue.
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE forwards (
    id              INTEGER PRIMARY KEY,
    delivery_id     INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    target          TEXT NOT NULL,
    state           TEXT NOT NULL,                -- pending | retrying | delivered | gave_up
    attempts        INTEGER NOT NULL DEFAULT 0,
    status          INTEGER,
    error           TEXT,
    last_attempt_at INTEGER,
    next_attempt_at INTEGER NOT NULL,
    round_trip_ms   INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX forwards_due ON forwards(state, next_attempt_at);
CREATE INDEX forwards_delivery ON forwards(delivery_id);
"#,
    // 3: a shipment's timeline is no longer a row per checkpoint but a pointer to the delivery that
    // holds it plus the checkpoints no such delivery holds (see timeline.rs): nothing is copied out of
    // the raw bodies on the hot path. Checkpoints stored so far become extras. The tracking-number
    // index goes (searches use LIKE '%q%', which no index serves), and the verdict index keeps only
    // failed deliveries (the ones filtered on; most deliveries are valid and no longer touch it).
    r#"
CREATE TABLE timelines (
    shipment_id      INTEGER PRIMARY KEY REFERENCES shipments(id),
    base_delivery_id INTEGER,                           -- a delivery all of whose checkpoints are in the timeline
    base_keys        BLOB NOT NULL DEFAULT x'',          -- their content keys, 8 bytes little-endian each
    extras           TEXT NOT NULL DEFAULT '[]'          -- JSON array of the checkpoints no base holds, in order
);
INSERT INTO timelines (shipment_id, extras)
    SELECT shipment_id, json_group_array(json(entry)) FROM (
        SELECT shipment_id, json_object(
            'key', fingerprint, 'sort_time', sort_time, 'checkpoint_time', checkpoint_time, 'tag', tag,
            'subtag', subtag, 'subtag_message', subtag_message, 'message', message, 'location', location,
            'city', city, 'state', state, 'postal_code', postal_code, 'country', country, 'slug', slug,
            'events', json(events)) AS entry
        FROM checkpoints ORDER BY shipment_id, sort_time IS NULL, sort_time, checkpoint_time)
    GROUP BY shipment_id;
ALTER TABLE shipments ADD COLUMN last_location_time INTEGER;  -- ms of the checkpoint last_location comes from
UPDATE shipments SET last_location_time = (SELECT max(sort_time) FROM checkpoints WHERE shipment_id = shipments.id);
DROP TABLE checkpoints;
DROP INDEX shipments_tracking_number;
DROP INDEX deliveries_verdict;
CREATE INDEX deliveries_failed ON deliveries(id) WHERE verdict IN ('invalid', 'missing', 'malformed', 'too_large');
"#,
    // 4: fewer b-trees written per delivery. A shipment's timeline (base delivery, its checkpoint keys,
    // the extras) moves into the shipment's own row, which every delivery rewrites anyway, instead of
    // a row of its own in `timelines`. The failed-deliveries index is written without an IN list:
    // SQLite evaluates a WHERE of `verdict IN (4 values)` through a temporary table that it builds and
    // drops at every insert into `deliveries`; two comparisons select the same four verdicts.
    r#"
ALTER TABLE shipments ADD COLUMN timeline_base_delivery_id INTEGER;       -- see timeline.rs
ALTER TABLE shipments ADD COLUMN timeline_base_keys BLOB NOT NULL DEFAULT x'';
ALTER TABLE shipments ADD COLUMN timeline_extras TEXT NOT NULL DEFAULT '[]';
UPDATE shipments SET timeline_base_delivery_id = t.base_delivery_id, timeline_base_keys = t.base_keys,
    timeline_extras = t.extras
    FROM timelines AS t WHERE t.shipment_id = shipments.id;
DROP TABLE timelines;
DROP INDEX deliveries_failed;
CREATE INDEX deliveries_failed ON deliveries(id) WHERE verdict <> 'valid' AND verdict <> 'unverified';
"#,
    // 5: no unique index on a shipment's key. Keys are AfterShip's tracking ids, in no order, so each
    // new shipment wrote a leaf of that index at random (a WAL frame of its own per delivery); the
    // writer now finds a shipment by its key through a map it keeps in memory (projection.rs). A
    // UNIQUE constraint cannot be dropped: the table is rebuilt as it is otherwise (SQLite's
    // twelve-step procedure; foreign keys are off while migrations run, and checked after).
    r#"
CREATE TABLE shipments_5 (
    id                        INTEGER PRIMARY KEY,
    key                       TEXT NOT NULL,          -- 'id:<msg.legacy_id or msg.id>' or 'tn:<slug>:<tracking number>'
    tracking_id               TEXT,
    tracking_number           TEXT,
    slug                      TEXT,
    title                     TEXT,
    order_id                  TEXT,
    tag                       TEXT,
    subtag                    TEXT,
    subtag_message            TEXT,
    expected_delivery         TEXT,
    estimated_delivery        TEXT,                   -- JSON of the versioned EDD objects
    courier_tracking_link     TEXT,
    courier_redirect_link     TEXT,
    last_location             TEXT,
    state_time                INTEGER,                -- ms: msg.last_updated_at / updated_at of the state shown
    state_ts                  INTEGER,                -- envelope ts of the state shown
    state_delivery_id         INTEGER,
    tags_seen                 TEXT NOT NULL DEFAULT ',',  -- ',InTransit,Delivered,'
    unverified                INTEGER NOT NULL DEFAULT 0,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    last_location_time        INTEGER,                -- ms of the checkpoint last_location comes from
    timeline_base_delivery_id INTEGER,                -- see timeline.rs
    timeline_base_keys        BLOB NOT NULL DEFAULT x'',
    timeline_extras           TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO shipments_5 SELECT id, key, tracking_id, tracking_number, slug, title, order_id, tag, subtag,
    subtag_message, expected_delivery, estimated_delivery, courier_tracking_link, courier_redirect_link,
    last_location, state_time, state_ts, state_delivery_id, tags_seen, unverified, created_at, updated_at,
    last_location_time, timeline_base_delivery_id, timeline_base_keys, timeline_extras FROM shipments;
DROP TABLE shipments;
ALTER TABLE shipments_5 RENAME TO shipments;
CREATE INDEX shipments_tag ON shipments(tag);
CREATE INDEX shipments_updated ON shipments(updated_at DESC, id DESC);
"#,
    // 6: no index on the event id. AfterShip's event ids are random UUIDs, so each delivery put its
    // entry in a leaf of that index at random: a WAL frame of its own, about 4 KB written per
    // delivery. Its only users were exact lookups (an earlier attempt of an event, the self-test's
    // delivery), which now scan this compact table, written at its end like every other b-tree of a
    // delivery: a delivery's id and the first 8 bytes of its event id, a key that narrows the scan
    // (the event id itself decides; queries.rs `EVENT_DELIVERIES`). The writer reads it too, for its
    // filter of the event ids stored (projection.rs `SeenEvents`).
    r#"
CREATE TABLE delivery_events (
    delivery_id INTEGER PRIMARY KEY REFERENCES deliveries(id) ON DELETE CASCADE,
    event_key   BLOB NOT NULL                  -- the event id's first 8 bytes
);
INSERT INTO delivery_events (delivery_id, event_key)
    SELECT id, substr(CAST(event_id AS BLOB), 1, 8) FROM deliveries WHERE event_id IS NOT NULL;
DROP INDEX deliveries_event_id;
"#,
    // 7: the shipments-by-recency index ascending. Declared `DESC`, every new or updated shipment put
    // its entry at the index's left edge, which cost the writer ~1,200 more instructions per delivery
    // than appending at its right edge (callgrind, 3,000 deliveries); the list reads it backwards.
    r#"
DROP INDEX shipments_updated;
CREATE INDEX shipments_updated ON shipments(updated_at, id);
"#,
];

/// The schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database up to [`latest_version`].
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    migrate_to(conn, path, latest_version())
}

/// Brings the database up to version `target` (the tests of a migration stop just before it).
///
/// Foreign keys are off while migrations run (a table rebuilt under another name would otherwise be
/// refused its rows, or lose them); a migration that leaves more broken references than it found
/// is rolled back.
fn migrate_to(conn: &mut Connection, path: &Path, target: i64) -> Result<()> {
    apply(conn, path, MIGRATIONS, target)
}

/// Applies `migrations` (1-based, as [`MIGRATIONS`]) up to `target`.
fn apply(conn: &mut Connection, path: &Path, migrations: &[&str], target: i64) -> Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = migrations.len() as i64;
    if found > known {
        return Err(StoreError::TooNew { path: path.to_owned(), found, known });
    }
    if found >= target {
        return Ok(());
    }
    let foreign_keys: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let migrated = (|| -> Result<()> {
        for (i, sql) in migrations.iter().enumerate().take(target as usize).skip(found as usize) {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let broken = |tx: &rusqlite::Transaction<'_>| -> Result<i64> {
                Ok(tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?)
            };
            let before = broken(&tx)?;
            tx.execute_batch(sql)?;
            let after = broken(&tx)?;
            if after > before {
                return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some(format!(
                        "migration {} would break {} references between rows; nothing was changed",
                        i + 1,
                        after - before
                    )),
                )));
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
            tracing::info!(version = i + 1, "applied database migration");
        }
        Ok(())
    })();
    conn.pragma_update(None, "foreign_keys", foreign_keys)?;
    migrated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_from_empty_and_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        migrate(&mut conn, &path).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, latest_version());
        for table in ["deliveries", "shipments", "notifications", "meta", "forwards"] {
            let n: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 1, "{table} exists");
        }
        // The schema passes SQLite's own consistency check.
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
    }

    #[test]
    fn a_newer_database_is_refused_not_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1).unwrap();
        let err = migrate(&mut conn, &path).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
        assert!(err.to_string().contains("upgrade Shipwatch"));
    }

    /// A checkpoint row of schema 2, with the fingerprint the old code stored (the same FNV-1a as
    /// today's `checkpoint_key`).
    struct OldCheckpoint {
        sort_time: Option<i64>,
        time: Option<&'static str>,
        message: &'static str,
        location: Option<&'static str>,
        city: Option<&'static str>,
        events: &'static str,
    }

    impl OldCheckpoint {
        fn checkpoint(&self) -> shipwatch_aftership::Checkpoint {
            shipwatch_aftership::Checkpoint {
                checkpoint_time: self.time.map(str::to_owned),
                tag: Some(shipwatch_aftership::Tag::InTransit),
                subtag: Some("InTransit_002".into()),
                message: Some(self.message.into()),
                location: self.location.map(str::to_owned),
                ..Default::default()
            }
        }
    }

    #[test]
    fn migrations_3_and_4_turn_checkpoint_rows_into_the_timeline_and_keep_them_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        // A database as schema 2 left it.
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO shipments (id, key, tracking_number, slug, tag, last_location, tags_seen, created_at, updated_at)
             VALUES (5, 'id:old', 'TN5', 'usps', 'InTransit', 'Boise', ',InTransit,', 1000, 2000)",
            [],
        )
        .unwrap();
        // A shipment without checkpoints gets no timeline and no location time.
        conn.execute(
            "INSERT INTO shipments (id, key, tags_seen, created_at, updated_at) VALUES (6, 'id:bare', ',', 1, 1)",
            [],
        )
        .unwrap();
        // Inserted out of order: the migration orders them.
        let rows = [
            OldCheckpoint {
                sort_time: Some(1_767_261_600_000),
                time: Some("2026-01-01T10:00:00"),
                message: "b: departed",
                location: Some("Reno"),
                city: Some("Reno"),
                events: r#"["b1","b2"]"#,
            },
            OldCheckpoint {
                sort_time: None,
                time: Some("sometime"),
                message: "undated",
                location: None,
                city: None,
                events: "[]",
            },
            OldCheckpoint {
                sort_time: Some(1_767_348_000_000),
                time: Some("2026-01-02T10:00:00"),
                message: "c: arrived",
                location: Some("Boise"),
                city: None,
                events: r#"["c"]"#,
            },
            OldCheckpoint {
                sort_time: Some(1_767_175_200_000),
                time: Some("2025-12-31T10:00:00"),
                message: "a: \"label\" created",
                location: None,
                city: Some("Louisville"),
                events: r#"["a"]"#,
            },
        ];
        for (i, row) in rows.iter().enumerate() {
            let c = row.checkpoint();
            conn.execute(
                "INSERT INTO checkpoints (shipment_id, fingerprint, sort_time, checkpoint_time, tag, subtag,
                    subtag_message, message, location, city, state, postal_code, country, slug, events,
                    first_delivery_id)
                 VALUES (5, ?1, ?2, ?3, 'InTransit', 'InTransit_002', 'On its way', ?4, ?5, ?6, 'NV', '89501',
                    'USA', 'usps', ?7, ?8)",
                rusqlite::params![
                    shipwatch_aftership::checkpoint_key(&c),
                    row.sort_time,
                    row.time,
                    row.message,
                    row.location,
                    row.city,
                    row.events,
                    i as i64 + 1,
                ],
            )
            .unwrap();
        }

        migrate_to(&mut conn, &path, 3).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, 3);
        let timeline_v3 = |conn: &Connection| -> Vec<(i64, Option<i64>, Vec<u8>, String)> {
            conn.prepare("SELECT shipment_id, base_delivery_id, base_keys, extras FROM timelines ORDER BY 1")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let migrated_to_3 = timeline_v3(&conn);
        // A shipment with a base as schema 3 stores it (a delivery of its own, two checkpoint keys).
        conn.execute(
            "INSERT INTO shipments (id, key, tags_seen, created_at, updated_at) VALUES (7, 'id:based', ',', 1, 1)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO timelines (shipment_id, base_delivery_id, base_keys, extras)
             VALUES (7, 41, x'01000000000000000200000000000000', '[]')",
            [],
        )
        .unwrap();
        let before_4 = timeline_v3(&conn);
        migrate_to(&mut conn, &path, 4).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, 4);
        // Migration 4 moved each timeline into its shipment's row, unchanged; the others have none.
        let after_4: Vec<(i64, Option<i64>, Vec<u8>, String)> = conn
            .prepare(
                "SELECT id, timeline_base_delivery_id, timeline_base_keys, timeline_extras FROM shipments
                 WHERE timeline_base_delivery_id IS NOT NULL OR timeline_extras != '[]' ORDER BY 1",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(after_4, before_4);
        assert_eq!(
            after_4[1],
            (7, Some(41), vec![1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], "[]".to_owned())
        );
        let bare: (Option<i64>, Vec<u8>, String) = conn
            .query_row(
                "SELECT timeline_base_delivery_id, timeline_base_keys, timeline_extras FROM shipments WHERE id = 6",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(bare, (None, Vec::new(), "[]".to_owned()));

        let items = crate::timeline::checkpoint_items(&conn, 5).unwrap();
        let messages: Vec<_> = items.iter().map(|i| i.message.as_deref().unwrap()).collect();
        assert_eq!(messages, ["a: \"label\" created", "b: departed", "c: arrived", "undated"]);
        let first = &items[0];
        assert_eq!(first.checkpoint_time.as_deref(), Some("2025-12-31T10:00:00"));
        assert_eq!(first.tag.as_deref(), Some("InTransit"));
        assert_eq!(first.subtag.as_deref(), Some("InTransit_002"));
        assert_eq!(first.subtag_message.as_deref(), Some("On its way"));
        assert_eq!(first.location, None);
        assert_eq!(first.city.as_deref(), Some("Louisville"));
        assert_eq!(first.state.as_deref(), Some("NV"));
        assert_eq!(first.postal_code.as_deref(), Some("89501"));
        assert_eq!(first.country.as_deref(), Some("USA"));
        assert_eq!(first.slug.as_deref(), Some("usps"));
        assert_eq!(first.events, ["a"]);
        assert_eq!(items[1].events, ["b1", "b2"]);
        assert_eq!(items[1].location.as_deref(), Some("Reno"));
        assert_eq!(items[2].events, ["c"]);
        assert!(items[3].events.is_empty());
        assert_eq!(items[3].checkpoint_time.as_deref(), Some("sometime"));
        assert_eq!(crate::timeline::checkpoint_items(&conn, 6).unwrap(), []);

        // The stored checkpoints are extras keyed by their old fingerprints, with no base.
        assert_eq!(migrated_to_3.len(), 1, "no timeline row for a shipment without checkpoints");
        let (shipment, base, keys, extras) = &migrated_to_3[0];
        assert_eq!((*shipment, *base, keys.len()), (5, None, 0));
        let extras = crate::timeline::Timeline::parse(extras).unwrap();
        let mut stored_keys: Vec<i64> = extras.entries.iter().map(|e| e.key).collect();
        let mut expected_keys: Vec<i64> =
            rows.iter().map(|r| shipwatch_aftership::checkpoint_key(&r.checkpoint())).collect();
        stored_keys.sort_unstable();
        expected_keys.sort_unstable();
        assert_eq!(stored_keys, expected_keys);

        let located: Vec<(i64, Option<i64>, Option<String>)> = conn
            .prepare("SELECT id, last_location_time, last_location FROM shipments ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            located,
            [(5, Some(1_767_348_000_000), Some("Boise".to_owned())), (6, None, None), (7, None, None)],
            "last_location_time is the latest checkpoint time"
        );

        let gone: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master
                 WHERE name IN ('checkpoints', 'shipments_tracking_number', 'deliveries_verdict', 'timelines')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(gone, 0, "the checkpoints and timelines tables and the two indexes are dropped");
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
        let fk: i64 =
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 0);
    }

    /// SQLite's plan for `sql`, its steps joined with "; ".
    fn query_plan(conn: &Connection, sql: &str) -> String {
        conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("; ")
    }

    /// The first two columns of every row `sql` selects.
    fn pairs<A: rusqlite::types::FromSql, B: rusqlite::types::FromSql>(
        conn: &Connection,
        sql: &str,
    ) -> Vec<(A, B)> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// Every row of `table`, as text, in id order.
    fn rows(conn: &Connection, table: &str) -> Vec<String> {
        conn.prepare(&format!("SELECT * FROM {table} ORDER BY id"))
            .unwrap()
            .query_map([], |r| {
                Ok((0..r.as_ref().column_count())
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn migration_5_drops_the_unique_key_index_and_keeps_every_row_and_reference() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        migrate_to(&mut conn, &path, 4).unwrap();
        conn.execute_batch(
            "INSERT INTO shipments (id, key, tracking_number, tag, tags_seen, created_at, updated_at, last_location_time,
                timeline_base_delivery_id, timeline_base_keys, timeline_extras)
             VALUES (3, 'id:a', 'TN-a', 'InTransit', ',InTransit,', 1, 2, 3, 10, x'0100000000000000', '[]'),
                    (7, 'id:b', 'TN-b', 'Delivered', ',Delivered,', 4, 5, NULL, NULL, x'', '[{\"key\":1}]');
             INSERT INTO deliveries (id, received_at, peer, method, path, headers, body, body_size, verdict, status,
                shipment_id)
             VALUES (10, 1, 'p', 'POST', '/w', '[]', x'7b7d', 2, 'valid', 200, 3),
                    (11, 2, 'p', 'POST', '/w', '[]', x'7b7d', 2, 'valid', 200, 7);",
        )
        .unwrap();
        let (shipments, deliveries) = (rows(&conn, "shipments"), rows(&conn, "deliveries"));
        let unique: i64 = conn
            .query_row("SELECT count(*) FROM pragma_index_list('shipments') WHERE \"unique\"", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(unique, 1, "schema 4 has the unique key index");

        migrate_to(&mut conn, &path, 5).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, 5);
        assert_eq!(rows(&conn, "shipments"), shipments);
        assert_eq!(rows(&conn, "deliveries"), deliveries);
        let indexes: Vec<(String, bool)> =
            pairs(&conn, "SELECT name, \"unique\" FROM pragma_index_list('shipments') ORDER BY name");
        assert_eq!(indexes, [("shipments_tag".to_owned(), false), ("shipments_updated".to_owned(), false)]);
        // The references from deliveries still point at the table, and are still enforced.
        let fk: i64 =
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 0);
        let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert!(enforced, "foreign keys are on again after the migrations");
        let orphan = conn.execute(
            "INSERT INTO deliveries (id, received_at, peer, method, path, headers, body, body_size, verdict, status,
                shipment_id) VALUES (12, 3, 'p', 'POST', '/w', '[]', x'7b7d', 2, 'valid', 200, 99)",
            [],
        );
        assert!(orphan.is_err(), "a delivery of a shipment that does not exist is refused");
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
    }

    #[test]
    fn a_migration_that_would_break_references_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        let migrations = [
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
             INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (10, 1);",
            // A rebuild that loses a row something points at (foreign keys are off meanwhile).
            "CREATE TABLE parent_2 (id INTEGER PRIMARY KEY); INSERT INTO parent_2 SELECT id FROM parent WHERE id != 1;
             DROP TABLE parent; ALTER TABLE parent_2 RENAME TO parent;",
        ];
        apply(&mut conn, &path, &migrations, 1).unwrap();
        let err = apply(&mut conn, &path, &migrations, 2).unwrap_err();
        assert!(err.to_string().contains("migration 2 would break 1 references"), "{err}");
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, 1);
        let parents: i64 = conn.query_row("SELECT count(*) FROM parent", [], |r| r.get(0)).unwrap();
        assert_eq!(parents, 2, "rolled back");
    }

    #[test]
    fn storing_a_delivery_builds_no_temporary_table() {
        // A partial index whose WHERE holds an IN list of more than two values makes SQLite build and
        // drop a temporary table at every insert into its table; migration 4 removed the one we had.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        for table in ["deliveries", "shipments"] {
            let columns: Vec<String> = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}') WHERE name != 'id'"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let values = vec!["NULL"; columns.len()].join(", ");
            let sql = format!("EXPLAIN INSERT INTO {table} ({}) VALUES ({values})", columns.join(", "));
            let opcodes: Vec<String> = conn
                .prepare(&sql)
                .unwrap()
                .query_map([], |r| r.get::<_, String>(1))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(!opcodes.iter().any(|op| op == "OpenEphemeral"), "{table}: {opcodes:?}");
        }
    }

    #[test]
    fn failed_deliveries_are_listed_through_the_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        let plan = |sql: &str| query_plan(&conn, sql);
        let failed = format!("SELECT id FROM deliveries WHERE {} ORDER BY id DESC", crate::queries::FAILED);
        assert_eq!(
            failed,
            "SELECT id FROM deliveries WHERE verdict <> 'valid' AND verdict <> 'unverified' ORDER BY id DESC"
        );
        let p = plan(&failed);
        assert!(p.contains("deliveries_failed"), "plan: {p}");
        assert!(!p.contains("TEMP B-TREE"), "no sort needed: {p}");
        // With the other filters of the delivery list too.
        let p = plan(&format!(
            "SELECT id FROM deliveries WHERE 1=1 AND {} AND verdict = 'invalid' AND id < 100 ORDER BY id DESC LIMIT 101",
            crate::queries::FAILED
        ));
        assert!(p.contains("deliveries_failed"), "plan: {p}");
    }

    #[test]
    fn migration_7_keeps_the_shipment_list_on_the_recency_index_read_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate_to(&mut conn, &path, 6).unwrap();
        conn.execute_batch(
            "INSERT INTO shipments (id, key, tag, created_at, updated_at)
             VALUES (1, 'id:a', 'InTransit', 1, 30), (2, 'id:b', 'Delivered', 1, 10), (3, 'id:c', 'InTransit', 1, 30);",
        )
        .unwrap();
        migrate(&mut conn, &path).unwrap();
        let columns: Vec<(String, bool)> =
            pairs(&conn, "SELECT name, desc FROM pragma_index_xinfo('shipments_updated') WHERE key");
        assert_eq!(columns, [("updated_at".to_string(), false), ("id".to_string(), false)]);
        let plan = |sql: &str| query_plan(&conn, sql);
        // The list's order and its cursor, as queries.rs writes them: no sort, the index backwards.
        for sql in [
            "SELECT id FROM shipments WHERE 1=1 ORDER BY updated_at DESC, id DESC LIMIT 51",
            "SELECT id FROM shipments WHERE 1=1 AND (updated_at < 30 OR (updated_at = 30 AND id < 3))
             ORDER BY updated_at DESC, id DESC LIMIT 51",
        ] {
            let p = plan(sql);
            assert!(p.contains("shipments_updated") && !p.contains("TEMP B-TREE"), "plan: {p}");
        }
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM shipments ORDER BY updated_at DESC, id DESC")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(ids, [3, 1, 2]);
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
    }

    #[test]
    fn migration_6_moves_event_lookups_from_the_index_to_the_compact_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        migrate_to(&mut conn, &path, 5).unwrap();
        conn.execute_batch(
            "INSERT INTO deliveries (id, received_at, peer, method, path, headers, body, body_size, verdict, status,
                event_id)
             VALUES (1, 1, 'p', 'POST', '/w', '[]', x'7b7d', 2, 'valid', 200, '7f1c5e2a-1b2c-4d5e-8f90-0123456789ab'),
                    (2, 2, 'p', 'POST', '/w', '[]', x'7b7d', 2, 'invalid', 401, 'short'),
                    (3, 3, 'p', 'POST', '/w', '[]', x'00', 1, 'missing', 401, NULL),
                    (4, 4, 'p', 'POST', '/w', '[]', x'7b7d', 2, 'valid', 200, '7f1c5e2a-1b2c-4d5e-8f90-0123456789ab');",
        )
        .unwrap();
        let deliveries = rows(&conn, "deliveries");
        migrate(&mut conn, &path).unwrap();
        assert_eq!(rows(&conn, "deliveries"), deliveries);
        let events: Vec<(i64, Vec<u8>)> =
            pairs(&conn, "SELECT delivery_id, event_key FROM delivery_events ORDER BY delivery_id");
        assert_eq!(
            events,
            [(1, b"7f1c5e2a".to_vec()), (2, b"short".to_vec()), (4, b"7f1c5e2a".to_vec())],
            "one row per delivery with an event id, keyed as queries::event_key keys it"
        );
        assert_eq!(crate::queries::event_key("7f1c5e2a-1b2c"), b"7f1c5e2a");
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM pragma_index_list('deliveries') WHERE name = 'deliveries_event_id'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0, "the event-id index is gone");
        // Lookups find the newest (and, for the dedup, the first) delivery of an event through it.
        let eid = "7f1c5e2a-1b2c-4d5e-8f90-0123456789ab";
        assert_eq!(crate::queries::find_delivery_by_event_id(&conn, eid).unwrap(), Some(4));
        assert_eq!(crate::queries::find_delivery_by_event_id(&conn, "short").unwrap(), Some(2));
        assert_eq!(crate::queries::find_delivery_by_event_id(&conn, "7f1c5e2a-other").unwrap(), None);
        // The table is scanned in delivery order and each candidate read by its id.
        let plan: String = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT d.id FROM {} ORDER BY e.delivery_id LIMIT 1",
                crate::queries::EVENT_DELIVERIES
            ))
            .unwrap()
            .query_map(rusqlite::params![eid, b"7f1c5e2a".to_vec()], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("; ");
        assert!(
            plan.starts_with("SCAN e") && plan.contains("SEARCH d USING INTEGER PRIMARY KEY"),
            "plan: {plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "plan: {plan}");
        // Deleting a delivery (retention) takes its row with it.
        conn.execute("DELETE FROM deliveries WHERE id = 4", []).unwrap();
        assert_eq!(crate::queries::find_delivery_by_event_id(&conn, eid).unwrap(), Some(1));
        let left: i64 = conn.query_row("SELECT count(*) FROM delivery_events", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 2);
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
    }
}
