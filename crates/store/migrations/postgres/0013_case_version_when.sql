-- The version trigger (0012) is a safety net for a statement that does not add one to a case's version
-- itself; every statement of the store does. With the check in the trigger's WHEN, PostgreSQL decides
-- without calling PL/pgSQL, as SQLite's trigger does: 6–43 µs less of PostgreSQL's time per case
-- action, measured with auto_explain (BENCHMARKS.md, 2026-12-06).
DROP TRIGGER cases_version ON cases;
CREATE TRIGGER cases_version BEFORE UPDATE ON cases FOR EACH ROW
    WHEN (NEW.version = OLD.version) EXECUTE FUNCTION cases_version();
