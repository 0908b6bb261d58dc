/**
 * What the soak and fault tests look at on the host, from outside the lab server:
 * the sandboxes a server process owns, what is left of a sandbox after it should be
 * gone (processes, cgroups in every hierarchy, mounts, files, its uid range), the
 * host's own IPC objects, and a server process's fds, children and memory.
 *
 * Other test files run at the same time on this host (and their sandboxes come and
 * go), so everything is counted per sandbox id and uid range, never as a host-wide
 * total, except the host IPC objects, which no sandbox can create.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { cgroupDirs } from '../../lab-server/sandbox/cgroups.ts';
import { createSandboxBackend } from '../../lab-server/sandbox/index.ts';
import { processTable } from '../procs.ts';
import { until } from '../server/client.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const backend = createSandboxBackend();
export const SANDBOXES_DIR = backend.sandboxesDir;
const CRUN_ROOT = backend.crunRoot;
const UID_DIR = backend.uidClaimDir;
const UID_BASE = backend.cfg.uidBase;

export interface OwnedSandbox { id: string; slot: number; hostUid: number; label?: string }

/** sandboxes whose owner.json names this server pid (live ones: the directory goes at destroy) */
export function ownedSandboxes(pid: number): OwnedSandbox[] {
  const out: OwnedSandbox[] = [];
  for (const id of existsSync(SANDBOXES_DIR) ? readdirSync(SANDBOXES_DIR) : []) {
    try {
      const o = JSON.parse(readFileSync(path.join(SANDBOXES_DIR, id, 'owner.json'), 'utf8')) as { pid: number; slot: number; label?: string };
      if (o.pid === pid) out.push({ id, slot: o.slot, hostUid: UID_BASE + o.slot * 65536, label: o.label });
    } catch { /* half-made or just removed */ }
  }
  return out;
}

/**
 * Tear down what a dead server process left (a test had to SIGKILL it): what the next
 * `nslab serve` would reap at its start, so a failed run leaves nothing behind.
 */
export async function reapOwned(pid: number): Promise<number> {
  const left = ownedSandboxes(pid);
  for (const s of left) await backend.teardown(s.id).catch(() => { /* reaped by someone else meanwhile */ });
  return left.length;
}

/**
 * Records every sandbox a server process owns while it runs (polling: a sandbox lives
 * at least as long as a session's terminals do, far longer than the poll interval).
 */
export class SandboxRecorder {
  readonly seen = new Map<string, OwnedSandbox>();
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: number, everyMs = 50) {
    this.poll();
    this.timer = setInterval(() => this.poll(), everyMs);
  }
  poll(): void { for (const s of ownedSandboxes(this.pid)) this.seen.set(s.id, s); }
  stop(): OwnedSandbox[] { clearInterval(this.timer); this.poll(); return [...this.seen.values()]; }
}

export interface Leftovers {
  /** processes with an address space in a sandbox's uid range or cgroups */
  processes: string[];
  /**
   * processes without one: zombies, and a sandbox init finishing its exit, which waits
   * for zombies reparented to the host's PID 1 (only it can reap them: docs/security.md,
   * known gap 3). They go when the host's PID 1 reaps.
   */
  exiting: string[];
  cgroups: string[];
  mounts: string[];
  files: string[];
}

/** everything of these sandboxes still on the host */
export function leftovers(sandboxes: OwnedSandbox[]): Leftovers {
  const out: Leftovers = { processes: [], exiting: [], cgroups: [], mounts: [], files: [] };
  if (!sandboxes.length) return out;
  const ids = sandboxes.map((s) => s.id);
  for (const p of processTable()) {
    const s = sandboxes.find((x) => (p.uid >= x.hostUid && p.uid < x.hostUid + 65536) || p.cgroup.includes(`/nslab/${x.id}`));
    if (!s) continue;
    const row = `${p.pid} ${p.comm} (${p.state}, uid ${p.uid}, sandbox ${s.id})`;
    (p.state === 'Z' || !p.hasMemory ? out.exiting : out.processes).push(row);
  }
  for (const id of ids) out.cgroups.push(...cgroupDirs(id).filter((d) => existsSync(d)));
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  out.mounts.push(...mountinfo.filter((l) => ids.some((id) => l.includes(id))));
  for (const s of sandboxes) {
    for (const f of [path.join(SANDBOXES_DIR, s.id), path.join(CRUN_ROOT, s.id)]) if (existsSync(f)) out.files.push(f);
    let slotOwner = '';
    try { slotOwner = readFileSync(path.join(UID_DIR, String(s.hostUid), 'sandbox'), 'utf8'); } catch { /* free */ }
    if (slotOwner === path.join(SANDBOXES_DIR, s.id)) out.files.push(path.join(UID_DIR, String(s.hostUid)));
  }
  return out;
}

export function leftoverCount(l: Leftovers): number {
  return l.processes.length + l.cgroups.length + l.mounts.length + l.files.length;
}

/** the leftovers that must be gone at once (everything but `exiting`) */
export function hardLeftovers(l: Leftovers): Omit<Leftovers, 'exiting'> {
  return { processes: l.processes, cgroups: l.cgroups, mounts: l.mounts, files: l.files };
}

/**
 * Waits (polling, up to `ms`) for the exiting processes of these sandboxes to be reaped
 * by the host's PID 1; answers what is still there and how long it took.
 */
export async function waitExited(sandboxes: OwnedSandbox[], ms = 120_000): Promise<{ left: string[]; waitedMs: number; most: number }> {
  const start = Date.now();
  let left = leftovers(sandboxes).exiting;
  let most = left.length;
  while (left.length && Date.now() - start < ms) {
    await new Promise((r) => setTimeout(r, 250));
    left = leftovers(sandboxes).exiting;
    most = Math.max(most, left.length);
  }
  return { left, waitedMs: Date.now() - start, most };
}

/** live (non-zombie) processes of these sandboxes */
export function liveProcesses(sandboxes: OwnedSandbox[]): string[] {
  return leftovers(sandboxes).processes;
}

/**
 * The host's own IPC objects (System V and POSIX queues, in the host's IPC namespace)
 * and namespace-file mounts. A sandbox has an IPC namespace of its own, so nothing it
 * does may ever show up here.
 */
export function hostIpc(): string[] {
  const rows: string[] = [];
  for (const kind of ['msg', 'shm', 'sem']) {
    const lines = readFileSync(`/proc/sysvipc/${kind}`, 'utf8').trim().split('\n').slice(1);
    for (const l of lines) {
      const [key, id] = l.trim().split(/\s+/);
      rows.push(`sysv-${kind} key=${key} id=${id}`);
    }
  }
  // the host has no mqueue mount: mount one in a private mount namespace to list the host's queues
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nslab-soak-mq-'));
  try {
    const names = execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t mqueue none "$1" && ls -A "$1"', 'sh', dir], { encoding: 'utf8' });
    for (const n of names.split('\n').filter(Boolean)) rows.push(`mqueue ${n}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (/ - nsfs /.test(l)) rows.push(`nsfs mount ${l.split(' ')[4]}`);
  }
  return rows.sort();
}

// ---------------------------------------------------------------- a server process

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** what the process's fds point at, counted by kind: for failure messages */
export function fdKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '?';
    try { target = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { /* closed meanwhile */ }
    const kind = target.replace(/\[\d+\]$/, '[]').replace(/^\/dev\/pts\/\d+$/, '/dev/pts/N').replace(/^\/run\/nslab\/sandboxes\/[0-9a-f]+\//, '/run/nslab/sandboxes/ID/');
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

/** live children of a process (zombies excluded) */
export function children(pid: number): string[] {
  return processTable().filter((p) => p.ppid === pid && p.state !== 'Z').map((p) => `${p.pid} ${p.comm}`);
}

export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s*(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export interface ServeProcess {
  proc: ChildProcess;
  pid: number;
  base: string;
  wsBase: string;
  out(): string;
  /** set when started with `inspect`: the V8 inspector of the server process */
  inspector?: Inspector;
  /** SIGTERM and wait for the exit code; after `graceMs` SIGKILL, print what the server said, and answer null */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * `nslab serve --port 0` as a child process, as an operator runs it (classroom,
 * lesson engine, warm pool, orphan reaping at start). `inspect` opens the V8
 * inspector on a loopback port so the test can force a GC and read the heap.
 * NSLAB_HOST_TUNING=off: the server leaves this host's sysctls as they are.
 */
export async function serve(env: Record<string, string>, opts: { inspect?: boolean } = {}): Promise<ServeProcess> {
  const args = [...(opts.inspect ? ['--inspect=127.0.0.1:0'] : []), '--import', 'tsx', 'lab-server/cli.ts', 'serve', '--port', '0', '--host', '127.0.0.1'];
  const proc = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, NSLAB_HOST_TUNING: 'off', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const base = await until(() => /listening on (http:\/\/\S+?)\/ /.exec(out)?.[1] ?? (proc.exitCode !== null ? 'exited' : null), 'nslab serve to listen', () => out, 6000);
  if (base === 'exited') throw new Error(`nslab serve exited: ${out}`);
  // the pool is filled after listen; its sandboxes are part of the steady state
  await until(() => /instructor board: /.test(out), 'the instructor line', () => out);
  const s: ServeProcess = {
    proc, pid: proc.pid!, base, wsBase: base.replace(/^http/, 'ws'), out: () => out,
    stop: async (graceMs = 60_000) => {
      // a connected inspector would make node wait for it at exit
      s.inspector?.close();
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<null>((resolve) => {
        timer = setTimeout(async () => {
          // what keeps its event loop alive (when started with the inspector)
          let handles = '';
          const url = /Debugger listening on (ws:\/\/\S+)/.exec(out)?.[1];
          if (url) {
            try {
              const i = await Inspector.connect(url);
              const r = await i.call('Runtime.evaluate', { returnByValue: true, expression: 'JSON.stringify({ handles: process._getActiveHandles().map((h) => `${h.constructor.name} fd=${h.fd ?? h._handle?.fd ?? "-"} pid=${h.pid ?? "-"}`), requests: process._getActiveRequests().map((r) => r.constructor.name) })' });
              handles = `\nactive handles: ${r.result.value}`;
              i.close();
            } catch (e) { handles = `\n(no handle list: ${(e as Error).message})`; }
          }
          console.error(`nslab serve (pid ${proc.pid}) did not stop ${graceMs} ms after SIGTERM; killing it.${handles}\nIt said:\n${out.slice(-4000)}`);
          proc.kill('SIGKILL');
          resolve(null);
        }, graceMs);
      });
      const code = await Promise.race([exited, hung]);
      clearTimeout(timer);
      return code;
    },
  };
  if (opts.inspect) {
    const url = /Debugger listening on (ws:\/\/\S+)/.exec(out)?.[1];
    if (!url) throw new Error(`no inspector URL in: ${out}`);
    s.inspector = await Inspector.connect(url);
  }
  return s;
}

/** A minimal Chrome DevTools Protocol client: force a full GC, read process.memoryUsage(). */
export class Inspector {
  private nextId = 1;
  private pending = new Map<number, (r: any) => void>();
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.id && this.pending.has(m.id)) { this.pending.get(m.id)!(m); this.pending.delete(m.id); }
    });
  }
  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    return new Inspector(ws);
  }
  call(method: string, params: object = {}): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.error ? reject(new Error(`${method}: ${JSON.stringify(m.error)}`)) : resolve(m.result)));
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }
  /** full GCs (twice: weak callbacks and finalizers free more on the second), then the numbers */
  async memoryAfterGc(): Promise<{ heapUsed: number; external: number; arrayBuffers: number; rss: number }> {
    for (let i = 0; i < 3; i++) {
      await this.call('HeapProfiler.collectGarbage');
      await new Promise((r) => setTimeout(r, 200));
    }
    const r = await this.call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    return JSON.parse(r.result.value);
  }
  close(): void { this.ws.close(); }
}
