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
  return {
    processes: () => once('processes', () => probe.processes()),
    rootNamespaces: () => once('root', () => probe.rootNamespaces()),
    ipc: (hostPid) => once(`ipc:${hostPid}`, () => probe.sysvipc(hostPid)),
    mqueue: (hostPid) => once(`mq:${hostPid}`, () => probe.mqueue(hostPid)),
    sysctl: (hostPid, name) => once(`sysctl:${hostPid}:${name}`, () => probe.sysctl(hostPid, name)),
    hostname: (hostPid) => once(`hostname:${hostPid}`, () => probe.hostname(hostPid)),
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
