-- Version 3: what a browser is signed in as, without a workshop (as ../migrations/003).
--
-- Self-paced learners: a random token in an HttpOnly cookie, only its SHA-256 kept.
-- Only passed steps are stored: a passed step stays passed.

CREATE TABLE self_paced_learners (
  id            text PRIMARY KEY,
  token_hash    text NOT NULL UNIQUE,
  created_at    bigint NOT NULL,
  last_seen_at  bigint NOT NULL
);

CREATE TABLE self_paced_passes (
  learner_id  text NOT NULL REFERENCES self_paced_learners(id) ON DELETE CASCADE,
  lesson_id   text NOT NULL,
  step_id     text NOT NULL,
  passed_at   bigint NOT NULL,
  seq         bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (learner_id, lesson_id, step_id)
);

-- Instructors signed in from the secret link: secret_hash ties a sign-in to the
-- secret it was made with, so a new instructor secret signs every browser out.
CREATE TABLE instructor_sessions (
  token_hash   text PRIMARY KEY,
  secret_hash  text NOT NULL,
  created_at   bigint NOT NULL,
  last_seen_at bigint NOT NULL
);
