/**
 * Where the sandboxes' cgroups live on a cgroup v2 host.
 *
 * On a systemd host the cgroup tree belongs to systemd: it may move, freeze or
 * remove any group it did not hand out, and its documented contract (systemd.io,
 * "Control Group APIs and Delegation") is that a program manages groups only below
 * a unit that has `Delegate=yes`. So under systemd nslab puts its sandboxes below its
 * own unit (packaging/nslab.service, or a transient scope: `systemd-run --scope -p
 * Delegate=yes`), never at the top of the tree beside system.slice:
 *
 *   /sys/fs/cgroup/system.slice/nslab.service/           the unit (Delegate=yes)
 *     server/                                            the server's own processes
 *     sandboxes/<id>/                                    one group per sandbox
 *
 * The unit's root must hold no processes once controllers are enabled below it (v2's
 * "no internal processes" rule), so the server first moves every process of the unit
 * root (itself, a vitest's workers ...) into `server/`. systemd 254+ could do that
 * with DelegateSubgroup=; Debian 12 has 252.
 *
 * Without systemd (a plain init, the VM test guest, a container with its own cgroup
 * namespace) nobody else manages the tree and the sandboxes go where they always
 * went: /sys/fs/cgroup/nslab/<id>. Under systemd but outside a delegated unit nslab
 * refuses to start, naming both fixes (bin/nslab, `npm start` and `npm test` re-run
 * themselves in a delegated scope: scripts/delegated). NSLAB_CGROUP_ROOT names a
 * group to use instead of all that (a delegated group the operator made by hand).
 *
 * Hybrid (v1) hosts are not affected: systemd does not delegate v1 hierarchies, and
 * nslab's v1 groups stay at <hierarchy>/nslab/<id> (docs/sandbox.md).
 */
import { loadSettings, type Settings } from '../config/settings.ts';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { z } from 'zod';
import { HostError } from './types.ts';

export const CGROUP_MOUNT = '/sys/fs/cgroup';
/** our leaf below a delegated unit, and the parent of the sandboxes' groups */
export const SERVER_LEAF = 'server';
export const SANDBOXES = 'sandboxes';
/** what the sandboxes need enabled in every group above them */
const CONTROLLERS = ['cpu', 'memory', 'pids'];

/** The unit file's place in the docs, for every message that tells an operator what to do. */
const DOCS = 'docs/server.md, "Running under systemd"';

export type CgroupRootPlan =
  /** no systemd: the top of the tree is ours to use */
  | { kind: 'plain'; base: string; detail: string }
  /** systemd, and our unit is delegated to us */
  | { kind: 'delegated'; unit: string; unitPath: string; base: string; leaf: string; detail: string }
  /** NSLAB_CGROUP_ROOT */
  | { kind: 'override'; base: string; detail: string }
  /** systemd, but our cgroup is not delegated: nslab must not write there */
  | { kind: 'undelegated'; unit: string | null; ownPath: string; detail: string; fix: string };

export interface CgroupRootFacts {
  /** content of /proc/self/cgroup */
  procSelfCgroup: string;
  /** whether systemd manages this host (/run/systemd/system exists: sd_booted()) */
  systemd: boolean;
  /** whether systemd delegates the unit to us (`systemctl show -P Delegate UNIT` = yes); null when it cannot tell */
  isDelegated: (unit: string) => boolean | null;
  /** NSLAB_CGROUP_ROOT, unvalidated */
  override?: string;
}

/** A cgroup path as the kernel and systemd write it: absolute, no empty, '.' or '..' segments. */
const cgroupPath = z.string()
  .regex(/^\/[^\0\n]*$/, 'must be an absolute path below /sys/fs/cgroup, e.g. /nslab.slice/nslab (no /sys/fs/cgroup prefix)')
  .refine((p) => p === '/' || p.split('/').slice(1).every((s) => s !== '' && s !== '.' && s !== '..'), 'must not contain empty, "." or ".." segments')
  .refine((p) => p !== '/', 'must not be the root of the tree (pick a group of your own)');

/** the v2 line of /proc/self/cgroup (`0::/system.slice/nslab.service`) */
export function ownCgroupV2(procSelfCgroup: string): string {
  const line = procSelfCgroup.split('\n').find((l) => l.startsWith('0::'));
  if (!line) throw new HostError('/proc/self/cgroup has no cgroup v2 line ("0::/...")', 'nslab needs the unified cgroup hierarchy on a v2 host');
  const p = line.slice(3);
  const parsed = z.string().regex(/^\//).safeParse(p);
  if (!parsed.success) throw new HostError(`/proc/self/cgroup: "${line}" is not a cgroup path`, 'report this host\'s /proc/self/cgroup as a bug');
  return p;
}

/** The deepest unit (`x.service`, `x.scope`) in a cgroup path, with the path up to it. */
export function unitOf(path: string): { unit: string; unitPath: string } | null {
  const parts = path.split('/');
  for (let i = parts.length - 1; i >= 1; i--) {
    if (/\.(service|scope)$/.test(parts[i])) return { unit: parts[i], unitPath: parts.slice(0, i + 1).join('/') };
  }
  return null;
}

/** Decide where sandboxes go; reads nothing itself (facts come in), changes nothing. */
export function planCgroupRoot(f: CgroupRootFacts): CgroupRootPlan {
  if (f.override !== undefined && f.override !== '') {
    const p = cgroupPath.safeParse(f.override);
    if (!p.success) throw new HostError(`NSLAB_CGROUP_ROOT="${f.override}" ${p.error.issues[0].message}`, `unset it, or name a group delegated to nslab (${DOCS})`);
    const base = posix.normalize(p.data);
    return { kind: 'override', base, detail: `NSLAB_CGROUP_ROOT: sandboxes in ${base}/<id>` };
  }
  if (!f.systemd) return { kind: 'plain', base: '/nslab', detail: 'no systemd on this host: sandboxes in /nslab/<id>' };
  const own = ownCgroupV2(f.procSelfCgroup);
  const u = unitOf(own);
  const fix = `run nslab through its unit (packaging/nslab.service has Delegate=yes) or in a delegated scope: systemd-run --scope -p Delegate=yes --quiet -- bin/nslab serve (${DOCS})`;
  if (!u) {
    return { kind: 'undelegated', unit: null, ownPath: own, detail: `systemd manages this host's cgroups and nslab runs in ${own}, which belongs to no unit of its own: it must not make groups there`, fix };
  }
  // our own leaf from an earlier start (or another worker of this process tree) is below the unit
  const delegated = f.isDelegated(u.unit);
  if (delegated !== true) {
    return {
      kind: 'undelegated', unit: u.unit, ownPath: own,
      detail: `systemd manages this host's cgroups and nslab runs in ${u.unit}, which is ${delegated === false ? 'not delegated (Delegate=no)' : 'a unit systemd would not say is delegated'}: nslab must not make groups below it`,
      fix,
    };
  }
  return {
    kind: 'delegated', unit: u.unit, unitPath: u.unitPath,
    base: `${u.unitPath === '/' ? '' : u.unitPath}/${SANDBOXES}`, leaf: `${u.unitPath}/${SERVER_LEAF}`,
    detail: `delegated by systemd (${u.unit}, Delegate=yes): sandboxes in ${u.unitPath}/${SANDBOXES}/<id>, the server in ${u.unitPath}/${SERVER_LEAF}`,
  };
}

/** `systemctl show -P Delegate UNIT`: true / false, null when systemctl cannot say. */
export function systemdDelegates(unit: string): boolean | null {
  try {
    const out = execFileSync('systemctl', ['show', '-P', 'Delegate', '--', unit], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
    return out === 'yes' ? true : out === 'no' ? false : null;
  } catch {
    return null;
  }
}

/** The facts of this process on this host. */
export function hostCgroupRootFacts(settings: Settings = loadSettings()): CgroupRootFacts {
  return {
    procSelfCgroup: readFileSync('/proc/self/cgroup', 'utf8'),
    systemd: existsSync('/run/systemd/system'),
    isDelegated: systemdDelegates,
    override: settings.NSLAB_CGROUP_ROOT,
  };
}

/** The file operations the claim uses: the real ones, or a fake kernel in unit tests. */
export interface CgroupIo {
  read(file: string): string;
  write(file: string, data: string): void;
  mkdir(dir: string): void;
}

const realIo: CgroupIo = {
  read: (file) => readFileSync(file, 'utf8'),
  write: (file, data) => writeFileSync(file, data),
  mkdir: (dir) => { mkdirSync(dir, { recursive: true }); },
};

/**
 * Make the plan true: for a delegated unit, move every process of the unit's root
 * into our leaf (retrying: a process may fork meanwhile), then enable the controllers
 * the sandboxes need in the unit and in the sandboxes' parent. Idempotent: several
 * workers of one test run may each do it. `mount` is /sys/fs/cgroup (a temp dir in
 * unit tests). Throws HostError for an undelegated plan.
 */
export function claimCgroupRoot(plan: CgroupRootPlan, mount = CGROUP_MOUNT, io: CgroupIo = realIo): string {
  if (plan.kind === 'undelegated') throw new HostError(plan.detail, plan.fix);
  const base = join(mount, plan.base);
  if (plan.kind === 'delegated') {
    const unit = join(mount, plan.unitPath);
    const leaf = join(mount, plan.leaf);
    io.mkdir(leaf);
    for (let attempt = 0; ; attempt++) {
      const pids = io.read(join(unit, 'cgroup.procs')).split('\n').filter(Boolean);
      if (!pids.length) break;
      if (attempt >= 20) throw new HostError(`processes keep appearing in ${plan.unitPath} (${pids.join(' ')}), so no group below it can get controllers`, `start nothing else in the unit (${DOCS})`);
      for (const pid of pids) {
        try { io.write(join(leaf, 'cgroup.procs'), pid); } catch (e) {
          // ESRCH: it exited meanwhile; anything else is a real refusal
          if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw new HostError(`cannot move process ${pid} into ${plan.leaf}: ${(e as Error).message}`, `check that ${plan.unit} has Delegate=yes (${DOCS})`);
        }
      }
    }
    enableControllers(io, unit, plan.unitPath);
  }
  io.mkdir(base);
  if (plan.kind !== 'plain') enableControllers(io, base, plan.base);
  return base;
}

function enableControllers(io: CgroupIo, dir: string, shown: string): void {
  const file = join(dir, 'cgroup.subtree_control');
  const on = io.read(file).split(/\s+/).filter(Boolean);
  const missing = CONTROLLERS.filter((c) => !on.includes(c));
  if (!missing.length) return;
  try {
    io.write(file, missing.map((c) => `+${c}`).join(' '));
  } catch (e) {
    throw new HostError(`cannot enable ${missing.join(', ')} in ${shown}: ${(e as Error).message}`, `the group must hold no processes and its parent must offer the controllers (${DOCS})`);
  }
}

let claimed: { base: string; rel: string } | null = null;

/**
 * The v2 directory the sandboxes' groups go in (absolute, on this host), decided and
 * prepared once per process. cgroups.ts calls it for every v2 path.
 */
export function v2SandboxesDir(): string {
  return v2Claim().base;
}

/** the same, as a path inside the cgroup tree (for crun's cgroupsPath) */
export function v2SandboxesPath(): string {
  return v2Claim().rel;
}

function v2Claim(): { base: string; rel: string } {
  if (!claimed) {
    const plan = planCgroupRoot(hostCgroupRootFacts());
    claimed = { base: claimCgroupRoot(plan), rel: plan.kind === 'undelegated' ? '' : plan.base };
  }
  return claimed;
}
