/**
 * A lesson step's status as the check engine reports it, the learner's socket
 * carries it, the classroom store keeps it and the board shows it.
 */
export type StepState = 'pass' | 'fail' | 'pending';

export interface StepStatus {
  id: string;
  status: StepState;
  /** in the learner's language; null when the check said nothing */
  message: string | null;
  /**
   * the same message in every language the lesson has, so a viewer who switches
   * language re-reads it without a new check round; absent for untranslated text
   */
  messages?: Record<string, string>;
  /** ms since epoch when the step first passed */
  passedAt: number | null;
  /** true when the check itself broke (a lesson bug, not the learner's mistake) */
  error?: boolean;
  /**
   * Set on a passed step whose check no longer passes while a later step is still open:
   * what the step made is gone (the shell that held it exited, the machine is a fresh
   * one), so the next step would fail on it. The step still counts as passed
   * (`status` stays 'pass', `passedAt` is kept); `message`/`messages` here are what the
   * check says is missing now, that is what to redo. Absent when the state is there.
   */
  stale?: { message: string | null; messages?: Record<string, string> };
}

/**
 * Every step's status of one lesson (`steps`) and which ids changed since the
 * previous report (`changed`).
 */
export interface StepsReport { lesson: string; steps: StepStatus[]; changed: string[] }
