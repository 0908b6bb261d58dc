/**
 * The classroom: workshops, learners joining with a code, admission to sandboxes
 * under a capacity limit, live progress for the board, and closing.
 *
 * It owns no HTTP and no sockets (routes.ts and board-socket.ts do); it talks to lab
 * sessions through LabSessionPort, which cli/serve.ts implements on top of the lab
 * server's session manager. That keeps the dependency direction of DESIGN.md
 * (http -> classroom) and lets the classroom be tested against any real session
 * source.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { DEFAULTS, loadSettings, type Settings } from '../config/settings.ts';
import { ApiError } from '../contract/api-error.ts';
import type { BoardData, LessonSteps } from '../contract/board-protocol.ts';
import type { LabSessionHandle, LearnerView, OpenLessonResult, SessionNotice } from '../contract/classroom-api.ts';
import type { Lang } from '../contract/lang.ts';
import type { LessonCatalog } from '../lessons/loader.ts';
import { processStartTime } from '../sandbox/process-identity.ts';
import { buildBoard } from './board.ts';
import { generateJoinCode, generateToken, hashToken, normalizeJoinCode } from './codes.ts';
import type { ClassroomStore, Learner, StepUpdate, Workshop } from './store.ts';
import type { NsmapSnapshot } from '../contract/namespace-map.ts';

/** What a read-only watcher receives from one session's terminals. */
export interface WatchSink {
  /** terminal output (also the replay of the scrollback right after subscribing) */
  data(terminal: number, bytes: Uint8Array): void;
  /** a terminal started (replay follows) or ended */
  terminal(e: { terminal: number; state: 'opened' | 'exited' }): void;
  /** the terminal's size on the learner's screen: before the replay, then on every change */
  size(e: { terminal: number; cols: number; rows: number }): void;
  /** the session's sandbox was replaced or the session ended */
  ended(reason: string): void;
}

/** The lab server's sessions, as the classroom needs them. Implemented where http/ is wired (cli/serve.ts). */
export interface LabSessionPort {
  /** start a session for a lesson; throws LabFullError when the server has no room */
  create(req: { lesson: string; lang: Lang; label: string }): Promise<LabSessionHandle>;
  end(id: string, reason: string): Promise<void>;
  /** the session exists and has a sandbox */
  alive(id: string): boolean;
  /**
   * Subscribe to a session's terminal output. Output only: there is deliberately no
   * way to send input through a watch. Null when the session does not exist.
   */
  watch(id: string, sink: WatchSink): (() => void) | null;
  /**
   * Subscribe to a session's namespace map (docs/namespace-map.md): the last snapshot
   * at once, then every new one; while subscribed the session builds the map even if
   * the learner has it closed. Null when the session does not exist or has no map.
   */
  watchMap?(id: string, deliver: (snapshot: NsmapSnapshot) => void): (() => void) | null;
}

export class LabFullError extends Error {
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
    this.name = 'LabFullError';
  }
}

export interface ClassroomOptions {
  store: ClassroomStore;
  catalog: LessonCatalog;
  /** set once the lab server exists; until then opening a lesson answers 503 */
  sessions?: LabSessionPort | null;
  /** where capacity and stuckMinutes default from (config/settings.ts); default: read from the environment now */
  settings?: Settings;
  /** learners with a sandbox at the same time, over all workshops (NSLAB_CLASSROOM_CAPACITY, default 40) */
  capacity?: number;
  /** a learner on the same step longer than this is flagged on the board (NSLAB_STUCK_MINUTES, default 10) */
  stuckMinutes?: number;
  /** a queued learner whose page stopped asking for this long has left the queue */
  queueTimeoutMs?: number;
  /** most learners in one workshop */
  maxLearners?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export const END_REASON_RESTART = 'server-restart';

/** This server process, as recorded with each of its lab sessions: `host:pid:starttime` (a reused pid is a different server). */
export function serverId(pid = process.pid): string {
  return `${hostname()}:${pid}:${processStartTime(pid) ?? '?'}`;
}

/** Is the server that recorded this id still running? Only answerable on the same host. */
export function serverRunning(id: string): boolean {
  const [host, pid, start] = id.split(':');
  if (host !== hostname() || !pid) return false;
  const n = Number(pid);
  return Number.isInteger(n) && n !== process.pid && processStartTime(n) === start;
}

interface Active { learnerId: string; workshopId: string; lesson: string; handle: LabSessionHandle }

export class Classroom extends EventEmitter<{ changed: [workshopId: string] }> {
  readonly store: ClassroomStore;
  readonly catalog: LessonCatalog;
  sessions: LabSessionPort | null;
  readonly capacity: number;
  readonly stuckMinutes: number;
  private readonly queueTimeoutMs: number;
  private readonly maxLearners: number;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private readonly serverId = serverId();

  /** learner id → their live session (one sandbox per learner at a time) */
  private readonly active = new Map<string, Active>();
  /** session id → learner id, for step results coming from the check engine */
  private readonly owners = new Map<string, { learnerId: string; workshopId: string; lesson: string }>();
  /** learners waiting for a sandbox, oldest first; lastPoll drops those who left */
  private queue: { learnerId: string; workshopId: string; lastPoll: number }[] = [];
  /** sessions being created right now count against capacity too */
  private creating = 0;
  /** per learner: serializes openLesson so a double click does not make two sandboxes */
  private readonly opening = new Map<string, Promise<unknown>>();
  /** carries the learner through LabSessionPort.create into the lessons plug-in's attach (see plugin.ts) */
  readonly creatingFor = new AsyncLocalStorage<{ learnerId: string; workshopId: string; lesson: string }>();

  constructor(opts: ClassroomOptions) {
    super();
    this.store = opts.store;
    this.catalog = opts.catalog;
    this.sessions = opts.sessions ?? null;
    const settings = opts.capacity === undefined || opts.stuckMinutes === undefined ? opts.settings ?? loadSettings() : null;
    this.capacity = opts.capacity ?? settings?.NSLAB_CLASSROOM_CAPACITY ?? DEFAULTS.classroomCapacity;
    this.stuckMinutes = opts.stuckMinutes ?? settings?.NSLAB_STUCK_MINUTES ?? DEFAULTS.stuckMinutes;
    this.queueTimeoutMs = opts.queueTimeoutMs ?? 45_000;
    this.maxLearners = opts.maxLearners ?? 500;
    this.log = opts.log ?? ((l) => console.warn(`nslab classroom: ${l}`));
    this.now = opts.now ?? Date.now;
  }

  /** On server start: sessions a previous process left open have no sandbox any more. */
  async recover(): Promise<number> {
    return this.store.endOpenSessions(END_REASON_RESTART, this.now(), serverRunning);
  }

  // ------------------------------------------------------------------ lessons

  private async lessonSteps(ids: string[]): Promise<LessonSteps[]> {
    return Promise.all(ids.map(async (id) => {
      try {
        const lesson = await this.catalog.load(id);
        const steps = lesson.versions.en!.steps.map((s) => ({ id: s.id, title: s.title }));
        return { id, title: lesson.front.title, steps };
      } catch (err) {
        // a lesson removed or broken after the workshop was made: the board still
        // shows the other lessons, and the operator gets the reason
        this.log(`lesson ${id} of a workshop cannot be loaded: ${(err as Error).message}`);
        return { id, title: `${id} (unavailable)`, steps: [] };
      }
    }));
  }

  // ------------------------------------------------------------------ workshops

  async createWorkshop(input: { title: string; lessons: string[]; endsAt: number | null }): Promise<Workshop> {
    const known = new Set(await this.catalog.ids());
    const unknown = input.lessons.filter((l) => !known.has(l));
    if (unknown.length) throw new ApiError(400, 'unknown-lesson', `This workshop names an unknown lesson${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (see GET /api/lessons).`);
    if (new Set(input.lessons).size !== input.lessons.length) throw new ApiError(400, 'duplicate-lesson', 'A lesson can appear only once in a workshop.');
    if (input.endsAt !== null && input.endsAt <= this.now()) throw new ApiError(400, 'bad-end', 'The end time is in the past.');
    return this.store.createWorkshop(input, generateJoinCode, this.now());
  }

  async workshopByCode(code: string): Promise<Workshop | null> {
    const c = normalizeJoinCode(code);
    return c ? this.store.workshopByCode(c) : null;
  }

  /** Close: no more joins or sandboxes, and every learner's sandbox is reclaimed now. */
  async closeWorkshop(id: string): Promise<{ workshop: Workshop; endedSessions: number }> {
    const w = await this.store.closeWorkshop(id, this.now());
    if (!w) throw new ApiError(404, 'unknown-workshop', 'There is no such workshop.');
    this.queue = this.queue.filter((q) => q.workshopId !== id);
    const mine = [...this.active.values()].filter((a) => a.workshopId === id);
    await Promise.all(mine.map((a) => this.endActive(a, 'workshop-closed')));
    this.emit('changed', id);
    this.emitAllQueues();
    return { workshop: w, endedSessions: mine.length };
  }

  /**
   * Another front (sharing the database, change-relay.ts) changed this workshop. If it
   * closed it, the sandboxes and the queue this front holds for it end now, as they
   * would had the instructor closed it here.
   */
  async changedElsewhere(workshopId: string): Promise<void> {
    const mine = [...this.active.values()].filter((a) => a.workshopId === workshopId);
    if (!mine.length && !this.queue.some((q) => q.workshopId === workshopId)) return;
    const w = await this.store.workshop(workshopId);
    if (!w || w.closedAt === null) return;
    this.queue = this.queue.filter((q) => q.workshopId !== workshopId);
    // those still ours: a learner may have left meanwhile
    await Promise.all(mine.filter((a) => this.active.get(a.learnerId) === a).map((a) => this.endActive(a, 'workshop-closed')));
    this.emit('changed', workshopId);
    this.emitAllQueues();
  }

  // ------------------------------------------------------------------ learners

  async join(code: string, displayName: string): Promise<{ learner: Learner; token: string; workshop: Workshop }> {
    const w = await this.workshopByCode(code);
    if (!w) throw new ApiError(404, 'unknown-code', 'No workshop has this code. Check it with your instructor.');
    if (w.closedAt !== null) throw new ApiError(410, 'workshop-closed', 'This workshop is closed.');
    if (w.endsAt !== null && w.endsAt <= this.now()) throw new ApiError(410, 'workshop-ended', 'This workshop has ended.');
    if ((await this.store.learners(w.id)).length >= this.maxLearners) throw new ApiError(409, 'workshop-full', `This workshop already has ${this.maxLearners} learners.`);
    const token = generateToken();
    const learner = await this.store.addLearner({ workshopId: w.id, displayName, tokenHash: hashToken(token) }, this.now());
    this.emit('changed', w.id);
    return { learner, token, workshop: w };
  }

  async learnerByToken(token: string): Promise<Learner | null> {
    return this.store.learnerByTokenHash(hashToken(token));
  }

  private liveActive(learnerId: string): Active | null {
    const a = this.active.get(learnerId);
    if (!a) return null;
    if (this.sessions?.alive(a.handle.id)) return a;
    // the lab server ended it (idle reaping, sandbox lifetime, deleted): the slot is free
    this.active.delete(learnerId);
    this.owners.delete(a.handle.id);
    void this.store.endSession(a.handle.id, 'ended', this.now()).catch(() => {});
    return null;
  }

  private pruneActive(): number {
    for (const id of [...this.active.keys()]) this.liveActive(id);
    return this.active.size;
  }

  private pruneQueue(): void {
    const cutoff = this.now() - this.queueTimeoutMs;
    this.queue = this.queue.filter((q) => q.lastPoll >= cutoff);
  }

  queuePosition(learnerId: string): number | null {
    const i = this.queue.findIndex((q) => q.learnerId === learnerId);
    return i < 0 ? null : i + 1;
  }

  /** The learner's page: their workshop's lessons in order with their progress. */
  async view(learner: Learner): Promise<LearnerView> {
    const w = (await this.store.workshop(learner.workshopId))!;
    const [lessons, results] = await Promise.all([this.lessonSteps(w.lessons), this.store.learnerStepResults(learner.id)]);
    const byKey = new Map(results.map((r) => [`${r.lessonId}\u0000${r.stepId}`, r]));
    const a = this.liveActive(learner.id);
    await this.store.touchLearner(learner.id, this.now());
    // a learner looking at their workshop page keeps their place in line too
    const queued = this.queue.find((q) => q.learnerId === learner.id);
    if (queued) queued.lastPoll = this.now();
    return {
      learner: { id: learner.id, name: learner.displayName, joinedAt: learner.joinedAt },
      workshop: { code: w.code, title: w.title, endsAt: w.endsAt, closed: w.closedAt !== null },
      lessons: lessons.map((l) => {
        const steps = l.steps.map((s) => {
          const r = byKey.get(`${l.id}\u0000${s.id}`);
          return { id: s.id, title: s.title, status: r?.status ?? null, passedAt: r?.firstPassAt ?? null };
        });
        return { id: l.id, title: l.title, steps, passed: steps.filter((s) => s.status === 'pass').length, total: steps.length };
      }),
      session: a ? { id: a.handle.id, lesson: a.lesson } : null,
      queuePosition: this.queuePosition(learner.id),
    };
  }

  /**
   * Give the learner a sandbox for a lesson of their workshop, or a place in the
   * queue. The page calls this again while queued (every few seconds): that call is
   * also how the queue knows the learner is still there.
   */
  openLesson(learner: Learner, lesson: string, lang: Lang): Promise<OpenLessonResult> {
    const prev = this.opening.get(learner.id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.openLessonNow(learner, lesson, lang));
    this.opening.set(learner.id, next);
    void next.finally(() => { if (this.opening.get(learner.id) === next) this.opening.delete(learner.id); }).catch(() => {});
    return next;
  }

  private async openLessonNow(learner: Learner, lesson: string, lang: Lang): Promise<OpenLessonResult> {
    const w = (await this.store.workshop(learner.workshopId))!;
    if (w.closedAt !== null) throw new ApiError(410, 'workshop-closed', 'This workshop is closed.');
    if (w.endsAt !== null && w.endsAt <= this.now()) throw new ApiError(410, 'workshop-ended', 'This workshop has ended. Your progress is kept.');
    if (!w.lessons.includes(lesson)) throw new ApiError(404, 'not-in-workshop', `Lesson "${lesson}" is not part of this workshop.`);
    if (!this.sessions) throw new ApiError(503, 'no-lab', 'The lab server is not ready yet. Retry in a moment.', 5);
    await this.store.touchLearner(learner.id, this.now(), lesson);

    const current = this.liveActive(learner.id);
    if (current && current.lesson === lesson) {
      this.emit('changed', w.id);
      return { state: 'ready', session: { ...current.handle, lesson }, notice: null };
    }
    // switching lessons: the learner's one sandbox slot is reused, no queueing
    if (current) await this.endActive(current, 'switched-lesson');

    if (!current) {
      this.pruneQueue();
      let entry = this.queue.find((q) => q.learnerId === learner.id);
      if (entry) entry.lastPoll = this.now();
      const free = this.capacity - this.pruneActive() - this.creating;
      const ahead = entry ? this.queue.indexOf(entry) : this.queue.length;
      // first come, first served: a newcomer does not overtake people already waiting
      if (ahead >= free) {
        if (!entry) this.queue.push((entry = { learnerId: learner.id, workshopId: w.id, lastPoll: this.now() }));
        this.emit('changed', w.id);
        return { state: 'queued', position: this.queue.indexOf(entry) + 1, capacity: this.capacity, retryAfterSeconds: 3 };
      }
      if (entry) this.queue.splice(this.queue.indexOf(entry), 1);
    }

    // the seat is taken now, in the same tick as the decision: concurrent calls see it
    this.creating++;
    let handle: LabSessionHandle;
    let earlier;
    let passed = 0;
    const owner = { learnerId: learner.id, workshopId: w.id, lesson };
    try {
      earlier = (await this.store.sessions(learner.id)).filter((s) => s.lessonId === lesson).at(-1);
      passed = (await this.store.learnerStepResults(learner.id)).filter((r) => r.lessonId === lesson && r.status === 'pass').length;
      handle = await this.creatingFor.run(owner, () => this.sessions!.create({ lesson, lang, label: `workshop ${w.code} learner ${learner.id}` }));
    } catch (err) {
      if (err instanceof LabFullError) {
        // the lab server itself is full (other users, or capacity set above it): wait in line
        this.queue.unshift({ learnerId: learner.id, workshopId: w.id, lastPoll: this.now() });
        this.emit('changed', w.id);
        return { state: 'queued', position: 1, capacity: this.capacity, retryAfterSeconds: Math.max(1, err.retryAfterSeconds) };
      }
      throw err;
    } finally {
      this.creating--;
    }
    this.owners.set(handle.id, owner);
    this.active.set(learner.id, { learnerId: learner.id, workshopId: w.id, lesson, handle });
    await this.store.startSession({ id: handle.id, learnerId: learner.id, lessonId: lesson, server: this.serverId }, this.now());
    this.emit('changed', w.id);
    const notice: SessionNotice | null = earlier && earlier.id !== handle.id
      ? { code: 'fresh-sandbox', afterRestart: earlier.endReason === END_REASON_RESTART, passedSteps: passed }
      : null;
    return { state: 'ready', session: { ...handle, lesson }, notice };
  }

  /** The learner leaves (or is done): their sandbox is reclaimed and the slot goes to the queue. */
  async leave(learner: Learner): Promise<void> {
    this.queue = this.queue.filter((q) => q.learnerId !== learner.id);
    const a = this.active.get(learner.id);
    if (a) await this.endActive(a, 'left');
    this.emit('changed', learner.workshopId);
    this.emitAllQueues();
  }

  private async endActive(a: Active, reason: string): Promise<void> {
    this.active.delete(a.learnerId);
    this.owners.delete(a.handle.id);
    await this.store.endSession(a.handle.id, reason, this.now());
    try {
      await this.sessions?.end(a.handle.id, reason);
    } catch (err) {
      this.log(`ending session ${a.handle.id} failed: ${(err as Error).message}`);
    }
  }

  /** queued learners of every workshop see their position move */
  private emitAllQueues(): void {
    for (const w of new Set(this.queue.map((q) => q.workshopId))) this.emit('changed', w);
  }

  /** session id → owning learner (for the plug-in and for watching) */
  ownerOf(sessionId: string): { learnerId: string; workshopId: string; lesson: string } | null {
    return this.owners.get(sessionId) ?? null;
  }

  /** The check engine reported statuses for a classroom session. */
  async recordSteps(sessionId: string, updates: StepUpdate[]): Promise<void> {
    const owner = this.owners.get(sessionId);
    if (!owner) return;
    const changed = await this.store.recordSteps(owner.learnerId, owner.lesson, updates, this.now());
    if (changed.length) this.emit('changed', owner.workshopId);
  }

  /** passed steps of a learner in a lesson with their first pass time (restored into a fresh sandbox's check engine) */
  async passedSteps(learnerId: string, lesson: string): Promise<Map<string, number>> {
    const rows = (await this.store.learnerStepResults(learnerId)).filter((r) => r.lessonId === lesson && r.status === 'pass');
    return new Map(rows.map((r) => [r.stepId, r.firstPassAt ?? r.updatedAt]));
  }

  /** the live session of a learner of this workshop (for watching), or null */
  learnerSession(workshopId: string, learnerId: string): LabSessionHandle | null {
    const a = this.liveActive(learnerId);
    return a && a.workshopId === workshopId ? a.handle : null;
  }

  // ------------------------------------------------------------------ board

  /** `stuckMinutes` overrides the server's threshold for this view (the instructor's own setting) */
  async board(workshop: Workshop, opts: { stuckMinutes?: number } = {}): Promise<BoardData> {
    const [lessons, learners, results, sessions] = await Promise.all([
      this.lessonSteps(workshop.lessons),
      this.store.learners(workshop.id),
      this.store.stepResults(workshop.id),
      this.store.workshopSessions(workshop.id),
    ]);
    const active = this.pruneActive();
    this.pruneQueue();
    return buildBoard({
      workshop, lessons, learners, results, sessions,
      admission: (id) => {
        if (this.active.has(id)) return { state: 'active', position: null };
        const p = this.queuePosition(id);
        return p ? { state: 'queued', position: p } : { state: 'offline', position: null };
      },
      capacity: { active, queued: this.queue.length, limit: this.capacity },
      stuckMinutes: opts.stuckMinutes ?? this.stuckMinutes,
      now: this.now(),
    });
  }

  /** End every classroom sandbox (server shutdown). Progress is in the store already. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.active.values()].map((a) => this.endActive(a, END_REASON_RESTART)));
  }
}
