/**
 * A terminal in a pod, shaped like node-pty's IPty so that terminal/, grade/ and the
 * CLI use it as they use a local one: an exec with tty over the v5 channels
 * (exec-stream.ts). The pty itself lives in the pod (the kubelet's runtime makes
 * it), so `pid` is not a host pid: it is 0, and nothing above the driver reads it.
 */
import { StringDecoder } from 'node:string_decoder';
import type { IDisposable, IEvent, IPty } from 'node-pty';
import type { ExecStream } from './exec-stream.ts';

type Listener<T> = (e: T) => void;

function event<T>(set: Set<Listener<T>>): IEvent<T> {
  return (listener) => {
    set.add(listener);
    const d: IDisposable = { dispose: () => { set.delete(listener); } };
    return d;
  };
}

/**
 * Input the pod has not taken yet, past which typed input is dropped: a program
 * that never reads its terminal must not make the front hold a learner's endless
 * paste in memory (the bound a local terminal gets from terminal.ts, MAX_QUEUED_INPUT).
 */
export const MAX_UNSENT_INPUT = 1024 * 1024;

/** what the exit of a terminal says when the stream ended without an exit code */
export const LOST_EXIT_CODE = 255;

export class KubePty implements IPty {
  readonly pid = 0;
  handleFlowControl = false;
  private _cols: number;
  private _rows: number;
  private readonly dataListeners = new Set<Listener<string>>();
  private readonly exitListeners = new Set<Listener<{ exitCode: number; signal?: number }>>();
  private readonly decoder = new StringDecoder('utf8');
  private exited: { exitCode: number; signal?: number } | null = null;
  private killed = false;
  readonly onData: IEvent<string> = event(this.dataListeners);
  readonly onExit: IEvent<{ exitCode: number; signal?: number }>;

  constructor(private readonly stream: ExecStream, cols: number, rows: number, readonly process: string, onError?: (msg: string) => void) {
    this._cols = cols;
    this._rows = rows;
    // the size goes first: the shell's first prompt is drawn at it
    stream.resize(cols, rows);
    stream.on('stdout', (b: Buffer) => {
      const s = this.decoder.write(b);
      if (s) for (const l of [...this.dataListeners]) l(s);
    });
    stream.on('end', (r: { code: number } | { error: string }) => {
      const rest = this.decoder.end();
      if (rest) for (const l of [...this.dataListeners]) l(rest);
      if ('error' in r && !this.killed) onError?.(r.error);
      // ended by kill(): the shell got a hangup (SIGHUP, 1), as a local pty's would
      this.exited = 'code' in r ? { exitCode: r.code } : this.killed ? { exitCode: 0, signal: 1 } : { exitCode: LOST_EXIT_CODE };
      for (const l of [...this.exitListeners]) l(this.exited);
    });
    const onExit = event(this.exitListeners);
    // a listener that comes after the end still hears it, as node-pty's does from its queue
    this.onExit = (listener) => {
      const d = onExit(listener);
      if (this.exited) { const e = this.exited; queueMicrotask(() => listener(e)); }
      return d;
    };
  }

  get cols(): number { return this._cols; }
  get rows(): number { return this._rows; }

  resize(cols: number, rows: number): void {
    if (!(Number.isInteger(cols) && Number.isInteger(rows) && cols > 0 && rows > 0)) throw new Error(`bad terminal size ${cols}x${rows}`);
    this._cols = cols;
    this._rows = rows;
    this.stream.resize(cols, rows);
  }

  /** node-pty clears only on Windows; a Unix pty has nothing to clear */
  clear(): void {}

  /** input bytes dropped because the pod did not take them (MAX_UNSENT_INPUT) */
  droppedInput = 0;

  write(data: string | Buffer): void {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (this.stream.unsent + b.length > MAX_UNSENT_INPUT) {
      this.droppedInput += b.length;
      return;
    }
    this.stream.write(b);
  }

  /**
   * Ends the terminal. An exec cannot send a signal: closing the stream makes the
   * runtime close the pod's pty, and the shell gets its hangup (SIGHUP).
   */
  kill(_signal?: string): void {
    this.killed = true;
    this.stream.close();
  }

  pause(): void { this.stream.pause(); }
  resume(): void { this.stream.resume(); }
}
