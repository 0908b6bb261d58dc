/**
 * Loads lessons/<id>/lesson{,.ko,.zh}.md, validates them and keeps the rendered
 * result. One parse serves the web app, the grader and `nslab lint`, so whatever lint
 * passes is exactly what learners get.
 *
 * Cache: a lesson is re-read only when one of its files changed (mtime + size), so an
 * author editing a lesson sees the change on reload while a classroom of 50 learners
 * opening the same lesson costs one render.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSettings, type Settings } from '../config/settings.ts';
import { LANGS, type Lang } from '../contract/lang.ts';
import { normalizeContainers } from './containers.ts';
import {
  type FrontMatter, frontMatterSchema, LESSON_FILES, LESSON_ID,
  splitFrontMatter, type TranslationFrontMatter, translationFrontMatterSchema, validateFrontMatter,
} from './frontmatter.ts';
import { currentHostFacts, type HostFacts, type HostKey, hostKey, HOST_VARIANTS } from './host-conditions.ts';
import { LessonError, type Problem } from './problems.ts';
import { getRenderer, type StepInfo } from './render.ts';
import type { NsmapKind } from '../contract/namespace-map.ts';

/** NSLAB_LESSONS, else the checkout's lessons/ */
export function defaultLessonsDir(settings: Settings = loadSettings()): string {
  return settings.NSLAB_LESSONS ? path.resolve(settings.NSLAB_LESSONS) : fileURLToPath(new URL('../../lessons/', import.meta.url));
}

/** GET /api/lessons */
export interface LessonSummary {
  id: string; title: string; summary: string; order: number; minutes: number;
  /** lessons to take first (front matter `requires`), each earlier in the order */
  requires: string[];
}
/** GET /api/lessons/:id */
export interface LessonView {
  id: string;
  title: string;
  summary: string;
  /** the language actually served */
  lang: Lang;
  /** true when the requested translation is missing or broken and English is served instead */
  fallback?: boolean;
  html: string;
  /** `map`: the namespace kind the map focuses on at the step (`::: map <kind>`), when the step says */
  steps: { id: string; title: string; map?: NsmapKind }[];
  terminals: number;
}

export interface LessonVersion {
  lang: Lang;
  file: string;
  title: string;
  summary: string;
  /** the HTML for the host this catalog serves (see `variants`) */
  html: string;
  /** the HTML for every kind of host: `::: only <condition>` blocks differ between them */
  variants: Record<HostKey, string>;
  steps: StepInfo[];
  /** this version has errors of its own (it is not served; English is) */
  broken: boolean;
}

export interface Lesson {
  id: string;
  dir: string;
  front: FrontMatter;
  /** English always; translations when present */
  versions: Partial<Record<Lang, LessonVersion>>;
  /** every problem in every file of the lesson (warnings included) */
  problems: Problem[];
}

export class UnknownLessonError extends Error {
  constructor(readonly lessonId: string) {
    super(`unknown lesson "${lessonId}"`);
    this.name = 'UnknownLessonError';
  }
}

const rel = (file: string): string => path.relative(process.cwd(), file) || file;

const errorsIn = (problems: Problem[]): Problem[] => problems.filter((p) => p.severity === 'error');

interface ParsedFile {
  front: FrontMatter | TranslationFrontMatter | null;
  frontLines: Record<string, number>;
  variants: Record<HostKey, string>;
  steps: StepInfo[];
  problems: Problem[];
}

/**
 * Terminals to check run=N against. With an invalid front matter the raw value is the
 * best guess (so one mistake is not reported twice); without any, allow the maximum.
 */
function declaredTerminals(value: unknown, raw: Record<string, unknown>, inherited: number | null): number {
  const v = (value as FrontMatter | null)?.terminals ?? raw.terminals ?? inherited;
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : 4;
}

async function parseFile(file: string, text: string, lang: Lang, terminals: number | null): Promise<ParsedFile> {
  const name = rel(file);
  const split = splitFrontMatter(name, text);
  const schema = lang === 'en' ? frontMatterSchema : translationFrontMatterSchema;
  const { value, problems: fmProblems } = split.problems.length
    ? { value: null, problems: split.problems }
    : validateFrontMatter(name, split, schema);
  const norm = normalizeContainers(name, split.body, split.bodyOffset);
  const renderer = await getRenderer();
  const base = { file: name, lang, bodyOffset: split.bodyOffset, terminals: declaredTerminals(value, split.data, terminals) };
  // Render once per kind of host, so a problem inside a block shown only on the other
  // kind is still found, whatever machine lint runs on. Without `::: only` blocks the
  // variants are the same text: render once.
  const variants = {} as Record<HostKey, string>;
  const rendered: Problem[] = [];
  let steps: StepInfo[] = [];
  const hasOnly = /^ {0,3}:{3,}\s*only(\s|$)/m.test(norm.text);
  for (const host of hasOnly ? HOST_VARIANTS : HOST_VARIANTS.slice(0, 1)) {
    const out = renderer.render(norm.text, { ...base, host });
    variants[hostKey(host)] = out.html;
    rendered.push(...out.problems);
    steps = out.steps;
  }
  if (!hasOnly) for (const host of HOST_VARIANTS) variants[hostKey(host)] ??= variants[hostKey(HOST_VARIANTS[0])];
  const problems = [...fmProblems, ...norm.problems, ...dedupe(rendered)];
  if (split.body.trim() !== '' && steps.length === 0 && lang === 'en') {
    problems.push({ file: name, severity: 'error', message: 'the lesson has no steps: add at least one "::: step <step-id> <Title>" container' });
  }
  return { front: value, frontLines: split.lines, variants, steps, problems };
}

/** the same problem found in every host variant is one problem */
function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line ?? ''}|${p.severity}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Compare a translation's step ids with English: same ids, same order. */
export function compareSteps(file: string, english: StepInfo[], translated: StepInfo[]): Problem[] {
  const problems: Problem[] = [];
  const en = english.map((s) => s.id);
  const tr = translated.map((s) => s.id);
  for (const s of translated) {
    if (!en.includes(s.id)) problems.push({ file, line: s.line, severity: 'error', message: `step "${s.id}" is not in the English lesson (English steps: ${en.join(', ')})` });
  }
  const missing = en.filter((id) => !tr.includes(id));
  if (missing.length) problems.push({ file, severity: 'error', message: `missing step${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} (every translation must have exactly the English step ids)` });
  const common = tr.filter((id) => en.includes(id));
  const enCommon = en.filter((id) => tr.includes(id));
  if (!problems.length && common.join() !== enCommon.join()) {
    problems.push({ file, severity: 'error', message: `steps are in a different order than in English (English: ${en.join(', ')}; here: ${tr.join(', ')})` });
  }
  // the map's focus is part of the step, like its id: the same in every language
  for (const s of translated) {
    const e = english.find((x) => x.id === s.id);
    if (e && e.map !== s.map) {
      problems.push({ file, line: s.line, severity: 'error', message: `step "${s.id}" focuses the map on ${s.map ? `"${s.map}"` : 'nothing'}, English on ${e.map ? `"${e.map}"` : 'nothing'} ("::: map <kind>" must match)` });
    }
  }
  return problems;
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Parse and validate one lesson directory. Never throws for content problems: they are
 * returned. `host` picks which variant becomes each version's `html`.
 */
export async function parseLessonDir(dir: string, id = path.basename(dir), host: HostFacts = currentHostFacts()): Promise<{ lesson: Lesson | null; problems: Problem[] }> {
  const enFile = path.join(dir, LESSON_FILES.en);
  const enText = await readIfExists(enFile);
  if (enText === null) {
    return { lesson: null, problems: [{ file: rel(enFile), severity: 'error', message: 'missing: every lesson needs an English lesson.md' }] };
  }
  const en = await parseFile(enFile, enText, 'en', null);
  const problems = [...en.problems];
  const front = en.front as FrontMatter | null;
  if (front && front.id !== id) {
    problems.push({ file: rel(enFile), line: en.frontLines.id, severity: 'error', message: `id "${front.id}" does not match the directory name "${id}"` });
  }
  if (!front || errorsIn(problems).length) return { lesson: null, problems };

  const versions: Lesson['versions'] = {
    en: { lang: 'en', file: enFile, title: front.title, summary: front.summary, html: en.variants[hostKey(host)], variants: en.variants, steps: en.steps, broken: false },
  };
  for (const lang of LANGS) {
    if (lang === 'en') continue;
    const file = path.join(dir, LESSON_FILES[lang]);
    const text = await readIfExists(file);
    if (text === null) {
      // served in English meanwhile, so not an error; lint still says what is left to do
      problems.push({ file: rel(file), severity: 'warning', message: `no ${lang === 'ko' ? 'Korean' : 'Chinese'} translation yet (learners asking for it get English with a notice)` });
      continue;
    }
    const tr = await parseFile(file, text, lang, front.terminals);
    const trProblems = [...tr.problems];
    if (tr.front) {
      for (const key of ['id', 'order', 'minutes', 'image', 'terminals'] as const) { // requires: compared below
        const v = (tr.front as TranslationFrontMatter)[key];
        if (v !== undefined && v !== front[key]) {
          trProblems.push({ file: rel(file), line: tr.frontLines[key], severity: 'error', message: `${key} is ${JSON.stringify(v)} here but ${JSON.stringify(front[key])} in lesson.md (leave it out or make it the same)` });
        }
      }
    }
    const trRequires = (tr.front as TranslationFrontMatter | null)?.requires;
    if (trRequires !== undefined && trRequires.join(',') !== (front.requires ?? []).join(',')) {
      trProblems.push({ file: rel(file), line: tr.frontLines.requires, severity: 'error', message: `requires is ${JSON.stringify(trRequires.join(', '))} here but ${JSON.stringify((front.requires ?? []).join(', '))} in lesson.md (leave it out or make it the same)` });
    }
    trProblems.push(...compareSteps(rel(file), en.steps, tr.steps));
    problems.push(...trProblems);
    if (!tr.front) continue;
    versions[lang] = {
      lang, file, title: tr.front.title!, summary: tr.front.summary!, html: tr.variants[hostKey(host)], variants: tr.variants, steps: tr.steps,
      broken: errorsIn(trProblems).length > 0,
    };
  }
  return { lesson: { id, dir, front, versions, problems }, problems };
}

interface CacheEntry { stamp: string; lesson: Lesson | null; problems: Problem[] }

export class LessonCatalog {
  readonly dir: string;
  /** the host lessons are shown for: decides which `::: only` blocks learners see */
  readonly host: HostFacts;
  private cache = new Map<string, CacheEntry>();
  private loading = new Map<string, Promise<CacheEntry>>();

  constructor(opts: { dir?: string; host?: HostFacts } = {}) {
    this.dir = path.resolve(opts.dir ?? defaultLessonsDir());
    this.host = opts.host ?? currentHostFacts();
  }

  /** Lesson directories (names that are valid lesson ids), sorted by name. */
  async ids(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return entries.filter((e) => e.isDirectory() && LESSON_ID.test(e.name)).map((e) => e.name).sort();
  }

  private async stamp(id: string): Promise<string> {
    const parts = await Promise.all(LANGS.map(async (lang) => {
      try {
        const s = await stat(path.join(this.dir, id, LESSON_FILES[lang]));
        return `${s.mtimeMs}:${s.size}`;
      } catch {
        return '-';
      }
    }));
    return parts.join('|');
  }

  /** Parse (or reuse) a lesson; problems are returned, not thrown. */
  async inspect(id: string): Promise<CacheEntry> {
    // the id may come from a URL: validate before it touches the file system
    if (!LESSON_ID.test(id)) throw new UnknownLessonError(id);
    const stamp = await this.stamp(id);
    if (stamp === '-|-|-') {
      this.cache.delete(id);
      throw new UnknownLessonError(id);
    }
    const hit = this.cache.get(id);
    if (hit && hit.stamp === stamp) return hit;
    // concurrent first requests share one parse
    const key = `${id}@${stamp}`;
    let p = this.loading.get(key);
    if (!p) {
      p = parseLessonDir(path.join(this.dir, id), id, this.host).then(({ lesson, problems }) => {
        const entry = { stamp, lesson, problems };
        this.cache.set(id, entry);
        return entry;
      }).finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  /** A lesson that can be served; throws UnknownLessonError or LessonError (with every problem). */
  async load(id: string): Promise<Lesson> {
    const entry = await this.inspect(id);
    if (!entry.lesson) throw new LessonError(errorsIn(entry.problems));
    return entry.lesson;
  }

  /** Every servable lesson, in lesson order. Broken lessons are left out (lint names them). */
  async list(lang: Lang = 'en'): Promise<LessonSummary[]> {
    const out: LessonSummary[] = [];
    for (const id of await this.ids()) {
      let entry: CacheEntry;
      try {
        entry = await this.inspect(id);
      } catch {
        continue;
      }
      const l = entry.lesson;
      if (!l) continue;
      const v = pickVersion(l, lang);
      out.push({ id: l.id, title: v.title, summary: v.summary, order: l.front.order, minutes: l.front.minutes, requires: l.front.requires ?? [] });
    }
    return out.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
  }

  async view(id: string, lang: Lang = 'en'): Promise<LessonView> {
    const lesson = await this.load(id);
    const v = pickVersion(lesson, lang);
    const view: LessonView = {
      id: lesson.id, title: v.title, summary: v.summary, lang: v.lang, html: v.html,
      steps: v.steps.map((s) => ({ id: s.id, title: s.title, ...(s.map ? { map: s.map } : {}) })), terminals: lesson.front.terminals,
    };
    if (v.lang !== lang) view.fallback = true;
    return view;
  }

  /** Step ids and titles of a lesson in a language (English titles when the translation is missing). */
  async steps(id: string, lang: Lang = 'en'): Promise<{ id: string; title: string }[]> {
    return (await this.view(id, lang)).steps;
  }
}

/** The requested translation if it exists and is sound, else English. */
export function pickVersion(lesson: Lesson, lang: Lang): LessonVersion {
  const v = lesson.versions[lang];
  return v && !v.broken ? v : lesson.versions.en!;
}

