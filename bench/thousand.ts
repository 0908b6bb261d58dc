/**
 * bench/thousand: N concurrent sessions on one machine (docs/benchmarks.md, "1,000 sessions").
 *
 * A real `nslab serve` runs as a child process (its CPU is read alone from /proc/PID/stat,
 * with the children it reaped). Sessions are created through the HTTP API in waves, each
 * with a lesson (so its checks are armed) and terminal 1 opened over the session socket
 * up to its first prompt. N - A stay idle; A are active: once a second each types
 * `seq 1 200` key by key (keystroke -> echo frame is one latency sample), presses Enter
 * and waits for the output and the prompt. Over the window: echo p50/p95/p99 of the
 * active ones, the server's CPU, its RSS, and what one session costs (memory, ptys,
 * tasks, open files, memory cgroups). Then every session is deleted and the host is
 * searched for anything left of their sandboxes; the server is stopped and its warm
 * pool searched too.
 *
 * Bounded: a total deadline (--deadline, seconds); on it, or on any error, the sockets
 * close, the server is stopped (SIGKILL and an orphan reap if it hangs) and leftovers
 * are still checked. Before anything starts, the host's pools are checked for what N
 * sessions of this bench take (host-limits.ts, fed the measured per-session footprint
 * below); a pool that is short is named with the sysctl that fixes it, and the bench
 * stops, unless --tune (then the safe raises of host-tuning.ts are applied, until reboot).
 * What `nslab doctor --sessions N` says for N learners trying hard is printed beside it.
 *
 * The client is deliberately lean (no terminal emulator, acks what it received): on a
 * 2-core host, 1,000 @xterm/headless parsers in this process would compete with the server.
 *
 * usage: NSLAB_IMAGES=... nice -n 19 node --import tsx bench/thousand.ts [--sessions 1000]
 *   [--active 50] [--wave 50] [--window 60] [--deadline S] [--tune]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { z } from 'zod';
import type { CreateSessionResponse } from '../lab-server/contract/session-protocol.ts';
import { doctorReport } from '../lab-server/cli/doctor.ts';
import { cgroupDirs } from '../lab-server/sandbox/cgroups.ts';
import { hostInfo } from '../lab-server/sandbox/host.ts';
import { assessHostPools, memoryCgroupsInUse, readHostFacts, sysctlFix, type PoolFinding, type PoolPlan } from '../lab-server/sandbox/host-limits.ts';
import { applyRaises, plannedRaises } from '../lab-server/sandbox/host-tuning.ts';
import { fdKinds, hardLeftovers, leftoverCount, leftovers, ownedSandboxes, reapOwned, SandboxRecorder, serve, waitExited, type OwnedSandbox, type ServeProcess } from '../test/soak/host.ts';
import { pct, table } from './lib.ts';

const argv = process.argv;
const arg = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  const v = i > 0 ? Number(argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
};
const SESSIONS = arg('sessions', 1000);
const ACTIVE = Math.min(arg('active', 50), SESSIONS);
const WAVE = Math.max(1, arg('wave', 50));
const WINDOW_S = arg('window', 60);
/** everything, cleanup included, ends by then: creation is ~1 s per session on a loaded 2-core host */
const DEADLINE_S = arg('deadline', 600 + SESSIONS + WINDOW_S);
const TUNE = argv.includes('--tune');
const POOL = 2;
const LINE = 'seq 1 200';
const TICK = 100; // USER_HZ: /proc/PID/stat counts in 1/100 s on Linux
const MiB = 1024 * 1024;
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What one session of this bench takes from the host's pools, measured by this bench at
 * 60 sessions (2026-12-05, hybrid host; the run prints the values it measures), doubled for
 * headroom: its memory (cgroup charge + its share of the server and host-side helpers),
 * tasks (in the sandbox and beside it) and ptys (the sandbox's devpts and the server's).
 */
const FOOTPRINT = { memoryBytes: 16 * MiB, pids: 16, ptys: 4, files: 128 };
/** fds one session takes in the server process (measured: 5: its socket, pty master, command log, two pipes), doubled */
const FD_PER_SESSION = 10;

// ------------------------------------------------------------------ host pools

/**
 * The pools of the footprint plan that this bench's sessions really fill. fs.file-max is
 * not among them: host-limits sizes it by what a sandbox's memory could hold (the worst
 * case), so it is checked here against the open files a session of this bench has.
 */
const BENCH_POOLS = new Set(['kernel.pty.max', 'kernel.pty.reserve', 'kernel.pid_max', 'kernel.threads-max', 'MemTotal']);

function footprintFindings(sessions: number, fp: typeof FOOTPRINT): PoolFinding[] {
  // one terminal per session here, not MAX_TERMINALS
  const plan: PoolPlan = { maxSessions: sessions, warmPool: POOL, limits: fp, terminalsPerSession: 1, cgroupMode: hostInfo().cgroupMode };
  const facts = readHostFacts();
  const out = assessHostPools(plan, facts).filter((f) => BENCH_POOLS.has(f.sysctl));
  const current = facts.sysctl('fs.file-max');
  const need = (sessions + POOL) * fp.files + Number(facts.sysctl('fs.file-nr')?.split(' ')[0] ?? 0);
  const enough = current !== null && BigInt(current) >= BigInt(need);
  const fix = sysctlFix('fs.file-max', need * 2);
  out.push({ sysctl: 'fs.file-max', current, recommended: String(need), severity: enough ? 'ok' : 'error', why: `${fp.files} open files per session`, fix: enough ? null : fix.fix, sysctlD: enough ? null : fix.sysctlD });
  return out;
}

async function preflight(): Promise<boolean> {
  const short = () => footprintFindings(SESSIONS, FOOTPRINT).filter((f) => f.severity === 'error' || f.severity === 'warn');
  let left = short();
  if (left.length && TUNE) {
    const { applied, failed } = applyRaises(plannedRaises(left));
    for (const r of applied) console.error(`bench: raised ${r.sysctl} ${r.from} -> ${r.to} (until reboot)`);
    for (const f of failed) console.error(`bench: could not raise ${f.raise.sysctl}: ${f.reason}`);
    left = short();
  }
  const doctor = await doctorReport({ sessions: SESSIONS, env: { ...process.env, NSLAB_HOST_TUNING: 'off' } });
  const worst = doctor.findings.filter((f) => f.severity === 'error' || f.severity === 'warn');
  if (worst.length) {
    console.error(`bench: for ${SESSIONS} learners trying hard (512 pids, 64 ptys, the memory limit each), \`nslab doctor --sessions ${SESSIONS}\` wants more (not needed for this bench's idle shells):`);
    for (const f of worst) console.error(`bench:   ${f.sysctl} = ${f.current}, needs ${f.recommended ?? '-'}${f.fix ? `; ${f.fix}` : ''}`);
  }
  // per process, not a sysctl: the server holds ~5 fds per session, this client 1-2 (node raises its soft limit to the hard one)
  const nofile = Number(/^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
  const wantFiles = SESSIONS * FD_PER_SESSION + 1024;
  if (nofile < wantFiles) left.push({ sysctl: 'RLIMIT_NOFILE (hard)', current: String(nofile), recommended: String(wantFiles), severity: 'error', why: 'open files per process', fix: `ulimit -Hn ${wantFiles} in the shell that starts the bench (LimitNOFILE= for a systemd unit)`, sysctlD: null });
  if (!left.length) return true;
  console.error(`bench: the host's pools are short for ${SESSIONS} sessions of this bench (${FOOTPRINT.memoryBytes / MiB} MiB, ${FOOTPRINT.pids} tasks, ${FOOTPRINT.ptys} ptys, ${FOOTPRINT.files} open files each):`);
  for (const f of left) console.error(`bench:   ${f.sysctl} = ${f.current}, needs >= ${f.recommended}; fix: ${f.fix ?? '(none: fewer --sessions)'}`);
  if (!TUNE) console.error('bench: raise them (or pass --tune to raise the safe ones until reboot), then run again');
  return false;
}

// ------------------------------------------------------------------ what the host shows

const welcomeSchema = z.object({ type: z.string(), kind: z.string().optional(), terminal: z.number().optional() }).passthrough();

function statTicks(pid: number): { self: number; reaped: number } {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { self: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
}

/**
 * Live processes below the server outside every sandbox cgroup (the probe helper,
 * nslab-reaper, crun while it runs): their ticks (own and reaped) and RSS.
 */
function hostHelpers(server: number): { ticks: Map<number, number>; rss: number; count: number } {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try { const s = readFileSync(`/proc/${d}/stat`, 'utf8'); parent.set(Number(d), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1])); } catch { /* gone */ }
  }
  const below = (pid: number) => { for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === server) return true; return false; };
  const ticks = new Map<number, number>();
  let rss = 0;
  for (const pid of parent.keys()) {
    if (!below(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes('/nslab/')) continue;
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      ticks.set(pid, Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
      rss += Number(f[21]) * 4096;
    } catch { /* gone */ }
  }
  return { ticks, rss, count: ticks.size };
}

function memAvailable(): number { return Number(/^MemAvailable:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024; }
function rssOf(pid: number): number { return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024; }
function fdsOf(pid: number): number { return readdirSync(`/proc/${pid}/fd`).length; }
function hostCounts() {
  return {
    ptys: Number(readFileSync('/proc/sys/kernel/pty/nr', 'utf8')),
    tasks: Number(/\s\d+\/(\d+)\s/.exec(readFileSync('/proc/loadavg', 'utf8'))![1]),
    files: Number(readFileSync('/proc/sys/fs/file-nr', 'utf8').split(/\s+/)[0]),
    memcgs: memoryCgroupsInUse() ?? 0,
  };
}
/** bytes the kernel charges a sandbox's memory cgroup (v1 memory.usage_in_bytes, v2 memory.current) */
function cgroupCharge(id: string): number {
  for (const d of cgroupDirs(id)) {
    for (const f of ['memory.usage_in_bytes', 'memory.current']) {
      try { if (hostInfo().cgroupMode === 'v2' || d.includes('/memory/')) return Number(readFileSync(path.join(d, f), 'utf8')); } catch { /* not this one */ }
    }
  }
  return NaN;
}

// ------------------------------------------------------------------ a lean session client

class Session {
  readonly ws: WebSocket;
  private events: z.infer<typeof welcomeSchema>[] = [];
  private waiters: (() => void)[] = [];
  private onBytes: ((s: string) => void) | null = null;
  private unacked = 0;
  constructor(wsBase: string, readonly info: CreateSessionResponse) {
    this.ws = new WebSocket(`${wsBase}${info.socket}`);
    this.ws.on('open', () => this.ws.send(JSON.stringify({ type: 'hello', token: info.token })));
    this.ws.on('message', (data: Buffer, bin: boolean) => {
      if (!bin) { this.events.push(welcomeSchema.parse(JSON.parse(data.toString()))); for (const w of this.waiters.splice(0)) w(); return; }
      this.unacked += data.length - 1;
      if (this.unacked >= 16 * 1024) { this.ws.send(JSON.stringify({ type: 'ack', terminal: data[0], bytes: this.unacked })); this.unacked = 0; }
      this.onBytes?.(data.subarray(1).toString('latin1'));
    });
    this.ws.on('close', () => { for (const w of this.waiters.splice(0)) w(); });
    this.ws.on('error', () => { /* close follows */ });
  }
  /** the next event matching `pred` after index `from` (events are kept: a socket sees few) */
  async event(pred: (e: z.infer<typeof welcomeSchema>) => boolean, from = 0): Promise<number> {
    for (;;) {
      const i = this.events.findIndex((e, k) => k >= from && pred(e));
      if (i >= 0) return i;
      if (this.ws.readyState > WebSocket.OPEN) throw new Error(`session ${this.info.id}: socket closed; last events ${JSON.stringify(this.events.slice(-3))}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  async open(): Promise<void> {
    await this.event((e) => e.type === 'welcome');
    this.ws.send(JSON.stringify({ type: 'open', terminal: 1, cols: 100, rows: 30 }));
    await this.event((e) => e.type === 'command' && e.kind === 'ready' && e.terminal === 1);
  }
  type(s: string): void { this.ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(s)])); }

  /** one keystroke -> the first output frame that echoes it (ms), or null after 5 s */
  echo(c: string): Promise<number | null> {
    return new Promise((resolve) => {
      const t = now();
      const timer = setTimeout(() => { this.onBytes = null; resolve(null); }, 5000);
      this.onBytes = (s) => { if (s.includes(c)) { clearTimeout(timer); this.onBytes = null; resolve(now() - t); } };
      this.type(c);
    });
  }
  /** Enter, then the command log's 'cmd' event and the prompt after the output */
  async enter(): Promise<void> {
    const from = this.events.length;
    let tail = '';
    const prompt = new Promise<void>((resolve) => { this.onBytes = (s) => { tail = (tail + s).slice(-64); if (/# (\x1b\[[0-9;?]*[a-zA-Z])*$/.test(tail)) { this.onBytes = null; resolve(); } }; });
    this.type('\r');
    await Promise.all([this.event((e) => e.type === 'command' && e.kind === 'cmd' && e.terminal === 1, from), prompt]);
  }
  close(): void { this.ws.close(1000); }
}

// ------------------------------------------------------------------ the run

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nslab-thousand-'));
let server: ServeProcess | null = null;
let recorder: SandboxRecorder | null = null;
/** every sandbox the server owned (the recorder polls only until the window: 1,000 owner files a poll would load the host) */
const seen = new Map<string, OwnedSandbox>();
function recorded(): OwnedSandbox[] {
  for (const x of recorder?.stop() ?? []) seen.set(x.id, x);
  recorder = null;
  if (server) for (const x of ownedSandboxes(server.pid)) seen.set(x.id, x);
  return [...seen.values()];
}
const sessions: Session[] = [];
let stopping = false;
/** set on the deadline or an error: every wait of run() ends at its next step */
let aborted = false;
function alive(): void { if (aborted) throw new Error('aborted'); }

async function createOne(s: ServeProcess, lesson: string): Promise<{ session: Session; ms: number }> {
  const t = now();
  const r = await fetch(`${s.base}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lesson, lang: 'en' }) });
  if (r.status !== 201) throw new Error(`create session: ${r.status} ${await r.text()}`);
  const session = new Session(s.wsBase, await r.json() as CreateSessionResponse);
  sessions.push(session);
  await session.open();
  return { session, ms: now() - t };
}

async function activeLoop(s: Session, samples: number[], lost: { n: number }): Promise<void> {
  await sleep(Math.random() * 1000);
  while (!stopping) {
    const t0 = now();
    for (const c of LINE) {
      const ms = await s.echo(c);
      if (ms === null) lost.n++; else samples.push(ms);
      await sleep(20 + Math.random() * 40); // a fast typist, not in step with any timer
    }
    await s.enter();
    await sleep(Math.max(0, 1000 - (now() - t0)));
  }
}

async function run(): Promise<string> {
  const load0 = os.loadavg()[0];
  server = await serve({
    NSLAB_CLASSROOM_DB: path.join(dataDir, 'classroom.db'),
    NSLAB_POOL: String(POOL),
    // + one wave: while a session's lesson engine attaches, http/sessions.ts counts it twice
    // (in `creating` and as a running session), so a wave that ends at the cap gets 503 "full"
    NSLAB_MAX_SESSIONS: String(SESSIONS + WAVE),
    NSLAB_CLASSROOM_CAPACITY: String(Math.min(SESSIONS, 10_000)),
    NSLAB_IDLE_MINUTES: '120',
    NSLAB_INACTIVE_MINUTES: '600',
    NSLAB_CREATE_PER_MINUTE: '100000',
    NSLAB_CREATE_BURST: String(Math.max(1000, WAVE * 2)),
    ...(TUNE ? { NSLAB_HOST_TUNING: 'on' } : {}),
  });
  const srv = server;
  alive();
  recorder = new SandboxRecorder(srv.pid, 500);
  const lessons = readdirSync(path.join(import.meta.dirname, '..', 'lessons')).filter((d) => !d.startsWith('.')).sort();
  // warm-up (lesson catalogue, sqlite, lazily loaded code) and the baseline, pool full
  const warm = await createOne(srv, lessons[0]);
  warm.session.close();
  await fetch(`${srv.base}/api/sessions/${warm.session.info.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${warm.session.info.token}` } });
  sessions.length = 0;
  for (let i = 0; i < 600 && ownedSandboxes(srv.pid).length !== POOL; i++) { alive(); await sleep(250); }
  await sleep(2000);
  const base = { host: hostCounts(), rss: rssOf(srv.pid), fds: fdsOf(srv.pid), kinds: fdKinds(srv.pid), helpers: hostHelpers(srv.pid), mem: memAvailable() };

  const createMs: number[] = [];
  const tc = now();
  for (let w = 0; w * WAVE < SESSIONS; w++) {
    alive();
    const k = Math.min(WAVE, SESSIONS - w * WAVE);
    const made = await Promise.all(Array.from({ length: k }, (_, i) => createOne(srv, lessons[(w * WAVE + i) % lessons.length])));
    createMs.push(...made.map((m) => m.ms));
    console.error(`bench: wave ${w + 1}: ${w * WAVE + k}/${SESSIONS} sessions at a prompt (${((now() - tc) / 1000).toFixed(0)} s), load ${os.loadavg()[0].toFixed(1)}`);
  }
  const createAllS = (now() - tc) / 1000;
  await sleep(5000);
  const full = { host: hostCounts(), rss: rssOf(srv.pid), fds: fdsOf(srv.pid), kinds: fdKinds(srv.pid), helpers: hostHelpers(srv.pid), mem: memAvailable() };
  const ids = ownedSandboxes(srv.pid).map((x) => x.id);
  const charges = ids.map(cgroupCharge).filter(Number.isFinite);
  recorded();
  const charge = charges.reduce((a, b) => a + b, 0) / Math.max(1, charges.length);

  // the window: A active, the rest idle
  const samples: number[] = [];
  const lost = { n: 0 };
  // caught here: a loop that fails while run() is elsewhere must not be an unhandled rejection
  let loopError: Error | null = null;
  const loops = sessions.slice(0, ACTIVE).map((s) => activeLoop(s, samples, lost).catch((e: Error) => { loopError ??= e; }));
  await sleep(3000); // every active loop past its first line
  samples.length = 0; lost.n = 0;
  const c0 = statTicks(srv.pid);
  const h0 = hostHelpers(srv.pid).ticks;
  const w0 = now();
  const loadW0 = os.loadavg()[0];
  let rssMax = 0;
  while (now() - w0 < WINDOW_S * 1000) {
    alive();
    if (loopError) throw loopError;
    rssMax = Math.max(rssMax, rssOf(srv.pid));
    await sleep(1000);
  }
  const windowS = (now() - w0) / 1000;
  const c1 = statTicks(srv.pid);
  const h1 = hostHelpers(srv.pid).ticks;
  const echo = [...samples];
  const lostN = lost.n;
  stopping = true;
  await Promise.all(loops);
  if (loopError) throw loopError;
  let helperTicks = 0;
  for (const [pid, t] of h1) helperTicks += t - (h0.get(pid) ?? 0);
  const cpu = (ticks: number) => (ticks / TICK / windowS) * 100;
  const selfPct = cpu(c1.self - c0.self);
  const reapedPct = cpu(c1.reaped - c0.reaped);
  const helpersPct = cpu(helperTicks);

  // delete every session, then search the host
  const td = now();
  for (const s of sessions) s.close();
  for (let i = 0; i < sessions.length; i += WAVE) {
    await Promise.all(sessions.slice(i, i + WAVE).map(async (s) => {
      const r = await fetch(`${srv.base}/api/sessions/${s.info.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.info.token}` } });
      if (r.status !== 204 && r.status !== 404) throw new Error(`delete ${s.info.id}: ${r.status}`);
    }));
  }
  const deleteS = (now() - td) / 1000;
  for (let i = 0; i < 1200 && ownedSandboxes(srv.pid).length > POOL; i++) { alive(); await sleep(250); }
  // past the server's HTTP keep-alive (5 s), so our idle fetch connections are not counted as its fds
  await sleep(6000);
  const pool = new Set(ownedSandboxes(srv.pid).map((x) => x.id));
  const gone = recorded().filter((x) => !pool.has(x.id));
  const left = hardLeftovers(leftovers(gone));
  const exited = await waitExited(gone, 60_000);
  const metrics = await (await fetch(`${srv.base}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  const after = { fds: fdsOf(srv.pid), kinds: fdKinds(srv.pid), rss: rssOf(srv.pid) };
  const kindDiff = (a: Record<string, number>, b: Record<string, number>, per = 1) => Object.entries(b)
    .map(([k, v]) => [k, (v - (a[k] ?? 0)) / per] as const).filter(([, v]) => v !== 0).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${Number(v.toFixed(2))}`).join(', ');

  const n = SESSIONS;
  const per = {
    memory: charge + (full.rss - base.rss) / n + (full.helpers.rss - base.helpers.rss) / n,
    ptys: (full.host.ptys - base.host.ptys) / n,
    tasks: (full.host.tasks - base.host.tasks) / n,
    files: (full.host.files - base.host.files) / n,
    memcgs: (full.host.memcgs - base.host.memcgs) / n,
  };
  const f2 = (v: number) => v.toFixed(2);
  const mib = (b: number) => `${(b / MiB).toFixed(2)} MiB`;
  const ok = (b: boolean) => (b ? 'yes' : '**no**');
  const p99 = pct(echo, 99);
  const rows: (string | number)[][] = [
    ['sessions at a prompt, checks armed', `${n} (${n - ACTIVE} idle, ${ACTIVE} active)`, `${sessions.length} in ${createAllS.toFixed(0)} s, waves of ${WAVE}`, ok(sessions.length === n)],
    [`create-to-prompt per session, ${WAVE} at once, p50 / p95`, '-', `${f2(pct(createMs, 50))} / ${f2(pct(createMs, 95))} ms`, '-'],
    [`echo keystroke -> echo, ${ACTIVE} active, p50 / p95`, '-', `${f2(pct(echo, 50))} / ${f2(pct(echo, 95))} ms (${echo.length} keys, ${lostN} lost)`, '-'],
    ['echo p99', '<= 10 ms', `${f2(p99)} ms`, ok(p99 <= 10 && lostN === 0)],
    ['server CPU, the process alone', '< 25% of one core', `${f2(selfPct)} %`, ok(selfPct < 25)],
    ['server CPU with the children it reaped', '-', `${f2(selfPct + reapedPct)} %`, '-'],
    ['... and its live host-side helpers (probe, reapers)', '< 25% of one core', `${f2(selfPct + reapedPct + helpersPct)} %`, ok(selfPct + reapedPct + helpersPct < 25)],
    ['server RSS: before / all sessions / window max / after delete', '-', `${mib(base.rss)} / ${mib(full.rss)} / ${mib(rssMax)} / ${mib(after.rss)}`, '-'],
    ['memory per session: sandbox cgroup charge (mean)', '-', mib(charge), '-'],
    ['memory per session: server RSS growth / N', '-', mib((full.rss - base.rss) / n), '-'],
    ['memory per session: host-side helpers RSS growth / N', '-', mib((full.helpers.rss - base.helpers.rss) / n), '-'],
    ['memory per session, total of the three', '-', mib(per.memory), '-'],
    ['memory per session: MemAvailable drop / N (noisy)', '-', mib((base.mem - full.mem) / n), '-'],
    ['host ptys / tasks / open files / memory cgroups per session', '-', `${f2(per.ptys)} / ${f2(per.tasks)} / ${f2(per.files)} / ${f2(per.memcgs)}`, '-'],
    ['server fds per session', '-', `${f2((full.fds - base.fds) / n)} (${kindDiff(base.kinds, full.kinds, n)})`, '-'],
    ['delete every session (DELETE in waves)', '-', `${deleteS.toFixed(1)} s`, '-'],
    ['left behind: processes, cgroups, mounts, files', '0', `${left.processes.length}, ${left.cgroups.length}, ${left.mounts.length}, ${left.files.length}`, ok(leftoverCount({ ...left, exiting: [] }) === 0)],
    ['exiting processes drained by the host PID 1', '0 left', `${exited.left.length} left (${exited.most} at most, ${(exited.waitedMs / 1000).toFixed(1)} s)`, ok(exited.left.length === 0)],
    ['/metrics after: sessions, sockets, terminals', '0, 0, 0', `${metric('nslab_sessions_active')}, ${metric('nslab_sockets')}, ${metric('nslab_terminals_open')}`, ok(metric('nslab_sessions_active') === 0 && metric('nslab_sockets') === 0 && metric('nslab_terminals_open') === 0)],
    ['server fds: before / after delete', 'no growth', `${base.fds} / ${after.fds}${after.fds !== base.fds ? ` (${kindDiff(base.kinds, after.kinds)})` : ''}`, ok(after.fds <= base.fds + 2)],
  ];
  // the recipe: this host's pools against what 1,000 sessions of this footprint take
  const measured = { memoryBytes: Math.ceil(per.memory), pids: Math.ceil(per.tasks), ptys: Math.ceil(per.ptys), files: Math.ceil(per.files) };
  const recipe = footprintFindings(1000, measured).filter((f) => f.severity !== 'ok').map((f) => `  ${f.sysctl} = ${f.current}, needs >= ${f.recommended}${f.sysctlD ? `: ${f.sysctlD}` : f.fix ? `: ${f.fix}` : ''}`);
  for (const l of [...Object.values(left).flat(), ...exited.left].slice(0, 20)) console.error(`bench: left: ${l}`);
  return [
    `${n} sessions benchmark, ${new Date().toISOString()}, ${os.cpus().length} CPUs, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, cgroup ${hostInfo().cgroupMode}; window ${windowS.toFixed(0)} s;`,
    `host load average ${load0.toFixed(1)} at start, ${loadW0.toFixed(1)} at the window, ${os.loadavg()[0].toFixed(1)} at the end`,
    '',
    table(['measure', 'target (issue: 1,000 sessions)', 'measured', 'met'], rows),
    '',
    `per-session footprint measured: ${mib(per.memory)}, ${f2(per.tasks)} tasks, ${f2(per.ptys)} ptys, ${f2(per.files)} open files; for 1,000 such sessions this host ${recipe.length ? 'is short of:' : 'has room.'}`,
    ...recipe,
  ].join('\n');
}

async function cleanup(): Promise<void> {
  stopping = true;
  for (const s of sessions) { try { s.close(); } catch { /* already closed */ } }
  if (server) {
    const pid = server.pid;
    const all = recorded();
    const code = await server.stop(120_000);
    const reaped = await reapOwned(pid);
    if (code !== 0 || reaped) console.error(`bench: server stop exit ${code}; ${reaped} sandbox(es) reaped after it`);
    const left = hardLeftovers(leftovers(all));
    const n = leftoverCount({ ...left, exiting: [] });
    console.error(n ? `bench: AFTER STOP, LEFT BEHIND: ${JSON.stringify(left)}` : `bench: server stopped; nothing of its ${all.length} sandboxes left on the host`);
    server = null;
  }
  rmSync(dataDir, { recursive: true, force: true });
}

if (!(await preflight())) { rmSync(dataDir, { recursive: true, force: true }); process.exit(2); }
console.error(`bench: ${SESSIONS} sessions (${ACTIVE} active) in waves of ${WAVE}, window ${WINDOW_S} s, deadline ${DEADLINE_S} s`);
let timer: NodeJS.Timeout | undefined;
const deadline = new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`deadline of ${DEADLINE_S} s reached`)), DEADLINE_S * 1000); });
// the cleanup itself is bounded too: a server that hangs is SIGKILLed by stop(); this is the last resort
const hard = setTimeout(() => { console.error('bench: cleanup did not finish; exiting (run again: nslab serve reaps orphans at start)'); process.exit(3); }, (DEADLINE_S + 300) * 1000);
hard.unref();
let code = 0;
const running = run();
try {
  console.log(await Promise.race([running, deadline]));
} catch (e) {
  console.error(`bench: ${(e as Error).stack ?? e}`);
  code = 1;
  // closed sockets end every wait of run(); give it a bounded moment, so that a server it was
  // still starting is known (and stopped) before the cleanup
  stopping = true;
  aborted = true;
  for (const s of sessions) s.close();
  await Promise.race([running.catch(() => {}), sleep(30_000)]);
} finally {
  clearTimeout(timer);
  await cleanup();
}
process.exit(code);
