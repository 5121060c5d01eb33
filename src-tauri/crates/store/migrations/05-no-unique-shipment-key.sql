-- 5: no unique index on a shipment's key. Keys are AfterShip's tracking ids, in no order, so each
-- new shipment wrote a leaf of that index at random (a WAL frame of its own per delivery); the
-- writer now finds a shipment by its key through a map it keeps in memory (projection.rs). A
-- UNIQUE constraint cannot be dropped: the table is rebuilt as it is otherwise (SQLite's
-- twelve-step procedure; foreign keys are off while migrations run, and checked after).
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
