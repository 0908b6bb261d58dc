/**
 * The self-paced API, an express Router the lab server mounts at /api/self:
 *
 *   GET  /api/self/progress                  -> {lessons: {<id>: {passed, total, live}}}
 *   POST /api/self/lessons/:lesson/session   {lang} -> 201 {session: {id, token, lesson}, resumed, restoredSteps}
 *
 * The learner is the `nslab_learner` cookie: 256 random bits, HttpOnly (page scripts,
 * and so an injected one, cannot read it), SameSite=Lax (other sites' requests do not
 * carry it), Secure behind HTTPS, Path=/api. It is set on the first lesson opened.
 * Another site cannot read a learner's progress or session token either: the API
 * answers same-origin requests only (no CORS headers), and http/app.ts refuses writes
 * from other origins before they get here.
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { ApiError, sendError } from '../contract/api-error.ts';
import { RateLimiter, type BucketOptions } from '../lib/rate-limit.ts';
import { readCookie, setCookie } from './cookies.ts';
import { openLessonSchema } from './schemas.ts';
import type { SelfPaced } from './self-paced.ts';

export const LEARNER_COOKIE = 'nslab_learner';
const ONE_YEAR_S = 365 * 24 * 3600;

export function createSelfPacedRouter(selfPaced: SelfPaced, opts: { creates?: BucketOptions } = {}): Router {
  // new machines per client address, as generous as POST /api/sessions (a class behind one NAT)
  const creates = new RateLimiter(opts.creates ?? { burst: 20, perMinute: 30 });
  const router = Router();
  router.use(express.json({ limit: '16kb' }));
  const wrap = (h: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
    h(req, res).catch((err: unknown) => {
      if (err instanceof ApiError) return sendError(res, err);
      next(err);
    });
  };

  router.get('/progress', wrap(async (req, res) => {
    const learner = await selfPaced.find(readCookie(req, LEARNER_COOKIE));
    res.setHeader('Cache-Control', 'no-store');
    res.json(learner ? await selfPaced.progress(learner) : { lessons: {} });
  }));

  router.post('/lessons/:lesson/session', wrap(async (req, res) => {
    const body = openLessonSchema.safeParse(req.body ?? {});
    if (!body.success) return sendError(res, new ApiError(400, 'bad-request', body.error.issues[0].message));
    const { learner, newToken } = await selfPaced.identify(readCookie(req, LEARNER_COOKIE));
    if (newToken) res.setHeader('Set-Cookie', setCookie(LEARNER_COOKIE, newToken, { maxAgeSeconds: ONE_YEAR_S, sameSite: 'Lax', secure: req.secure }));
    const key = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const lesson = String(req.params.lesson);
    // resuming a live machine costs nothing; only new machines are rate-limited
    if (!selfPaced.hasLive(learner, lesson) && !creates.take(key)) {
      const s = creates.retryAfter(key);
      return sendError(res, new ApiError(429, 'rate-limited', `Too many new sessions from your address. Retry in ${s} s.`, s));
    }
    const r = await selfPaced.open(learner, lesson, body.data.lang);
    res.status(201).setHeader('Cache-Control', 'no-store').json(r);
  }));

  return router;
}
