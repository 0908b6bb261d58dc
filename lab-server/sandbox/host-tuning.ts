/**
 * What `nslab serve` does about the host's pools at start (host-limits.ts says what
 * they are), so that a stock machine starts without alarms that are not alarms:
 *
 * - the session cap fits the host's RAM when the operator did not set one
 *   (`sessionCapForHost`): sandboxes whose memory limits add up to more than the RAM
 *   could push the host into global OOM;
 * - a few host-wide limits are raised when they are below what the sandboxes could
 *   hold (`plannedRaises`, `applyRaises`). Only limits where raising is what systemd
 *   or the kernel's own ceiling does anyway, and where each sandbox's memory cgroup
 *   stays the real bound: the open-file table, the pty count, the pid space, the
 *   thread count. Never lowered, only until the next boot (the /etc/sysctl.d lines
 *   that keep them are `nslab doctor`'s to show), and off with NSLAB_HOST_TUNING=off.
 *
 * Everything else (TCP memory, overcommit, per-user quotas) trades a protection of
 * the host for the lab's and stays the operator's decision: reported, not applied.
 */
import { writeFileSync } from 'node:fs';
import { readSysctl, type PoolFinding } from './host-limits.ts';

/** the sysctls nslab may raise by itself (see above) */
export const SAFE_TO_RAISE: ReadonlySet<string> = new Set(['fs.file-max', 'kernel.pty.max', 'kernel.pid_max', 'kernel.threads-max']);

export interface Raise { sysctl: string; from: string; to: string }

/**
 * Raises for the findings below their need, among SAFE_TO_RAISE, to the value of the
 * finding's own fix. A fix that is not a plain number above the current value (a
 * lowering, a text) is never a raise.
 */
export function plannedRaises(findings: readonly PoolFinding[]): Raise[] {
  const out: Raise[] = [];
  for (const f of findings) {
    if ((f.severity !== 'error' && f.severity !== 'warn') || !SAFE_TO_RAISE.has(f.sysctl) || f.current === null || !f.sysctlD) continue;
    const to = /^[a-z0-9_.-]+ = (\d+)$/i.exec(f.sysctlD)?.[1];
    if (!to || !/^\d+$/.test(f.current) || BigInt(to) <= BigInt(f.current)) continue;
    out.push({ sysctl: f.sysctl, from: f.current, to });
  }
  return out;
}

/** /proc/sys/<name> = value; `root` is for tests */
export function writeSysctl(name: string, value: string, root = '/proc/sys'): void {
  if (!/^[a-z0-9_.-]+$/i.test(name) || name.includes('..') || !/^\d+$/.test(value)) throw new Error(`bad sysctl ${name}=${value}`);
  writeFileSync(`${root}/${name.replace(/\./g, '/')}`, `${value}\n`);
}

/**
 * Applies the raises, each checked by reading the value back (a container may show
 * /proc/sys read-only, or a kernel may clamp). Returns what took and what did not.
 */
export function applyRaises(raises: readonly Raise[], root = '/proc/sys'): { applied: Raise[]; failed: { raise: Raise; reason: string }[] } {
  const applied: Raise[] = [];
  const failed: { raise: Raise; reason: string }[] = [];
  for (const r of raises) {
    try {
      writeSysctl(r.sysctl, r.to, root);
      const now = readSysctl(r.sysctl, root);
      if (now !== null && /^\d+$/.test(now) && BigInt(now) >= BigInt(r.to)) applied.push({ ...r, to: now });
      else failed.push({ raise: r, reason: `it reads ${now ?? '(nothing)'} after writing ${r.to}` });
    } catch (e) {
      failed.push({ raise: r, reason: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
    }
  }
  return { applied, failed };
}

/** One line for the operator: what was changed, from what to what, and for how long. */
export function raisedLine(applied: readonly Raise[], sandboxes: number): string {
  return `raised ${applied.map((r) => `${r.sysctl} ${r.from} -> ${r.to}`).join(', ')} so that ${sandboxes} sandboxes fit ` +
    '(until reboot; `nslab doctor` shows the /etc/sysctl.d lines that keep them; NSLAB_HOST_TUNING=off leaves the host alone)';
}

/**
 * The most sessions whose sandboxes' memory limits (memory + swap each) fit in RAM
 * next to the warm pool, never above `wanted` and never below 1.
 */
export function sessionCapForHost(p: { wanted: number; warmPool: number; memoryBytes: number; memTotalBytes: number }): number {
  if (p.memTotalBytes <= 0) return p.wanted;
  const fit = Math.floor(p.memTotalBytes / p.memoryBytes) - p.warmPool;
  return Math.max(1, Math.min(p.wanted, fit));
}
