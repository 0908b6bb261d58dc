/**
 * What the classroom API answers a learner (GET /api/classroom/me, POST
 * /api/classroom/me/lessons/:id/session), an instructor (workshops) and a self-paced
 * learner (/api/self). The server builds these (classroom/service.ts,
 * classroom/self-paced.ts), the web app reads them (web/board/, web/api.ts).
 */
import type { StepState } from './steps.ts';

/** A lab session as the classroom sees it: the learner gets {id, token} and uses the normal session socket. */
export interface LabSessionHandle { id: string; token: string }

export interface LessonProgress {
  id: string;
  title: string;
  steps: { id: string; title: string; status: StepState | null; passedAt: number | null }[];
  passed: number;
  total: number;
}

export interface LearnerView {
  learner: { id: string; name: string; joinedAt: number };
  workshop: { code: string; title: string; endsAt: number | null; closed: boolean };
  lessons: LessonProgress[];
  /** the learner's live lab session, if any */
  session: { id: string; lesson: string } | null;
  /** 1-based place in the admission queue, when waiting */
  queuePosition: number | null;
}

export type OpenLessonResult =
  | { state: 'ready'; session: LabSessionHandle & { lesson: string }; notice: SessionNotice | null }
  | { state: 'queued'; position: number; capacity: number; retryAfterSeconds: number };

/** Shown to a learner whose earlier sandbox is gone (server restart, idle reaping). */
export interface SessionNotice { code: 'fresh-sandbox'; afterRestart: boolean; passedSteps: number }

/** A workshop as the instructor API answers it. */
export interface WorkshopInfo { id: string; code: string; title: string; lessons: string[]; createdAt: number; endsAt: number | null; closedAt: number | null }

/** POST /api/self/lessons/:lesson/session */
export interface SelfPacedOpenResult {
  session: LabSessionHandle & { lesson: string };
  /** the learner's machine that was already running (another tab, a reload) */
  resumed: boolean;
  /** a fresh machine with earlier progress restored: how many steps were passed before */
  restoredSteps: number;
}

/** GET /api/self/progress: a self-paced learner's progress per lesson */
export interface SelfPacedProgress {
  lessons: Record<string, { passed: number; total: number; live: boolean }>;
}
