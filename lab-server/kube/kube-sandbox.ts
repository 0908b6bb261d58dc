/**
 * One sandbox as one pod (kube-backend.ts makes it): terminals and commands go in
 * through `pods/exec` (exec-stream.ts), what checks see comes from the node agent
 * beside the pod (a SandboxView: the probe and the command log), and its death is
 * what the API server says of the pod (deleted, Failed, past activeDeadlineSeconds).
 */
import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import type { IPty } from 'node-pty';
import { SANDBOX_PATH } from '../sandbox/oci-spec.ts';
import type { CommandEvent, ExecResult, Probe, Sandbox, SandboxLimits, SandboxProcess, SandboxState, SpawnOptions } from '../sandbox/types.ts';
import type { KubeApi } from './api-client.ts';
import { ExecStream } from './exec-stream.ts';
import { KubePty } from './kube-pty.ts';

/** What the node agent gives the front about one pod: the probe and its command log. */
export interface SandboxView {
  readonly probe: Probe;
  commands(): readonly CommandEvent[];
  onCommand(listener: (e: CommandEvent) => void): () => void;
  onActivity?(listener: () => void): () => void;
  /** CPU time of the pod's processes so far, µs (Sandbox.cpuTime); null if unknown */
  cpuTime?(): number | null;
  /** the front is done with this pod (its subscriptions can go) */
  close?(): void;
}

export interface PodHandle {
  api: KubeApi;
  namespace: string;
  pod: string;
  container: string;
  /** deletes the pod and resolves when it is gone */
  remove(): Promise<void>;
  /** the back end forgets the sandbox (list() no longer shows it) */
  forget(): void;
}

/**
 * Exec takes no environment or working directory: a small sh runs first, enters
 * the directory and execs env(1) with the variables, then the command.
 */
export function execArgv(command: string[], env: Record<string, string>, cwd: string): string[] {
  for (const k of Object.keys(env)) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`bad environment variable name ${JSON.stringify(k)}`);
  return ['/bin/sh', '-c', 'cd "$1" || exit 127; shift; exec /usr/bin/env "$@"', 'nslab-exec', cwd, '--', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...command];
}

export class KubeSandbox implements Sandbox {
  private _state: SandboxState = 'running';
  private readonly exitListeners = new Set<(reason: string) => void>();
  private ending: Promise<void> | null = null;
  private readonly streams = new Set<ExecStream>();
  readonly image = 'default';
  readonly probe: Probe;

  constructor(
    readonly id: string,
    readonly podUid: string,
    readonly limits: SandboxLimits,
    readonly createdAt: Date,
    private readonly pod: PodHandle,
    private readonly view: SandboxView,
  ) {
    this.probe = view.probe;
  }

  get podName(): string { return this.pod.pod; }
  get state(): SandboxState { return this._state; }

  private notRunning(): Error {
    return new Error(`sandbox ${this.id} is not running`);
  }

  private open(command: string[], tty: boolean): ExecStream {
    const s = new ExecStream(this.pod.api, { namespace: this.pod.namespace, pod: this.pod.pod, container: this.pod.container, command, tty });
    this.streams.add(s);
    s.once('end', () => this.streams.delete(s));
    return s;
  }

  spawnPty(opts: SpawnOptions): IPty {
    if (this._state !== 'running') throw this.notRunning();
    if (!Number.isInteger(opts.terminal) || opts.terminal < 0 || opts.terminal > 1024) throw new Error('terminal must be an integer 0..1024');
    const cols = opts.cols ?? 80;
    const rows = opts.rows ?? 24;
    if (!(cols >= 2 && cols <= 1000 && rows >= 1 && rows <= 500)) throw new Error(`terminal size ${cols}x${rows} is out of range`);
    const env = { TERM: 'xterm-256color', LANG: 'C.UTF-8', HOME: '/root', PATH: SANDBOX_PATH, ...opts.env, NSLAB_TERM: String(opts.terminal) };
    const command = opts.command ?? ['/bin/bash', '-i'];
    const stream = this.open(execArgv(command, env, opts.cwd ?? '/root'), true);
    return new KubePty(stream, cols, rows, command[0].split('/').pop() ?? 'bash', (msg) => {
      if (this._state === 'running') console.error(`nslab: sandbox ${this.id}: terminal ${opts.terminal}: ${msg}`);
    });
  }

  spawnProcess(command: string[], env: Record<string, string> = {}): SandboxProcess {
    if (this._state !== 'running') throw this.notRunning();
    const full = { LANG: 'C.UTF-8', HOME: '/root', PATH: SANDBOX_PATH, ...env };
    return new ExecProcess(this.open(execArgv(command, full, '/root'), false));
  }

  exec(command: string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ExecResult> {
    if (this._state !== 'running') return Promise.reject(this.notRunning());
    // an exec cannot be signalled through the API: timeout(1) in the pod ends it
    // (TERM, then KILL a second later) and reports 124 or 137 as a local one would
    const argv = opts.timeoutMs ? ['/usr/bin/timeout', '-k', '1', `${Math.max(opts.timeoutMs, 1) / 1000}`, ...command] : command;
    return new Promise((resolve, reject) => {
      const child = this.spawnProcess(argv, opts.env);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        resolve({ code: code ?? (signal ? 128 + 9 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
      child.stdin.on('error', () => { /* the command did not read its input */ });
      child.stdin.end(opts.input ?? '');
    });
  }

  commands(): readonly CommandEvent[] {
    return this.view.commands();
  }

  onCommand(listener: (e: CommandEvent) => void): () => void {
    return this.view.onCommand(listener);
  }

  onActivity(listener: () => void): () => void {
    return this.view.onActivity ? this.view.onActivity(listener) : () => {};
  }

  cpuTime(): number | null {
    return this._state === 'running' ? (this.view.cpuTime?.() ?? null) : null;
  }

  onExit(listener: (reason: string) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  destroy(): Promise<void> {
    return this.end('destroyed', true);
  }

  /**
   * The back end heard that the pod ended (deleted, Failed, deadline): dead with
   * that reason; a pod that is still there (Failed) is deleted too, a bare pod
   * otherwise stays in the API as a record of a dead sandbox.
   */
  ended(reason: string, podStillThere: boolean): Promise<void> {
    return this.end(reason, podStillThere);
  }

  private end(reason: string, remove: boolean): Promise<void> {
    if (!this.ending) {
      this._state = 'dead';
      this.pod.forget();
      this.ending = (async () => {
        for (const s of this.streams) s.close();
        if (remove) await this.pod.remove().catch((e: Error) => console.error(`nslab: sandbox ${this.id}: ${e.message}`));
        this.view.close?.();
        for (const l of this.exitListeners) {
          try { l(reason); } catch (err) { console.error('nslab: exit listener failed', err); }
        }
        this.exitListeners.clear();
      })();
    }
    return this.ending;
  }
}

/** SandboxProcess over an exec without a tty: stdin, stdout and stderr on their own channels. */
class ExecProcess extends EventEmitter implements SandboxProcess {
  readonly stdin: Writable;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private killed: NodeJS.Signals | null = null;

  constructor(private readonly stream: ExecStream) {
    super();
    this.stdin = new Writable({
      write: (chunk: Buffer, _enc, cb) => { stream.write(chunk); cb(); },
      final: (cb) => { stream.closeStdin(); cb(); },
    });
    stream.on('stdout', (b: Buffer) => this.stdout.write(b));
    stream.on('stderr', (b: Buffer) => this.stderr.write(b));
    stream.once('end', (r: { code: number } | { error: string }) => {
      this.stdout.end();
      this.stderr.end();
      if ('error' in r && !this.killed) this.emit('error', new Error(r.error));
      // 'close' after the output is read, as a ChildProcess's
      setImmediate(() => this.emit('close', 'code' in r ? r.code : null, 'code' in r ? null : this.killed ?? 'SIGKILL'));
    });
  }

  /** an exec cannot be signalled: the stream is closed, and the runtime ends the process's side of it */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.killed = signal;
    this.stream.close();
    return true;
  }
}
