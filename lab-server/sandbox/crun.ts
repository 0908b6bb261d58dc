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
 * sandbox's mount namespace. One helper (helpers/nslab-rootfs.c) joins the group,
 * makes the namespace, detaches the mount, makes the root and execs crun: every
 * process on this path costs a fork and exec (a shell, unshare(1) and umount(1)
 * before it cost about 10 ms of a cold start, bench/cold-start.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hostInfo } from './host.ts';
import { cgroupDirs, unifiedProcsFile } from './cgroups.ts';
import { LEARNER_OOM_SCORE } from './oom-score.ts';

/** a program to run: file, arguments and the environment to add to the server's PATH */
export interface Argv { file: string; args: string[]; env: Record<string, string> }

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
export function crunArgv(crunRoot: string, sandboxId: string, args: string[], prelude?: RootfsPrelude): Argv {
  const h = hostInfo();
  const crun = ['crun', '--root', crunRoot, ...args];
  const procs = unifiedProcsFile(sandboxId);
  const hybrid = h.cgroupMode === 'hybrid' && procs !== null && h.unifiedMount !== null;
  if (prelude) {
    // one process does it all, then execs crun (helpers/nslab-rootfs.c)
    const hybridArgs = hybrid ? ['-c', procs!, '-u', h.unifiedMount!] : [];
    return { file: prelude.helper, args: [...hybridArgs, prelude.rootfs, prelude.tmpfsOptions, String(prelude.hostUid), '--', ...crun], env: {} };
  }
  if (!hybrid) return { file: 'crun', args: crun.slice(1), env: {} };
  // other runtime calls on hybrid hosts (off the start-up path): join the sandbox's
  // unified group ($0 = its cgroup.procs), then crun in a mount namespace without that mount
  const inner = 'umount -l "$NSLAB_UNIFIED" || exit 125\nexec "$@"';
  const outer = [
    'echo $$ > "$0" || exit 125',
    'exec unshare --mount --propagation private -- sh -c "$NSLAB_INNER" sh "$@"',
  ].join('\n');
  return { file: '/bin/sh', args: ['-c', outer, procs!, ...crun], env: { NSLAB_UNIFIED: h.unifiedMount!, NSLAB_INNER: inner } };
}

/**
 * argv of `crun exec` (args start with the verb) behind nslab-reaper (`reaper`).
 * `crun exec` works on hybrid hosts as it is (only `run` trips over the
 * unified hierarchy), and skipping the wrapper saves a few ms per terminal.
 * `detach`: crun starts the process and exits, and nslab-reaper (-d) keeps it as
 * its own until it ends; no `crun exec` stays resident for a long-lived terminal.
 */
export function crunExecArgv(reaper: string, crunRoot: string, sandboxId: string, args: string[], opts: { detach?: boolean } = {}): Argv {
  // v2: PID 1 moved into the leaf "init" (see nslab-init.c); the sandbox's own group holds no process
  const leaf = hostInfo().cgroupMode === 'v2' && existsSync(join(cgroupDirs(sandboxId)[0], 'init')) ? ['--cgroup', 'init'] : [];
  const [verb, ...rest] = args;
  const detach = opts.detach ? ['-d'] : [];
  // crun exec hands the server's own rlimits down (the spec's apply to PID 1 only): set the sandbox's.
  // And a raised OOM score (raising needs no privilege; the learner can go back to 0, not below):
  // the OOM killer takes learner processes before PID 1, whatever their size, also where
  // host root cannot protect PID 1 (oom-score.ts, protectFromOom), and before host processes in a global OOM
  return {
    file: reaper,
    args: [...detach, '-r', 'core=0:0', '-r', 'nofile=4096:8192', '-o', String(LEARNER_OOM_SCORE), '--', 'crun', '--root', crunRoot, verb, ...detach, ...leaf, ...rest],
    env: {},
  };
}
