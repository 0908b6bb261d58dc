/** nslab lessons [--lang en|ko|zh] [--json]: the lessons in order, with their step ids. */
import { loadSettings, type Settings } from '../config/settings.ts';
import { isLang, type Lang } from '../contract/lang.ts';
import { defaultLessonsDir, LessonCatalog } from '../lessons/loader.ts';

const USAGE = 'usage: nslab lessons [--lang en|ko|zh] [--json] [--lessons DIR]';

export async function run(args: string[], settings: Settings = loadSettings()): Promise<number> {
  let lang: Lang = 'en';
  let json = false;
  let dir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-h' || a === '--help') { console.log(USAGE); return 0; }
    if (a === '--json') { json = true; continue; }
    if (a === '--lang' || a.startsWith('--lang=')) {
      const v = a.includes('=') ? a.slice(7) : args[++i];
      if (!isLang(v)) { console.error(`--lang must be en, ko or zh\n${USAGE}`); return 2; }
      lang = v;
      continue;
    }
    if (a === '--lessons') { dir = args[++i]; if (!dir) { console.error(USAGE); return 2; } continue; }
    console.error(`unknown argument ${a}\n${USAGE}`);
    return 2;
  }
  const catalog = new LessonCatalog({ dir: dir ?? defaultLessonsDir(settings) });
  const list = await catalog.list(lang);
  const rows = await Promise.all(list.map(async (l) => ({ ...l, steps: await catalog.steps(l.id, lang) })));
  const broken = (await catalog.ids()).filter((id) => !list.some((l) => l.id === id));
  if (json) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    for (const r of rows) {
      console.log(`${r.id}  (${r.minutes} min)  ${r.title}`);
      for (const s of r.steps) console.log(`    ${s.id.padEnd(20)}  ${s.title}`);
    }
    if (!rows.length) console.log(`no lessons in ${catalog.dir}`);
  }
  // broken lessons are not listed; say so instead of letting them vanish silently
  if (broken.length) console.error(`not listed (errors; run nslab lint): ${broken.join(', ')}`);
  return 0;
}
