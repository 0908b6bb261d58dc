/**
 * Loads lessons/<id>/checks.ts and checks it against the lesson's steps.
 *
 * checks.ts is code written by lesson authors, so its shape is validated here (zod)
 * rather than trusted: a default export that is not a map of step id → function is a
 * clear error naming the file, not a crash deep inside the engine.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { Problem } from '../lessons/problems.ts';
import { LessonError } from '../lessons/problems.ts';
import { checksOptions, withChecksOptions, type Check, type LessonChecks } from './api.ts';

const checksSchema = z.record(
  z.string(),
  z.custom<Check>((v) => typeof v === 'function', { message: 'must be an async function (lab) => pass() | fail(message) | pending()' }),
);

const optionsSchema = z.strictObject({ leftBehind: z.array(z.string()).optional() });

const rel = (file: string): string => path.relative(process.cwd(), file) || file;

export async function loadChecks(lessonDir: string): Promise<LessonChecks> {
  const file = path.join(lessonDir, 'checks.ts');
  let mtime: number;
  try {
    mtime = (await stat(file)).mtimeMs;
  } catch {
    throw new LessonError([{ file: rel(file), severity: 'error', message: 'missing: every lesson needs a checks.ts with one check per step' }]);
  }
  let mod: { default?: unknown };
  try {
    // the mtime in the URL makes an edited checks.ts load fresh (ESM caches by URL)
    mod = await import(`${pathToFileURL(file).href}?v=${Math.floor(mtime)}`);
  } catch (err) {
    throw new LessonError([{ file: rel(file), severity: 'error', message: `cannot be loaded: ${(err as Error).message}` }]);
  }
  const parsed = checksSchema.safeParse(mod.default);
  if (!parsed.success) {
    const what = mod.default === undefined
      ? 'has no default export: end it with `export default defineChecks({ ... })`'
      : parsed.error.issues.map((i) => `${i.path.length ? `check "${i.path.join('.')}"` : 'default export'}: ${i.message}`).join('; ');
    throw new LessonError([{ file: rel(file), severity: 'error', message: what }]);
  }
  const options = optionsSchema.safeParse(checksOptions(mod.default as LessonChecks));
  if (!options.success) {
    throw new LessonError([{ file: rel(file), severity: 'error', message: `defineChecks options: ${options.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}` }]);
  }
  return withChecksOptions(parsed.data, mod.default as LessonChecks);
}

/** Step ids in checks.ts must be exactly the lesson's: an unknown id is a typo that would never run. */
export async function compareChecks(lessonDir: string, checks: LessonChecks, stepIds: string[]): Promise<Problem[]> {
  const file = path.join(lessonDir, 'checks.ts');
  const text = await readFile(file, 'utf8').catch(() => '');
  const lines = text.split('\n');
  const lineOf = (id: string): number | undefined => {
    const i = lines.findIndex((l) => l.includes(`'${id}'`) || l.includes(`"${id}"`) || new RegExp(`^\\s*${id.replace(/-/g, '\\-')}\\s*:`).test(l));
    return i >= 0 ? i + 1 : undefined;
  };
  const problems: Problem[] = [];
  for (const id of Object.keys(checks)) {
    if (!stepIds.includes(id)) {
      problems.push({ file: rel(file), line: lineOf(id), severity: 'error', message: `check "${id}" has no step in lesson.md (steps: ${stepIds.join(', ')})` });
    }
  }
  for (const id of checksOptions(checks).leftBehind ?? []) {
    if (!stepIds.includes(id)) {
      problems.push({ file: rel(file), line: lineOf(id), severity: 'error', message: `leftBehind names "${id}", which is no step of lesson.md (steps: ${stepIds.join(', ')})` });
    }
  }
  for (const id of stepIds) {
    if (!(id in checks)) problems.push({ file: rel(file), severity: 'error', message: `step "${id}" has no check: add '${id}': async (lab) => ... to defineChecks` });
  }
  return problems;
}
