-- A case's version: every change to its row adds one, so an action checked against a read made
-- outside the writers' lock can tell whether the case moved meanwhile (cases.rs, "optimistic").
ALTER TABLE cases ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- The statements that change a case add one themselves; this catches any that does not.
CREATE TRIGGER cases_version AFTER UPDATE ON cases WHEN NEW.version = OLD.version
BEGIN
    UPDATE cases SET version = OLD.version + 1 WHERE id = NEW.id;
END;
