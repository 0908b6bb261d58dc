-- Version 3: progress of self-paced learners (the public lesson list, no workshop).
-- A browser is one self-paced learner: it holds a random token in an HttpOnly
-- cookie; only the token's SHA-256 is stored, as for workshop learners. Only passed
-- steps are kept: a passed step stays passed, and that is all a fresh sandbox and
-- the lesson list need to know.

CREATE TABLE self_paced_learners (
  id            TEXT PRIMARY KEY,
  token_hash    TEXT NOT NULL UNIQUE,
  created_at    INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL
);

CREATE TABLE self_paced_passes (
  learner_id  TEXT NOT NULL REFERENCES self_paced_learners(id) ON DELETE CASCADE,
  lesson_id   TEXT NOT NULL,
  step_id     TEXT NOT NULL,
  passed_at   INTEGER NOT NULL,
  PRIMARY KEY (learner_id, lesson_id, step_id)
);
