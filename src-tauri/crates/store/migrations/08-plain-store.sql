-- 8: the plain store (issue 17). What migrations 5 and 6 took out for the speed of an empty
-- database comes back, and integrity is the schema's again:
-- - deliveries: ids never reused (AUTOINCREMENT), bodies and headers stored through a codec
--   (zstd, with a dictionary trained from the user's own deliveries: `dictionaries`), an index on
--   the event id (deduplication, exact search), the verdict checked, references declared;
-- - shipments: the key UNIQUE again; the list by tag served in order by one index;
-- - counts kept by triggers in the same transaction (`counters`, `shipment_tags`), never a scan;
-- - search: exact and prefix matches through the shipments' NOCASE indexes, substrings through FTS5
--   (trigram); a delivery is found through its shipment, its event id, or (failed ones) the index of
--   failed deliveries.
-- The table is rebuilt by SQLite's twelve-step procedure (foreign keys are off while migrations
-- run, and checked before this one commits).

CREATE TABLE dictionaries (
    id         INTEGER PRIMARY KEY CHECK (id > 0),  -- random: one id names one dictionary in any database
    created_at INTEGER NOT NULL,                  -- unix ms
    samples    INTEGER NOT NULL,                  -- how many deliveries it was trained from
    bytes      BLOB NOT NULL
);

CREATE TABLE deliveries_8 (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, not even the newest's once deleted
    received_at      INTEGER NOT NULL,                   -- unix ms
    peer             TEXT NOT NULL,
    forwarded_for    TEXT,
    cf_connecting_ip TEXT,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    headers          BLOB NOT NULL,                      -- JSON [[name, value], ...] in the order received, encoded
    headers_codec    INTEGER NOT NULL DEFAULT 0 CHECK (headers_codec >= 0),  -- as body_codec
    body             BLOB NOT NULL,                      -- the bytes received (first 64 KiB if truncated), encoded
    body_codec       INTEGER NOT NULL DEFAULT 0 CHECK (body_codec >= 0),  -- 0 as is, 1 zstd, n zstd + dictionary n - 1
    dictionary_id    INTEGER REFERENCES dictionaries(id),     -- the dictionary a codec names
    body_size        INTEGER NOT NULL,
    body_truncated   INTEGER NOT NULL DEFAULT 0,
    verdict          TEXT NOT NULL
                     CHECK (verdict IN ('valid', 'invalid', 'missing', 'malformed', 'unverified', 'too_large')),
    secret           TEXT CHECK (secret IN ('current', 'previous')),
    status           INTEGER NOT NULL,                   -- what we answered
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
    projection       TEXT,                               -- what it did to its shipment
    CHECK (body_codec < 2 OR body_codec = dictionary_id + 1),
    CHECK (headers_codec < 2 OR headers_codec = dictionary_id + 1),
    CHECK (dictionary_id IS NULL OR body_codec >= 2 OR headers_codec >= 2)
);
INSERT INTO deliveries_8 (id, received_at, peer, forwarded_for, cf_connecting_ip, method, path, headers, body,
    body_size, body_truncated, verdict, secret, status, duplicate_of, event, event_id, ts, tracking_id,
    tracking_number, slug, tag, order_id, parse_error, shipment_id, projection)
SELECT id, received_at, peer, forwarded_for, cf_connecting_ip, method, path, CAST(headers AS BLOB), body,
    body_size, body_truncated, verdict, secret, status, duplicate_of, event, event_id, ts, tracking_id,
    tracking_number, slug, tag, order_id, parse_error, shipment_id, projection
FROM deliveries ORDER BY id;
-- Rows the writer may have left pointing nowhere while it ran without foreign keys.
DELETE FROM forwards WHERE delivery_id NOT IN (SELECT id FROM deliveries_8);
UPDATE deliveries_8 SET duplicate_of = NULL WHERE duplicate_of NOT IN (SELECT id FROM deliveries_8);
UPDATE deliveries_8 SET shipment_id = NULL WHERE shipment_id NOT IN (SELECT id FROM shipments);
DROP TABLE delivery_events;
DROP TABLE deliveries;
ALTER TABLE deliveries_8 RENAME TO deliveries;

CREATE INDEX deliveries_event_id ON deliveries(event_id) WHERE event_id IS NOT NULL;
CREATE INDEX deliveries_received_at ON deliveries(received_at);
CREATE INDEX deliveries_shipment ON deliveries(shipment_id, id);
CREATE INDEX deliveries_tag ON deliveries(tag, id);
CREATE INDEX deliveries_failed ON deliveries(id) WHERE verdict <> 'valid' AND verdict <> 'unverified';

-- Shipments: one per key, enforced.
CREATE UNIQUE INDEX shipments_key ON shipments(key);
DROP INDEX shipments_tag;
CREATE INDEX shipments_tag ON shipments(tag, updated_at, id);
CREATE INDEX shipments_tracking_number ON shipments(tracking_number COLLATE NOCASE);
CREATE INDEX shipments_order_id ON shipments(order_id COLLATE NOCASE);
CREATE INDEX shipments_title ON shipments(title COLLATE NOCASE);

-- Counts kept in the writer's transaction by triggers.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) SELECT 'deliveries', count(*) FROM deliveries;
CREATE TRIGGER deliveries_counted AFTER INSERT ON deliveries BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'deliveries';
END;
CREATE TRIGGER deliveries_uncounted AFTER DELETE ON deliveries BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'deliveries';
END;

-- Deliveries and signature failures (invalid, missing, malformed) per quarter of an hour received:
-- "today" in any time zone is a run of whole quarters, so the status bar's counts add up at most 96
-- rows however many deliveries a day brings.
CREATE TABLE delivery_counts (
    quarter    INTEGER PRIMARY KEY,               -- received_at / 900000
    deliveries INTEGER NOT NULL,
    failures   INTEGER NOT NULL
);
INSERT INTO delivery_counts (quarter, deliveries, failures)
    SELECT received_at / 900000, count(*), sum(verdict IN ('invalid', 'missing', 'malformed'))
    FROM deliveries GROUP BY 1;
CREATE TRIGGER deliveries_counted_by_quarter AFTER INSERT ON deliveries BEGIN
    INSERT INTO delivery_counts (quarter, deliveries, failures)
        VALUES (new.received_at / 900000, 1, new.verdict IN ('invalid', 'missing', 'malformed'))
        ON CONFLICT (quarter) DO UPDATE SET deliveries = deliveries + 1, failures = failures + excluded.failures;
END;
CREATE TRIGGER deliveries_recounted_by_quarter AFTER UPDATE OF received_at, verdict ON deliveries BEGIN
    UPDATE delivery_counts SET deliveries = deliveries - 1,
        failures = failures - (old.verdict IN ('invalid', 'missing', 'malformed'))
        WHERE quarter = old.received_at / 900000;
    INSERT INTO delivery_counts (quarter, deliveries, failures)
        VALUES (new.received_at / 900000, 1, new.verdict IN ('invalid', 'missing', 'malformed'))
        ON CONFLICT (quarter) DO UPDATE SET deliveries = deliveries + 1, failures = failures + excluded.failures;
END;
CREATE TRIGGER deliveries_uncounted_by_quarter AFTER DELETE ON deliveries BEGIN
    UPDATE delivery_counts SET deliveries = deliveries - 1,
        failures = failures - (old.verdict IN ('invalid', 'missing', 'malformed'))
        WHERE quarter = old.received_at / 900000;
END;

CREATE TABLE shipment_tags (
    tag   TEXT PRIMARY KEY,                       -- 'Unknown' for a shipment without a tag
    count INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO shipment_tags (tag, count) SELECT coalesce(tag, 'Unknown'), count(*) FROM shipments GROUP BY 1;
CREATE TRIGGER shipments_tag_counted AFTER INSERT ON shipments BEGIN
    INSERT INTO shipment_tags (tag, count) VALUES (coalesce(new.tag, 'Unknown'), 1)
        ON CONFLICT (tag) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER shipments_tag_moved AFTER UPDATE OF tag ON shipments WHEN old.tag IS NOT new.tag BEGIN
    UPDATE shipment_tags SET count = count - 1 WHERE tag = coalesce(old.tag, 'Unknown');
    INSERT INTO shipment_tags (tag, count) VALUES (coalesce(new.tag, 'Unknown'), 1)
        ON CONFLICT (tag) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER shipments_tag_uncounted AFTER DELETE ON shipments BEGIN
    UPDATE shipment_tags SET count = count - 1 WHERE tag = coalesce(old.tag, 'Unknown');
END;

-- Substring search of a shipment's identifiers and checkpoint messages (rowid = shipments.id).
-- Contentless: the text is in the shipment and its deliveries already; the projection writes it
-- (search.rs), and the store fills it for shipments stored before this migration on first start.
CREATE VIRTUAL TABLE shipment_search USING fts5(
    tracking_number, order_id, title, checkpoints,
    content = '', contentless_delete = 1, tokenize = 'trigram'
);
