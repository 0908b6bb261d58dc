/**
 * The classroom HTTP API, an express Router the lab server mounts at /api/classroom.
 *
 * Two kinds of callers:
 * - the instructor: the instructor secret (NSLAB_INSTRUCTOR_SECRET or generated at
 *   start) as `Authorization: Bearer ...`, or the sign-in cookie a browser got for it
 *   (POST /instructor/session, instructor-sessions.ts); everything about workshops,
 *   the board and exports;
 * - a learner: the token they got when joining (Bearer); only /me..., i.e. only their own
 *   learner, their own workshop's lessons and their own session.
 * A learner token is never accepted where the secret is required and vice versa.
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import { ApiError, sendError } from '../contract/api-error.ts';
import { secretMatches } from './codes.ts';
import type { InstructorSessions } from './instructor-sessions.ts';
import { EXPORT_CONTENT_TYPE, EXPORT_EXT, formatExport } from './export.ts';
import { RateLimiter, type BucketOptions } from '../lib/rate-limit.ts';
import { attachGradingSchema, boardQuerySchema, createWorkshopSchema, exportQuerySchema, joinSchema, openLessonSchema } from './schemas.ts';
import type { Classroom } from './service.ts';
import { NameTakenError, type Learner, type Workshop } from './store.ts';

export interface ClassroomRouterOptions {
  classroom: Classroom;
  instructorSecret: string;
  /** browsers signed in as the instructor (cookie); without it only the Bearer secret works */
  instructorSessions?: InstructorSessions;
  /** wrong-code join attempts per client address (default burst 10, 10/min) */
  failedJoins?: BucketOptions;
  /** successful joins per client address (default burst 60, 120/min: a class behind one NAT) */
  joins?: BucketOptions;
}

type Handler = (req: Request, res: Response) => Promise<void> | void;

function bearer(req: Request): string | null {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S{1,256})$/i.exec(h) : null;
  return m ? m[1] : null;
}

function parse<T extends z.ZodType>(schema: T, value: unknown, res: Response): z.infer<T> | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const i = r.error.issues[0];
  sendError(res, new ApiError(400, 'bad-request', `Bad request: ${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}.`));
  return undefined;
}

export function createClassroomRouter(opts: ClassroomRouterOptions): Router {
  const { classroom } = opts;
  const failed = new RateLimiter(opts.failedJoins ?? { burst: 10, perMinute: 10 });
  // wrong instructor secrets: a generated secret cannot be guessed anyway, but one set
  // by hand in NSLAB_INSTRUCTOR_SECRET might be weak; this makes trying expensive
  const failedSecrets = new RateLimiter({ burst: 20, perMinute: 10 });
  const joins = new RateLimiter(opts.joins ?? { burst: 60, perMinute: 120 });
  const router = Router();
  router.use(express.json({ limit: '256kb' }));

  const wrap = (h: Handler) => (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve(h(req, res)).catch((err: unknown) => {
      if (err instanceof ApiError) return sendError(res, err);
      if (err instanceof NameTakenError) return sendError(res, new ApiError(409, 'name-taken', err.message));
      next(err);
    });
  };

  const instructor = (h: Handler): Handler => async (req, res) => {
    const key = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const wait = failedSecrets.retryAfter(key);
    if (wait > 0) return sendError(res, new ApiError(429, 'too-many-attempts', `Too many wrong instructor secrets from your address. Try again in ${wait} s.`, wait));
    const t = bearer(req);
    if (!t) {
      if (await opts.instructorSessions?.signedIn(req)) return h(req, res);
      return sendError(res, new ApiError(401, 'unauthorized', 'Sign in as the instructor: open the instructor link the server printed at start (or send Authorization: Bearer SECRET).'));
    }
    if (!secretMatches(t, opts.instructorSecret)) {
      failedSecrets.take(key);
      return sendError(res, new ApiError(403, 'forbidden', 'Only the instructor can do this.'));
    }
    return h(req, res);
  };

  const learner = (h: (req: Request, res: Response, l: Learner) => Promise<void>): Handler => async (req, res) => {
    const t = bearer(req);
    if (!t) return sendError(res, new ApiError(401, 'unauthorized', 'This call needs a learner token: join the workshop first.'));
    const l = await classroom.learnerByToken(t);
    if (!l) return sendError(res, new ApiError(401, 'unauthorized', 'This learner token is not valid. Join the workshop again.'));
    return h(req, res, l);
  };

  const withWorkshop = (h: (req: Request, res: Response, w: Workshop) => Promise<void>): Handler => async (req, res) => {
    const w = await classroom.workshopByCode(String(req.params.code));
    if (!w) return sendError(res, new ApiError(404, 'unknown-workshop', 'No workshop has this code.'));
    return h(req, res, w);
  };

  const workshopJson = (w: Workshop) => ({ id: w.id, code: w.code, title: w.title, lessons: w.lessons, createdAt: w.createdAt, endsAt: w.endsAt, closedAt: w.closedAt });

  // ---------------------------------------------------------------- instructor

  /** lets the board page tell "wrong secret" from "server down" before doing anything */
  router.get('/instructor', wrap(instructor((_req, res) => {
    res.json({ ok: true, capacity: classroom.capacity, stuckMinutes: classroom.stuckMinutes });
  })));

  /** the secret link, opened once in a browser: that browser stays signed in (HttpOnly cookie) */
  router.post('/instructor/session', wrap(instructor(async (req, res) => {
    if (!opts.instructorSessions) return sendError(res, new ApiError(404, 'not-found', 'Instructor sign-in is not enabled on this server.'));
    if (!bearer(req)) return sendError(res, new ApiError(400, 'secret-required', 'Signing in needs the instructor secret itself (Authorization: Bearer SECRET).'));
    res.setHeader('Set-Cookie', await opts.instructorSessions.signIn(req.secure));
    res.status(204).end();
  })));

  /** sign out this browser, or with ?everywhere=1 every browser signed in as the instructor */
  router.delete('/instructor/session', wrap(async (req, res) => {
    if (!opts.instructorSessions) return sendError(res, new ApiError(404, 'not-found', 'Instructor sign-in is not enabled on this server.'));
    const everywhere = req.query.everywhere === '1';
    // signing everyone out needs the instructor; signing yourself out needs nothing but your cookie
    if (everywhere && !(await opts.instructorSessions.signedIn(req)) && !(bearer(req) && secretMatches(bearer(req)!, opts.instructorSecret))) {
      return sendError(res, new ApiError(401, 'unauthorized', 'Only a signed-in instructor can sign everyone out.'));
    }
    res.setHeader('Set-Cookie', await opts.instructorSessions.signOut(req, everywhere, req.secure));
    res.status(204).end();
  }));

  router.get('/workshops', wrap(instructor(async (_req, res) => {
    res.json((await classroom.store.listWorkshops()).map(workshopJson));
  })));

  router.post('/workshops', wrap(instructor(async (req, res) => {
    const body = parse(createWorkshopSchema, req.body, res);
    if (!body) return;
    const w = await classroom.createWorkshop(body);
    res.status(201).json(workshopJson(w));
  })));

  router.get('/workshops/:code', wrap(instructor(withWorkshop(async (req, res, w) => {
    const q = parse(boardQuerySchema, req.query, res);
    if (!q) return;
    res.json(await classroom.board(w, { stuckMinutes: q.stuck }));
  }))));

  router.post('/workshops/:code/close', wrap(instructor(withWorkshop(async (_req, res, w) => {
    const { workshop, endedSessions } = await classroom.closeWorkshop(w.id);
    res.json({ ...workshopJson(workshop), endedSessions });
  }))));

  router.get('/workshops/:code/export', wrap(instructor(withWorkshop(async (req, res, w) => {
    const q = parse(exportQuerySchema, req.query, res);
    if (!q) return;
    const board = await classroom.board(w);
    if (q.learner && !board.learners.some((l) => l.id === q.learner)) return sendError(res, new ApiError(404, 'unknown-learner', 'There is no such learner in this workshop.'));
    const runs = await classroom.store.gradingRuns(w.id);
    const suffix = q.learner ? `-${board.learners.find((l) => l.id === q.learner)!.name.replace(/[^\w-]+/g, '_')}` : '';
    res.setHeader('Content-Type', EXPORT_CONTENT_TYPE[q.format]);
    res.setHeader('Content-Disposition', `attachment; filename="nslab-${w.code}${suffix}.${EXPORT_EXT[q.format]}"`);
    res.send(formatExport(board, q.format, runs, q.learner));
  }))));

  router.get('/workshops/:code/grading-runs', wrap(instructor(withWorkshop(async (_req, res, w) => {
    res.json(await classroom.store.gradingRuns(w.id));
  }))));

  router.post('/workshops/:code/grading-runs', wrap(instructor(withWorkshop(async (req, res, w) => {
    const body = parse(attachGradingSchema, req.body, res);
    if (!body) return;
    let learnerId: string | null = null;
    if (body.learner) {
      const l = (await classroom.store.learners(w.id)).find((x) => x.displayName.toLowerCase() === body.learner!.toLowerCase());
      if (!l) return sendError(res, new ApiError(404, 'unknown-learner', `No learner named "${body.learner}" is in this workshop.`));
      learnerId = l.id;
    }
    const run = await classroom.store.addGradingRun({ workshopId: w.id, learnerId, lessonId: body.report.lesson, source: body.source, passed: body.report.passed, total: body.report.total, report: body.report });
    res.status(201).json(run);
  }))));

  // ---------------------------------------------------------------- learners

  router.post('/join', wrap(async (req, res) => {
    const key = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    // checked before looking at the code: an enumerator gets the same answer whether its guess was right or not
    const wait = failed.retryAfter(key);
    if (wait > 0) return sendError(res, new ApiError(429, 'too-many-attempts', `Too many wrong codes from your network. Try again in ${wait} s.`, wait));
    const body = parse(joinSchema, req.body, res);
    if (!body) return;
    const w = await classroom.workshopByCode(body.code);
    if (!w) {
      failed.take(key);
      return sendError(res, new ApiError(404, 'unknown-code', 'No workshop has this code. Check it with your instructor.'));
    }
    if (!joins.take(key)) {
      const s = joins.retryAfter(key);
      return sendError(res, new ApiError(429, 'too-many-joins', `Too many joins from your network. Try again in ${s} s.`, s));
    }
    const { learner: l, token, workshop } = await classroom.join(body.code, body.name);
    res.status(201).json({ token, learner: { id: l.id, name: l.displayName }, workshop: { code: workshop.code, title: workshop.title } });
  }));

  router.get('/me', wrap(learner(async (_req, res, l) => {
    res.json(await classroom.view(l));
  })));

  router.post('/me/lessons/:lesson/session', wrap(learner(async (req, res, l) => {
    const body = parse(openLessonSchema, req.body ?? {}, res);
    if (!body) return;
    const r = await classroom.openLesson(l, String(req.params.lesson), body.lang);
    if (r.state === 'queued') res.setHeader('Retry-After', String(r.retryAfterSeconds));
    res.status(r.state === 'ready' ? 201 : 202).json(r);
  })));

  router.delete('/me/session', wrap(learner(async (_req, res, l) => {
    await classroom.leave(l);
    res.status(204).end();
  })));

  return router;
}
