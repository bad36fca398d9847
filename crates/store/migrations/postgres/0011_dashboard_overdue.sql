-- The dashboard counts open cases past their promised date by department; with a year of cases a
-- county has hundreds of thousands open, so the overdue ones are found by range on due_on rather than
-- by reading every open case.
CREATE INDEX cases_open_due ON cases(county_code, closed_at, due_on);
