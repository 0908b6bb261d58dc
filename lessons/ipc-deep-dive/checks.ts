/**
 * Checks for ipc-deep-dive. Every step except `nsenter-debug` looks at real state
 * through the probe: the System V tables and the mqueue filesystem of each IPC
 * namespace, IPC sysctls as a process sees them, a process's mounts and files.
 * `nsenter-debug` changes nothing, so the command log is its evidence (plus the
 * probe, to learn which namespace the nsenter target was in). The texts are in
 * messages.<lang>.json.
 */
import { defineChecks, fail, msg, pass, pending, type Lab, type MessageRef, type ProcessInfo, type SysvIpc } from '../../lab-server/checks/api.ts';

/** the fixed key of the lesson's keydemo.c ("NSLB") */
const KEY = 0x4e534c42;
const keyHex = (k: number) => '0x' + (k >>> 0).toString(16).padStart(8, '0');
/** the POSIX shared memory object pshm.c makes (/dev/shm/nslab-note) */
const SHM_NAME = 'nslab-note';
const MIB = 1024 * 1024;

/** What a brand-new IPC namespace starts with (the kernel's defaults, not the parent's values). */
const IPC_SYSCTL_DEFAULTS: Record<string, string> = {
  'kernel.msgmni': '32000',
  'kernel.msgmax': '8192',
  'kernel.msgmnb': '16384',
  'kernel.shmmni': '4096',
  'kernel.shmmax': '18446744073692774399',
  'kernel.shmall': '18446744073692774399',
  'kernel.sem': '32000 1024000000 500 32000',
  'kernel.shm_rmid_forced': '0',
  'fs.mqueue.queues_max': '256',
  'fs.mqueue.msg_max': '10',
  'fs.mqueue.msgsize_max': '8192',
};
const norm = (s: string) => s.trim().split(/\s+/).join(' ');

interface Ctx {
  root: Awaited<ReturnType<Lab['rootNamespaces']>>;
  procs: ProcessInfo[];
  init: ProcessInfo;
}

async function ctx(lab: Lab): Promise<Ctx> {
  const [root, procs, init] = await Promise.all([lab.rootNamespaces(), lab.processes(), lab.init()]);
  return { root, procs, init };
}

async function ipcOf(lab: Lab, p: ProcessInfo): Promise<SysvIpc | null> {
  return lab.ipc(p.hostPid).catch(() => null);
}

const count = (s: SysvIpc) => s.queues.length + s.shm.length + s.sems.length;

function missingKinds(s: SysvIpc): MessageRef[] {
  const out: MessageRef[] = [];
  if (!s.shm.length) out.push(msg('sysv-trio.kind-shm'));
  if (!s.sems.length) out.push(msg('sysv-trio.kind-sem'));
  if (!s.queues.length) out.push(msg('sysv-trio.kind-queue'));
  return out;
}

const NO_CHILD = msg('no-child');

/** names of files in /dev/shm the learner mentioned, plus the lesson's own */
function shmCandidates(lab: Lab): string[] {
  const names = new Set<string>([SHM_NAME]);
  for (const e of lab.commands()) {
    for (const m of e.command.matchAll(/\/dev\/shm\/([A-Za-z0-9._-]+)/g)) names.add(m[1]);
  }
  return [...names].slice(0, 20);
}

function tmpfsSize(opts: string[]): number | null {
  for (const o of opts) {
    const m = /^size=(\d+)([kmgKMG]?)$/.exec(o);
    if (m) {
      const mult = { '': 1, k: 1024, m: MIB, g: 1024 * MIB }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
      return Number(m[1]) * mult;
    }
  }
  return null;
}

/**
 * The pid an nsenter command targets, as a sandbox pid: `-t 42`, `--target=42`,
 * `--ipc=/proc/42/ns/ipc`, `$(cat FILE)`, or `$VAR` assigned earlier in the same shell.
 * undefined: not an nsenter into an IPC namespace; null: a target we cannot resolve.
 */
async function nsenterTarget(lab: Lab, c: Ctx, index: number): Promise<number | null | undefined> {
  const log = lab.commands();
  const e = log[index];
  const cmd = e.command;
  if (!/\bnsenter\b/.test(cmd) || !/\bipcs\b/.test(cmd)) return undefined;
  const m = /--ipc=\/proc\/(.+?)\/ns\/ipc/.exec(cmd) ?? /(?:^|\s)(?:-t|--target)(?:=|\s*)(\S+)/.exec(cmd);
  const joinsIpc = /(?:^|\s)(--ipc\b|--all\b|-[a-zA-Z]*[ia][a-zA-Z]*(?=\s|$))/.test(cmd.split(/\bipcs\b/)[0]);
  if (!m || !joinsIpc) return undefined;
  const resolve = async (tok: string, depth: number): Promise<number | null> => {
    tok = tok.replace(/^["']|["']$/g, '');
    if (/^\d+$/.test(tok)) return Number(tok);
    const file = /^\$\((?:cat\s+|<\s*)(\S+?)\)$/.exec(tok) ?? /^`cat\s+(\S+?)`$/.exec(tok);
    if (file) {
      const text = await lab.readFile(c.init.hostPid, file[1]).catch(() => null);
      return text && /^\s*\d+\s*$/.test(text) ? Number(text) : null;
    }
    const v = /^\$\{?([A-Za-z_]\w*)\}?$/.exec(tok);
    if (v && depth < 2) {
      for (let i = index - 1; i >= 0; i--) {
        const prev = log[i];
        if (prev.terminal !== e.terminal || prev.pid !== e.pid) continue;
        const a = new RegExp(`(?:^|[;&\\s])(?:export\\s+)?${v[1]}=(\\S+)`).exec(prev.command);
        if (a) return resolve(a[1].replace(/;$/, ''), depth + 1);
      }
    }
    return null;
  };
  return resolve(m[1], 0);
}

export default defineChecks({
  'sysv-trio': async (lab) => {
    const c = await ctx(lab);
    const children = await lab.newNamespaces('ipc');
    let best: SysvIpc | null = null;
    for (const p of children.values()) {
      const s = await ipcOf(lab, p);
      if (!s) continue;
      if (s.queues.length && s.shm.length && s.sems.length) return pass();
      if (!best || count(s) > count(best)) best = s;
    }
    if (best && count(best)) {
      return pending(msg('sysv-trio.missing', { missing: missingKinds(best) }));
    }
    const rootIpc = await ipcOf(lab, c.init);
    if (rootIpc && count(rootIpc)) {
      return fail(msg('sysv-trio.in-sandbox-namespace'));
    }
    if (children.size) {
      return pending(msg('sysv-trio.empty'));
    }
    return pending(NO_CHILD);
  },

  'same-key': async (lab) => {
    const c = await ctx(lab);
    const spaces = [c.init, ...(await lab.newNamespaces('ipc')).values()];
    const seen = new Map<string, Set<number>>();
    for (const p of spaces) {
      const s = await ipcOf(lab, p);
      if (!s) continue;
      const add = (kind: string, key: number) => {
        if (key === 0) return;
        const k = `${kind}:${key}`;
        if (!seen.has(k)) seen.set(k, new Set());
        seen.get(k)!.add(p.ns.ipc);
      };
      s.shm.forEach((o) => add('shm', o.key));
      s.queues.forEach((o) => add('msg', o.key));
      s.sems.forEach((o) => add('sem', o.key));
    }
    for (const spacesWithKey of seen.values()) if (spacesWithKey.size >= 2) return pass();
    const mine = seen.get(`shm:${KEY}`);
    if (mine) {
      const inRoot = mine.has(c.root.ipc);
      return pending(inRoot
        ? msg('same-key.only-in-sandbox', { key: keyHex(KEY) })
        : msg('same-key.only-in-new', { key: keyHex(KEY) }));
    }
    return pending(msg('same-key.not-yet', { key: keyHex(KEY) }));
  },

  'posix-mqueue': async (lab) => {
    const c = await ctx(lab);
    const rootQueues = await lab.mqueue(c.init.hostPid).catch(() => []);
    const rootNames = new Set(rootQueues.map((q) => q.name));
    let leaked: string | null = null;
    for (const p of (await lab.newNamespaces('ipc')).values()) {
      const qs = await lab.mqueue(p.hostPid).catch(() => null);
      for (const q of qs ?? []) {
        if (rootNames.has(q.name)) continue;
        // the sandbox's own /dev/mqueue (what PID 1 sees there) must not show it either
        const visible = await lab.readFile(c.init.hostPid, `/dev/mqueue/${q.name}`).catch(() => null);
        if (visible !== null) { leaked = q.name; continue; }
        return pass();
      }
    }
    if (leaked) {
      return fail(msg('posix-mqueue.mounted-over-shared', { leaked }));
    }
    if (rootQueues.length) {
      const queues = rootQueues.map((q) => '/' + q.name).join(', ');
      return fail(rootQueues.length > 1 ? msg('posix-mqueue.queues-in-sandbox', { queues }) : msg('posix-mqueue.queue-in-sandbox', { queues }));
    }
    return pending(msg('posix-mqueue.not-yet'));
  },

  'private-shm': async (lab) => {
    const c = await ctx(lab);
    const names = shmCandidates(lab);
    const inRoot = new Map<string, string | null>();
    for (const n of names) inRoot.set(n, await lab.readFile(c.init.hostPid, `/dev/shm/${n}`).catch(() => null));
    let tooBig: number | null | undefined;
    let emptyPrivate = false;
    let sharedFile: string | null = null;
    // a tmpfs mounted over the copied /dev/shm shows up as one more /dev/shm entry
    const rootShmMounts = (await lab.mounts(c.init.hostPid).catch(() => [])).filter((m) => m.mountPoint === '/dev/shm').length;
    for (const p of (await lab.newNamespaces('mnt')).values()) {
      const mounts = (await lab.mounts(p.hostPid).catch(() => [])).filter((m) => m.mountPoint === '/dev/shm');
      const shm = mounts[mounts.length - 1];
      if (!shm || shm.fsType !== 'tmpfs') continue;
      const size = tmpfsSize([...shm.superOptions, ...shm.options]);
      let privateFile = false;
      let sharedHere = false;
      for (const n of names) {
        const here = await lab.readFile(p.hostPid, `/dev/shm/${n}`).catch(() => null);
        if (here === null) continue;
        const there = inRoot.get(n) ?? null;
        if (there === null || there !== here) privateFile = true;
        else { sharedFile = n; sharedHere = true; }
      }
      if (!privateFile) {
        if (!sharedHere && mounts.length > rootShmMounts && size !== null && size <= 64 * MIB) emptyPrivate = true;
        continue;
      }
      if (size === null || size > 64 * MIB) { tooBig = size; continue; }
      return pass();
    }
    if (tooBig !== undefined) {
      return fail(tooBig === null ? msg('private-shm.unsized') : msg('private-shm.too-big', { size: Math.round(tooBig / MIB) }));
    }
    const rootHas = [...inRoot.entries()].find(([, v]) => v !== null)?.[0];
    if (emptyPrivate && rootHas) {
      return fail(msg('private-shm.written-outside', { rootHas }));
    }
    if (emptyPrivate) {
      return pending(msg('private-shm.empty', { shmName: SHM_NAME }));
    }
    const shownInRoot = sharedFile ?? rootHas;
    if (shownInRoot) {
      // with a new mount namespace this is the lesson's own demonstration: not a mistake yet
      return ((await lab.newNamespaces('mnt')).size ? pending : fail)(msg('private-shm.shared-shm', { shownInRoot }));
    }
    return pending(msg('private-shm.not-yet'));
  },

  'ipc-limits': async (lab) => {
    const c = await ctx(lab);
    // every sysctl read is a helper process per namespace: read only the limits the
    // learner has named in a command (`sysctl -w kernel.msgmni=64`, `echo 64 > /proc/sys/kernel/msgmni`)
    const typed = lab.commands().map((e) => e.command.replace(/\//g, '.')).join('\n');
    const names = Object.keys(IPC_SYSCTL_DEFAULTS).filter((n) => new RegExp(`\\b${n.replace(/\./g, '\\.')}\\b`).test(typed));
    const children = await lab.newNamespaces('ipc');
    if (!names.length) {
      return pending(children.size ? msg('ipc-limits.defaults') : NO_CHILD);
    }
    const rootVals = new Map<string, string | null>();
    for (const n of names) rootVals.set(n, await lab.sysctl(c.init.hostPid, n).then(norm, () => null));
    for (const p of children.values()) {
      for (const n of names) {
        const v = await lab.sysctl(p.hostPid, n).then(norm, () => null);
        if (v === null) continue;
        if (v !== norm(IPC_SYSCTL_DEFAULTS[n]) && v !== rootVals.get(n)) return pass();
      }
    }
    const changedRoot = names.filter((n) => rootVals.get(n) !== null && rootVals.get(n) !== norm(IPC_SYSCTL_DEFAULTS[n]));
    if (changedRoot.length) {
      const n = changedRoot[0];
      const original = IPC_SYSCTL_DEFAULTS[n].includes(' ') ? `"${IPC_SYSCTL_DEFAULTS[n]}"` : IPC_SYSCTL_DEFAULTS[n];
      return fail(msg('ipc-limits.changed-sandbox', { name: n, value: rootVals.get(n)!, original }));
    }
    if (children.size) {
      return pending(msg('ipc-limits.defaults'));
    }
    return pending(NO_CHILD);
  },

  'nsenter-debug': async (lab) => {
    const c = await ctx(lab);
    const log = lab.commands();
    const children = await lab.newNamespaces('ipc');
    let wrong: number | null = null;
    let unresolved = false;
    for (let i = 0; i < log.length; i++) {
      const e = log[i];
      if (e.kind !== 'cmd' || e.status !== 0 || e.ns.ipc !== c.root.ipc) continue;
      const target = await nsenterTarget(lab, c, i);
      if (target === undefined) continue;
      if (target === null) {
        // cannot tell the pid: accept if the terminal shows a key only a child namespace has
        const rootIpc = await ipcOf(lab, c.init);
        const rootKeys = new Set([...(rootIpc?.queues ?? []), ...(rootIpc?.shm ?? []), ...(rootIpc?.sems ?? [])].map((o) => o.key));
        const screen = lab.terminalText(e.terminal).toLowerCase();
        for (const p of children.values()) {
          const s = await ipcOf(lab, p);
          const keys = [...(s?.queues ?? []), ...(s?.shm ?? []), ...(s?.sems ?? [])].map((o) => o.key).filter((k) => k && !rootKeys.has(k));
          if (keys.some((k) => screen.includes(keyHex(k)))) return pass();
        }
        unresolved = true;
        continue;
      }
      const proc = c.procs.find((p) => p.pid === target);
      if (proc && proc.ns.ipc !== c.root.ipc) return pass();
      if (proc) wrong = target;
    }
    if (wrong !== null) {
      return fail(msg('nsenter-debug.wrong-target', { wrong }));
    }
    if (unresolved) {
      return fail(msg('nsenter-debug.unresolved'));
    }
    if (!children.size) return pending(NO_CHILD);
    return pending(msg('nsenter-debug.not-yet'));
  },

  cleanup: async (lab) => {
    const c = await ctx(lab);
    const log = lab.commands();
    const children = await lab.newNamespaces('ipc');
    let leftovers: { ns: number; s: SysvIpc; inProgress: boolean } | null = null;
    for (const [ns, p] of children) {
      const made = log.some((e) => e.kind === 'cmd' && e.status === 0 && e.ns.ipc === ns && /\bipcmk\b|keydemo/.test(e.command));
      const removed = log.some((e) => e.kind === 'cmd' && e.status === 0 && /\bipcrm\b/.test(e.command) && (e.ns.ipc === ns || /\bnsenter\b/.test(e.command)));
      if (!made) continue;
      const s = await ipcOf(lab, p);
      if (!s) continue;
      if (count(s) === 0 && removed) return pass();
      if (count(s) > 0 && (removed || log.some((e) => e.kind === 'cmd' && /\bipcrm\b/.test(e.command)))) leftovers = { ns, s, inProgress: removed };
    }
    if (leftovers) {
      const s = leftovers.s;
      return (leftovers.inProgress ? pending : fail)(msg('cleanup.leftovers', { shm: s.shm.length, sems: s.sems.length, queues: s.queues.length }));
    }
    if (!children.size) {
      return pending(msg('cleanup.no-child'));
    }
    return pending(msg('cleanup.not-yet'));
  },
});
