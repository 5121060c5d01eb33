-- 3: a shipment's timeline is no longer a row per checkpoint but a pointer to the delivery that
-- holds it plus the checkpoints no such delivery holds (see timeline.rs): nothing is copied out of
-- the raw bodies on the hot path. Checkpoints stored so far become extras. The tracking-number
-- index goes (searches use LIKE '%q%', which no index serves), and the verdict index keeps only
-- failed deliveries (the ones filtered on; most deliveries are valid and no longer touch it).
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
