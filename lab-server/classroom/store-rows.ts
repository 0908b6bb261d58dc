/**
 * Rows that both classroom stores (SQLite, PostgreSQL) read the same way, checked
 * as they come back: a hand-edited database fails here, not deep in the board.
 */
import { z } from 'zod';
import type { Learner, LearnerSession } from './store.ts';

const learnerRow = z.object({
  id: z.string(), workshop_id: z.string(), display_name: z.string(), joined_at: z.number(),
  last_seen_at: z.number(), current_lesson: z.string().nullable(),
});

const sessionRow = z.object({
  id: z.string(), server: z.string().nullable(), learner_id: z.string(), lesson_id: z.string(), started_at: z.number(),
  ended_at: z.number().nullable(), end_reason: z.string().nullable(),
});

export const toLearner = (r: unknown): Learner => {
  const l = learnerRow.parse(r);
  return { id: l.id, workshopId: l.workshop_id, displayName: l.display_name, joinedAt: l.joined_at, lastSeenAt: l.last_seen_at, currentLesson: l.current_lesson };
};

export const toSession = (r: unknown): LearnerSession => {
  const s = sessionRow.parse(r);
  return { id: s.id, server: s.server, learnerId: s.learner_id, lessonId: s.lesson_id, startedAt: s.started_at, endedAt: s.ended_at, endReason: s.end_reason };
};
