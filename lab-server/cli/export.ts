/**
 * nslab export CODE [--format csv|json|junit] [--out FILE|DIR] [--learner NAME]
 *
 * Reads the classroom database directly (read-only; WAL lets it run next to a live
 * server), so it works whether or not the server is up. JUnit with --out DIR writes
 * one file per learner, the form LMS/CI importers usually want.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { loadSettings, type Settings } from '../config/settings.ts';
import { buildBoard } from '../classroom/board.ts';
import { normalizeJoinCode } from '../classroom/codes.ts';
import { EXPORT_EXT, EXPORT_FORMATS, formatExport, type ExportFormat } from '../classroom/export.ts';
import { Classroom } from '../classroom/service.ts';
import { describeStore, openClassroomStore } from '../classroom/open-store.ts';
import type { ClassroomStore } from '../classroom/store.ts';
import { defaultLessonsDir, LessonCatalog } from '../lessons/loader.ts';

const USAGE = 'usage: nslab export CODE [--format csv|json|junit] [--out FILE|DIR] [--learner NAME]   (database: $NSLAB_DATABASE_URL, else $NSLAB_CLASSROOM_DB, else $NSLAB_DATA/classroom.db with NSLAB_DATA default /var/lib/nslab)';

const argsSchema = z.object({
  code: z.string(),
  format: z.enum(EXPORT_FORMATS as [ExportFormat, ...ExportFormat[]]),
  out: z.string().nullable(),
  learner: z.string().nullable(),
});

export function parseExportArgs(args: string[]): z.infer<typeof argsSchema> | string {
  let code: string | null = null;
  let format = 'csv';
  let out: string | null = null;
  let learner: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag === '--format' || flag === '--out' || flag === '--learner') {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') return `${flag} needs a value\n${USAGE}`;
      if (flag === '--format') format = v; else if (flag === '--out') out = v; else learner = v;
    } else if (a === '-h' || a === '--help') return USAGE;
    else if (a.startsWith('-')) return `unknown option ${a}\n${USAGE}`;
    else if (code === null) code = a;
    else return `unexpected argument ${a}\n${USAGE}`;
  }
  if (!code) return `which workshop? give its join code\n${USAGE}`;
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) return `--format must be csv, json or junit, not "${format}"\n${USAGE}`;
  return argsSchema.parse({ code, format, out, learner });
}

export async function run(args: string[], settings: Settings = loadSettings()): Promise<number> {
  const parsed = parseExportArgs(args);
  if (typeof parsed === 'string') { (parsed === USAGE ? console.log : console.error)(parsed); return parsed === USAGE ? 0 : 2; }
  const code = normalizeJoinCode(parsed.code);
  if (!code) { console.error(`nslab export: "${parsed.code}" is not a join code (6 characters like K7QX3M)`); return 2; }
  const file = describeStore(settings);
  let store: ClassroomStore;
  try {
    store = await openClassroomStore(settings, { readonly: true, log: (l) => console.error(`nslab export: ${l}`) });
  } catch (err) {
    console.error(`nslab export: cannot open ${file}: ${(err as Error).message}\n  (set NSLAB_DATA to the server's data directory, NSLAB_CLASSROOM_DB to the file, or NSLAB_DATABASE_URL to the server's PostgreSQL)`);
    return 2;
  }
  try {
    const w = await store.workshopByCode(code);
    if (!w) { console.error(`nslab export: no workshop with code ${code} in ${file}`); return 2; }
    // no lab sessions here: the board is computed from the store alone, so everyone shows "offline"
    const classroom = new Classroom({ store, catalog: new LessonCatalog({ dir: defaultLessonsDir(settings) }), capacity: 1, stuckMinutes: 10, log: (l) => console.error(`nslab export: ${l}`) });
    const board = await classroom.board(w);
    const runs = await store.gradingRuns(w.id);
    let learnerId: string | undefined;
    if (parsed.learner) {
      const l = board.learners.find((x) => x.name.toLowerCase() === parsed.learner!.toLowerCase());
      if (!l) { console.error(`nslab export: no learner named "${parsed.learner}" in ${code}`); return 2; }
      learnerId = l.id;
    }
    if (parsed.out && parsed.format === 'junit' && !learnerId && !path.extname(parsed.out)) {
      mkdirSync(parsed.out, { recursive: true });
      const used = new Set<string>();
      for (const l of board.learners) {
        let name = l.name.replace(/[^\p{L}\p{N}_-]+/gu, '_').slice(0, 60) || 'learner';
        while (used.has(name)) name += '_';
        used.add(name);
        writeFileSync(path.join(parsed.out, `${name}.xml`), formatExport(board, 'junit', runs, l.id));
      }
      console.error(`nslab export: ${board.learners.length} JUnit file(s) in ${parsed.out}`);
      return 0;
    }
    const text = formatExport(board, parsed.format, runs, learnerId);
    if (parsed.out) {
      const target = path.extname(parsed.out) ? parsed.out : path.join(parsed.out, `nslab-${code}.${EXPORT_EXT[parsed.format]}`);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, text);
      console.error(`nslab export: wrote ${target}`);
    } else {
      process.stdout.write(text);
    }
    return 0;
  } finally {
    await store.close();
  }
}
