/**
 * One terminal: a pty in the sandbox, its scrollback, its flow control, and at
 * most one attached client (a "sink").
 *
 * Output path: node-pty onData (strings: node-pty decodes UTF-8 with a streaming
 * decoder, so a string never ends inside a character) -> coalescing buffer ->
 * flush: split into frames of at most maxFrameBytes on character boundaries ->
 * scrollback ring + sink.
 *
 * Coalescing: a shell echoing one keystroke must not wait, and `yes` must not
 * cost one WebSocket frame per 4 KiB pty read. So output is flushed on the next
 * turn of the event loop (setImmediate: whatever the same I/O poll delivered goes
 * in the same frame), unless the terminal is in a burst (the previous flush was
 * less than `coalesceMs` ago and carried at least BURST_BYTES): then flushes are at
 * most one per `coalesceMs`, or at once when maxFrameBytes are waiting. Keystroke
 * echoes are tiny, so they are never held back, however fast someone types.
 */
import { StringDecoder } from 'node:string_decoder';
import type { IPty } from 'node-pty';
import { DEFAULT_FLOW, FlowControl, Pauser, type FlowOptions } from './flow.ts';
import { MAX_COLS, MAX_ROWS, MAX_SERVER_FRAME_BYTES, MIN_COLS, MIN_ROWS } from '../contract/session-protocol.ts';
import { ScrollbackRing, stripAnsi } from './scrollback.ts';
import { splitUtf8 } from './utf8.ts';

export interface TerminalSink {
  /** terminal bytes for the client */
  data(terminal: number, chunk: Buffer): void;
}

export interface TerminalOptions {
  terminal: number;
  cols: number;
  rows: number;
  scrollbackBytes?: number;
  flow?: FlowOptions;
  coalesceMs?: number;
  maxFrameBytes?: number;
  /** bytes that went out to a client (for metrics) */
  onOutput?: (bytes: number) => void;
  /** typed input was dropped because the program did not read it (see input) */
  onInputDropped?: (bytes: number) => void;
}

export class SizeError extends Error {}

/** input waiting for a program that does not read it; beyond this, input is dropped */
export const MAX_QUEUED_INPUT = 1024 * 1024;

/**
 * Bytes node-pty holds for the pty because the kernel would not take them yet. This
 * reads node-pty's (1.x, Unix) private write queue; if a later version changes it,
 * the answer is 0 and input is simply not limited (never refused by mistake).
 */
function writeQueue(p: IPty): { buffer: Uint8Array; offset: number }[] | null {
  const q = (p as unknown as { _writeStream?: { _writeQueue?: unknown } })._writeStream?._writeQueue;
  return Array.isArray(q) ? q : null;
}

export function queuedInput(p: IPty): number {
  let n = 0;
  for (const t of writeQueue(p) ?? []) n += (t?.buffer?.length ?? 0) - (t?.offset ?? 0);
  return n;
}

/**
 * Drop input node-pty is still trying to write. While the kernel refuses it,
 * node-pty retries on every turn of the event loop (setImmediate on EAGAIN), which
 * costs the server CPU for as long as the program does not read; emptying the queue
 * is what node-pty itself does on a write error, and its retry then stops.
 */
function dropQueuedInput(p: IPty): number {
  const q = writeQueue(p);
  const n = queuedInput(p);
  if (q) q.length = 0;
  return n;
}

/** input nobody reads for this long is dropped (see dropQueuedInput) */
const STUCK_INPUT_MS = 3000;

/** a flush at least this big marks a burst of output (see coalescing above) */
const BURST_BYTES = 2048;

export function checkSize(cols: unknown, rows: unknown): string | null {
  const ok = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
  if (!ok(cols, MIN_COLS, MAX_COLS)) return `cols must be an integer ${MIN_COLS}..${MAX_COLS}, got ${JSON.stringify(cols)}`;
  if (!ok(rows, MIN_ROWS, MAX_ROWS)) return `rows must be an integer ${MIN_ROWS}..${MAX_ROWS}, got ${JSON.stringify(rows)}`;
  return null;
}

export class TerminalSession {
  readonly terminal: number;
  readonly scrollback: ScrollbackRing;
  private readonly flow: FlowControl;
  private readonly pauser: Pauser;
  private readonly coalesceMs: number;
  private readonly maxFrameBytes: number;
  private readonly inputDecoder = new StringDecoder('utf8');
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private lastFlush = 0;
  private lastFlushBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private sink: TerminalSink | null = null;
  /** output bytes since the client left; past the ring size the pty is paused (see detach) */
  private detachedBytes = 0;
  private exitInfo: { exitCode: number; signal: number | null } | null = null;
  private readonly exitListeners = new Set<(e: { exitCode: number; signal: number | null }) => void>();
  private _cols: number;
  private _rows: number;
  private readonly onOutput: (bytes: number) => void;
  private readonly onInputDropped: (bytes: number) => void;
  private stuckTimer: NodeJS.Timeout | null = null;
  /** kill(): SIGKILL if the relay has not exited after SIGTERM; cleared at exit so the session can be freed at once */
  private killTimer: NodeJS.Timeout | null = null;
  /**
   * For the classroom's board (docs/classroom.md): read-only observers of this terminal's output, for the
   * instructor's "watch a learner" view. They receive bytes only (no input path) and
   * are outside flow control: a slow watcher must never stall the learner's shell.
   */
  private readonly observers = new Set<(chunk: Buffer) => void>();
  private readonly sizeObservers = new Set<(size: { cols: number; rows: number }) => void>();

  constructor(readonly pty: IPty, opts: TerminalOptions) {
    this.terminal = opts.terminal;
    this._cols = opts.cols;
    this._rows = opts.rows;
    this.scrollback = new ScrollbackRing(opts.scrollbackBytes ?? 256 * 1024);
    this.coalesceMs = opts.coalesceMs ?? 5;
    this.maxFrameBytes = Math.min(opts.maxFrameBytes ?? MAX_SERVER_FRAME_BYTES, MAX_SERVER_FRAME_BYTES);
    this.onOutput = opts.onOutput ?? (() => {});
    this.onInputDropped = opts.onInputDropped ?? (() => {});
    this.pauser = new Pauser(() => pty.pause(), () => pty.resume());
    this.flow = new FlowControl(opts.flow ?? DEFAULT_FLOW, (blocked) => this.pauser.set('flow', blocked));
    pty.onData((s) => this.onData(s));
    pty.onExit(({ exitCode, signal }) => {
      // node-pty can report the exit before the last onData; flush what we have
      this.flush();
      // input still queued can never be written now (node-pty would log EBADF for it)
      dropQueuedInput(pty);
      this.stopStuckWatch();
      if (this.killTimer) { clearTimeout(this.killTimer); this.killTimer = null; }
      this.exitInfo = { exitCode, signal: signal || null };
      for (const l of this.exitListeners) l(this.exitInfo);
    });
  }

  get cols(): number { return this._cols; }
  get rows(): number { return this._rows; }
  get exited(): boolean { return this.exitInfo !== null; }
  get paused(): boolean { return this.pauser.paused; }
  get unacked(): number { return this.flow.unacked; }
  /** bytes waiting in the coalescing buffer (tests and metrics) */
  get buffered(): number { return this.pendingBytes; }

  onExit(l: (e: { exitCode: number; signal: number | null }) => void): () => void {
    if (this.exitInfo) { l(this.exitInfo); return () => {}; }
    this.exitListeners.add(l);
    return () => this.exitListeners.delete(l);
  }

  private onData(s: string): void {
    const buf = Buffer.from(s, 'utf8');
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    if (this.pendingBytes >= this.maxFrameBytes) { this.flush(); return; }
    if (this.timer || this.immediate) return;
    const wait = this.lastFlushBytes >= BURST_BYTES ? this.lastFlush + this.coalesceMs - Date.now() : 0;
    if (wait <= 0) this.immediate = setImmediate(() => { this.immediate = null; this.flush(); });
    else this.timer = setTimeout(() => { this.timer = null; this.flush(); }, wait);
  }

  /** send everything buffered now (also used before a replay so nothing is sent twice) */
  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.immediate) { clearImmediate(this.immediate); this.immediate = null; }
    if (!this.pendingBytes) return;
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.lastFlush = Date.now();
    this.lastFlushBytes = all.length;
    for (const frame of splitUtf8(all, this.maxFrameBytes)) {
      this.scrollback.push(frame);
      for (const o of this.observers) o(frame); // classroom wiring: read-only watchers
      if (this.sink) {
        this.sink.data(this.terminal, frame);
        this.flow.sent(frame.length);
        this.onOutput(frame.length);
      } else {
        this.detachedBytes += frame.length;
      }
    }
    // Nobody is watching and the ring has already been overwritten once: reading
    // on would only burn CPU on output nobody can ever see. The program blocks
    // until a client comes back.
    if (!this.sink && this.detachedBytes > this.scrollback.maxBytes) this.pauser.set('detached', true);
  }

  /**
   * Attach a client: flush, send the scrollback through `replay` (the caller frames
   * it with replay-start/-end events), then live output goes to the sink.
   */
  attach(sink: TerminalSink, replay: (data: Buffer, truncated: boolean) => void): void {
    this.flush();
    this.sink = null;
    this.flow.reset();
    const data = this.scrollback.snapshot();
    replay(data, this.scrollback.truncated);
    this.sink = sink;
    this.flow.sent(data.length);
    this.onOutput(data.length);
    this.detachedBytes = 0;
    this.pauser.set('detached', false);
  }

  /**
   * For the classroom's board (docs/classroom.md): size changes, so a watcher draws
   * the output at the learner's width. Output buffered before the change is flushed
   * first, so a watcher sees it at the old size and what follows at the new one.
   */
  observeSize(listener: (size: { cols: number; rows: number }) => void): () => void {
    this.sizeObservers.add(listener);
    return () => this.sizeObservers.delete(listener);
  }

  /** For the classroom's board (docs/classroom.md): watch output read-only; returns the unsubscribe function. */
  observe(listener: (chunk: Buffer) => void): () => void {
    this.observers.add(listener);
    return () => this.observers.delete(listener);
  }

  detach(): void {
    this.flush();
    this.sink = null;
    this.detachedBytes = 0;
    // acks of bytes in flight will never come: forget them
    this.flow.reset();
  }

  ack(bytes: number): void {
    this.flow.ack(bytes);
  }

  /**
   * Keystrokes from the client. Bytes are decoded with a streaming decoder so a
   * character split across two WebSocket frames still reaches the shell intact.
   *
   * Returns false (and drops the input) when the program is not reading its input
   * and MAX_QUEUED_INPUT bytes are already waiting: node-pty queues writes the
   * kernel refuses in server memory without limit, so a client pasting into
   * `sleep 1000` forever would otherwise grow the server without bound.
   */
  input(data: Uint8Array): boolean {
    if (this.exitInfo) return true;
    if (queuedInput(this.pty) > MAX_QUEUED_INPUT) return false;
    const s = this.inputDecoder.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (s) this.pty.write(s);
    if (queuedInput(this.pty) > 0) this.watchStuckInput();
    return true;
  }

  /**
   * While input is queued, check once a second whether the program reads it; if the
   * queue has not shrunk for STUCK_INPUT_MS, drop it and tell the client. Ordinary
   * typing never queues (the kernel takes it at once), so this runs only after a
   * paste into a program that does not read.
   */
  private watchStuckInput(): void {
    if (this.stuckTimer) return;
    let last = queuedInput(this.pty);
    let since = Date.now();
    this.stuckTimer = setInterval(() => {
      const q = queuedInput(this.pty);
      if (q === 0 || this.exitInfo) return this.stopStuckWatch();
      if (q < last) { last = q; since = Date.now(); return; }
      if (Date.now() - since >= STUCK_INPUT_MS) {
        this.stopStuckWatch();
        this.onInputDropped(dropQueuedInput(this.pty));
      }
    }, 1000);
    this.stuckTimer.unref();
  }

  private stopStuckWatch(): void {
    if (this.stuckTimer) clearInterval(this.stuckTimer);
    this.stuckTimer = null;
  }

  /** type text (e.g. a lesson's run button) */
  write(text: string): void {
    if (!this.exitInfo) this.pty.write(text);
  }

  resize(cols: number, rows: number): void {
    const problem = checkSize(cols, rows);
    if (problem) throw new SizeError(problem);
    if (cols === this._cols && rows === this._rows) return;
    if (this.sizeObservers.size) this.flush();
    this._cols = cols;
    this._rows = rows;
    for (const o of this.sizeObservers) o({ cols, rows });
    if (!this.exitInfo) {
      try { this.pty.resize(cols, rows); } catch { /* the pty closed between exit and our event */ }
    }
  }

  /** recent output as plain text */
  text(): string {
    this.flush();
    return stripAnsi(this.scrollback.snapshot().toString('utf8'));
  }

  /**
   * End the terminal. SIGTERM: the pty's process is nslab-reaper, which passes it
   * to crun and the script(1) relay inside (the relay hangs up the shell and exits,
   * in a second or two: an interactive bash ignores SIGTERM) and SIGKILLs crun 3 s
   * later if it is still there, reaping what crun leaves. SIGKILL from here would
   * orphan crun itself, so it is only the last resort.
   */
  kill(): void {
    this.flush();
    if (this.exitInfo) return;
    dropQueuedInput(this.pty); // nobody wants it now, and it could only fail once the pty closes
    this.stopStuckWatch();
    try { this.pty.kill('SIGTERM'); } catch { /* already gone */ }
    if (this.killTimer) return;
    this.killTimer = setTimeout(() => {
      this.killTimer = null;
      if (!this.exitInfo) try { this.pty.kill('SIGKILL'); } catch { /* already gone */ }
    }, 5000);
    this.killTimer.unref();
  }
}
