-- Foundation: places, zones, departments, windows, staff, sessions, the catalogue, and the write path's
-- events, audit chain and outbox. Integers are INTEGER (i64), times are unix milliseconds UTC, booleans 0/1.
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE places (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    level TEXT NOT NULL,
    parent_code TEXT REFERENCES places(code)
);

CREATE TABLE zones (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT ''
);

CREATE TABLE departments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    place_code TEXT NOT NULL REFERENCES places(code),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    short_name TEXT NOT NULL DEFAULT '',
    name_en TEXT NOT NULL DEFAULT '',
    UNIQUE (place_code, code)
);

CREATE TABLE windows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    place_code TEXT NOT NULL REFERENCES places(code),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    zone_code TEXT NOT NULL REFERENCES zones(code),
    general INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1,
    UNIQUE (place_code, code)
);

CREATE TABLE staff (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    department_id INTEGER REFERENCES departments(id),
    place_code TEXT NOT NULL REFERENCES places(code),
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    place_code TEXT NOT NULL REFERENCES places(code),
    version INTEGER NOT NULL,
    department_id INTEGER NOT NULL REFERENCES departments(id),
    zone_code TEXT NOT NULL REFERENCES zones(code),
    name TEXT NOT NULL,
    trip_level INTEGER NOT NULL,
    data TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX items_place ON items(place_code);

CREATE TABLE item_versions (
    item_id INTEGER NOT NULL REFERENCES items(id),
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (item_id, version)
);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    place_code TEXT NOT NULL,
    subject TEXT NOT NULL,
    data TEXT NOT NULL
);

CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    place_code TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    payload TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    sent_at INTEGER
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
