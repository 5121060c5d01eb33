-- 9: the merchant's desk (issue 22): what a shipment's clock needs (due date, delivered time, the
-- courier's last scan is `last_location_time`), what the clock already alerted about, archive and
-- test marks, the 2025-2026 fields shown on the shipment page, the webhook version per delivery,
-- and every move of a shipment's estimated delivery.
ALTER TABLE shipments ADD COLUMN order_number TEXT;
ALTER TABLE shipments ADD COLUMN due TEXT;                  -- as sent: the estimate "late" is measured against
ALTER TABLE shipments ADD COLUMN due_at INTEGER;            -- ms: late once now is past it (the end of a date-only day)
ALTER TABLE shipments ADD COLUMN delivered_at INTEGER;      -- ms: the Delivered checkpoint, else the delivery saying so
ALTER TABLE shipments ADD COLUMN archived_at INTEGER;       -- ms: archived by hand or after archive_after_days
ALTER TABLE shipments ADD COLUMN kept_at INTEGER;           -- ms: brought back from the archive by hand: not archived again by the clock
ALTER TABLE shipments ADD COLUMN test INTEGER NOT NULL DEFAULT 0 CHECK (test IN (0, 1));
ALTER TABLE shipments ADD COLUMN signed_by TEXT;
ALTER TABLE shipments ADD COLUMN proof_of_delivery TEXT;    -- JSON as sent
ALTER TABLE shipments ADD COLUMN pending_since INTEGER;     -- ms: a tracking_pending_time event said it stayed Pending
ALTER TABLE shipments ADD COLUMN late_alerted_for INTEGER;  -- the due_at the clock last raised "late" for
ALTER TABLE shipments ADD COLUMN stuck_alerted_for INTEGER; -- the last_location_time (or created_at) it last raised "stuck" for

ALTER TABLE deliveries ADD COLUMN webhook_version TEXT;     -- as-webhook-version as received
ALTER TABLE deliveries ADD COLUMN test INTEGER NOT NULL DEFAULT 0 CHECK (test IN (0, 1));

-- Shipments delivered before this version: delivered at their newest checkpoint (the Delivered
-- one), else when they were last updated; without it they would count as open (late, stuck).
UPDATE shipments SET delivered_at = coalesce(last_location_time, updated_at) WHERE tag = 'Delivered';

-- Test data made before this version: Shipwatch's test tools always used SWTEST tracking numbers.
UPDATE shipments SET test = 1 WHERE tracking_number GLOB 'SWTEST[0-9]*';
UPDATE deliveries SET test = 1 WHERE tracking_number GLOB 'SWTEST[0-9]*';

CREATE TABLE estimate_changes (
    id          INTEGER PRIMARY KEY,
    shipment_id INTEGER NOT NULL REFERENCES shipments(id) ON DELETE CASCADE,
    delivery_id INTEGER REFERENCES deliveries(id) ON DELETE SET NULL,
    received_at INTEGER NOT NULL,                    -- ms: when the delivery that moved it was received
    previous    TEXT,                                -- the estimate before, as sent
    estimate    TEXT,                                -- the estimate after, as sent
    reason      TEXT,                                -- revise_reason when given
    later       INTEGER NOT NULL CHECK (later IN (0, 1))
);
CREATE INDEX estimate_changes_shipment ON estimate_changes(shipment_id, id);
CREATE INDEX estimate_changes_delivery ON estimate_changes(delivery_id) WHERE delivery_id IS NOT NULL;

CREATE INDEX shipments_order_number ON shipments(order_number COLLATE NOCASE);
-- The desk's and the clock's ranges over open shipments (not delivered, archived or test): by due
-- date (late), by the courier's last scan (stuck, in transit).
CREATE INDEX shipments_open_due ON shipments(due_at)
    WHERE delivered_at IS NULL AND archived_at IS NULL AND test = 0;
CREATE INDEX shipments_open_scan ON shipments(last_location_time, id)
    WHERE delivered_at IS NULL AND archived_at IS NULL AND test = 0;
CREATE INDEX shipments_delivered ON shipments(delivered_at, id)
    WHERE delivered_at IS NOT NULL AND archived_at IS NULL AND test = 0;
-- Shipments AfterShip reported still pending (a `tracking_pending_time` event): stuck whatever
-- their last scan.
CREATE INDEX shipments_open_pending ON shipments(pending_since)
    WHERE pending_since IS NOT NULL AND delivered_at IS NULL AND archived_at IS NULL AND test = 0;
CREATE INDEX shipments_test ON shipments(id) WHERE test = 1;
CREATE INDEX deliveries_test ON deliveries(id) WHERE test = 1;
-- Deleting a delivery (test data, retention) checks that no duplicate still points at it: without
-- this index, SQLite reads every delivery for each one deleted.
CREATE INDEX deliveries_duplicate_of ON deliveries(duplicate_of) WHERE duplicate_of IS NOT NULL;

-- Counts by tag leave test shipments out (the chips and the tray).
DROP TRIGGER shipments_tag_counted;
DROP TRIGGER shipments_tag_moved;
DROP TRIGGER shipments_tag_uncounted;
DELETE FROM shipment_tags;
INSERT INTO shipment_tags (tag, count)
    SELECT coalesce(tag, 'Unknown'), count(*) FROM shipments WHERE test = 0 GROUP BY 1;
CREATE TRIGGER shipments_tag_counted AFTER INSERT ON shipments WHEN new.test = 0 BEGIN
    INSERT INTO shipment_tags (tag, count) VALUES (coalesce(new.tag, 'Unknown'), 1)
        ON CONFLICT (tag) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER shipments_tag_moved AFTER UPDATE OF tag, test ON shipments
    WHEN old.tag IS NOT new.tag OR old.test IS NOT new.test BEGIN
    UPDATE shipment_tags SET count = count - 1 WHERE old.test = 0 AND tag = coalesce(old.tag, 'Unknown');
    INSERT INTO shipment_tags (tag, count) SELECT coalesce(new.tag, 'Unknown'), 1 WHERE new.test = 0
        ON CONFLICT (tag) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER shipments_tag_uncounted AFTER DELETE ON shipments WHEN old.test = 0 BEGIN
    UPDATE shipment_tags SET count = count - 1 WHERE tag = coalesce(old.tag, 'Unknown');
END;
