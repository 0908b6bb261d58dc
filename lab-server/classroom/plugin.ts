/**
 * Live checks for classroom sessions. The lab server calls one lessons plug-in's
 * `attach` for every session (contract/lessons-plugin.ts); this wraps the lesson engine's
 * plug-in so that sessions belonging to a workshop learner
 *   - start with the learner's passed steps from the store (a fresh sandbox after a
 *     restart or reset keeps the learner's progress), and
 *   - write every status change to the store, which updates the board.
 * Other sessions (the public lesson list) go to the lesson engine's plug-in unchanged.
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
import type { Classroom } from './service.ts';

type PluginSessionView = PluginSession<Sandbox>;

export function withClassroom<P extends LessonsPlugin<Sandbox, unknown>>(inner: P, classroom: Classroom, opts: { pollMs?: number; log?: (l: string) => void } = {}): P {
  const log = opts.log ?? ((l: string) => console.warn(`nslab classroom: ${l}`));
  return {
    ...inner,
    async attach(session: PluginSessionView): Promise<void | Detach> {
      const owner = classroom.creatingFor.getStore() ?? classroom.ownerOf(session.id);
      if (!owner) return inner.attach?.(session);
      const passed = await classroom.passedSteps(owner.learnerId, owner.lesson);
      // results are written in order, one at a time, so a late write cannot overwrite a newer one
      let writing = Promise.resolve();
      const record = (steps: StepStatus[]) => {
        writing = writing.then(() => classroom.recordSteps(session.id, steps.map((s) => ({ stepId: s.id, status: s.status, message: s.message })))
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
