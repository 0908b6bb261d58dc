/**
 * The `Lab` that checks see, over a real Sandbox.
 *
 * One Lab is made per evaluation round and memoises every probe call for that round:
 * five checks asking for `processes()` cost one walk of /proc, which is what keeps a
 * round well inside the 0.5 s the UI promises. A new round sees fresh state.
 */
import type { Sandbox } from '../sandbox/types.ts';
import type { Lab, Lang, Localized } from './api.ts';

export type TerminalTextProvider = (n: number) => string;

export function localize(message: Localized | undefined, lang: Lang): string | null {
  if (message === undefined) return null;
  if (typeof message === 'string') return message;
  return message[lang] ?? message.en;
}

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
  return {
    processes,
    rootNamespaces: () => once('root', () => probe.rootNamespaces()),
    ipc: (hostPid) => byNs('ipc', hostPid, ['ipc'], () => probe.sysvipc(hostPid)),
    mqueue: (hostPid) => byNs('mq', hostPid, ['ipc'], () => probe.mqueue(hostPid)),
    // the probe reads /proc/sys inside the process's ipc, uts and net namespaces
    sysctl: (hostPid, name) => byNs(`sysctl:${name}`, hostPid, ['ipc', 'uts', 'net'], () => probe.sysctl(hostPid, name)),
    hostname: (hostPid) => byNs('hostname', hostPid, ['uts'], () => probe.hostname(hostPid)),
    mounts: (hostPid) => once(`mounts:${hostPid}`, () => probe.mounts(hostPid)),
    readFile: (hostPid, file) => once(`file:${hostPid}:${file}`, () => probe.readFile(hostPid, file)),
    cgroups: () => once('cgroups', () => probe.cgroups()),
    commands: () => sandbox.commands(),
    terminalText: (n) => {
      try {
        return opts.terminalText?.(n) ?? '';
      } catch {
        return '';
      }
    },
    lang: opts.lang,
  };
}
