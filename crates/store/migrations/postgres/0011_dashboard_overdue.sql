-- The dashboard counts open cases past their promised date by department; with a year of cases a
-- county has hundreds of thousands open, so the overdue ones are found by range on due_on in an index
-- of open cases only that holds everything the count needs (no table reads).
CREATE INDEX cases_open_due ON cases(county_code, due_on, paused_since, department_id) WHERE closed_at IS NULL;
