-- 7: the shipments-by-recency index ascending. Declared `DESC`, every new or updated shipment put
-- its entry at the index's left edge, which cost the writer ~1,200 more instructions per delivery
-- than appending at its right edge (callgrind, 3,000 deliveries); the list reads it backwards.
DROP INDEX shipments_updated;
CREATE INDEX shipments_updated ON shipments(updated_at, id);
