-- A batch's transaction began with two round trips after BEGIN: the writers' lock (one writer at a
-- time across every instance keeps the audit chain linear and events in commit order) and then the
-- audit chain's head. This function does both in one. It must be VOLATILE PL/pgSQL: such a function
-- takes a fresh snapshot for each query it runs, so the head is read after the lock is held and
-- includes what the previous holder committed; one SELECT of the lock and the head together would
-- read the head as it was before the wait.
CREATE FUNCTION writers_turn() RETURNS TEXT LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(330822);
    RETURN (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1);
END
$$;
