/**
 * Learner sessions: a sandbox, its terminals (TerminalHub) and a secret token.
 *
 * Tokens: 256 random bits, given to the client once. The server keeps only their
 * SHA-256 and compares digests with timingSafeEqual, so neither a timing side
 * channel nor a heap dump or log line gives a token away.
 *
 * Lifetimes: a session ends when it has been idle for `idleTimeoutMs` with no
 * socket attached (tab closed), or for `inactiveTimeoutMs` with one attached but
 * nobody typing (a forgotten tab), or when deleted. A sandbox can die on its own
 * (its lifetime limit, a crash); the session then stays, marked dead, so the
 * learner sees why and can reset it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Sandbox, SandboxBackend, SandboxLimits } from '../sandbox/types.ts';
import type { FlowOptions } from '../terminal/flow.ts';
import { TerminalHub } from '../terminal/hub.ts';
import { CloseCode, type SessionInfo, type StepsEvent } from '../contract/session-protocol.ts';
import type { Metrics } from './metrics.ts';
import { ApiError } from '../contract/api-error.ts';
import type { Lang } from '../contract/lang.ts';
import type { LessonLaunchInfo } from '../contract/lessons-plugin.ts';
import type { LessonsPlugin, PluginSession } from './plugins.ts';

export interface SessionConfig {
  maxSessions: number;
  idleTimeoutMs: number;
  inactiveTimeoutMs: number;
  sandboxLimits?: Partial<SandboxLimits>;
  scrollbackBytes?: number;
  flow?: FlowOptions & { ackEveryBytes?: number };
  coalesceMs?: number;
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export class Session implements PluginSession {
  readonly createdAt = new Date();
  lastActivity = Date.now();
  private pluginDetach: (() => void) | null = null;
  /** a reset is in progress (no second one at the same time) */
  resetting = false;
  ended = false;

  constructor(
    readonly id: string,
    private readonly tokenDigest: Buffer,
    readonly lesson: string,
    readonly lang: Lang,
    readonly launch: LessonLaunchInfo,
    public sandbox: Sandbox,
    readonly hub: TerminalHub,
  ) {}

  checkToken(token: string | undefined | null): boolean {
    if (typeof token !== 'string' || token.length === 0 || token.length > 256) return false;
    return timingSafeEqual(digest(token), this.tokenDigest);
  }

  /** an `expiring` warning went out for the current quiet period / this sandbox's lifetime */
  warnedIdle = false;
  warnedLifetime = false;

  touch(): void {
    this.lastActivity = Date.now();
    this.warnedIdle = false;
  }

  terminalText(n: number): string { return this.hub.text(n); }
  pushSteps(e: Omit<StepsEvent, 'type'>): void { this.hub.send({ type: 'steps', ...e }); }
  get map() { return this.hub.map; }

  setPluginDetach(f: (() => void) | null): void { this.pluginDetach = f; }
  runPluginDetach(log: (l: string) => void): void {
    const f = this.pluginDetach;
    this.pluginDetach = null;
    try { f?.(); } catch (e) { log(`session ${this.id}: lessons plug-in detach failed: ${(e as Error).message}`); }
  }

  info(): SessionInfo {
    return {
      id: this.id, lesson: this.lesson, lang: this.lang, socket: `/api/sessions/${this.id}/socket`,
      createdAt: this.createdAt.toISOString(),
      expiresAt: new Date(this.sandbox.createdAt.getTime() + this.sandbox.limits.lifetimeMs).toISOString(),
      idleTimeoutMs: 0, // filled by the manager (it owns the config)
      terminals: this.hub.terminalInfo(), lessonTerminals: this.launch.terminals,
      state: this.sandbox.state === 'running' ? 'running' : 'dead',
      steps: this.hub.steps,
    };
  }
}

export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  /** creations in flight count against the cap, or a burst could overshoot it */
  private creating = 0;
  private closed = false;

  constructor(
    private readonly backend: SandboxBackend,
    readonly config: SessionConfig,
    private readonly metrics: Metrics,
    private readonly lessons: LessonsPlugin | undefined,
    private readonly log: (line: string) => void,
  ) {}

  get size(): number { return this.sessions.size; }
  all(): Session[] { return [...this.sessions.values()]; }
  get(id: string): Session | undefined { return this.sessions.get(id); }

  /** sandboxes held by sessions right now (+ being created): what the cap limits */
  private inUse(): number {
    let n = this.creating;
    for (const s of this.sessions.values()) if (s.sandbox.state === 'running' || s.resetting) n++;
    return n;
  }

  /** A guess for Retry-After: when the first detached session would be reaped, within [5 s, 5 min]. */
  retryAfterSeconds(): number {
    const now = Date.now();
    let soonest = Infinity;
    for (const s of this.sessions.values()) {
      const limit = s.hub.connected ? this.config.inactiveTimeoutMs : this.config.idleTimeoutMs;
      soonest = Math.min(soonest, s.lastActivity + limit - now);
      soonest = Math.min(soonest, s.sandbox.createdAt.getTime() + s.sandbox.limits.lifetimeMs - now);
    }
    const secs = Number.isFinite(soonest) ? Math.ceil(soonest / 1000) : 30;
    return Math.min(300, Math.max(5, secs));
  }

  private full(): ApiError {
    const retry = this.retryAfterSeconds();
    this.metrics.rejected.full = (this.metrics.rejected.full ?? 0) + 1;
    return new ApiError(503, 'full', `The lab is full (${this.config.maxSessions} of ${this.config.maxSessions} sandboxes in use). Retry in ${retry} s.`, retry);
  }

  async create(lessonId: string, lang: Lang): Promise<{ session: Session; token: string }> {
    if (this.closed) throw new ApiError(503, 'shutting-down', 'The lab server is shutting down.', 10);
    if (this.inUse() >= this.config.maxSessions) throw this.full();
    this.creating++;
    // counted as "being created" until it is in this.sessions, then as a session: once
    let creatingCounted = true;
    const created = () => { if (creatingCounted) { creatingCounted = false; this.creating--; } };
    try {
      const launch = this.lessons ? await this.lessons.resolve(lessonId, lang) : { id: lessonId, terminals: 2 };
      if (!launch) throw new ApiError(404, 'unknown-lesson', `There is no lesson "${lessonId}".`);
      const id = randomBytes(12).toString('base64url');
      const token = randomBytes(32).toString('base64url');
      const started = process.hrtime.bigint();
      const sandbox = await this.backend.create({ image: launch.image, limits: this.config.sandboxLimits, label: `nslab session ${id} (${lessonId})`, startTerminal: true })
        .catch((e: Error) => {
          this.log(`session create failed for lesson ${lessonId}: ${e.message}`);
          throw new ApiError(500, 'sandbox-failed', 'The lab could not start a sandbox. Try again; if it keeps failing, tell the operator.');
        });
      this.metrics.createSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      if (this.closed) { await sandbox.destroy(); throw new ApiError(503, 'shutting-down', 'The lab server is shutting down.', 10); }
      let session!: Session;
      const hub = new TerminalHub({
        sessionId: id, lesson: lessonId, lang, lessonTerminals: launch.terminals,
        scrollbackBytes: this.config.scrollbackBytes, flow: this.config.flow, coalesceMs: this.config.coalesceMs,
        onActivity: () => session?.touch(),
        onOutputBytes: (n) => { this.metrics.terminalBytesOut += n; },
        onInputBytes: (n) => { this.metrics.terminalBytesIn += n; },
        log: this.log,
      });
      hub.setSandbox(sandbox);
      session = new Session(id, digest(token), lessonId, lang, launch, sandbox, hub);
      this.sessions.set(id, session);
      created();
      this.metrics.sessionsCreated++;
      await this.attachPlugin(session);
      return { session, token };
    } finally {
      created();
    }
  }

  info(s: Session): SessionInfo {
    return { ...s.info(), idleTimeoutMs: this.config.idleTimeoutMs };
  }

  private async attachPlugin(s: Session): Promise<void> {
    if (!this.lessons?.attach) return;
    try {
      const detach = await this.lessons.attach(s);
      s.setPluginDetach(typeof detach === 'function' ? detach : null);
    } catch (e) {
      this.log(`session ${s.id}: lessons plug-in attach failed: ${(e as Error).message}`);
    }
  }

  /** fresh sandbox, same session and token; terminals are closed and the client told to reopen */
  async reset(s: Session): Promise<void> {
    if (s.resetting) throw new ApiError(409, 'busy', 'This session is already being reset.');
    // the old sandbox is destroyed first, so a reset never needs a second slot
    s.resetting = true;
    try {
      s.runPluginDetach(this.log);
      const old = s.sandbox;
      s.hub.releaseSandbox();
      await old.destroy().catch((e: Error) => this.log(`session ${s.id}: destroying old sandbox failed: ${e.message}`));
      if (this.inUse() > this.config.maxSessions) throw this.full();
      const started = process.hrtime.bigint();
      const sandbox = await this.backend.create({ image: s.launch.image, limits: this.config.sandboxLimits, label: `nslab session ${s.id} (${s.lesson})`, startTerminal: true })
        .catch((e: Error) => {
          this.log(`session ${s.id}: reset failed: ${e.message}`);
          throw new ApiError(500, 'sandbox-failed', 'The lab could not start a fresh sandbox. Try again.');
        });
      this.metrics.createSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      if (s.ended) { await sandbox.destroy(); throw new ApiError(404, 'unknown-session', 'This session has ended.'); }
      s.sandbox = sandbox;
      s.warnedLifetime = false;
      s.hub.setSandbox(sandbox);
      s.touch();
      await this.attachPlugin(s);
    } finally {
      s.resetting = false;
    }
  }

  /** end a session: close its socket with a reason, destroy its sandbox */
  async end(s: Session, reason: 'deleted' | 'idle' | 'inactive' | 'shutdown'): Promise<void> {
    if (s.ended) return;
    s.ended = true;
    this.sessions.delete(s.id);
    this.metrics.sessionsEnded[reason] = (this.metrics.sessionsEnded[reason] ?? 0) + 1;
    s.runPluginDetach(this.log);
    const close: Record<typeof reason, [number, string]> = {
      deleted: [CloseCode.sessionEnded, 'The session was closed.'],
      idle: [CloseCode.sessionEnded, 'The session ended after being idle too long.'],
      inactive: [CloseCode.sessionEnded, 'The session ended: nothing was typed for a long time.'],
      shutdown: [CloseCode.goingAway, 'The lab server is shutting down.'],
    };
    s.hub.close(...close[reason]);
    await s.sandbox.destroy().catch((e: Error) => this.log(`session ${s.id}: destroy failed: ${e.message}`));
  }

  /** one pass of the idle reaper */
  async reap(now = Date.now()): Promise<number> {
    const doomed: [Session, 'idle' | 'inactive'][] = [];
    for (const s of this.sessions.values()) {
      if (s.resetting) continue;
      const quiet = now - s.lastActivity;
      if (!s.hub.connected && quiet > this.config.idleTimeoutMs) doomed.push([s, 'idle']);
      else if (s.hub.connected && quiet > this.config.inactiveTimeoutMs) doomed.push([s, 'inactive']);
    }
    await Promise.all(doomed.map(([s, why]) => { this.log(`session ${s.id}: reaped (${why})`); return this.end(s, why); }));
    // warn a learner who is looking (socket attached) before the session or its sandbox ends
    for (const s of this.sessions.values()) {
      if (!s.hub.connected || s.resetting) continue;
      const idleLeft = s.lastActivity + this.config.inactiveTimeoutMs - now;
      if (!s.warnedIdle && idleLeft <= Math.min(120_000, this.config.inactiveTimeoutMs / 2)) {
        s.warnedIdle = true;
        s.hub.send({ type: 'expiring', reason: 'idle', inMs: Math.max(0, idleLeft) });
      }
      const lifeLeft = s.sandbox.createdAt.getTime() + s.sandbox.limits.lifetimeMs - now;
      if (!s.warnedLifetime && s.sandbox.state === 'running' && lifeLeft <= Math.min(300_000, s.sandbox.limits.lifetimeMs / 2)) {
        s.warnedLifetime = true;
        s.hub.send({ type: 'expiring', reason: 'lifetime', inMs: Math.max(0, lifeLeft) });
      }
    }
    return doomed.length;
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    await Promise.all(this.all().map((s) => this.end(s, 'shutdown')));
  }
}
