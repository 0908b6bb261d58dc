/**
 * How we call crun.
 *
 * Hybrid-cgroup hosts: crun refuses to work while a cgroup2 with controllers is
 * mounted at /sys/fs/cgroup/unified, and it does not manage that hierarchy
 * anyway. So those crun calls run in a private copy of the host's mount namespace
 * with that mount detached, after joining the sandbox's own unified group (so the
 * cgroup namespace crun makes is rooted there too).
 *
 * `crun run` (every host): the same private mount namespace is where the
 * sandbox's writable root is made — the size-capped tmpfs and its skeleton of
 * mount points — so the host never has it mounted: it lives exactly as long as the
 * sandbox's mount namespace, and the server spends no extra process on it (every
 * process the server spawns forks it on its event loop, a few ms each).
 */
import { hostInfo } from './host.ts';
import { unifiedProcsFile } from './cgroups.ts';

/** The writable root, made inside the private mount namespace before crun runs. */
export interface RootfsPrelude {
  /** the nslab-rootfs helper (helpers/nslab-rootfs.c) */
  helper: string;
  rootfs: string;
  /** tmpfs data options (size, nr_inodes, uid, gid, mode); nosuid and nodev are always set */
  tmpfsOptions: string;
  /** host uid (and gid) that owns the skeleton's directories */
  hostUid: number;
}

/** argv that runs `crun <args>` correctly on this host */
export function crunArgv(crunRoot: string, sandboxId: string, args: string[], prelude?: RootfsPrelude): { file: string; args: string[]; env: Record<string, string> } {
  const h = hostInfo();
  const crun = ['crun', '--root', crunRoot, ...args];
  const procs = unifiedProcsFile(sandboxId);
  const hybrid = h.cgroupMode === 'hybrid' && procs !== null && h.unifiedMount !== null;
  if (!hybrid && !prelude) return { file: 'crun', args: crun.slice(1), env: {} };
  const env: Record<string, string> = {};
  const inner: string[] = [];
  if (hybrid) {
    inner.push('umount -l "$NSLAB_UNIFIED" || exit 125');
    env.NSLAB_UNIFIED = h.unifiedMount!;
  }
  if (prelude) {
    inner.push('"$NSLAB_ROOTFS_HELPER" "$NSLAB_ROOTFS" "$NSLAB_TMPFS_OPTS" "$NSLAB_UID" || exit 125');
    Object.assign(env, { NSLAB_ROOTFS_HELPER: prelude.helper, NSLAB_ROOTFS: prelude.rootfs, NSLAB_TMPFS_OPTS: prelude.tmpfsOptions, NSLAB_UID: String(prelude.hostUid) });
  }
  inner.push('exec "$@"');
  const outer = [
    // hybrid: join the sandbox's unified group first; $0 = its cgroup.procs
    ...(hybrid ? ['echo $$ > "$0" || exit 125'] : []),
    'exec unshare --mount --propagation private -- sh -c "$NSLAB_INNER" sh "$@"',
  ].join('\n');
  env.NSLAB_INNER = inner.join('\n');
  return { file: '/bin/sh', args: ['-c', outer, hybrid ? procs! : 'sh', ...crun], env };
}
