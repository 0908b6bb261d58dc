/**
 * `nslab lint` for check messages: every key a lesson's checks.ts uses exists in every
 * language the lesson has, no language has keys English lacks, every language's text
 * of a key has the same `{parameters}`, and checks.ts passes the parameters the text
 * uses. Keys are read from the source (`msg('key', { a, b })`), so a key must be a
 * quoted string: a computed key could not be checked before a learner meets it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Problem } from '../lessons/problems.ts';
import { COMMON_MESSAGES, placeholders, readMessageFiles } from './messages.ts';

export interface MessageUse {
  key: string;
  /** 1-based line in checks.ts */
  line: number;
  /** the parameter names passed, or null when they are not an object literal (not checked) */
  params: string[] | null;
}

const rel = (file: string): string => path.relative(process.cwd(), file) || file;
const lineAt = (text: string, i: number) => text.slice(0, i).split('\n').length;

/** index just past the string literal (', " or `) that starts at i */
function skipString(s: string, i: number): number {
  const q = s[i];
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') { j++; continue; }
    if (s[j] === q) return j + 1;
    if (q === '`' && s[j] === '$' && s[j + 1] === '{') j = skipBalanced(s, j + 1) - 1;
  }
  return s.length;
}

/** index just past the bracket group that opens at i */
function skipBalanced(s: string, i: number): number {
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    const c = s[j];
    if (c === '\'' || c === '"' || c === '`') { j = skipString(s, j) - 1; continue; }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') { depth--; if (depth === 0) return j + 1; }
  }
  return s.length;
}

/** the top-level property names of the object literal that opens at i; null when one is a spread */
function objectKeys(s: string, i: number): string[] | null {
  const end = skipBalanced(s, i) - 1;
  const keys: string[] = [];
  let expecting = true;
  for (let j = i + 1; j < end; j++) {
    const c = s[j];
    if (/\s/.test(c)) continue;
    if (c === '/' && s[j + 1] === '/') { j = s.indexOf('\n', j); if (j < 0) break; continue; }
    if (c === ',') { expecting = true; continue; }
    if (expecting) {
      expecting = false;
      if (s.startsWith('...', j)) return null;
      const m = /^(?:([A-Za-z_$][\w$]*)|'([^']*)'|"([^"]*)")/.exec(s.slice(j));
      if (m) { keys.push(m[1] ?? m[2] ?? m[3]); j += m[0].length - 1; continue; }
    }
    if (c === '\'' || c === '"' || c === '`') { j = skipString(s, j) - 1; continue; }
    if (c === '(' || c === '[' || c === '{') { j = skipBalanced(s, j) - 1; continue; }
  }
  return keys;
}

/** every `msg(...)` in a checks.ts, and the calls whose key is not a quoted string */
export function messageUses(source: string): { uses: MessageUse[]; computed: number[] } {
  const uses: MessageUse[] = [];
  const computed: number[] = [];
  for (const m of source.matchAll(/(?<![\w$.])msg\(\s*/g)) {
    let i = m.index + m[0].length;
    const k = /^(['"])([^'"\n]*)\1/.exec(source.slice(i));
    const line = lineAt(source, m.index);
    if (!k) { computed.push(line); continue; }
    i += k[0].length;
    while (/\s/.test(source[i] ?? '')) i++;
    let params: string[] | null = null;
    if (source[i] === ')') params = [];
    else if (source[i] === ',') {
      i++;
      while (/\s/.test(source[i] ?? '')) i++;
      if (source[i] === '{') params = objectKeys(source, i);
      else if (source[i] === ')') params = [];
    }
    uses.push({ key: k[2], line, params });
  }
  return { uses, computed };
}

const list = (names: Iterable<string>) => [...names].map((n) => `{${n}}`).join(', ') || 'none';

/**
 * Problems with the messages of the lesson in `dir`, whose translations are `langs`
 * (English first). A lesson whose checks use no `msg` needs no message files.
 */
export async function lintMessages(dir: string, langs: readonly string[]): Promise<Problem[]> {
  const checksFile = path.join(dir, 'checks.ts');
  const source = await readFile(checksFile, 'utf8').catch(() => '');
  const { uses, computed } = messageUses(source);
  const { catalog, files, problems } = await readMessageFiles(dir);
  const fileOf = (lang: string) => files.get(lang) ?? path.join(dir, `messages.${lang}.json`);
  const jsonText = new Map<string, string>();
  for (const [lang, file] of files) jsonText.set(lang, await readFile(file, 'utf8').catch(() => ''));
  const keyLine = (lang: string, key: string): number | undefined => {
    const i = jsonText.get(lang)?.indexOf(`${JSON.stringify(key)}:`) ?? -1;
    return i >= 0 ? lineAt(jsonText.get(lang)!, i) : undefined;
  };

  for (const line of computed) {
    problems.push({ file: rel(checksFile), line, severity: 'error', message: 'the key of msg() must be a quoted string, so lint can check that every language has it' });
  }
  const all = [...new Set(['en', ...langs, ...catalog.keys()])];
  const textOf = (lang: string, key: string): string | undefined => catalog.get(lang)?.[key] ?? COMMON_MESSAGES.get(lang)?.[key];
  const used = new Set(uses.map((u) => u.key));

  // every used key in every language, with the parameters checks.ts passes
  const reported = new Set<string>();
  for (const u of uses) {
    for (const lang of all) {
      if (textOf(lang, u.key) !== undefined || reported.has(`${lang}:${u.key}`)) continue;
      reported.add(`${lang}:${u.key}`);
      const why = files.has(lang) ? '' : ` (there is no ${path.basename(fileOf(lang))}${lang === 'en' ? '' : `, though the lesson has lesson.${lang}.md`})`;
      problems.push({ file: rel(fileOf(lang)), severity: 'error', message: `missing key "${u.key}", used in checks.ts:${u.line}${why}` });
    }
    const en = textOf('en', u.key);
    if (en === undefined || u.params === null) continue;
    const wanted = placeholders(en);
    const missing = [...wanted].filter((p) => !u.params!.includes(p));
    const extra = u.params.filter((p) => !wanted.has(p));
    if (missing.length) problems.push({ file: rel(checksFile), line: u.line, severity: 'error', message: `message "${u.key}" uses ${list(missing)}, but msg() does not pass ${missing.length > 1 ? 'them' : 'it'}` });
    if (extra.length) problems.push({ file: rel(checksFile), line: u.line, severity: 'error', message: `msg("${u.key}") passes ${extra.join(', ')}, which its text does not use (it uses ${list(wanted)})` });
  }

  // stray keys, mismatched parameters, keys nothing uses
  for (const [lang, table] of catalog) {
    for (const [key, text] of Object.entries(table)) {
      const file = rel(fileOf(lang));
      if (lang === 'en') {
        if (!used.has(key)) problems.push({ file, line: keyLine(lang, key), severity: 'warning', message: `key "${key}" is not used by checks.ts` });
        continue;
      }
      const en = textOf('en', key);
      if (en === undefined) {
        problems.push({ file, line: keyLine(lang, key), severity: 'error', message: `stray key "${key}": ${path.basename(fileOf('en'))} has no such key` });
        continue;
      }
      const want = placeholders(en);
      const have = placeholders(text);
      if ([...want].some((p) => !have.has(p)) || [...have].some((p) => !want.has(p))) {
        problems.push({ file, line: keyLine(lang, key), severity: 'error', message: `key "${key}" has parameters ${list(have)}, but English has ${list(want)}` });
      }
    }
  }
  return problems;
}
