/**
 * The `Lab` that checks see, over a real Sandbox.
 *
 * One Lab is made per evaluation round and memoises every probe call for that round:
 * five checks asking for `processes()` cost one walk of /proc, which is what keeps a
 * round well inside the 0.5 s the UI promises. A new round sees fresh state.
 */
import type { NamespaceKind, ProcessInfo, Sandbox } from '../sandbox/types.ts';
import type { Lab, Lang } from './api.ts';
import { createCgroupLab } from './cgroup-lab.ts';
import { identityLab } from './lab-identity.ts';
import { createNetLab } from './net-lab.ts';

export type TerminalTextProvider = (n: number) => string;

/** what `lab.shells()` counts as a shell (by the command name the kernel reports) */
export const SHELL_NAMES: ReadonlySet<string> = new Set(['bash', 'sh', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'busybox']);

export function createLab(sandbox: Sandbox, opts: { lang: Lang; terminalText?: TerminalTextProvider }): Lab {
  const memo = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, f: () => Promise<T>): Promise<T> => {
    let p = memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = f();
      // a failed probe is not cached: the next check in the round may ask again
      p.catch(() => memo.delete(key));
      memo.set(key, p);
    }
    return p;
  };
  const probe = sandbox.probe;
  const processes = () => once('processes', () => probe.processes());
  /**
   * What a per-process probe really depends on is the process's namespace, so the
   * memo key is the namespace inode when the round's process list knows the pid:
   * a check looping over twenty shells in one IPC namespace costs one `ipc` probe,
   * not twenty (each probe runs a helper process). Unknown pids fall back to the pid.
   */
  const nsKey = async (hostPid: number, kinds: ('ipc' | 'uts' | 'net')[]): Promise<string> => {
    const p = (await processes().catch(() => [])).find((x) => x.hostPid === hostPid);
    return p ? `ns:${kinds.map((k) => p.ns[k]).join(':')}` : `pid:${hostPid}`;
  };
  const byNs = <T>(what: string, hostPid: number, kinds: ('ipc' | 'uts' | 'net')[], f: () => Promise<T>): Promise<T> =>
    nsKey(hostPid, kinds).then((key) => once(`${what}:${key}`, f));
  const rootNamespaces = () => once('root', () => probe.rootNamespaces());
  const cgroups = () => once('cgroups', () => probe.cgroups());
  const init = () => once('init', async () => {
    const p = (await processes()).find((x) => x.pid === 1);
    if (!p) throw new Error('the sandbox has no PID 1');
    return p;
  });
  const newNamespaceMap = (kind: NamespaceKind) => once(`new:${kind}`, async () => {
    const [root, procs] = await Promise.all([rootNamespaces(), processes()]);
    const out = new Map<number, ProcessInfo>();
    for (const p of procs) {
      if (p.state === 'Z' || p.ns[kind] === root[kind] || out.has(p.ns[kind])) continue;
      out.set(p.ns[kind], p);
    }
    return out;
  });
  // a copy each time: one check may change its map without touching the next check's
  const newNamespaces = (kind: NamespaceKind) => newNamespaceMap(kind).then((m) => new Map(m));
  return {
    ...createNetLab(probe, once, processes, () => rootNamespaces().then((r) => r.net)),
    processes,
    rootNamespaces,
    ipc: (hostPid) => byNs('ipc', hostPid, ['ipc'], () => probe.sysvipc(hostPid)),
    mqueue: (hostPid) => byNs('mq', hostPid, ['ipc'], () => probe.mqueue(hostPid)),
    // the probe reads /proc/sys inside the process's ipc, uts and net namespaces
    sysctl: (hostPid, name) => byNs(`sysctl:${name}`, hostPid, ['ipc', 'uts', 'net'], () => probe.sysctl(hostPid, name)),
    hostname: (hostPid) => byNs('hostname', hostPid, ['uts'], () => probe.hostname(hostPid)),
    mounts: (hostPid) => once(`mounts:${hostPid}`, () => probe.mounts(hostPid)),
    readFile: (hostPid, file) => once(`file:${hostPid}:${file}`, () => probe.readFile(hostPid, file)),
    cgroups,
    ...createCgroupLab(probe, once, processes),
    ...identityLab(probe, once, processes),
    commands: () => sandbox.commands(),
    terminalText: (n) => {
      try {
        return opts.terminalText?.(n) ?? '';
      } catch {
        return '';
      }
    },
    lang: opts.lang,
    init,
    newNamespaces,
    shells: () => processes().then((ps) => ps.filter((p) => SHELL_NAMES.has(p.comm) && p.state !== 'Z')),
    commandsRun: () => sandbox.commands().filter((e) => e.kind === 'cmd'),
  };
}
