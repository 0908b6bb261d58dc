/**
 * bench/peers: nslab's browser terminal beside the terminals self-hosters run, in one
 * run, with one client for all: the host pty (node-pty, no server: the floor), wetty
 * (node and socket.io, from npm, installed outside the project's dependencies) and ttyd
 * (C; not a Debian package and built from its source, so only when a binary is given
 * with --ttyd PATH: without it its rows say "skipped").
 *
 * Every system runs bash on a pty; nslab's runs in a sandbox, with a lesson's checks
 * armed (`nslab serve` in a child process, no warm pool). Each round, the systems take
 * turns in a rotating order, so every one sees the same noise:
 *   throughput  `yes ... | head -c MB`, until an @xterm/headless in this process has
 *               parsed all of it, with each system's own flow control (best of 3)
 *   echo        a keystroke to the frame that echoes it, at a `cat` prompt: alone, then
 *               with OTHERS other sessions of the same system each printing `date` every second
 *   server CPU  over WINDOW seconds with those OTHERS printing: the server process, the
 *               children it reaped, and its live descendants that are not the workload
 *               (bash, date, sleep): for nslab that includes script(1), nslab-init,
 *               nslab-reaper and the probe helper
 *   memory      per idle session (OTHERS at a prompt, before they print): PSS and RSS of
 *               the server and every process below it, growth / OTHERS
 *
 * usage: node --import tsx bench/peers.ts [--rounds 3] [--mb 20] [--samples 300]
 *          [--others 50] [--window 10] [--lesson ipc-namespace] [--ttyd PATH] [--only NAME] [--write-docs]
 * (--only: the host pty and the systems whose name starts with NAME)
 * Run as root on a quiet machine. wetty is installed once into NSLAB_PEERS_DIR
 * (default /var/tmp/nslab-bench-peers) with npm; its node-pty is built there.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import headless from '@xterm/headless';
import * as pty from 'node-pty';
import WebSocket from 'ws';
import type { CreateSessionResponse } from '../lab-server/contract/session-protocol.ts';
import { serve, type ServeProcess } from '../test/soak/host.ts';
import { pct, table, writeSection } from './lib.ts';

const { Terminal } = headless;
const argv = process.argv;
const arg = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
};
const sarg = (name: string): string | null => { const i = argv.indexOf(`--${name}`); return i < 0 ? null : argv[i + 1] ?? null; };
const ROUNDS = arg('rounds', 3);
const MB = arg('mb', 20);
const SAMPLES = arg('samples', 300);
const OTHERS = arg('others', 50);
const WINDOW_S = arg('window', 10);
const LESSON = sarg('lesson') ?? 'ipc-namespace';
const TTYD = sarg('ttyd');
const PEERS_DIR = process.env.NSLAB_PEERS_DIR ?? '/var/tmp/nslab-bench-peers';
const WETTY_VERSION = '3.2.0';
const TICK_MS = 10; // /proc/PID/stat counts in USER_HZ = 100
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MARK = 'BENCH-END-OF-OUTPUT';
const FLOOD = `yes 'the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJ' | head -c ${MB * 1_000_000}; echo BENCH-END-OF-""OUTPUT`;
const WORKLOAD = new Set(['bash', 'date', 'sleep', 'cat', 'yes', 'head']);
const HIGH = 512 * 1024;
const LOW = 128 * 1024;

// ------------------------------------------------------------------ one terminal connection, any system

/** What every system's client gives the measurements: typing, output, and "all parsed". */
abstract class Conn {
  private tap: ((chunk: string) => void) | null = null;
  private tail = '';
  private readonly term: InstanceType<typeof Terminal> | null;
  private pending = 0;
  private held = false;
  lastOutput = 0;
  constructor(parse: boolean) {
    this.term = parse ? new Terminal({ cols: 120, rows: 40, scrollback: 1000, allowProposedApi: true }) : null;
  }
  abstract type(s: string): void;
  abstract close(): void;
  /** stop or start the sender (each system's own flow control); `processed` bytes were taken in */
  protected abstract hold(on: boolean): void;
  protected abstract processed(bytes: number): void;

  /** called by the subclass with each output chunk */
  protected output(chunk: string): void {
    this.lastOutput = now();
    this.tail = (this.tail + chunk).slice(-200);
    this.tap?.(chunk);
    const n = Buffer.byteLength(chunk);
    if (!this.term) { this.processed(n); return; }
    this.pending += n;
    if (!this.held && this.pending > HIGH) { this.held = true; this.hold(true); }
    this.term.write(chunk, () => {
      this.pending -= n;
      this.processed(n);
      if (this.held && this.pending < LOW) { this.held = false; this.hold(false); }
    });
  }

  /** a prompt: output that ends in `# ` or `$ ` and then rests */
  async prompt(timeoutMs = 60_000): Promise<void> {
    const end = now() + timeoutMs;
    while (!(/[#$] (\x1b\[[0-9;?]*[a-zA-Z])*$/.test(this.tail) && now() - this.lastOutput > 200)) {
      if (now() > end) throw new Error(`no prompt within ${timeoutMs / 1000} s; the screen ends with ${JSON.stringify(this.tail.slice(-80))}`);
      await sleep(20);
    }
  }

  /** MB/s from typing the flood until the client has parsed its end */
  async flood(): Promise<number> {
    let bytes = 0;
    let seen = '';
    const start = now();
    await new Promise<void>((res) => {
      let resolve = res;
      this.tap = (chunk) => {
        bytes += Buffer.byteLength(chunk);
        // look before trimming: the chunk with the mark may go on with the prompt
        const joined = seen + chunk;
        seen = joined.slice(-MARK.length);
        if (joined.includes(MARK)) {
          this.tap = null;
          if (this.term) this.term.write('', () => resolve()); else resolve();
        }
      };
      this.type(`${FLOOD}\r`);
      const watchdog = setInterval(() => {
        if (now() - start > 30_000) console.error(`    flood stuck: ${bytes} bytes, screen ends ${JSON.stringify(this.tail.slice(-120))}`);
      }, 10_000);
      watchdog.unref();
      const done = resolve;
      resolve = () => { clearInterval(watchdog); done(); };
    });
    const ms = now() - start;
    await this.prompt();
    return bytes / 1e6 / (ms / 1000);
  }

  /** keystroke -> the first output after it, at a `cat` with the tty in non-canonical mode */
  async echo(n: number): Promise<number[]> {
    this.type('stty -icanon; cat\r');
    await sleep(500);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const got = new Promise<void>((resolve) => { this.tap = () => { this.tap = null; resolve(); }; });
      const t = now();
      this.type('a');
      await got;
      out.push(now() - t);
      await sleep(10 + (i % 7) * 3); // a fast typist, not in step with any timer
      if (i % 60 === 59) { this.type('\r'); await sleep(30); }
    }
    this.tap = null;
    this.type('\x03');
    await this.prompt();
    return out;
  }

  dispose(): void { this.term?.dispose(); }
}

interface System {
  name: string;
  /** starts the server (if any); returns its pid, or null for the host pty */
  start(): Promise<number | null>;
  connect(parse: boolean): Promise<Conn>;
  stop(): Promise<void>;
}

// ------------------------------------------------------------------ the host pty: the floor

class PtyConn extends Conn {
  constructor(readonly p: pty.IPty, parse: boolean) {
    super(parse);
    p.onData((d) => this.output(d));
  }
  type(s: string): void { this.p.write(s); }
  close(): void { try { this.p.kill(); } catch { /* gone */ } this.dispose(); }
  protected hold(on: boolean): void { if (on) this.p.pause(); else this.p.resume(); }
  protected processed(): void { /* the pause above is the whole flow control */ }
}

const bashEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', TERM: 'xterm-256color', HOME: '/root', PS1: '# ' };

function hostSystem(): System {
  const live = new Set<PtyConn>();
  return {
    name: 'host pty (node-pty, no server)',
    async start() { return null; },
    async connect(parse) {
      const c = new PtyConn(pty.spawn('/bin/bash', ['--norc', '--noprofile', '-i'], { cols: 120, rows: 40, env: bashEnv }), parse);
      live.add(c);
      await c.prompt();
      return c;
    },
    async stop() { for (const c of live) c.close(); live.clear(); },
  };
}

// ------------------------------------------------------------------ nslab

class NslabConn extends Conn {
  readonly ws: WebSocket;
  private unacked = 0;
  private events: { type: string; kind?: string; terminal?: number }[] = [];
  private waiters: (() => void)[] = [];
  constructor(wsBase: string, readonly info: CreateSessionResponse, parse: boolean) {
    super(parse);
    this.ws = new WebSocket(`${wsBase}${info.socket}`);
    this.ws.on('open', () => this.ws.send(JSON.stringify({ type: 'hello', token: info.token })));
    this.ws.on('message', (data: Buffer, bin: boolean) => {
      if (!bin) { this.events.push(JSON.parse(data.toString())); for (const w of this.waiters.splice(0)) w(); return; }
      if (data[0] === 1) this.output(data.subarray(1).toString('utf8'));
    });
    this.ws.on('close', () => { for (const w of this.waiters.splice(0)) w(); });
    this.ws.on('error', () => { /* close follows */ });
  }
  async event(pred: (e: { type: string; kind?: string; terminal?: number }) => boolean): Promise<void> {
    for (;;) {
      if (this.events.some(pred)) return;
      if (this.ws.readyState > WebSocket.OPEN) throw new Error(`session ${this.info.id}: the socket closed`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  type(s: string): void { this.ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(s)])); }
  close(): void { this.ws.close(1000); this.dispose(); }
  // the server pauses the terminal itself when acks fall behind: acks are the flow control
  protected hold(): void { /* acks below */ }
  protected processed(bytes: number): void {
    this.unacked += bytes;
    if (this.unacked >= 32 * 1024) { this.ws.send(JSON.stringify({ type: 'ack', terminal: 1, bytes: this.unacked })); this.unacked = 0; }
  }
}

function nslabSystem(): System {
  let server: ServeProcess | null = null;
  let dataDir = '';
  const live = new Set<NslabConn>();
  return {
    name: `nslab (nslab serve, lesson ${LESSON}, terminal 1)`,
    async start() {
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'nslab-peers-'));
      server = await serve({
        NSLAB_CLASSROOM_DB: path.join(dataDir, 'classroom.db'),
        NSLAB_POOL: '0',
        NSLAB_MAX_SESSIONS: String(OTHERS + 10),
        NSLAB_CREATE_PER_MINUTE: '100000',
        NSLAB_CREATE_BURST: '1000',
      });
      return server.pid;
    },
    async connect(parse) {
      const srv = server!;
      const r = await fetch(`${srv.base}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lesson: LESSON, lang: 'en' }) });
      if (r.status !== 201) throw new Error(`nslab: create session: ${r.status} ${await r.text()}`);
      const c = new NslabConn(srv.wsBase, await r.json() as CreateSessionResponse, parse);
      live.add(c);
      await c.event((e) => e.type === 'welcome');
      c.ws.send(JSON.stringify({ type: 'open', terminal: 1, cols: 120, rows: 40 }));
      await c.event((e) => e.type === 'command' && e.kind === 'ready' && e.terminal === 1);
      await c.prompt();
      return c;
    },
    async stop() {
      const srv = server;
      for (const c of live) {
        c.close();
        if (srv) await fetch(`${srv.base}/api/sessions/${c.info.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${c.info.token}` } }).catch(() => {});
      }
      live.clear();
      await srv?.stop();
      server = null;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ wetty (from npm)

interface SocketIoClient { on(ev: string, f: (...a: any[]) => void): void; emit(ev: string, ...a: unknown[]): void; disconnect(): void }

/** wetty and socket.io-client in PEERS_DIR, installed once with npm (its node-pty is built there) */
function ensureWetty(): { main: string; io: (url: string, opts: object) => SocketIoClient } {
  const pkg = path.join(PEERS_DIR, 'package.json');
  const main = path.join(PEERS_DIR, 'node_modules', 'wetty', 'build', 'main.js');
  const ptyNode = path.join(PEERS_DIR, 'node_modules', 'node-pty', 'build', 'Release', 'pty.node');
  if (!existsSync(main) || !existsSync(ptyNode)) {
    mkdirSync(PEERS_DIR, { recursive: true });
    writeFileSync(pkg, JSON.stringify({
      private: true,
      dependencies: { wetty: WETTY_VERSION, 'socket.io-client': '^4.8.1' },
      // npm runs only the install scripts a package.json allows: node-pty has no Linux prebuild
      allowScripts: { 'node-pty': true },
    }, null, 2));
    console.error(`installing wetty ${WETTY_VERSION} into ${PEERS_DIR} (npm, once)...`);
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: PEERS_DIR, stdio: 'inherit' });
    if (r.status !== 0 || !existsSync(ptyNode)) throw new Error(`npm install of wetty in ${PEERS_DIR} failed (node-pty built: ${existsSync(ptyNode)})`);
  }
  const req = createRequire(pkg);
  return { main, io: req('socket.io-client').io };
}

class WettyConn extends Conn {
  constructor(readonly sock: SocketIoClient, parse: boolean) {
    super(parse);
    sock.on('data', (d: string) => this.output(d));
  }
  type(s: string): void { this.sock.emit('input', s); }
  close(): void { this.sock.disconnect(); this.dispose(); }
  protected hold(): void { /* wetty pauses its pty until commits bring it under its low mark */ }
  // what wetty's own client does: tell the server how much it has written to the terminal
  protected processed(bytes: number): void { this.sock.emit('commit', bytes); }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port')))); });
  });
}

/** closes a system's connections and stops its server process */
async function closeAll(live: Set<Conn>, proc: ChildProcess | null): Promise<void> {
  for (const c of live) c.close();
  live.clear();
  proc?.kill('SIGTERM');
  await sleep(300);
}

async function waitHttp(url: string, what: string, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode} before it listened`);
    try { await fetch(url); return; } catch { await sleep(100); }
  }
  throw new Error(`${what} did not listen within 30 s`);
}

function wettySystem(): System {
  let proc: ChildProcess | null = null;
  let port = 0;
  let wetty: ReturnType<typeof ensureWetty> | null = null;
  const live = new Set<WettyConn>();
  return {
    name: `wetty ${WETTY_VERSION} (node, socket.io)`,
    async start() {
      wetty = ensureWetty();
      port = await freePort();
      proc = spawn(process.execPath, [wetty.main, '--host', '127.0.0.1', '--port', String(port), '--command', 'bash', '--base', '/wetty'], {
        stdio: 'ignore', env: { ...bashEnv, NODE_ENV: 'production' }, cwd: PEERS_DIR,
      });
      await waitHttp(`http://127.0.0.1:${port}/wetty`, 'wetty', proc);
      return proc.pid!;
    },
    async connect(parse) {
      const sock = wetty!.io(`http://127.0.0.1:${port}`, { path: '/wetty/socket.io', transports: ['websocket'], forceNew: true });
      const c = new WettyConn(sock, parse);
      live.add(c);
      sock.on('connect', () => sock.emit('resize', { cols: 120, rows: 40 }));
      await c.prompt();
      return c;
    },
    async stop() {
      await closeAll(live, proc);
      proc = null;
    },
  };
}

// ------------------------------------------------------------------ ttyd (a binary given with --ttyd)

/** ttyd's protocol: binary frames, the first byte a command ('0' input/output, '2'/'3' pause/resume) */
class TtydConn extends Conn {
  constructor(readonly ws: WebSocket, parse: boolean) {
    super(parse);
    ws.on('message', (data: Buffer) => { if (data[0] === 0x30) this.output(data.subarray(1).toString('utf8')); });
  }
  type(s: string): void { this.ws.send(Buffer.concat([Buffer.from('0'), Buffer.from(s)])); }
  close(): void { this.ws.close(); this.dispose(); }
  protected hold(on: boolean): void { this.ws.send(Buffer.from(on ? '2' : '3')); }
  protected processed(): void { /* pause and resume are the flow control */ }
}

function ttydSystem(bin: string): System {
  let proc: ChildProcess | null = null;
  let port = 0;
  const live = new Set<TtydConn>();
  return {
    name: 'ttyd (C, libwebsockets)',
    async start() {
      port = await freePort();
      // -W: writable (ttyd 1.7.4 and later are read-only by default)
      proc = spawn(bin, ['-i', '127.0.0.1', '-p', String(port), '-W', 'bash'], { stdio: 'ignore', env: bashEnv });
      await waitHttp(`http://127.0.0.1:${port}/`, 'ttyd', proc);
      return proc.pid!;
    },
    async connect(parse) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['tty']);
      await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
      const c = new TtydConn(ws, parse);
      live.add(c);
      ws.send(Buffer.from(JSON.stringify({ AuthToken: '', columns: 120, rows: 40 })));
      await c.prompt();
      return c;
    },
    async stop() {
      await closeAll(live, proc);
      proc = null;
    },
  };
}

// ------------------------------------------------------------------ what the host shows

interface Proc { pid: number; ppid: number; comm: string; ticks: number; reaped: number }

function procTable(): Map<number, Proc> {
  const out = new Map<number, Proc>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.set(Number(d), { pid: Number(d), ppid: Number(f[1]), comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), ticks: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) });
    } catch { /* gone */ }
  }
  return out;
}

function below(table: Map<number, Proc>, root: number): Proc[] {
  const kids = new Map<number, number[]>();
  for (const p of table.values()) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p.pid]);
  const out: Proc[] = [];
  const walk = (pid: number) => { for (const k of kids.get(pid) ?? []) { out.push(table.get(k)!); walk(k); } };
  walk(root);
  return out;
}

/** CPU ticks of the server and what serves the terminals below it (not the workload) */
function serverTicks(root: number): number {
  const t = procTable();
  const self = t.get(root);
  if (!self) return NaN;
  let ticks = self.ticks + self.reaped;
  for (const p of below(t, root)) if (!WORKLOAD.has(p.comm)) ticks += p.ticks + p.reaped;
  return ticks;
}

/** PSS and RSS of a process tree (smaps_rollup), bytes */
function treeMemory(root: number): { pss: number; rss: number } {
  const t = procTable();
  let pss = 0;
  let rss = 0;
  for (const pid of [root, ...below(t, root).map((p) => p.pid)]) {
    try {
      const s = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      pss += Number(/^Pss:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
      rss += Number(/^Rss:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
    } catch { /* gone, or a kernel thread */ }
  }
  return { pss, rss };
}

// ------------------------------------------------------------------ the run

interface Result { mbps: number[]; echo0: number[]; echoN: number[]; cpuPct: number[]; pss: number[]; rss: number[] }

async function measure(sys: System, r: Result): Promise<void> {
  const pid = await sys.start();
  try {
    const step = (what: string) => console.error(`  ${sys.name.split(' ')[0]}: ${what}`);
    step('connect');
    const main = await sys.connect(true);
    step('throughput');
    let best = 0;
    for (let i = 0; i < 3; i++) best = Math.max(best, await main.flood());
    r.mbps.push(best);
    step('echo, alone');
    r.echo0.push(...await main.echo(SAMPLES));
    step(`${OTHERS} others`);
    const root = pid ?? process.pid;
    await sleep(500);
    const before = pid ? treeMemory(pid) : null;
    const others: Conn[] = [];
    for (let i = 0; i < OTHERS; i++) others.push(await sys.connect(false));
    await sleep(2000);
    if (pid) {
      const after = treeMemory(pid);
      r.pss.push((after.pss - before!.pss) / OTHERS);
      r.rss.push((after.rss - before!.rss) / OTHERS);
    } else {
      // no server: a session is its bash
      const shells = below(procTable(), process.pid).filter((p) => p.comm === 'bash').map((p) => treeMemory(p.pid));
      r.pss.push(shells.reduce((a, m) => a + m.pss, 0) / shells.length);
      r.rss.push(shells.reduce((a, m) => a + m.rss, 0) / shells.length);
    }
    step('echo and CPU with the others printing');
    for (const c of others) c.type('while sleep 1; do date; done\r');
    await sleep(1500);
    const t0 = now();
    const ticks0 = pid ? serverTicks(root) : 0;
    r.echoN.push(...await main.echo(SAMPLES));
    const left = WINDOW_S * 1000 - (now() - t0);
    if (left > 0) await sleep(left);
    if (pid) r.cpuPct.push(((serverTicks(root) - ticks0) * TICK_MS) / (now() - t0) * 100);
    for (const c of others) c.type('\x03');
    for (const c of others) c.close();
    main.close();
  } finally {
    await sys.stop();
  }
}

const median = (xs: number[]) => pct(xs, 50);
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const mib = (x: number) => (Number.isFinite(x) ? `${(x / 1024 / 1024).toFixed(2)}` : '-');

async function main(): Promise<void> {
  const only = sarg('only');
  const systems: System[] = [hostSystem(), nslabSystem(), wettySystem(), ...(TTYD ? [ttydSystem(TTYD)] : [])]
    .filter((s, i) => i === 0 || !only || s.name.startsWith(only));
  const results = new Map<string, Result>(systems.map((s) => [s.name, { mbps: [], echo0: [], echoN: [], cpuPct: [], pss: [], rss: [] }]));
  const loads: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < systems.length; k++) {
      const sys = systems[(round + k) % systems.length];
      loads.push(os.loadavg()[0].toFixed(1));
      console.error(`round ${round + 1}/${ROUNDS}: ${sys.name}...`);
      await measure(sys, results.get(sys.name)!);
    }
  }
  const host = results.get(systems[0].name)!;
  const rows = systems.map((s) => {
    const r = results.get(s.name)!;
    const ratios = r.mbps.map((m, i) => m / host.mbps[i]);
    return [s.name, f1(median(r.mbps)), `${f2(median(ratios))}x`, `${f2(median(r.echo0))} / ${f2(pct(r.echo0, 99))}`,
      `${f2(median(r.echoN))} / ${f2(pct(r.echoN, 99))}`, r.cpuPct.length ? `${f2(median(r.cpuPct))} %` : '-', `${mib(median(r.pss))} / ${mib(median(r.rss))}`];
  });
  if (!TTYD) rows.push(['ttyd', 'skipped: no --ttyd PATH (not a Debian package; build it from its source)', '', '', '', '', '']);
  const out = [
    `Terminal peers, ${new Date().toISOString()}, ${os.cpus().length} CPUs, ${ROUNDS} rounds in rotating order, ${MB} MB floods (best of 3 per round), ${SAMPLES} keystrokes per echo row per round, ${OTHERS} others, CPU window ${WINDOW_S} s; load average (1 min) at each turn: ${loads.join(' ')}`,
    '',
    table(['system', 'MB/s (median of rounds)', 'vs host pty', 'echo p50 / p99 ms, alone', `echo p50 / p99 ms, ${OTHERS} others printing date every second`, `server CPU (% of a core), ${OTHERS} printing`, 'MiB per idle session, PSS / RSS'], rows),
  ].join('\n');
  console.log(out);
  if (argv.includes('--write-docs')) writeSection('Terminal peers', out);
}

await main();
