-- Lobby queue: queues with daily counters, which queues each window serves, window state, tickets and
-- the periods of each ticket (waiting, called, serving, on hold).
CREATE TABLE queues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    place_code TEXT NOT NULL REFERENCES places(code),
    code TEXT NOT NULL,
    prefix TEXT NOT NULL,
    name TEXT NOT NULL,
    zone_code TEXT NOT NULL REFERENCES zones(code),
    start_number INTEGER NOT NULL DEFAULT 1,
    daily_max INTEGER NOT NULL DEFAULT 999,
    priority_streak INTEGER NOT NULL DEFAULT 0,
    UNIQUE (place_code, code),
    UNIQUE (place_code, prefix)
);

CREATE TABLE queue_counters (
    queue_id INTEGER NOT NULL REFERENCES queues(id),
    day TEXT NOT NULL,
    last_number INTEGER NOT NULL,
    PRIMARY KEY (queue_id, day)
);

CREATE TABLE window_queues (
    window_id INTEGER NOT NULL REFERENCES windows(id),
    queue_id INTEGER NOT NULL REFERENCES queues(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (window_id, queue_id)
);

CREATE TABLE window_state (
    window_id INTEGER PRIMARY KEY REFERENCES windows(id),
    ticket_id INTEGER,
    staff_id INTEGER,
    paused INTEGER NOT NULL DEFAULT 0,
    pause_reason TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    place_code TEXT NOT NULL REFERENCES places(code),
    queue_id INTEGER NOT NULL REFERENCES queues(id),
    day TEXT NOT NULL,
    number INTEGER NOT NULL,
    display TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    phone TEXT,
    priority TEXT NOT NULL,
    priority_reason TEXT NOT NULL DEFAULT '',
    item_code TEXT,
    issued_by TEXT NOT NULL,
    status TEXT NOT NULL,
    sort_key INTEGER NOT NULL,
    target_window_id INTEGER REFERENCES windows(id),
    window_id INTEGER REFERENCES windows(id),
    staff_id INTEGER,
    issued_at INTEGER NOT NULL,
    called_at INTEGER,
    finished_at INTEGER,
    recalls INTEGER NOT NULL DEFAULT 0,
    transfers INTEGER NOT NULL DEFAULT 0,
    late_used INTEGER NOT NULL DEFAULT 0,
    initial_ahead INTEGER NOT NULL DEFAULT 0,
    reminded INTEGER NOT NULL DEFAULT 0,
    UNIQUE (queue_id, day, number)
);
CREATE INDEX tickets_waiting ON tickets(queue_id, status, sort_key);
CREATE INDEX tickets_place_day ON tickets(place_code, day);

CREATE TABLE ticket_periods (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    kind TEXT NOT NULL,
    window_id INTEGER,
    staff_id INTEGER,
    started_at INTEGER NOT NULL,
    ended_at INTEGER
);
CREATE INDEX ticket_periods_ticket ON ticket_periods(ticket_id);
