/**
 * Which process is which, across time: a pid alone may name another process once
 * the first one is reaped, so a process is named by its pid and its start time
 * (field 22 of /proc/PID/stat, clock ticks since boot; proc(5)). The sandbox driver
 * names a sandbox's init and the server that owns a sandbox this way; the classroom
 * names the server process that runs a lab session.
 */
import { readFileSync } from 'node:fs';

/** start time of a running process as /proc shows it; null when there is no such process */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // after the command name, which may itself contain spaces and parentheses
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
