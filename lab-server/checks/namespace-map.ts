/**
 * Builds the namespace map (contract/namespace-map.ts) of one sandbox from the check
 * engine's probe round: the process walk, the root namespaces and the cgroups come
 * from the round's memoised Lab (shared with the checks), and what lives in each
 * IPC, UTS and net namespace from one helper fork for all of them
 * (Probe.namespaceInfo), which joins one namespace after another and reads a bounded
 * number of bytes of each (docs/namespace-map.md, "Cost").
 *
 * Everything comes from outside the sandbox, and only about the sandbox's own
 * processes: the probe refuses any pid that is not in the sandbox's cgroup.
 */
import {
  NSMAP_KINDS, NSMAP_LIMITS, type NsmapCgroup, type NsmapContents, type NsmapKind, type NsmapKindView,
  type NsmapNamespace, type NsmapProcess, type NsmapSnapshot,
} from '../contract/namespace-map.ts';
import type {
  CgroupInfo, CommandEvent, MountInfo, NamespaceInfo, NamespaceSet, NsinfoSection, ProcessInfo, Probe,
} from '../sandbox/types.ts';

/** what the map needs of a round: the memoised reads of the Lab, and the probe for the rest */
export interface MapSource {
  processes(): Promise<ProcessInfo[]>;
  rootNamespaces(): Promise<NamespaceSet>;
  cgroups(): Promise<CgroupInfo[]>;
  commands(): readonly CommandEvent[];
  probe: Pick<Probe, 'namespaceInfo' | 'mountsBounded'>;
}

/** bytes the helper returns per section of a namespace (per System V table for ipc): about 150 entries */
export const NSINFO_SECTION_BYTES = 24 * 1024;
/** bytes of a mount table read per mount namespace (about 300 mounts) */
export const MOUNTINFO_BYTES = 48 * 1024;

const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_RUNNING = 0x40;

/** at most n characters; a cut string ends in '…' */
const clip = (s: string, n: number = NSMAP_LIMITS.textChars) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function bounded<T>(all: readonly T[], max: number, budget: Budget, total = all.length, atLeast = false) {
  const items = budget.take(all, max);
  return { items, total: Math.max(total, all.length), truncated: total > items.length || atLeast, ...(atLeast ? { atLeast: true } : {}) };
}

/** the snapshot-wide allowance of contents items and their bytes (NSMAP_LIMITS.contentItems, contentBytes) */
class Budget {
  private bytes: number = NSMAP_LIMITS.contentBytes;
  constructor(private left: number) {}
  take<T>(all: readonly T[], max: number): T[] {
    const out: T[] = [];
    for (const item of all) {
      if (out.length >= max || this.left <= 0) break;
      const size = JSON.stringify(item).length + 1;
      if (size > this.bytes) { this.left = 0; break; }
      this.bytes -= size;
      this.left--;
      out.push(item);
    }
    return out;
  }
}

/** the shell at each terminal's prompt (host pid -> terminal): the pid of each terminal's latest command-log report */
export function terminalShells(commands: readonly CommandEvent[]): Map<number, number> {
  const latest = new Map<number, number>();
  for (const e of commands) if (e.hostPid !== null) latest.set(e.terminal, e.hostPid);
  return new Map([...latest].map(([terminal, hostPid]) => [hostPid, terminal]));
}

/**
 * The root of a cgroup namespace as a path in the sandbox's tree: where its process
 * is now (`current`), minus where it is seen from inside the namespace (its
 * /proc/PID/cgroup read from there: the v2 line, or the memory hierarchy's on v1,
 * which is the tree the sandbox's cgroups are read from). A process moved above its
 * namespace's root ("/../x") or an unread one leaves `current` as the best answer.
 */
export function cgroupNamespaceRoot(current: string, inside: string[] | null, version: 1 | 2): string {
  const line = inside?.find((l) => (version === 2 ? l.startsWith('0::') : l.split(':')[1]?.split(',').includes('memory')));
  const rel = line?.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
  if (!rel || rel.startsWith('/..')) return current;
  if (rel === '/') return current;
  if (current === rel) return '/';
  return current.endsWith(rel) ? current.slice(0, current.length - rel.length) || '/' : current;
}

const mountKey = (m: MountInfo) => `${m.mountPoint}\0${m.fsType}\0${m.source}`;

/**
 * The nearest ancestor (by parent pid) in a different namespace of `kind`: the
 * namespace the process's own was made from, as far as process ancestry tells
 * (`unshare --pid --fork` and `unshare --user` leave exactly this trail).
 */
function parentNamespace(kind: 'pid' | 'user', p: ProcessInfo, byHostPid: Map<number, ProcessInfo>): number | null {
  const seen = new Set<number>();
  for (let a = byHostPid.get(p.hostPpid); a && !seen.has(a.hostPid); a = byHostPid.get(a.hostPpid)) {
    seen.add(a.hostPid);
    if (a.ns[kind] === p.ns[kind]) continue;
    if (kind === 'pid' && a.nsPids.length >= p.nsPids.length) continue;
    return a.ns[kind];
  }
  return null;
}

export async function collectNamespaceMap(src: MapSource, seq: number): Promise<NsmapSnapshot> {
  const [allProcs, root, cgroups] = await Promise.all([
    src.processes(),
    src.rootNamespaces(),
    src.cgroups().catch(() => [] as CgroupInfo[]),
  ]);
  const procs = allProcs.filter((p) => p.state !== 'Z').sort((a, b) => a.pid - b.pid);
  const shells = terminalShells(src.commands());
  const byHostPid = new Map(procs.map((p) => [p.hostPid, p]));

  // listed processes: the terminals' shells always, then the lowest pids
  const listed = new Set(procs.filter((p) => shells.has(p.hostPid)).slice(0, NSMAP_LIMITS.processes).map((p) => p.hostPid));
  for (const p of procs) {
    if (listed.size >= NSMAP_LIMITS.processes) break;
    listed.add(p.hostPid);
  }
  const processItems: NsmapProcess[] = procs.filter((p) => listed.has(p.hostPid)).map((p) => ({
    pid: p.pid,
    ppid: p.ppid,
    comm: clip(p.comm),
    cmd: clip(p.cmdline.join(' ') || `[${p.comm}]`, NSMAP_LIMITS.cmdlineChars),
    terminal: shells.get(p.hostPid) ?? null,
    ns: Object.fromEntries(NSMAP_KINDS.map((k) => [k, p.ns[k]])) as Record<NsmapKind, number>,
  }));

  // namespaces per kind: the sandbox's own first, then by their lowest pid
  const groups = new Map<NsmapKind, Map<number, ProcessInfo[]>>();
  for (const kind of NSMAP_KINDS) {
    const m = new Map<number, ProcessInfo[]>([[root[kind], []]]);
    for (const p of procs) {
      let list = m.get(p.ns[kind]);
      if (!list) m.set(p.ns[kind], (list = []));
      list.push(p);
    }
    groups.set(kind, m);
  }
  const shown = (kind: NsmapKind) => [...groups.get(kind)!.keys()].slice(0, NSMAP_LIMITS.namespacesPerKind);

  // one process per namespace not read yet, all read in one helper fork: ipc, uts and
  // net for what they hold, pid and user (not the sandbox's own) for what they are nested in
  type ReadKind = 'ipc' | 'uts' | 'net' | 'pid' | 'user' | 'cgroup';
  const READ_KINDS: readonly ReadKind[] = ['ipc', 'uts', 'net', 'pid', 'user', 'cgroup'];
  const OWN_TOO: readonly ReadKind[] = ['ipc', 'uts', 'net'];
  const needed = Object.fromEntries(READ_KINDS.map((k) => [k, new Set(shown(k).filter((id) => OWN_TOO.includes(k) || id !== root[k]))])) as Record<ReadKind, Set<number>>;
  const info = Object.fromEntries(READ_KINDS.map((k) => [k, new Map()])) as Record<ReadKind, Map<number, NamespaceInfo | Error>>;
  const requests: { hostPid: number; sections: NsinfoSection[]; kinds: ReadKind[] }[] = [];
  for (const p of procs) {
    const kinds = READ_KINDS.filter((k) => needed[k].has(p.ns[k]));
    if (!kinds.length) continue;
    for (const k of kinds) needed[k].delete(p.ns[k]);
    const sections = new Set(kinds.flatMap((k): NsinfoSection[] => (k === 'ipc' ? ['ipc', 'mq'] : k === 'pid' || k === 'user' ? ['nest'] : k === 'cgroup' ? ['cgroupns'] : [k])));
    requests.push({ hostPid: p.hostPid, kinds, sections: [...sections] });
  }
  const reads = requests.length
    ? src.probe.namespaceInfo(requests, NSINFO_SECTION_BYTES).then((answers) => {
      for (const r of requests) {
        const a = answers.get(r.hostPid) ?? new Error('not read');
        for (const k of r.kinds) info[k].set(byHostPid.get(r.hostPid)!.ns[k], a);
      }
    }, (err: Error) => {
      for (const r of requests) for (const k of r.kinds) info[k].set(byHostPid.get(r.hostPid)!.ns[k], err);
    })
    : Promise.resolve();
  // mount tables: the sandbox's own is the reference the others are compared with
  const mountReads = new Map<number, Promise<{ mounts: MountInfo[]; complete: boolean } | Error>>();
  for (const id of shown('mnt')) {
    const p = groups.get('mnt')!.get(id)![0] ?? (id === root.mnt ? procs.find((x) => x.pid === 1) : undefined);
    if (p) mountReads.set(id, src.probe.mountsBounded(p.hostPid, MOUNTINFO_BYTES).catch((e: Error) => e));
  }
  await reads;
  const mounts = new Map<number, { mounts: MountInfo[]; complete: boolean } | Error>();
  for (const [id, r] of mountReads) mounts.set(id, await r);
  const rootMounts = mounts.get(root.mnt);
  const rootKeys = new Set(rootMounts && !(rootMounts instanceof Error) ? rootMounts.mounts.map(mountKey) : []);

  // on v1 a process is in one group per hierarchy (memory and pids are read): the deepest is where it was put
  const cgroupPath = (hostPid: number) => cgroups.filter((g) => g.hostPids.includes(hostPid)).map((g) => g.path).sort((a, b) => b.length - a.length)[0] ?? '/';
  const budget = new Budget(NSMAP_LIMITS.contentItems);

  const contentsOf = (kind: NsmapKind, id: number, members: ProcessInfo[]): { contents: NsmapContents | null; error?: string } => {
    const first = members[0];
    if (kind === 'ipc' || kind === 'uts' || kind === 'net') {
      const r = info[kind].get(id);
      if (!r) return { contents: null, error: 'no process left in it to read it through' };
      if (r instanceof Error) return { contents: null, error: clip(r.message) };
      if (kind === 'uts') return r.uts ? { contents: { kind, hostname: clip(r.uts.hostname), domainname: clip(r.uts.domainname) } } : { contents: null, error: 'not read' };
      if (kind === 'net') {
        const net = r.net;
        if (!net) return { contents: null, error: 'not read' };
        // interfaces first, then their addresses, so addresses of interfaces past the bound cost nothing
        const kept = budget.take(net.interfaces.map((i) => ({ ...i, addresses: [] })), NSMAP_LIMITS.interfaces);
        const items = kept.map((k, n) => {
          const i = net.interfaces[n];
          return {
            name: clip(k.name),
            state: (i.flags & IFF_UP ? 'up' : 'down') as 'up' | 'down',
            running: !!(i.flags & IFF_RUNNING),
            loopback: !!(i.flags & IFF_LOOPBACK),
            addresses: bounded(i.addresses.map((a) => ({ family: a.family, address: clip(a.address), prefix: a.prefix })), NSMAP_LIMITS.addresses, budget),
          };
        });
        const total = Math.max(net.totalInterfaces, net.interfaces.length);
        return { contents: { kind, interfaces: { items, total, truncated: total > items.length } } };
      }
      if (!r.ipc || !r.mq) return { contents: null, error: 'not read' };
      const cut = !r.ipc.complete;
      const { queues, sems, shm } = r.ipc.sysv;
      return {
        contents: {
          kind,
          queues: bounded(queues.map((q) => ({ key: q.key, id: q.id, owner: q.uid, perms: q.perms, messages: q.qnum, bytes: q.cbytes })), NSMAP_LIMITS.ipcObjects, budget, queues.length, cut),
          sems: bounded(sems.map((s) => ({ key: s.key, id: s.id, owner: s.uid, perms: s.perms, nsems: s.nsems })), NSMAP_LIMITS.ipcObjects, budget, sems.length, cut),
          shm: bounded(shm.map((s) => ({ key: s.key, id: s.id, owner: s.uid, perms: s.perms, size: s.size, attached: s.nattch })), NSMAP_LIMITS.ipcObjects, budget, shm.length, cut),
          mqueues: bounded(r.mq.queues.map((q) => ({ name: clip(q.name), mode: q.mode, bytes: q.qsize })), NSMAP_LIMITS.mqueues, budget, r.mq.total),
        },
      };
    }
    if (kind === 'mnt') {
      const r = mounts.get(id);
      if (!r) return { contents: null, error: 'no process left in it to read it through' };
      if (r instanceof Error) return { contents: null, error: clip(r.message) };
      let differences: { change: 'added' | 'removed'; mountPoint: string; fsType: string; source: string }[] = [];
      if (id !== root.mnt) {
        const here = new Set(r.mounts.map(mountKey));
        const added = r.mounts.filter((m) => !rootKeys.has(mountKey(m)));
        // a mount missing here may only be past the read bound: say "removed" only for a whole table
        const removed = r.complete && rootMounts && !(rootMounts instanceof Error) ? rootMounts.mounts.filter((m) => !here.has(mountKey(m))) : [];
        differences = [
          ...added.map((m) => ({ change: 'added' as const, mountPoint: clip(m.mountPoint), fsType: clip(m.fsType), source: clip(m.source) })),
          ...removed.map((m) => ({ change: 'removed' as const, mountPoint: clip(m.mountPoint), fsType: clip(m.fsType), source: clip(m.source) })),
        ];
      }
      return { contents: { kind, mountCount: r.mounts.length, differences: bounded(differences, NSMAP_LIMITS.mounts, budget, differences.length, !r.complete) } };
    }
    if (kind === 'cgroup') {
      if (id === root.cgroup || !first) return { contents: { kind, root: '/' } };
      const read = info.cgroup.get(id);
      return { contents: { kind, root: clip(cgroupNamespaceRoot(cgroupPath(first.hostPid), read && !(read instanceof Error) ? read.cgroupns ?? null : null, cgroups[0]?.version ?? 2)) } };
    }
    if (kind === 'pid') return { contents: { kind, level: first ? Math.max(0, first.nsPids.length - 1) : 0 } };
    if (kind === 'user') return { contents: { kind, level: 0 } };
    return { contents: { kind: 'time' } };
  };

  /** nesting depth below the sandbox's own namespace, where the kernel told it */
  const depth = new Map<number, number>();
  const kinds: NsmapKindView[] = NSMAP_KINDS.map((kind) => {
    const all = groups.get(kind)!;
    const namespaces: NsmapNamespace[] = shown(kind).map((id) => {
      const members = all.get(id)!;
      const own = id === root[kind];
      let parent: number | null = null;
      if (!own && (kind === 'pid' || kind === 'user') && members[0]) {
        // the kernel's answer (NS_GET_PARENT): the nearest enclosing namespace that has a
        // process (one without is not on the map); process ancestry when it was not read
        const read = info[kind].get(id);
        const chain = read && !(read instanceof Error) && read.nest ? read.nest[kind] : null;
        const p = chain ? chain.find((x) => all.has(x)) ?? null : parentNamespace(kind, members[0], byHostPid);
        parent = p !== null && all.has(p) ? p : null;
        if (chain && chain.includes(root[kind])) depth.set(id, chain.indexOf(root[kind]) + 1);
      }
      const { contents, error } = contentsOf(kind, id, members);
      return {
        id, own, parent,
        pids: members.filter((p) => listed.has(p.hostPid)).map((p) => p.pid),
        processCount: members.length,
        terminals: [...new Set(members.map((p) => shells.get(p.hostPid)).filter((t): t is number => t !== undefined))].sort((a, b) => a - b),
        contents,
        ...(error ? { error } : {}),
      };
    });
    if (kind === 'user') {
      // the kernel's depth where read, else counted along the parent links (own: 0)
      const byId = new Map(namespaces.map((n) => [n.id, n]));
      for (const n of namespaces) {
        let level = 0;
        for (let p = n.parent; p !== null && level < NSMAP_LIMITS.namespacesPerKind; p = byId.get(p)?.parent ?? null) level++;
        if (n.contents?.kind === 'user') n.contents.level = n.own ? 0 : depth.get(n.id) ?? Math.max(1, level);
      }
    }
    return { kind, namespaces, total: all.size, truncated: all.size > namespaces.length };
  });

  const sortedGroups = [...cgroups].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const groupItems: NsmapCgroup[] = sortedGroups.slice(0, NSMAP_LIMITS.cgroups).map((g) => ({
    path: clip(g.path),
    pids: g.hostPids.filter((h) => listed.has(h)).map((h) => byHostPid.get(h)!.pid).sort((a, b) => a - b),
    processCount: g.hostPids.length,
    memoryLimit: g.memoryLimit,
    memoryUsage: g.memoryUsage,
    pidsLimit: g.pidsMax,
    ...(g.pidsCurrent !== null && g.pidsCurrent !== undefined ? { pidsUsage: g.pidsCurrent } : {}),
    oomKills: g.oomKills,
  }));

  return {
    version: 1,
    seq,
    at: Date.now(),
    processes: { items: processItems, total: procs.length, truncated: procs.length > processItems.length },
    kinds,
    cgroups: {
      version: sortedGroups[0]?.version ?? 2,
      groups: { items: groupItems, total: sortedGroups.length, truncated: sortedGroups.length > groupItems.length },
    },
    limits: {
      processes: NSMAP_LIMITS.processes, namespacesPerKind: NSMAP_LIMITS.namespacesPerKind, ipcObjects: NSMAP_LIMITS.ipcObjects,
      mqueues: NSMAP_LIMITS.mqueues, interfaces: NSMAP_LIMITS.interfaces, addresses: NSMAP_LIMITS.addresses,
      cgroups: NSMAP_LIMITS.cgroups, mounts: NSMAP_LIMITS.mounts, contentItems: NSMAP_LIMITS.contentItems,
    },
  };
}

/**
 * What decides whether a snapshot is news: everything but seq, time and the cgroups'
 * usage counters, which move a little all the time (usageMoved() says when memory
 * moved enough to show; the task count goes along with the next change).
 */
export function snapshotKey(s: NsmapSnapshot): string {
  return JSON.stringify({
    ...s, seq: 0, at: 0,
    cgroups: { ...s.cgroups, groups: { ...s.cgroups.groups, items: s.cgroups.groups.items.map((g) => ({ ...g, memoryUsage: null, pidsUsage: null })) } },
  });
}

/** a group's memory usage moved by at least 1 MiB and 10 % since `before` (same groups assumed) */
export function usageMoved(before: NsmapSnapshot, after: NsmapSnapshot): boolean {
  const old = new Map(before.cgroups.groups.items.map((g) => [g.path, g.memoryUsage]));
  return after.cgroups.groups.items.some((g) => {
    const a = old.get(g.path) ?? null;
    const b = g.memoryUsage;
    if (a === null || b === null) return a !== b;
    const d = Math.abs(b - a);
    return d >= 1024 * 1024 && d >= 0.1 * Math.max(a, 1);
  });
}
