/**
 * The lesson engine as a plug-in for the HTTP server (the shape is
 * contract/lessons-plugin.ts `LessonsPlugin`): lesson routes for the web app, lesson
 * lookup for new sessions, and live checks on every session's sandbox with status
 * pushes to the learner's socket.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { ApiError, sendError } from '../contract/api-error.ts';
import { isLang, type Lang } from '../contract/lang.ts';
import type { LessonLaunchInfo, PluginSession } from '../contract/lessons-plugin.ts';
import type { StepStatus } from '../contract/steps.ts';
import { LessonCatalog, UnknownLessonError } from '../lessons/loader.ts';
import { LessonError } from '../lessons/problems.ts';
import type { Sandbox } from '../sandbox/types.ts';
import { startLessonChecks } from './session.ts';

/** What the server tells a plug-in about a session. */
export type LessonSessionView = PluginSession<Sandbox>;

export interface LessonsPluginOptions {
  catalog?: LessonCatalog;
  /** background poll of the check engines; default 2000 ms */
  pollMs?: number;
  log?: (line: string) => void;
}

const langQuery = z.union([z.undefined(), z.string()]).transform((v, ctx) => {
  if (v === undefined || v === '') return 'en' as Lang;
  if (!isLang(v)) {
    ctx.addIssue({ code: 'custom', message: `lang must be en, ko or zh, not "${v.slice(0, 20)}"` });
    return z.NEVER;
  }
  return v;
});

/**
 * Passed steps per session, kept across sandbox resets (a learner who resets the
 * machine keeps what they achieved). Bounded so abandoned sessions cannot grow it
 * forever; the oldest sessions drop out first.
 */
class ProgressMemory {
  /** session id → step id → when it passed */
  private map = new Map<string, Map<string, number>>();
  constructor(private readonly max = 20_000) {}
  get(key: string): Map<string, number> {
    let s = this.map.get(key);
    if (s) {
      this.map.delete(key);
    } else {
      s = new Map();
      if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    }
    this.map.set(key, s);
    return s;
  }
}

export function createLessonsPlugin(opts: LessonsPluginOptions = {}) {
  const catalog = opts.catalog ?? new LessonCatalog();
  const log = opts.log ?? ((l: string) => console.warn(`nslab lessons: ${l}`));
  const progress = new ProgressMemory();
  // load the highlighter and parse the lessons now, not when the first learner waits for it
  void catalog.list().catch((err) => log(`warming the lesson cache failed: ${(err as Error).message}`));

  const router = Router();

  router.get('/lessons', async (req: Request, res: Response) => {
    const lang = langQuery.safeParse(req.query.lang);
    if (!lang.success) return sendError(res, new ApiError(400, 'bad-lang', lang.error.issues[0].message));
    try {
      res.json(await catalog.list(lang.data));
    } catch (err) {
      log(`listing lessons failed: ${(err as Error).stack ?? err}`);
      sendError(res, new ApiError(500, 'lessons-unavailable', 'The lesson list could not be read.'));
    }
  });

  router.get('/lessons/:id', async (req: Request, res: Response) => {
    const lang = langQuery.safeParse(req.query.lang);
    if (!lang.success) return sendError(res, new ApiError(400, 'bad-lang', lang.error.issues[0].message));
    const id = String(req.params.id);
    try {
      res.json(await catalog.view(id, lang.data));
    } catch (err) {
      if (err instanceof UnknownLessonError) return sendError(res, new ApiError(404, 'unknown-lesson', `unknown lesson "${id.slice(0, 80)}"`));
      if (err instanceof LessonError) {
        // the details are for the author (nslab lint); the learner gets a plain notice
        log(`lesson ${id} cannot be served:\n${err.message}`);
        return sendError(res, new ApiError(500, 'lesson-broken', `Lesson "${id}" has errors and cannot be shown right now (run nslab lint).`));
      }
      log(`lesson ${id} failed: ${(err as Error).stack ?? err}`);
      sendError(res, new ApiError(500, 'internal', 'The lesson could not be loaded.'));
    }
  });

  return {
    router,

    async resolve(id: string, _lang: Lang): Promise<LessonLaunchInfo | null> {
      try {
        const lesson = await catalog.load(id);
        return { id: lesson.id, terminals: lesson.front.terminals, image: lesson.front.image };
      } catch (err) {
        if (err instanceof UnknownLessonError) return null;
        throw err;
      }
    },

    async attach(session: LessonSessionView): Promise<() => void> {
      const passed = progress.get(session.id);
      const push = (steps: StepStatus[], changed: string[]) => {
        for (const s of steps) if (s.status === 'pass' && !passed.has(s.id)) passed.set(s.id, s.passedAt ?? Date.now());
        try {
          session.pushSteps({ lesson: session.lesson, steps, changed });
        } catch (err) {
          log(`pushing steps to session ${session.id} failed: ${(err as Error).message}`);
        }
      };
      const engine = await startLessonChecks({
        catalog,
        lessonId: session.lesson,
        lang: session.lang,
        sandbox: session.sandbox,
        terminalText: (n) => session.terminalText(n),
        map: session.map,
        passed,
        pollMs: opts.pollMs,
        log: (l) => log(`[${session.lesson} / session ${session.id}] ${l}`),
        onStatus: (changed, all) => push(all, changed.map((c) => c.id)),
      });
      // the full list at once, so the learner's step list is right before any check ran
      push(engine.statuses(), []);
      return () => engine.stop();
    },
  };
}

export type LessonsPluginImpl = ReturnType<typeof createLessonsPlugin>;
