/** nslab lint [LESSON-ID...]: validate lessons; exit 1 when any has an error. */
import { loadSettings, type Settings } from '../config/settings.ts';
import { defaultLessonsDir, LessonCatalog } from '../lessons/loader.ts';
import { formatProblem } from '../lessons/problems.ts';
import { lintAll } from '../grade/lint.ts';

const USAGE = 'usage: nslab lint [LESSON-ID...] [--lessons DIR]';

export async function run(args: string[], settings: Settings = loadSettings()): Promise<number> {
  const ids: string[] = [];
  let dir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-h' || a === '--help') { console.log(USAGE); return 0; }
    if (a === '--lessons') { dir = args[++i]; if (!dir) { console.error(USAGE); return 2; } continue; }
    if (a.startsWith('-')) { console.error(`unknown option ${a}\n${USAGE}`); return 2; }
    ids.push(a);
  }
  const catalog = new LessonCatalog({ dir: dir ?? defaultLessonsDir(settings) });
  const all = await catalog.ids();
  const unknown = ids.filter((id) => !all.includes(id));
  if (unknown.length) { console.error(`unknown lesson${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (lessons: ${all.join(', ') || 'none'})`); return 2; }
  if (!all.length) { console.error(`no lessons in ${catalog.dir}`); return 2; }
  const results = await lintAll(catalog, ids.length ? ids : undefined);
  let errors = 0;
  let warnings = 0;
  for (const [id, problems] of results) {
    const e = problems.filter((p) => p.severity === 'error').length;
    errors += e;
    warnings += problems.length - e;
    console.log(`${e ? 'FAIL' : 'ok  '}  ${id}`);
    for (const p of problems) console.log(`      ${formatProblem(p)}`);
  }
  console.log(`${results.size} lesson${results.size === 1 ? '' : 's'}, ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
  return errors ? 1 : 0;
}
