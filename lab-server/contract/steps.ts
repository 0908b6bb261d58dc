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
}

/**
 * Every step's status of one lesson (`steps`) and which ids changed since the
 * previous report (`changed`).
 */
export interface StepsReport { lesson: string; steps: StepStatus[]; changed: string[] }
