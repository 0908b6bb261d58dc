/**
 * Lesson parsing and validation: every mistake an author can make must come back as
 * a problem naming the file, the line and what is wrong — never a crash, never silence.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LessonCatalog, parseLessonDir } from '../../lab-server/lessons/loader.ts';
import { formatProblem, LessonError, type Problem } from '../../lab-server/lessons/problems.ts';

const FRONT = (over: Record<string, string> = {}, drop: string[] = []) => {
  const base: Record<string, string> = { id: 'demo', title: 'Demo lesson', summary: 'A demo.', order: '1', minutes: '5', image: 'default', terminals: '2', ...over };
  return ['---', ...Object.entries(base).filter(([k]) => !drop.includes(k)).map(([k, v]) => `${k}: ${v}`), '---'].join('\n');
};

const BODY = `
# Demo

::: step first First step
Do it:

\`\`\`bash run
echo hello
\`\`\`

::: hint
Try harder.
:::
:::

::: step second Second step
\`\`\`bash run=2
hostname
\`\`\`

::: solution
\`\`\`bash
hostname
\`\`\`
:::
:::
`;

let root: string;
beforeEach(async () => { root = await mkdtemp(path.join(os.tmpdir(), 'nslab-lessons-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

async function lesson(files: Record<string, string>, id = 'demo'): Promise<string> {
  const dir = path.join(root, id);
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

const errors = (ps: Problem[]) => ps.filter((p) => p.severity === 'error');
const translation = (steps: string) => `---\ntitle: 데모\nsummary: 데모입니다.\n---\n${steps}`;

describe('front matter', () => {
  it('accepts a complete lesson and lists its steps', async () => {
    const { lesson: l, problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${BODY}` }));
    // missing translations are only warnings: English is served meanwhile
    expect(problems.map((p) => `${p.severity}: ${path.basename(p.file)}: ${p.message}`)).toEqual([
      'warning: lesson.ko.md: no Korean translation yet (learners asking for it get English with a notice)',
      'warning: lesson.zh.md: no Chinese translation yet (learners asking for it get English with a notice)',
    ]);
    expect(l!.versions.en!.steps.map((s) => [s.id, s.title])).toEqual([['first', 'First step'], ['second', 'Second step']]);
    expect(l!.front).toMatchObject({ id: 'demo', order: 1, minutes: 5, terminals: 2, image: 'default' });
  });

  it('names the missing field', async () => {
    const { lesson: l, problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT({}, ['minutes'])}\n${BODY}` }));
    expect(l).toBeNull();
    expect(problems).toEqual([expect.objectContaining({ file: expect.stringMatching(/demo\/lesson\.md$/), line: 1, severity: 'error', message: 'missing required field "minutes"' })]);
  });

  it('points at the line of a value of the wrong type', async () => {
    const { problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT({ order: 'first' })}\n${BODY}` }));
    expect(errors(problems)).toHaveLength(1);
    expect(problems[0].line).toBe(5);
    expect(problems[0].message).toMatch(/^order: /);
  });

  it('rejects unknown fields (typos) on their line', async () => {
    const { problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT({ minuts: '5' })}\n${BODY}` }));
    expect(problems[0]).toMatchObject({ line: 9, message: expect.stringContaining('unknown front matter field "minuts"') });
  });

  it('reports a front matter that is never closed, and one that is missing', async () => {
    const a = await parseLessonDir(await lesson({ 'lesson.md': 'id: demo\n' }));
    expect(a.problems[0]).toMatchObject({ line: 1, message: expect.stringContaining('must start with front matter') });
    const b = await parseLessonDir(await lesson({ 'lesson.md': '---\nid: demo\ntitle: x\n' }));
    expect(b.problems[0].message).toMatch(/not closed/);
  });

  it('rejects lists and nested values instead of misreading them', async () => {
    const { problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT({ image: '[a, b]' })}\n${BODY}` }));
    expect(problems[0]).toMatchObject({ line: 7, message: expect.stringContaining('only plain values') });
  });

  it('requires the id to be the directory name', async () => {
    const { problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT({ id: 'other' })}\n${BODY}` }));
    expect(problems[0]).toMatchObject({ line: 2, message: 'id "other" does not match the directory name "demo"' });
  });

  it('formats problems as file:line: severity: message', () => {
    expect(formatProblem({ file: 'lessons/x/lesson.md', line: 3, severity: 'error', message: 'boom' })).toBe('lessons/x/lesson.md:3: error: boom');
  });
});

describe('steps and containers', () => {
  it('requires an id and a title on every step', async () => {
    const body = '\n::: step\ntext\n:::\n\n::: step lonely\ntext\n:::\n';
    const { problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${body}` }));
    expect(errors(problems).map((p) => [p.line, p.message])).toEqual([
      [11, 'a step needs an id and a title: "::: step <step-id> <Title>"'],
      [15, 'step "lonely" has no title: "::: step lonely <Title>"'],
    ]);
  });

  it('gives step titles as plain text in the step list, formatted in the HTML', async () => {
    const { lesson: l } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n::: step a Make a \`queue\` *now* & <go>\n:::\n` }));
    expect(l!.versions.en!.steps[0].title).toBe('Make a queue now & <go>');
    expect(l!.versions.en!.html).toContain('Make a <code>queue</code> <em>now</em> &amp; &lt;go&gt;</h2>');
  });

  it('rejects duplicate step ids and a lesson without steps', async () => {
    const dup = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n::: step a One\n:::\n::: step a Two\n:::\n` }));
    expect(errors(dup.problems)[0].message).toBe('step id "a" is used twice (first on line 10)');
    const none = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\nJust text.\n` }, 'demo2'.replace('2', '')));
    expect(errors(none.problems)[0].message).toMatch(/no steps/);
  });

  it('reports unclosed containers, stray closers and unknown kinds with lines', async () => {
    const body = '\n::: step a One\n::: hint\nx\n:::\n\n::: tip\ny\n:::\n:::\n:::\n';
    const { problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${body}` }));
    const msgs = errors(problems).map((p) => `${p.line}: ${p.message}`);
    expect(msgs).toContain('16: unknown container "::: tip" (known: step, hint, solution, note, warning, only, map)');
    expect(msgs).toContain('20: ":::" closes nothing: there is no open ::: step / hint / solution here');
  });

  it('ignores ::: inside code fences', async () => {
    const body = '\n::: step a One\n```\n:::\n::: hint\n```\n:::\n';
    const { problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${body}` }));
    expect(errors(problems)).toEqual([]);
  });

  it('rejects run=N beyond the lesson\'s terminals', async () => {
    const body = '\n::: step a One\n```bash run=3\nls\n```\n:::\n';
    const { problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${body}` }));
    expect(errors(problems)).toEqual([expect.objectContaining({ line: 12, message: 'run=3 but the lesson has 2 terminals (front matter "terminals")' })]);
  });

  it('warns about languages it cannot highlight', async () => {
    const body = '\n::: step a One\n```cobol\nDISPLAY "HI".\n```\n:::\n';
    const { lesson: l, problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${body}` }));
    expect(l).not.toBeNull();
    expect(problems.filter((p) => p.line)).toEqual([expect.objectContaining({ severity: 'warning', line: 12, message: expect.stringContaining('"cobol" is not highlighted') })]);
  });
});

describe('rendering', () => {
  it('renders steps, collapsed hints and solutions, and run buttons with the exact markup', async () => {
    const { lesson: l } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${BODY}` }));
    const html = l!.versions.en!.html;
    expect(html).toContain('<section class="nslab-step" id="step-first" data-step="first">');
    expect(html).toContain('<button class="nslab-run" data-terminal="1" data-command="echo hello"');
    expect(html).toContain('<button class="nslab-run" data-terminal="2" data-command="hostname"');
    expect(html).toMatch(/<details class="nslab-hint"><summary>Hint<\/summary>[\s\S]*Try harder[\s\S]*<\/details>\n<\/section>/);
    expect(html).toContain('<details class="nslab-solution"><summary>Solution</summary>');
    // the hint closed inside the step: the second step is a sibling, not nested in the first
    expect(html.indexOf('</section>')).toBeLessThan(html.indexOf('id="step-second"'));
    // shiki with both themes as CSS variables
    expect(html).toContain('--shiki-light:');
    expect(html).toContain('--shiki-dark:');
  });

  it('escapes commands and never passes raw HTML through', async () => {
    const body = '\n::: step a One\n<script>alert(1)</script>\n\n```bash run\necho "<b>" && echo \'x\'\n```\n:::\n';
    const { lesson: l } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${body}` }));
    const html = l!.versions.en!.html;
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('data-command="echo &quot;&lt;b&gt;&quot; &amp;&amp; echo &#39;x&#39;"');
  });

  it('localises hint and button labels', async () => {
    const ko = translation('\n::: step first 첫 단계\n```bash run\nls\n```\n::: hint\n힌트\n:::\n:::\n::: step second 둘째\n:::\n');
    const { lesson: l } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${BODY}`, 'lesson.ko.md': ko }));
    expect(l!.versions.ko!.html).toContain('<summary>힌트</summary>');
    expect(l!.versions.ko!.html).toMatch(/>실행 ▸ 1<\/button>/);
  });
});

describe('translations', () => {
  it('must have exactly the English step ids', async () => {
    const missing = translation('\n::: step first 첫 단계\n:::\n');
    const extra = translation('\n::: step first 첫\n:::\n::: step second 둘\n:::\n::: step third 셋\n:::\n');
    const order = translation('\n::: step second 둘\n:::\n::: step first 첫\n:::\n');
    const dir = await lesson({ 'lesson.md': `${FRONT()}\n${BODY}`, 'lesson.ko.md': missing, 'lesson.zh.md': extra });
    const { lesson: l, problems } = await parseLessonDir(dir);
    expect(errors(problems).map((p) => `${path.basename(p.file)}:${p.line ?? ''}: ${p.message}`)).toEqual([
      'lesson.ko.md:: missing step "second" (every translation must have exactly the English step ids)',
      'lesson.zh.md:10: step "third" is not in the English lesson (English steps: first, second)',
    ]);
    // English is still served; the broken translations fall back to it
    expect(l!.versions.ko!.broken).toBe(true);
    await writeFile(path.join(dir, 'lesson.ko.md'), order);
    const again = await parseLessonDir(dir);
    expect(errors(again.problems).find((p) => p.file.endsWith('lesson.ko.md'))!.message).toMatch(/different order/);
  });

  it('may repeat structural fields only with the English values', async () => {
    const ko = `---\ntitle: 데모\nsummary: 데모.\nterminals: 1\n---\n::: step first 첫\n:::\n::: step second 둘\n:::\n`;
    const { problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${BODY}`, 'lesson.ko.md': ko }));
    expect(errors(problems)).toEqual([expect.objectContaining({ line: 4, message: 'terminals is 1 here but 2 in lesson.md (leave it out or make it the same)' })]);
  });

  it('falls back to English with a notice when a translation is missing or broken', async () => {
    await lesson({ 'lesson.md': `${FRONT()}\n${BODY}`, 'lesson.zh.md': translation('\n::: step first x\n:::\n') });
    const catalog = new LessonCatalog({ dir: root });
    const ko = await catalog.view('demo', 'ko');
    expect(ko).toMatchObject({ id: 'demo', lang: 'en', fallback: true, terminals: 2, steps: [{ id: 'first', title: 'First step' }, { id: 'second', title: 'Second step' }] });
    expect((await catalog.view('demo', 'zh')).fallback).toBe(true);
    const en = await catalog.view('demo', 'en');
    expect(en.fallback).toBeUndefined();
    expect(Object.keys(en).sort()).toEqual(['html', 'id', 'lang', 'steps', 'summary', 'terminals', 'title']);
  });
});

describe('catalog', () => {
  it('lists servable lessons in order, leaves broken ones out, and re-reads changed files', async () => {
    await lesson({ 'lesson.md': `${FRONT({ order: '2' })}\n${BODY}` });
    await lesson({ 'lesson.md': `${FRONT({ id: 'alpha', order: '1', title: 'Alpha' })}\n${BODY}` }, 'alpha');
    await lesson({ 'lesson.md': `${FRONT({ id: 'broken' }, ['title'])}\n${BODY}` }, 'broken');
    const catalog = new LessonCatalog({ dir: root });
    expect(await catalog.list()).toEqual([
      { id: 'alpha', title: 'Alpha', summary: 'A demo.', order: 1, minutes: 5, requires: [] },
      { id: 'demo', title: 'Demo lesson', summary: 'A demo.', order: 2, minutes: 5, requires: [] },
    ]);
    await expect(catalog.load('broken')).rejects.toBeInstanceOf(LessonError);
    await expect(catalog.view('nope')).rejects.toThrow('unknown lesson "nope"');
    await expect(catalog.view('../etc')).rejects.toThrow('unknown lesson');
    const first = await catalog.load('demo');
    expect(await catalog.load('demo')).toBe(first); // cached
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(path.join(root, 'demo', 'lesson.md'), `${FRONT({ title: 'Renamed' })}\n${BODY}`);
    expect((await catalog.view('demo')).title).toBe('Renamed');
  });
});

describe('host conditions: ::: only', () => {
  // one step with a block for each cgroup version, a shared paragraph, and a v2-only hint
  const ONLY_BODY = `
::: step limit Set a limit
Shared text.

::: only cgroup-v2
V2 text.

\`\`\`bash run
echo 100M > /sys/fs/cgroup/g/memory.max
\`\`\`

::: hint
V2 hint.
:::
:::

::: only cgroup-v1
V1 text.

\`\`\`bash run
echo 100M > /sys/fs/cgroup/memory/g/memory.limit_in_bytes
\`\`\`
:::
:::
`;
  const v2 = { cgroup: 'v2' } as const;
  const v1 = { cgroup: 'v1' } as const;

  it('shows on each host only the block whose condition holds, with its run buttons', async () => {
    const dir = await lesson({ 'lesson.md': `${FRONT()}\n${ONLY_BODY}` });
    for (const [host, mine, other] of [[v2, 'memory.max', 'memory.limit_in_bytes'], [v1, 'memory.limit_in_bytes', 'memory.max']] as const) {
      const { lesson: l, problems } = await parseLessonDir(dir, 'demo', host);
      expect(errors(problems)).toEqual([]);
      const html = l!.versions.en!.html;
      expect(html).toContain('Shared text.');
      expect(html).toContain(`<div class="nslab-only" data-only="cgroup-${host.cgroup}">`);
      expect(html).not.toContain(`data-only="cgroup-${host.cgroup === 'v2' ? 'v1' : 'v2'}"`);
      expect(html).toMatch(new RegExp(`data-command="[^"]*${mine.replace(/\./g, '\\.')}"`));
      expect(html).not.toContain(other);
      expect(html.includes('V2 hint.')).toBe(host.cgroup === 'v2');
      // both variants are kept, whatever host parsed the lesson
      expect(l!.versions.en!.variants[`cgroup-${host.cgroup}`]).toBe(html);
      expect(l!.versions.en!.steps.map((s) => s.id)).toEqual(['limit']);
    }
  });

  it('serves the catalog host\'s variant through view()', async () => {
    await lesson({ 'lesson.md': `${FRONT()}\n${ONLY_BODY}` });
    expect((await new LessonCatalog({ dir: root, host: v1 }).view('demo')).html).toContain('V1 text.');
    expect((await new LessonCatalog({ dir: root, host: v1 }).view('demo')).html).not.toContain('V2 text.');
    expect((await new LessonCatalog({ dir: root, host: v2 }).view('demo')).html).toContain('V2 text.');
    expect((await new LessonCatalog({ dir: root, host: v2 }).view('demo')).html).not.toContain('V1 text.');
  });

  it('finds problems inside the block of the other kind of host, once', async () => {
    const body = ONLY_BODY.replace('```bash run\necho 100M > /sys/fs/cgroup/memory', '```bash run=5\necho 100M > /sys/fs/cgroup/memory');
    const dir = await lesson({ 'lesson.md': `${FRONT()}\n${body}` });
    for (const host of [v1, v2]) {
      const { lesson: l, problems } = await parseLessonDir(dir, 'demo', host);
      expect(l).toBeNull();
      expect(errors(problems).map((p) => `${p.line}: ${p.message}`)).toEqual(['29: run=5 but the lesson has 2 terminals (front matter "terminals")']);
    }
  });

  it('rejects a missing or unknown condition, a step inside ::: only, and nested blocks, with lines', async () => {
    const body = [
      '', '::: step a One', '::: only', 'x', ':::', '::: only cgroup-v3', 'y', ':::', ':::',
      '::: only cgroup-v2', '::: step b Two', 'z', ':::', ':::',
      '::: step c Three', '::: only cgroup-v1', '::: only cgroup-v2', 'w', ':::', ':::', ':::', '',
    ].join('\n');
    const { lesson: l, problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${body}` }));
    expect(l).toBeNull();
    expect(errors(problems).map((p) => `${p.line}: ${p.message}`)).toEqual([
      '12: "::: only" takes exactly one host condition, e.g. "::: only cgroup-v2" (known: cgroup-v1, cgroup-v2)',
      '15: unknown host condition "cgroup-v3" in "::: only" (known: cgroup-v1, cgroup-v2)',
      '20: a step cannot be inside "::: only": every host has the same steps (graders and workshops know them by id); put the "::: only" block inside the step instead',
      '26: "::: only" inside another "::: only": conditions do not combine; close the first block before opening the next',
    ]);
  });

  it('a translation is checked the same way (a broken ::: only there falls back to English)', async () => {
    const ko = translation('\n::: step limit 한도\n::: only cgroup-2\n둘\n:::\n:::\n');
    const { lesson: l, problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${ONLY_BODY}`, 'lesson.ko.md': ko }), 'demo', v2);
    expect(errors(problems).map((p) => `${path.basename(p.file)}:${p.line}: ${p.message}`)).toEqual([
      'lesson.ko.md:7: unknown host condition "cgroup-2" in "::: only" (known: cgroup-v1, cgroup-v2)',
    ]);
    expect(l!.versions.ko!.broken).toBe(true);
  });
});

describe('the namespace map: ::: map', () => {
  const MAP_BODY = `
::: step make-queue Make a queue
\`\`\`bash run
unshare --ipc bash
\`\`\`

::: map ipc
Terminal 1 is now in a new IPC namespace.
:::
:::

::: step look Look around
Nothing to map here.
:::
`;

  it('puts the kind on the step the web gets, and a placeholder with the caption in the page', async () => {
    await lesson({ 'lesson.md': `${FRONT()}\n${MAP_BODY}`, 'lesson.ko.md': translation(MAP_BODY.replace('Make a queue', '큐 만들기').replace('Look around', '둘러보기')) });
    const catalog = new LessonCatalog({ dir: root });
    for (const lang of ['en', 'ko'] as const) {
      const view = await catalog.view('demo', lang);
      expect(view.lang).toBe(lang);
      expect(view.steps).toEqual([{ id: 'make-queue', title: lang === 'en' ? 'Make a queue' : '큐 만들기', map: 'ipc' }, { id: 'look', title: lang === 'en' ? 'Look around' : '둘러보기' }]);
      expect(view.html).toMatch(/<figure class="nslab-map" data-map-kind="ipc" data-step="make-queue">[^]*Terminal 1 is now in a new IPC namespace\.[^]*<\/figure>/);
    }
  });

  it('rejects an unknown or missing kind, a map outside a step, and two maps in one step, with lines', async () => {
    const body = [
      '', '::: step a One', '::: map ipcs', 'x', ':::', ':::',
      '::: step b Two', '::: map', ':::', ':::',
      '::: map net', ':::',
      '::: step c Three', '::: map uts', ':::', '::: map net', ':::', ':::', '',
    ].join('\n');
    const { lesson: l, problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${body}` }));
    expect(l).toBeNull();
    expect(errors(problems).map((p) => `${p.line}: ${p.message}`)).toEqual([
      '12: unknown namespace kind "ipcs" in "::: map" (known: ipc, pid, mnt, net, uts, user, cgroup, time)',
      '17: "::: map" takes exactly one namespace kind, e.g. "::: map ipc" (known: ipc, pid, mnt, net, uts, user, cgroup, time)',
      '20: "::: map" belongs inside a step: the map focuses on the kind while the learner is at that step',
      '25: step "c" has a second "::: map" (the first is on line 23); a step focuses the map on one kind',
    ]);
  });

  it('a translation must focus the same steps on the same kinds', async () => {
    const ko = translation(MAP_BODY.replace('::: map ipc', '::: map net'));
    const { lesson: l, problems } = await parseLessonDir(await lesson({ 'lesson.md': `${FRONT()}\n${MAP_BODY}`, 'lesson.ko.md': ko }));
    expect(errors(problems).map((p) => `${path.basename(p.file)}: ${p.message}`)).toEqual([
      'lesson.ko.md: step "make-queue" focuses the map on "net", English on "ipc" ("::: map <kind>" must match)',
    ]);
    expect(l!.versions.ko!.broken).toBe(true);
  });

  it('the shipped lessons focus the map where it teaches, in every language', async () => {
    const catalog = new LessonCatalog();
    const want: [string, string, string][] = [
      ['ipc-namespace', 'check-from-parent', 'ipc'], ['ipc-deep-dive', 'same-key', 'ipc'], ['containers-ipc', 'pod', 'ipc'],
      ['namespaces-tour', 'new-uts', 'uts'], ['process-isolation', 'memory-limit', 'cgroup'],
      ['build-a-container', 'namespaces', 'user'],
    ];
    for (const [id, step, kind] of want) {
      for (const lang of ['en', 'ko', 'zh'] as const) {
        const view = await catalog.view(id, lang);
        expect(view.lang).toBe(lang);
        expect(view.steps.filter((s) => s.map).map((s) => `${s.id}:${s.map}`)).toEqual([`${step}:${kind}`]);
      }
    }
  });
});
