/**
 * The public API for lessons' checks.ts. Lessons import only this file.
 *
 *   import { defineChecks, pass, fail, pending } from '../../lab-server/checks/api.ts';
 *   export default defineChecks({
 *     'create-queue': async (lab) => { ... return pass(); },
 *   });
 *
 * A check looks at the sandbox's real state through `lab` and returns pass,
 * fail (with a message that teaches) or pending (nothing to judge yet).
 */
import type {
  CgroupInfo, CommandEvent, MountInfo, MountPropagation, MqueueEntry, NamespaceKind, NamespaceSet, ProcessInfo, SysvIpc, SysvQueue, SysvSem, SysvShm,
} from '../sandbox/types.ts';
import type { Lang } from '../contract/lang.ts';
import type { IdentityLab } from './api-identity.ts';

export { mapsInside } from './api-identity.ts';
export type {
  Capabilities, CapabilityName, IdentityLab, IdMapRange, NamespaceOwners, TimeOffsets, UserNamespaceInfo,
} from './api-identity.ts';
import type { NetLab } from './net-lab.ts';
import type { CgroupLab } from './cgroup-lab.ts';

// cgroup namespaces: a process's cgroup as it sees it (cgroup-lab.ts)
export type { CgroupLab } from './cgroup-lab.ts';

// network namespaces: what is in each, read over rtnetlink (net-lab.ts)
export { crossNamespaceVeths, MAX_NET_NAMESPACES, pingedAddresses } from './net-lab.ts';
export type {
  NetAddress, NetFamily, NetLab, NetLink, NetNamespace, NetNeighbour, NetRoute, NetState, OperState, VethEnd,
} from './net-lab.ts';

export type { CgroupInfo, CommandEvent, MountInfo, MqueueEntry, NamespaceSet, ProcessInfo, SysvIpc };
// the parts of SysvIpc and NamespaceSet, so checks can name them without reaching into the driver
export type { MountPropagation, NamespaceKind, SysvQueue, SysvSem, SysvShm };
// mount tables as checks ask about them (mount-table.ts)
export { MountTable, arePeers, describeSource, mountTable, mountedDir, propagationName, sameFsLocation, type FsLocation } from './mount-table.ts';

export type { Lang };
/** Inline text (a quick prototype or a test); a lesson's checks use `msg` instead. */
export type Localized = string | { en: string; ko?: string; zh?: string };

/**
 * A message by key, with parameters: the texts live beside the lesson, one file per
 * language (messages.en.json, messages.ko.json, ...), so a translator edits text, not
 * code, and a viewer who switches language gets the same message in the new one.
 * In a text, `{name}` is replaced by the parameter `name`; a parameter that is itself
 * a message is put in the same language, and a list of messages is joined the way that
 * language joins a list (the shared key `list.and`). See docs/authoring.md.
 */
export interface MessageRef { key: string; params?: Record<string, MessageParam> }
export type MessageParam = string | number | MessageRef | MessageRef[];
export type Message = MessageRef | Localized;

export const msg = (key: string, params?: Record<string, MessageParam>): MessageRef => (params ? { key, params } : { key });

export type CheckResult =
  | { status: 'pass'; message?: Message }
  | { status: 'fail'; message: Message }
  | { status: 'pending'; message?: Message };

export const pass = (message?: Message): CheckResult => ({ status: 'pass', message });
export const fail = (message: Message): CheckResult => ({ status: 'fail', message });
export const pending = (message?: Message): CheckResult => ({ status: 'pending', message });

/** IdentityLab (api-identity.ts): user namespaces and id maps, namespace owners, capabilities, clock offsets; NetLab (net-lab.ts): network namespaces; CgroupLab (cgroup-lab.ts): a process's cgroup seen from its cgroup namespace */
export interface Lab extends IdentityLab, NetLab, CgroupLab {
  /** every process in the sandbox (host pid, in-sandbox pid, parent, cmdline, uid, cwd, namespaces) */
  processes(): Promise<ProcessInfo[]>;
  /** the namespaces of the sandbox's PID 1 (what a fresh login shell has) */
  rootNamespaces(): Promise<NamespaceSet>;
  /** System V queues, segments and semaphore sets in the IPC namespace of the process (host pid) */
  ipc(hostPid: number): Promise<SysvIpc>;
  /** POSIX message queues in the IPC namespace of the process */
  mqueue(hostPid: number): Promise<MqueueEntry[]>;
  /** a sysctl ('kernel.msgmni') as the process sees it */
  sysctl(hostPid: number, name: string): Promise<string>;
  hostname(hostPid: number): Promise<string>;
  mounts(hostPid: number): Promise<MountInfo[]>;
  /** a file as the process sees it, null if it does not exist */
  readFile(hostPid: number, path: string): Promise<string | null>;
  /** the sandbox's cgroups (its own root and every group the learner made) */
  cgroups(): Promise<CgroupInfo[]>;
  /** the command log: every command the learner's shells finished, oldest first */
  commands(): readonly CommandEvent[];
  /** the text currently on terminal n's screen plus recent scrollback (plain text) */
  terminalText(n: number): string;
  /** the learner's interface language */
  readonly lang: Lang;

  // Probes every lesson needs, built on the ones above (and memoised with them).
  /** the sandbox's PID 1 (its namespaces are the sandbox's own); throws if there is none */
  init(): Promise<ProcessInfo>;
  /** one live process per namespace of `kind` other than the sandbox's own, by namespace inode, first seen first */
  newNamespaces(kind: NamespaceKind): Promise<Map<number, ProcessInfo>>;
  /** live shells (bash, sh, dash, ash, zsh, ksh, mksh, busybox) */
  shells(): Promise<ProcessInfo[]>;
  /** the commands the learner's shells finished (the command log without prompts and shell starts), oldest first */
  commandsRun(): CommandEvent[];
}

export type Check = (lab: Lab) => Promise<CheckResult>;
export type LessonChecks = Record<string, Check>;

export interface ChecksOptions {
  /**
   * Steps whose state the lesson itself later asks the learner to leave behind (the
   * next step says "exit the PID namespace shell first"). Every other passed step is
   * watched: when its check stops passing while a later step is still open, the
   * learner sees "passed earlier; its state is gone" and what to redo
   * (docs/authoring-lessons.md, "When a passed step's state goes away").
   */
  leftBehind?: readonly string[];
}

const OPTIONS = Symbol.for('nslab.checks.options');

export function defineChecks<T extends LessonChecks>(checks: T, options?: ChecksOptions): T {
  // not an enumerable key: the checks stay a plain map of step id -> check
  if (options) Object.defineProperty(checks, OPTIONS, { value: options, enumerable: false, configurable: true });
  return checks;
}

/** the options given to defineChecks (none: {}) */
export function checksOptions(checks: LessonChecks): ChecksOptions {
  return (checks as { [OPTIONS]?: ChecksOptions })[OPTIONS] ?? {};
}

/** carries the options of defineChecks over to a copy of the checks (e.g. a validated one) */
export function withChecksOptions<T extends LessonChecks>(copy: T, from: LessonChecks): T {
  const options = (from as { [OPTIONS]?: ChecksOptions })[OPTIONS];
  return options ? defineChecks(copy, options) : copy;
}
