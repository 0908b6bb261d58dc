/**
 * `nslab lint` across a lesson's files: checks.ts against the steps (unknown check id,
 * step without a check, bad export), transcripts (solutions, alternatives, near misses)
 * and the steps near misses name.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadChecks } from '../../lab-server/checks/load.ts';
import { lintLesson } from '../../lab-server/grade/lint.ts';
import { appliesTo, parseTranscriptName, solutionFor } from '../../lab-server/lessons/host-conditions.ts';
import { LessonCatalog } from '../../lab-server/lessons/loader.ts';
import { LessonError } from '../../lab-server/lessons/problems.ts';

const API = path.resolve('lab-server/checks/api.ts');
const LESSON = `---
id: demo
title: Demo
summary: A demo.
order: 1
minutes: 5
image: default
terminals: 1
---
::: step make-queue Make a queue
:::

::: step look Look
:::
`;
const CHECKS = (ids: string[]) => `import { defineChecks, pass } from ${JSON.stringify(API)};
export default defineChecks({
${ids.map((id) => `  '${id}': async () => pass(),`).join('\n')}
});
`;

let root: string;
let n = 0;
beforeEach(async () => { root = await mkdtemp(path.join(os.tmpdir(), 'nslab-lint-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

async function lesson(files: Record<string, string>): Promise<LessonCatalog> {
  const dir = path.join(root, 'demo');
  await mkdir(path.join(dir, 'near-misses'), { recursive: true });
  await mkdir(path.join(dir, 'alternatives'), { recursive: true });
  // distinct file contents per test: ESM caches modules by URL (mtime is in it, but tests are fast)
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), name.endsWith('.ts') ? `${text}\n// ${n++}\n` : text);
  return new LessonCatalog({ dir: root });
}

// translation-missing warnings are tested in lesson-loader.test.ts
const messages = async (catalog: LessonCatalog) => (await lintLesson('demo', catalog)).filter((p) => p.severity === 'error').map((p) => `${path.basename(p.file)}:${p.line ?? ''}: ${p.message}`);

describe('lint', () => {
  it('passes a complete lesson', async () => {
    const c = await lesson({ 'lesson.md': LESSON, 'checks.ts': CHECKS(['make-queue', 'look']), 'solution.txt': 'ipcmk -Q\n', 'near-misses/a.txt': '## near-miss: make-queue\nipcs\n' });
    expect(await messages(c)).toEqual([]);
  });

  it('reports a check id that is not a step, and a step without a check', async () => {
    const c = await lesson({ 'lesson.md': LESSON, 'checks.ts': CHECKS(['make-queu', 'look']), 'solution.txt': 'true\n' });
    expect(await messages(c)).toEqual([
      'checks.ts:3: check "make-queu" has no step in lesson.md (steps: make-queue, look)',
      'checks.ts:: step "make-queue" has no check: add \'make-queue\': async (lab) => ... to defineChecks',
    ]);
  });

  it('reports a leftBehind step that is not in lesson.md, and leftBehind that is not a list', async () => {
    const withOptions = (options: string) => CHECKS(['make-queue', 'look']).replace(/\n\}\);\n$/, `\n}, ${options});\n`);
    const good = await lesson({ 'lesson.md': LESSON, 'checks.ts': withOptions("{ leftBehind: ['make-queue'] }"), 'solution.txt': 'true\n' });
    expect(await messages(good)).toEqual([]);
    const typo = await lesson({ 'lesson.md': LESSON, 'checks.ts': withOptions("{ leftBehind: ['make-queu'] }"), 'solution.txt': 'true\n' });
    expect(await messages(typo)).toEqual(['checks.ts:5: leftBehind names "make-queu", which is no step of lesson.md (steps: make-queue, look)']);
    const bad = await lesson({ 'lesson.md': LESSON, 'checks.ts': withOptions("{ leftBehind: 'look' }"), 'solution.txt': 'true\n' });
    expect((await messages(bad))[0]).toMatch(/checks\.ts:: defineChecks options: leftBehind: /);
  });

  it('reports a checks.ts without a default export, or with a non-function', async () => {
    const c = await lesson({ 'lesson.md': LESSON, 'checks.ts': 'export const x = 1;', 'solution.txt': 'true\n' });
    expect((await messages(c))[0]).toMatch(/checks\.ts:: has no default export/);
    const d = await lesson({ 'checks.ts': `export default { 'make-queue': 42, look: async () => ({ status: 'pass' }) };` });
    expect((await messages(d))[0]).toMatch(/check "make-queue": must be an async function/);
    await expect(loadChecks(path.join(root, 'demo'))).rejects.toBeInstanceOf(LessonError);
  });

  it('reports a lesson folder without lesson.md', async () => {
    const c = await lesson({ 'checks.ts': CHECKS(['look']) });
    expect(await messages(c)).toEqual(['lesson.md:: missing: every lesson needs an English lesson.md']);
  });

  it('reports a missing checks.ts and solution.txt', async () => {
    const c = await lesson({ 'lesson.md': LESSON });
    expect(await messages(c)).toEqual([
      'checks.ts:: missing: every lesson needs a checks.ts with one check per step',
      'solution.txt:: missing: every lesson needs a solution.txt transcript that passes every step',
    ]);
  });

  it('checks near misses name real steps, and transcripts use known directives', async () => {
    const c = await lesson({
      'lesson.md': LESSON, 'checks.ts': CHECKS(['make-queue', 'look']), 'solution.txt': 'true\n#!trem 2\n',
      'near-misses/a.txt': '## near-miss: make-queue, lok\n', 'near-misses/b.txt': 'ipcs\n', 'near-misses/c.txt': '## near-miss: look\n#!term 2\n',
    });
    expect(await messages(c)).toEqual([
      'solution.txt:2: unknown directive "#!trem" (known: #!term N, #!sleep S, #!ctrl KEY; "##" starts a comment)',
      'a.txt:1: near miss names step "lok", which is not in lesson.md (steps: make-queue, look)',
      'b.txt:1: a near miss must start with "## near-miss: step-id[, step-id...]" naming the steps it must not pass',
      'c.txt:2: #!term 2 but the lesson has 1 terminal (front matter "terminals")',
    ]);
  });

  it('includes the lesson file problems (translation mismatch)', async () => {
    const c = await lesson({
      'lesson.md': LESSON, 'checks.ts': CHECKS(['make-queue', 'look']), 'solution.txt': 'true\n',
      'lesson.ko.md': '---\ntitle: 데모\nsummary: 데모.\n---\n::: step make-queue 큐 만들기\n:::\n',
    });
    expect(await messages(c)).toEqual(['lesson.ko.md:: missing step "look" (every translation must have exactly the English step ids)']);
  });
});

describe('the learning path (front matter requires)', () => {
  /** demo (order 5) plus two more lessons: basics (order 1) and advanced (order 9) */
  async function path3(requires: string, ko?: string): Promise<LessonCatalog> {
    for (const [id, order] of [['basics', 1], ['advanced', 9]] as const) {
      await mkdir(path.join(root, id), { recursive: true });
      await writeFile(path.join(root, id, 'lesson.md'), LESSON.replace('id: demo', `id: ${id}`).replace('order: 1', `order: ${order}`));
    }
    const files: Record<string, string> = {
      'lesson.md': LESSON.replace('order: 1', 'order: 5').replace('terminals: 1', `terminals: 1\nrequires: ${requires}`),
      'checks.ts': CHECKS(['make-queue', 'look']), 'solution.txt': 'true\n',
    };
    if (ko) files['lesson.ko.md'] = `---\ntitle: 데모\nsummary: 데모.\nrequires: ${ko}\n---\n::: step make-queue 큐 만들기\n:::\n\n::: step look 보기\n:::\n`;
    return lesson(files);
  }

  it('passes lessons that exist and come earlier, and lists them in the summary', async () => {
    const c = await path3('basics', 'basics');
    expect(await messages(c)).toEqual([]);
    expect((await c.list()).map((l) => [l.id, l.requires])).toEqual([['basics', []], ['demo', ['basics']], ['advanced', []]]);
  });

  it('names an unknown lesson, the lesson itself, and one later in the path', async () => {
    expect(await messages(await path3('basic'))).toEqual([`lesson.md:: requires: no lesson "basic" (lessons: advanced, basics, demo)`]);
    expect(await messages(await path3('demo'))).toEqual(['lesson.md:: requires: a lesson cannot require itself']);
    expect(await messages(await path3('basics, advanced'))).toEqual(['lesson.md:: requires: "advanced" comes later in the path (order 9, this lesson 5): give it a smaller order or drop it']);
  });

  it('refuses a value that is not a list of ids, and a translation that says otherwise', async () => {
    expect(await messages(await path3('[basics]'))).toEqual(['lesson.md:9: requires: only plain values are allowed in lesson front matter (no lists, maps or block strings)']);
    expect(await messages(await path3('basics; advanced'))).toEqual(['lesson.md:9: requires: lesson ids separated by commas (e.g. namespaces-tour, ipc-namespace)']);
    expect(await messages(await path3('basics', 'advanced'))).toEqual(['lesson.ko.md:4: requires is "advanced" here but "basics" in lesson.md (leave it out or make it the same)']);
  });
});

describe('host-specific transcripts (NAME.cgroup-v1.txt / NAME.cgroup-v2.txt)', () => {
  const v1 = { cgroup: 'v1' } as const;
  const v2 = { cgroup: 'v2' } as const;

  it('names: a known condition applies on its hosts only, none applies everywhere, an unknown one nowhere', () => {
    expect(parseTranscriptName('solution.cgroup-v2.txt')).toEqual({ base: 'solution.txt', condition: 'cgroup-v2', error: null });
    expect(parseTranscriptName('too-big.txt')).toEqual({ base: 'too-big.txt', condition: null, error: null });
    expect(parseTranscriptName('too-big.cgroupv2.txt').error).toMatch(/^"cgroupv2" in the file name is not a host condition \(known: cgroup-v1, cgroup-v2;/);
    expect([appliesTo('a.cgroup-v2.txt', v2), appliesTo('a.cgroup-v2.txt', v1), appliesTo('a.txt', v1), appliesTo('a.v3.txt', v2)]).toEqual([true, false, true, false]);
  });

  it('the solution for a host: its own variant first, else solution.txt', () => {
    const both = ['lesson.md', 'solution.cgroup-v1.txt', 'solution.cgroup-v2.txt'];
    expect([solutionFor(both, v1), solutionFor(both, v2)]).toEqual(['solution.cgroup-v1.txt', 'solution.cgroup-v2.txt']);
    const fallback = ['solution.txt', 'solution.cgroup-v2.txt'];
    expect([solutionFor(fallback, v1), solutionFor(fallback, v2)]).toEqual(['solution.txt', 'solution.cgroup-v2.txt']);
    expect(solutionFor(['solution.cgroup-v2.txt'], v1)).toBeNull();
  });

  it('lint passes a solution per kind of host and host-specific near misses', async () => {
    const c = await lesson({
      'lesson.md': LESSON, 'checks.ts': CHECKS(['make-queue', 'look']), 'solution.cgroup-v1.txt': 'true\n', 'solution.cgroup-v2.txt': 'true\n',
      'near-misses/a.cgroup-v2.txt': '## near-miss: look\nipcs\n',
    });
    expect(await messages(c)).toEqual([]);
  });

  it('lint names the kind of host left without a solution, unknown conditions, and a near-miss header in any solution', async () => {
    const c = await lesson({
      'lesson.md': LESSON, 'checks.ts': CHECKS(['make-queue', 'look']), 'solution.cgroup-v2.txt': '## near-miss: look\ntrue\n',
      'solution.cgroup2.txt': 'true\n', 'near-misses/a.v2.txt': '## near-miss: look\n',
    });
    expect(await messages(c)).toEqual([
      'solution.txt:: missing: no solution for cgroup-v1 hosts (add solution.txt for every host, or solution.cgroup-v1.txt)',
      'solution.cgroup-v2.txt:1: solution.cgroup-v2.txt must pass every step; "## near-miss:" belongs in near-misses/',
      'solution.cgroup2.txt:: "cgroup2" in the file name is not a host condition (known: cgroup-v1, cgroup-v2; a transcript is NAME.txt, or NAME.CONDITION.txt to apply only on such hosts)',
      'a.v2.txt:: "v2" in the file name is not a host condition (known: cgroup-v1, cgroup-v2; a transcript is NAME.txt, or NAME.CONDITION.txt to apply only on such hosts)',
    ]);
  });

  it('lints the alternative correct transcripts beside the lesson like solutions', async () => {
    const ok = await lesson({ 'lesson.md': LESSON, 'checks.ts': CHECKS(['make-queue', 'look']), 'solution.txt': 'ipcmk -Q\n', 'alternatives/short.txt': '## another path\nipcmk -Q\n' });
    expect(await messages(ok)).toEqual([]);
    const bad = await lesson({
      'lesson.md': LESSON, 'checks.ts': CHECKS(['make-queue', 'look']), 'solution.txt': 'ipcmk -Q\n',
      'alternatives/short.txt': '## near-miss: look\nipcmk -Q\n', 'alternatives/two.txt': 'ipcmk -Q\n#!term 2\n', 'alternatives/x.v2.txt': 'true\n',
    });
    expect(await messages(bad)).toEqual([
      'short.txt:1: short.txt must pass every step; "## near-miss:" belongs in near-misses/',
      'two.txt:2: #!term 2 but the lesson has 1 terminal (front matter "terminals")',
      'x.v2.txt:: "v2" in the file name is not a host condition (known: cgroup-v1, cgroup-v2; a transcript is NAME.txt, or NAME.CONDITION.txt to apply only on such hosts)',
    ]);
  });
});

describe('lint of check messages', () => {
  const LESSON_KO = LESSON.replace('Make a queue', '큐 만들기').replace('::: step look Look', '::: step look 살펴보기');
  const MSG_CHECKS = (call: string) => `import { defineChecks, msg, pass, pending } from ${JSON.stringify(API)};
export default defineChecks({
  'make-queue': async () => pending(${call}),
  look: async () => pass(),
});
`;
  const base = (over: Record<string, string>) => lesson({
    'lesson.md': LESSON,
    'lesson.ko.md': LESSON_KO,
    'checks.ts': MSG_CHECKS("msg('queue.missing', { n: 1 })"),
    'solution.txt': 'ipcmk -Q\n',
    'messages.en.json': JSON.stringify({ 'queue.missing': 'No queue yet ({n} missing).' }, null, 2),
    'messages.ko.json': JSON.stringify({ 'queue.missing': '아직 큐가 없습니다({n}개 부족).' }, null, 2),
    ...over,
  });

  it('passes when every language has every key with the same parameters', async () => {
    expect(await messages(await base({}))).toEqual([]);
  });

  it('reports a key missing in a language, and a language file the lesson lacks', async () => {
    const c = await base({ 'messages.ko.json': JSON.stringify({}) });
    expect(await messages(c)).toEqual(['messages.ko.json:: missing key "queue.missing", used in checks.ts:3']);
    await rm(path.join(root, 'demo', 'messages.ko.json'));
    expect(await messages(c)).toEqual(['messages.ko.json:: missing key "queue.missing", used in checks.ts:3 (there is no messages.ko.json, though the lesson has lesson.ko.md)']);
  });

  it('reports a translation with other parameters than English, and a stray key', async () => {
    const c = await base({ 'messages.ko.json': JSON.stringify({ 'queue.missing': '아직 큐가 없습니다({count}개 부족).', 'queue.gone': '없음' }, null, 2) });
    expect(await messages(c)).toEqual([
      'messages.ko.json:2: key "queue.missing" has parameters {count}, but English has {n}',
      'messages.ko.json:3: stray key "queue.gone": messages.en.json has no such key',
    ]);
  });

  it('reports parameters checks.ts does not pass or that no text uses, and a key that is not a literal', async () => {
    const wrong = await base({ 'checks.ts': MSG_CHECKS("msg('queue.missing', { count: 1 })") });
    expect(await messages(wrong)).toEqual([
      'checks.ts:3: message "queue.missing" uses {n}, but msg() does not pass it',
      'checks.ts:3: msg("queue.missing") passes count, which its text does not use (it uses {n})',
    ]);
    const computed = await base({ 'checks.ts': MSG_CHECKS("msg(`queue.${'missing'}`, { n: 1 })") });
    expect(await messages(computed)).toEqual(['checks.ts:3: the key of msg() must be a quoted string, so lint can check that every language has it']);
  });
});
