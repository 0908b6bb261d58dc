/**
 * The terminals of one learner session and the one socket that shows them.
 *
 * A session has one sandbox (replaced on reset) and up to MAX_TERMINALS shells in
 * it. Terminals outlive sockets: a page reload or network blip re-attaches to the
 * same running shells and replays their scrollback. Only one socket is attached at
 * a time; a newer one takes over and the older is closed with 4009 ("replaced"),
 * because two clients acking one pty's output would make flow control meaningless.
 *
 * Authentication and origin checks happen before a socket gets here (http/socket.ts).
 */
import type { WebSocket, RawData } from 'ws';
import type { CommandEvent, NamespaceSet, Sandbox } from '../sandbox/types.ts';
import { DEFAULT_FLOW, type FlowOptions } from './flow.ts';
import {
  clientMessageSchema, CloseCode, decodeTerminalFrame, MAX_CLIENT_MESSAGE_BYTES, MAX_SERVER_FRAME_BYTES, MAX_TERMINALS,
  type ErrorCode, type ServerEvent, type ShellNamespaceKind, type StepsEvent, type TerminalInfo,
} from '../contract/session-protocol.ts';
import { sameKinds, shellNamespaces } from './shell-namespaces.ts';
import type { Lang } from '../contract/lang.ts';
import { checkSize, SizeError, TerminalSession } from './terminal.ts';
import { splitUtf8 } from './utf8.ts';
import { MapSubscription } from './map-subscription.ts';

export interface HubOptions {
  sessionId: string;
  lesson: string;
  lang: Lang;
  lessonTerminals: number;
  scrollbackBytes?: number;
  flow?: FlowOptions & { ackEveryBytes?: number };
  coalesceMs?: number;
  /** the learner did something (typed, opened a terminal): postpones idle reaping */
  onActivity?: () => void;
  onOutputBytes?: (n: number) => void;
  onInputBytes?: (n: number) => void;
  log?: (line: string) => void;
}

/** after this many refused messages on one socket, it is closed with 1008 */
const MAX_BAD_MESSAGES = 20;
/**
 * After a shell dies of SIGKILL, when to look whether anything but init is left in
 * the sandbox: `kill -9 -1` lands everywhere at once, but the other terminals' exits
 * and init's reaping trail it a little. A second look catches a slow one.
 */
const EMPTIED_CHECKS_MS = [300, 1500];
const EMPTIED_REASON = 'every process in the sandbox except its init was killed (SIGKILL, e.g. kill -9 -1)';

export class TerminalHub {
  private sandbox: Sandbox | null = null;
  private readonly terminals = new Map<number, TerminalSession>();
  private socket: WebSocket | null = null;
  private unsubscribe: (() => void)[] = [];
  private lastSteps: StepsEvent | null = null;
  private sandboxDead: string | null = null;
  /** set when the sandbox was emptied by SIGKILL (see SandboxEmptiedEvent); cleared by the next `open` */
  private sandboxEmptied: string | null = null;
  private emptiedTimer: NodeJS.Timeout | null = null;
  /** per terminal: where its shell differs from the sandbox's namespaces (ShellNamespacesEvent) */
  private readonly shellNs = new Map<number, ShellNamespaceKind[]>();
  /** the sandbox's PID 1 namespaces, read at the first command-log report */
  private rootNs: Promise<NamespaceSet | null> | null = null;
  private readonly flow: FlowOptions & { ackEveryBytes: number };
  /** terminals whose input is being dropped (told once per episode) */
  private readonly overflowing = new Set<number>();
  /** the namespace map: wanted while the attached socket is subscribed */
  readonly map: MapSubscription;

  constructor(private readonly opts: HubOptions) {
    this.flow = { ...DEFAULT_FLOW, ...opts.flow };
    this.map = new MapSubscription((snapshot) => this.send({ type: 'map', snapshot }), opts.log);
  }

  get connected(): boolean { return this.socket !== null; }
  get terminalCount(): number { return this.terminals.size; }
  get pausedCount(): number { return [...this.terminals.values()].filter((t) => t.paused).length; }
  terminalInfo(): TerminalInfo[] {
    return [...this.terminals.values()].map((t): TerminalInfo => {
      const ns = this.shellNs.get(t.terminal);
      return { terminal: t.terminal, cols: t.cols, rows: t.rows, ...(ns ? { namespaces: ns } : {}) };
    }).sort((a, b) => a.terminal - b.terminal);
  }
  terminal(n: number): TerminalSession | undefined { return this.terminals.get(n); }
  get steps(): StepsEvent | null { return this.lastSteps; }

  /** Use this sandbox from now on (a new session, or a reset). Old terminals are killed. */
  setSandbox(sandbox: Sandbox): void {
    const reset = this.sandbox !== null;
    this.killTerminals();
    for (const u of this.unsubscribe) u();
    this.sandbox = sandbox;
    this.sandboxDead = null;
    this.cancelEmptiedCheck();
    this.sandboxEmptied = null;
    this.lastSteps = null;
    this.shellNs.clear();
    this.rootNs = null;
    this.map.last = null;
    this.unsubscribe = [
      sandbox.onCommand((e: CommandEvent) => {
        this.send({ type: 'command', kind: e.kind, terminal: e.terminal, command: e.command, status: e.status, at: e.at });
        this.noteShellNamespaces(sandbox, e);
      }),
      sandbox.onExit((reason) => {
        if (this.sandbox !== sandbox) return;
        this.sandboxDead = reason;
        this.send({ type: 'sandbox-died', reason });
      }),
    ];
    if (reset) this.send({ type: 'session-reset' });
  }

  /**
   * Let go of the current sandbox before it is destroyed on purpose (a reset): its
   * shells are killed and its death is not reported as `sandbox-died`; the next
   * setSandbox() sends `session-reset`.
   */
  releaseSandbox(): void {
    this.cancelEmptiedCheck();
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    this.killTerminals();
  }

  /** send an event to the attached socket, if any */
  send(e: ServerEvent): void {
    if (e.type === 'steps') this.lastSteps = e;
    const ws = this.socket;
    if (ws && ws.readyState === ws.OPEN) ws.send(JSON.stringify(e));
  }

  /** the tab label's data; reports are handled in order (one root read, then-chained) */
  private noteShellNamespaces(sandbox: Sandbox, e: CommandEvent): void {
    this.rootNs ??= Promise.resolve().then(() => sandbox.probe.rootNamespaces()).catch(() => null);
    void this.rootNs.then((root) => {
      if (!root || this.sandbox !== sandbox || !this.terminals.has(e.terminal)) return;
      const kinds = shellNamespaces(e.ns, root);
      if (!kinds || sameKinds(this.shellNs.get(e.terminal), kinds)) return;
      this.shellNs.set(e.terminal, kinds);
      this.send({ type: 'shell', terminal: e.terminal, namespaces: kinds });
    });
  }

  private sendError(code: ErrorCode, message: string, terminal?: number): void {
    this.send({ type: 'error', code, message, ...(terminal !== undefined ? { terminal } : {}) });
  }

  /** An authenticated socket (hello already consumed). Replaces any previous one. */
  attachSocket(ws: WebSocket): void {
    const old = this.socket;
    if (old) {
      this.detachSocket(old);
      old.close(CloseCode.replaced, 'This session was opened in another window or tab.');
    }
    this.socket = ws;
    let bad = 0;
    const refuse = (code: ErrorCode, message: string, terminal?: number) => {
      this.sendError(code, message, terminal);
      if (++bad > MAX_BAD_MESSAGES) ws.close(CloseCode.policy, 'Too many malformed messages.');
    };
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (this.socket !== ws) return;
      const buf = toBuffer(data);
      // one learner's odd message must never take the whole server down
      try {
        if (isBinary) this.onBinary(buf, refuse);
        else this.onText(buf, refuse);
      } catch (e) {
        this.opts.log?.(`session ${this.opts.sessionId}: message failed: ${(e as Error)?.stack ?? String(e)}`);
        this.sendError('internal', 'The server could not handle that message; it has been logged.');
      }
    });
    ws.on('close', () => { if (this.socket === ws) this.detachSocket(ws); });
    this.send({
      type: 'welcome', version: 1, session: this.opts.sessionId, lesson: this.opts.lesson, lang: this.opts.lang,
      terminals: this.terminalInfo(), maxTerminals: MAX_TERMINALS, lessonTerminals: this.opts.lessonTerminals,
      flow: { highWater: this.flow.highWater, lowWater: this.flow.lowWater, ackEveryBytes: this.flow.ackEveryBytes },
      maxMessageBytes: MAX_CLIENT_MESSAGE_BYTES,
    });
    if (this.sandboxDead !== null) this.send({ type: 'sandbox-died', reason: this.sandboxDead });
    else if (this.sandboxEmptied !== null) this.send({ type: 'sandbox-emptied', reason: this.sandboxEmptied });
    for (const t of [...this.terminals.values()].sort((a, b) => a.terminal - b.terminal)) this.attachTerminal(t, true);
    if (this.lastSteps) this.send(this.lastSteps);
  }

  private detachSocket(ws: WebSocket): void {
    if (this.socket !== ws) return;
    this.socket = null;
    this.map.set(false);
    for (const t of this.terminals.values()) t.detach();
  }

  private attachTerminal(t: TerminalSession, reattached: boolean): void {
    this.send({ type: 'opened', terminal: t.terminal, cols: t.cols, rows: t.rows, reattached });
    const ws = this.socket;
    if (!ws) return;
    t.attach({ data: (n, chunk) => this.sendData(ws, n, chunk) }, (data, truncated) => {
      if (!reattached) return; // a fresh shell has nothing to replay yet
      this.send({ type: 'replay-start', terminal: t.terminal, bytes: data.length, truncated });
      for (const piece of splitUtf8(data, MAX_SERVER_FRAME_BYTES)) this.sendData(ws, t.terminal, piece);
      this.send({ type: 'replay-end', terminal: t.terminal });
    });
  }

  private sendData(ws: WebSocket, terminal: number, chunk: Buffer): void {
    if (ws.readyState !== ws.OPEN) return;
    const frame = Buffer.allocUnsafe(chunk.length + 1);
    frame[0] = terminal;
    chunk.copy(frame, 1);
    ws.send(frame, { binary: true });
  }

  private onBinary(buf: Buffer, refuse: (c: ErrorCode, m: string, t?: number) => void): void {
    const f = decodeTerminalFrame(buf);
    if (!f) return refuse('bad-terminal', `binary frames start with a terminal number 1..${MAX_TERMINALS}`);
    const t = this.terminals.get(f.terminal);
    if (!t) return refuse('bad-terminal', `terminal ${f.terminal} is not open`, f.terminal);
    this.opts.onInputBytes?.(f.data.length);
    this.opts.onActivity?.();
    if (!t.input(f.data)) {
      // once per overflow episode, not once per dropped frame
      if (!this.overflowing.has(f.terminal)) {
        this.overflowing.add(f.terminal);
        this.sendError('input-overflow', `The program in terminal ${f.terminal} is not reading its input: 1 MiB is already waiting, so more typing is dropped until it reads. If it never will, close the terminal.`, f.terminal);
      }
    } else this.overflowing.delete(f.terminal);
  }

  private onText(buf: Buffer, refuse: (c: ErrorCode, m: string, t?: number) => void): void {
    let raw: unknown;
    try { raw = JSON.parse(buf.toString('utf8')); } catch { return refuse('bad-message', 'text frames must be JSON objects'); }
    // bounds first so an absurd size gets the specific error, not a generic schema one
    if (raw && typeof raw === 'object' && ((raw as { type?: unknown }).type === 'open' || (raw as { type?: unknown }).type === 'resize')) {
      const r = raw as { cols?: unknown; rows?: unknown; terminal?: unknown };
      const problem = checkSize(r.cols, r.rows);
      if (problem) return refuse('bad-size', `terminal size refused: ${problem}`, typeof r.terminal === 'number' ? r.terminal : undefined);
    }
    const parsed = clientMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return refuse('bad-message', `bad message: ${issue ? `${issue.path.join('.') || '(message)'}: ${issue.message}` : 'invalid'}`);
    }
    const m = parsed.data;
    switch (m.type) {
      case 'hello': return; // already authenticated; a repeated hello is harmless
      case 'ping': return this.send({ type: 'pong', ...(m.id !== undefined ? { id: m.id } : {}) });
      case 'ack': { this.terminals.get(m.terminal)?.ack(m.bytes); return; }
      case 'map-subscribe': {
        // a watcher (the board) may want the map already; this socket is what counts here
        if (this.map.subscribed) return;
        this.map.set(true);
        // the current one at once; the engine's next round sends a newer one if the machine changed
        if (this.map.last) this.send({ type: 'map', snapshot: this.map.last });
        return;
      }
      case 'map-unsubscribe': return this.map.set(false);
      case 'open': { this.opts.onActivity?.(); return this.open(m.terminal, m.cols, m.rows); }
      case 'resize': {
        const t = this.terminals.get(m.terminal);
        if (!t) return refuse('bad-terminal', `terminal ${m.terminal} is not open`, m.terminal);
        try { t.resize(m.cols, m.rows); } catch (e) { if (e instanceof SizeError) return refuse('bad-size', e.message, m.terminal); throw e; }
        return this.send({ type: 'resized', terminal: m.terminal, cols: m.cols, rows: m.rows });
      }
      case 'close': {
        const t = this.terminals.get(m.terminal);
        if (!t) return refuse('bad-terminal', `terminal ${m.terminal} is not open`, m.terminal);
        t.kill();
        return;
      }
    }
  }

  /** open terminal n (or resize it if it is running) */
  open(n: number, cols: number, rows: number): void {
    const existing = this.terminals.get(n);
    if (existing) {
      existing.resize(cols, rows);
      this.send({ type: 'resized', terminal: n, cols, rows });
      return;
    }
    if (!this.sandbox || this.sandbox.state !== 'running' || this.sandboxDead !== null) {
      return this.sendError('sandbox-dead', 'The sandbox of this session is gone. Reset the session to get a fresh one.', n);
    }
    let t: TerminalSession;
    try {
      const pty = this.sandbox.spawnPty({ terminal: n, cols, rows });
      t = new TerminalSession(pty, {
        terminal: n, cols, rows, scrollbackBytes: this.opts.scrollbackBytes, flow: this.flow, coalesceMs: this.opts.coalesceMs,
        onOutput: this.opts.onOutputBytes,
        onInputDropped: (bytes) => {
          this.overflowing.delete(n);
          this.sendError('input-overflow', `The program in terminal ${n} did not read ${bytes} bytes of typed or pasted input for a few seconds; they were dropped.`, n);
        },
      });
    } catch (e) {
      this.opts.log?.(`session ${this.opts.sessionId}: terminal ${n} failed to start: ${(e as Error).message}`);
      return this.sendError('spawn-failed', `Terminal ${n} could not start: ${(e as Error).message}`, n);
    }
    this.terminals.set(n, t);
    this.sandboxEmptied = null;
    t.onExit(({ exitCode, signal }) => {
      if (this.terminals.get(n) !== t) return;
      this.terminals.delete(n);
      this.shellNs.delete(n);
      this.send({ type: 'exited', terminal: n, exitCode, signal });
      // crun exec reports a SIGKILLed shell as 137
      if (exitCode === 137 || signal === 9) this.checkEmptied();
    });
    this.attachTerminal(t, false);
  }

  /** type text into terminal n (run buttons, transcripts); false if it is not open */
  type(n: number, text: string): boolean {
    const t = this.terminals.get(n);
    if (!t) return false;
    t.write(text);
    return true;
  }

  /** plain text of terminal n's recent output */
  text(n: number): string {
    return this.terminals.get(n)?.text() ?? '';
  }

  /**
   * A shell died of SIGKILL: if nothing but the sandbox's init is left (the learner
   * ran `kill -9 -1`), tell the learner, who would otherwise only see every terminal
   * exit, and offer a reset. One process scan per check, only after a SIGKILL exit.
   */
  private checkEmptied(): void {
    const sandbox = this.sandbox;
    if (!sandbox || this.emptiedTimer || this.sandboxEmptied !== null) return;
    const live = () => this.sandbox === sandbox && sandbox.state === 'running' && this.sandboxDead === null;
    const look = (i: number) => {
      this.emptiedTimer = setTimeout(() => {
        this.emptiedTimer = null;
        if (!live()) return;
        Promise.resolve().then(() => sandbox.probe.processes()).then((procs) => {
          if (!live() || this.emptiedTimer || this.sandboxEmptied !== null) return;
          // zombies are dead already (init reaps them in a moment)
          if (procs.every((p) => p.pid === 1 || p.state === 'Z')) {
            this.sandboxEmptied = EMPTIED_REASON;
            this.opts.log?.(`session ${this.opts.sessionId}: ${EMPTIED_REASON}`);
            this.send({ type: 'sandbox-emptied', reason: EMPTIED_REASON });
          } else if (i + 1 < EMPTIED_CHECKS_MS.length) look(i + 1);
        }, () => { /* the sandbox is going away: its death is reported by onExit */ });
      }, EMPTIED_CHECKS_MS[i] - (i > 0 ? EMPTIED_CHECKS_MS[i - 1] : 0));
      this.emptiedTimer.unref?.();
    };
    look(0);
  }

  private cancelEmptiedCheck(): void {
    if (this.emptiedTimer) clearTimeout(this.emptiedTimer);
    this.emptiedTimer = null;
  }

  private killTerminals(): void {
    const ts = [...this.terminals.values()];
    this.terminals.clear(); // before kill: their exit must not be reported as a learner's `exit`
    for (const t of ts) { t.detach(); t.kill(); }
  }

  /** end: kill the shells and close the socket with a reason the UI shows */
  close(code: number, reason: string): void {
    this.cancelEmptiedCheck();
    this.killTerminals();
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    const ws = this.socket;
    this.socket = null;
    this.map.set(false);
    ws?.close(code, reason);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
