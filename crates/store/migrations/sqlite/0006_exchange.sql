-- Data exchange (大数据交换): departments publish data services; their records are sealed and keyed by
-- the keyed hash of the subject's ID number; consumers hold rights per (department, service); every
-- lookup is recorded, including denied ones.
CREATE TABLE exchange_services (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    provider_department TEXT NOT NULL,
    county_code TEXT NOT NULL,
    fields TEXT NOT NULL,
    requires_approval INTEGER NOT NULL DEFAULT 0,
    approval_days INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

CREATE TABLE exchange_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL REFERENCES exchange_services(code),
    subject_hash TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (service, subject_hash)
);

CREATE TABLE exchange_rights (
    consumer_department TEXT NOT NULL,
    service TEXT NOT NULL REFERENCES exchange_services(code),
    mode TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '[]',
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (consumer_department, service)
);

CREATE TABLE exchange_lookups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    place_code TEXT NOT NULL,
    consumer_staff TEXT NOT NULL,
    consumer_department TEXT NOT NULL,
    service TEXT NOT NULL,
    purpose TEXT NOT NULL,
    subject_hash TEXT,
    outcome TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '[]',
    result TEXT,
    due_on TEXT,
    approved_by TEXT,
    approved_at INTEGER,
    decision_comment TEXT NOT NULL DEFAULT '',
    material TEXT
);
CREATE INDEX exchange_lookups_subject ON exchange_lookups(subject_hash);
CREATE INDEX exchange_lookups_case ON exchange_lookups(case_id);
CREATE INDEX exchange_lookups_pending ON exchange_lookups(service, outcome);
