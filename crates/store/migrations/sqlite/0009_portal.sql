-- The citizen's portal: SMS one-time codes and sessions, online applications with uploaded materials,
-- delivery choices, ratings (好差评) with their follow-ups, and appointments (预约).
-- Phones, answers, file names and addresses are sealed by the vault; lookups go through keyed hashes.
CREATE TABLE citizen_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_hash TEXT NOT NULL,
    address_hash TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    used_at INTEGER
);
CREATE INDEX citizen_codes_phone ON citizen_codes(phone_hash, created_at);
CREATE INDEX citizen_codes_address ON citizen_codes(address_hash, created_at);

CREATE TABLE citizen_sessions (
    token_hash TEXT PRIMARY KEY,
    phone TEXT NOT NULL,
    phone_hash TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- Content-addressed: the key is the SHA-256 of the plaintext bytes, checked again on every read.
CREATE TABLE uploads (
    sha256 TEXT PRIMARY KEY,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_hash TEXT NOT NULL,
    phone TEXT NOT NULL,
    item_code TEXT NOT NULL,
    place_code TEXT NOT NULL REFERENCES places(code),
    state TEXT NOT NULL,
    applicant_name TEXT NOT NULL DEFAULT '',
    applicant_id_number TEXT,
    answers TEXT NOT NULL,
    delivery TEXT,
    case_id INTEGER REFERENCES cases(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX applications_phone ON applications(phone_hash, state);
CREATE INDEX applications_case ON applications(case_id);

CREATE TABLE application_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    material TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES uploads(sha256),
    file_name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,
    at INTEGER NOT NULL
);
CREATE INDEX application_files_app ON application_files(application_id);

ALTER TABLE cases ADD COLUMN delivery_choice TEXT;

CREATE TABLE ratings (
    case_id INTEGER PRIMARY KEY REFERENCES cases(id),
    county_code TEXT NOT NULL,
    department_id INTEGER NOT NULL REFERENCES departments(id),
    score INTEGER NOT NULL,
    comment TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX ratings_county ON ratings(county_code, department_id);

CREATE TABLE followups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id INTEGER NOT NULL UNIQUE REFERENCES cases(id),
    county_code TEXT NOT NULL,
    department_id INTEGER NOT NULL REFERENCES departments(id),
    score INTEGER NOT NULL,
    opened_on TEXT NOT NULL,
    due_on TEXT NOT NULL,
    state TEXT NOT NULL,
    callback_note TEXT NOT NULL DEFAULT '',
    closed_by TEXT,
    closed_at INTEGER
);
CREATE INDEX followups_open ON followups(county_code, state, department_id);

ALTER TABLE queues ADD COLUMN appointment_capacity INTEGER NOT NULL DEFAULT 4;

CREATE TABLE appointments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL REFERENCES queues(id),
    day TEXT NOT NULL,
    slot TEXT NOT NULL,
    phone_hash TEXT NOT NULL,
    phone TEXT NOT NULL,
    item_code TEXT,
    state TEXT NOT NULL,
    ticket_id INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX appointments_slot ON appointments(queue_id, day, slot, state);
CREATE INDEX appointments_phone ON appointments(phone_hash, day);

-- Housekeeping reminds applicants whose tolerant-acceptance deadline is near: an index of just those
-- open cases, so that the reminder does not read a province-year of cases every ten minutes.
CREATE INDEX cases_supplement_due ON cases(supplement_due_on) WHERE closed_at IS NULL AND tolerant = 1;
