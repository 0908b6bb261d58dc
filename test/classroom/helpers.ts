/**
 * A real lab server with the classroom wired in exactly as `nslab serve` does it
 * (cli/classroom-setup.ts), on a loopback port, with a real SQLite file in a temp
 * dir and the real sandbox back end. Plus a small board-socket client.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createLessonsPlugin } from '../../lab-server/checks/plugin.ts';
import type { ClassroomOptions } from '../../lab-server/classroom/service.ts';
import { setupClassroom, type ClassroomSetup } from '../../lab-server/cli/classroom-setup.ts';
import { SqliteClassroomStore } from '../../lab-server/classroom/sqlite-store.ts';
import { loadSettings } from '../../lab-server/config/settings.ts';
import { createApp, type AppOptions } from '../../lab-server/http/app.ts';
import { LessonCatalog } from '../../lab-server/lessons/loader.ts';
import { realBackend, until, type TestServer } from '../server/client.ts';

export const SECRET = 'test-instructor-secret-0123456789';

export interface ClassroomServer extends TestServer { setup: ClassroomSetup; dataDir: string; dbFile: string }

export async function startClassroomServer(o: { dataDir?: string; port?: number; classroom?: Partial<ClassroomOptions>; app?: Partial<AppOptions> } = {}): Promise<ClassroomServer> {
  const dataDir = o.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'nslab-classroom-srv-'));
  const dbFile = path.join(dataDir, 'classroom.db');
  const logs: string[] = [];
  const catalog = new LessonCatalog();
  const setup = await setupClassroom({
    // the store handed in, as a deployment with another store would: the SQLite one on a temp file
    lessons: createLessonsPlugin({ catalog, pollMs: 500 }), catalog, store: new SqliteClassroomStore({ file: dbFile }),
    settings: loadSettings({ NSLAB_INSTRUCTOR_SECRET: SECRET }), classroom: o.classroom, log: (l) => logs.push(l),
  });
  const lab = createApp({ backend: await realBackend(), webRoot: null, log: (l) => logs.push(l), lessons: setup.lessons, maxSessions: setup.suggestedMaxSessions, ...o.app });
  setup.connect(lab, []);
  const addr = await lab.listen(o.port ?? 0, '127.0.0.1');
  return {
    lab, logs, setup, dataDir, dbFile,
    base: `http://127.0.0.1:${addr.port}`, wsBase: `ws://127.0.0.1:${addr.port}`,
    close: async () => { await setup.close(); await lab.close(); },
  };
}

const REPO = path.resolve(import.meta.dirname, '../..');

/** A real `nslab serve` process on a loopback port, with its output. */
export interface ServeProcess { proc: ChildProcess; out: () => string; port: number; base: string; wsBase: string }

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function serveOn(port: number, env: Record<string, string>, procs: ChildProcess[]): Promise<ServeProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'lab-server/cli.ts', 'serve', '--port', String(port), '--host', '127.0.0.1'], {
    cwd: REPO,
    env: { ...process.env, NSLAB_HOST_TUNING: 'off', NSLAB_INSTRUCTOR_SECRET: SECRET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  await until(() => /instructor board: /.test(out) || proc.exitCode !== null, 'server start', () => out, 4800);
  if (proc.exitCode !== null) throw new Error(`server exited: ${out}`);
  return { proc, out: () => out, port, base: `http://127.0.0.1:${port}`, wsBase: `ws://127.0.0.1:${port}` };
}

/**
 * Start `nslab serve` (with `env` over this process's environment) on a free port.
 * Another test (in a parallel worker) may take a port between our probe and the
 * server's bind, so "in use" means: pick another. The process is added to `procs`.
 */
export async function serveAnywhere(env: Record<string, string>, procs: ChildProcess[]): Promise<ServeProcess> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await serveOn(await freePort(), env, procs);
    } catch (err) {
      if (attempt < 5 && /port is in use/.test((err as Error).message)) continue;
      throw err;
    }
  }
}

/** a clean stop destroys the sandboxes; SIGKILL only if it hangs (the next server reaps those) */
export async function stopServeProcesses(procs: ChildProcess[]): Promise<void> {
  for (const p of procs) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    p.kill('SIGTERM');
    await until(() => p.exitCode !== null || p.signalCode !== null, 'server stop', () => '', 800).catch(() => p.kill('SIGKILL'));
  }
}

/**
 * "other side closed" before any response: the server ended the idle keep-alive
 * connection just as undici reused it (Node closes idle ones after 5 s; undici's 1 s
 * margin is lost to a stalled test process, as under emulation in the v2 VM). The
 * server never read the request, so sending it once more is safe, POST too.
 */
function closedIdleConnection(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code === 'UND_ERR_SOCKET' && /other side closed/.test(cause.message ?? '');
}

export async function call(base: string, method: string, p: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const send = () => fetch(`${base}${p}`, {
    method,
    headers: {
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const res = await send().catch((err: unknown) => { if (closedIdleConnection(err)) return send(); throw err; });
  const text = await res.text();
  let body: any = text;
  try { body = JSON.parse(text); } catch { /* CSV, XML */ }
  return { status: res.status, headers: res.headers, body, text };
}

export async function createWorkshop(base: string, lessons = ['sample-hostname'], title = 'Test workshop') {
  const r = await call(base, 'POST', '/api/classroom/workshops', { token: SECRET, body: { title, lessons } });
  if (r.status !== 201) throw new Error(`create workshop: ${r.status} ${r.text}`);
  return r.body as { id: string; code: string; title: string; lessons: string[] };
}

export async function join(base: string, code: string, name: string) {
  const r = await call(base, 'POST', '/api/classroom/join', { body: { code, name } });
  if (r.status !== 201) throw new Error(`join: ${r.status} ${r.text}`);
  return r.body as { token: string; learner: { id: string; name: string } };
}

export async function openLesson(base: string, token: string, lesson = 'sample-hostname') {
  return call(base, 'POST', `/api/classroom/me/lessons/${lesson}/session`, { token, body: { lang: 'en' } });
}

/** The instructor's board socket. */
export class BoardClient {
  readonly messages: any[] = [];
  readonly output = new Map<number, string>();
  closed: { code: number; reason: string } | null = null;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.output.set(data[0], (this.output.get(data[0]) ?? '') + data.subarray(1).toString('utf8'));
      else this.messages.push(JSON.parse(data.toString()));
    });
    ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; });
    ws.on('error', () => {});
  }
  static async connect(wsBase: string, secret: string | null = SECRET, origin?: string): Promise<BoardClient> {
    const ws = new WebSocket(`${wsBase}/api/classroom/socket`, { headers: origin ? { origin } : {} });
    const c = new BoardClient(ws);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    if (secret !== null) ws.send(JSON.stringify({ type: 'hello', secret }));
    return c;
  }
  send(m: unknown): void { this.ws.send(JSON.stringify(m)); }
  lastBoard(): any { return [...this.messages].reverse().find((m) => m.type === 'board')?.board ?? null; }
  async waitBoard(pred: (b: any) => boolean, what: string): Promise<any> {
    return until(() => { const b = this.lastBoard(); return b && pred(b) ? b : null; }, what, () => JSON.stringify(this.lastBoard())?.slice(0, 2000) ?? 'no board');
  }
  async waitMessage(pred: (m: any) => boolean, what: string): Promise<any> {
    return until(() => this.messages.find(pred), what, () => JSON.stringify(this.messages.slice(-5)));
  }
  async waitClose() { return until(() => this.closed, 'board socket close'); }
  close(): void { this.ws.close(1000); }
}

/** XML well-formedness by a real XML parser (Python's expat), not a regex. */
export function parseXml(xml: string): { root: string; suites: number; cases: number; failures: number; skipped: number } {
  const out = execFileSync('python3', ['-c', [
    'import sys, json, xml.etree.ElementTree as E',
    'r = E.fromstring(sys.stdin.buffer.read())',
    'print(json.dumps({"root": r.tag, "suites": len(r.findall("testsuite")), "cases": len(r.findall(".//testcase")), "failures": len(r.findall(".//failure")), "skipped": len(r.findall(".//skipped"))}))',
  ].join('\n')], { input: xml });
  return JSON.parse(out.toString());
}

/**
 * RFC 4180 parser: quoted fields, doubled quotes, CRLF; throws on malformed input.
 * The export starts with a UTF-8 BOM (for Excel); `bom: true` requires it and strips it.
 */
export function parseCsv(text: string, opts: { bom?: boolean } = {}): string[][] {
  if (opts.bom) {
    if (!text.startsWith('\ufeff')) throw new Error('CSV does not start with a UTF-8 BOM');
    text = text.slice(1);
  }
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; if (i < text.length && !',\r\n'.includes(text[i])) throw new Error(`bad CSV: text after closing quote at ${i}`); continue; }
      field += c; i++; continue;
    }
    if (c === '"') { if (field !== '') throw new Error(`bad CSV: quote inside unquoted field at ${i}`); quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue; }
    if (c === '\n' || c === '\r') throw new Error(`bad CSV: bare line break at ${i}`);
    field += c; i++;
  }
  if (quoted) throw new Error('bad CSV: unterminated quote');
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  const width = rows[0]?.length;
  for (const r of rows) if (r.length !== width) throw new Error(`bad CSV: row with ${r.length} fields, header has ${width}`);
  return rows;
}
