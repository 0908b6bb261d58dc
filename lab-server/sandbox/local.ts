/**
 * The local back end: one crun container per sandbox, run by the (root) lab
 * server. Why crun: it is a small, well-tested OCI runtime that does in one
 * audited place what a sandbox needs — user namespace with a 65536-id map of
 * its own, idmapped read-only binds of the image, pivot_root, seccomp, caps,
 * rlimits, cgroup limits — and its state directory makes orphans easy to find
 * after a crash. See docs/sandbox.md for the measurements behind the choice.
 *
 * Layout per sandbox, under <runDir>/sandboxes/<id>/:
 *   owner.json   which server (instance, pid, start time) owns it
 *   config.json  the OCI config (lab-server/sandbox/oci-spec.ts)
 *   cmdlog       the command-log FIFO, bind-mounted at /run/nslab/cmdlog
 *   rootfs/      mount point of the sandbox's size-capped tmpfs (the writable layer),
 *                mounted only in the private mount namespace crun runs in (crun.ts),
 *                never on the host, so it lives exactly as long as the sandbox
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import * as pty from 'node-pty';
import { CommandLogReader, type RawCommandEvent } from './command-log.ts';
import { CGROUP_QUOTA, CgroupGuard } from './cgroup-quota.ts';
import { cgroupAgeMs, cgroupDirs, delegatedDirs, cgroupHasProcesses, cgroupSandboxIds, cgroupsPath, emptyCgroups, prepareCgroups, quiesceForDestroy, reclaimDeadSandboxes, removeCgroups, sandboxHostPids } from './cgroups.ts';
import { loadDriverConfig, limitsSchema, type DriverConfig } from './config.ts';
import { crunArgv, type RootfsPrelude } from './crun.ts';
import { checkHostRequirements, hostInfo } from './host.ts';
import { Images, isMountPoint } from './images.ts';
import { ociSpec, SANDBOX_PATH } from './oci-spec.ts';
import { ensureHelper } from './host-helpers.ts';
import { LocalProbe } from './probe.ts';
import { createUserNamespace } from './user-namespace.ts';
import type {
  CommandEvent, CreateOptions, ExecResult, Sandbox, SandboxBackend, SandboxLimits, SandboxState, SpawnOptions,
} from './types.ts';
import { HostError } from './types.ts';

const run = promisify(execFile);
const READY_TIMEOUT_MS = 15_000;
const MAX_COMMAND_EVENTS = 5000;
const EVENT_BURST = 200;
const EVENT_RATE = 50;
const REFILL_DELAY_MS = 300;
const RUNNER_EXIT_WAIT_MS = 3000;
const REFILL_RETRY_MS = 5000;
/** host-wide uid range claims (see LocalBackend.uidClaimDir) */
const UID_CLAIM_DIR = '/run/nslab/uids';
/** leftovers younger than this may belong to a sandbox another server is creating */
const STRAY_GRACE_MS = 60_000;

interface Owner { instance: string; pid: number; startTime: string; createdAt: string; label?: string; slot: number }

function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

const hostnameRe = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})$/;

export class LocalSandbox implements Sandbox {
  private _createdAt = new Date();
  readonly probe: LocalProbe;
  private _state: SandboxState = 'running';
  private initPid: number | null = null;
  /** /proc start time of initPid: a pid, once reaped, may name another process */
  private initStart: string | null = null;
  private runner: ChildProcess | null = null;
  private reader: CommandLogReader | null = null;
  private events: CommandEvent[] = [];
  private commandListeners = new Set<(e: CommandEvent) => void>();
  private exitListeners = new Set<(reason: string) => void>();
  private ptys = new Set<pty.IPty>();
  private lifetimeTimer: NodeJS.Timeout | null = null;
  private destroying: Promise<void> | null = null;
  /** serialises host-pid resolution so events keep their order */
  private eventChain: Promise<void> = Promise.resolve();
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
    private readonly backend: LocalBackend,
  ) {
    this.probe = new LocalProbe(id, hostUid, () => this.initPid, backend.readHelper);
  }

  get state(): SandboxState {
    return this._state;
  }

  get createdAt(): Date {
    return this._createdAt;
  }

  /** @internal a pooled sandbox handed to its user: its lifetime starts now */
  claim(label?: string): void {
    this._createdAt = new Date();
    if (label) this.label = label;
    this.startLifetime();
  }

  label?: string;

  private startLifetime(): void {
    if (this.lifetimeTimer) clearTimeout(this.lifetimeTimer);
    this.lifetimeTimer = setTimeout(() => { void this.finish('the sandbox reached its lifetime limit'); }, this.limits.lifetimeMs);
    this.lifetimeTimer.unref();
  }

  get dir(): string {
    return join(this.backend.sandboxesDir, this.id);
  }

  /** @internal called by the back end once the runtime says the sandbox is up */
  attach(runner: ChildProcess, initPid: number, reader: CommandLogReader): void {
    this.cgroupGuard = new CgroupGuard(delegatedDirs(this.id), hostInfo().cgroupMode === 'v2' ? 'v2' : 'v1', CGROUP_QUOTA, (e) => {
      console.error(`nslab: sandbox ${this.id}${this.label ? ` (${this.label})` : ''} ${e.reason}: no more cgroups for it (docs/security.md, cgroup budget)`);
    });
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

  /** command-log lines dropped because a flood exceeded the budget below */
  droppedCommandEvents = 0;
  private pendingEvents = 0;
  private eventTokens = EVENT_BURST;
  private tokensAt = Date.now();

  /**
   * Each line costs a process scan to find the shell's host pid, and the FIFO is
   * writable by the learner: a budget (a burst, then a steady rate far above any
   * human's typing) keeps a forged flood from monopolising the server's event loop.
   * @internal
   */
  pushRaw(e: RawCommandEvent): void {
    const at = Date.now();
    this.eventTokens = Math.min(EVENT_BURST, this.eventTokens + ((at - this.tokensAt) / 1000) * EVENT_RATE);
    this.tokensAt = at;
    if (this.pendingEvents >= EVENT_BURST || this.eventTokens < 1) {
      this.droppedCommandEvents++;
      return;
    }
    this.eventTokens -= 1;
    this.pendingEvents++;
    this.eventChain = this.eventChain.then(async () => {
      this.pendingEvents--;
      let hostPid: number | null = null;
      try {
        hostPid = resolveShellPid(this.id, e.pid, e.ns.pid);
      } catch { /* sandbox going away */ }
      const event: CommandEvent = { ...e, hostPid, at };
      if (this.warm && !this.warm.ready && event.kind === 'ready' && event.terminal === 1) {
        this.warm.ready = event;
        this.warm.onReady?.();
        return;
      }
      this.publish(event);
    });
  }

  private publish(event: CommandEvent): void {
    this.events.push(event);
    if (this.events.length > MAX_COMMAND_EVENTS) this.events.splice(0, this.events.length - MAX_COMMAND_EVENTS);
    for (const l of this.commandListeners) {
      try { l(event); } catch (err) { console.error('nslab: command listener failed', err); }
    }
  }

  /**
   * @internal pool: start terminal 1 now (default shell, 80x24) and resolve when
   * its first prompt is reported; output waits in the paused pty.
   */
  prespawnTerminal(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
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
      const ready = { ...warm.ready, at: Date.now() };
      // after the caller has had its synchronous chance to subscribe, in order with later events
      this.eventChain = this.eventChain.then(() => this.publish(ready));
    } // else: the shell is still starting; its ready event is published as it comes
    return warm.pty;
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
    const argv = this.backend.crunExec(this.id, [
      'exec', '--no-new-privs', '--cwd', opts.cwd ?? '/root', ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]), this.id, ...inner,
    ]);
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
    const argv = this.backend.crunExec(this.id, ['exec', '--no-new-privs', '--cwd', '/root', ...Object.entries(full).flatMap(([k, v]) => ['--env', `${k}=${v}`]), this.id, ...command]);
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
    return this.events;
  }

  onCommand(listener: (e: CommandEvent) => void): () => void {
    this.commandListeners.add(listener);
    return () => this.commandListeners.delete(listener);
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
        await this.backend.teardown(this.id);
        if (endedByItself) reclaimDeadSandboxes();
        // nslab-reaper ends a straggling terminal's crun cleanly (SIGKILL would orphan crun)
        for (const p of this.ptys) { try { p.kill('SIGTERM'); } catch { /* gone */ } }
        for (const l of this.exitListeners) {
          try { l(reason); } catch (err) { console.error('nslab: exit listener failed', err); }
        }
        this.exitListeners.clear();
        this.commandListeners.clear();
      })();
    }
    return this.destroying;
  }
}

let oomWarned = false;

/** oom_score_adj of every learner process (terminals, exec): see crunExec */
export const LEARNER_OOM_SCORE = 500;

/**
 * The memory cgroup's OOM killer must never pick a sandbox's PID 1, whose death
 * ends the sandbox: on cgroup v2 (socket buffers charged to memory.max) it took
 * init once the learner's processes were gone (docs/security.md, "cgroup v2").
 * Only a holder of CAP_SYS_RESOURCE can lower a score, so the learner cannot
 * undo this for its own processes, which enter through `crun exec` at
 * LEARNER_OOM_SCORE. Host root without that capability (some VMs and containers
 * drop it) leaves PID 1 at 0: still chosen after every learner process, but
 * chosen when it is the last one left, which ends the sandbox like any other
 * death of PID 1.
 */
function protectFromOom(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/oom_score_adj`, '-1000');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
    if (!oomWarned) console.error('nslab: host root lacks CAP_SYS_RESOURCE: sandboxes\' PID 1 stays a candidate of the OOM killer (docs/security.md, "cgroup v2")');
    oomWarned = true;
  }
}

export class LocalBackend implements SandboxBackend {
  readonly name = 'local-crun';
  readonly cfg: DriverConfig;
  readonly images: Images;
  readonly sandboxesDir: string;
  readonly crunRoot: string;
  /**
   * Claims of host uid ranges, one directory per range named by its first host
   * uid. Host-wide, not under runDir: two servers with different NSLAB_RUN on one
   * host must never hand out the same range.
   */
  readonly uidClaimDir = UID_CLAIM_DIR;
  private sandboxes = new Map<string, LocalSandbox>();
  private hostChecked = false;
  private _readHelper: string | null = null;
  private rootfsHelper: string | null = null;
  private _reaper: string | null = null;
  /** ready sandboxes kept warm so a learner gets a prompt without waiting for a cold start */
  private pool: LocalSandbox[] = [];
  private poolTarget = 0;
  private refilling: Promise<void> | null = null;
  private refillTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(cfg: DriverConfig = loadDriverConfig()) {
    this.cfg = cfg;
    this.images = new Images(cfg.dataDir);
    this.sandboxesDir = join(cfg.runDir, 'sandboxes');
    this.crunRoot = join(cfg.runDir, 'crun');
    this.poolTarget = cfg.poolSize;
  }

  get readHelper(): string {
    if (!this._readHelper) this._readHelper = ensureHelper(this.cfg.dataDir, 'nslab-read');
    return this._readHelper;
  }

  /**
   * helpers/nslab-reaper.c, in front of every crun process: what crun starts in the
   * sandbox is reaped (or killed) by it even if crun dies first, instead of going to
   * the host's PID 1 as a zombie. Ask it to stop with SIGTERM, never SIGKILL.
   */
  get reaper(): string {
    if (!this._reaper) this._reaper = ensureHelper(this.cfg.dataDir, 'nslab-reaper');
    return this._reaper;
  }

  crun(id: string, args: string[], prelude?: RootfsPrelude) {
    return crunArgv(this.crunRoot, id, args, prelude);
  }

  /**
   * `crun exec` works on hybrid hosts as it is (only `run` trips over the
   * unified hierarchy), and skipping the wrapper saves a few ms per terminal.
   */
  crunExec(id: string, args: string[]) {
    // v2: PID 1 moved into the leaf "init" (see nslab-init.c); the sandbox's own group holds no process
    const leaf = hostInfo().cgroupMode === 'v2' && existsSync(join(cgroupDirs(id)[0], 'init')) ? ['--cgroup', 'init'] : [];
    const [verb, ...rest] = args;
    // crun exec hands the server's own rlimits down (the spec's apply to PID 1 only): set the sandbox's.
    // And a raised OOM score (raising needs no privilege; the learner can go back to 0, not below):
    // the OOM killer takes learner processes before PID 1, whatever their size, also where
    // host root cannot protect PID 1 (protectFromOom), and before host processes in a global OOM
    return {
      file: this.reaper,
      args: ['-r', 'core=0:0', '-r', 'nofile=4096:8192', '--', 'choom', '-n', String(LEARNER_OOM_SCORE), '--', 'crun', '--root', this.crunRoot, verb, ...leaf, ...rest],
      env: {} as Record<string, string>,
    };
  }

  async checkHost(): Promise<void> {
    if (this.hostChecked) return;
    checkHostRequirements();
    // sandboxes/ must be traversable (not listable) by the sandboxes' host uids:
    // crun reaches the rootfs and the FIFO as the container's user
    mkdirSync(this.sandboxesDir, { recursive: true });
    chmodSync(this.sandboxesDir, 0o711);
    chmodSync(this.cfg.runDir, 0o711);
    for (const d of [this.crunRoot, this.uidClaimDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    this._readHelper = ensureHelper(this.cfg.dataDir, 'nslab-read');
    this.rootfsHelper = ensureHelper(this.cfg.dataDir, 'nslab-rootfs');
    this._reaper = ensureHelper(this.cfg.dataDir, 'nslab-reaper');
    this.hostChecked = true;
  }

  /** sandboxes handed out (the warm pool is not listed) */
  list(): LocalSandbox[] {
    return [...this.sandboxes.values()].filter((s) => !this.pool.includes(s));
  }

  /** Keep `size` default sandboxes warm (0 turns the pool off). */
  setPoolSize(size: number): void {
    this.poolTarget = Math.max(0, Math.floor(size));
    for (const extra of this.pool.splice(this.poolTarget)) void extra.destroy();
    this.refill();
  }

  get pooled(): number {
    return this.pool.length;
  }

  /** the sandboxes kept warm right now (for operators and tests) */
  pooledSandboxes(): readonly LocalSandbox[] {
    return [...this.pool];
  }

  /** resolves when the pool is full (for benchmarks and tests) */
  async poolReady(): Promise<void> {
    while (this.pool.length < this.poolTarget && !this.closed) {
      this.refill();
      await (this.refilling ?? new Promise((r) => setTimeout(r, 50)));
    }
  }

  /** one pending refill at a time; destroyAll cancels it */
  private scheduleRefill(ms: number): void {
    if (this.refillTimer || this.closed) return;
    this.refillTimer = setTimeout(() => { this.refillTimer = null; this.refill(); }, ms);
    this.refillTimer.unref();
  }

  private refill(): void {
    if (this.refilling || this.closed || this.pool.length >= this.poolTarget) return;
    this.refilling = (async () => {
      while (this.pool.length < this.poolTarget && !this.closed) {
        try {
          const s = await this.coldCreate({ label: 'warm pool' });
          try {
            await s.prespawnTerminal();
          } catch (err) {
            await s.destroy();
            throw err;
          }
          if (this.closed || this.pool.length >= this.poolTarget) { await s.destroy(); break; }
          this.pool.push(s);
          s.onExit(() => {
            const i = this.pool.indexOf(s);
            if (i >= 0) { this.pool.splice(i, 1); this.refill(); }
          });
        } catch (err) {
          if (this.closed) break;
          console.error(`nslab: warm pool refill failed (retrying in ${REFILL_RETRY_MS / 1000} s): ${(err as Error).message}`);
          this.scheduleRefill(REFILL_RETRY_MS);
          break;
        }
      }
    })().finally(() => { this.refilling = null; });
  }

  get(id: string): LocalSandbox | undefined {
    return this.sandboxes.get(id);
  }

  /** the host uid range of a slot */
  slotUid(slot: number): number {
    return this.cfg.uidBase + slot * 65536;
  }

  /** A uid range of its own per sandbox, claimed host-wide (mkdir is atomic). */
  private claimSlot(id: string): number {
    const tryClaim = (slot: number) => {
      try {
        mkdirSync(join(this.uidClaimDir, String(this.slotUid(slot))));
      } catch { return false; }
      // who holds it: the sandbox's directory, checked by every server's orphan sweep
      writeFileSync(join(this.uidClaimDir, String(this.slotUid(slot)), 'sandbox'), join(this.sandboxesDir, id));
      return true;
    };
    for (let tries = 0; tries < 64; tries++) {
      const slot = Math.floor(Math.random() * this.cfg.uidSlots);
      if (tryClaim(slot)) return slot;
    }
    for (let slot = 0; slot < this.cfg.uidSlots; slot++) if (tryClaim(slot)) return slot;
    throw new Error('no free uid range for a new sandbox');
  }

  async create(opts: CreateOptions = {}): Promise<LocalSandbox> {
    // pooled sandboxes have the default image, hostname and limits
    const poolable = (opts.image ?? 'default') === 'default' && !opts.hostname
      && (!opts.limits || sameLimits(limitsSchema.parse({ ...this.cfg.limits, ...opts.limits }), limitsSchema.parse(this.cfg.limits)));
    if (poolable) {
      const warm = this.pool.shift();
      if (warm && warm.state === 'running') {
        warm.claim(opts.label);
        // later, not now: a refill forks processes on this event loop, which would
        // hold back the prompt the learner is about to get
        this.scheduleRefill(REFILL_DELAY_MS);
        return warm;
      }
    }
    const s = await this.coldCreate(opts);
    if (opts.startTerminal) {
      // not awaited: the shell starts while the caller gets on with its work
      s.prespawnTerminal().catch((err: Error) => { if (s.state === 'running') console.error(`nslab: sandbox ${s.id}: ${err.message}`); });
    }
    if (this.poolTarget > 0) this.scheduleRefill(REFILL_DELAY_MS);
    return s;
  }

  private async coldCreate(opts: CreateOptions): Promise<LocalSandbox> {
    await this.checkHost();
    const limits = limitsSchema.parse({ ...this.cfg.limits, ...opts.limits });
    const image = opts.image ?? 'default';
    const hostname = opts.hostname ?? 'nslab';
    if (!hostnameRe.test(hostname)) throw new Error(`bad hostname '${hostname}'`);
    const imageRoot = await this.images.mountedRoot(image);
    const id = randomBytes(8).toString('hex');
    const slot = this.claimSlot(id);
    const hostUid = this.slotUid(slot);
    const dir = join(this.sandboxesDir, id);
    const sandbox = new LocalSandbox(id, image, limits, hostUid, this);
    this.sandboxes.set(id, sandbox);
    const rootfs = join(dir, 'rootfs');
    const fifo = join(dir, 'cmdlog');
    mkdirSync(dir, { mode: 0o711 });
    mkdirSync(rootfs);
    const owner: Owner = { instance: this.cfg.instance, pid: process.pid, startTime: processStartTime(process.pid) ?? '', createdAt: new Date().toISOString(), label: opts.label, slot };
    writeFileSync(join(dir, 'owner.json'), JSON.stringify(owner));
    // started first, it runs while we write the rest; the same process makes the
    // command-log FIFO (every spawn forks the server on its event loop: one, not two)
    const userNsReady = createUserNamespace(hostUid, { fifo });
    userNsReady.catch(() => { /* awaited below */ });
    try {
      prepareCgroups(id, hostUid);
      const userNs = await userNsReady;
      writeFileSync(join(dir, 'config.json'), JSON.stringify(ociSpec({ rootfs, imageRoot, cmdlogFifo: fifo, hostname, hostUid, limits, cgroupsPath: cgroupsPath(id), userNsPath: userNs.path, cgroupV1: hostInfo().cgroupMode !== 'v2' })));
      const reader = new CommandLogReader(fifo, (e) => sandbox.pushRaw(e));
      const inodes = Math.max(4096, Math.floor(limits.diskBytes / 16384));
      const argv = this.crun(id, ['run', '--bundle', dir, id], {
        helper: this.rootfsHelper!, rootfs, hostUid, tmpfsOptions: `size=${limits.diskBytes},nr_inodes=${inodes},mode=0755,uid=${hostUid},gid=${hostUid}`,
      });
      // stdin a pipe, never 'ignore': that would be the host's /dev/null, which crun
      // (before 1.24) fchowns to the sandbox's root with the rest of its std streams,
      // and the sandbox's /dev/null is a bind of that very inode (docs/security.md, known gap 7)
      const runner = spawn(this.reaper, ['--', argv.file, ...argv.args], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH, ...argv.env } });
      runner.stdin?.end();
      await waitReady(runner);
      userNs.release();
      const initPid = sandboxHostPids(id).find((p) => {
        try {
          const nsPids = readFileSync(`/proc/${p}/status`, 'utf8').match(/^NSpid:(.*)$/m)?.[1].trim().split(/\s+/) ?? [];
          return nsPids.length === 2 && nsPids[1] === '1';
        } catch { return false; }
      });
      if (!initPid) throw new Error('the sandbox started but its init process is not visible');
      protectFromOom(initPid);
      runner.stdout?.resume();
      runner.stderr?.resume();
      sandbox.attach(runner, initPid, reader);
      return sandbox;
    } catch (err) {
      userNsReady.then((h) => h.release(), () => {});
      await sandbox.destroy().catch(() => {});
      this.sandboxes.delete(id);
      throw err instanceof HostError ? err : new Error(`could not create a sandbox: ${(err as Error).message}`);
    }
  }

  /** @internal removes everything of a sandbox; safe to call for half-made or orphaned ones */
  async teardown(id: string): Promise<void> {
    const dir = join(this.sandboxesDir, id);
    // processes gone and memory reclaimed first: `crun delete` removes the groups
    await emptyCgroups(id);
    if (existsSync(join(this.crunRoot, id))) {
      const argv = this.crun(id, ['delete', '--force', id]);
      await run(argv.file, argv.args, { env: { PATH: process.env.PATH, ...argv.env } }).catch(() => { /* removed below by hand */ });
    }
    await removeCgroups(id);
    rmSync(join(this.crunRoot, id), { recursive: true, force: true });
    if (isMountPoint(join(dir, 'rootfs'))) await run('umount', ['-l', join(dir, 'rootfs')]).catch(() => {});
    let slot: number | null = null;
    try { slot = (JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as Owner).slot; } catch { /* half-made */ }
    rmSync(dir, { recursive: true, force: true });
    if (slot !== null) rmSync(join(this.uidClaimDir, String(this.slotUid(slot))), { recursive: true, force: true });
    this.sandboxes.delete(id);
  }

  async reapOrphans(): Promise<number> {
    await this.checkHost();
    let reaped = 0;
    const known = new Set<string>();
    for (const id of existsSync(this.sandboxesDir) ? readdirSync(this.sandboxesDir) : []) {
      known.add(id);
      if (this.sandboxes.has(id)) continue;
      let owner: Owner | null = null;
      try { owner = JSON.parse(readFileSync(join(this.sandboxesDir, id, 'owner.json'), 'utf8')) as Owner; } catch { /* half-made: reap */ }
      const ownerAlive = owner !== null && owner.startTime !== '' && processStartTime(owner.pid) === owner.startTime;
      const mine = owner?.instance === this.cfg.instance;
      if (ownerAlive && !(mine && owner!.pid !== process.pid)) continue;
      if (ownerAlive && mine && owner!.pid !== process.pid) {
        // another live server of the same instance: not ours to touch
        continue;
      }
      await this.teardown(id);
      reaped++;
    }
    // an orphan's `crun run` may have removed its groups before this teardown could reclaim them
    if (reaped > 0) reclaimDeadSandboxes();
    // Groups of sandboxes with no directory here (a crash mid-create or mid-teardown).
    // Every server shares /nslab/<id>, whatever its NSLAB_RUN, and others may be creating
    // right now: only groups that are empty and not brand new are ours to remove.
    // Every server names its sandboxes in its uid claims (host-wide, made before the groups):
    // a group whose sandbox is claimed is some server's, however old or empty (half-made).
    const claimed = this.claimedSandboxIds();
    for (const id of cgroupSandboxIds()) {
      if (known.has(id) || this.sandboxes.has(id) || existsSync(join(this.sandboxesDir, id)) || claimed.has(id)) continue;
      if (cgroupAgeMs(id) < (this.cfg.strayGraceMs ?? STRAY_GRACE_MS)) continue;
      if (cgroupHasProcesses(id)) {
        console.error(`nslab: cgroup nslab/${id} has processes but no sandbox directory in ${this.sandboxesDir}: another server's sandbox? left alone`);
        continue;
      }
      await emptyCgroups(id);
      await removeCgroups(id);
      reaped++;
    }
    // uid ranges whose sandbox is gone (not one being claimed right now)
    for (const claim of existsSync(this.uidClaimDir) ? readdirSync(this.uidClaimDir) : []) {
      const path = join(this.uidClaimDir, claim);
      try { if (Date.now() - statSync(path).mtimeMs < (this.cfg.strayGraceMs ?? STRAY_GRACE_MS)) continue; } catch { continue; }
      let holder = '';
      try { holder = readFileSync(join(path, 'sandbox'), 'utf8'); } catch { /* half-written */ }
      // a claim names its sandbox's directory, under whichever run dir its server uses
      if (!holder.startsWith('/') || !existsSync(holder)) rmSync(path, { recursive: true, force: true });
    }
    return reaped;
  }

  /** ids of the sandboxes named by uid claims whose sandbox directory exists, whichever server's */
  private claimedSandboxIds(): Set<string> {
    const ids = new Set<string>();
    for (const claim of existsSync(this.uidClaimDir) ? readdirSync(this.uidClaimDir) : []) {
      try {
        const holder = readFileSync(join(this.uidClaimDir, claim, 'sandbox'), 'utf8');
        if (holder.startsWith('/') && existsSync(holder)) ids.add(basename(holder));
      } catch { /* half-written or gone */ }
    }
    return ids;
  }

  async destroyAll(): Promise<void> {
    this.closed = true;
    if (this.refillTimer) clearTimeout(this.refillTimer);
    this.refillTimer = null;
    await this.refilling;
    this.pool = [];
    await Promise.all([...this.sandboxes.values()].map((s) => s.destroy()));
    this.closed = false;
  }

  /** for leak tests: every cgroup directory a sandbox id still has */
  leftoverCgroups(id: string): string[] {
    return cgroupDirs(id).filter(existsSync);
  }
}

/**
 * The host pid of a shell that reported itself as `pid` in the pid namespace
 * `pidNs`: only NSpid and one namespace link per candidate, not a full probe
 * scan (this runs for every prompt).
 */
function resolveShellPid(id: string, pid: number, pidNs: number | undefined): number | null {
  for (const hostPid of sandboxHostPids(id)) {
    let status: string;
    try { status = readFileSync(`/proc/${hostPid}/status`, 'utf8'); } catch { continue; }
    const nsPids = /^NSpid:(.*)$/m.exec(status)?.[1].trim().split(/\s+/) ?? [];
    if (Number(nsPids[nsPids.length - 1]) !== pid) continue;
    if (pidNs === undefined) return hostPid;
    try {
      if (readlinkSync(`/proc/${hostPid}/ns/pid`) === `pid:[${pidNs}]`) return hostPid;
    } catch { /* exited */ }
  }
  return null;
}

function sameLimits(a: SandboxLimits, b: SandboxLimits): boolean {
  return (Object.keys(a) as (keyof SandboxLimits)[]).every((k) => a[k] === b[k]);
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\/.,:=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function waitReady(runner: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => { runner.kill('SIGTERM'); reject(new Error(`the sandbox did not start within ${READY_TIMEOUT_MS} ms: ${err.trim()}`)); }, READY_TIMEOUT_MS);
    const done = (e?: Error) => {
      clearTimeout(timer);
      runner.stdout?.off('data', onOut);
      runner.removeListener('exit', onExit);
      if (e) reject(e); else resolve();
    };
    const onOut = (b: Buffer) => { out += b.toString(); if (out.includes('nslab-init ready')) done(); };
    const onExit = (code: number | null) => done(new Error(`crun exited with ${code}: ${err.trim() || out.trim()}`));
    runner.stdout?.on('data', onOut);
    runner.stderr?.on('data', (b: Buffer) => { err += b.toString(); if (err.length > 4000) err = err.slice(-4000); });
    runner.once('exit', onExit);
    runner.once('error', (e) => done(e));
  });
}

/** resolves once the child process has exited (at once if it has, or if there is none) */
function runnerExited(runner: ChildProcess | null): Promise<void> {
  if (!runner || runner.exitCode !== null || runner.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => runner.once('exit', () => resolve()));
}
