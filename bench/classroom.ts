/**
 * bench/classroom: a 40-learner workshop on this machine, next to a baseline measured
 * in the same run (40 raw sandboxes created at once through the driver):
 *   - 40 joins at once (HTTP), then 40 "open lesson" at once (sandbox + session + checks)
 *   - memory per learner vs per raw sandbox
 *   - server CPU with 40 idle learners (check engines polling)
 *   - board: GET with 40 learners, and step result → board socket update
 * usage: node --import tsx bench/classroom.ts [--learners 40] [--write-docs]
 */
import { loadSettings } from '../lab-server/config/settings.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createLessonsPlugin } from '../lab-server/checks/plugin.ts';
import { setupClassroom } from '../lab-server/cli/classroom-setup.ts';
import { createApp } from '../lab-server/http/app.ts';
import { LessonCatalog } from '../lab-server/lessons/loader.ts';
import { createSandboxBackend } from '../lab-server/sandbox/index.ts';
import { memUsedBytes, pct, table } from './lib.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('learners', 40);
const SECRET = 'bench-instructor-secret-0123456789';
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

const backend = createSandboxBackend();
await backend.checkHost();
await backend.images.ensureBuilt('default', (l) => console.error(l));

// ---- baseline: N raw sandboxes at once
await sleep(500);
const memBase0 = memUsedBytes();
const rawTimes: number[] = [];
const t0 = now();
const raws = await Promise.all(Array.from({ length: N }, async () => {
  const s = now();
  const sb = await backend.create({ label: 'bench classroom baseline' });
  rawTimes.push(now() - s);
  return sb;
}));
const rawWall = now() - t0;
await sleep(1000);
/** memory charged to the sandboxes' own cgroups (page cache of their writable layer included) */
const cgroupMem = async (sbs: { probe: { cgroups(): Promise<{ path: string; memoryUsage: number | null }[]> } }[]) =>
  (await Promise.all(sbs.map(async (sb) => (await sb.probe.cgroups()).find((c) => c.path === '/')?.memoryUsage ?? 0))).reduce((a, b) => a + b, 0) / sbs.length;
const rawMem = await cgroupMem(raws);
void memBase0;
await Promise.all(raws.map((s) => s.destroy()));
await sleep(1000);

// ---- nslab: a real server with the classroom
const dir = mkdtempSync(join(os.tmpdir(), 'nslab-bench-classroom-'));
const catalog = new LessonCatalog();
const setup = await setupClassroom({ lessons: createLessonsPlugin({ catalog }), catalog, dbFile: join(dir, 'classroom.db'), settings: loadSettings({ NSLAB_INSTRUCTOR_SECRET: SECRET }), classroom: { capacity: N }, log: () => {} });
const lab = createApp({ backend, webRoot: null, log: () => {}, lessons: setup.lessons, maxSessions: N + 10 });
setup.connect(lab, []);
const addr = await lab.listen(0, '127.0.0.1');
const base = `http://127.0.0.1:${addr.port}`;
const call = async (method: string, path: string, token?: string, body?: unknown) => {
  const r = await fetch(`${base}${path}`, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: await r.json().catch(() => null) };
};
const w = (await call('POST', '/api/classroom/workshops', SECRET, { title: 'bench', lessons: ['sample-hostname', 'ipc-namespace'] })).body as { code: string };

const joinTimes: number[] = [];
let t = now();
const tokens = await Promise.all(Array.from({ length: N }, async (_, i) => {
  const s = now();
  const r = await call('POST', '/api/classroom/join', undefined, { code: w.code, name: `learner ${i}` });
  joinTimes.push(now() - s);
  if (r.status !== 201) throw new Error(`join ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token as string;
}));
const joinWall = now() - t;

await sleep(500);
const rss0 = process.memoryUsage().rss;
const openTimes: number[] = [];
t = now();
const opened = await Promise.all(tokens.map(async (tok) => {
  const s = now();
  const r = await call('POST', '/api/classroom/me/lessons/sample-hostname/session', tok, { lang: 'en' });
  openTimes.push(now() - s);
  return r.status;
}));
const openWall = now() - t;
if (opened.some((s) => s !== 201)) throw new Error(`open: ${opened.join(',')}`);
await sleep(1000);
const nsSandboxMem = await cgroupMem(lab.sessions.all().map((x) => x.sandbox));
const serverPerLearner = (process.memoryUsage().rss - rss0) / N;

// idle CPU of this process (the server) with N learners' check engines polling
const cpu0 = process.cpuUsage();
const c0 = now();
await sleep(10_000);
const cpu = process.cpuUsage(cpu0);
const idleCpuPct = ((cpu.user + cpu.system) / 1000 / (now() - c0)) * 100;

// board over HTTP
const boardTimes: number[] = [];
for (let i = 0; i < 30; i++) {
  const s = now();
  await call('GET', `/api/classroom/workshops/${w.code}`, SECRET);
  boardTimes.push(now() - s);
}

// step result → board socket update (what an instructor waits for after the learner's check passed)
const ws = new WebSocket(`ws://127.0.0.1:${addr.port}/api/classroom/socket`);
await new Promise((r) => ws.once('open', r));
let resolveBoard: ((at: number) => void) | null = null;
ws.on('message', (d: Buffer, bin: boolean) => { if (!bin && JSON.parse(d.toString()).type === 'board') resolveBoard?.(now()); });
ws.send(JSON.stringify({ type: 'hello', secret: SECRET }));
ws.send(JSON.stringify({ type: 'subscribe', workshop: w.code }));
await sleep(1000);
const sessions = lab.sessions.all();
const pushTimes: number[] = [];
for (let i = 0; i < Math.min(20, sessions.length); i++) {
  await sleep(400); // past the board throttle, so each sample is a cold update
  const got = new Promise<number>((r) => { resolveBoard = r; });
  const s = now();
  await setup.classroom.recordSteps(sessions[i].id, [{ stepId: 'look', status: 'pass', message: null }]);
  pushTimes.push((await got) - s);
}
ws.close();

await setup.close();
await lab.close();
rmSync(dir, { recursive: true, force: true });

const out = [
  `Classroom benchmark, ${new Date().toISOString()}, ${N} learners, ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")} (times are wall clock on a shared machine)`,
  '',
  table(['admission (all at once)', 'wall ms', 'p50 ms', 'p95 ms', 'sandbox cgroup / learner', 'server RSS / learner'], [
    [`baseline: ${N} raw sandboxes (driver create)`, rawWall, pct(rawTimes, 50), pct(rawTimes, 95), `${(rawMem / MiB).toFixed(1)} MiB`, '-'],
    [`${N} joins (POST /join)`, joinWall, pct(joinTimes, 50), pct(joinTimes, 95), '-', '-'],
    [`${N} open lesson (sandbox + session + checks)`, openWall, pct(openTimes, 50), pct(openTimes, 95), `${(nsSandboxMem / MiB).toFixed(1)} MiB`, `${(serverPerLearner / MiB).toFixed(2)} MiB`],
  ]),
  '',
  table(['board', 'p50 ms', 'p95 ms'], [
    [`GET board (${N} learners)`, pct(boardTimes, 50), pct(boardTimes, 95)],
    ['step result → board socket update', pct(pushTimes, 50), pct(pushTimes, 95)],
  ]),
  '',
  `server CPU with ${N} idle learners (check engines polling): ${idleCpuPct.toFixed(1)} % of one core`,
].join('\n');
console.log(out);

if (process.argv.includes('--write-docs')) {
  const file = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { text = '# Benchmarks\n'; }
  const section = `## Classroom\n\n\`node --import tsx bench/classroom.ts --write-docs\`\n\n\`\`\`\n${out}\n\`\`\`\n`;
  const re = /## Classroom\n[\s\S]*?(?=\n## |$)/;
  text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}`;
  writeFileSync(file, text);
}
process.exit(0);
