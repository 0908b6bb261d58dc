/**
 * nslab grade LESSON FILE|DIR [--format json|junit|text] [--lang en|ko|zh] [--jobs N] [--out DIR]
 *
 * FILE: grade one transcript, print its report. DIR: grade every transcript in it in
 * parallel sandboxes, write one report per file (to --out, default DIR/reports) and
 * print a summary table. Exit 0 when every step of every transcript passed, 1 when
 * some failed, 2 on usage or environment errors (unknown lesson, unreadable file,
 * broken transcript, no sandbox).
 */
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { loadSettings, type Settings } from '../config/settings.ts';
import { defaultConcurrency, gradeMany, gradeTranscript, prepareLesson, readTranscript } from '../grade/grade.ts';
import { formatReport, formatSummary, REPORT_EXT, REPORT_FORMATS, type ReportFormat } from '../grade/report.ts';
import { isLang, LANGS } from '../contract/lang.ts';
import { defaultLessonsDir, LessonCatalog, UnknownLessonError } from '../lessons/loader.ts';
import { LessonError } from '../lessons/problems.ts';
import { createSandboxBackend } from '../sandbox/index.ts';
import { currentHostFacts, holds, hostKey, parseTranscriptName } from '../lessons/host-conditions.ts';

const USAGE = 'usage: nslab grade LESSON FILE|DIR [--format json|junit|text] [--lang en|ko|zh] [--jobs N] [--out DIR] [--quiet-ms MS] [--timeout SECONDS] [--verbose]';

const argsSchema = z.object({
  lesson: z.string().min(1),
  target: z.string().min(1),
  format: z.enum(REPORT_FORMATS as [ReportFormat, ...ReportFormat[]]),
  lang: z.enum(LANGS),
  jobs: z.coerce.number().int().min(1).max(64),
  out: z.string().optional(),
  quietMs: z.coerce.number().int().min(100).max(60_000).optional(),
  timeout: z.coerce.number().positive().max(24 * 3600).optional(),
  verbose: z.boolean(),
});

function parseArgs(args: string[]): z.infer<typeof argsSchema> | string {
  const pos: string[] = [];
  const opt: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-h' || a === '--help') return USAGE;
    if (a === '--verbose' || a === '-v') { opt.verbose = '1'; continue; }
    const m = /^--(format|lang|jobs|out|quiet-ms|timeout)(?:=(.*))?$/.exec(a);
    if (m) {
      const v = m[2] ?? args[++i];
      if (v === undefined) return `--${m[1]} needs a value\n${USAGE}`;
      opt[m[1]] = v;
    } else if (a.startsWith('-')) return `unknown option ${a}\n${USAGE}`;
    else pos.push(a);
  }
  if (pos.length !== 2) return USAGE;
  if (opt.lang !== undefined && !isLang(opt.lang)) return `--lang must be en, ko or zh\n${USAGE}`;
  const parsed = argsSchema.safeParse({
    lesson: pos[0], target: pos[1], format: opt.format ?? 'text', lang: opt.lang ?? 'en',
    jobs: opt.jobs ?? defaultConcurrency(), out: opt.out, quietMs: opt['quiet-ms'], timeout: opt.timeout, verbose: opt.verbose === '1',
  });
  if (!parsed.success) return `${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n')}\n${USAGE}`;
  return parsed.data;
}

export async function run(args: string[], settings: Settings = loadSettings()): Promise<number> {
  const a = parseArgs(args);
  if (typeof a === 'string') {
    const help = args.includes('-h') || args.includes('--help');
    (help ? console.log : console.error)(a);
    return help ? 0 : 2;
  }

  const catalog = new LessonCatalog({ dir: defaultLessonsDir(settings) });
  let lesson;
  try {
    lesson = await prepareLesson(a.lesson, a.lang, catalog);
  } catch (err) {
    if (err instanceof UnknownLessonError) { console.error(`nslab grade: unknown lesson "${a.lesson}" (lessons: ${(await catalog.ids()).join(', ')})`); return 2; }
    if (err instanceof LessonError) { console.error(`nslab grade: lesson "${a.lesson}" is broken:\n${err.message}`); return 2; }
    throw err;
  }

  let isDir: boolean;
  try {
    isDir = (await stat(a.target)).isDirectory();
  } catch {
    console.error(`nslab grade: no such file or directory: ${a.target}`);
    return 2;
  }

  const backend = createSandboxBackend({}, settings);
  // HostError (with a fix) propagates to cli.ts, which prints it and exits 2
  await backend.checkHost();
  await backend.reapOrphans();
  const runner = {
    quietMs: a.quietMs,
    totalTimeoutMs: a.timeout ? a.timeout * 1000 : undefined,
    // --verbose: why each line took as long as it did (an author's "why is my transcript slow")
    onLine: a.verbose ? (line: number, text: string, ms: number, how: string) => console.error(`${String(line).padStart(4)}  ${String(ms).padStart(6)} ms  ${how.padEnd(12)}  ${text.slice(0, 70)}`) : undefined,
  };
  const log = (line: string) => console.error(`nslab grade: ${line}`);

  if (!isDir) {
    let transcript;
    try {
      transcript = await readTranscript(a.target);
    } catch (err) {
      console.error(`nslab grade: ${err instanceof LessonError ? `bad transcript:\n${err.message}` : (err as Error).message}`);
      return 2;
    }
    let report;
    try {
      report = await gradeTranscript(lesson, transcript, { backend, lang: a.lang, runner, log });
    } catch (err) {
      // no sandbox, or it died under the transcript: nothing was graded
      console.error(`nslab grade: could not grade ${a.target}: ${(err as Error).message}`);
      return 2;
    }
    process.stdout.write(formatReport(report, a.format, path.basename(a.target)));
    return report.passed === report.total ? 0 : 1;
  }

  const outDir = path.resolve(a.out ?? path.join(a.target, 'reports'));
  const host = currentHostFacts();
  const entries = (await readdir(a.target, { withFileTypes: true })).filter((e) => e.isFile() && !e.name.startsWith('.'));
  // a lesson's own NAME.cgroup-v1.txt / NAME.cgroup-v2.txt are for that kind of host only;
  // any other name (alice.smith.txt) is a submission and is graded
  const otherHost = entries.filter((e) => { const t = parseTranscriptName(e.name); return t.condition !== null && !holds(t.condition, host); });
  if (otherHost.length) console.error(`nslab grade: skipping ${otherHost.map((e) => e.name).join(', ')} (for other hosts; this one is ${hostKey(host)})`);
  const files = entries.filter((e) => !otherHost.includes(e))
    .map((e) => path.join(a.target, e.name))
    .sort();
  if (!files.length) { console.error(`nslab grade: no transcripts in ${a.target}`); return 2; }
  await mkdir(outDir, { recursive: true });
  const results = await gradeMany(lesson, files, {
    backend, lang: a.lang, runner, log, concurrency: a.jobs,
    onResult: async (r) => {
      const base = path.basename(r.file).replace(/\.[^.]*$/, '');
      const body = r.report ? formatReport(r.report, a.format, path.basename(r.file)) : `error: ${r.error}\n`;
      await writeFile(path.join(outDir, `${base}.${r.report ? REPORT_EXT[a.format] : 'error.txt'}`), body);
      console.error(`graded ${path.basename(r.file)}: ${r.report ? `${r.report.passed}/${r.report.total}` : `error: ${r.error}`}`);
    },
  });
  const rows = results.map((r) => ({ ...r, file: path.basename(r.file) }));
  const summary = formatSummary(rows, a.format);
  await writeFile(path.join(outDir, `summary.${REPORT_EXT[a.format]}`), summary);
  process.stdout.write(summary);
  console.error(`reports in ${path.relative(process.cwd(), outDir) || outDir}`);
  if (results.some((r) => !r.report)) return 2;
  return results.every((r) => r.report!.passed === r.report!.total) ? 0 : 1;
}
