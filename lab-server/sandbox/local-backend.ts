/**
 * The local back end: one crun container per sandbox, run by the (root) lab
 * server. Why crun: it is a small, well-tested OCI runtime that does in one
 * audited place what a sandbox needs — user namespace with a 65536-id map of
 * its own, idmapped read-only binds of the image, pivot_root, seccomp, caps,
 * rlimits, cgroup limits — and its state directory makes orphans easy to find
 * after a crash. See docs/sandbox.md for the measurements behind the choice.
 *
 * Layout per sandbox, under <runDir>/sandboxes/<id>/:
 *   owner.json   which server (instance, pid, start time) owns it (orphan-sweep.ts)
 *   config.json  the OCI config (lab-server/sandbox/oci-spec.ts)
 *   cmdlog       the command-log FIFO, bind-mounted at /run/nslab/cmdlog
 *   rootfs/      mount point of the sandbox's size-capped tmpfs (the writable layer),
 *                mounted only in the private mount namespace crun runs in (crun.ts),
 *                never on the host, so it lives exactly as long as the sandbox
 *
 * This file makes and removes sandboxes; the sandbox itself is local-sandbox.ts,
 * the warm pool warm-pool.ts, host uid ranges uid-claims.ts, the start-up sweep
 * orphan-sweep.ts.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CommandLogReader } from './command-log.ts';
import { cgroupDirs, cgroupsPath, emptyCgroups, prepareCgroups, removeCgroups, sandboxHostPids } from './cgroups.ts';
import { loadDriverConfig, limitsSchema, type DriverConfig } from './config.ts';
import { crunArgv, crunExecArgv, type Argv, type RootfsPrelude } from './crun.ts';
import { checkHostRequirements, hostInfo } from './host.ts';
import { Images, isMountPoint } from './images.ts';
import { LocalSandbox } from './local-sandbox.ts';
import { ociSpec } from './oci-spec.ts';
import { probeHelper } from './probe-helper.ts';
import { ensureHelper } from './host-helpers.ts';
import { protectFromOom } from './oom-score.ts';
import { waitRuntimeReady } from './runtime-ready.ts';
import { readOwner, STRAY_GRACE_MS, sweepOrphans, writeOwner } from './orphan-sweep.ts';
import { processStartTime } from './process-identity.ts';
import { UID_CLAIM_DIR, UidClaims } from './uid-claims.ts';
import { createUserNamespace } from './user-namespace.ts';
import { WarmPool } from './warm-pool.ts';
import type { CreateOptions, SandboxBackend, SandboxLimits } from './types.ts';
import { HostError } from './types.ts';

const run = promisify(execFile);

const hostnameRe = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})$/;

export class LocalBackend implements SandboxBackend {
  readonly name = 'local-crun';
  readonly cfg: DriverConfig;
  readonly images: Images;
  readonly sandboxesDir: string;
  readonly crunRoot: string;
  /** host-wide claims of host uid ranges (uid-claims.ts), one directory per range named by its first host uid */
  readonly uidClaimDir = UID_CLAIM_DIR;
  private readonly uidClaims: UidClaims;
  private sandboxes = new Map<string, LocalSandbox>();
  private hostChecked = false;
  private _probeHelper: string | null = null;
  private rootfsHelper: string | null = null;
  private usernsHelper: string | null = null;
  private _reaper: string | null = null;
  private readonly pool: WarmPool;

  constructor(cfg: DriverConfig = loadDriverConfig()) {
    this.cfg = cfg;
    this.images = new Images(cfg.imagesDir);
    this.sandboxesDir = join(cfg.runDir, 'sandboxes');
    this.crunRoot = join(cfg.runDir, 'crun');
    this.uidClaims = new UidClaims(this.uidClaimDir, cfg.uidBase, cfg.uidSlots);
    this.pool = new WarmPool(() => this.coldCreate({ label: 'warm pool' }), cfg.poolSize);
  }

  get probeHelper(): string {
    if (!this._probeHelper) this._probeHelper = ensureHelper(this.cfg.dataDir, 'nslab-probe');
    return this._probeHelper;
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

  crun(id: string, args: string[], prelude?: RootfsPrelude): Argv {
    return crunArgv(this.crunRoot, id, args, prelude);
  }

  /** argv of `crun exec` in a sandbox (crun.ts, crunExecArgv) */
  crunExec(id: string, args: string[], opts: { detach?: boolean } = {}): Argv {
    return crunExecArgv(this.reaper, this.crunRoot, id, args, opts);
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
    this._probeHelper = ensureHelper(this.cfg.dataDir, 'nslab-probe');
    // resident from the start, like the server itself: not a child that appears with the first check
    probeHelper(this._probeHelper).start();
    this.rootfsHelper = ensureHelper(this.cfg.dataDir, 'nslab-rootfs');
    this.usernsHelper = ensureHelper(this.cfg.dataDir, 'nslab-userns');
    this._reaper = ensureHelper(this.cfg.dataDir, 'nslab-reaper');
    this.hostChecked = true;
  }

  /** sandboxes handed out (the warm pool is not listed) */
  list(): LocalSandbox[] {
    return [...this.sandboxes.values()].filter((s) => !this.pool.has(s));
  }

  /** Keep `size` default sandboxes warm (0 turns the pool off). */
  setPoolSize(size: number): void {
    this.pool.setTarget(size);
  }

  get pooled(): number {
    return this.pool.size;
  }

  /** the sandboxes kept warm right now (for operators and tests) */
  pooledSandboxes(): readonly LocalSandbox[] {
    return this.pool.sandboxes();
  }

  /** resolves when the pool is full (for benchmarks and tests) */
  poolReady(): Promise<void> {
    return this.pool.ready();
  }

  get(id: string): LocalSandbox | undefined {
    return this.sandboxes.get(id);
  }

  /** the host uid range of a slot */
  slotUid(slot: number): number {
    return this.uidClaims.uidOf(slot);
  }

  async create(opts: CreateOptions = {}): Promise<LocalSandbox> {
    // pooled sandboxes have the default image, hostname and limits
    const poolable = (opts.image ?? 'default') === 'default' && !opts.hostname
      && (!opts.limits || sameLimits(limitsSchema.parse({ ...this.cfg.limits, ...opts.limits }), limitsSchema.parse(this.cfg.limits)));
    if (poolable) {
      const warm = this.pool.take();
      if (warm) {
        warm.claim(opts.label);
        this.pool.refillSoon();
        return warm;
      }
    }
    const s = await this.coldCreate(opts);
    if (opts.startTerminal) {
      // not awaited: the shell starts while the caller gets on with its work
      s.prespawnTerminal().catch((err: Error) => { if (s.state === 'running') console.error(`nslab: sandbox ${s.id}: ${err.message}`); });
    }
    if (this.pool.wanted > 0) this.pool.refillSoon();
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
    const dir = join(this.sandboxesDir, id);
    const t0 = performance.now();
    const slot = this.uidClaims.claim(dir);
    const hostUid = this.slotUid(slot);
    const sandbox = new LocalSandbox(id, image, limits, hostUid, {
      dir,
      probeHelper: this.probeHelper,
      // a pod's exec'd processes run with the container's settings, and a pod cannot set no_new_privs
      noNewPrivs: !this.cfg.pod,
      startTimeoutMs: this.cfg.startTimeoutMs,
      execArgv: (args, execOpts) => this.crunExec(id, args, execOpts),
      teardown: () => this.teardown(id),
    });
    sandbox.startupTimes.start = t0;
    const mark = (phase: string) => { sandbox.startupTimes[phase] = performance.now(); };
    this.sandboxes.set(id, sandbox);
    const rootfs = join(dir, 'rootfs');
    const fifo = join(dir, 'cmdlog');
    mkdirSync(dir, { mode: 0o711 });
    mkdirSync(rootfs);
    writeOwner(dir, { instance: this.cfg.instance, pid: process.pid, startTime: processStartTime(process.pid) ?? '', createdAt: new Date().toISOString(), label: opts.label, slot });
    // started first, it runs while we write the rest; the same process makes the
    // command-log FIFO (every spawn forks the server on its event loop: one, not two)
    const userNsReady = createUserNamespace(hostUid, { helper: this.usernsHelper!, fifo });
    userNsReady.catch(() => { /* awaited below */ });
    try {
      prepareCgroups(id, hostUid);
      mark('cgroups');
      const userNs = await userNsReady;
      mark('userns');
      writeFileSync(join(dir, 'config.json'), JSON.stringify(ociSpec({ rootfs, imageRoot, cmdlogFifo: fifo, hostname, hostUid, limits, cgroupsPath: cgroupsPath(id), userNsPath: userNs.path, cgroupV1: hostInfo().cgroupMode !== 'v2', pod: this.cfg.pod })));
      const reader = new CommandLogReader(fifo, (e) => sandbox.commandFeed.push(e));
      const inodes = Math.max(4096, Math.floor(limits.diskBytes / 16384));
      // detached: crun starts init and exits; nslab-reaper -d keeps init as its child
      // (its exit is the sandbox's end), so no `crun run` stays resident per sandbox
      const argv = this.crun(id, ['run', '--detach', '--bundle', dir, id], {
        helper: this.rootfsHelper!, rootfs, hostUid, tmpfsOptions: `size=${limits.diskBytes},nr_inodes=${inodes},mode=0755,uid=${hostUid},gid=${hostUid}`,
      });
      // stdin a pipe, never 'ignore': that would be the host's /dev/null, which crun
      // (before 1.24) fchowns to the sandbox's root with the rest of its std streams,
      // and the sandbox's /dev/null is a bind of that very inode (docs/security.md, known gap 7)
      const runner = spawn(this.reaper, ['-d', '--', argv.file, ...argv.args], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH, ...argv.env } });
      runner.stdin?.end();
      mark('spawned');
      await waitRuntimeReady(runner, join(this.crunRoot, id, 'status'), this.cfg.startTimeoutMs);
      mark('runtime');
      userNs.release();
      const initPid = findInitPid(id);
      if (!initPid) throw new Error('the sandbox started but its init process is not visible');
      protectFromOom(initPid);
      runner.stdout?.resume();
      runner.stderr?.resume();
      sandbox.attach(runner, initPid, reader);
      mark('attached');
      return sandbox;
    } catch (err) {
      userNsReady.then((h) => h.release(), () => {});
      await sandbox.destroy().catch(() => {});
      this.sandboxes.delete(id);
      throw err instanceof HostError ? err : new Error(`could not create a sandbox: ${(err as Error).message}`);
    }
  }

  /** Removes everything of a sandbox; safe to call for half-made or orphaned ones. */
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
    const slot = readOwner(dir)?.slot ?? null;
    rmSync(dir, { recursive: true, force: true });
    if (slot !== null) this.uidClaims.release(slot);
    this.sandboxes.delete(id);
  }

  async reapOrphans(): Promise<number> {
    await this.checkHost();
    return sweepOrphans({
      sandboxesDir: this.sandboxesDir,
      instance: this.cfg.instance,
      uidClaims: this.uidClaims,
      graceMs: this.cfg.strayGraceMs ?? STRAY_GRACE_MS,
      isLive: (id) => this.sandboxes.has(id),
      teardown: (id) => this.teardown(id),
    });
  }

  async destroyAll(): Promise<void> {
    await this.pool.pause();
    await Promise.all([...this.sandboxes.values()].map((s) => s.destroy()));
    this.pool.resume();
  }

  /** for leak tests: every cgroup directory a sandbox id still has */
  leftoverCgroups(id: string): string[] {
    return cgroupDirs(id).filter(existsSync);
  }
}

/** the host pid of the sandbox's PID 1: the one process whose NSpid is "<host pid> 1" */
function findInitPid(id: string): number | undefined {
  return sandboxHostPids(id).find((p) => {
    try {
      const nsPids = readFileSync(`/proc/${p}/status`, 'utf8').match(/^NSpid:(.*)$/m)?.[1].trim().split(/\s+/) ?? [];
      return nsPids.length === 2 && nsPids[1] === '1';
    } catch { return false; }
  });
}

function sameLimits(a: SandboxLimits, b: SandboxLimits): boolean {
  return (Object.keys(a) as (keyof SandboxLimits)[]).every((k) => a[k] === b[k]);
}
