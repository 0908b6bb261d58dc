-- Version 3: what a browser is signed in as, without a workshop.
--
-- Self-paced learners (the public lesson list):
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

-- Instructors signed in from the secret link: an HttpOnly cookie per browser instead
-- of the secret in every request. secret_hash ties a sign-in to the secret it was
-- made with, so a new instructor secret signs every browser out.
CREATE TABLE instructor_sessions (
  token_hash   TEXT PRIMARY KEY,
  secret_hash  TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);
