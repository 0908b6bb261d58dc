/**
 * The sandbox driver's public interface. Everything above the driver (terminals,
 * checks, grading, classroom) talks to these types only, so another back end
 * (Kubernetes pods, a VM per learner) can be added without touching them. What the
 * floors above rely on is test/sandbox/backend-conformance.ts: every back end passes it.
 */
import type { Readable, Writable } from 'node:stream';
import type { IPty } from 'node-pty';
import type { IdentityProbe } from './identity.ts';

import type { NetState } from './net-state.ts';

export type { NetState };
export type NamespaceKind = 'cgroup' | 'ipc' | 'mnt' | 'net' | 'pid' | 'pid_for_children' | 'time' | 'user' | 'uts';
export const NAMESPACE_KINDS: readonly NamespaceKind[] = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'pid_for_children', 'time', 'user', 'uts'];
/** Inode number of each namespace (what `readlink /proc/PID/ns/KIND` shows in brackets). */
export type NamespaceSet = Record<NamespaceKind, number>;

export interface SandboxLimits {
  /** memory + tmpfs pages charged to the sandbox, bytes */
  memoryBytes: number;
  /** processes and threads */
  pids: number;
  /** CPU time as a number of cores (0.5 = half a core) */
  cpus: number;
  /** size cap of the writable layer (root dir, /root, /home, /tmp, /var/tmp ...), bytes */
  diskBytes: number;
  /** the sandbox is destroyed this long after creation, ms */
  lifetimeMs: number;
  /** pseudo-terminals the learner may open inside (devpts max=) */
  ptys: number;
}

export interface CreateOptions {
  image?: string;
  hostname?: string;
  limits?: Partial<SandboxLimits>;
  /** free text kept in the sandbox's state (e.g. the session id), for operators */
  label?: string;
  /**
   * start terminal 1's default shell right away, so that it is (nearly) at a
   * prompt when `spawnPty({ terminal: 1 })` asks for it. For callers that will
   * open terminal 1 soon (the lab server, the grader); pooled sandboxes always have it.
   */
  startTerminal?: boolean;
}

export interface SpawnOptions {
  /** terminal number shown to the learner (1, 2, ...); reported in the command log */
  terminal: number;
  cols?: number;
  rows?: number;
  /** default: an interactive bash */
  command?: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ProcessInfo {
  hostPid: number;
  /** pid as the sandbox's own pid namespace sees it */
  pid: number;
  /** NSpid: pid in every pid namespace from the sandbox's down to the process's own */
  nsPids: number[];
  /** parent pid as the sandbox sees it (0 for the sandbox's PID 1) */
  ppid: number;
  hostPpid: number;
  comm: string;
  cmdline: string[];
  /** effective uid as the sandbox's user namespace sees it */
  uid: number;
  /** host uid (for operators and security tests) */
  hostUid: number;
  /** working directory as the process sees it (relative to its own root), '' if unreadable */
  cwd: string;
  /**
   * the process's root directory as a path in its mount namespace, '' if unreadable:
   * '/' unless it ran chroot (then the chroot directory, e.g. '/opt/minirootfs');
   * pivot_root changes the mount at '/' and leaves this '/'
   */
  root: string;
  ns: NamespaceSet;
  /** process state letter from /proc/PID/stat (R, S, Z, ...) */
  state: string;
}

export interface SysvQueue { key: number; id: number; perms: number; cbytes: number; qnum: number; lspid: number; lrpid: number; uid: number }
export interface SysvShm { key: number; id: number; perms: number; size: number; cpid: number; lpid: number; nattch: number; uid: number }
export interface SysvSem { key: number; id: number; perms: number; nsems: number; uid: number }
export interface SysvIpc { queues: SysvQueue[]; shm: SysvShm[]; sems: SysvSem[] }

export interface MqueueEntry { name: string; qsize: number; mode: number }

/**
 * The optional fields of a mountinfo line (proc(5), Documentation/filesystems/sharedsubtree.rst):
 * `shared:N` the mount is in peer group N, `master:N` it receives from peer group N (a slave),
 * `propagate_from:N` the nearest dominant peer group visible from the reader's root,
 * `unbindable`. A private mount has none of them.
 */
export interface MountPropagation {
  shared: number | null;
  master: number | null;
  propagateFrom: number | null;
  unbindable: boolean;
}

export interface MountInfo {
  mountId: number;
  parentId: number;
  /** st_dev of the filesystem, 'major:minor' (one superblock, one value: binds of it share it) */
  device: string;
  /** the directory of the filesystem that is mounted here ('/' unless a bind of a subdirectory) */
  root: string;
  /** relative to the root of the process whose table this is */
  mountPoint: string;
  options: string[];
  propagation: MountPropagation;
  fsType: string;
  source: string;
  superOptions: string[];
}

export interface CgroupInfo {
  /** path inside the sandbox, '/' for the sandbox's own root cgroup */
  path: string;
  version: 1 | 2;
  /** in-sandbox pids of the member processes */
  pids: number[];
  hostPids: number[];
  /** memory limit in bytes, null if unlimited */
  memoryLimit: number | null;
  memoryUsage: number | null;
  /** how many times the OOM killer killed a process in this group */
  oomKills: number;
  /** how many times the group hit its limit */
  memoryEvents: { max: number; oom: number; oomKill: number };
  pidsMax: number | null;
  /** tasks (processes and threads) in the group and below it (pids.current); null if unreadable */
  pidsCurrent: number | null;
}

export interface CommandEvent {
  /** 'ready': a new shell's first prompt; 'cmd': a command finished; 'prompt': Enter on an empty line */
  kind: 'ready' | 'cmd' | 'prompt';
  terminal: number;
  /** the shell's pid in its own pid namespace ($$) */
  pid: number;
  /** the shell's host pid, resolved by the driver (null if the shell is gone already) */
  hostPid: number | null;
  status: number;
  historyNumber: number;
  ns: Partial<NamespaceSet>;
  command: string;
  /** ms since epoch, server clock */
  at: number;
}

/** An interface of a network namespace, as getifaddrs(3) sees it from inside. */
export interface NetInterface {
  name: string;
  /** IFF_* flags (IFF_UP 0x1, IFF_LOOPBACK 0x8, IFF_RUNNING 0x40) */
  flags: number;
  addresses: { family: 'inet' | 'inet6'; address: string; prefix: number }[];
}

export type NsinfoSection = 'ipc' | 'mq' | 'uts' | 'net' | 'nest' | 'cgroupns';

/**
 * What the namespace map shows of one process's IPC, UTS and network namespaces,
 * read in one go and bounded in bytes per section (`complete: false`: the section
 * was cut at the bound, its lists are the first entries only).
 */
export interface NamespaceInfo {
  ipc?: { sysv: SysvIpc; complete: boolean };
  /** `total`: queues in the namespace, also those past the bound */
  mq?: { queues: MqueueEntry[]; total: number };
  uts?: { hostname: string; domainname: string };
  /** `totalInterfaces`/`totalAddresses` count also those past the bound */
  net?: { interfaces: NetInterface[]; totalInterfaces: number; totalAddresses: number };
  /** the namespaces (inodes) the process's pid and user namespaces are nested in, nearest first */
  nest?: { pid: number[]; user: number[] };
  /** /proc/PID/cgroup as seen from inside the process's cgroup namespace: its lines, as they are */
  cgroupns?: string[];
}

/** what checks can learn about the sandbox; IdentityProbe (identity.ts): user namespaces, owners, capabilities, clock offsets */
export interface Probe extends IdentityProbe {
  /** every process of the sandbox, nested namespaces included */
  processes(): Promise<ProcessInfo[]>;
  /** namespaces of the sandbox's PID 1: the sandbox's "root" namespaces */
  rootNamespaces(): Promise<NamespaceSet>;
  /** read a file as the process sees it (its root, mounts and user namespace); null if missing */
  readFile(hostPid: number, path: string): Promise<string | null>;
  sysvipc(hostPid: number): Promise<SysvIpc>;
  mqueue(hostPid: number): Promise<MqueueEntry[]>;
  /** e.g. 'kernel.msgmni' or 'kernel/msgmni' inside the process's namespaces */
  sysctl(hostPid: number, name: string): Promise<string>;
  hostname(hostPid: number): Promise<string>;
  mounts(hostPid: number): Promise<MountInfo[]>;
  /** the first mounts of the process's mount table, reading at most maxBytes of it */
  mountsBounded(hostPid: number, maxBytes: number): Promise<{ mounts: MountInfo[]; complete: boolean }>;
  cgroups(): Promise<CgroupInfo[]>;
  /**
   * the namespace map's view of each process's IPC, UTS and net namespaces, at most
   * maxBytes per section, in one helper fork; per pid the info, or an Error when that
   * process could not be read (it left) or the batch's byte bound was spent before it
   */
  namespaceInfo(requests: readonly { hostPid: number; sections: readonly NsinfoSection[] }[], maxBytes: number): Promise<Map<number, NamespaceInfo | Error>>;
  /**
   * links, addresses, routes and neighbours of the network namespace the process is
   * in, or, with `pinned`, of the namespace file at that path as the process sees it
   * (a mount `ip netns add` made, /run/netns/NAME); null when `pinned` is gone or is
   * not a network namespace
   */
  net(hostPid: number, pinned?: string): Promise<NetState | null>;
}

export type SandboxState = 'running' | 'dead';

/** A process inside a sandbox with piped stdio (a ChildProcess fits). */
export interface SandboxProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** asks the process to stop (SIGTERM by default) */
  kill(signal?: NodeJS.Signals): boolean;
  /** once it has exited and its output is read: its exit code, or the signal that ended it */
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

export interface Sandbox {
  readonly id: string;
  readonly image: string;
  readonly createdAt: Date;
  readonly limits: SandboxLimits;
  readonly state: SandboxState;
  /** a pty process inside the sandbox (a shell by default) */
  spawnPty(opts: SpawnOptions): IPty;
  /**
   * a command inside with its stdio piped to us, to stream (`nslab exec`); never the
   * host's own fds, which the runtime could hand to the sandbox's root
   */
  spawnProcess(command: string[], env?: Record<string, string>): SandboxProcess;
  /** run a command inside and collect its output (non-interactive) */
  exec(command: string[], opts?: { input?: string; timeoutMs?: number; env?: Record<string, string> }): Promise<ExecResult>;
  readonly probe: Probe;
  /** every command-log event so far, oldest first */
  commands(): readonly CommandEvent[];
  onCommand(listener: (e: CommandEvent) => void): () => void;
  /**
   * kernel events about the sandbox's processes where the host reports them without
   * being asked (a cgroup made or removed; on cgroup v2 also an event file changed:
   * process limit hit, OOM kill, group emptied): a hint to look again, with no payload.
   * Optional: a back end without such events leaves checks to the command log and the poll.
   */
  onActivity?(listener: () => void): () => void;
  /**
   * CPU time all of the sandbox's processes used so far, µs (null if unreadable).
   * Optional: tells a silent busy command (a compiler) from a silent idle one (a server
   * waiting), for the transcript runner; a back end without it leaves silence alone to judge.
   */
  cpuTime?(): number | null;
  /** called once when the sandbox dies (destroyed, lifetime over, or its init was killed) */
  onExit(listener: (reason: string) => void): () => void;
  destroy(): Promise<void>;
}

export interface SandboxBackend {
  readonly name: string;
  /** throws HostError with a fix when the host lacks something */
  checkHost(): Promise<void>;
  create(opts?: CreateOptions): Promise<Sandbox>;
  /** destroy what a previous (crashed) server left behind; returns how many sandboxes were reaped */
  reapOrphans(): Promise<number>;
  /** sandboxes alive in this process */
  list(): Sandbox[];
  destroyAll(): Promise<void>;
}

/** The host lacks something the sandbox needs; `fix` tells the operator what to do. */
export class HostError extends Error {
  constructor(message: string, readonly fix: string) {
    super(`${message}\n  fix: ${fix}`);
    this.name = 'HostError';
  }
}
