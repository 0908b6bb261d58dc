/**
 * nslab attach CODE REPORT.json... [--learner NAME] [--source LABEL]
 *
 * Attaches `nslab grade --format json` reports to a workshop (they appear in the JSON
 * export). `-` reads one report from stdin, so grading can be piped:
 *   nslab grade ipc-namespace ada.txt --format json | nslab attach K7QX3M - --learner Ada
 * A graded folder (`nslab grade LESSON subs/ --format json` writes subs/reports/NAME.json)
 * goes in at once, each report to the learner of the same name:
 *   nslab attach K7QX3M subs/reports/*.json --learner-from-file
 * Writes the database directly (WAL + busy_timeout make that safe next to a running server).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadSettings, type Settings } from '../config/settings.ts';
import { normalizeJoinCode } from '../classroom/codes.ts';
import { gradeReportSchema } from '../classroom/schemas.ts';
import { describeStore, openClassroomStore } from '../classroom/open-store.ts';
import type { ClassroomStore } from '../classroom/store.ts';

const USAGE = 'usage: nslab attach CODE REPORT.json|- ... [--learner NAME | --learner-from-file] [--source LABEL]   (reports from `nslab grade --format json`)';

export async function run(args: string[], settings: Settings = loadSettings()): Promise<number> {
  let code: string | null = null;
  let learner: string | null = null;
  let source: string | null = null;
  const files: string[] = [];
  let fromFile = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--learner-from-file') fromFile = true;
    else if (a === '--learner' || a === '--source') {
      const v = args[++i];
      if (!v) { console.error(`${a} needs a value\n${USAGE}`); return 2; }
      if (a === '--learner') learner = v; else source = v;
    } else if (a === '-h' || a === '--help') { console.log(USAGE); return 0; }
    else if (a.startsWith('--')) { console.error(`unknown option ${a}\n${USAGE}`); return 2; }
    else if (code === null) code = a;
    else files.push(a);
  }
  if (!code || !files.length) { console.error(USAGE); return 2; }
  if (fromFile && learner) { console.error(`--learner and --learner-from-file exclude each other\n${USAGE}`); return 2; }
  // the batch summary sits next to the reports; it is not a learner's report
  if (fromFile) files.splice(0, files.length, ...files.filter((f) => path.basename(f) !== 'summary.json'));
  const c = normalizeJoinCode(code);
  if (!c) { console.error(`nslab attach: "${code}" is not a join code`); return 2; }

  const reports = [];
  for (const f of files) {
    let parsed;
    try {
      parsed = gradeReportSchema.safeParse(JSON.parse(f === '-' ? readFileSync(0, 'utf8') : readFileSync(f, 'utf8')));
    } catch (err) {
      console.error(`nslab attach: ${f}: ${(err as Error).message}`);
      return 2;
    }
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      console.error(`nslab attach: ${f} is not an \`nslab grade --format json\` report (${i.path.join('.') || 'top level'}: ${i.message})`);
      return 2;
    }
    reports.push({ file: f, report: parsed.data });
  }

  const file = describeStore(settings);
  let store: ClassroomStore;
  try {
    store = await openClassroomStore(settings, { log: (l) => console.error(`nslab attach: ${l}`) });
  } catch (err) {
    console.error(`nslab attach: cannot open ${file}: ${(err as Error).message}`);
    return 2;
  }
  try {
    const w = await store.workshopByCode(c);
    if (!w) { console.error(`nslab attach: no workshop with code ${c} in ${file}`); return 2; }
    const learners = await store.learners(w.id);
    const find = (name: string) => learners.find((x) => x.displayName.toLowerCase() === name.toLowerCase()) ?? null;
    const owners = new Map<string, string | null>();
    for (const r of reports) {
      const name = fromFile ? path.basename(r.file).replace(/\.[^.]*$/, '') : learner;
      if (!name) { owners.set(r.file, null); continue; }
      const l = find(name);
      // all or nothing: a typo in one file name should not leave half a batch attached
      if (!l) { console.error(`nslab attach: no learner named "${name}" in ${c}${fromFile ? ` (from ${r.file})` : ''}; learners: ${learners.map((x) => x.displayName).join(', ') || 'none'}`); return 2; }
      owners.set(r.file, l.id);
    }
    for (const r of reports) {
      const learnerId = owners.get(r.file) ?? null;
      const name = learners.find((x) => x.id === learnerId)?.displayName;
      await store.addGradingRun({ workshopId: w.id, learnerId, lessonId: r.report.lesson, source: source ?? (r.file === '-' ? 'stdin' : path.basename(r.file)), passed: r.report.passed, total: r.report.total, report: r.report });
      console.error(`nslab attach: ${r.file}: ${r.report.lesson} ${r.report.passed}/${r.report.total} attached to ${c}${name ? ` (${name})` : ''}`);
    }
    return 0;
  } finally {
    await store.close();
  }
}
