-- Classroom schema on PostgreSQL, version 1: the same tables and rules as
-- ../migrations/001_init.sql (SQLite), see docs/classroom-store.md.
-- Ids are random text (never sequential); learner tokens are stored only as SHA-256
-- hashes. Times are bigint ms since epoch, as in SQLite, so both stores hand the
-- same numbers to the classroom.
-- `seq` columns stand in for SQLite's rowid: the tie-breaker that lists rows with the
-- same time in the order they were written.

CREATE TABLE workshops (
  id          text PRIMARY KEY,
  code        text NOT NULL UNIQUE,
  title       text NOT NULL,
  created_at  bigint NOT NULL,            -- ms since epoch
  ends_at     bigint,                     -- optional planned end; joins are refused after it
  closed_at   bigint                      -- set when the instructor closes it
);

-- Lessons of a workshop, in the order learners should take them.
CREATE TABLE workshop_lessons (
  workshop_id text NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
  position    integer NOT NULL,
  lesson_id   text NOT NULL,
  PRIMARY KEY (workshop_id, position),
  UNIQUE (workshop_id, lesson_id)
);

CREATE TABLE learners (
  id             text PRIMARY KEY,
  seq            bigint GENERATED ALWAYS AS IDENTITY,
  workshop_id    text NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
  display_name   text NOT NULL,
  token_hash     text NOT NULL UNIQUE,
  joined_at      bigint NOT NULL,
  last_seen_at   bigint NOT NULL,
  current_lesson text                     -- the lesson the learner opened last
);
-- SQLite's UNIQUE (workshop_id, display_name COLLATE NOCASE)
CREATE UNIQUE INDEX learners_name_per_workshop ON learners (workshop_id, lower(display_name));
CREATE INDEX learners_by_workshop ON learners (workshop_id, joined_at, seq);

-- One row per lab session (sandbox + terminals) a learner had.
CREATE TABLE learner_sessions (
  id           text PRIMARY KEY,          -- the lab server's session id
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  learner_id   text NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
  lesson_id    text NOT NULL,
  started_at   bigint NOT NULL,
  ended_at     bigint,
  end_reason   text
);
CREATE INDEX sessions_by_learner ON learner_sessions (learner_id, lesson_id, started_at);

-- Latest status of each step a learner has been checked on. A passed step stays
-- passed: first_pass_at is written once and never cleared.
CREATE TABLE step_results (
  learner_id    text NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
  lesson_id     text NOT NULL,
  step_id       text NOT NULL,
  status        text NOT NULL CHECK (status IN ('pass', 'fail', 'pending')),
  message       text,
  first_pass_at bigint,
  updated_at    bigint NOT NULL,
  PRIMARY KEY (learner_id, lesson_id, step_id)
);

-- `nslab grade` reports attached to a workshop (optionally to one learner).
CREATE TABLE grading_runs (
  id          text PRIMARY KEY,
  seq         bigint GENERATED ALWAYS AS IDENTITY,
  workshop_id text NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
  learner_id  text REFERENCES learners(id) ON DELETE SET NULL,
  lesson_id   text NOT NULL,
  source      text NOT NULL,              -- transcript file name or free label
  passed      integer NOT NULL,
  total       integer NOT NULL,
  report      json NOT NULL,              -- json, not jsonb: kept as `nslab grade --format json` printed it
  created_at  bigint NOT NULL
);
CREATE INDEX grading_by_workshop ON grading_runs (workshop_id, created_at, seq);
