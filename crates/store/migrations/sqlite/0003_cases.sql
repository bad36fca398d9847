-- Cases: flows (versioned definitions), which flow an item uses, cases with their materials checklist,
-- working-day clock and delivery, the timeline of actions, and every physical trip of the citizen.
CREATE TABLE flows (
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (code, version)
);

CREATE TABLE item_flows (
    item_code TEXT PRIMARY KEY,
    flow_code TEXT NOT NULL
);

CREATE TABLE case_counters (
    county TEXT NOT NULL,
    day TEXT NOT NULL,
    last_number INTEGER NOT NULL,
    PRIMARY KEY (county, day)
);

CREATE TABLE cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    track_token TEXT NOT NULL UNIQUE,
    item_code TEXT NOT NULL,
    item_version INTEGER NOT NULL,
    item_name TEXT NOT NULL,
    flow_code TEXT NOT NULL,
    flow_version INTEGER NOT NULL,
    state TEXT NOT NULL,
    place_code TEXT NOT NULL REFERENCES places(code),
    county_code TEXT NOT NULL,
    department_id INTEGER NOT NULL REFERENCES departments(id),
    assignee_id INTEGER,
    channel TEXT NOT NULL,
    applicant_name TEXT NOT NULL,
    applicant_id_number TEXT,
    applicant_phone TEXT,
    ticket_id INTEGER,
    accepted_by TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    accepted_on TEXT NOT NULL,
    promised_days INTEGER NOT NULL,
    statutory_days INTEGER NOT NULL,
    due_on TEXT NOT NULL,
    statutory_due_on TEXT NOT NULL,
    paused_since TEXT,
    paused_days INTEGER NOT NULL DEFAULT 0,
    step_entered_at INTEGER NOT NULL,
    step_due_on TEXT,
    materials TEXT NOT NULL,
    tolerant INTEGER NOT NULL DEFAULT 0,
    supplement_due_on TEXT,
    pickup_code TEXT,
    delivery TEXT,
    trips INTEGER NOT NULL DEFAULT 0,
    closed_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX cases_open ON cases(county_code, closed_at, department_id);

CREATE TABLE case_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    actor TEXT NOT NULL,
    staff_id INTEGER,
    comment TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL DEFAULT '{}',
    at INTEGER NOT NULL
);
CREATE INDEX case_actions_case ON case_actions(case_id);

CREATE TABLE case_trips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    at INTEGER NOT NULL,
    day TEXT NOT NULL,
    source TEXT NOT NULL,
    ticket_id INTEGER,
    reason TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL
);
CREATE INDEX case_trips_case ON case_trips(case_id);

CREATE TABLE refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    place_code TEXT NOT NULL,
    item_code TEXT NOT NULL,
    applicant_name TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    missing TEXT NOT NULL,
    actor TEXT NOT NULL
);
