/**
 * How we call crun. On hybrid-cgroup hosts crun refuses to work while a
 * cgroup2 with controllers is mounted at /sys/fs/cgroup/unified, and it does not
 * manage that hierarchy anyway. So every crun call runs in a private copy of the
 * host's mount namespace with that mount detached, after joining the sandbox's
 * own unified group (so the cgroup namespace crun makes is rooted there too).
 * The private mount namespace dies with the crun process; the host is untouched.
 */
import { hostInfo } from './host.ts';
import { unifiedProcsFile } from './cgroups.ts';

const HYBRID_WRAPPER = [
  // $0 = unified cgroup.procs of the sandbox, "$@" = the crun command
  'echo $$ > "$0" || exit 125',
  'exec unshare --mount --propagation private -- sh -c \'umount -l "$0" && exec "$@"\' "$NSLAB_UNIFIED" "$@"',
].join('\n');

/** argv that runs `crun <args>` correctly on this host */
export function crunArgv(crunRoot: string, sandboxId: string, args: string[]): { file: string; args: string[]; env: Record<string, string> } {
  const h = hostInfo();
  const crun = ['crun', '--root', crunRoot, ...args];
  const procs = unifiedProcsFile(sandboxId);
  if (h.cgroupMode === 'hybrid' && procs && h.unifiedMount) {
    return { file: '/bin/sh', args: ['-c', HYBRID_WRAPPER, procs, ...crun], env: { NSLAB_UNIFIED: h.unifiedMount } };
  }
  return { file: 'crun', args: crun.slice(1), env: {} };
}
