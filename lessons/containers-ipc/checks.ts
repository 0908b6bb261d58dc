/**
 * Checks for containers-ipc. All four steps look at state: which PID and IPC
 * namespaces the sandbox's processes are in (their namespace inodes against the
 * sandbox's own, lab.rootNamespaces()), and the System V queues of each IPC
 * namespace (lab.ipc). A "container" here is a process in a PID namespace of its own.
 * The texts are in messages.<lang>.json.
 */
import { defineChecks, fail, msg, pass, pending, type Lab, type NamespaceSet, type ProcessInfo, type SysvIpc } from '../../lab-server/checks/api.ts';

interface Ctx { root: NamespaceSet; procs: ProcessInfo[]; init: ProcessInfo }

async function ctx(lab: Lab): Promise<Ctx> {
  const [root, procs, init] = await Promise.all([lab.rootNamespaces(), lab.processes(), lab.init()]);
  return { root, procs: procs.filter((p) => p.state !== 'Z'), init };
}

/** live processes in a PID namespace of their own ("containers") */
const containers = (c: Ctx) => c.procs.filter((p) => p.ns.pid !== c.root.pid);

/** System V tables per IPC namespace, read once per namespace */
async function tables(lab: Lab, procs: ProcessInfo[]): Promise<Map<number, SysvIpc>> {
  const out = new Map<number, SysvIpc>();
  for (const p of procs) {
    if (out.has(p.ns.ipc)) continue;
    const s = await lab.ipc(p.hostPid).catch(() => null);
    if (s) out.set(p.ns.ipc, s);
  }
  return out;
}

/** distinct PID namespaces (other than the sandbox's) whose processes are in IPC namespace `ipc` */
function pidNamespacesIn(c: Ctx, ipc: number): Set<number> {
  return new Set(containers(c).filter((p) => p.ns.ipc === ipc).map((p) => p.ns.pid));
}

export default defineChecks({
  'ipc-private': async (lab) => {
    const c = await ctx(lab);
    // one representative per (pid ns, ipc ns) pair, both private
    const boxes = new Map<string, ProcessInfo>();
    for (const p of containers(c)) {
      if (p.ns.ipc === c.root.ipc) continue;
      const k = `${p.ns.pid}/${p.ns.ipc}`;
      if (!boxes.has(k)) boxes.set(k, p);
    }
    const list = [...boxes.values()];
    const t = await tables(lab, list);
    let twoBoxes = false;
    for (const a of list) {
      for (const b of list) {
        if (a.ns.pid === b.ns.pid || a.ns.ipc === b.ns.ipc) continue;
        twoBoxes = true;
        const qa = t.get(a.ns.ipc)?.queues ?? [];
        const qb = t.get(b.ns.ipc)?.queues ?? [];
        if (qa.some((q) => (q.key === 0 ? qb.length === 0 : !qb.some((o) => o.key === q.key)))) return pass();
      }
    }
    if (twoBoxes) {
      const rootQueues = (await lab.ipc(c.init.hostPid).catch(() => null))?.queues.length ?? 0;
      return (rootQueues ? fail : pending)(rootQueues ? msg('ipc-private.queue-outside') : msg('ipc-private.no-queue-yet'));
    }
    const ipcOnly = c.procs.filter((p) => p.ns.ipc !== c.root.ipc && p.ns.pid === c.root.pid && p.comm !== 'unshare' && p.comm !== 'nsenter');
    if (ipcOnly.length && !list.length) {
      return fail(msg('ipc-private.not-containers'));
    }
    return pending(msg('ipc-private.not-yet', { count: list.length }));
  },

  'ipc-shareable': async (lab) => {
    const c = await ctx(lab);
    const ipcs = new Set(containers(c).map((p) => p.ns.ipc).filter((i) => i !== c.root.ipc));
    let sharedEmpty = false;
    let samePid = false;
    for (const ipc of ipcs) {
      const pids = pidNamespacesIn(c, ipc);
      if (pids.size < 2) {
        // joined, but into the other container's PID namespace as well
        if (c.procs.filter((p) => p.ns.ipc === ipc && p.ns.pid !== c.root.pid && p.comm !== 'unshare' && p.comm !== 'nsenter').length >= 2) samePid = true;
        continue;
      }
      const rep = containers(c).find((p) => p.ns.ipc === ipc)!;
      const s = await lab.ipc(rep.hostPid).catch(() => null);
      if (s && s.queues.length) return pass();
      sharedEmpty = true;
    }
    if (sharedEmpty) {
      return fail(msg('ipc-shareable.joined-empty'));
    }
    if (samePid) {
      return fail(msg('ipc-shareable.joined-pid-too'));
    }
    return pending(msg('ipc-shareable.not-yet'));
  },

  'ipc-host': async (lab) => {
    const c = await ctx(lab);
    const boxes = containers(c);
    if (boxes.some((p) => p.ns.ipc === c.root.ipc && p.ns.uts !== c.root.uts)) return pass();
    if (boxes.some((p) => p.ns.ipc === c.root.ipc)) {
      return fail(msg('ipc-host.shares-hostname'));
    }
    const utsOnly = c.procs.some((p) => p.ns.uts !== c.root.uts && p.ns.pid === c.root.pid && p.ns.ipc === c.root.ipc && p.comm !== 'unshare' && p.comm !== 'nsenter');
    if (utsOnly) {
      return fail(msg('ipc-host.no-pid-namespace'));
    }
    if (boxes.some((p) => p.ns.uts !== c.root.uts)) {
      return pending(msg('ipc-host.all-private'));
    }
    return pending(msg('ipc-host.not-yet'));
  },

  pod: async (lab) => {
    const c = await ctx(lab);
    const ipcs = new Set(containers(c).map((p) => p.ns.ipc).filter((i) => i !== c.root.ipc));
    let best = 0;
    let sharedPid = false;
    for (const ipc of ipcs) {
      const n = pidNamespacesIn(c, ipc).size;
      if (n >= 3) return pass();
      best = Math.max(best, n);
      const members = containers(c).filter((p) => p.ns.ipc === ipc && p.comm !== 'unshare' && p.comm !== 'nsenter');
      if (members.length >= 3 && n < 3) sharedPid = true;
    }
    if (sharedPid) {
      return fail(msg('pod.shared-pid'));
    }
    // a pause-like holder (own IPC and network namespaces), and containers started after it
    // that each made an IPC namespace of their own instead of joining it
    const pause = containers(c).filter((p) => p.ns.net !== c.root.net && p.ns.ipc !== c.root.ipc).pop();
    const loners = pause ? new Set(containers(c).filter((p) => p.pid > pause.pid && p.ns.ipc !== c.root.ipc && p.ns.ipc !== pause.ns.ipc).map((p) => p.ns.ipc)) : new Set();
    if (best <= 1 && loners.size >= 2) {
      return fail(msg('pod.separate-ipc'));
    }
    return pending(best === 1 ? msg('pod.not-yet-one', { count: best }) : msg('pod.not-yet', { count: best }));
  },
});
