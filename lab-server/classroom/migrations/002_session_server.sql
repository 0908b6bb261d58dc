-- Version 2: which server process runs each lab session.
-- A server that starts ends only the open sessions of servers that are gone (a
-- crashed or killed predecessor), not those of another server still running on the
-- same data directory (tests, a blue/green restart).
ALTER TABLE learner_sessions ADD COLUMN server TEXT;
CREATE INDEX sessions_open ON learner_sessions(ended_at) WHERE ended_at IS NULL;
