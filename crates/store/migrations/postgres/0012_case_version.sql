-- A case's version: every change to its row adds one, so an action checked against a read made
-- outside the writers' lock can tell whether the case moved meanwhile (cases.rs, "optimistic").
ALTER TABLE cases ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- The statements that change a case add one themselves; this catches any that does not.
CREATE FUNCTION cases_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version = OLD.version THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER cases_version BEFORE UPDATE ON cases FOR EACH ROW EXECUTE FUNCTION cases_version();
