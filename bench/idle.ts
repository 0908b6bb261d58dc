/**
 * bench/idle: what idle sessions cost the server, and how fast a check still reacts.
 *
 * N sessions, each a sandbox with a shell at a prompt and a lesson's checks armed
 * (lessons taken in turn, every step open), are left alone; after a settle time the
 * server's CPU is measured over a fixed window: user+sys of the server process and of
 * the children it spawned and reaped (probe helpers), from /proc/self/stat. Then, with
 * the N sessions still there, typed Enter → step green is timed on one more session.
 *
 * Every mode runs in its own child process (its own CPU account, its own sandboxes):
 *   fixed-2s     this code with the old fixed 2 s poll (maxPollMs = pollMs)
 *   backoff      this code as the server runs it
 *   baseline     (with --baseline <dir>) another checkout's code, e.g. main, as it runs
 * usage: node --import tsx bench/idle.ts [--sessions 50] [--settle 35] [--window 60]
 *        [--runs 20] [--baseline /path/to/checkout [--baseline-label 'main 07dbc07']] [--write-docs]
 * (a checkout without .git will do: `git archive main | tar -x -C dir`, node_modules linked in)
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { pct, table, writeSection } from './lib.ts';

const argv = process.argv;
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i > 0 ? argv[i + 1] : undefined;
};
const SESSIONS = Number(arg('sessions') ?? 50);
const SETTLE_S = Number(arg('settle') ?? 35);
const WINDOW_S = Number(arg('window') ?? 60);
const RUNS = Number(arg('runs') ?? 20);
const HERE = resolve(import.meta.dirname, '..');

const resultSchema = z.object({
  mode: z.string(),
  serverCpuS: z.number(),
  childrenCpuS: z.number(),
  liveChildrenCpuS: z.number(),
  windowS: z.number(),
  checkCalls: z.number(),
  latencyMs: z.array(z.number()),
  created: z.number(),
});
type Result = z.infer<typeof resultSchema>;

/** clock ticks per second of /proc/<pid>/stat, asked once (asking spawns a process) */
const TICK = argv.includes('--child') ? Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) : 100;

/** utime+stime of this process and of its reaped children, in seconds */
function cpuTimes(): { self: number; children: number } {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // the fields after the command name, which may contain spaces, start after ')'
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = TICK;
  // f[0] is field 3 (state): utime is field 14, so f[11]
  return { self: (Number(f[11]) + Number(f[12])) / tick, children: (Number(f[13]) + Number(f[14])) / tick };
}

/**
 * utime+stime (own and of reaped children) of every live process below this one:
 * the probe helper is long-lived, so what its forks cost never reaches our cutime.
 * Sandboxed processes (idle shells) are below us too; they count, erring high.
 */
function descendantTicks(): Map<number, number> {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try { stat = readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parent.set(Number(d), Number(f[1]));
    ticks.set(Number(d), Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
  }
  const out = new Map<number, number>();
  const mine = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  for (const [pid, t] of ticks) if (mine(pid)) out.set(pid, t);
  return out;
}

async function child(mode: string, code: string): Promise<Result> {
  const lab = (p: string) => import(join(code, 'lab-server', p));
  const { createSandboxBackend } = await lab('sandbox/index.ts');
  const { CheckEngine } = await lab('checks/engine.ts');
  const { loadChecks } = await lab('checks/load.ts');
  const { loadMessages } = await lab('checks/messages.ts');
  const { LessonCatalog } = await lab('lessons/loader.ts');
  const { defineChecks, pass, pending } = await lab('checks/api.ts');
  type Sb = { onCommand(l: (e: { kind: string }) => void): () => void; spawnPty(o: { terminal: number }): { write(s: string): void }; probe: { processes(): Promise<{ pid: number; hostPid: number }[]> } };
  type Engine = { start(): Engine; stop(): void; idle(): Promise<void>; onStatus(l: (c: { status: string }[]) => void): () => void };
  const backend = createSandboxBackend();
  await backend.checkHost();
  // old fixed poll vs this code's default (the baseline checkout knows no maxPollMs)
  const pollOpts = mode === 'fixed-2s' ? { pollMs: 2000, maxPollMs: 2000 } : {};

  const nextEvent = (s: Sb, kind: string) => new Promise<number>((res) => {
    const off = s.onCommand((e) => { if (e.kind === kind) { off(); res(performance.now()); } });
  });

  // one lesson per session, in turn; every step open
  const catalog = new LessonCatalog();
  const lessons: { checks: Record<string, (l: unknown) => unknown>; messages: unknown; steps: string[] }[] = [];
  for (const id of await catalog.ids()) {
    try {
      const lesson = await catalog.load(id);
      const checks = await loadChecks(lesson.dir);
      const messages = await loadMessages(lesson.dir);
      lessons.push({ checks, messages, steps: lesson.versions.en.steps.map((x: { id: string }) => x.id).filter((x: string) => x in checks) });
    } catch { /* a lesson that does not load is not a session anyone runs */ }
  }
  let checkCalls = 0;
  const counted = (checks: Record<string, (l: unknown) => unknown>) =>
    Object.fromEntries(Object.entries(checks).map(([k, f]) => [k, (l: unknown) => { checkCalls++; return f(l); }]));

  const engines: Engine[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const s: Sb = await backend.create({ label: `bench idle ${i}` });
    const ready = nextEvent(s, 'ready');
    s.spawnPty({ terminal: 1 });
    await ready;
    const l = lessons[i % lessons.length];
    engines.push(new CheckEngine({ sandbox: s, checks: counted(l.checks), steps: l.steps, lang: 'en', messages: l.messages, log: () => {}, ...pollOpts }).start());
  }
  await sleep(SETTLE_S * 1000);
  const calls0 = checkCalls;
  const d0 = descendantTicks();
  const t0 = cpuTimes();
  const w0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const t1 = cpuTimes();
  const windowS = (performance.now() - w0) / 1000;
  const d1 = descendantTicks();
  // a process started in the window counts whole; one that ended in it is in its parent's account
  let liveTicks = 0;
  for (const [pid, t] of d1) liveTicks += t - (d0.get(pid) ?? 0);
  const calls = checkCalls - calls0;

  // typed Enter → green, with the idle sessions still armed
  const latencyMs: number[] = [];
  const s: Sb = await backend.create({ label: 'bench idle latency' });
  const ready = nextEvent(s, 'ready');
  const pty = s.spawnPty({ terminal: 1 });
  await ready;
  const init = (await s.probe.processes()).find((p) => p.pid === 1)!;
  for (let i = 0; i < RUNS; i++) {
    const mark = `/tmp/mark-${i}`;
    const checks = defineChecks({ mark: async (lab: { readFile(pid: number, f: string): Promise<string | null> }) => ((await lab.readFile(init.hostPid, mark)) !== null ? pass() : pending()) });
    let green = 0;
    const engine: Engine = new CheckEngine({ sandbox: s, checks, steps: ['mark'], lang: 'en', log: () => {}, ...pollOpts }).start();
    engine.onStatus((c) => { if (c.some((x) => x.status === 'pass')) green = performance.now(); });
    await engine.idle();
    const cmd = nextEvent(s, 'cmd');
    const t = performance.now();
    pty.write(`touch ${mark}\r`);
    await cmd;
    while (!green) await sleep(5);
    latencyMs.push(green - t);
    engine.stop();
  }
  for (const e of engines) e.stop();
  await backend.destroyAll();
  return { mode, serverCpuS: t1.self - t0.self, childrenCpuS: t1.children - t0.children, liveChildrenCpuS: liveTicks / TICK, windowS, checkCalls: calls, latencyMs, created: SESSIONS };
}

function runChild(mode: string, code: string): Promise<Result> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'bench', 'idle.ts'), '--child', mode, '--code', code,
      '--sessions', String(SESSIONS), '--settle', String(SETTLE_S), '--window', String(WINDOW_S), '--runs', String(RUNS)],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: code });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('exit', (c) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      try { res(resultSchema.parse(JSON.parse(last))); } catch { rej(new Error(`${mode} run failed (exit ${c}): ${out.slice(-500)}`)); }
    });
  });
}

if (argv.includes('--child')) {
  const r = await child(arg('child')!, arg('code')!);
  console.log(JSON.stringify(r));
  process.exit(0);
}

const baseline = arg('baseline');
const modes: [string, string][] = [...(baseline ? [['baseline', resolve(baseline)] as [string, string]] : []), ['fixed-2s', HERE], ['backoff', HERE]];
const results: Result[] = [];
const load0 = os.loadavg()[0];
for (const [mode, code] of modes) {
  console.error(`bench idle: ${mode} (${code}), ${SESSIONS} sessions, settle ${SETTLE_S} s, window ${WINDOW_S} s`);
  results.push(await runChild(mode, code));
}
const label: Record<string, string> = {
  baseline: `baseline: ${arg('baseline-label') ?? baseline} as it runs`,
  'fixed-2s': 'fixed 2 s poll (this code, maxPollMs = 2000)',
  backoff: 'event-driven, backoff 2 s → 30 s (this code)',
};
const core = (s: number, r: Result) => `${((s / r.windowS) * 100).toFixed(2)} %`;
const out = [
  `Idle sessions benchmark, ${new Date().toISOString()}, ${SESSIONS} idle sessions (shell at a prompt, a lesson's checks armed, lessons in turn), `
    + `settle ${SETTLE_S} s, window ${WINDOW_S} s, ${RUNS} latency runs; host load average ${load0.toFixed(1)} → ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`,
  '',
  table(['mode', 'server CPU (% of one core)', 'server process', 'children it reaped', 'live children', 'check calls / session / min', 'typed Enter → green p50 ms', 'p95 ms'],
    results.map((r) => [
      label[r.mode] ?? r.mode,
      core(r.serverCpuS + r.childrenCpuS + r.liveChildrenCpuS, r),
      core(r.serverCpuS, r),
      core(r.childrenCpuS, r),
      core(r.liveChildrenCpuS, r),
      (r.checkCalls / r.created / (r.windowS / 60)).toFixed(1),
      pct(r.latencyMs, 50),
      pct(r.latencyMs, 95),
    ])),
].join('\n');
console.log(out);
if (argv.includes('--write-docs')) writeSection('Idle sessions', out);
