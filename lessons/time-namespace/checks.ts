/**
 * Checks for the time namespace lesson.
 *
 * `shift-clocks` is state: a live shell in a time namespace other than the
 * sandbox's, and the offsets the kernel keeps for it (/proc/PID/timens_offsets,
 * read from the host). `read-offsets` and `compare-clocks` change nothing, so they
 * use the command log, which records each command's time namespace. The texts are
 * in messages.<lang>.json.
 */
import { defineChecks, fail, msg, pass, pending, type Lab, type ProcessInfo, type TimeOffsets } from '../../lab-server/checks/api.ts';

const READS_OFFSETS = /\b(cat|head|tail|less|more|grep|awk)\b[^;|&]*\/proc\/(self|\$\$|\$BASHPID|\d+)\/timens_offsets\b/;
const READS_UPTIME = /(^|[;&|(]\s*)uptime\b|\/proc\/uptime\b/;
/** date, or a program printing the clocks */
const READS_WALL_CLOCK = /(^|[;&|(]\s*)date\b(?![^;|&]*\s(-s|--set)\b)/;

interface Shifted { proc: ProcessInfo; offsets: TimeOffsets }

/** live processes in a time namespace of their own, with its offsets; shells first */
async function shifted(lab: Lab): Promise<{ shells: Shifted[]; others: number }> {
  const root = await lab.rootNamespaces();
  const shells: Shifted[] = [];
  let others = 0;
  const shellPids = new Set((await lab.shells()).map((p) => p.hostPid));
  for (const proc of await lab.processes()) {
    if (proc.state === 'Z' || proc.ns.time === root.time) continue;
    if (!shellPids.has(proc.hostPid)) { others++; continue; }
    const offsets = await lab.timeOffsets(proc.hostPid).catch(() => null); // it may have just exited
    if (offsets) shells.push({ proc, offsets });
  }
  return { shells, others };
}

export default defineChecks({
  'read-offsets': async (lab) => {
    const log = lab.commandsRun();
    const offsets = log.some((e) => READS_OFFSETS.test(e.command) && e.status === 0);
    const uptime = log.some((e) => READS_UPTIME.test(e.command) && e.status === 0);
    if (offsets && uptime) return pass();
    if (offsets) return pending(msg('read-offsets.uptime-missing'));
    if (uptime) return pending(msg('read-offsets.offsets-missing'));
    return pending(msg('read-offsets.not-yet'));
  },

  'shift-clocks': async (lab) => {
    const { shells, others } = await shifted(lab);
    if (shells.some((s) => s.offsets.monotonic !== 0 && s.offsets.boottime !== 0)) return pass();
    if (shells.length) {
      const { proc, offsets } = shells[0];
      if (offsets.monotonic === 0 && offsets.boottime === 0) return fail(msg('shift-clocks.no-offsets', { pid: proc.pid }));
      return fail(offsets.boottime === 0
        ? msg('shift-clocks.boottime-missing', { pid: proc.pid })
        : msg('shift-clocks.monotonic-missing', { pid: proc.pid }));
    }
    if (others) return pending(msg('shift-clocks.no-shell'));
    return pending(msg('shift-clocks.not-yet'));
  },

  'compare-clocks': async (lab) => {
    const root = await lab.rootNamespaces();
    const log = lab.commandsRun();
    const inChild = (e: (typeof log)[number]) => e.ns.time !== undefined && e.ns.time !== root.time;
    const first = log.findIndex(inChild);
    if (first < 0) return pending(msg('compare-clocks.previous-step-first'));
    const inside = log.some((e) => inChild(e) && e.status === 0 && READS_WALL_CLOCK.test(e.command));
    const outside = log.slice(first).some((e) => e.ns.time === root.time && e.status === 0 && READS_UPTIME.test(e.command));
    if (inside && outside) return pass();
    if (!outside) return pending(msg('compare-clocks.outside-missing'));
    return pending(msg('compare-clocks.date-missing'));
  },
});
