//! The schema: the `.sql` files in `migrations/`, embedded in the binary and applied in order by
//! `rusqlite_migration` (`PRAGMA user_version` counts how many have been applied). Pending migrations
//! run in one transaction; foreign keys are off while they run (a table rebuilt under another name
//! would otherwise be refused its rows, or lose them) and checked before it commits. A database from
//! a newer Shipwatch is refused rather than damaged.

use std::path::Path;

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

use crate::{Result, StoreError};

/// Migration N (1-based) is `migrations/0N-*.sql`. Append only: never edit one that has shipped.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/01-initial.sql"),
    include_str!("../migrations/02-meta-and-forwards.sql"),
    include_str!("../migrations/03-timelines.sql"),
    include_str!("../migrations/04-timeline-in-shipment.sql"),
    include_str!("../migrations/05-no-unique-shipment-key.sql"),
    include_str!("../migrations/06-delivery-events.sql"),
    include_str!("../migrations/07-recency-ascending.sql"),
    include_str!("../migrations/08-plain-store.sql"),
    include_str!("../migrations/09-merchant-desk.sql"),
    include_str!("../migrations/10-diagnosis.sql"),
];

/// The index of migration 8 in [`MIGRATIONS`], which fills the search index it creates.
const PLAIN_STORE: usize = 7;

/// The migrations as `rusqlite_migration` runs them: migration 8 fills the search index of the
/// shipments stored before it ([`crate::search`]); it and every later one check every reference
/// before they commit.
fn migrations() -> Migrations<'static> {
    Migrations::new(
        MIGRATIONS
            .iter()
            .enumerate()
            .map(|(i, sql)| match i {
                PLAIN_STORE => M::up_with_hook(sql, |tx: &rusqlite::Transaction<'_>| {
                    crate::search::index_every_shipment(tx)
                        .map_err(|e| rusqlite_migration::HookError::Hook(e.to_string()))
                })
                .foreign_key_check(),
                i if i > PLAIN_STORE => M::up(sql).foreign_key_check(),
                _ => M::up(sql),
            })
            .collect(),
    )
}

/// The schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database up to [`latest_version`].
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    migrate_to(conn, path, latest_version())
}

/// Brings the database up to version `target` (the tests of a migration stop just before it).
fn migrate_to(conn: &mut Connection, path: &Path, target: i64) -> Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = latest_version();
    if found > known {
        return Err(StoreError::TooNew { path: path.to_owned(), found, known });
    }
    if found >= target {
        return Ok(());
    }
    let foreign_keys: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let migrated = migrations().to_version(conn, target as usize);
    conn.pragma_update(None, "foreign_keys", foreign_keys)?;
    migrated.map_err(|e| StoreError::Migration {
        path: path.to_owned(),
        from: found,
        to: target,
        reason: e.to_string(),
    })?;
    tracing::info!(path = %path.display(), "database {} schema {target}", if found == 0 { "created at" } else { "upgraded to" });
    Ok(())
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
    fn the_migrations_are_valid() {
        // rusqlite_migration's own check: every migration applies, in order, to an empty database.
        migrations().validate().unwrap();
    }

    #[test]
    fn migration_8_keeps_every_row_cleans_dangling_references_and_enforces_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate_to(&mut conn, &path, 7).unwrap();
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        // As schema 7 holds them; the writer ran without foreign keys, so a forward of a deleted
        // delivery and a duplicate of one could be left behind.
        conn.execute_batch(
            "INSERT INTO shipments (id, key, tracking_number, order_id, title, tag, tags_seen, created_at, updated_at)
             VALUES (3, 'id:a', 'TN-A', '#1001', 'Café crème', 'InTransit', ',InTransit,', 1, 2),
                    (4, 'id:b', 'TN-B', NULL, NULL, NULL, ',', 1, 3);
             INSERT INTO deliveries (id, received_at, peer, method, path, headers, body, body_size, verdict, status,
                event_id, tracking_number, shipment_id, duplicate_of)
             VALUES (10, 1, 'p', 'POST', '/w', '[[\"x-a\",\"1\"]]', x'7b7d', 2, 'valid', 200, 'e-1', 'TN-A', 3, NULL),
                    (11, 2, 'p', 'POST', '/w', '[]', x'00ff', 2, 'invalid', 401, 'e-1', NULL, NULL, 10),
                    (12, 3, 'p', 'POST', '/w', '[]', x'7b7d', 2, 'valid', 200, 'e-9', NULL, 4, 9);
             INSERT INTO delivery_events (delivery_id, event_key) VALUES (10, CAST('e-1' AS BLOB)), (99, x'00');
             INSERT INTO forwards (id, delivery_id, target, state, next_attempt_at, created_at)
             VALUES (1, 10, 'http://t', 'pending', 1, 1), (2, 99, 'http://t', 'pending', 1, 1);
             INSERT INTO notifications (id, created_at, summary, body, outcome) VALUES (1, 5, 's', 'b', 'sent');
             INSERT INTO meta (key, value) VALUES ('k', 'v');",
        )
        .unwrap();
        let shipments = rows(&conn, "shipments");
        migrate_to(&mut conn, &path, 8).unwrap();
        assert_eq!(rows(&conn, "shipments"), shipments);
        let deliveries: Vec<(i64, Option<i64>)> =
            pairs(&conn, "SELECT id, duplicate_of FROM deliveries ORDER BY id");
        assert_eq!(
            deliveries,
            [(10, None), (11, Some(10)), (12, None)],
            "a duplicate of nothing is no duplicate"
        );
        let forwards: Vec<(i64, i64)> = pairs(&conn, "SELECT id, delivery_id FROM forwards ORDER BY id");
        assert_eq!(forwards, [(1, 10)], "the forward of a delivery that is gone goes");
        assert_eq!(rows(&conn, "notifications").len(), 1);
        let meta: Vec<(String, String)> = pairs(&conn, "SELECT key, value FROM meta");
        assert_eq!(meta, [("k".to_owned(), "v".to_owned())]);
        // Bodies and headers read back as they were, through the codec columns (read by today's
        // queries, which know the columns of later migrations too).
        migrate_to(&mut conn, &path, latest_version()).unwrap();
        let record = crate::queries::get_delivery(&conn, 10).unwrap();
        assert_eq!(record.body, b"{}");
        assert_eq!(record.headers, [("x-a".to_owned(), "1".to_owned())]);
        assert_eq!(crate::queries::get_delivery(&conn, 11).unwrap().body, [0x00, 0xff]);
        // Counters start from what is there.
        let total: i64 =
            conn.query_row("SELECT value FROM counters WHERE name = 'deliveries'", [], |r| r.get(0)).unwrap();
        assert_eq!(total, 3);
        let tags: Vec<(String, i64)> = pairs(&conn, "SELECT tag, count FROM shipment_tags ORDER BY tag");
        assert_eq!(tags, [("InTransit".to_owned(), 1), ("Unknown".to_owned(), 1)]);
        // The stored shipments are searchable.
        let found: Vec<i64> = conn
            .prepare("SELECT rowid FROM shipment_search WHERE shipment_search MATCH '\"crème\"'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(found, [3]);
        // Ids are never reused: the next one follows the largest ever stored.
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        conn.execute("DELETE FROM deliveries WHERE id = 12", []).unwrap();
        conn.execute(
            "INSERT INTO deliveries (received_at, peer, method, path, headers, body, body_size, verdict, status)
             VALUES (4, 'p', 'POST', '/w', x'', x'', 0, 'valid', 200)",
            [],
        )
        .unwrap();
        assert_eq!(conn.last_insert_rowid(), 13);
        // And references are enforced.
        let orphan = conn.execute(
            "INSERT INTO deliveries (received_at, peer, method, path, headers, body, body_size, verdict, status,
                shipment_id) VALUES (5, 'p', 'POST', '/w', x'', x'', 0, 'valid', 200, 99)",
            [],
        );
        assert!(orphan.is_err(), "a delivery of a shipment that does not exist is refused");
        let bad_verdict = conn.execute(
            "INSERT INTO deliveries (received_at, peer, method, path, headers, body, body_size, verdict, status)
             VALUES (5, 'p', 'POST', '/w', x'', x'', 0, 'great', 200)",
            [],
        );
        assert!(bad_verdict.is_err(), "an unknown verdict is refused");
        let gone: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'delivery_events'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(gone, 0);
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
        let fk: i64 =
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 0);
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
    fn migration_6_moves_event_keys_to_the_compact_table() {
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
        migrate_to(&mut conn, &path, 6).unwrap();
        assert_eq!(rows(&conn, "deliveries"), deliveries);
        let events: Vec<(i64, Vec<u8>)> =
            pairs(&conn, "SELECT delivery_id, event_key FROM delivery_events ORDER BY delivery_id");
        assert_eq!(
            events,
            [(1, b"7f1c5e2a".to_vec()), (2, b"short".to_vec()), (4, b"7f1c5e2a".to_vec())],
            "one row per delivery with an event id, keyed by its first 8 bytes"
        );
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM pragma_index_list('deliveries') WHERE name = 'deliveries_event_id'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0, "the event-id index is gone (migration 8 brings it back)");
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
    }
}
