/**
 * One sandbox of the local back end (local-backend.ts): a crun container whose
 * terminals and commands enter through `crun exec`, watched from the host (probe.ts,
 * command-feed.ts), held to its lifetime and cgroup budget, and taken down in an
 * order that leaves nothing behind (destroy).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import * as pty from 'node-pty';
import { CGROUP_QUOTA, CgroupGuard } from './cgroup-quota.ts';
import { cpuTimeUs, delegatedDirs, quiesceForDestroy, reclaimDeadSandboxes } from './cgroups.ts';
import { CommandFeed } from './command-feed.ts';
import type { CommandLogReader } from './command-log.ts';
import type { Argv } from './crun.ts';
import { hostInfo } from './host.ts';
import { SANDBOX_PATH } from './oci-spec.ts';
import { LocalProbe } from './probe.ts';
import { processStartTime } from './process-identity.ts';
import type {
  CommandEvent, ExecResult, Sandbox, SandboxLimits, SandboxState, SpawnOptions,
} from './types.ts';

const RUNNER_EXIT_WAIT_MS = 3000;

/** What a sandbox needs of the back end that made it. */
export interface OwningBackend {
  /** <runDir>/sandboxes/<id> */
  readonly dir: string;
  /** helpers/nslab-probe.c, for the probe */
  readonly probeHelper: string;
  /** processes entering through `crun exec` get no_new_privs (the default sandbox; a pod cannot) */
  readonly noNewPrivs: boolean;
  /** how long a pre-started shell may take to show its prompt (DriverConfig.startTimeoutMs) */
  readonly startTimeoutMs: number;
  /** argv of `crun exec` in this sandbox (args start with the verb; crun.ts, crunExecArgv) */
  execArgv(args: string[], opts?: { detach?: boolean }): Argv;
  /** removes whatever is left of the sandbox on the host: runtime state, cgroups, files, uid range */
  teardown(): Promise<void>;
}

export class LocalSandbox implements Sandbox {
  private _createdAt = new Date();
  readonly probe: LocalProbe;
  private _state: SandboxState = 'running';
  private initPid: number | null = null;
  /** /proc start time of initPid: a pid, once reaped, may name another process */
  private initStart: string | null = null;
  private runner: ChildProcess | null = null;
  private reader: CommandLogReader | null = null;
  /** the command log; the back end feeds it the FIFO's lines */
  readonly commandFeed: CommandFeed;
  private exitListeners = new Set<(reason: string) => void>();
  private activityListeners = new Set<() => void>();
  private ptys = new Set<pty.IPty>();
  private lifetimeTimer: NodeJS.Timeout | null = null;
  private destroying: Promise<void> | null = null;
  /**
   * Pooled sandboxes start terminal 1 ahead of time, paused (its prompt waits in
   * the pty), and keep its 'ready' event back; the first default spawnPty of
   * terminal 1 gets both, as if the shell had just started.
   */
  private warm: { pty: pty.IPty; ready: CommandEvent | null; onReady: (() => void) | null } | null = null;

  constructor(
    readonly id: string,
    readonly image: string,
    readonly limits: SandboxLimits,
    readonly hostUid: number,
    private readonly backend: OwningBackend,
  ) {
    this.probe = new LocalProbe(id, hostUid, () => this.initPid, backend.probeHelper);
    this.commandFeed = new CommandFeed(id, (event) => {
      if (this.warm && !this.warm.ready && event.kind === 'ready' && event.terminal === 1) {
        this.warm.ready = event;
        this.warm.onReady?.();
        return true;
      }
      return false;
    });
  }

  get state(): SandboxState {
    return this._state;
  }

  get createdAt(): Date {
    return this._createdAt;
  }

  /** the warm pool hands this sandbox to its user: its lifetime starts now */
  claim(label?: string): void {
    this._createdAt = new Date();
    if (label) this.label = label;
    this.startLifetime();
  }

  label?: string;

  /**
   * performance.now() at each step of a cold create (local-backend.ts, coldCreate):
   * start, cgroups, userns, spawned, runtime, attached. bench/cold-start.ts prints the gaps.
   */
  readonly startupTimes: Record<string, number> = {};

  private startLifetime(): void {
    if (this.lifetimeTimer) clearTimeout(this.lifetimeTimer);
    this.lifetimeTimer = setTimeout(() => { void this.finish('the sandbox reached its lifetime limit'); }, this.limits.lifetimeMs);
    this.lifetimeTimer.unref();
  }

  get dir(): string {
    return this.backend.dir;
  }

  /** the back end, once the runtime says the sandbox is up: `crun run`, its init, the command-log reader */
  attach(runner: ChildProcess, initPid: number, reader: CommandLogReader): void {
    this.cgroupGuard = new CgroupGuard(delegatedDirs(this.id), hostInfo().cgroupMode === 'v2' ? 'v2' : 'v1', CGROUP_QUOTA, (e) => {
      console.error(`nslab: sandbox ${this.id}${this.label ? ` (${this.label})` : ''} ${e.reason}: no more cgroups for it (docs/security.md, cgroup budget)`);
    });
    this.cgroupGuard.onActivity(() => { for (const l of this.activityListeners) l(); });
    this.cgroupGuard.start();
    this.runner = runner;
    this.initPid = initPid;
    this.initStart = processStartTime(initPid);
    this.reader = reader;
    runner.once('exit', () => { void this.finish('the sandbox stopped (its init process exited)'); });
    this.startLifetime();
  }

  /** holds the learner to its cgroup budget (cgroup-quota.ts); null until the sandbox is up */
  cgroupGuard: CgroupGuard | null = null;

  /** command-log lines dropped because a flood exceeded the feed's budget (command-feed.ts) */
  get droppedCommandEvents(): number {
    return this.commandFeed.dropped;
  }

  /**
   * Start terminal 1 now (default shell, 80x24) and resolve when its first prompt
   * is reported; output waits in the paused pty. For the warm pool and
   * CreateOptions.startTerminal.
   */
  prespawnTerminal(timeoutMs = this.backend.startTimeoutMs): Promise<void> {
    if (this.warm) throw new Error('terminal 1 is already pre-started');
    const p = this.spawnPty({ terminal: 1 });
    p.pause();
    const warm: NonNullable<LocalSandbox['warm']> = { pty: p, ready: null, onReady: null };
    this.warm = warm;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`the pre-started shell showed no prompt within ${timeoutMs} ms`)), timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(timer);
        if (this.warm === warm) {
          this.warm = null;
          p.resume();
          try { p.kill('SIGTERM'); } catch { /* gone */ }
        } // else it was handed out while starting: it is the caller's terminal now
        reject(e);
      };
      p.onExit(({ exitCode, signal }) => {
        if (!warm.ready) fail(new Error(`the pre-started shell exited (code ${exitCode}, signal ${signal ?? 0}) before its first prompt`));
        else if (this.warm === warm) this.warm = null;
      });
      warm.onReady = () => { clearTimeout(timer); resolve(); };
    });
  }

  /** the pre-started terminal 1, if this request is for exactly what it is */
  private takeWarm(opts: SpawnOptions, cols: number, rows: number): pty.IPty | null {
    const warm = this.warm;
    if (!warm) return null;
    if (opts.terminal !== 1) return null;
    this.warm = null;
    // the pre-start is over either way (handed out, or replaced below): settled now,
    // its timeout and exit watch cannot report a terminal that is no longer theirs
    warm.onReady?.();
    const matches = opts.command === undefined && opts.env === undefined && (opts.cwd ?? '/root') === '/root';
    if (!matches) {
      // something else is wanted as terminal 1: the hidden shell must not linger beside it
      // (resumed so the pty notices the end and closes, which ends script(1) inside)
      warm.pty.resume();
      if (warm.ready?.hostPid) try { process.kill(warm.ready.hostPid, 'SIGKILL'); } catch { /* gone */ }
      try { warm.pty.kill('SIGTERM'); } catch { /* gone */ }
      return null;
    }
    if (cols !== warm.pty.cols || rows !== warm.pty.rows) warm.pty.resize(cols, rows);
    warm.pty.resume();
    if (warm.ready) {
      // after the caller has had its synchronous chance to subscribe, in order with later events
      this.commandFeed.publishInOrder({ ...warm.ready, at: Date.now() });
    } // else: the shell is still starting; its ready event is published as it comes
    return warm.pty;
  }

  private nnp(): string[] {
    return this.backend.noNewPrivs ? ['--no-new-privs'] : [];
  }

  spawnPty(opts: SpawnOptions): pty.IPty {
    if (this._state !== 'running') throw new Error(`sandbox ${this.id} is not running`);
    if (!Number.isInteger(opts.terminal) || opts.terminal < 0 || opts.terminal > 1024) throw new Error('terminal must be an integer 0..1024');
    const cols = opts.cols ?? 80;
    const rows = opts.rows ?? 24;
    if (!(cols >= 2 && cols <= 1000 && rows >= 1 && rows <= 500)) throw new Error(`terminal size ${cols}x${rows} is out of range`);
    const warm = this.takeWarm(opts, cols, rows);
    if (warm) return warm;
    const env = { TERM: 'xterm-256color', LANG: 'C.UTF-8', HOME: '/root', PATH: SANDBOX_PATH, ...opts.env, NSLAB_TERM: String(opts.terminal) };
    // crun exec puts the process in a session of its own, away from our pty, so
    // a shell would get no job control. script(1) gives it a terminal from the
    // sandbox's own devpts instead (and keeps the host pty out of its hands).
    const command = opts.command ?? ['/bin/bash', '-i'];
    const inner = ['/usr/bin/script', '-q', '-e', '-c', `exec ${command.map(shellQuote).join(' ')}`, '/dev/null'];
    // detached: a terminal lives long, and a resident `crun exec` beside each cost 3 MiB RSS
    // (bench/session-memory.ts); its nslab-reaper keeps script(1) instead (crun.ts, crunExecArgv)
    const argv = this.backend.execArgv([
      'exec', ...this.nnp(), '--cwd', opts.cwd ?? '/root', ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]), this.id, ...inner,
    ], { detach: true });
    const p = pty.spawn(argv.file, argv.args, { name: 'xterm-256color', cols, rows, cwd: '/', env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...argv.env } });
    this.ptys.add(p);
    p.onExit(() => this.ptys.delete(p));
    return p;
  }

  /**
   * A process inside the sandbox with piped stdio (no pty); the CLI streams through this.
   * Only pipes, never inherited fds: crun hands the std streams it is given to the
   * sandbox's root (fchown), so a host terminal or /dev/null passed down would become
   * the learner's to chmod.
   */
  spawnProcess(command: string[], env: Record<string, string> = {}): ChildProcess & { stdin: Writable; stdout: Readable; stderr: Readable } {
    if (this._state !== 'running') throw new Error(`sandbox ${this.id} is not running`);
    const full = { LANG: 'C.UTF-8', HOME: '/root', PATH: SANDBOX_PATH, ...env };
    const argv = this.backend.execArgv(['exec', ...this.nnp(), '--cwd', '/root', ...Object.entries(full).flatMap(([k, v]) => ['--env', `${k}=${v}`]), this.id, ...command]);
    return spawn(argv.file, argv.args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH, ...argv.env } });
  }

  exec(command: string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ExecResult> {
    if (this._state !== 'running') return Promise.reject(new Error(`sandbox ${this.id} is not running`));
    return new Promise((resolve, reject) => {
      const child = this.spawnProcess(command, opts.env);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      // SIGTERM: nslab-reaper passes it on and follows up with SIGKILL
      const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs) : null;
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 + 9 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
      child.stdin.on('error', () => { /* command did not read its input */ });
      child.stdin.end(opts.input ?? '');
    });
  }

  commands(): readonly CommandEvent[] {
    return this.commandFeed.all();
  }

  onCommand(listener: (e: CommandEvent) => void): () => void {
    return this.commandFeed.subscribe(listener);
  }

  cpuTime(): number | null {
    return this._state === 'running' ? cpuTimeUs(this.id) : null;
  }

  onActivity(listener: () => void): () => void {
    // the guard starts when the sandbox is up (attach); listeners may come earlier
    this.activityListeners.add(listener);
    return () => this.activityListeners.delete(listener);
  }

  onExit(listener: (reason: string) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  destroy(): Promise<void> {
    return this.finish('destroyed');
  }

  /** SIGKILL the sandbox's init, if the pid still names it (not yet reaped by `crun run`) */
  private killInit(): void {
    if (this.initPid === null || this.initStart === null) return;
    if (processStartTime(this.initPid) !== this.initStart) return;
    try { process.kill(this.initPid, 'SIGKILL'); } catch { /* gone */ }
  }

  private finish(reason: string): Promise<void> {
    if (!this.destroying) {
      this._state = 'dead';
      if (this.lifetimeTimer) clearTimeout(this.lifetimeTimer);
      this.destroying = (async () => {
        this.reader?.close();
        this.cgroupGuard?.stop();
        // ended by itself: `crun run` has removed (or is removing) the groups unreclaimed
        const endedByItself = this.runner !== null && (this.runner.exitCode !== null || this.runner.signalCode !== null);
        // The sandbox first: its init dies, and with it every process of its pid
        // namespace. The runtime processes (`crun run`, each terminal's `crun exec`)
        // then reap their children and exit by themselves. A runtime killed first
        // (by us, or by the cgroup sweep below) hands its children to its
        // nslab-reaper; before that existed, to the host's PID 1 as zombies
        // (docs/security.md, known gap 3).
        // its processes first, its memory reclaimed, then init (cgroups.ts, quiesceForDestroy)
        await quiesceForDestroy(this.id, this.initPid !== null && processStartTime(this.initPid) === this.initStart ? this.initPid : null);
        this.killInit();
        const ptysGone = [...this.ptys].map((p) => new Promise<void>((resolve) => {
          p.onExit(() => resolve());
          // a paused pty (the warm pool's hidden terminal 1) reports its exit only once its output is read
          p.resume();
        }));
        await Promise.race([
          Promise.all([runnerExited(this.runner), ...ptysGone]),
          delay(RUNNER_EXIT_WAIT_MS, undefined, { ref: false }),
        ]);
        // then whatever is left: runtime state, cgroups (killing any straggler), files, uid range
        await this.backend.teardown();
        if (endedByItself) reclaimDeadSandboxes();
        // nslab-reaper ends a straggling terminal's crun cleanly (SIGKILL would orphan crun)
        for (const p of this.ptys) { try { p.kill('SIGTERM'); } catch { /* gone */ } }
        for (const l of this.exitListeners) {
          try { l(reason); } catch (err) { console.error('nslab: exit listener failed', err); }
        }
        this.exitListeners.clear();
        this.activityListeners.clear();
        this.commandFeed.unsubscribeAll();
      })();
    }
    return this.destroying;
  }
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\/.,:=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** resolves once the child process has exited (at once if it has, or if there is none) */
function runnerExited(runner: ChildProcess | null): Promise<void> {
  if (!runner || runner.exitCode !== null || runner.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => runner.once('exit', () => resolve()));
}
