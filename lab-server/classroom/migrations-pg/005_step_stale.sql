-- Version 5: a passed step whose state is gone (as ../migrations/005). jsonb
-- {"message": text or null, "messages": {lang: text} or null}; NULL when the state
-- is there, on steps not passed, and on rows from before version 5.
ALTER TABLE step_results ADD COLUMN stale jsonb;
