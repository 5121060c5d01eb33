-- 1: deliveries, shipments, checkpoints, notifications.
CREATE TABLE shipments (
    id                    INTEGER PRIMARY KEY,
    key                   TEXT NOT NULL UNIQUE,   -- 'id:<msg.legacy_id or msg.id>' or 'tn:<slug>:<tracking number>'
    tracking_id           TEXT,
    tracking_number       TEXT,
    slug                  TEXT,
    title                 TEXT,
    order_id              TEXT,
    tag                   TEXT,
    subtag                TEXT,
    subtag_message        TEXT,
    expected_delivery     TEXT,
    estimated_delivery    TEXT,                   -- JSON of the versioned EDD objects
    courier_tracking_link TEXT,
    courier_redirect_link TEXT,
    last_location         TEXT,
    state_time            INTEGER,                -- ms: msg.last_updated_at / updated_at of the state shown
    state_ts              INTEGER,                -- envelope ts of the state shown
    state_delivery_id     INTEGER,
    tags_seen             TEXT NOT NULL DEFAULT ',',  -- ',InTransit,Delivered,'
    unverified            INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX shipments_tag ON shipments(tag);
CREATE INDEX shipments_updated ON shipments(updated_at DESC, id DESC);
CREATE INDEX shipments_tracking_number ON shipments(tracking_number);

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    received_at      INTEGER NOT NULL,            -- unix ms
    peer             TEXT NOT NULL,
    forwarded_for    TEXT,
    cf_connecting_ip TEXT,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    headers          TEXT NOT NULL,               -- JSON [[name, value], ...] in the order received
    body             BLOB NOT NULL,               -- exactly as received (first 64 KiB if truncated)
    body_size        INTEGER NOT NULL,
    body_truncated   INTEGER NOT NULL DEFAULT 0,
    verdict          TEXT NOT NULL,               -- valid invalid missing malformed unverified too_large
    secret           TEXT,                        -- current | previous
    status           INTEGER NOT NULL,            -- what we answered
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
    projection       TEXT                         -- what it did to its shipment
);
CREATE INDEX deliveries_event_id ON deliveries(event_id) WHERE event_id IS NOT NULL;
CREATE INDEX deliveries_verdict ON deliveries(verdict, id);
CREATE INDEX deliveries_shipment ON deliveries(shipment_id, id);
CREATE INDEX deliveries_received_at ON deliveries(received_at);

CREATE TABLE checkpoints (
    shipment_id       INTEGER NOT NULL REFERENCES shipments(id),
    fingerprint       INTEGER NOT NULL,           -- FNV-1a of time|tag|subtag|message|location: the same checkpoint resent
    sort_time         INTEGER,                    -- ms, lenient parse of checkpoint_time
    checkpoint_time   TEXT,
    tag               TEXT,
    subtag            TEXT,
    subtag_message    TEXT,
    message           TEXT,
    location          TEXT,
    city              TEXT,
    state             TEXT,
    postal_code       TEXT,
    country           TEXT,
    slug              TEXT,
    events            TEXT NOT NULL DEFAULT '[]', -- JSON array of event codes
    first_delivery_id INTEGER,
    PRIMARY KEY (shipment_id, fingerprint)
) WITHOUT ROWID;

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    shipment_id INTEGER,
    delivery_id INTEGER,
    tag         TEXT,
    summary     TEXT NOT NULL,
    body        TEXT NOT NULL,
    outcome     TEXT NOT NULL,                    -- sent | suppressed | failed
    reason      TEXT
);
