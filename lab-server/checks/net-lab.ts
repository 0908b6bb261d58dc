/**
 * The network part of the checks API: which network namespaces the sandbox has and
 * what is in each (links, addresses, routes, neighbours), read by the probe over
 * rtnetlink from outside the learner's reach (sandbox/net-state.ts).
 *
 * A network namespace lives as long as something holds it: a process in it, or a
 * mount of its nsfs file. `ip netns add NAME` makes the second kind (a bind mount on
 * /run/netns/NAME) with no process in it at all, so the list is made from both: the
 * processes' /proc/PID/ns/net and the nsfs mounts in every mount namespace.
 */
import type { NetLink } from '../sandbox/net-state.ts';
import type { MountInfo, NetState, ProcessInfo, Probe } from '../sandbox/types.ts';

export type { NetAddress, NetFamily, NetLink, NetNeighbour, NetRoute, NetState, OperState } from '../sandbox/net-state.ts';

export interface NetNamespace {
  /** the namespace's inode, as in /proc/PID/ns/net */
  inode: number;
  /** the sandbox's own network namespace (its PID 1's) */
  own: boolean;
  /** live processes in it, lowest in-sandbox pid first */
  processes: ProcessInfo[];
  /** paths where a mount pins it, as the sandbox's processes see them: '/run/netns/red' */
  pins: string[];
  /** its `ip netns` names: the pins directly under /run/netns */
  names: string[];
}

export interface NetLab {
  /**
   * every network namespace of the sandbox: its own, each one a live process is in,
   * and each one pinned by a mount (`ip netns add`); the sandbox's own first, then by
   * inode, at most MAX_NET_NAMESPACES of them
   */
  netNamespaces(): Promise<NetNamespace[]>;
  /** what is in one of them; null if it went away since it was listed */
  net(ns: NetNamespace): Promise<NetState | null>;
}

/** one end of a veth pair: the namespace it is in and the link */
export interface VethEnd { ns: NetNamespace; state: NetState; link: NetLink }

/**
 * veth pairs whose two ends are in different namespaces. The kernel reports a veth's
 * peer by its index in the peer's namespace (and a namespace id that is only
 * meaningful inside this one); the probe adds the peer's MAC address, read in the
 * peer's namespace. Two ends match when each names the other's index and MAC and
 * they are in different namespaces.
 */
export function crossNamespaceVeths(states: readonly { ns: NetNamespace; state: NetState }[]): [VethEnd, VethEnd][] {
  const ends: VethEnd[] = states.flatMap(({ ns, state }) =>
    state.links.filter((l) => l.kind === 'veth' && l.peer?.otherNamespace).map((link) => ({ ns, state, link })));
  const pairs: [VethEnd, VethEnd][] = [];
  const used = new Set<VethEnd>();
  for (const a of ends) {
    if (used.has(a)) continue;
    const names = (end: VethEnd, other: VethEnd) => end.link.peer!.index === other.link.index && end.link.peer!.mac === other.link.mac;
    const b = ends.find((x) => !used.has(x) && x.ns.inode !== a.ns.inode && names(a, x) && names(x, a));
    if (!b) continue;
    used.add(a).add(b);
    pairs.push([a, b]);
  }
  return pairs;
}

/**
 * At most this many network namespaces (the sandbox's own included) are listed, the
 * sandbox's own and then the lowest inodes (inodes are reused host-wide, so which ones
 * is arbitrary: a lesson needs a handful), and at most this many mount namespaces are
 * searched for
 * pins: each namespace read is a fork of the probe helper, which serves every sandbox
 * in turn, so a learner who makes thousands must not slow down everyone's checks.
 */
export const MAX_NET_NAMESPACES = 64;

const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}\b/g;

/**
 * The IPv4 addresses a successful `ping` was aimed at, from the command log (`ping`,
 * `busybox ping`, `ip netns exec X ping`, `nsenter ... ping` alike): a ping's answer
 * leaves no state, so the log says whether one was asked for and got it.
 */
export function pingedAddresses(lab: { commandsRun(): readonly { command: string; status: number }[] }): Set<string> {
  const out = new Set<string>();
  for (const e of lab.commandsRun()) {
    if (e.status !== 0) continue;
    for (const part of e.command.split(/[;&|()]+/)) {
      if (/(^|\s)ping\s/.test(part)) for (const a of part.match(IPV4) ?? []) out.add(a);
    }
  }
  return out;
}
const MAX_MOUNT_NAMESPACES = 64;
const NETNS_DIR = '/run/netns/';
const NET_INODE = /^net:\[(\d+)\]$/;

type Once = <T>(key: string, f: () => Promise<T>) => Promise<T>;

/** the NetLab half of a round's Lab, memoised with the rest of the round (lab.ts) */
export function createNetLab(probe: Probe, once: Once, processes: () => Promise<ProcessInfo[]>, ownInode: () => Promise<number>): NetLab {
  /** where each namespace can be read from: a process in it, or a pin and a process that sees the pin */
  const readers = new Map<number, { hostPid: number; pin?: string }>();

  const netNamespaces = () => once('net:namespaces', async () => {
    const [procs, own] = await Promise.all([processes(), ownInode()]);
    const live = procs.filter((p) => p.state !== 'Z');
    const byInode = new Map<number, NetNamespace>();
    const entry = (inode: number) => {
      let e = byInode.get(inode);
      if (!e) byInode.set(inode, (e = { inode, own: inode === own, processes: [], pins: [], names: [] }));
      return e;
    };
    entry(own);
    for (const p of live) entry(p.ns.net).processes.push(p);
    // one process per mount namespace shows that namespace's nsfs mounts
    const seenMnt = new Set<number>();
    for (const p of live) {
      if (seenMnt.has(p.ns.mnt) || seenMnt.size >= MAX_MOUNT_NAMESPACES) continue;
      seenMnt.add(p.ns.mnt);
      let mounts: MountInfo[];
      try { mounts = await probe.mounts(p.hostPid); } catch { continue; } // it exited meanwhile
      for (const m of mounts) {
        const ino = m.fsType === 'nsfs' ? NET_INODE.exec(m.root)?.[1] : undefined;
        if (!ino) continue;
        const e = entry(Number(ino));
        if (!e.pins.includes(m.mountPoint)) {
          e.pins.push(m.mountPoint);
          const rest = m.mountPoint.startsWith(NETNS_DIR) ? m.mountPoint.slice(NETNS_DIR.length) : '';
          if (rest && !rest.includes('/')) e.names.push(rest);
        }
        if (!readers.has(e.inode)) readers.set(e.inode, { hostPid: p.hostPid, pin: m.mountPoint });
      }
    }
    for (const e of byInode.values()) {
      if (e.processes.length) readers.set(e.inode, { hostPid: e.processes[0].hostPid });
    }
    return [...byInode.values()].sort((a, b) => Number(b.own) - Number(a.own) || a.inode - b.inode).slice(0, MAX_NET_NAMESPACES);
  });

  const net = (ns: NetNamespace) => once(`net:${ns.inode}`, async () => {
    await netNamespaces();
    const r = readers.get(ns.inode) ?? (ns.processes[0] ? { hostPid: ns.processes[0].hostPid } : undefined);
    if (!r) return null;
    const state = await probe.net(r.hostPid, r.pin).catch(() => null); // the process or the pin went away
    // a pin the learner moved meanwhile may now hold another namespace: that is not this one
    return state && state.inode === ns.inode ? state : null;
  });

  return {
    // a copy each time: one check may change its list without touching the next check's
    netNamespaces: () => netNamespaces().then((l) => l.map((n) => ({ ...n, processes: [...n.processes], pins: [...n.pins], names: [...n.names] }))),
    net,
  };
}
