/**
 * What the fronts and the node agent say to each other (docs/kubernetes.md, "The node
 * agent"): one fixed operation per Probe method, each a POST of a JSON body to
 * /v1/pods/POD_UID/OPERATION answered {"result": ...}, and GET
 * /v1/pods/POD_UID/commands, the pod's command events as newline-delimited JSON.
 * Errors are the API's one shape (contract/api-error.ts). Both sides validate with
 * the schemas below: the agent every request, the front every answer.
 */
import { z } from 'zod';
import { CAPABILITY_NAMES, type Capabilities, type NamespaceOwners, type TimeOffsets, type UserNamespaceInfo } from '../sandbox/identity.ts';
import type { NetState } from '../sandbox/net-state.ts';
import {
  NAMESPACE_KINDS, type CgroupInfo, type CommandEvent, type MountInfo, type MqueueEntry, type NamespaceInfo, type NamespaceSet, type ProcessInfo, type SysvIpc,
} from '../sandbox/types.ts';

/** a pod's metadata.uid as the API server gives it: a UUID, lower-case */
export const podUidSchema = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a pod UID (a lower-case UUID)');

/**
 * most pids in one namespaceInfo request: the namespace map asks once per namespace it
 * has not seen, at most one per process, and a sandbox pod has at most the kubelet's
 * podPidsLimit of them (1024 as docs/kubernetes.md sets it)
 */
export const MAX_BATCH = 2048;
/** the largest request body the agent reads: a full namespaceInfo batch (about 80 bytes a pid) fits */
export const MAX_BODY_BYTES = 256 * 1024;

const hostPid = z.number().int().positive().max(4_194_304);
const path = z.string().startsWith('/').max(4096).refine((p) => !p.includes('\0'), 'no NUL bytes');
const none = z.object({}).strict();
const byPid = z.object({ hostPid }).strict();
const sections = z.array(z.enum(['ipc', 'mq', 'uts', 'net', 'nest', 'cgroupns'])).max(6);

/** every operation's request body */
export const requestSchemas = {
  processes: none,
  rootNamespaces: none,
  cgroups: none,
  readFile: z.object({ hostPid, path }).strict(),
  sysvipc: byPid,
  mqueue: byPid,
  sysctl: z.object({ hostPid, name: z.string().min(1).max(200) }).strict(),
  hostname: byPid,
  mounts: byPid,
  mountsBounded: z.object({ hostPid, maxBytes: z.number().int().positive().max(1 << 24) }).strict(),
  namespaceInfo: z.object({ requests: z.array(z.object({ hostPid, sections }).strict()).max(MAX_BATCH), maxBytes: z.number().int().positive().max(1 << 24) }).strict(),
  net: z.object({ hostPid, pinned: path.optional() }).strict(),
  userNamespace: byPid,
  namespaceOwners: byPid,
  capabilities: byPid,
  timeOffsets: byPid,
} as const;

export type Operation = keyof typeof requestSchemas;
export const OPERATIONS = Object.keys(requestSchemas) as Operation[];
export type RequestOf<O extends Operation> = z.infer<(typeof requestSchemas)[O]>;

const int = z.number().int();
const nsSet: z.ZodType<NamespaceSet> = z.object(Object.fromEntries(NAMESPACE_KINDS.map((k) => [k, int])) as Record<keyof NamespaceSet, typeof int>);

const processInfo: z.ZodType<ProcessInfo> = z.object({
  hostPid: int, pid: int, nsPids: z.array(int), ppid: int, hostPpid: int, comm: z.string(), cmdline: z.array(z.string()),
  uid: int, hostUid: int, cwd: z.string(), root: z.string(), ns: nsSet, state: z.string(),
});

const sysvIpc: z.ZodType<SysvIpc> = z.object({
  queues: z.array(z.object({ key: int, id: int, perms: int, cbytes: int, qnum: int, lspid: int, lrpid: int, uid: int })),
  shm: z.array(z.object({ key: int, id: int, perms: int, size: int, cpid: int, lpid: int, nattch: int, uid: int })),
  sems: z.array(z.object({ key: int, id: int, perms: int, nsems: int, uid: int })),
});

const mqueueEntry: z.ZodType<MqueueEntry> = z.object({ name: z.string(), qsize: int, mode: int });

const mountInfo: z.ZodType<MountInfo> = z.object({
  mountId: int, parentId: int, device: z.string(), root: z.string(), mountPoint: z.string(), options: z.array(z.string()),
  propagation: z.object({ shared: int.nullable(), master: int.nullable(), propagateFrom: int.nullable(), unbindable: z.boolean() }),
  fsType: z.string(), source: z.string(), superOptions: z.array(z.string()),
});

const cgroupInfo: z.ZodType<CgroupInfo> = z.object({
  path: z.string(), version: z.union([z.literal(1), z.literal(2)]), pids: z.array(int), hostPids: z.array(int),
  memoryLimit: z.number().nullable(), memoryUsage: z.number().nullable(), oomKills: int,
  memoryEvents: z.object({ max: int, oom: int, oomKill: int }), pidsMax: z.number().nullable(), pidsCurrent: z.number().nullable(),
});

const netInterface = z.object({ name: z.string(), flags: int, addresses: z.array(z.object({ family: z.enum(['inet', 'inet6']), address: z.string(), prefix: int })) });
const namespaceInfo: z.ZodType<NamespaceInfo> = z.object({
  ipc: z.object({ sysv: sysvIpc, complete: z.boolean() }).optional(),
  mq: z.object({ queues: z.array(mqueueEntry), total: int }).optional(),
  uts: z.object({ hostname: z.string(), domainname: z.string() }).optional(),
  net: z.object({ interfaces: z.array(netInterface), totalInterfaces: int, totalAddresses: int }).optional(),
  nest: z.object({ pid: z.array(int), user: z.array(int) }).optional(),
  cgroupns: z.array(z.string()).optional(),
});
/** namespaceInfo's Map as JSON: per pid the info, or the error's message */
const namespaceInfoResult = z.array(z.tuple([int, z.union([z.object({ info: namespaceInfo }), z.object({ error: z.string() })])]));

const family = z.enum(['inet', 'inet6']);
const scope = z.union([z.enum(['global', 'site', 'link', 'host', 'nowhere']), int]);
const netState: z.ZodType<NetState> = z.object({
  inode: int,
  links: z.array(z.object({
    index: int, name: z.string(), flags: int, up: z.boolean(), lowerUp: z.boolean(),
    operState: z.enum(['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up']),
    type: z.string(), kind: z.string().nullable(), master: int.nullable(),
    peer: z.object({ index: int, otherNamespace: z.boolean(), mac: z.string().nullable() }).nullable(), mac: z.string().nullable(),
  })),
  addresses: z.array(z.object({ link: int, dev: z.string(), family, address: z.string(), prefixLength: int, scope })),
  routes: z.array(z.object({
    family, table: z.union([z.enum(['main', 'local', 'default']), int]), type: z.string(), scope, protocol: z.string(),
    dst: z.string().nullable(), dstLength: int, link: int.nullable(), dev: z.string().nullable(), gateway: z.string().nullable(), prefSrc: z.string().nullable(),
  })),
  neighbours: z.array(z.object({
    link: int, dev: z.string(), family, address: z.string(), lladdr: z.string().nullable(),
    state: z.array(z.enum(['incomplete', 'reachable', 'stale', 'delay', 'probe', 'failed', 'noarp', 'permanent'])),
  })),
});

const idMap = z.array(z.object({ inside: int, outside: int, hostOutside: int, count: int }));
const userNamespaceInfo: z.ZodType<UserNamespaceInfo> = z.object({
  ns: int, parent: int, ownerUid: int, uidMap: idMap, gidMap: idMap, setgroups: z.enum(['allow', 'deny']), uid: int, gid: int,
});
const namespaceOwners: z.ZodType<NamespaceOwners> = z.partialRecord(z.enum([...NAMESPACE_KINDS, 'time_for_children']), int);
const capSet = z.array(z.enum(CAPABILITY_NAMES));
const capabilities: z.ZodType<Capabilities> = z.object({ effective: capSet, permitted: capSet, inheritable: capSet, bounding: capSet, ambient: capSet });
const timeOffsets: z.ZodType<TimeOffsets> = z.object({ monotonic: z.number(), boottime: z.number() });

/** every operation's answer, as the front checks it */
export const resultSchemas = {
  processes: z.array(processInfo),
  rootNamespaces: nsSet,
  cgroups: z.array(cgroupInfo),
  readFile: z.string().nullable(),
  sysvipc: sysvIpc,
  mqueue: z.array(mqueueEntry),
  sysctl: z.string(),
  hostname: z.string(),
  mounts: z.array(mountInfo),
  mountsBounded: z.object({ mounts: z.array(mountInfo), complete: z.boolean() }),
  namespaceInfo: namespaceInfoResult,
  net: netState.nullable(),
  userNamespace: userNamespaceInfo,
  namespaceOwners,
  capabilities,
  timeOffsets,
} as const satisfies Record<Operation, z.ZodType>;

export const commandEventSchema: z.ZodType<CommandEvent> = z.object({
  kind: z.enum(['ready', 'cmd', 'prompt']), terminal: int, pid: int, hostPid: int.nullable(), status: int, historyNumber: int,
  ns: z.partialRecord(z.enum(NAMESPACE_KINDS as [string, ...string[]]), int) as z.ZodType<Partial<NamespaceSet>>, command: z.string(), at: z.number(),
});

/** one line of the commands stream: an event, or the end of the stream and why */
export const commandStreamLine = z.union([z.object({ event: commandEventSchema }), z.object({ end: z.string() })]);
