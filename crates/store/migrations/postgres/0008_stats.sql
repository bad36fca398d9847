-- Aggregates maintained as events happen (in the same transaction), so the leaders' dashboard reads a
-- few hundred counter rows instead of scanning cases and tickets.
CREATE TABLE stat_counters (
    county TEXT NOT NULL,
    day TEXT NOT NULL,
    metric TEXT NOT NULL,
    dim TEXT NOT NULL DEFAULT '',
    value BIGINT NOT NULL,
    PRIMARY KEY (county, day, metric, dim)
);
