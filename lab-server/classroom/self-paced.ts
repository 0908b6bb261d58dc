/**
 * Self-paced learners: someone on the public lesson list, without a workshop.
 *
 * A browser is one self-paced learner. It holds a random token in an HttpOnly cookie
 * (self-paced-routes.ts); the store keeps only the token's hash and the steps the
 * learner passed. "Continue" on the lesson list then means what it says:
 *   - the learner's live machine for that lesson while it lives, from any tab;
 *   - otherwise a fresh machine whose check engine starts with the passed steps
 *     (after a server restart, idle reaping, a browser reopen), as workshops do.
 *
 * Like Classroom, it talks to lab sessions only through LabSessionPort.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ApiError } from '../contract/api-error.ts';
import type { LabSessionHandle, SelfPacedOpenResult, SelfPacedProgress } from '../contract/classroom-api.ts';
import type { Lang } from '../contract/lang.ts';
import type { LessonCatalog } from '../lessons/loader.ts';
import { generateToken, hashToken } from './codes.ts';
import { LabFullError, type LabSessionPort } from './service.ts';
import type { ClassroomStore, SelfPacedLearner } from './store.ts';

/** A lab session that belongs to a self-paced learner. */
interface Owner { learnerId: string; lesson: string }

export interface SelfPacedOptions {
  store: ClassroomStore;
  catalog: LessonCatalog;
  sessions?: LabSessionPort | null;
  /** live machines one learner may hold at once (a lesson per tab); opening one more ends the oldest */
  maxLivePerLearner?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export class SelfPaced {
  readonly store: ClassroomStore;
  readonly catalog: LessonCatalog;
  sessions: LabSessionPort | null;
  private readonly maxLive: number;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  /** learner id → lesson → live session, oldest first */
  private readonly live = new Map<string, Map<string, LabSessionHandle>>();
  /** session id → owner, for the plug-in's attach after a reset */
  private readonly owners = new Map<string, Owner>();
  /** per learner: one open at a time, so two tabs opening at once share one machine */
  private readonly opening = new Map<string, Promise<unknown>>();
  /** carries the owner through LabSessionPort.create into the plug-in's attach (see plugin.ts) */
  readonly creatingFor = new AsyncLocalStorage<Owner>();

  constructor(opts: SelfPacedOptions) {
    this.store = opts.store;
    this.catalog = opts.catalog;
    this.sessions = opts.sessions ?? null;
    this.maxLive = opts.maxLivePerLearner ?? 3;
    this.log = opts.log ?? ((l) => console.warn(`nslab self-paced: ${l}`));
    this.now = opts.now ?? Date.now;
  }

  /**
   * The learner a cookie token names, or a new learner (with the token to set) when
   * there is no token or it names nobody (a wiped database, a forged value).
   */
  async identify(token: string | null): Promise<{ learner: SelfPacedLearner; newToken: string | null }> {
    if (token) {
      const l = await this.store.selfPacedLearnerByTokenHash(hashToken(token), this.now());
      if (l) return { learner: l, newToken: null };
    }
    const fresh = generateToken();
    return { learner: await this.store.addSelfPacedLearner(hashToken(fresh), this.now()), newToken: fresh };
  }

  /** A known learner only: reading progress never creates anyone. */
  async find(token: string | null): Promise<SelfPacedLearner | null> {
    return token ? this.store.selfPacedLearnerByTokenHash(hashToken(token), this.now()) : null;
  }

  private liveSession(learnerId: string, lesson: string): LabSessionHandle | null {
    const mine = this.live.get(learnerId);
    const h = mine?.get(lesson);
    if (!h) return null;
    if (this.sessions?.alive(h.id)) return h;
    // ended by the lab server (idle, lifetime, deleted, restart): forget it
    mine!.delete(lesson);
    this.owners.delete(h.id);
    if (mine!.size === 0) this.live.delete(learnerId);
    return null;
  }

  hasLive(learner: SelfPacedLearner, lesson: string): boolean {
    return this.liveSession(learner.id, lesson) !== null;
  }

  async progress(learner: SelfPacedLearner): Promise<SelfPacedProgress> {
    const passes = await this.store.selfPacedPasses(learner.id);
    const ids = new Set(await this.catalog.ids());
    const lessons: SelfPacedProgress['lessons'] = {};
    for (const lesson of new Set([...passes.map((p) => p.lessonId), ...(this.live.get(learner.id)?.keys() ?? [])])) {
      if (!ids.has(lesson)) continue;
      const steps = await this.catalog.steps(lesson).catch(() => null);
      if (!steps) continue;
      const known = new Set(steps.map((s) => s.id));
      const passed = passes.filter((p) => p.lessonId === lesson && known.has(p.stepId)).length;
      lessons[lesson] = { passed, total: steps.length, live: this.liveSession(learner.id, lesson) !== null };
    }
    return { lessons };
  }

  open(learner: SelfPacedLearner, lesson: string, lang: Lang): Promise<SelfPacedOpenResult> {
    const prev = this.opening.get(learner.id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.openNow(learner, lesson, lang));
    this.opening.set(learner.id, next);
    void next.finally(() => { if (this.opening.get(learner.id) === next) this.opening.delete(learner.id); }).catch(() => {});
    return next;
  }

  /** forget the machines the lab server ended, of every learner (those who never come back too) */
  private pruneEnded(): void {
    for (const [learnerId, mine] of this.live) for (const lesson of [...mine.keys()]) this.liveSession(learnerId, lesson);
  }

  private async openNow(learner: SelfPacedLearner, lesson: string, lang: Lang): Promise<SelfPacedOpenResult> {
    this.pruneEnded();
    if (!(await this.catalog.ids()).includes(lesson)) throw new ApiError(404, 'unknown-lesson', `There is no lesson "${lesson}".`);
    if (!this.sessions) throw new ApiError(503, 'no-lab', 'The lab server is not ready yet; retry in a moment.', 5);
    const current = this.liveSession(learner.id, lesson);
    if (current) return { session: { ...current, lesson }, resumed: true, restoredSteps: 0 };

    const mine = this.live.get(learner.id) ?? new Map<string, LabSessionHandle>();
    // a learner with a lesson open in every tab still holds only a few machines
    while (mine.size >= this.maxLive) {
      const [oldLesson, old] = mine.entries().next().value!;
      mine.delete(oldLesson);
      this.owners.delete(old.id);
      await this.sessions.end(old.id, 'replaced by a newer lesson').catch((err: Error) => this.log(`ending session ${old.id} failed: ${err.message}`));
    }
    const restoredSteps = (await this.store.selfPacedPasses(learner.id)).filter((p) => p.lessonId === lesson).length;
    const owner: Owner = { learnerId: learner.id, lesson };
    let handle: LabSessionHandle;
    try {
      handle = await this.creatingFor.run(owner, () => this.sessions!.create({ lesson, lang, label: `self-paced learner ${learner.id}` }));
    } catch (err) {
      if (err instanceof LabFullError) throw new ApiError(503, 'full', err.message, err.retryAfterSeconds);
      throw err;
    }
    mine.set(lesson, handle);
    this.live.set(learner.id, mine);
    this.owners.set(handle.id, owner);
    return { session: { ...handle, lesson }, resumed: false, restoredSteps };
  }

  /** the self-paced owner of a session being attached (during create) or re-attached (after a reset) */
  ownerOf(sessionId: string): Owner | null {
    return this.creatingFor.getStore() ?? this.owners.get(sessionId) ?? null;
  }

  /** passed steps with their first pass time, for a fresh check engine */
  async passedSteps(owner: Owner): Promise<Map<string, number>> {
    const rows = (await this.store.selfPacedPasses(owner.learnerId)).filter((p) => p.lessonId === owner.lesson);
    return new Map(rows.map((p) => [p.stepId, p.passedAt]));
  }

  async recordPasses(owner: Owner, stepIds: string[]): Promise<void> {
    if (stepIds.length) await this.store.recordSelfPacedPasses(owner.learnerId, owner.lesson, stepIds, this.now());
  }
}
