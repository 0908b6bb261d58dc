/** What the host offers: cgroup layout, tools, user namespaces. */
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { release } from 'node:os';
import { checkAppArmorUserns, checkKernelRelease } from './kernel.ts';
import { HostError } from './types.ts';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const TMPFS_MAGIC = 0x01021994;

export type CgroupMode =
  /** pure cgroup v2 at /sys/fs/cgroup (most production hosts) */
  | 'v2'
  /** v1 controllers under /sys/fs/cgroup/<controller>, maybe an (unusable) cgroup2 at /sys/fs/cgroup/unified */
  | 'hybrid';

export interface HostInfo {
  cgroupMode: CgroupMode;
  /** hybrid only: the cgroup2 mount crun must not see (it refuses hybrid hosts) */
  unifiedMount: string | null;
  /** hybrid only: v1 hierarchies mounted, by directory name (memory, pids, cpu, ..., systemd) */
  v1Hierarchies: string[];
}

let cached: HostInfo | null = null;

export function hostInfo(): HostInfo {
  if (cached) return cached;
  const root = statfsSync('/sys/fs/cgroup');
  if (root.type === CGROUP2_SUPER_MAGIC) {
    cached = { cgroupMode: 'v2', unifiedMount: null, v1Hierarchies: [] };
    return cached;
  }
  if (root.type !== TMPFS_MAGIC) {
    throw new HostError('/sys/fs/cgroup is neither cgroup2 nor a tmpfs of v1 hierarchies', 'boot the host with cgroups mounted (systemd does this)');
  }
  const v1: string[] = [];
  let unified: string | null = null;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const mp = f[4];
    if (!mp?.startsWith('/sys/fs/cgroup/')) continue;
    const sep = f.indexOf('-');
    const fstype = f[sep + 1];
    const name = mp.slice('/sys/fs/cgroup/'.length);
    if (name.includes('/')) continue;
    if (fstype === 'cgroup2') unified = mp;
    else if (fstype === 'cgroup') v1.push(name);
  }
  for (const needed of ['memory', 'pids']) {
    if (!v1.includes(needed) && !v1.some((h) => h.split(',').includes(needed))) {
      throw new HostError(`the cgroup v1 '${needed}' controller is not mounted`, `mount it at /sys/fs/cgroup/${needed}, or boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)`);
    }
  }
  cached = { cgroupMode: 'hybrid', unifiedMount: unified, v1Hierarchies: v1 };
  return cached;
}

export interface HostRequirement {
  /** what is checked: root, crun, user namespaces, erofs, cgroups ... */
  name: string;
  ok: boolean;
  /** what was found (when ok) or what is missing */
  detail: string;
  /** how to get it; empty when ok */
  fix: string;
}

function toolPath(tool: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}

/**
 * Everything `checkHostRequirements` insists on, one row each, in its order. Only
 * reads (for `nslab doctor`); with `loadModules` it may `modprobe erofs` first, as
 * the server does at start.
 */
export function hostRequirements(opts: { loadModules?: boolean } = {}): HostRequirement[] {
  const rows: HostRequirement[] = [];
  const row = (name: string, ok: boolean, detail: string, fix: string) => rows.push({ name, ok, detail, fix: ok ? '' : fix });
  const root = process.getuid?.() === 0;
  row('root', root, root ? 'running as root' : 'nslab must run as root on the host (it creates uid-mapped namespaces and cgroups)', 'run it as root, e.g. `sudo -E npm start`');
  // the kernel floor: an older kernel fails later and obscurely (the image will not mount)
  const kernel = checkKernelRelease(release());
  row('kernel', kernel.ok, kernel.detail, kernel.fix);
  for (const [tool, pkg] of [['crun', 'crun'], ['unshare', 'util-linux'], ['nsenter', 'util-linux'], ['mount', 'mount']] as const) {
    const found = toolPath(tool);
    row(tool, found !== null, found ?? `'${tool}' is not installed`, `apt-get install -y ${pkg}   (or run scripts/setup.sh)`);
  }
  let maxUserNs = NaN;
  try { maxUserNs = Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8')); } catch { /* reported below */ }
  row('user namespaces', maxUserNs > 0, maxUserNs > 0 ? `user.max_user_namespaces = ${maxUserNs}` : 'user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0)', 'sysctl -w user.max_user_namespaces=65536');
  const hasErofs = () => readFileSync('/proc/filesystems', 'utf8').includes('erofs');
  if (!hasErofs() && opts.loadModules) {
    try { execFileSync('modprobe', ['erofs'], { stdio: 'ignore' }); } catch { /* reported below */ }
  }
  let erofs = hasErofs() ? 'in /proc/filesystems' : null;
  if (!erofs && !opts.loadModules) {
    try {
      erofs = `module ${execFileSync('modinfo', ['-n', 'erofs'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()} (loaded at start)`;
    } catch { /* no module */ }
  }
  row('erofs', erofs !== null, erofs ?? 'the kernel cannot mount erofs (the read-only sandbox image)', 'modprobe erofs, or use a kernel with CONFIG_EROFS_FS');
  try {
    const h = hostInfo();
    row('cgroups', true, h.cgroupMode === 'v2'
      ? 'v2 at /sys/fs/cgroup'
      : `hybrid: v1 ${h.v1Hierarchies.join(' ')}${h.unifiedMount ? `; cgroup2 at ${h.unifiedMount} (hidden from crun)` : ''}`, '');
  } catch (e) {
    const err = e as HostError;
    row('cgroups', false, err.message.split('\n')[0], err.fix ?? 'boot the host with cgroups mounted (systemd does this)');
  }
  return rows;
}

/** Throws a HostError naming the fix for the first thing the host lacks. */
export function checkHostRequirements(): void {
  for (const r of hostRequirements({ loadModules: true })) {
    if (!r.ok) throw new HostError(r.detail, r.fix);
    if (r.name === 'user namespaces' && existsSync('/proc/sys/kernel/unprivileged_userns_clone') && readFileSync('/proc/sys/kernel/unprivileged_userns_clone', 'utf8').trim() === '0') {
      // root does not need it, but crun's helpers may: say so rather than fail obscurely
      console.warn('nslab: kernel.unprivileged_userns_clone=0; sandboxes still work as root creates them');
    }
  }
  // not fatal (sandboxes start; only learners' nested user namespaces lose their
  // capabilities), but the operator must hear it before a lesson fails in class
  const aa = checkAppArmorUserns(readSysctlFile('/proc/sys/kernel/apparmor_restrict_unprivileged_userns'));
  if (aa.restricted) console.warn(`nslab: ${aa.detail}\n  fix: ${aa.fix}`);
}

/** a /proc/sys file's content, null when it does not exist */
export function readSysctlFile(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
