/**
 * The instructor board: the progress matrix (learners × steps) that GET
 * /api/classroom/workshops/:code answers and the board socket pushes, and the board
 * socket's messages. The server builds BoardData (classroom/board.ts), the web app
 * draws it; every export format is built from the same structure.
 */
import { z } from 'zod';
import type { StepState } from './steps.ts';
import type { NsmapSnapshot } from './namespace-map.ts';

export interface LessonSteps { id: string; title: string; steps: { id: string; title: string }[] }

export interface BoardColumn { lesson: string; step: string; title: string }

export interface BoardCell {
  status: StepState | null;
  /** ms since epoch of the first pass */
  passedAt: number | null;
  /** in the learner's language */
  message: string | null;
  /** the same message by language (lang -> text), so each viewer reads it in their own; null: only `message` is known */
  messages: Record<string, string> | null;
  /**
   * a passed step whose state is gone (steps.ts `stale`): what the check misses now,
   * in the learner's language and by language. Still counted as passed. null: not stale.
   */
  stale: { message: string | null; messages: Record<string, string> | null } | null;
}

export type Admission = 'active' | 'queued' | 'offline';

export interface BoardLearner {
  id: string;
  name: string;
  joinedAt: number;
  lastSeenAt: number;
  /** active: has a sandbox; queued: waiting for capacity; offline: no sandbox right now */
  admission: Admission;
  /** 1-based place in the admission queue when queued */
  queuePosition: number | null;
  /** one per board column, same order */
  cells: BoardCell[];
  passed: number;
  complete: boolean;
  /** the first open step of the lesson the learner is on; null when everything is done */
  current: { lesson: string; step: string; since: number; minutes: number; message: string | null; messages: Record<string, string> | null } | null;
  /** on the current step for longer than the workshop's stuck threshold */
  stuck: boolean;
}

export interface BoardData {
  workshop: { id: string; code: string; title: string; lessons: string[]; createdAt: number; endsAt: number | null; closedAt: number | null };
  lessons: LessonSteps[];
  columns: BoardColumn[];
  learners: BoardLearner[];
  /** learners who passed each column (same order as columns) */
  counts: number[];
  /** learners whose current step is each column (where the room is right now) */
  onStep: number[];
  stuckMinutes: number;
  capacity: { active: number; queued: number; limit: number };
  generatedAt: number;
}

// ------------------------------------------------------------ board socket

export const boardClientMessageSchema = z.discriminatedUnion('type', [
  /** without a secret, the socket's upgrade request must carry the instructor's sign-in cookie */
  z.strictObject({ type: z.literal('hello'), secret: z.string().max(256).optional() }),
  /** stuckMinutes: this board's own "stuck" threshold (default: the server's NSLAB_STUCK_MINUTES) */
  z.strictObject({ type: z.literal('subscribe'), workshop: z.string().max(20), stuckMinutes: z.number().min(0).max(24 * 60).optional() }),
  z.strictObject({ type: z.literal('watch'), learner: z.string().max(64) }),
  z.strictObject({ type: z.literal('unwatch') }),
  /** during a watch: the watched learner's namespace map from now on (`watch-map`), until unsubscribed or the watch ends */
  z.strictObject({ type: z.literal('watch-map-subscribe') }),
  z.strictObject({ type: z.literal('watch-map-unsubscribe') }),
  z.strictObject({ type: z.literal('ping'), id: z.union([z.string().max(64), z.number()]).optional() }),
]);
export type BoardClientMessage = z.infer<typeof boardClientMessageSchema>;

/** what the board socket sends (JSON text frames); terminal output of a watch comes as binary [terminal, bytes...] */
export type BoardServerMessage =
  | { type: 'welcome' }
  | { type: 'board'; board: BoardData }
  | { type: 'watch-started'; learner: string; name: string; session: string }
  | { type: 'watch-terminal'; terminal: number; state: 'opened' | 'exited' }
  /** the watched terminal's size on the learner's screen: sent before its replay and on every change */
  | { type: 'watch-size'; terminal: number; cols: number; rows: number }
  | { type: 'watch-ended'; learner: string; reason: string }
  | { type: 'watch-lagged'; droppedBytes: number }
  /** the watched learner's namespace map (namespace-map.ts): the last one at once, then each new one */
  | { type: 'watch-map'; snapshot: NsmapSnapshot }
  | { type: 'pong'; id?: string | number }
  | { type: 'error'; code: string; message: string };

export const BOARD_SOCKET_PATH = '/api/classroom/socket';
