/**
 * Front matter of a lesson file and its validation.
 *
 * The front matter is deliberately flat (`key: scalar` lines between `---` fences),
 * so it is parsed here rather than with a YAML library: every field the design asks
 * for is a scalar, and a hand parser can name the exact line of a mistake, which is
 * what an author needs. Anything YAML-ish beyond scalars (lists, nesting) is an error
 * with a line number instead of a silent misread.
 */
import { z } from 'zod';
import type { Lang } from '../contract/lang.ts';
import type { Problem } from './problems.ts';

export const LESSON_FILES: Record<Lang, string> = { en: 'lesson.md', ko: 'lesson.ko.md', zh: 'lesson.zh.md' };

export const LESSON_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
export const STEP_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The English file is the source of truth and must carry every field. */
export const frontMatterSchema = z.strictObject({
  id: z.string().regex(LESSON_ID, 'lower-case letters, digits and dashes (e.g. ipc-namespace)'),
  title: z.string().trim().min(1, 'must not be empty').max(120),
  summary: z.string().trim().min(1, 'must not be empty').max(400),
  order: z.number().int('must be a whole number').min(0).max(10_000),
  minutes: z.number().int('must be a whole number').positive().max(600),
  image: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a sandbox image name (e.g. default)'),
  terminals: z.number().int('must be a whole number').min(1).max(4),
  /** lessons to take first, as a comma-separated list of ids (the front matter is flat) */
  requires: z.string().trim()
    .refine((v) => v.split(',').every((id) => LESSON_ID.test(id.trim())), 'lesson ids separated by commas (e.g. namespaces-tour, ipc-namespace)')
    .transform((v) => v.split(',').map((id) => id.trim()))
    .optional(),
});
export type FrontMatter = z.infer<typeof frontMatterSchema>;

/**
 * A translation needs only what it translates; the structural fields may be repeated
 * (authors copy the English header) but must then agree with English — checked by
 * the loader, which knows both files.
 */
export const translationFrontMatterSchema = frontMatterSchema.partial().required({ title: true, summary: true });
export type TranslationFrontMatter = z.infer<typeof translationFrontMatterSchema>;

export interface SplitResult {
  /** raw values by key */
  data: Record<string, string | number>;
  /** 1-based line of each key, for error messages */
  lines: Record<string, number>;
  body: string;
  /** how many lines precede the body (front matter + fences), so body line n is file line n + bodyOffset */
  bodyOffset: number;
  problems: Problem[];
}

function parseScalar(raw: string): string | number | { error: string } {
  const v = raw.trim();
  if (v === '') return { error: 'missing value' };
  if (v.startsWith('"')) {
    try {
      const s = JSON.parse(v);
      if (typeof s === 'string') return s;
    } catch { /* fall through to the error below */ }
    return { error: `bad double-quoted string ${v} (JSON escapes; close the quote)` };
  }
  if (v.startsWith("'")) {
    if (v.length < 2 || !v.endsWith("'")) return { error: `unterminated single-quoted string ${v}` };
    return v.slice(1, -1).replace(/''/g, "'");
  }
  if (v.startsWith('[') || v.startsWith('{') || v.startsWith('- ') || v === '|' || v === '>') {
    return { error: 'only plain values are allowed in lesson front matter (no lists, maps or block strings)' };
  }
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  // a trailing YAML comment on an unquoted value
  return v.replace(/\s+#.*$/, '');
}

export function splitFrontMatter(file: string, text: string): SplitResult {
  const problems: Problem[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines[0]?.trim() !== '---') {
    return {
      data: {}, lines: {}, body: text, bodyOffset: 0,
      problems: [{ file, line: 1, severity: 'error', message: 'a lesson file must start with front matter: a line "---", then "key: value" lines, then "---"' }],
    };
  }
  const end = lines.findIndex((l, i) => i > 0 && l.trim() === '---');
  if (end < 0) {
    return {
      data: {}, lines: {}, body: '', bodyOffset: lines.length,
      problems: [{ file, line: 1, severity: 'error', message: 'front matter is not closed: add a line "---" after the last "key: value" line' }],
    };
  }
  const data: Record<string, string | number> = {};
  const keyLines: Record<string, number> = {};
  for (let i = 1; i < end; i++) {
    const line = lines[i];
    if (/^\s*(#.*)?$/.test(line)) continue;
    const m = /^([A-Za-z_][\w-]*)\s*:(.*)$/.exec(line);
    if (!m) {
      problems.push({ file, line: i + 1, severity: 'error', message: `expected "key: value", got ${JSON.stringify(line.trim())}` });
      continue;
    }
    const [, key, rawValue] = m;
    if (key in data) {
      problems.push({ file, line: i + 1, severity: 'error', message: `"${key}" is given twice (first on line ${keyLines[key]})` });
      continue;
    }
    const value = parseScalar(rawValue);
    if (typeof value === 'object') {
      problems.push({ file, line: i + 1, severity: 'error', message: `${key}: ${value.error}` });
      continue;
    }
    data[key] = value;
    keyLines[key] = i + 1;
  }
  return { data, lines: keyLines, body: lines.slice(end + 1).join('\n'), bodyOffset: end + 1, problems };
}

/** Validate with zod and turn each issue into a Problem on the line of the offending key. */
export function validateFrontMatter<S extends z.ZodType>(
  file: string, split: SplitResult, schema: S,
): { value: z.infer<S> | null; problems: Problem[] } {
  const parsed = schema.safeParse(split.data);
  if (parsed.success) return { value: parsed.data, problems: [] };
  const problems = parsed.error.issues.map((issue): Problem => {
    let key = issue.path[0] === undefined ? undefined : String(issue.path[0]);
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      key = issue.keys[0];
      message = `unknown front matter field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (allowed: id, title, summary, order, minutes, image, terminals, requires)`;
    } else if (key !== undefined && !(key in split.data)) {
      message = `missing required field "${key}"`;
    } else if (key !== undefined) {
      message = `${key}: ${message}`;
    }
    // a missing field has no line of its own: point at the front matter's opening fence
    const line = key !== undefined && split.lines[key] ? split.lines[key] : 1;
    return { file, line, severity: 'error', message };
  });
  return { value: null, problems };
}
