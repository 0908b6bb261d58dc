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

export type { CgroupInfo, CommandEvent, MountInfo, MqueueEntry, NamespaceSet, ProcessInfo, SysvIpc };
// the parts of SysvIpc and NamespaceSet, so checks can name them without reaching into the driver
export type { NamespaceKind, SysvQueue, SysvSem, SysvShm };

export type { Lang };
/** A message in the learner's language; English is required, the others fall back to it. */
export type Localized = string | { en: string; ko?: string; zh?: string };

export type CheckResult =
  | { status: 'pass'; message?: Localized }
  | { status: 'fail'; message: Localized }
  | { status: 'pending'; message?: Localized };

export const pass = (message?: Localized): CheckResult => ({ status: 'pass', message });
export const fail = (message: Localized): CheckResult => ({ status: 'fail', message });
export const pending = (message?: Localized): CheckResult => ({ status: 'pending', message });

export interface Lab {
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
}

export type Check = (lab: Lab) => Promise<CheckResult>;
export type LessonChecks = Record<string, Check>;

export function defineChecks<T extends LessonChecks>(checks: T): T {
  return checks;
}
