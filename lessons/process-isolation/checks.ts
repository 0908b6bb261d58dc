/**
 * Checks for the process isolation lesson. Every step leaves state behind, so every
 * check looks at state: processes with their namespace inodes and PIDs in nested
 * PID namespaces, /proc as a process sees it, and the sandbox's cgroups (v1 or v2:
 * `lab.cgroups()` reports both the same way, so one check grades the v2 path the
 * lesson shows on v2 hosts and the v1 path it shows on v1/hybrid hosts; only the
 * wording of the hints differs by `CgroupInfo.version`). The texts are in
 * messages.<lang>.json.
 */
import { defineChecks, fail, msg, pass, pending, type CgroupInfo, type Lab, type ProcessInfo } from '../../lab-server/checks/api.ts';

const MiB = 1024 * 1024;
const MAX_LIMIT = 100 * MiB;

/** PID 1 of a PID namespace below the sandbox's */
const isNsInit = (p: ProcessInfo) => p.nsPids.length >= 2 && p.nsPids[p.nsPids.length - 1] === 1;

const mib = (n: number) => `${(n / MiB).toFixed(1).replace(/\.0$/, '')} MiB`;

/** groups the learner made with a memory limit of at most 100 MiB */
const limited = (groups: CgroupInfo[]) => groups.filter((g) => g.path !== '/' && g.memoryLimit !== null && g.memoryLimit <= MAX_LIMIT);
/**
 * Groups the sandbox comes with: its root, and on v2 the `init` leaf its shells start
 * in (a v2 group that hands controllers down may not hold processes). Without this a
 * fresh v2 sandbox would be told "the group /init has no memory limit".
 */
const isSandboxOwn = (g: CgroupInfo) => g.path === '/' || (g.version === 2 && g.path === '/init');

export default defineChecks({
  'pid-one': async (lab) => {
    const root = await lab.rootNamespaces();
    const procs = await lab.processes();
    const init = procs.find((p) => p.pid === 1);
    const shells = (await lab.shells()).filter(isNsInit);
    for (const p of shells) {
      if (p.ns.mnt === root.mnt) continue;
      // /proc/1 as this shell sees it must be the shell itself, not the sandbox's init
      const comm = await lab.readFile(p.hostPid, '/proc/1/comm').catch(() => null);
      if (comm !== null && comm.trim() === p.comm && comm.trim() !== init?.comm) return pass();
    }
    if (shells.length) {
      const p = shells[0];
      if (p.ns.mnt === root.mnt) {
        return fail(msg('pid-one.no-mount-proc', { pid: p.pid }));
      }
      return fail(msg('pid-one.wrong-proc'));
    }
    const pidOnly = (await lab.shells()).some((p) => p.ns.pid_for_children !== p.ns.pid);
    if (pidOnly) {
      return fail(msg('pid-one.no-fork'));
    }
    return pending(msg('pid-one.not-yet'));
  },

  'memory-limit': async (lab) => {
    const groups = await lab.cgroups();
    const good = limited(groups);
    if (good.some((g) => g.hostPids.length > 0)) return pass();
    if (good.length) {
      return fail(msg('memory-limit.group-empty', { path: good[0].path, limit: mib(good[0].memoryLimit!) }));
    }
    const tooBig = groups.find((g) => g.path !== '/' && g.memoryLimit !== null);
    if (tooBig) {
      return fail(msg('memory-limit.too-big', { path: tooBig.path, limit: mib(tooBig.memoryLimit!) }));
    }
    const made = groups.filter((g) => !isSandboxOwn(g));
    if (made.length) {
      const g = made[0];
      return fail(g.version === 2 ? msg('memory-limit.no-limit-v2', { path: g.path }) : msg('memory-limit.no-limit-v1', { path: g.path }));
    }
    return pending(groups[0]?.version === 2 ? msg('memory-limit.not-yet-v2') : msg('memory-limit.not-yet-v1'));
  },

  'oom-kill': async (lab) => {
    const groups = await lab.cgroups();
    const good = limited(groups);
    if (good.some((g) => g.oomKills > 0)) return pass();
    if (!good.length) {
      return pending(msg('oom-kill.previous-step-first'));
    }
    if (!good.some((g) => g.hostPids.length > 0)) {
      return pending(msg('oom-kill.group-empty'));
    }
    return pending(msg('oom-kill.not-yet', { limit: mib(good[0].memoryLimit!) }));
  },

  'mini-container': async (lab) => {
    const root = await lab.rootNamespaces();
    const kinds = ['pid', 'mnt', 'uts', 'ipc', 'net'] as const;
    const shells = await lab.shells();
    if (shells.some((p) => kinds.every((k) => p.ns[k] !== root[k]))) return pass();
    // the shell with the most new namespaces, to say what is missing
    let best: ProcessInfo | null = null;
    let bestCount = 0;
    for (const p of shells) {
      const n = kinds.filter((k) => p.ns[k] !== root[k]).length;
      if (n > bestCount) { best = p; bestCount = n; }
    }
    if (best) {
      const missing = kinds.filter((k) => best!.ns[k] === root[k]);
      const pidHint = missing.includes('pid') && best.ns.pid_for_children !== root.pid_for_children;
      return fail(pidHint
        ? msg('mini-container.missing-no-fork', { pid: best.pid, kinds: missing.join(', ') })
        : msg('mini-container.missing', { pid: best.pid, kinds: missing.join(', ') }));
    }
    return pending(msg('mini-container.not-yet'));
  },
}, {
  // the next step begins with "Leave the PID namespace shell (`exit`)": that its
  // namespace is then gone is the plan, not something to redo
  leftBehind: ['pid-one'],
});
