/** What the host offers: cgroup layout, tools, user namespaces. */
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
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

/** Throws a HostError naming the fix for the first thing the host lacks. */
export function checkHostRequirements(): void {
  if (process.getuid?.() !== 0) {
    throw new HostError('nslab must run as root on the host (it creates uid-mapped namespaces and cgroups)', 'run it as root, e.g. `sudo -E npm start`');
  }
  for (const [tool, pkg] of [['crun', 'crun'], ['unshare', 'util-linux'], ['nsenter', 'util-linux'], ['mount', 'mount']] as const) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new HostError(`'${tool}' is not installed`, `apt-get install -y ${pkg}   (or run scripts/setup.sh)`);
    }
  }
  const maxUserNs = Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8'));
  if (!(maxUserNs > 0)) {
    throw new HostError('user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0)', 'sysctl -w user.max_user_namespaces=65536');
  }
  if (existsSync('/proc/sys/kernel/unprivileged_userns_clone') && readFileSync('/proc/sys/kernel/unprivileged_userns_clone', 'utf8').trim() === '0') {
    // root does not need it, but crun's helpers may: say so rather than fail obscurely
    console.warn('nslab: kernel.unprivileged_userns_clone=0; sandboxes still work as root creates them');
  }
  if (!readFileSync('/proc/filesystems', 'utf8').includes('erofs')) {
    try { execFileSync('modprobe', ['erofs'], { stdio: 'ignore' }); } catch { /* reported below */ }
    if (!readFileSync('/proc/filesystems', 'utf8').includes('erofs')) {
      throw new HostError('the kernel cannot mount erofs (the read-only sandbox image)', 'modprobe erofs, or use a kernel with CONFIG_EROFS_FS');
    }
  }
  hostInfo();
}
