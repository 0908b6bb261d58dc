/**
 * Live checks for classroom sessions. The lab server calls one lessons plug-in's
 * `attach` for every session (contract/lessons-plugin.ts); this wraps the lesson engine's
 * plug-in so that sessions belonging to a workshop learner
 *   - start with the learner's passed steps from the store (a fresh sandbox after a
 *     restart or reset keeps the learner's progress), and
 *   - write every status change to the store, which updates the board.
 * Sessions of a self-paced learner (self-paced.ts) get the same two things from their
 * own progress. Anonymous sessions (POST /api/sessions) go to the lesson engine's
 * plug-in unchanged.
 *
 * Which learner a new session belongs to is known before the server has told anyone
 * the session id: Classroom.openLesson creates it inside an AsyncLocalStorage
 * context, and attach runs in that same async chain. Later attaches (after a reset)
 * find the owner by session id.
 */
import { startLessonChecks } from '../checks/session.ts';
import type { Detach, LessonsPlugin, PluginSession } from '../contract/lessons-plugin.ts';
import type { StepStatus } from '../contract/steps.ts';
import type { Sandbox } from '../sandbox/types.ts';
import type { SelfPaced } from './self-paced.ts';
import type { Classroom } from './service.ts';

type PluginSessionView = PluginSession<Sandbox>;

/** Where one session's progress comes from and goes to. */
interface ProgressKeeper {
  passed(): Promise<Map<string, number>>;
  record(steps: StepStatus[]): Promise<void>;
}

function classroomKeeper(classroom: Classroom, sessionId: string): ProgressKeeper | null {
  const owner = classroom.creatingFor.getStore() ?? classroom.ownerOf(sessionId);
  if (!owner) return null;
  return {
    passed: () => classroom.passedSteps(owner.learnerId, owner.lesson),
    record: (steps) => classroom.recordSteps(sessionId, steps.map((s) => ({
      stepId: s.id, status: s.status, message: s.message, messages: s.messages ?? null,
      stale: s.stale ? { message: s.stale.message, messages: s.stale.messages ?? null } : null,
    }))),
  };
}

function selfPacedKeeper(selfPaced: SelfPaced | undefined, sessionId: string): ProgressKeeper | null {
  const owner = selfPaced?.ownerOf(sessionId);
  if (!selfPaced || !owner) return null;
  return {
    passed: () => selfPaced.passedSteps(owner),
    record: (steps) => selfPaced.recordPasses(owner, steps.filter((s) => s.status === 'pass').map((s) => s.id)),
  };
}

export function withClassroom<P extends LessonsPlugin<Sandbox, unknown>>(inner: P, classroom: Classroom, opts: { pollMs?: number; log?: (l: string) => void; selfPaced?: SelfPaced } = {}): P {
  const log = opts.log ?? ((l: string) => console.warn(`nslab classroom: ${l}`));
  return {
    ...inner,
    async attach(session: PluginSessionView): Promise<void | Detach> {
      const keeper = classroomKeeper(classroom, session.id) ?? selfPacedKeeper(opts.selfPaced, session.id);
      if (!keeper) return inner.attach?.(session);
      const passed = await keeper.passed();
      // results are written in order, one at a time, so a late write cannot overwrite a newer one
      let writing = Promise.resolve();
      const record = (steps: StepStatus[]) => {
        writing = writing.then(() => keeper.record(steps)
          .catch((err: unknown) => log(`saving progress of session ${session.id} failed: ${(err as Error).message}`)));
      };
      const push = (all: StepStatus[], changed: string[]) => {
        try {
          session.pushSteps({ lesson: session.lesson, steps: all, changed });
        } catch (err) {
          log(`pushing steps to session ${session.id} failed: ${(err as Error).message}`);
        }
      };
      const engine = await startLessonChecks({
        catalog: classroom.catalog,
        lessonId: session.lesson,
        lang: session.lang,
        sandbox: session.sandbox,
        terminalText: (n) => session.terminalText(n),
        map: session.map,
        passed,
        pollMs: opts.pollMs,
        log: (l) => log(`[${session.lesson} / session ${session.id}] ${l}`),
        onStatus: (changed, all) => {
          record(changed);
          push(all, changed.map((c) => c.id));
        },
      });
      push(engine.statuses(), []);
      return () => engine.stop();
    },
  };
}
