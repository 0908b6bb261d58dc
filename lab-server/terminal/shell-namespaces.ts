/**
 * Which namespaces a terminal's shell is in, for its tab: a nested `unshare` shell
 * has the same prompt as the outer one, so the tab says "new uts" instead.
 *
 * The data is what the command log already reports at every prompt (the shell's
 * /proc/self/ns links, see sandbox/command-log.ts), compared with the namespaces of
 * the sandbox's PID 1, read once per sandbox: no polling. The log is writable by
 * the learner, so this is only ever a label, never evidence for a check.
 */
import { SHELL_NAMESPACE_KINDS, type ShellNamespaceKind } from '../contract/session-protocol.ts';
import type { NamespaceSet } from '../sandbox/types.ts';

/** the kinds in which the shell differs from the sandbox's own; null when the shell reported none (it could not fork) */
export function shellNamespaces(shell: Partial<NamespaceSet>, root: NamespaceSet): ShellNamespaceKind[] | null {
  if (!SHELL_NAMESPACE_KINDS.some((k) => shell[k] !== undefined)) return null;
  return SHELL_NAMESPACE_KINDS.filter((k) => shell[k] !== undefined && shell[k] !== root[k]);
}

export const sameKinds = (a: readonly string[] | undefined, b: readonly string[]) => !!a && a.length === b.length && a.every((k, i) => k === b[i]);
