-- Classroom schema, version 1.
-- Ids are random text (never sequential) so that knowing one id says nothing about
-- another; learner tokens are stored only as SHA-256 hashes, so a copied database
-- file does not let anyone act as a learner.

CREATE TABLE workshops (
  id          TEXT PRIMARY KEY,
  code        TEXT NOT NULL UNIQUE,
  title       TEXT NOT NULL,
  created_at  INTEGER NOT NULL,           -- ms since epoch
  ends_at     INTEGER,                    -- optional planned end; joins are refused after it
  closed_at   INTEGER                     -- set when the instructor closes it
);

-- Lessons of a workshop, in the order learners should take them.
CREATE TABLE workshop_lessons (
  workshop_id TEXT NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
  position    INTEGER NOT NULL,
  lesson_id   TEXT NOT NULL,
  PRIMARY KEY (workshop_id, position),
  UNIQUE (workshop_id, lesson_id)
);

CREATE TABLE learners (
  id            TEXT PRIMARY KEY,
  workshop_id   TEXT NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
  display_name  TEXT NOT NULL,
  token_hash    TEXT NOT NULL UNIQUE,
  joined_at     INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL,
  current_lesson TEXT,                    -- the lesson the learner opened last
  UNIQUE (workshop_id, display_name COLLATE NOCASE)
);
CREATE INDEX learners_by_workshop ON learners(workshop_id, joined_at);

-- One row per lab session (sandbox + terminals) a learner had. Lab sessions live in
-- server memory; this row is what survives a restart.
CREATE TABLE learner_sessions (
  id           TEXT PRIMARY KEY,          -- the lab server's session id
  learner_id   TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
  lesson_id    TEXT NOT NULL,
  started_at   INTEGER NOT NULL,
  ended_at     INTEGER,
  end_reason   TEXT
);
CREATE INDEX sessions_by_learner ON learner_sessions(learner_id, lesson_id, started_at);

-- Latest status of each step a learner has been checked on. A passed step stays
-- passed: first_pass_at is written once and never cleared.
CREATE TABLE step_results (
  learner_id    TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
  lesson_id     TEXT NOT NULL,
  step_id       TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'pending')),
  message       TEXT,
  first_pass_at INTEGER,
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (learner_id, lesson_id, step_id)
);

-- `nslab grade` reports attached to a workshop (optionally to one learner).
CREATE TABLE grading_runs (
  id          TEXT PRIMARY KEY,
  workshop_id TEXT NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
  learner_id  TEXT REFERENCES learners(id) ON DELETE SET NULL,
  lesson_id   TEXT NOT NULL,
  source      TEXT NOT NULL,              -- transcript file name or free label
  passed      INTEGER NOT NULL,
  total       INTEGER NOT NULL,
  report      TEXT NOT NULL,              -- the grade JSON, as `nslab grade --format json` prints it
  created_at  INTEGER NOT NULL
);
CREATE INDEX grading_by_workshop ON grading_runs(workshop_id, created_at);
