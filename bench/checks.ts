/**
 * bench/checks: how fast the lesson engine reacts and grades, next to baselines
 * measured in the same run:
 *   - baseline: typed Enter → command-log event (the earliest moment anything can react)
 *     vs typed Enter → the step turned green (engine round on that event)
 *   - baseline: one probe.processes() walk vs one full check round of each lesson
 *     (every step open, in a sandbox with a shell)
 *   - grading: one transcript end to end, and a batch at concurrency 1 vs 2
 * usage: node --import tsx bench/checks.ts [--runs 20] [--batch 8] [--write-docs]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { defineChecks, pass, pending } from '../lab-server/checks/api.ts';
import { CheckEngine } from '../lab-server/checks/engine.ts';
import { loadChecks } from '../lab-server/checks/load.ts';
import { loadMessages } from '../lab-server/checks/messages.ts';
import { gradeMany, gradeTranscript, prepareLesson, readTranscript } from '../lab-server/grade/grade.ts';
import { LessonCatalog } from '../lab-server/lessons/loader.ts';
import { createSandboxBackend } from '../lab-server/sandbox/index.ts';
import type { CommandEvent, Sandbox } from '../lab-server/sandbox/types.ts';
import { pct, table } from './lib.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 20);
const BATCH = arg('batch', 8);
const now = () => performance.now();

const backend = createSandboxBackend();
await backend.checkHost();

function nextEvent(s: Sandbox, pred: (e: CommandEvent) => boolean): Promise<number> {
  return new Promise((resolve) => {
    const off = s.onCommand((e) => { if (pred(e)) { off(); resolve(now()); } });
  });
}

// --- reaction: typed → event, typed → green
const toEvent: number[] = [];
const toGreen: number[] = [];
{
  const s = await backend.create({ label: 'bench checks' });
  const pty = s.spawnPty({ terminal: 1 });
  await nextEvent(s, (e) => e.kind === 'ready');
  for (let i = 0; i < RUNS; i++) {
    const mark = `/tmp/mark-${i}`;
    const checks = defineChecks({
      mark: async (lab) => {
        const init = (await lab.processes()).find((p) => p.pid === 1)!;
        return (await lab.readFile(init.hostPid, mark)) !== null ? pass() : pending();
      },
    });
    let green = 0;
    const engine = new CheckEngine({ sandbox: s, checks, steps: ['mark'], lang: 'en', pollMs: 0, onStatus: (c) => { if (c.some((x) => x.status === 'pass')) green = now(); } }).start();
    await engine.idle();
    const ev = nextEvent(s, (e) => e.kind === 'cmd');
    const t = now();
    pty.write(`touch ${mark}\r`);
    toEvent.push((await ev) - t);
    await engine.idle();
    toGreen.push(green - t);
    engine.stop();
  }
  await s.destroy();
}

// --- a full round of each lesson's checks vs one processes() walk
const catalog = new LessonCatalog();
const roundRows: (string | number)[][] = [];
{
  const s = await backend.create({ label: 'bench checks rounds' });
  s.spawnPty({ terminal: 1 });
  await nextEvent(s, (e) => e.kind === 'ready');
  const walk: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = now();
    await s.probe.processes();
    walk.push(now() - t);
  }
  roundRows.push(['baseline: probe.processes() (one /proc walk)', pct(walk, 50), pct(walk, 95), '']);
  for (const id of await catalog.ids()) {
    let lesson;
    try {
      lesson = await catalog.load(id);
    } catch { continue; }
    const checks = await loadChecks(lesson.dir).catch(() => null);
    const messages = await loadMessages(lesson.dir).catch(() => null);
    if (!checks || !messages) continue;
    const steps = lesson.versions.en!.steps.map((x) => x.id).filter((x) => x in checks);
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const engine = new CheckEngine({ sandbox: s, checks, steps, lang: 'en', messages, pollMs: 0, log: () => {} });
      const t = now();
      await engine.evaluate();
      times.push(now() - t);
    }
    roundRows.push([`check round: ${id} (${steps.length} steps open)`, pct(times, 50), pct(times, 95), `${(pct(times, 50) / pct(walk, 50)).toFixed(1)}x walk`]);
  }
  await s.destroy();
}

// --- grading
const gradeRows: (string | number)[][] = [];
{
  const lesson = await prepareLesson('sample-hostname', 'en', catalog);
  const file = join(catalog.dir, 'sample-hostname', 'solution.txt');
  const t1: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 10); i++) {
    const t = now();
    await gradeTranscript(lesson, await readTranscript(file), { backend });
    t1.push(now() - t);
  }
  gradeRows.push(['grade sample-hostname solution.txt (fresh sandbox each)', `${pct(t1, 50).toFixed(0)} ms p50`, `${pct(t1, 95).toFixed(0)} ms p95`]);
  for (const c of [1, 2]) {
    const t = now();
    await gradeMany(lesson, Array.from({ length: BATCH }, () => file), { backend, concurrency: c });
    const ms = now() - t;
    gradeRows.push([`batch of ${BATCH}, concurrency ${c}`, `${ms.toFixed(0)} ms`, `${(BATCH / (ms / 60_000)).toFixed(0)} transcripts/min`]);
  }
}

const out = [
  // other work on the host skews every number: say how busy it was
  `Check engine benchmark, ${new Date().toISOString()}, ${RUNS} runs each, host load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`,
  '',
  table(['reaction (typed Enter → ...)', 'p50 ms', 'p95 ms'], [
    ['baseline: command-log event arrives', pct(toEvent, 50), pct(toEvent, 95)],
    ['step turned green (event + check round)', pct(toGreen, 50), pct(toGreen, 95)],
  ]),
  '',
  table(['round cost', 'p50 ms', 'p95 ms', 'vs baseline'], roundRows),
  '',
  table(['grading', 'time', 'rate'], gradeRows),
].join('\n');
console.log(out);
await backend.destroyAll();

if (process.argv.includes('--write-docs')) {
  // same layout as bench/sandbox.ts: replace our own "## Checks" section only
  const file = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { text = '# Benchmarks\n'; }
  const section = `## Checks\n\n\`\`\`\n${out}\n\`\`\`\n`;
  const re = /## Checks\n[\s\S]*?(?=\n## |$)/;
  text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}`;
  writeFileSync(file, text);
}
