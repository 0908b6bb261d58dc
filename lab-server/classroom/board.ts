/**
 * The progress matrix: learners × steps, computed from what the store holds plus the
 * lessons' step lists. The board page, its live updates and every export format are
 * built from this one structure, so the CSV an instructor downloads says exactly
 * what the board showed.
 */
import type { Admission, BoardCell, BoardColumn, BoardData, BoardLearner, LessonSteps } from '../contract/board-protocol.ts';
import type { Learner, LearnerSession, StepResult, Workshop } from './store.ts';

export interface BoardInput {
  workshop: Workshop;
  lessons: LessonSteps[];
  learners: Learner[];
  results: StepResult[];
  sessions: LearnerSession[];
  admission: (learnerId: string) => { state: Admission; position: number | null };
  capacity: { active: number; queued: number; limit: number };
  stuckMinutes: number;
  now?: number;
}

export function buildBoard(input: BoardInput): BoardData {
  const now = input.now ?? Date.now();
  const columns: BoardColumn[] = input.lessons.flatMap((l) => l.steps.map((s) => ({ lesson: l.id, step: s.id, title: s.title })));
  const key = (lesson: string, step: string) => `${lesson}\u0000${step}`;
  const byLearner = new Map<string, Map<string, StepResult>>();
  for (const r of input.results) {
    let m = byLearner.get(r.learnerId);
    if (!m) byLearner.set(r.learnerId, (m = new Map()));
    m.set(key(r.lessonId, r.stepId), r);
  }
  const firstSessionStart = new Map<string, number>();
  for (const s of input.sessions) {
    const k = key(s.learnerId, s.lessonId);
    const prev = firstSessionStart.get(k);
    if (prev === undefined || s.startedAt < prev) firstSessionStart.set(k, s.startedAt);
  }
  const counts = columns.map(() => 0);
  const onStep = columns.map(() => 0);
  const stuckMs = input.stuckMinutes * 60_000;

  const learners = input.learners.map((l): BoardLearner => {
    const results = byLearner.get(l.id) ?? new Map<string, StepResult>();
    const cells = columns.map((c, i): BoardCell => {
      const r = results.get(key(c.lesson, c.step));
      if (r?.status === 'pass') counts[i]++;
      return { status: r?.status ?? null, passedAt: r?.firstPassAt ?? null, message: r?.message ?? null, messages: r?.messages ?? null, stale: r?.status === 'pass' ? r.stale : null };
    });
    const passed = cells.filter((c) => c.status === 'pass').length;
    const complete = columns.length > 0 && passed === columns.length;

    // the lesson the learner opened last, unless it is finished: then the first
    // workshop lesson with an open step (that is where they should go next)
    const open = (lesson: LessonSteps) => lesson.steps.find((s) => results.get(key(lesson.id, s.id))?.status !== 'pass');
    let lesson = input.lessons.find((x) => x.id === l.currentLesson && open(x));
    lesson ??= input.lessons.find((x) => open(x));
    let current: BoardLearner['current'] = null;
    if (lesson) {
      const step = open(lesson)!;
      // time on the current step counts from the later of: the learner starting this
      // lesson (their first session of it, so a server restart does not reset the
      // clock), the last pass in this lesson, or joining when they never opened it
      let since = firstSessionStart.get(key(l.id, lesson.id)) ?? l.joinedAt;
      for (const s of lesson.steps) {
        const at = results.get(key(lesson.id, s.id))?.firstPassAt;
        if (at && at > since) since = at;
      }
      const r = results.get(key(lesson.id, step.id));
      current = { lesson: lesson.id, step: step.id, since, minutes: Math.max(0, (now - since) / 60_000), message: r?.status === 'fail' ? r.message : null, messages: r?.status === 'fail' ? r.messages : null };
      const col = columns.findIndex((c) => c.lesson === lesson!.id && c.step === step.id);
      if (col >= 0) onStep[col]++;
    }
    const adm = input.admission(l.id);
    return {
      id: l.id, name: l.displayName, joinedAt: l.joinedAt, lastSeenAt: l.lastSeenAt,
      admission: adm.state, queuePosition: adm.position,
      cells, passed, complete, current,
      // a learner with no sandbox (left, or queued) is not "stuck" on the lesson
      stuck: !!current && adm.state === 'active' && input.workshop.closedAt === null && now - current.since > stuckMs,
    };
  });

  const w = input.workshop;
  return {
    workshop: { id: w.id, code: w.code, title: w.title, lessons: w.lessons, createdAt: w.createdAt, endsAt: w.endsAt, closedAt: w.closedAt },
    lessons: input.lessons, columns, learners, counts, onStep,
    stuckMinutes: input.stuckMinutes, capacity: input.capacity, generatedAt: now,
  };
}
