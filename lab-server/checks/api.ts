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
  CgroupInfo, CommandEvent, MountInfo, MqueueEntry, NamespaceKind, NamespaceSet, ProcessInfo, SysvIpc, SysvQueue, SysvSem, SysvShm,
} from '../sandbox/types.ts';
import type { Lang } from '../contract/lang.ts';
import type { NetLab } from './net-lab.ts';

// network namespaces: what is in each, read over rtnetlink (net-lab.ts)
export { crossNamespaceVeths, MAX_NET_NAMESPACES } from './net-lab.ts';
export type {
  NetAddress, NetFamily, NetLab, NetLink, NetNamespace, NetNeighbour, NetRoute, NetState, OperState, VethEnd,
} from './net-lab.ts';

export type { CgroupInfo, CommandEvent, MountInfo, MqueueEntry, NamespaceSet, ProcessInfo, SysvIpc };
// the parts of SysvIpc and NamespaceSet, so checks can name them without reaching into the driver
export type { NamespaceKind, SysvQueue, SysvSem, SysvShm };

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

export interface Lab extends NetLab {
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

export function defineChecks<T extends LessonChecks>(checks: T): T {
  return checks;
}
