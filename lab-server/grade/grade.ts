/**
 * Grading: a fresh sandbox per transcript, the lesson's checks watching it live while
 * the transcript is typed, a report at the end, the sandbox destroyed whatever happens.
 *
 * Checks run during the transcript (not only at the end) because "a passed step stays
 * passed" is part of the contract: a learner who made a queue and later removed it did
 * pass the step, and a grader must agree with what the learner saw turn green.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Lang, LessonChecks } from '../checks/api.ts';
import { CheckEngine } from '../checks/engine.ts';
import { loadChecks } from '../checks/load.ts';
import { loadMessages, type MessageCatalog } from '../checks/messages.ts';
import { LessonCatalog } from '../lessons/loader.ts';
import { LessonError } from '../lessons/problems.ts';
import type { StepStatus } from '../contract/steps.ts';
import type { SandboxBackend } from '../sandbox/types.ts';
import { buildReport, type GradeReport } from './report.ts';
import { TranscriptRunner, type RunnerOptions } from './runner.ts';
import { parseTranscript, type Transcript } from './transcript.ts';

export interface GradeOptions {
  backend: SandboxBackend;
  lessonId: string;
  lang?: Lang;
  catalog?: LessonCatalog;
  runner?: Pick<RunnerOptions, 'quietMs' | 'lineTimeoutMs' | 'startTimeoutMs' | 'totalTimeoutMs' | 'onLine'>;
  /** check errors and other operator-facing notes */
  log?: (line: string) => void;
  /**
   * watch passed steps as a learner's session does (`stale` when their state goes);
   * off by default: a report has no use for it. Lesson tests turn it on to prove a
   * lesson's own path never tells the learner to redo a step.
   */
  watchPassed?: boolean;
  /** every status change while the transcript runs, as the learner would see it */
  onStatus?: (changed: StepStatus[]) => void;
}

export interface PreparedLesson {
  id: string;
  image: string;
  steps: { id: string; title: string }[];
  checks: LessonChecks;
  /** the texts of the checks' messages (messages.<lang>.json) */
  messages: MessageCatalog;
}

/** Load a lesson and its checks once (a directory of 200 transcripts should not re-import checks.ts 200 times). */
export async function prepareLesson(lessonId: string, lang: Lang = 'en', catalog = new LessonCatalog()): Promise<PreparedLesson> {
  const lesson = await catalog.load(lessonId);
  const steps = await catalog.steps(lessonId, lang);
  const [checks, messages] = await Promise.all([loadChecks(lesson.dir), loadMessages(lesson.dir)]);
  const missing = steps.filter((s) => !(s.id in checks)).map((s) => s.id);
  if (missing.length) throw new LessonError([{ file: path.join(lesson.dir, 'checks.ts'), severity: 'error', message: `no check for step${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` }]);
  return { id: lesson.id, image: lesson.front.image, steps, checks, messages };
}

/** far beyond any real transcript; a bigger file is a mistake (or a hostile submission) */
export const MAX_TRANSCRIPT_BYTES = 1024 * 1024;

export async function readTranscript(file: string): Promise<Transcript> {
  const size = (await stat(file)).size;
  if (size > MAX_TRANSCRIPT_BYTES) {
    throw new LessonError([{ file, severity: 'error', message: `transcript is ${size} bytes; the limit is ${MAX_TRANSCRIPT_BYTES}` }]);
  }
  const text = await readFile(file, 'utf8');
  const { transcript, problems } = parseTranscript(text, file);
  if (problems.length) throw new LessonError(problems);
  return transcript;
}

/** Type one transcript into a fresh sandbox and report every step. */
export async function gradeTranscript(lesson: PreparedLesson, transcript: Transcript, opts: Omit<GradeOptions, 'lessonId' | 'catalog'>): Promise<GradeReport> {
  const lang = opts.lang ?? 'en';
  const sandbox = await opts.backend.create({ image: lesson.image, label: `nslab grade ${lesson.id} ${path.basename(transcript.file)}`, startTerminal: true });
  let runner: TranscriptRunner | null = null;
  const engine = new CheckEngine({
    sandbox,
    checks: lesson.checks,
    steps: lesson.steps.map((s) => s.id),
    lang,
    messages: lesson.messages,
    terminalText: (n) => runner?.terminalText(n) ?? '',
    // a transcript is short and never idle: a fixed 1 s poll, no backoff, so a step
    // that a background job completes is seen as soon as it was before
    pollMs: 1000,
    maxPollMs: 1000,
    watchPassed: opts.watchPassed ?? false,
    onStatus: opts.onStatus,
    log: opts.log,
  });
  runner = new TranscriptRunner(sandbox, { ...opts.runner, engine });
  try {
    engine.start();
    await runner.run(transcript);
    // one last look with everything settled: the poll may not have come round yet.
    // Twice, because a check that threw once is only judged on its second throw.
    await engine.evaluate();
    await engine.evaluate();
    return buildReport(lesson.id, lesson.steps, engine.statuses());
  } finally {
    engine.stop();
    runner.close();
    await sandbox.destroy();
  }
}

export interface BatchResult { file: string; report: GradeReport | null; error: string | null }

/** Default parallelism: sandboxes are cheap to create but each transcript keeps a CPU busy in bursts. */
export function defaultConcurrency(): number {
  return Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length));
}

/**
 * Grade many transcripts, each in its own sandbox, at most `concurrency` at a time.
 * A broken transcript or a sandbox failure is that file's error row, not the batch's end.
 */
export async function gradeMany(
  lesson: PreparedLesson,
  files: string[],
  opts: Omit<GradeOptions, 'lessonId' | 'catalog'> & { concurrency?: number; onResult?: (r: BatchResult) => void | Promise<void> },
): Promise<BatchResult[]> {
  const results: BatchResult[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const file = files[i];
      let result: BatchResult;
      try {
        const report = await gradeTranscript(lesson, await readTranscript(file), opts);
        result = { file, report, error: null };
      } catch (err) {
        result = { file, report: null, error: (err as Error).message };
      }
      results[i] = result;
      await opts.onResult?.(result);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? defaultConcurrency(), files.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}
