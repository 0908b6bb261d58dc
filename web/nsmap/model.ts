/**
 * What the namespace map draws, independent of the wire format: a forest of
 * namespaces of one kind (nested where the kernel nests them: pid, user), each with
 * its processes and what it holds, every item with a stable key so that two
 * snapshots can be compared ("what is new since the last one").
 *
 * The drawing (render.ts), the table (table.ts) and the change highlighting read only
 * this; adapt.ts turns the server's snapshot into it.
 */
import type { NsmapKind } from '../../lab-server/contract/namespace-map.ts';

export type MapKind = NsmapKind;
/**
 * The contract's NSMAP_KINDS, in its order (web/ imports types only): a kind added
 * there does not compile here until it is listed.
 */
const KIND_ORDER: Record<MapKind, number> = { ipc: 0, pid: 1, mnt: 2, net: 3, uts: 4, user: 5, cgroup: 6, time: 7 };
export const MAP_KINDS = (Object.keys(KIND_ORDER) as MapKind[]).sort((a, b) => KIND_ORDER[a] - KIND_ORDER[b]);

/** one thing a namespace holds: a queue, an address, a cgroup, a mount */
export interface MapItem {
  /** stable across snapshots while the thing exists (e.g. "msg:0x6c54b6c4") */
  key: string;
  /** the line as shown (plain text; ids, sizes already formatted) */
  text: string;
  /** cgroup trees: how deep below the group list's top */
  depth?: number;
}

/** a named list inside a namespace: "message queues", "interfaces" ... */
export interface MapGroup {
  key: string;
  /** already translated */
  title: string;
  items: MapItem[];
  /** the server capped this list: more exist than are shown */
  truncated: boolean;
  /** how many there are in all, when the server said */
  total?: number;
}

export interface MapProcess {
  key: string;
  /** pid as the namespace's own pid namespace sees it, or the sandbox's */
  pid: number;
  comm: string;
  /** terminals whose shell this is (T1, T2) */
  terminals: number[];
}

export interface MapNamespace {
  key: string;
  inode: number;
  /** the sandbox's own namespace of this kind (its PID 1's) */
  sandbox: boolean;
  /** a one-line fact shown under the heading: the hostname for uts, the mount count for mnt ... */
  summary?: string;
  /** terminals whose shell (at its prompt) is in this namespace */
  terminals: number[];
  /** what it holds could not be read this time, and why */
  error?: string;
  processes: MapProcess[];
  processesTruncated: boolean;
  processesTotal?: number;
  groups: MapGroup[];
  children: MapNamespace[];
}

export interface MapModel {
  kind: MapKind;
  /** server time of the probe round, ms since epoch */
  at: number;
  roots: MapNamespace[];
  /** the server capped the number of namespaces */
  namespacesTruncated: boolean;
  namespacesTotal?: number;
}

export function isMapKind(s: unknown): s is MapKind {
  return typeof s === 'string' && (MAP_KINDS as readonly string[]).includes(s);
}

/** depth-first, parents before children */
export function* walk(roots: MapNamespace[], depth = 0): Generator<{ ns: MapNamespace; depth: number; parent: MapNamespace | null }> {
  const stack: { ns: MapNamespace; depth: number; parent: MapNamespace | null }[] = roots.map((ns) => ({ ns, depth, parent: null })).reverse();
  while (stack.length) {
    const e = stack.pop()!;
    yield e;
    for (let i = e.ns.children.length - 1; i >= 0; i--) stack.push({ ns: e.ns.children[i], depth: e.depth + 1, parent: e.ns });
  }
}

/**
 * Every key in a model, namespaced by what it belongs to, so that "the queue in
 * namespace X" and "the same key in namespace Y" are different things: a queue
 * that appears in a new namespace is news even if its key existed elsewhere.
 */
export function keysOf(model: MapModel): Set<string> {
  const keys = new Set<string>();
  for (const { ns } of walk(model.roots)) {
    keys.add(`ns:${ns.key}`);
    for (const n of ns.terminals) keys.add(`t:${ns.key}:${n}`);
    if (ns.summary !== undefined) keys.add(`sum:${ns.key}:${ns.summary}`);
    for (const p of ns.processes) keys.add(`p:${ns.key}:${p.key}:${p.terminals.join(',')}`);
    // by key, not text: a cgroup's usage changes every round and is not news; its limit is part of its key
    for (const g of ns.groups) for (const it of g.items) keys.add(`i:${ns.key}:${g.key}:${it.key}`);
  }
  return keys;
}
