/**
 * The lab server: `createApp({backend, ...})` -> express app + http server with the
 * sessions API, the session socket, /healthz, /metrics and the built web app.
 *
 *   POST   /api/sessions            {lesson, lang}      -> 201 {id, token, ...}
 *   GET    /api/sessions/:id        (Bearer token)      -> 200 SessionInfo
 *   POST   /api/sessions/:id/reset  (Bearer token)      -> 200 SessionInfo (fresh sandbox)
 *   DELETE /api/sessions/:id        (Bearer token)      -> 204
 *   WS     /api/sessions/:id/socket (token in hello or ?token=)
 *
 * Every error is JSON {error: {code, message[, retryAfterSeconds]}} with a message a
 * person can act on. Tokens never reach a log line: request logs carry the path only.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { allowedOrigins, DEFAULTS, loadSettings, trustProxy, type Settings } from '../config/settings.ts';
import type { SandboxBackend, SandboxLimits } from '../sandbox/types.ts';
import type { FlowOptions } from '../terminal/flow.ts';
import { ApiError, sendError } from '../contract/api-error.ts';
import { RateLimiter } from '../lib/rate-limit.ts';
import { createSessionSchema, type CreateSessionResponse } from '../contract/session-protocol.ts';
import { Metrics } from './metrics.ts';
import type { LessonsPlugin } from './plugins.ts';
import { originAllowed, securityHeaders } from './security.ts';
import { SessionManager, type Session } from './sessions.ts';
import { attachSockets } from './socket.ts';

export interface AppOptions {
  backend: SandboxBackend;
  lessons?: LessonsPlugin;
  /**
   * The NSLAB_* settings (config/settings.ts) the options below default to; the
   * `nslab` command passes the ones it read at start. Default: read from the
   * environment now (a bad value throws, naming the variable).
   */
  settings?: Settings;
  /** concurrent sessions (sandboxes); more get 503. Default NSLAB_MAX_SESSIONS or 20 */
  maxSessions?: number;
  /** no socket attached for this long -> session ends. Default NSLAB_IDLE_MINUTES or 10 min */
  idleTimeoutMs?: number;
  /** socket attached but nothing typed for this long -> session ends. Default NSLAB_INACTIVE_MINUTES or 60 min */
  inactiveTimeoutMs?: number;
  reapIntervalMs?: number;
  /**
   * session creations per client address: sustained per minute and burst. Generous by
   * default (30/min, burst 20) because a whole workshop may sit behind one NAT address;
   * env NSLAB_CREATE_PER_MINUTE / NSLAB_CREATE_BURST.
   */
  createPerMinute?: number;
  createBurst?: number;
  /** extra origins allowed to open sockets (the server's own origin always is) */
  allowedOrigins?: string[];
  /** express 'trust proxy' (behind a reverse proxy, so req.ip is the learner's address) */
  trustProxy?: boolean | number | string;
  /** the built web app; null serves none. Default <repo>/dist/web */
  webRoot?: string | null;
  sandboxLimits?: Partial<SandboxLimits>;
  scrollbackBytes?: number;
  flow?: FlowOptions & { ackEveryBytes?: number };
  coalesceMs?: number;
  helloTimeoutMs?: number;
  /** sockets waiting for their hello, over all sessions (default 256); more are closed with 1013 */
  maxPendingSockets?: number;
  log?: (line: string) => void;
}

export interface LabServer {
  app: express.Express;
  server: Server;
  sessions: SessionManager;
  metrics: Metrics;
  /** listen; resolves with the bound address */
  listen(port: number, host: string): Promise<AddressInfo>;
  /** close sockets, destroy every session's sandbox, stop listening */
  close(): Promise<void>;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function bearer(req: Request): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m ? m[1] : null;
}

export function createApp(opts: AppOptions): LabServer {
  const log = opts.log ?? ((l: string) => console.error(`[nslab] ${l}`));
  const metrics = new Metrics();
  const settings = opts.settings ?? loadSettings();
  const sessions = new SessionManager(opts.backend, {
    maxSessions: opts.maxSessions ?? settings.NSLAB_MAX_SESSIONS ?? DEFAULTS.maxSessions,
    idleTimeoutMs: opts.idleTimeoutMs ?? (settings.NSLAB_IDLE_MINUTES ?? DEFAULTS.idleMinutes) * 60_000,
    inactiveTimeoutMs: opts.inactiveTimeoutMs ?? (settings.NSLAB_INACTIVE_MINUTES ?? DEFAULTS.inactiveMinutes) * 60_000,
    sandboxLimits: opts.sandboxLimits,
    scrollbackBytes: opts.scrollbackBytes,
    flow: opts.flow,
    coalesceMs: opts.coalesceMs,
  }, metrics, opts.lessons, log);
  const limiter = new RateLimiter({
    perMinute: opts.createPerMinute ?? settings.NSLAB_CREATE_PER_MINUTE ?? DEFAULTS.createPerMinute,
    burst: opts.createBurst ?? settings.NSLAB_CREATE_BURST ?? DEFAULTS.createBurst,
  });
  const origins = opts.allowedOrigins ?? allowedOrigins(settings);

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', opts.trustProxy ?? trustProxy(settings));
  app.use(securityHeaders);

  app.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ ok: true, backend: opts.backend.name, sessions: sessions.size, sandboxes: opts.backend.list().length, maxSessions: sessions.config.maxSessions });
  });

  app.get('/metrics', (_req, res) => {
    const all = sessions.all();
    res.type('text/plain; version=0.0.4').send(metrics.render({
      sessions: all.length,
      sandboxes: opts.backend.list().length,
      sockets: all.filter((s) => s.hub.connected).length,
      terminals: all.reduce((n, s) => n + s.hub.terminalCount, 0),
      pausedTerminals: all.reduce((n, s) => n + s.hub.pausedCount, 0),
      maxSessions: sessions.config.maxSessions,
    }));
  });

  const api = express.Router();
  api.use(express.json({ limit: '16kb' }));
  // browsers send Origin on cross-site fetches; the API is same-origin only (no CORS)
  api.use((req, _res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && !originAllowed(req, origins).ok) {
      throw new ApiError(403, 'bad-origin', 'Requests from other sites are not allowed.');
    }
    next();
  });
  if (opts.lessons?.router) api.use(opts.lessons.router);

  api.post('/sessions', async (req, res) => {
    const wait = limiter.takeOrWait(req.ip ?? 'unknown');
    if (wait > 0) {
      metrics.rejected.rate = (metrics.rejected.rate ?? 0) + 1;
      throw new ApiError(429, 'rate-limited', `Too many new sessions from your address. Retry in ${wait} s.`, wait);
    }
    const parsed = createSessionSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new ApiError(400, 'bad-request', `Bad session request: ${i.path.join('.') || 'body'}: ${i.message}. Expected {"lesson": "<lesson id>", "lang": "en"|"ko"|"zh"}.`);
    }
    const { session, token } = await sessions.create(parsed.data.lesson, parsed.data.lang);
    log(`session ${session.id}: created for lesson ${session.lesson} (${session.lang})`);
    const body: CreateSessionResponse = { ...sessions.info(session), token };
    res.status(201).setHeader('Cache-Control', 'no-store').json(body);
  });

  /** the session named in the URL, if the bearer token is right */
  const authed = (req: Request): Session => {
    const id = String(req.params.id);
    const s = sessions.get(id);
    const token = bearer(req);
    if (!s) throw new ApiError(404, 'unknown-session', 'No such session: it ended or never existed. Start the lesson again.');
    if (!token) throw new ApiError(401, 'missing-token', 'This call needs the session token: Authorization: Bearer <token>.');
    if (!s.checkToken(token)) throw new ApiError(401, 'bad-token', 'Wrong session token.');
    s.touch();
    return s;
  };

  api.get('/sessions/:id', (req, res) => {
    res.setHeader('Cache-Control', 'no-store').json(sessions.info(authed(req)));
  });
  api.post('/sessions/:id/reset', async (req, res) => {
    const s = authed(req);
    await sessions.reset(s);
    log(`session ${s.id}: reset`);
    res.setHeader('Cache-Control', 'no-store').json(sessions.info(s));
  });
  api.delete('/sessions/:id', async (req, res) => {
    const s = authed(req);
    await sessions.end(s, 'deleted');
    log(`session ${s.id}: deleted`);
    res.status(204).end();
  });
  api.use((req, _res) => {
    throw new ApiError(404, 'not-found', `No API route ${req.method} ${req.path}.`);
  });
  app.use('/api', api);

  // the built web app, with SPA fallback for client-side routes
  const webRoot = opts.webRoot === undefined ? path.join(REPO_ROOT, 'dist/web') : opts.webRoot;
  if (webRoot) {
    // express.static (send) resolves paths under webRoot and refuses '..' (403)
    app.use(express.static(webRoot, { index: 'index.html', dotfiles: 'ignore', fallthrough: true, maxAge: 0 }));
    app.use((req, res, next) => {
      if ((req.method !== 'GET' && req.method !== 'HEAD') || !req.accepts('html')) return next();
      // asset-looking paths that were not found are real 404s, not app routes
      if (/\.[a-z0-9]{1,8}$/i.test(req.path)) return next();
      const index = path.join(webRoot, 'index.html');
      if (!existsSync(index)) {
        res.status(503).type('text/plain').send('The web app is not built. Run `npm run build` (or use `npm run dev` during development).\n');
        return;
      }
      res.setHeader('Cache-Control', 'no-cache').sendFile(index);
    });
  }

  app.use((req, res) => {
    sendError(res, new ApiError(404, 'not-found', `Nothing at ${req.path}.`));
  });
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof ApiError) return sendError(res, err);
    const e = err as { status?: number; type?: string; message?: string };
    if (e?.type === 'entity.too.large') return sendError(res, new ApiError(413, 'too-large', 'Request body too large (limit 16 KiB).'));
    if (e?.type === 'entity.parse.failed') return sendError(res, new ApiError(400, 'bad-json', 'The request body is not valid JSON.'));
    if (e?.status && e.status >= 400 && e.status < 500) return sendError(res, new ApiError(e.status, 'bad-request', e.message ?? 'Bad request.'));
    log(`${req.method} ${req.path}: ${(err as Error)?.stack ?? String(err)}`);
    sendError(res, new ApiError(500, 'internal', 'Something went wrong on the lab server.'));
  });

  const server = createServer(app);
  // a slow client must not hold a connection forever
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  const wss = attachSockets(server, sessions, { allowedOrigins: origins, helloTimeoutMs: opts.helloTimeoutMs, maxPendingSockets: opts.maxPendingSockets, log });

  const reaper = setInterval(() => {
    sessions.reap().catch((e: Error) => log(`reaper: ${e.message}`));
    limiter.prune();
  }, opts.reapIntervalMs ?? 15_000);
  reaper.unref();

  let closing: Promise<void> | null = null;
  return {
    app, server, sessions, metrics,
    listen: (port, host) => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(server.address() as AddressInfo); });
    }),
    close: () => closing ??= (async () => {
      clearInterval(reaper);
      await sessions.closeAll();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })(),
  };
}
