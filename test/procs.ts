/** The host's process table, read from /proc, for tests that check what is left behind. */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcRow {
  pid: number;
  ppid: number;
  /** one letter: R, S, D, Z, ... */
  state: string;
  /** real and effective uid */
  uid: number;
  euid: number;
  comm: string;
  /** argv joined by spaces */
  cmdline: string;
  /** /proc/PID/cgroup as it is */
  cgroup: string;
  /** false once the process has given up its address space and is only finishing its exit */
  hasMemory: boolean;
}

export function processTable(): ProcRow[] {
  const out: ProcRow[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const status = readFileSync(`/proc/${e}/status`, 'utf8');
      const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
      const read = (f: string) => { try { return readFileSync(`/proc/${e}/${f}`, 'utf8'); } catch { return ''; } };
      const [uid, euid] = field('Uid').split(/\s+/).map(Number);
      out.push({
        pid: Number(e), ppid: Number(field('PPid')), state: field('State').charAt(0), uid, euid,
        comm: field('Name'), cmdline: read('cmdline').split('\0').join(' ').trim(), cgroup: read('cgroup'),
        hasMemory: /^VmSize:/m.test(status),
      });
    } catch { /* exited meanwhile */ }
  }
  return out;
}

/** a line for failure messages: pid, state, parent, name, command */
export function describeProcess(p: ProcRow): string {
  return `${p.pid} ${p.state} ppid=${p.ppid} ${p.comm} ${p.cmdline}`;
}
