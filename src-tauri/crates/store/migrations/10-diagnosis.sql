-- 10: the developer's day (issue 20): each delivery's signature diagnosis as a stable code
-- (`wrong_secret`, `hex_signature`, `reserialised_body`, ...), written when it is stored or
-- re-verified, so the feed shows it, filters by it and exports it without the secrets at hand.
-- Deliveries stored before this version have none (the delivery page still explains them).
ALTER TABLE deliveries ADD COLUMN diagnosis TEXT;
CREATE INDEX deliveries_diagnosis ON deliveries(diagnosis, id) WHERE diagnosis IS NOT NULL;
