-- 2: key-value facts (liveness, public URL history, forward watermark) and the forward queue.
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
