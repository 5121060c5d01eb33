-- 4: fewer b-trees written per delivery. A shipment's timeline (base delivery, its checkpoint keys,
-- the extras) moves into the shipment's own row, which every delivery rewrites anyway, instead of
-- a row of its own in `timelines`. The failed-deliveries index is written without an IN list:
-- SQLite evaluates a WHERE of `verdict IN (4 values)` through a temporary table that it builds and
-- drops at every insert into `deliveries`; two comparisons select the same four verdicts.
ALTER TABLE shipments ADD COLUMN timeline_base_delivery_id INTEGER;       -- see timeline.rs
ALTER TABLE shipments ADD COLUMN timeline_base_keys BLOB NOT NULL DEFAULT x'';
ALTER TABLE shipments ADD COLUMN timeline_extras TEXT NOT NULL DEFAULT '[]';
UPDATE shipments SET timeline_base_delivery_id = t.base_delivery_id, timeline_base_keys = t.base_keys,
    timeline_extras = t.extras
    FROM timelines AS t WHERE t.shipment_id = shipments.id;
DROP TABLE timelines;
DROP INDEX deliveries_failed;
CREATE INDEX deliveries_failed ON deliveries(id) WHERE verdict <> 'valid' AND verdict <> 'unverified';
