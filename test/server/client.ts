/**
 * Test helpers: a real lab server on a loopback port with the real sandbox back
 * end, and a lab client speaking the socket protocol with @xterm/headless
 * terminals (acking what they processed, as the web app does).
 */
import headless from '@xterm/headless';
import WebSocket from 'ws';
import { createApp, type AppOptions, type LabServer } from '../../lab-server/http/app.ts';
import { createSandboxBackend, type LocalBackend } from '../../lab-server/sandbox/index.ts';
import type { CreateSessionResponse, ServerEvent, WelcomeEvent } from '../../lab-server/contract/session-protocol.ts';

const { Terminal } = headless;
type HeadlessTerminal = InstanceType<typeof Terminal>;

let backend: LocalBackend | null = null;
export async function realBackend(): Promise<LocalBackend> {
  if (!backend) {
    backend = createSandboxBackend();
    await backend.checkHost();
    await backend.images.ensureBuilt('default', (l) => console.log(l));
  }
  return backend;
}

export interface TestServer { lab: LabServer; base: string; wsBase: string; logs: string[]; close(): Promise<void> }

export async function startServer(opts: Partial<AppOptions> = {}): Promise<TestServer> {
  const logs: string[] = [];
  const lab = createApp({ backend: await realBackend(), webRoot: null, log: (l) => logs.push(l), ...opts });
  const addr = await lab.listen(0, '127.0.0.1');
  return {
    lab, logs, base: `http://127.0.0.1:${addr.port}`, wsBase: `ws://127.0.0.1:${addr.port}`,
    close: () => lab.close(),
  };
}

export async function api(srv: TestServer, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${srv.base}${path}`, {
    method,
    headers: {
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    },
    body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: any = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, body };
}

export async function createSession(srv: TestServer, lesson = 'any-lesson'): Promise<CreateSessionResponse> {
  const r = await api(srv, 'POST', '/api/sessions', { body: { lesson, lang: 'en' } });
  if (r.status !== 201) throw new Error(`create session: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export interface ConnectOptions {
  token?: string | null;
  queryToken?: string;
  origin?: string;
  /** false: never ack (a stalled client) */
  ack?: boolean;
  hello?: boolean;
}

/** wait for a condition, polling; throws with `what` and context on timeout (not an assertion on time) */
export async function until<T>(f: () => T | undefined | null | false, what: string, context: () => string = () => '', tries = 1200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}\n${context()}`);
}

export class LabClient {
  readonly events: ServerEvent[] = [];
  readonly terms = new Map<number, HeadlessTerminal>();
  readonly received = new Map<number, number>();
  closed: { code: number; reason: string } | null = null;
  private processed = new Map<number, number>();
  welcome: WelcomeEvent | null = null;

  constructor(readonly ws: WebSocket, private readonly ack: boolean) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const n = data[0];
        const payload = data.subarray(1);
        this.received.set(n, (this.received.get(n) ?? 0) + payload.length);
        this.term(n).write(payload, () => this.onProcessed(n, payload.length));
      } else {
        const e = JSON.parse(data.toString()) as ServerEvent;
        this.events.push(e);
        if (e.type === 'welcome') this.welcome = e;
        if (e.type === 'replay-start' || e.type === 'session-reset') {
          const ts = e.type === 'replay-start' ? [this.term(e.terminal)] : [...this.terms.values()];
          for (const t of ts) t.reset();
        }
      }
    });
    ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; });
    ws.on('error', () => { /* the close event carries what we test */ });
  }

  static async connect(srv: TestServer, s: { id: string; token: string }, o: ConnectOptions = {}): Promise<LabClient> {
    const q = o.queryToken !== undefined ? `?token=${encodeURIComponent(o.queryToken)}` : '';
    const ws = new WebSocket(`${srv.wsBase}/api/sessions/${s.id}/socket${q}`, { headers: o.origin ? { origin: o.origin } : {} });
    const c = new LabClient(ws, o.ack !== false);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    if (o.hello !== false) {
      const token = o.token === undefined ? s.token : o.token;
      ws.send(JSON.stringify({ type: 'hello', ...(token !== null ? { token } : {}) }));
    }
    return c;
  }

  private onProcessed(n: number, bytes: number): void {
    if (!this.ack) return;
    const p = (this.processed.get(n) ?? 0) + bytes;
    // ack in 16 KiB steps (the server asks for at least every ackEveryBytes)
    if (p >= 16 * 1024) {
      this.processed.set(n, 0);
      if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify({ type: 'ack', terminal: n, bytes: p }));
    } else this.processed.set(n, p);
  }

  term(n: number): HeadlessTerminal {
    let t = this.terms.get(n);
    if (!t) {
      t = new Terminal({ cols: 100, rows: 30, scrollback: 5000, allowProposedApi: true });
      this.terms.set(n, t);
    }
    return t;
  }

  send(msg: unknown): void { this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)); }
  type(n: number, text: string): void { this.ws.send(Buffer.concat([Buffer.from([n]), Buffer.from(text, 'utf8')])); }

  /** the terminal's whole buffer (scrollback + screen) as text */
  screen(n: number): string {
    const t = this.terms.get(n);
    if (!t) return '';
    const b = t.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n').replace(/\n+$/, '');
  }

  /** wait until all written data is parsed, then for the screen to match */
  async waitScreen(n: number, re: RegExp): Promise<string> {
    return until(() => { const s = this.screen(n); return re.test(s) ? s : null; }, `terminal ${n} to show ${re}`, () => `screen ${n}:\n${this.screen(n)}\nevents: ${JSON.stringify(this.events.slice(-8))}`);
  }

  async waitEvent<T extends ServerEvent['type']>(type: T, pred: (e: Extract<ServerEvent, { type: T }>) => boolean = () => true, from = 0): Promise<Extract<ServerEvent, { type: T }>> {
    return until(() => this.events.slice(from).find((e) => e.type === type && pred(e as Extract<ServerEvent, { type: T }>)) as Extract<ServerEvent, { type: T }> | undefined,
      `event ${type}`, () => `events: ${JSON.stringify(this.events.slice(-10))}\nclosed: ${JSON.stringify(this.closed)}\n${this.screens()}`);
  }

  async waitClose(): Promise<{ code: number; reason: string }> {
    return until(() => this.closed, 'socket close', () => `events: ${JSON.stringify(this.events.slice(-5))}`);
  }

  /** open terminal n and wait for its first prompt (command-log 'ready') */
  async open(n: number, cols = 100, rows = 30): Promise<void> {
    const from = this.events.length;
    this.term(n).resize(cols, rows);
    this.send({ type: 'open', terminal: n, cols, rows });
    await this.waitEvent('opened', (e) => e.terminal === n, from);
    // a shell that ends before its first prompt fails here, with what it printed
    const first = await until(() => this.events.slice(from).find((e) => (e.type === 'command' && e.terminal === n && e.kind === 'ready') || (e.type === 'exited' && e.terminal === n)),
      `terminal ${n}'s first prompt`, () => `events: ${JSON.stringify(this.events.slice(-10))}\n${this.screens()}`);
    if (first.type === 'exited') throw new Error(`terminal ${n} exited before its first prompt: ${JSON.stringify(first)}\n${this.screens()}`);
  }

  /** every terminal's last lines, for failure messages */
  screens(): string {
    return [...this.terms.keys()].map((t) => `screen ${t}:\n${this.screen(t).trimEnd().slice(-1500)}`).join('\n');
  }

  /** type a line and wait for the command log to report it finished */
  async run(n: number, line: string): Promise<void> {
    const from = this.events.length;
    this.type(n, `${line}\r`);
    await this.waitEvent('command', (e) => e.terminal === n && e.kind === 'cmd', from);
  }

  close(): void { this.ws.close(1000); }
}
