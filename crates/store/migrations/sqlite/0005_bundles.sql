-- "One thing" bundles: one application whose parent case fans out to child cases in other departments.
CREATE TABLE bundle_cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bundle_code TEXT NOT NULL,
    parent_case_id INTEGER NOT NULL REFERENCES cases(id),
    facts TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    created_at INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX bundle_cases_parent ON bundle_cases(parent_case_id);

CREATE TABLE bundle_children (
    bundle_case_id INTEGER NOT NULL REFERENCES bundle_cases(id),
    child_key TEXT NOT NULL,
    item_code TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    case_id INTEGER REFERENCES cases(id),
    data TEXT,
    started_at INTEGER,
    PRIMARY KEY (bundle_case_id, child_key)
);
CREATE INDEX bundle_children_case ON bundle_children(case_id);
