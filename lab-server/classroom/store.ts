/**
 * The classroom store: workshops, learners, their lab sessions, step results and
 * grading runs.
 *
 * Everything above it (the classroom service, routes, `nslab export`) talks to this
 * interface only. It is async even though the SQLite implementation is synchronous,
 * so that a network database (PostgreSQL for a multi-node deployment, see
 * docs/classroom-store.md) can implement it without changing any caller. What the
 * classroom relies on is test/classroom/store-conformance.ts: every store passes it.
 */

import type { StepState } from '../contract/steps.ts';

export interface Workshop {
  id: string;
  /** the join code learners type (6 chars, see codes.ts) */
  code: string;
  title: string;
  /** lesson ids in the order learners should take them */
  lessons: string[];
  createdAt: number;
  /** optional planned end (ms since epoch); joins are refused after it */
  endsAt: number | null;
  /** set when the instructor closed the workshop */
  closedAt: number | null;
}

export interface Learner {
  id: string;
  workshopId: string;
  displayName: string;
  joinedAt: number;
  lastSeenAt: number;
  /** the lesson the learner opened last (their "current" lesson on the board) */
  currentLesson: string | null;
}

export interface LearnerSession {
  /** the lab server's session id */
  id: string;
  /** the server process running it (serverId()), null for rows from before schema v2 */
  server: string | null;
  learnerId: string;
  lessonId: string;
  startedAt: number;
  endedAt: number | null;
  endReason: string | null;
}

/**
 * A passed step whose state is gone (contract/steps.ts `stale`): what the check says
 * is missing now, in the learner's language and by language.
 */
export interface StaleNote { message: string | null; messages: Record<string, string> | null }

export interface StepResult {
  learnerId: string;
  lessonId: string;
  stepId: string;
  status: StepState;
  message: string | null;
  /** the same message by language (lang -> text); null when there is none or the row predates it */
  messages: Record<string, string> | null;
  /** written once, when the step first passed; a passed step stays passed */
  firstPassAt: number | null;
  /** on a passed step whose state is gone; null otherwise (it never takes the pass away) */
  stale: StaleNote | null;
  updatedAt: number;
}

export interface StepUpdate {
  stepId: string;
  status: StepState;
  /** in the learner's language */
  message: string | null;
  /** the same message by language, when the lesson translates it */
  messages?: Record<string, string> | null;
  /** with status 'pass': the step's state is gone (null or absent: it is there) */
  stale?: StaleNote | null;
}

export interface GradingRun {
  id: string;
  workshopId: string;
  learnerId: string | null;
  lessonId: string;
  /** transcript file name or a free label */
  source: string;
  passed: number;
  total: number;
  /** the report exactly as `nslab grade --format json` printed it (parsed) */
  report: unknown;
  createdAt: number;
}

/** A browser doing lessons on its own (no workshop); known by the hash of its cookie token. */
export interface SelfPacedLearner { id: string; createdAt: number; lastSeenAt: number }

/** A step a self-paced learner passed, with when it first passed. */
export interface SelfPacedPass { lessonId: string; stepId: string; passedAt: number }

export interface NewWorkshop { title: string; lessons: string[]; endsAt: number | null }

/**
 * The display name, or one that looks the same (name-key.ts), is already used in
 * this workshop: names must tell learners apart on the board. The other learner's
 * name is not in the message (the joining person need not learn it).
 */
export class NameTakenError extends Error {
  constructor(readonly displayName: string, readonly lookalike = false) {
    super(lookalike
      ? `The name "${displayName}" looks the same as the name of someone already in this workshop. Pick another one.`
      : `The name "${displayName}" is already taken in this workshop. Pick another one.`);
    this.name = 'NameTakenError';
  }
}

export interface ClassroomStore {
  /** `makeCode` is called again when a code collides with an existing workshop's */
  createWorkshop(input: NewWorkshop, makeCode: () => string, at?: number): Promise<Workshop>;
  workshop(id: string): Promise<Workshop | null>;
  /** codes are compared case-insensitively (they are read aloud and typed by hand) */
  workshopByCode(code: string): Promise<Workshop | null>;
  listWorkshops(): Promise<Workshop[]>;
  closeWorkshop(id: string, at?: number): Promise<Workshop | null>;

  /** throws NameTakenError when the name is used in that workshop (case-insensitive) */
  addLearner(input: { workshopId: string; displayName: string; tokenHash: string }, at?: number): Promise<Learner>;
  learner(id: string): Promise<Learner | null>;
  learnerByTokenHash(tokenHash: string): Promise<Learner | null>;
  learners(workshopId: string): Promise<Learner[]>;
  /** last_seen_at = at, and the current lesson when given */
  touchLearner(id: string, at: number, currentLesson?: string): Promise<void>;

  startSession(s: { id: string; learnerId: string; lessonId: string; server?: string | null }, at?: number): Promise<LearnerSession>;
  endSession(id: string, reason: string, at?: number): Promise<void>;
  /**
   * On start-up: sessions a previous server process left open are over (their
   * sandboxes are gone). Sessions of a server for which `stillRunning` says yes are
   * left alone. Returns how many were ended.
   */
  endOpenSessions(reason: string, at?: number, stillRunning?: (server: string) => boolean): Promise<number>;
  sessions(learnerId: string): Promise<LearnerSession[]>;
  /** every session of every learner of the workshop (board: when did each learner start a lesson) */
  workshopSessions(workshopId: string): Promise<LearnerSession[]>;

  /** upsert; a passed step is never downgraded and keeps its first pass time. Returns rows that changed. */
  recordSteps(learnerId: string, lessonId: string, updates: StepUpdate[], at?: number): Promise<StepResult[]>;
  stepResults(workshopId: string): Promise<StepResult[]>;
  learnerStepResults(learnerId: string): Promise<StepResult[]>;

  addSelfPacedLearner(tokenHash: string, at?: number): Promise<SelfPacedLearner>;
  /** the learner, with last_seen_at moved to `at` */
  selfPacedLearnerByTokenHash(tokenHash: string, at?: number): Promise<SelfPacedLearner | null>;
  /** insert-if-absent: the first pass time is kept. Returns the passes that are new. */
  recordSelfPacedPasses(learnerId: string, lessonId: string, stepIds: string[], at?: number): Promise<SelfPacedPass[]>;
  selfPacedPasses(learnerId: string): Promise<SelfPacedPass[]>;

  /**
   * an instructor browser signed in with the secret whose hash is `secretHash`; sign-ins
   * made before `expireBefore` or with another secret are deleted (they can never be valid again)
   */
  addInstructorSession(tokenHash: string, secretHash: string, at?: number, expireBefore?: number): Promise<void>;
  /** signed in with this secret, no earlier than `notBefore`; moves last_seen_at to `at` */
  instructorSessionValid(tokenHash: string, secretHash: string, notBefore: number, at?: number): Promise<boolean>;
  /** one browser signs out (tokenHash), or every browser (null). Returns how many were removed. */
  removeInstructorSessions(tokenHash: string | null): Promise<number>;

  addGradingRun(run: Omit<GradingRun, 'id' | 'createdAt'>, at?: number): Promise<GradingRun>;
  gradingRuns(workshopId: string): Promise<GradingRun[]>;

  /**
   * Several servers on one database (PostgreSQL fronts): tell the others that a
   * workshop's board changed, and hear them (change-relay.ts). A store only one
   * server writes at a time leaves both out; boards then refresh on their timer.
   */
  announceChange?(workshopId: string): Promise<void>;
  /** calls listener for other servers' announcements (not this store's own); returns the stop */
  onChange?(listener: (workshopId: string) => void): Promise<() => Promise<void>>;

  close(): Promise<void>;
}
