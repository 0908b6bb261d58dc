/**
 * The namespace map: a snapshot of one sandbox's processes grouped by namespace, for
 * every namespace kind, with what lives in each namespace (IPC objects, hostname,
 * interfaces, cgroups, mounts). The server collects it from outside the sandbox in
 * the check engine's probe round (docs/namespace-map.md) and pushes it over the
 * session socket (session-protocol.ts: `map-subscribe` / `map`); the web app draws it.
 *
 * Everything in a snapshot is bounded: every list stops at the limit in
 * NSMAP_LIMITS, and a `truncated: true` beside it says that more existed (with
 * `total`, how many). A learner can make thousands of processes or objects; the
 * map shows the first ones and says so.
 *
 * Stability: fields are only ever added (optional), never renamed or removed.
 *
 * Part of the contract floor (docs/architecture.md): imports nothing but zod.
 */
import { z } from 'zod';

/** the kinds the map can show, in the order the map offers them */
export const NSMAP_KINDS = ['ipc', 'pid', 'mnt', 'net', 'uts', 'user', 'cgroup', 'time'] as const;
export type NsmapKind = (typeof NSMAP_KINDS)[number];
export const nsmapKindSchema = z.enum(NSMAP_KINDS);

/** the bounds of every list in a snapshot (the server never sends more) */
export const NSMAP_LIMITS = {
  /** processes in `processes.list` */
  processes: 200,
  /** namespaces per kind */
  namespacesPerKind: 50,
  /** System V objects per table (queues, semaphore sets, shared memory) per IPC namespace */
  ipcObjects: 100,
  /** POSIX message queues per IPC namespace */
  mqueues: 100,
  /** interfaces per network namespace */
  interfaces: 64,
  /** addresses per interface */
  addresses: 16,
  /** cgroups in the tree */
  cgroups: 100,
  /** mount differences per mount namespace */
  mounts: 100,
  /** characters of a process's command line */
  cmdlineChars: 120,
  /** characters of any other string (names, paths, hostnames; ending in '…' when cut) */
  textChars: 256,
  /**
   * items in all contents lists of a snapshot together (IPC objects, queues,
   * interfaces, addresses, mount differences): once spent, later namespaces' lists
   * come empty with `truncated: true`, so 50 namespaces full of objects stay small
   */
  contentItems: 1000,
  /** ...and at most this many bytes of JSON together, whichever comes first */
  contentBytes: 256 * 1024,
  /** bytes of a snapshot's JSON the server will send at most (bounds above keep it well under) */
  snapshotBytes: 512 * 1024,
} as const;

const text = z.string().max(NSMAP_LIMITS.textChars);
/** a namespace's inode number, as `readlink /proc/PID/ns/KIND` shows it in brackets */
const inode = z.number().int().nonnegative();
/** a pid as the sandbox's own pid namespace sees it */
const pid = z.number().int().nonnegative();
const count = z.number().int().nonnegative();

/** A bounded list: `items` are the first ones; `total` is how many there were. */
function bounded<T extends z.ZodTypeAny>(item: T, max: number) {
  return z.strictObject({
    items: z.array(item).max(max),
    /** how many existed (>= items.length) */
    total: count,
    /** true when there were more than items.length */
    truncated: z.boolean(),
    /** true when even counting stopped at a byte bound: there were at least `total` */
    atLeast: z.boolean().optional(),
  });
}

// ---------------------------------------------------------------- processes

export const nsmapProcessSchema = z.strictObject({
  /** pid in the sandbox's pid namespace (what `ps` in terminal 1 shows before any unshare) */
  pid,
  /** parent pid in the sandbox's pid namespace; 0 for the sandbox's PID 1 */
  ppid: pid,
  /** /proc/PID/comm: the short name (bash, ipcmk, sleep) */
  comm: text,
  /** the command line joined by spaces, at most NSMAP_LIMITS.cmdlineChars (ending in '…' when cut) */
  cmd: z.string().max(NSMAP_LIMITS.cmdlineChars + 1),
  /** 1, 2, ... when this is the shell at that terminal's prompt (T1, T2); null otherwise */
  terminal: z.number().int().min(1).nullable(),
  /** the namespace (inode) of each kind this process is in */
  ns: z.record(nsmapKindSchema, inode),
});
export type NsmapProcess = z.infer<typeof nsmapProcessSchema>;

// ---------------------------------------------------------------- per-kind contents

export const nsmapSysvQueueSchema = z.strictObject({
  key: z.number().int(),
  id: z.number().int().nonnegative(),
  /** owner uid as the sandbox sees it */
  owner: z.number().int().nonnegative(),
  perms: z.number().int().nonnegative(),
  /** messages waiting */
  messages: count,
  /** bytes waiting */
  bytes: count,
});
export const nsmapSysvSemSchema = z.strictObject({
  key: z.number().int(),
  id: z.number().int().nonnegative(),
  owner: z.number().int().nonnegative(),
  perms: z.number().int().nonnegative(),
  /** semaphores in the set */
  nsems: count,
});
export const nsmapSysvShmSchema = z.strictObject({
  key: z.number().int(),
  id: z.number().int().nonnegative(),
  owner: z.number().int().nonnegative(),
  perms: z.number().int().nonnegative(),
  /** segment size in bytes */
  size: count,
  /** processes attached */
  attached: count,
});
export const nsmapMqueueSchema = z.strictObject({
  /** the queue's name without the leading '/' as mq_open(3) takes it, e.g. "jobs" for "/jobs" */
  name: text,
  mode: z.number().int().nonnegative(),
  /** bytes waiting (QSIZE) */
  bytes: count,
});

export const nsmapIpcContentsSchema = z.strictObject({
  kind: z.literal('ipc'),
  queues: bounded(nsmapSysvQueueSchema, NSMAP_LIMITS.ipcObjects),
  sems: bounded(nsmapSysvSemSchema, NSMAP_LIMITS.ipcObjects),
  shm: bounded(nsmapSysvShmSchema, NSMAP_LIMITS.ipcObjects),
  mqueues: bounded(nsmapMqueueSchema, NSMAP_LIMITS.mqueues),
});

export const nsmapUtsContentsSchema = z.strictObject({
  kind: z.literal('uts'),
  hostname: text,
  domainname: text,
});

export const nsmapAddressSchema = z.strictObject({
  family: z.enum(['inet', 'inet6']),
  address: text,
  prefix: z.number().int().min(0).max(128),
});
export const nsmapInterfaceSchema = z.strictObject({
  name: text,
  /** 'up' when the interface is administratively up (IFF_UP), else 'down' */
  state: z.enum(['up', 'down']),
  /** the link is running (IFF_RUNNING: up and carrier) */
  running: z.boolean(),
  loopback: z.boolean(),
  addresses: bounded(nsmapAddressSchema, NSMAP_LIMITS.addresses),
});
export const nsmapNetContentsSchema = z.strictObject({
  kind: z.literal('net'),
  interfaces: bounded(nsmapInterfaceSchema, NSMAP_LIMITS.interfaces),
});

export const nsmapMountSchema = z.strictObject({
  /** 'added': here and not in the sandbox's own mount namespace; 'removed': the other way round */
  change: z.enum(['added', 'removed']),
  mountPoint: text,
  fsType: text,
  source: text,
});
export const nsmapMntContentsSchema = z.strictObject({
  kind: z.literal('mnt'),
  /** mounts in this namespace */
  mountCount: count,
  /** how this namespace differs from the sandbox's own; empty for the sandbox's own */
  differences: bounded(nsmapMountSchema, NSMAP_LIMITS.mounts),
});

export const nsmapCgroupContentsSchema = z.strictObject({
  kind: z.literal('cgroup'),
  /** the cgroup this namespace's root is, as a path in the sandbox's tree ('/' for the sandbox's own) */
  root: text,
});

export const nsmapPidContentsSchema = z.strictObject({
  kind: z.literal('pid'),
  /** nesting depth below the sandbox's own pid namespace (0 for it) */
  level: count,
});

export const nsmapUserContentsSchema = z.strictObject({
  kind: z.literal('user'),
  /** nesting depth below the sandbox's own user namespace (0 for it) */
  level: count,
});

export const nsmapTimeContentsSchema = z.strictObject({ kind: z.literal('time') });

export const nsmapContentsSchema = z.discriminatedUnion('kind', [
  nsmapIpcContentsSchema, nsmapUtsContentsSchema, nsmapNetContentsSchema, nsmapMntContentsSchema,
  nsmapCgroupContentsSchema, nsmapPidContentsSchema, nsmapUserContentsSchema, nsmapTimeContentsSchema,
]);
export type NsmapContents = z.infer<typeof nsmapContentsSchema>;
export type NsmapIpcContents = z.infer<typeof nsmapIpcContentsSchema>;
export type NsmapUtsContents = z.infer<typeof nsmapUtsContentsSchema>;
export type NsmapNetContents = z.infer<typeof nsmapNetContentsSchema>;
export type NsmapMntContents = z.infer<typeof nsmapMntContentsSchema>;
export type NsmapCgroupContents = z.infer<typeof nsmapCgroupContentsSchema>;
export type NsmapInterface = z.infer<typeof nsmapInterfaceSchema>;

// ---------------------------------------------------------------- namespaces

export const nsmapNamespaceSchema = z.strictObject({
  /** inode number: the namespace's identity (stable while it exists) */
  id: inode,
  /** true for the sandbox's own namespace of this kind (its PID 1's) */
  own: z.boolean(),
  /**
   * for pid and user namespaces: the nearest namespace on the map this one is nested
   * in (its inode; one with no process in it is skipped, `contents.level` still counts
   * it); null for the sandbox's own and for the other kinds
   */
  parent: inode.nullable(),
  /** pids (sandbox's view) of the listed processes in this namespace, ascending */
  pids: z.array(pid).max(NSMAP_LIMITS.processes),
  /** processes in this namespace, listed or not */
  processCount: count,
  /** terminals whose shell is in this namespace (1 for T1 ...), ascending */
  terminals: z.array(z.number().int().min(1)),
  /** what lives in it; null when it could not be read this round (see `error`) */
  contents: nsmapContentsSchema.nullable(),
  /** why `contents` is null (the last process left it mid-round, a read failed) */
  error: text.optional(),
});
export type NsmapNamespace = z.infer<typeof nsmapNamespaceSchema>;

export const nsmapKindViewSchema = z.strictObject({
  kind: nsmapKindSchema,
  /** the sandbox's own namespace first, then by first process (lowest pid) */
  namespaces: z.array(nsmapNamespaceSchema).max(NSMAP_LIMITS.namespacesPerKind),
  /** distinct namespaces of this kind among all the sandbox's processes */
  total: count,
  truncated: z.boolean(),
});
export type NsmapKindView = z.infer<typeof nsmapKindViewSchema>;

// ---------------------------------------------------------------- the cgroup tree

export const nsmapCgroupSchema = z.strictObject({
  /** path in the sandbox's tree, '/' for the sandbox's own root group */
  path: text,
  /** pids (sandbox's view) of member processes, at most NSMAP_LIMITS.processes */
  pids: z.array(pid).max(NSMAP_LIMITS.processes),
  processCount: count,
  /** bytes; null: no limit */
  memoryLimit: z.number().nonnegative().nullable(),
  /** bytes; null: not readable (e.g. no memory controller here) */
  memoryUsage: z.number().nonnegative().nullable(),
  /** pids.max; null: no limit */
  pidsLimit: z.number().int().nonnegative().nullable(),
  /** pids.current: tasks (processes and threads) in the group and below, counted by the kernel; absent when unreadable */
  pidsUsage: z.number().int().nonnegative().optional(),
  /** OOM kills in this group so far */
  oomKills: count,
});
export type NsmapCgroup = z.infer<typeof nsmapCgroupSchema>;

export const nsmapCgroupTreeSchema = z.strictObject({
  /** the host's cgroup version under the sandbox */
  version: z.union([z.literal(1), z.literal(2)]),
  /** parents before children (sorted by path) */
  groups: bounded(nsmapCgroupSchema, NSMAP_LIMITS.cgroups),
});

// ---------------------------------------------------------------- the snapshot

export const nsmapSnapshotSchema = z.strictObject({
  version: z.literal(1),
  /** increases with every snapshot of this session (a reset starts a new series at 1) */
  seq: z.number().int().min(1),
  /** ms since epoch, server clock, when the probe round that made it ended */
  at: z.number(),
  processes: bounded(nsmapProcessSchema, NSMAP_LIMITS.processes),
  /** one view per kind, in NSMAP_KINDS order */
  kinds: z.array(nsmapKindViewSchema).length(NSMAP_KINDS.length),
  cgroups: nsmapCgroupTreeSchema,
  /** the bounds this server applied (so the map can say "showing the first 200") */
  limits: z.strictObject({
    processes: count, namespacesPerKind: count, ipcObjects: count, mqueues: count,
    interfaces: count, addresses: count, cgroups: count, mounts: count, contentItems: count,
  }),
});
export type NsmapSnapshot = z.infer<typeof nsmapSnapshotSchema>;
