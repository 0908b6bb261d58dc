/**
 * `nslab lint`: everything that can be wrong with a lesson without running it.
 * Lives in grade/ because it needs all three layers below the server: the lesson
 * loader (Markdown, translations), the checks loader (checks.ts vs step ids) and the
 * transcript parser (solution.txt, alternatives/*.txt, near-misses/*.txt and the steps they name).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { lintMessages } from '../checks/lint-messages.ts';
import { compareChecks, loadChecks } from '../checks/load.ts';
import { HOST_VARIANTS, hostKey, isSolutionName, parseTranscriptName, solutionFor } from '../lessons/host-conditions.ts';
import { LessonCatalog, UnknownLessonError, type Lesson } from '../lessons/loader.ts';
import { LessonError, type Problem } from '../lessons/problems.ts';
import { readTranscript } from './grade.ts';

const rel = (file: string): string => path.relative(process.cwd(), file) || file;

async function transcriptFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => path.join(dir, e.name)).sort();
  } catch {
    return [];
  }
}

export async function lintLesson(id: string, catalog = new LessonCatalog()): Promise<Problem[]> {
  let entry;
  try {
    entry = await catalog.inspect(id);
  } catch (err) {
    if (err instanceof UnknownLessonError) {
      // a folder being written that has no lesson.md yet is a lesson with a missing file, not an unknown one
      const dir = path.join(catalog.dir, id);
      const exists = await readdir(dir).then(() => true, () => false);
      return [exists
        ? { file: rel(path.join(dir, 'lesson.md')), severity: 'error', message: 'missing: every lesson needs an English lesson.md' }
        : { file: rel(dir), severity: 'error', message: 'no such lesson directory' }];
    }
    throw err;
  }
  const problems = [...entry.problems];
  const lesson = entry.lesson;
  if (!lesson) return problems;
  const stepIds = lesson.versions.en!.steps.map((s) => s.id);

  try {
    const checks = await loadChecks(lesson.dir);
    problems.push(...await compareChecks(lesson.dir, checks, stepIds));
  } catch (err) {
    if (err instanceof LessonError) problems.push(...err.problems);
    else throw err;
  }
  problems.push(...await lintMessages(lesson.dir, Object.keys(lesson.versions)));
  problems.push(...await pathProblems(lesson, catalog));

  // solution.txt, or solution.<condition>.txt per kind of host: every kind must get one
  const solutions = (await transcriptFiles(lesson.dir)).filter((f) => isSolutionName(path.basename(f)));
  const names = solutions.map((f) => path.basename(f));
  const missing = HOST_VARIANTS.filter((h) => solutionFor(names, h) === null).map(hostKey);
  if (missing.length === HOST_VARIANTS.length) {
    problems.push({ file: rel(path.join(lesson.dir, 'solution.txt')), severity: 'error', message: 'missing: every lesson needs a solution.txt transcript that passes every step' });
  } else if (missing.length) {
    problems.push({ file: rel(path.join(lesson.dir, 'solution.txt')), severity: 'error', message: `missing: no solution for ${missing.join(', ')} hosts (add solution.txt for every host, or ${missing.map((k) => `solution.${k}.txt`).join(' / ')})` });
  }
  // other correct paths (test/lessons/harness.ts grades each): like a solution, they pass every step
  const alternatives = await transcriptFiles(path.join(lesson.dir, 'alternatives'));
  const nearMisses = await transcriptFiles(path.join(lesson.dir, 'near-misses'));
  for (const file of [...solutions, ...alternatives, ...nearMisses]) {
    const name = parseTranscriptName(path.basename(file));
    if (name.error) {
      problems.push({ file: rel(file), severity: 'error', message: name.error });
      continue;
    }
    let t;
    try {
      t = await readTranscript(file);
    } catch (err) {
      if (err instanceof LessonError) problems.push(...err.problems.map((p) => ({ ...p, file: rel(p.file) })));
      else throw err;
      continue;
    }
    for (const item of t.items) {
      if (item.kind === 'term' && item.terminal > lesson.front.terminals) {
        problems.push({ file: rel(file), line: item.line, severity: 'error', message: `#!term ${item.terminal} but the lesson has ${lesson.front.terminals} terminal${lesson.front.terminals === 1 ? '' : 's'} (front matter "terminals")` });
      }
    }
    if (solutions.includes(file) || alternatives.includes(file)) {
      if (t.nearMiss) problems.push({ file: rel(file), line: 1, severity: 'error', message: `${path.basename(file)} must pass every step; "## near-miss:" belongs in near-misses/` });
      continue;
    }
    if (!t.nearMiss) {
      problems.push({ file: rel(file), line: 1, severity: 'error', message: 'a near miss must start with "## near-miss: step-id[, step-id...]" naming the steps it must not pass' });
      continue;
    }
    for (const id of t.nearMiss) {
      if (!stepIds.includes(id)) problems.push({ file: rel(file), line: 1, severity: 'error', message: `near miss names step "${id}", which is not in lesson.md (steps: ${stepIds.join(', ')})` });
    }
  }
  return problems;
}

export async function lintAll(catalog = new LessonCatalog(), ids?: string[]): Promise<Map<string, Problem[]>> {
  const out = new Map<string, Problem[]>();
  for (const id of ids ?? await catalog.ids()) out.set(id, await lintLesson(id, catalog));
  return out;
}

/** `requires`: lessons that exist, other than this one, and come earlier in the path (so the path has no cycle) */
async function pathProblems(lesson: Lesson, catalog: LessonCatalog): Promise<Problem[]> {
  const file = rel(path.join(lesson.dir, 'lesson.md'));
  const problems: Problem[] = [];
  const ids = await catalog.ids();
  for (const id of lesson.front.requires ?? []) {
    if (id === lesson.id) {
      problems.push({ file, severity: 'error', message: 'requires: a lesson cannot require itself' });
    } else if (!ids.includes(id)) {
      problems.push({ file, severity: 'error', message: `requires: no lesson "${id}" (lessons: ${ids.join(', ')})` });
    } else {
      const other = await catalog.inspect(id).catch(() => null);
      if (other?.lesson && other.lesson.front.order >= lesson.front.order) {
        problems.push({ file, severity: 'error', message: `requires: "${id}" comes later in the path (order ${other.lesson.front.order}, this lesson ${lesson.front.order}): give it a smaller order or drop it` });
      }
    }
  }
  return problems;
}
