-- Version 2: which server process runs each lab session (as ../migrations/002).
-- A server that starts ends only the open sessions of servers that are gone, not
-- those of another front still running on the same database.
ALTER TABLE learner_sessions ADD COLUMN server text;
CREATE INDEX sessions_open ON learner_sessions (ended_at) WHERE ended_at IS NULL;
