/**
 * bench/terminal: the browser terminal path, next to raw-pty baselines measured in
 * the same run.
 *
 *   throughput  a program prints ~N MB of text; time until the client has parsed it all
 *     - baseline: node-pty on the host -> discarded           (the pty alone)
 *     - baseline: node-pty on the host -> @xterm/headless      (pty + the client's parser)
 *     - sandbox pty (driver, no server) -> @xterm/headless
 *     - nslab: sandbox -> lab server (own process) -> WebSocket -> @xterm/headless, with acks
 *   echo latency  one keystroke to its echo, at a `cat` prompt, p50/p99
 *     - baseline: node-pty on the host
 *     - nslab over the socket, with 0 and with 50 other active sessions
 *       (each other session has a socket and a shell printing the date every second),
 *       and with 4 of them flooding output (their clients, in this process, ack as fast as they can)
 *   memory per idle session  (session + sandbox + open terminal + attached socket)
 *     - lab server: JS heap + buffers growth after GC / N (and RSS growth / N)
 *     - sandbox: its memory cgroup charge (shell, script relay, tmpfs)
 *
 * The lab server runs in a child process (this file with --serve), as in production,
 * so the client's parsing does not share its event loop.
 *
 * usage: node --import tsx bench/terminal.ts [--mb 20] [--samples 300] [--others 50] [--write-docs]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import headless from '@xterm/headless';
import * as pty from 'node-pty';
import WebSocket from 'ws';
import { createApp } from '../lab-server/http/app.ts';
import { createSandboxBackend } from '../lab-server/sandbox/index.ts';
import type { CreateSessionResponse } from '../lab-server/contract/session-protocol.ts';
import { pct, table } from './lib.ts';

const { Terminal } = headless;
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MB = arg('mb', 20);
const SAMPLES = arg('samples', 300);
const OTHERS = arg('others', 50);
const RUNS = arg('runs', 3);
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MARK = 'BENCH-END-OF-OUTPUT';
// text with lines, like real output; the marker is built by the shell so the echoed command line does not match
const FLOOD = `yes 'the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJ' | head -c ${MB * 1_000_000}; echo BENCH-END-OF-""OUTPUT`;

// ------------------------------------------------------------------ server mode (child process)
if (process.argv.includes('--serve')) {
  const backend = createSandboxBackend();
  await backend.checkHost();
  const lab = createApp({ backend, webRoot: null, maxSessions: OTHERS + 20, createBurst: 1000, createPerMinute: 10_000, log: () => {} });
  const addr = await lab.listen(0, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`);
  // the parent asks for our RSS after a full GC (so garbage from earlier phases does not count)
  process.stdin.on('data', () => {
    (globalThis as { gc?: () => void }).gc?.();
    const cpu = process.cpuUsage();
    const m = process.memoryUsage();
    process.stdout.write(`${JSON.stringify({ rss: m.rss, heap: m.heapUsed + m.external, cpuMs: (cpu.user + cpu.system) / 1000, sandboxes: backend.list().map((x) => x.id) })}\n`);
  });
  process.on('SIGTERM', () => { lab.close().then(() => backend.destroyAll()).then(() => process.exit(0)); });
  await new Promise(() => {});
}

/** waits for MARK in a byte stream without decoding everything twice */
function markWatcher() {
  let tail = '';
  return (chunk: Buffer | string): boolean => {
    const s = tail + (typeof chunk === 'string' ? chunk : chunk.toString('latin1'));
    tail = s.slice(-MARK.length);
    return s.includes(MARK);
  };
}

function xterm() { return new Terminal({ cols: 120, rows: 40, scrollback: 1000, allowProposedApi: true }); }

/**
 * A pty feeding a headless xterm with the xterm.js guide's watermark flow control
 * (pause above HIGH bytes written but not yet parsed, resume below LOW), the same
 * watermarks the lab server uses; or, with parse=false, reading and discarding.
 */
function pump(p: pty.IPty, parse: boolean, onMark: () => void, counting: () => boolean = () => true): { bytes: () => number; dispose(): void } {
  const HIGH = 512 * 1024;
  const LOW = 128 * 1024;
  const t = parse ? xterm() : null;
  const seen = markWatcher();
  let bytes = 0;
  let pending = 0;
  let paused = false;
  let done = false;
  p.onData((d) => {
    if (!counting()) return;
    const n = Buffer.byteLength(d);
    bytes += n;
    const hit = seen(d);
    if (!t) { if (hit && !done) { done = true; onMark(); } return; }
    pending += n;
    if (!paused && pending > HIGH) { paused = true; p.pause(); }
    t.write(d, () => {
      pending -= n;
      if (paused && pending < LOW) { paused = false; p.resume(); }
      if (hit && !done) { done = true; onMark(); }
    });
  });
  return { bytes: () => bytes, dispose: () => t?.dispose() };
}

async function hostPtyThroughput(parse: boolean): Promise<number> {
  // (sleep: node-pty may drop the last output of a process that exits at once)
  const p = pty.spawn('/bin/bash', ['-c', `${FLOOD}; sleep 30`], { cols: 120, rows: 40, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } });
  const start = now();
  let pm!: ReturnType<typeof pump>;
  await new Promise<void>((resolve) => { pm = pump(p, parse, resolve); });
  const ms = now() - start;
  p.kill();
  pm.dispose();
  return pm.bytes() / 1e6 / (ms / 1000);
}

async function sandboxPtyThroughput(): Promise<number> {
  const backend = createSandboxBackend();
  const s = await backend.create({ label: 'bench terminal' });
  try {
    const p = s.spawnPty({ terminal: 1, cols: 120, rows: 40 });
    await new Promise<void>((r) => { const off = s.onCommand((e) => { if (e.kind === 'ready') { off(); r(); } }); });
    let counting = false;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => { resolveDone = r; });
    const pm = pump(p, true, () => resolveDone(), () => counting);
    counting = true;
    const start = now();
    p.write(`${FLOOD}\r`);
    await done;
    const ms = now() - start;
    pm.dispose();
    return pm.bytes() / 1e6 / (ms / 1000);
  } finally {
    await s.destroy();
  }
}

// ------------------------------------------------------------------ socket client
class Client {
  readonly ws: WebSocket;
  private onData: ((chunk: Buffer) => void) | null = null;
  private events: any[] = [];
  private waiters: (() => void)[] = [];
  private processed = 0;
  readonly term = xterm();

  constructor(base: string, s: CreateSessionResponse, private readonly parse: boolean) {
    this.ws = new WebSocket(`${base.replace('http', 'ws')}${s.socket}`);
    this.ws.on('open', () => this.ws.send(JSON.stringify({ type: 'hello', token: s.token })));
    this.ws.on('message', (data: Buffer, bin: boolean) => {
      if (!bin) { this.events.push(JSON.parse(data.toString())); for (const w of this.waiters.splice(0)) w(); return; }
      const payload = data.subarray(1);
      const ack = () => {
        this.processed += payload.length;
        if (this.processed >= 32 * 1024) { this.ws.send(JSON.stringify({ type: 'ack', terminal: 1, bytes: this.processed })); this.processed = 0; }
      };
      if (this.parse) this.term.write(payload, ack); else ack();
      this.onData?.(payload);
    });
  }

  async event(pred: (e: any) => boolean): Promise<any> {
    for (;;) {
      const e = this.events.find(pred);
      if (e) return e;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async open(): Promise<void> {
    await this.event((e) => e.type === 'welcome');
    this.ws.send(JSON.stringify({ type: 'open', terminal: 1, cols: 120, rows: 40 }));
    await this.event((e) => e.type === 'command' && e.kind === 'ready');
  }

  type(s: string): void { this.ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(s)])); }

  /** total bytes and time until MARK has been parsed by the client terminal */
  async flood(): Promise<number> {
    const seen = markWatcher();
    let bytes = 0;
    const start = now();
    await new Promise<void>((resolve) => {
      this.onData = (chunk) => {
        bytes += chunk.length;
        if (seen(chunk)) {
          this.onData = null;
          this.term.write('', () => resolve()); // after everything before it is parsed
        }
      };
      this.type(`${FLOOD}\r`);
    });
    const ms = now() - start;
    return bytes / 1e6 / (ms / 1000);
  }

  /** keystroke -> echo frame, at a `cat` prompt */
  async echoLatencies(n: number): Promise<number[]> {
    this.type('stty -icanon; cat\r');
    await sleep(500);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const got = new Promise<void>((resolve) => { this.onData = () => { this.onData = null; resolve(); }; });
      const t = now();
      this.type('a');
      await got;
      out.push(now() - t);
      await sleep(10 + (i % 7) * 3); // a fast typist, not in lockstep with any timer
      if (i % 60 === 59) { this.type('\r'); await sleep(30); }
    }
    this.onData = null;
    this.type('\x03');
    return out;
  }
}

async function hostEchoLatencies(n: number): Promise<number[]> {
  const p = pty.spawn('/bin/bash', ['-c', 'stty -icanon; cat'], { cols: 120, rows: 40, env: { PATH: '/usr/bin:/bin' } });
  return ptyEchoLatencies(p, n);
}

/** the driver's pty without the server: separates the sandbox's share of the latency from ours */
async function sandboxEchoLatencies(n: number): Promise<number[]> {
  const backend = createSandboxBackend();
  const s = await backend.create({ label: 'bench terminal echo' });
  try {
    const p = s.spawnPty({ terminal: 1, cols: 120, rows: 40, command: ['/bin/bash', '-c', 'stty -icanon; cat'] });
    return await ptyEchoLatencies(p, n);
  } finally {
    await s.destroy();
  }
}

async function ptyEchoLatencies(p: pty.IPty, n: number): Promise<number[]> {
  await sleep(500);
  let cb: (() => void) | null = null;
  p.onData(() => { const c = cb; cb = null; c?.(); });
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const got = new Promise<void>((r) => { cb = r; });
    const t = now();
    p.write('a');
    await got;
    out.push(now() - t);
    await sleep(10 + (i % 7) * 3);
    if (i % 60 === 59) { p.write('\r'); await sleep(30); }
  }
  p.kill();
  return out;
}


const mib = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MiB`;
/** what the kernel charges a sandbox: its processes (the shell, script, the pty's crun exec) and tmpfs pages */
function cgroupCharge(id: string): number {
  try { return Number(readFileSync(`/sys/fs/cgroup/memory/nslab/${id}/memory.usage_in_bytes`, 'utf8')); } catch { return NaN; }
}

async function main() {
  const self = fileURLToPath(import.meta.url);
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--serve', '--others', String(OTHERS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()).port));
    child.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  const serverRss = () => new Promise<{ rss: number; heap: number; cpuMs: number; sandboxes: string[] }>((resolve) => {
    child.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString())));
    child.stdin!.write('rss\n');
  });
  const create = async (): Promise<CreateSessionResponse> => {
    const r = await fetch(`${base}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lesson: 'bench' }) });
    if (r.status !== 201) throw new Error(`create: ${r.status} ${await r.text()}`);
    return r.json() as Promise<CreateSessionResponse>;
  };
  try {
    const load0 = loadavg().map((l) => l.toFixed(1)).join(' ');
    console.error('throughput...');
    // best of RUNS for every row: the host is shared, and the best run is the one least disturbed
    const best = async (f: () => Promise<number>) => { let b = 0; for (let i = 0; i < RUNS; i++) b = Math.max(b, await f()); return b; };
    const hostRaw = { mbps: await best(() => hostPtyThroughput(false)) };
    const hostParsed = { mbps: await best(() => hostPtyThroughput(true)) };
    const sandboxParsed = await best(sandboxPtyThroughput);
    const main1 = new Client(base, await create(), true);
    await main1.open();
    const nslabMbps = await best(() => main1.flood());
    // the server's own ceiling and cost: a client that acks without parsing, and the
    // lab server's CPU time per MB it moved
    const raw = new Client(base, await create(), false);
    await raw.open();
    const cpu0 = (await serverRss()).cpuMs;
    const t0 = now();
    const rawMbps = await best(() => raw.flood());
    const serverCpuShare = ((await serverRss()).cpuMs - cpu0) / (now() - t0);
    raw.ws.close();

    console.error('echo latency...');
    const hostEcho = await hostEchoLatencies(SAMPLES);
    const sandboxEcho = await sandboxEchoLatencies(SAMPLES);
    const echo0 = await main1.echoLatencies(SAMPLES);

    console.error(`memory and ${OTHERS} other sessions...`);
    await sleep(500);
    const before = await serverRss();
    const others: Client[] = [];
    for (let i = 0; i < OTHERS; i++) {
      const c = new Client(base, await create(), false);
      await c.open();
      others.push(c);
    }
    await sleep(2000);
    const after = await serverRss();
    const fresh = after.sandboxes.filter((id) => !before.sandboxes.includes(id));
    const charge = fresh.reduce((a, id) => a + cgroupCharge(id), 0) / fresh.length;
    // JS heap + external buffers after a full GC: what sessions hold in the server, steadier than
    // RSS (which the allocator grows and shrinks on its own schedule)
    const serverPer = (after.heap - before.heap) / OTHERS;
    const serverRssPer = (after.rss - before.rss) / OTHERS;
    for (const c of others) c.type('while sleep 1; do date; done\r');
    await sleep(1500);
    const echo50 = await main1.echoLatencies(SAMPLES);
    // the worst neighbours: sessions flooding output as fast as their clients take it
    const FLOODERS = Math.min(4, others.length);
    for (const c of others.slice(0, FLOODERS)) c.type('\x03yes\r');
    await sleep(1000);
    const echoFlood = await main1.echoLatencies(SAMPLES);
    for (const c of others.slice(0, FLOODERS)) c.type('\x03');
    await sleep(500);

    const ms = (v: number[], p: number) => pct(v, p);
    const now_ = new Date().toISOString();
    const out = [
      `Terminal benchmark, ${now_}, ${MB} MB of text per throughput run, ${SAMPLES} keystrokes per latency row,`,
      `${cpus().length} CPUs, load average at start ${load0}`,
      '',
      table(['throughput (program -> client)', 'MB/s', 'vs host pty baseline', 'vs sandbox pty'], [
        ['baseline: host pty -> discarded', hostRaw.mbps, '', ''],
        [`baseline: host pty -> @xterm/headless (best of ${RUNS})`, hostParsed.mbps, '1.00x', ''],
        [`sandbox pty (driver, no server) -> @xterm/headless (best of ${RUNS})`, sandboxParsed, `${(sandboxParsed / hostParsed.mbps).toFixed(2)}x`, '1.00x'],
        [`nslab: sandbox -> server -> WebSocket -> @xterm/headless (best of ${RUNS})`, nslabMbps, `${(nslabMbps / hostParsed.mbps).toFixed(2)}x`, `${(nslabMbps / sandboxParsed).toFixed(2)}x`],
        [`nslab to a client that acks without parsing (best of ${RUNS})`, rawMbps, '', ''],
      ]),
      `lab server CPU while moving that: ${(serverCpuShare * 100).toFixed(0)}% of one core`,
      '',
      table(['echo latency (keystroke -> echo)', 'p50 ms', 'p99 ms'], [
        ['baseline: host pty', ms(hostEcho, 50), ms(hostEcho, 99)],
        ['sandbox pty (driver, no server)', ms(sandboxEcho, 50), ms(sandboxEcho, 99)],
        ['nslab over the socket, 0 other sessions', ms(echo0, 50), ms(echo0, 99)],
        [`nslab over the socket, ${OTHERS} other active sessions`, ms(echo50, 50), ms(echo50, 99)],
        [`nslab over the socket, ${FLOODERS} of them flooding output (yes)`, ms(echoFlood, 50), ms(echoFlood, 99)],
      ].map((r) => r.map((c) => (typeof c === 'number' ? Number(c.toFixed(2)) : c)))),
      '',
      table(['memory per idle session (sandbox + shell + socket)', 'value'], [
        [`lab server process: JS heap + buffers after GC, growth / ${OTHERS}`, mib(serverPer)],
        [`lab server process: RSS growth / ${OTHERS} (allocator noise included)`, mib(serverRssPer)],
        ['sandbox with its shell and terminal (memory cgroup charge, mean)', mib(charge)],
        ['total per idle session', mib(serverPer + charge)],
      ]),
      ...(Number(load0.split(' ')[0]) > cpus().length
        ? ['', `Note: the host was busy with other jobs (load ${load0} on ${cpus().length} CPUs). p99 latencies then measure the`,
          'scheduler more than the terminal path: compare each row with the host-pty baseline of the same run.']
        : []),
    ].join('\n');
    console.log(out);
    for (const c of [main1, ...others]) c.ws.close();
    if (process.argv.includes('--write-docs')) writeDocs(out);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

/** replace (or add) the "## Terminal" section of docs/benchmarks.md, leaving the others alone */
function writeDocs(out: string) {
  const file = new URL('../docs/benchmarks.md', import.meta.url);
  let doc = readFileSync(file, 'utf8');
  const section = `## Terminal\n\n\`\`\`\n${out}\n\`\`\`\n`;
  const re = /## Terminal\n[\s\S]*?(?=\n## |$)/;
  doc = re.test(doc) ? doc.replace(re, section.trimEnd() + '\n') : `${doc.trimEnd()}\n\n${section}`;
  writeFileSync(file, doc);
}

await main();
process.exit(0);
