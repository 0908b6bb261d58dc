/**
 * Live checks for one learner working on one lesson: loads the lesson's checks
 * (once per lesson per checks.ts version) and starts a CheckEngine on the learner's
 * sandbox. The server calls this when a learner opens a lesson and pushes the
 * engine's status changes over the learner's socket.
 */
import path from 'node:path';
import { stat } from 'node:fs/promises';
import type { LessonCatalog } from '../lessons/loader.ts';
import type { Sandbox } from '../sandbox/types.ts';
import type { Lang, LessonChecks } from './api.ts';
import { CheckEngine } from './engine.ts';
import type { StepStatus } from '../contract/steps.ts';
import { loadChecks } from './load.ts';
import { loadMessages } from './messages.ts';
import type { NamespaceMapChannel } from '../contract/lessons-plugin.ts';
import type { TerminalTextProvider } from './lab.ts';

export interface LessonChecksOptions {
  catalog: LessonCatalog;
  lessonId: string;
  lang: Lang;
  sandbox: Sandbox;
  terminalText?: TerminalTextProvider;
  /** step ids the learner already passed (persisted progress), with when, if known */
  passed?: Iterable<string> | ReadonlyMap<string, number>;
  onStatus?: (changed: StepStatus[], all: StepStatus[]) => void;
  pollMs?: number;
  maxPollMs?: number;
  log?: (line: string) => void;
  /** the session's namespace map channel (CheckEngineOptions.map) */
  map?: NamespaceMapChannel;
}

const cache = new Map<string, { mtime: number; checks: Promise<LessonChecks> }>();

/** checks.ts of a lesson, loaded once and again only after it changed */
export async function lessonChecks(dir: string): Promise<LessonChecks> {
  const mtime = (await stat(path.join(dir, 'checks.ts')).catch(() => null))?.mtimeMs ?? -1;
  const hit = cache.get(dir);
  if (hit && hit.mtime === mtime) return hit.checks;
  const checks = loadChecks(dir);
  // a failed load is not cached: the author may be fixing it right now
  checks.catch(() => cache.delete(dir));
  cache.set(dir, { mtime, checks });
  return checks;
}

function restoredProgress(p: LessonChecksOptions['passed']): Map<string, number> {
  if (!p) return new Map();
  if (p instanceof Map) return new Map(p);
  return new Map([...(p as Iterable<string>)].map((id) => [id, Date.now()]));
}

/** Start live checking; throws UnknownLessonError / LessonError for a lesson that cannot run. */
export async function startLessonChecks(opts: LessonChecksOptions): Promise<CheckEngine> {
  const lesson = await opts.catalog.load(opts.lessonId);
  const [checks, messages] = await Promise.all([lessonChecks(lesson.dir), loadMessages(lesson.dir)]);
  const steps = lesson.versions.en!.steps.map((s) => s.id);
  const engine = new CheckEngine({
    sandbox: opts.sandbox,
    checks,
    steps,
    lang: opts.lang,
    messages,
    terminalText: opts.terminalText,
    // progress for steps that no longer exist (lesson edited) is dropped, not an error
    passed: new Map([...restoredProgress(opts.passed)].filter(([id]) => steps.includes(id))),
    onStatus: opts.onStatus,
    pollMs: opts.pollMs,
    maxPollMs: opts.maxPollMs,
    map: opts.map,
    log: opts.log ?? ((l) => console.warn(`nslab checks [${opts.lessonId}]: ${l}`)),
  });
  return engine.start();
}
