-- Hotline work orders (一条热线全整合): an operator records a call, dispatches it to a department with a
-- time limit in working days, the department replies, the operator calls back and records satisfaction.
-- Caller name and phone are sealed by the vault (`pd1:` values), never stored in plaintext.
CREATE TABLE hotline_counters (
    county TEXT NOT NULL,
    day TEXT NOT NULL,
    last_number INTEGER NOT NULL,
    PRIMARY KEY (county, day)
);

CREATE TABLE hotline_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    county_code TEXT NOT NULL,
    category TEXT NOT NULL,
    place_code TEXT NOT NULL REFERENCES places(code),
    description TEXT NOT NULL,
    caller_name TEXT NOT NULL,
    caller_phone TEXT NOT NULL,
    state TEXT NOT NULL,
    department_id INTEGER REFERENCES departments(id),
    days INTEGER NOT NULL DEFAULT 0,
    dispatched_on TEXT,
    due_on TEXT,
    reply TEXT NOT NULL DEFAULT '',
    callback_note TEXT NOT NULL DEFAULT '',
    satisfaction TEXT,
    escalated_at INTEGER,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    closed_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX hotline_orders_open ON hotline_orders(county_code, state, department_id);

CREATE TABLE hotline_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL REFERENCES hotline_orders(id),
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    actor TEXT NOT NULL,
    staff_id INTEGER,
    comment TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL
);
CREATE INDEX hotline_actions_order ON hotline_actions(order_id);
