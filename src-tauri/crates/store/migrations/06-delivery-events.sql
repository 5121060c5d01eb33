-- 6: no index on the event id. AfterShip's event ids are random UUIDs, so each delivery put its
-- entry in a leaf of that index at random: a WAL frame of its own, about 4 KB written per
-- delivery. Its only users were exact lookups (an earlier attempt of an event, the self-test's
-- delivery), which now scan this compact table, written at its end like every other b-tree of a
-- delivery: a delivery's id and the first 8 bytes of its event id, a key that narrows the scan
-- (the event id itself decides; queries.rs `EVENT_DELIVERIES`). The writer reads it too, for its
-- filter of the event ids stored (projection.rs `SeenEvents`).
CREATE TABLE delivery_events (
    delivery_id INTEGER PRIMARY KEY REFERENCES deliveries(id) ON DELETE CASCADE,
    event_key   BLOB NOT NULL                  -- the event id's first 8 bytes
);
INSERT INTO delivery_events (delivery_id, event_key)
    SELECT id, substr(CAST(event_id AS BLOB), 1, 8) FROM deliveries WHERE event_id IS NOT NULL;
DROP INDEX deliveries_event_id;
