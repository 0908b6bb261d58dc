/**
 * The sandbox's user namespace, made by a process running as the sandbox's own
 * host uid rather than by crun (which runs as host root).
 *
 * Why: since Linux 5.14 per-user kernel quotas (inotify instances, POSIX
 * message-queue bytes, user/net/... namespace counts, RLIMIT_NPROC, pending
 * signals) are ucounts, charged at every level of the user-namespace tree to
 * (parent namespace, *owner* of the child namespace). A namespace crun creates
 * is owned by uid 0, so every sandbox drew from one counter shared with every
 * root process of the host (docs/security.md, known gap 1). Owned by the
 * sandbox's host uid, each sandbox draws from a counter of its own.
 *
 * How: one small helper (helpers/nslab-userns.c) makes the command-log FIFO,
 * drops to the host uid with no capabilities, makes the namespace and waits on
 * stdin; we (host root, CAP_SETUID/CAP_SETGID in the parent namespace) write the
 * 65536-id maps, and crun joins the namespace by path. Closing the holder's
 * stdin ends it once the sandbox is running; the namespace lives on in the
 * sandbox's processes. (It was sh, mkfifo, chown, setpriv, unshare and sh: six
 * programs on the critical path of every start, bench/cold-start.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const START_TIMEOUT_MS = 10_000;

export interface UserNamespaceHolder {
  /** /proc/PID/ns/user of the holder, for the OCI config */
  readonly path: string;
  /** let the holder exit (the sandbox keeps the namespace alive) */
  release(): void;
}

/**
 * `helper`: the nslab-userns binary (host-helpers.ts). `fifo`: also make the
 * sandbox's command-log FIFO there, owned by the sandbox's uid (as host root,
 * before dropping to the uid: one process for both).
 */
export function createUserNamespace(hostUid: number, opts: { helper: string; size?: number; fifo?: string }): Promise<UserNamespaceHolder> {
  const size = opts.size ?? 65536;
  const child: ChildProcess = spawn(opts.helper, [String(hostUid), ...(opts.fifo ? [opts.fifo] : [])], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {},
  });
  const release = () => {
    child.stdin?.destroy();
    // it has nothing to clean up; don't leave it if stdin's EOF is not enough
    setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, 2000).unref();
  };
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => fail(new Error(`no user namespace within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const fail = (e: Error) => {
      clearTimeout(timer);
      release();
      reject(new Error(`could not create the sandbox's user namespace: ${e.message}${err ? `: ${err.trim()}` : ''}`));
    };
    child.stderr?.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-2000); });
    child.once('error', fail);
    // 'close', not 'exit': its stderr (the reason) is read by then
    child.once('close', (code) => fail(new Error(`the holder exited with ${code}`)));
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      child.removeAllListeners('close');
      child.removeAllListeners('error');
      child.on('error', () => { /* released */ });
      try {
        // gid_map first is not required for a privileged writer; setgroups stays "allow" for su/useradd inside
        writeFileSync(`/proc/${child.pid}/uid_map`, `0 ${hostUid} ${size}\n`);
        writeFileSync(`/proc/${child.pid}/gid_map`, `0 ${hostUid} ${size}\n`);
      } catch (e) {
        fail(e as Error);
        return;
      }
      resolve({ path: `/proc/${child.pid}/ns/user`, release });
    });
  });
}
