/**
 * The check engine: runs a lesson's checks against one sandbox and reports step
 * status changes.
 *
 * Evaluation is event driven: every command-log event (a command finished, a shell
 * came back to a prompt) and every kernel event the sandbox reports (a group made; on
 * cgroup v2 an event file: process limit hit, OOM kill, group emptied) re-checks the
 * open steps at once, because that is when state changes and the learner is looking. A background
 * poll catches what nothing announces (a background job finishing); it backs off
 * while the session is quiet (poll-backoff.ts), so an idle session costs a round
 * every `maxPollMs`, not every `pollMs`.
 *
 * Rules that matter to learners:
 * - a passed step stays passed (undoing the state later does not take progress away);
 * - but its state is watched: the passed steps before the first open step are checked
 *   again every round, and when the ones right before it stop passing (the learner
 *   typed `exit` in the shell that held a namespace, the machine is a fresh one) they
 *   are reported `stale`, with what the check misses now, because the next step would
 *   fail on them. A step the lesson itself asks to leave behind (defineChecks'
 *   `leftBehind`) is not watched, and neither is anything before it;
 * - a check that throws, hangs or returns garbage is a failure with a clear message
 *   and a server log line, never a crash of the session;
 * - rounds never overlap: events during a round coalesce into one more round.
 */
import { z } from 'zod';
import type { Lang } from '../contract/lang.ts';
import type { StepStatus } from '../contract/steps.ts';
import type { Sandbox } from '../sandbox/types.ts';
import type { NamespaceMapChannel } from '../contract/lessons-plugin.ts';
import { collectNamespaceMap, snapshotKey, usageMoved } from './namespace-map.ts';
import type { NsmapSnapshot } from '../contract/namespace-map.ts';
import { checksOptions, msg, type Check, type CheckResult, type LessonChecks, type Message, type MessageParam } from './api.ts';
import { createLab, type TerminalTextProvider } from './lab.ts';
import { PollBackoff } from './poll-backoff.ts';
import { renderAll, renderMessage, type MessageCatalog } from './messages.ts';

export type { StepState, StepStatus } from '../contract/steps.ts';

export interface CheckEngineOptions {
  sandbox: Sandbox;
  checks: LessonChecks;
  /** the lesson's step ids, in lesson order */
  steps: string[];
  lang: Lang;
  /** the lesson's texts (messages.<lang>.json); checks that return `msg(key)` need them */
  messages?: MessageCatalog;
  terminalText?: TerminalTextProvider;
  /** called with the steps whose status or message changed, and all of them */
  onStatus?: (changed: StepStatus[], all: StepStatus[]) => void;
  /** background poll interval after an event; 0 turns the poll off. Default 2000 ms. */
  pollMs?: number;
  /**
   * the longest the poll backs off to while nothing happens (doubling from pollMs);
   * equal to pollMs for a fixed interval. Default DEFAULT_MAX_POLL_MS.
   */
  maxPollMs?: number;
  /** a check running longer than this fails. Default 10 s. */
  checkTimeoutMs?: number;
  /** steps already passed (progress restored from the learner's session); a Map keeps their passedAt */
  passed?: Iterable<string> | ReadonlyMap<string, number>;
  /** where check errors are logged (they are lesson bugs an operator should see) */
  log?: (line: string) => void;
  /**
   * check passed steps again and report the ones whose state is gone (`stale`).
   * Default true; `nslab grade` turns it off: a report has no use for it.
   */
  watchPassed?: boolean;
  /**
   * the namespace map: while someone wants it, every round also builds a snapshot
   * from the round's probe reads and pushes it when it changed (namespace-map.ts)
   */
  map?: NamespaceMapChannel;
}

type RunResult = CheckResult & {
  /** the check itself broke */
  error?: boolean;
  /** the check threw once: the result only repeats what was known (see runOne) */
  forgiven?: boolean;
};

/** how long after a first look that says a passed step's state is gone the second look comes */
const STALE_CONFIRM_MS = 300;

const paramSchema: z.ZodType<MessageParam> = z.lazy(() => z.union([z.string(), z.number(), refSchema, z.array(refSchema)]));
const refSchema = z.object({ key: z.string(), params: z.record(z.string(), paramSchema).optional() });
const localizedSchema = z.union([z.string(), refSchema, z.object({ en: z.string(), ko: z.string().optional(), zh: z.string().optional() })]);
const resultSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('pass'), message: localizedSchema.optional() }),
  z.object({ status: z.literal('fail'), message: localizedSchema }),
  z.object({ status: z.literal('pending'), message: localizedSchema.optional() }),
]);

/** "this check could not run": the engine's own text (lab-server/checks/messages.<lang>.json) */
const broken = (detail: string): Message => msg('check.broken', { detail });

class CheckTimeout extends Error {}

/** results of one round that arrive within this window are pushed together */
const BATCH_MS = 250;

export const DEFAULT_POLL_MS = 2000;
/** an unannounced change (a background job finishing) is seen within this */
export const DEFAULT_MAX_POLL_MS = 30_000;

export class CheckEngine {
  private readonly status = new Map<string, StepStatus>();
  private readonly listeners = new Set<NonNullable<CheckEngineOptions['onStatus']>>();
  private inFlight: Promise<void> | null = null;
  private rerun: Promise<void> | null = null;
  private poll: PollBackoff | null = null;
  /** status changes applied so far: the poll backs off only after rounds that change nothing */
  private changes = 0;
  private unsubscribe: (() => void)[] = [];
  private stopped = false;
  private started = false;
  /** checks still running (a round does not wait for slow ones), by step id */
  private readonly running = new Map<string, Promise<void>>();
  /** consecutive rounds in which a step's check threw */
  private readonly throws = new Map<string, number>();
  private retryTimer: NodeJS.Timeout | null = null;
  /** the last problem logged per step (see logOnce) */
  private readonly logged = new Map<string, string>();
  /** the message each step's check last returned, as data (kept when a throw is forgiven) */
  private readonly lastMessage = new Map<string, Message | undefined>();
  /** passed steps whose check did not pass when it last looked, with what it said */
  private readonly missing = new Map<string, Message | undefined>();
  private readonly leftBehind: ReadonlySet<string>;
  /** the last map snapshot pushed, and its key (namespace-map.ts, snapshotKey) */
  private mapLast: NsmapSnapshot | null = null;
  private mapKey: string | null = null;

  constructor(private readonly opts: CheckEngineOptions) {
    const restored: ReadonlyMap<string, number> = opts.passed instanceof Map
      ? opts.passed
      : new Map([...(opts.passed as Iterable<string> ?? [])].map((id) => [id, Date.now()]));
    for (const id of opts.steps) {
      this.status.set(id, restored.has(id)
        ? { id, status: 'pass', message: null, passedAt: restored.get(id)! }
        : { id, status: 'pending', message: null, passedAt: null });
    }
    if (opts.onStatus) this.listeners.add(opts.onStatus);
    this.leftBehind = new Set(checksOptions(opts.checks).leftBehind ?? []);
  }

  /** Subscribe to status changes; returns the unsubscribe function. */
  onStatus(listener: NonNullable<CheckEngineOptions['onStatus']>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Begin watching the sandbox: evaluate now, on every command event, and on the poll. */
  start(): this {
    if (this.started || this.stopped) return this;
    this.started = true;
    const { sandbox } = this.opts;
    const pollMs = this.opts.pollMs ?? DEFAULT_POLL_MS;
    if (pollMs > 0) {
      this.poll = new PollBackoff(pollMs, Math.max(pollMs, this.opts.maxPollMs ?? DEFAULT_MAX_POLL_MS), async () => {
        // the poll only fills gaps: skip it while a round is running
        if (this.inFlight || (!this.open().length && !this.mapWanted())) return false;
        const before = this.changes;
        await this.evaluate();
        return this.changes !== before;
      });
      this.poll.start();
    }
    const onEvent = () => {
      this.poll?.reset();
      void this.evaluate();
    };
    this.unsubscribe.push(sandbox.onCommand(onEvent));
    if (sandbox.onActivity) this.unsubscribe.push(sandbox.onActivity(onEvent));
    this.unsubscribe.push(sandbox.onExit(() => this.stop()));
    if (this.opts.map) {
      this.unsubscribe.push(this.opts.map.onWanted((wanted) => {
        // a new viewer gets a current map without waiting for the next command
        if (wanted) onEvent();
      }));
    }
    void this.evaluate();
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.poll?.stop();
    this.poll = null;
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /** how long the background poll now waits between rounds (null: no poll) */
  get pollDelayMs(): number | null {
    return this.poll?.delayMs ?? null;
  }

  statuses(): StepStatus[] {
    return this.opts.steps.map((id) => {
      const s = this.status.get(id)!;
      return s.messages ? { ...s, messages: { ...s.messages } } : { ...s };
    });
  }

  /** ids of steps not passed yet */
  open(): string[] {
    return this.opts.steps.filter((id) => this.status.get(id)!.status !== 'pass');
  }

  /**
   * Passed steps whose state may still matter: those before the first open step,
   * nearest first, back to a step the lesson leaves behind. None when every step passed.
   */
  private watched(): string[] {
    if (this.opts.watchPassed === false) return [];
    const { steps } = this.opts;
    const first = steps.findIndex((id) => this.status.get(id)!.status !== 'pass');
    const out: string[] = [];
    for (let i = first - 1; i >= 0 && !this.leftBehind.has(steps[i]); i--) out.push(steps[i]);
    return out;
  }

  /**
   * Which passed steps are stale: the run right before the first open step whose
   * checks no longer pass. A step further back that fails while one nearer the open
   * step still passes is not: the lesson went on past it (a later step used it up).
   */
  private staleSteps(): Set<string> {
    const stale = new Set<string>();
    for (const id of this.watched()) {
      if (!this.missing.has(id)) break;
      stale.add(id);
    }
    return stale;
  }

  /**
   * Run one round over the open steps. If a round is running, one more round is
   * queued after it (however many events arrive meanwhile) and that one is awaited,
   * so the caller always sees state at least as new as the moment it asked.
   */
  evaluate(): Promise<void> {
    if (this.inFlight) {
      this.rerun ??= this.inFlight.then(() => {
        this.rerun = null;
        return this.evaluate();
      });
      return this.rerun;
    }
    this.inFlight = this.round().finally(() => { this.inFlight = null; });
    return this.inFlight;
  }

  /** Resolves when no round is running or queued and no check is still running. */
  async idle(): Promise<void> {
    while (this.inFlight || this.rerun || this.running.size) {
      await (this.rerun ?? this.inFlight ?? Promise.all(this.running.values()));
    }
  }

  private async round(): Promise<void> {
    const { sandbox } = this.opts;
    if (this.stopped || sandbox.state === 'dead') return;
    // a finished lesson is not checked any more; only the map may still want rounds
    const finished = !this.open().length;
    if (finished && !this.mapWanted()) return;
    // a step whose check is still running from an earlier round is not started again
    const open = this.open().filter((id) => !this.running.has(id));
    const watched = finished ? [] : this.watched().filter((id) => !this.running.has(id));
    const wantMap = this.mapWanted();
    if (!open.length && !watched.length && !wantMap) return;
    const lab = createLab(sandbox, { lang: this.opts.lang, terminalText: this.opts.terminalText });
    // the map shares the round's memoised reads (process walk, root namespaces, cgroups)
    const mapTask = wantMap ? this.buildMap(lab) : null;
    const changed: StepStatus[] = [];
    let batching = true;
    const flush = () => {
      if (!changed.length || this.gone()) return;
      // a step can change twice before a flush (passed, then marked stale): its last state counts
      const last = new Map(changed.splice(0).map((c) => [c.id, c]));
      this.emit([...last.values()]);
    };
    const catalog = this.opts.messages ?? new Map();
    const push = (next: StepStatus) => {
      this.status.set(next.id, next);
      this.changes++;
      changed.push(next.messages ? { ...next, messages: { ...next.messages } } : { ...next });
    };
    /** passing steps and rechecks both move the stale run: set `stale` where it changed */
    const markStale = () => {
      const stale = this.staleSteps();
      for (const id of this.opts.steps) {
        const st = this.status.get(id)!;
        if (st.status !== 'pass') continue;
        let next: StepStatus['stale'];
        if (stale.has(id)) {
          const said = this.missing.get(id);
          next = { message: renderMessage(catalog, this.opts.lang, said) };
          const all = renderAll(catalog, said);
          if (all) next.messages = all;
        }
        if (JSON.stringify(next) === JSON.stringify(st.stale)) continue;
        const { stale: _old, ...rest } = st;
        push(next ? { ...rest, stale: next } : rest);
      }
    };
    const recheck = (id: string, r: RunResult) => {
      // a broken check, or one that threw once, says nothing about the learner's state
      if (this.gone() || r.error || r.forgiven) return;
      if (this.status.get(id)!.status !== 'pass') return;
      if (r.status === 'pass') this.missing.delete(id);
      else this.missing.set(id, r.message);
      markStale();
      if (!batching) flush();
    };
    const apply = (id: string, r: RunResult) => {
      // a sandbox that died during the round makes every probe fail: that says
      // nothing about the learner's work, so those results are dropped
      if (this.gone()) return;
      const before = this.status.get(id)!;
      if (before.status === 'pass') return;
      const message = renderMessage(catalog, this.opts.lang, r.message);
      const next: StepStatus = { id, status: r.status, message, passedAt: r.status === 'pass' ? Date.now() : null };
      const all = renderAll(catalog, r.message);
      if (all) next.messages = all;
      if (r.error) next.error = true;
      this.lastMessage.set(id, r.message);
      if (next.status === before.status && next.message === before.message && !!next.error === !!before.error
        && JSON.stringify(next.messages) === JSON.stringify(before.messages)) return;
      push(next);
      if (next.status === 'pass') {
        this.missing.delete(id);
        markStale();
      }
      if (!batching) flush();
    };
    // All open steps at once: they share the round's memoised probe calls (one
    // processes() walk however many checks ask). Results that arrive within BATCH_MS
    // go out in one push and end the round; a check still running then reports on
    // its own when it ends, and meanwhile the next round can start without it, so
    // one slow or hung check never holds back the step the learner just did.
    const start = (id: string, then: (id: string, r: RunResult) => void, run = () => this.runOne(id, lab)) => {
      const task = run().then((r) => then(id, r)).finally(() => this.running.delete(id));
      this.running.set(id, task);
      return task;
    };
    // a passed step whose state looks gone is looked at once more, with fresh reads,
    // before the learner is told to redo it: a probe read that timed out on a loaded
    // host, or a process caught mid-change, is not a state that is gone
    const lookTwice = async (id: string): Promise<RunResult> => {
      const first = await this.runOne(id, lab);
      if (first.status === 'pass' || first.error || first.forgiven || this.missing.has(id) || this.gone()) return first;
      await new Promise((r) => setTimeout(r, STALE_CONFIRM_MS));
      if (this.gone()) return first;
      return this.runOne(id, createLab(sandbox, { lang: this.opts.lang, terminalText: this.opts.terminalText }));
    };
    const tasks = [...open.map((id) => start(id, apply)), ...watched.map((id) => start(id, recheck, () => lookTwice(id)))];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(tasks), new Promise<void>((r) => { timer = setTimeout(r, BATCH_MS); })]);
    clearTimeout(timer);
    batching = false;
    flush();
    // the round ends with the map, so map reads never overlap and a slow one coalesces events
    await mapTask;
  }

  private mapWanted(): boolean {
    return !!this.opts.map?.wanted;
  }

  private async buildMap(lab: ReturnType<typeof createLab>): Promise<void> {
    const { sandbox, map } = this.opts;
    try {
      const snapshot = await collectNamespaceMap({
        processes: lab.processes, rootNamespaces: lab.rootNamespaces, cgroups: lab.cgroups,
        commands: () => sandbox.commands(), probe: sandbox.probe,
      }, (this.mapLast?.seq ?? 0) + 1);
      if (this.gone() || !map?.wanted) return;
      const key = snapshotKey(snapshot);
      const news = key !== this.mapKey;
      if (!news && !(this.mapLast && usageMoved(this.mapLast, snapshot))) return;
      this.mapKey = key;
      this.mapLast = snapshot;
      // only what the learner did keeps the poll fast, not memory usage drifting
      if (news) this.changes++;
      map.push(snapshot);
    } catch (err) {
      // a process that left mid-round: the next round (the poll, the next command) reads again
      if (!this.gone()) this.logOnce('(namespace map)', `building the namespace map failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  private emit(changed: StepStatus[]): void {
    const all = this.statuses();
    for (const l of this.listeners) {
      try {
        l(changed, all);
      } catch (err) {
        this.log(`check listener threw: ${(err as Error).stack ?? err}`);
      }
    }
  }

  private async runOne(id: string, lab: ReturnType<typeof createLab>): Promise<RunResult> {
    const check: Check | undefined = this.opts.checks[id];
    if (!check) return { status: 'fail', message: broken(`no check for step "${id}"`), error: true };
    const timeoutMs = this.opts.checkTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const raw = await Promise.race([
        Promise.resolve().then(() => check(lab)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new CheckTimeout()), timeoutMs);
          // a hung check must not keep a finished `nslab grade` process alive
          timer.unref();
        }),
      ]);
      this.throws.delete(id);
      const parsed = resultSchema.safeParse(raw);
      if (!parsed.success) {
        this.logOnce(id, `check "${id}" returned ${JSON.stringify(raw)?.slice(0, 300)}, not pass() / fail(message) / pending()`);
        return { status: 'fail', message: broken('it returned an invalid result'), error: true };
      }
      return parsed.data as CheckResult;
    } catch (err) {
      if (this.gone()) return { status: 'pending' };
      if (err instanceof CheckTimeout) {
        this.logOnce(id, `check "${id}" did not finish within ${timeoutMs} ms`);
        return { status: 'fail', message: broken(`it took longer than ${timeoutMs / 1000} s`), error: true };
      }
      // A process that exited between processes() and a probe of it makes a correct
      // check throw once: that is a race with the learner, not a broken check. So the
      // first throw keeps the step as it was and the next round looks again; only a
      // check that throws twice in a row is reported as broken.
      const strikes = (this.throws.get(id) ?? 0) + 1;
      this.throws.set(id, strikes);
      if (strikes < 2) {
        const prev = this.status.get(id)!;
        if (this.opts.pollMs !== 0) this.retrySoon();
        const last = this.lastMessage.get(id);
        return { ...(prev.status === 'fail' ? { status: 'fail', message: last ?? '' } : { status: 'pending', message: last }) as CheckResult, forgiven: true };
      }
      // keyed by the message: stacks of the same failure differ in their async frames
      this.logOnce(id, `check "${id}" threw: ${(err as Error)?.stack ?? String(err)}`, `threw: ${(err as Error)?.message ?? String(err)}`);
      return { status: 'fail', message: broken(`${(err as Error)?.message ?? String(err)}`.slice(0, 200)), error: true };
    } finally {
      clearTimeout(timer);
    }
  }

  /** one extra round shortly after a check threw, instead of waiting for the poll */
  private retrySoon(): void {
    if (this.retryTimer || this.gone()) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.evaluate();
    }, 200);
    this.retryTimer.unref();
  }

  /** a function, not an inline test: the sandbox's state changes across awaits */
  private gone(): boolean {
    return this.stopped || this.opts.sandbox.state === 'dead';
  }

  /**
   * A broken check fails again every round (every command, every poll): log each
   * distinct problem once per step, not every 2 s for the rest of the session.
   */
  private logOnce(id: string, line: string, key = line): void {
    if (this.logged.get(id) === key) return;
    this.logged.set(id, key);
    this.log(line);
  }

  private log(line: string): void {
    (this.opts.log ?? ((l: string) => console.warn(`nslab checks: ${l}`)))(line);
  }
}
