/**
 * Check messages as data: a lesson's texts per language, next to its checks.ts
 * (lessons/<id>/messages.en.json, messages.ko.json, ...), and the few the engine itself
 * says (lab-server/checks/messages.<lang>.json, e.g. "this check could not run").
 *
 * A file is one JSON object of key → text. `{name}` in a text is a parameter the check
 * passes with `msg(key, { name })`. The placeholder syntax is the one the web app's
 * own strings use (web/i18n.ts), so one rule covers every text a translator sees.
 * Where wording depends on a value (one queue or several, "here" or "there"), a check
 * picks one of two whole-sentence keys: translators prefer whole sentences, and
 * Korean and Chinese need no plural forms.
 *
 * Checks return data; turning it into text happens here, once per language, so a
 * viewer can switch language after a check ran (the step events carry every
 * language's text) and a fourth language is files only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Problem } from '../lessons/problems.ts';
import { LessonError } from '../lessons/problems.ts';
import type { Message, MessageParam, MessageRef } from './api.ts';

/** key → text, for one language */
export type MessageTable = Readonly<Record<string, string>>;
/** language → table */
export type MessageCatalog = ReadonlyMap<string, MessageTable>;

const FILE = /^messages\.([a-z]{2,3}(?:-[A-Za-z0-9]+)?)\.json$/;
const tableSchema = z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a key is letters, digits, "-", "_" and "."'), z.string());
const PLACEHOLDER = /\{([A-Za-z_][\w-]*)\}/g;

const rel = (file: string): string => path.relative(process.cwd(), file) || file;

/** the parameter names a text uses */
export function placeholders(text: string): Set<string> {
  return new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]));
}

function parseTable(file: string, text: string): { table: MessageTable | null; problems: Problem[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { table: null, problems: [{ file: rel(file), severity: 'error', message: `is not valid JSON: ${(err as Error).message}` }] };
  }
  const parsed = tableSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i): Problem => ({
      file: rel(file),
      severity: 'error',
      message: i.path.length ? `"${String(i.path[0])}": ${i.code === 'invalid_type' ? 'must be a string of text' : i.message}` : 'must be one JSON object of "key": "text"',
    }));
    return { table: null, problems };
  }
  return { table: parsed.data, problems: [] };
}

/** Every messages.<lang>.json in a directory, with what is wrong with them. */
export async function readMessageFiles(dir: string): Promise<{ catalog: Map<string, MessageTable>; files: Map<string, string>; problems: Problem[] }> {
  const catalog = new Map<string, MessageTable>();
  const files = new Map<string, string>();
  const problems: Problem[] = [];
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => FILE.test(n)).sort();
  for (const name of names) {
    const file = path.join(dir, name);
    const { table, problems: p } = parseTable(file, await readFile(file, 'utf8'));
    problems.push(...p);
    files.set(FILE.exec(name)![1], file);
    if (table) catalog.set(FILE.exec(name)![1], table);
  }
  return { catalog, files, problems };
}

/** A lesson's messages; a broken file is a LessonError naming it (nslab lint says the same). */
export async function loadMessages(lessonDir: string): Promise<MessageCatalog> {
  const { catalog, problems } = await readMessageFiles(lessonDir);
  if (problems.length) throw new LessonError(problems);
  return catalog;
}

/** The engine's own texts, read once: they ship with the server, not with a lesson. */
function loadCommon(): Map<string, MessageTable> {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const out = new Map<string, MessageTable>();
  for (const name of readdirSync(dir).filter((n) => FILE.test(n))) {
    const file = path.join(dir, name);
    const { table, problems } = parseTable(file, readFileSync(file, 'utf8'));
    if (!table) throw new LessonError(problems);
    out.set(FILE.exec(name)![1], table);
  }
  return out;
}
export const COMMON_MESSAGES: MessageCatalog = loadCommon();

const isRef = (m: unknown): m is MessageRef => typeof m === 'object' && m !== null && 'key' in m;

/** The text of `key` in `lang`: the lesson's, then the engine's; English where a language lacks it. */
function lookup(catalog: MessageCatalog, lang: string, key: string): string | undefined {
  return catalog.get(lang)?.[key] ?? COMMON_MESSAGES.get(lang)?.[key]
    ?? catalog.get('en')?.[key] ?? COMMON_MESSAGES.get('en')?.[key];
}

function formatRef(catalog: MessageCatalog, lang: string, ref: MessageRef, depth = 0): string {
  const text = lookup(catalog, lang, ref.key);
  // a key no file has: show the key, so the gap is visible (nslab lint names it too)
  if (text === undefined) return ref.key;
  return text.replace(PLACEHOLDER, (whole, name: string) => {
    const v = ref.params?.[name];
    return v === undefined ? whole : formatParam(catalog, lang, v, depth);
  });
}

function formatParam(catalog: MessageCatalog, lang: string, v: MessageParam, depth: number): string {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  // messages inside messages are phrases, never deep; the bound stops a cycle of keys
  if (depth >= 4) return '';
  if (Array.isArray(v)) return v.map((r) => formatRef(catalog, lang, r, depth + 1)).join(lookup(catalog, lang, 'list.and') ?? ', ');
  return formatRef(catalog, lang, v, depth + 1);
}

/** A check's message as text in one language; null when the check said nothing. */
export function renderMessage(catalog: MessageCatalog, lang: string, message: Message | undefined): string | null {
  if (message === undefined) return null;
  if (typeof message === 'string') return message;
  if (isRef(message)) {
    // a lesson's message in a language the lesson has no texts for is shown wholly in
    // English, joins of lists included (not English phrases joined the Chinese way)
    const lessonKey = catalog.get('en')?.[message.key] !== undefined;
    return formatRef(catalog, lessonKey && !catalog.has(lang) ? 'en' : lang, message);
  }
  return (message as Record<string, string | undefined>)[lang] ?? message.en;
}

/** The languages a message can be shown in: the lesson's files and the engine's. */
export function catalogLangs(catalog: MessageCatalog): string[] {
  return [...new Set(['en', ...catalog.keys(), ...COMMON_MESSAGES.keys()])];
}

/**
 * A check's message in every language, for viewers who switch; undefined for a plain
 * string, which has no language (a prototype or a test: shown as it is everywhere).
 */
export function renderAll(catalog: MessageCatalog, message: Message | undefined): Record<string, string> | undefined {
  if (message === undefined || typeof message === 'string') return undefined;
  const out: Record<string, string> = {};
  for (const lang of catalogLangs(catalog)) out[lang] = renderMessage(catalog, lang, message)!;
  return out;
}
