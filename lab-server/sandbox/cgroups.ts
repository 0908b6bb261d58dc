/**
 * The sandbox's cgroups, seen from the host: delegation to the sandbox's root,
 * reading limits and events for checks, and removal at destroy.
 *
 * Hybrid hosts (v1 controllers, like our CI machine): crun creates
 * <hierarchy>/nslab/<id> in every v1 hierarchy. We pre-create the ones the
 * learner may use and hand the directory plus cgroup.procs/tasks to the
 * sandbox's root, never the limit files: the learner can make sub-groups (which
 * the kernel caps by the parent's limits) but cannot raise the sandbox's own.
 * The cgroup2 at /sys/fs/cgroup/unified gets a group too, joined before the
 * cgroup namespace is made, or `mount -t cgroup2` inside would show the host tree.
 *
 * v2 hosts: one tree at <root>/<id>, same delegation rule, where <root> is
 * /sys/fs/cgroup/nslab, or below our own unit when systemd delegates one to us
 * (cgroup-root.ts: on a systemd host the tree is systemd's)
 * (directory, cgroup.procs, cgroup.subtree_control, cgroup.threads).
 */
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyV2Limits, walk } from './cgroup-quota.ts';
import { v2SandboxesDir, v2SandboxesPath } from './cgroup-root.ts';
import { hostInfo } from './host.ts';
import type { CgroupInfo } from './types.ts';

const ROOT = '/sys/fs/cgroup';
/** v1 hierarchies the learner gets to make groups in */
const DELEGATED_V1 = ['memory', 'pids', 'cpu', 'cpuacct', 'systemd'];

export function cgroupsPath(id: string): string {
  return hostInfo().cgroupMode === 'v2' ? `${v2SandboxesPath()}/${id}` : `/nslab/${id}`;
}

/** Host directories of the sandbox's cgroup in every hierarchy we manage. */
export function cgroupDirs(id: string): string[] {
  const h = hostInfo();
  if (h.cgroupMode === 'v2') return [join(v2SandboxesDir(), id)];
  const dirs = h.v1Hierarchies.map((name) => join(ROOT, name, 'nslab', id));
  if (h.unifiedMount) dirs.push(join(h.unifiedMount, 'nslab', id));
  return dirs;
}

/** The sandbox's groups the learner may make groups in (the trees CgroupGuard watches). */
export function delegatedDirs(id: string): string[] {
  const h = hostInfo();
  if (h.cgroupMode === 'v2') return [join(v2SandboxesDir(), id)];
  return h.v1Hierarchies.filter((name) => DELEGATED_V1.includes(name)).map((name) => join(ROOT, name, 'nslab', id));
}

/** The hierarchy whose cgroup.procs lists every process of the sandbox. */
export function procsRoot(id: string): string {
  const h = hostInfo();
  return h.cgroupMode === 'v2' ? join(v2SandboxesDir(), id) : join(ROOT, 'pids', 'nslab', id);
}

/** hybrid: the unified-hierarchy cgroup.procs a process must join before crun runs */
export function unifiedProcsFile(id: string): string | null {
  const h = hostInfo();
  return h.cgroupMode === 'hybrid' && h.unifiedMount ? join(h.unifiedMount, 'nslab', id, 'cgroup.procs') : null;
}

export function prepareCgroups(id: string, hostUid: number): void {
  const h = hostInfo();
  const own = (path: string) => { if (existsSync(path)) chownSync(path, hostUid, hostUid); };
  if (h.cgroupMode === 'v2') {
    const dir = join(v2SandboxesDir(), id);
    mkdirSync(dir, { recursive: true });
    for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) own(join(dir, f));
    applyV2Limits(dir);
    return;
  }
  for (const name of h.v1Hierarchies) {
    const dir = join(ROOT, name, 'nslab', id);
    mkdirSync(dir, { recursive: true });
    if (DELEGATED_V1.includes(name)) for (const f of ['', 'cgroup.procs', 'tasks']) own(join(dir, f));
  }
  if (h.unifiedMount) mkdirSync(join(h.unifiedMount, 'nslab', id), { recursive: true });
}

function readInts(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}


/** host pids of every process in the sandbox (nested groups included) */
export function sandboxHostPids(id: string): number[] {
  const pids = new Set<number>();
  for (const d of walk(procsRoot(id))) for (const p of readInts(join(d, 'cgroup.procs'))) pids.add(p);
  return [...pids];
}

/**
 * Kill whatever is left and remove every group of the sandbox, deepest first.
 * Kills by cgroup membership, not by pid or process group: `setsid nohup`
 * escapes the latter (the lesson of ttyd/wetty/terminado issues).
 */
export async function removeCgroups(id: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // every hierarchy: the unified group also holds host-side crun processes
    const pids = new Set<number>();
    for (const base of cgroupDirs(id)) for (const d of walk(base)) for (const p of readInts(join(d, 'cgroup.procs'))) pids.add(p);
    for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    let left = 0;
    for (const base of cgroupDirs(id)) {
      for (const d of walk(base)) {
        try { rmdirSync(d); } catch { left++; }
      }
    }
    if (left === 0) return;
    await sleep(attempt < 10 ? 5 : 40);
  }
  const still = cgroupDirs(id).filter(existsSync);
  if (still.length) throw new Error(`cgroups of sandbox ${id} could not be removed: ${still.join(', ')}`);
}

/** SIGKILL whatever `pids()` lists until it lists nothing (a bounded while), then reclaim the sandbox's memory */
async function killThenReclaim(id: string, pids: () => number[]): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const left = pids();
    if (left.length === 0) break;
    for (const p of left) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    await sleep(attempt < 10 ? 5 : 40);
  }
  reclaimMemory(id);
}

/**
 * Kill every process of the sandbox's groups and reclaim their memory: before
 * anything removes a group, `crun delete` included, or a removed group holding
 * pages stays behind as a dying memory cgroup.
 */
export function emptyCgroups(id: string): Promise<void> {
  return killThenReclaim(id, () => {
    const pids = new Set<number>();
    for (const base of cgroupDirs(id)) for (const d of walk(base)) for (const p of readInts(join(d, 'cgroup.procs'))) pids.add(p);
    return [...pids];
  });
}

/**
 * Destroy, first step: every process of the sandbox but its init is killed, and
 * once only init is left (idle, it touches no new pages) the sandbox's memory is
 * reclaimed. Only then may init die: `crun run` removes the groups as soon as it
 * has reaped init, and a group removed while it holds pages stays dying.
 */
export function quiesceForDestroy(id: string, initPid: number | null): Promise<void> {
  return killThenReclaim(id, () => sandboxHostPids(id).filter((p) => p !== initPid));
}

/**
 * Drop the pages still charged to the sandbox's memory groups (page cache of the
 * shared image, mostly) before they are removed. A removed group that still holds
 * pages is not freed: it stays in the kernel as a dying memory cgroup, holding one
 * of the host's 65535 memory cgroup ids, until reclaim gets to those pages
 * (docs/security.md, known gap 9). Reclaim of a group covers its whole subtree,
 * dying descendants the learner removed included.
 */
export function reclaimMemory(id: string): void {
  const h = hostInfo();
  try {
    if (h.cgroupMode === 'v2') {
      // memory.reclaim (5.19+) answers EAGAIN when it could not take it all: fine, best effort
      writeFileSync(join(v2SandboxesDir(), id, 'memory.reclaim'), String(2 ** 40));
    } else {
      const mem = h.v1Hierarchies.find((n) => n.split(',').includes('memory'));
      if (mem) writeFileSync(join(ROOT, mem, 'nslab', id, 'memory.force_empty'), '0');
    }
  } catch { /* group never made, or pages that cannot go (EBUSY): the removal still goes ahead */ }
}

let deadReclaim: { running: boolean; again: boolean } = { running: false, again: false };

/**
 * A sandbox that ended by itself (its init died, or its server was killed) had its
 * groups removed by `crun run` before anyone could reclaim them: what they held
 * stays dying below the common parent of all sandboxes, where reclaim still reaches
 * it. That also drops the live sandboxes' page cache (they read it back from the
 * host's cache of the image file), so it runs in a child process, never on the event
 * loop, one at a time, coalescing the ends that come while one runs.
 */
export function reclaimDeadSandboxes(): void {
  if (deadReclaim.running) { deadReclaim.again = true; return; }
  const h = hostInfo();
  let file: string;
  let value: string;
  if (h.cgroupMode === 'v2') { file = join(v2SandboxesDir(), 'memory.reclaim'); value = String(2 ** 40); }
  else {
    const mem = h.v1Hierarchies.find((n) => n.split(',').includes('memory'));
    if (!mem) return;
    file = join(ROOT, mem, 'nslab', 'memory.force_empty');
    value = '0';
  }
  deadReclaim = { running: true, again: false };
  const child = spawn('sh', ['-c', 'echo "$1" > "$0" 2>/dev/null; exit 0', file, value], { stdio: 'ignore' });
  const done = () => {
    const again = deadReclaim.again;
    deadReclaim = { running: false, again: false };
    if (again) reclaimDeadSandboxes();
  };
  child.once('exit', done);
  child.once('error', done);
  child.unref();
}

/** any process in any of the sandbox's groups */
export function cgroupHasProcesses(id: string): boolean {
  return cgroupDirs(id).some((base) => walk(base).some((d) => readInts(join(d, 'cgroup.procs')).length > 0));
}

/** ms since the sandbox's group (pids hierarchy on v1) was made; Infinity if it is gone */
export function cgroupAgeMs(id: string): number {
  try {
    return Date.now() - statSync(procsRoot(id)).birthtimeMs;
  } catch {
    return Infinity;
  }
}

/** ids of sandboxes that have cgroups on this host (for orphan reaping) */
export function cgroupSandboxIds(): string[] {
  const base = hostInfo().cgroupMode === 'v2' ? v2SandboxesDir() : join(ROOT, 'pids', 'nslab');
  if (!existsSync(base)) return [];
  return readdirSync(base, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
}

function readNumber(file: string): number | null {
  try {
    const s = readFileSync(file, 'utf8').trim();
    if (s === 'max') return null;
    const n = Number(s);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

function readKeyed(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k && v !== undefined) out[k] = Number(v);
    }
  } catch { /* missing file: no events */ }
  return out;
}

/**
 * CPU time used by every process of the sandbox so far, in microseconds (v2:
 * cpu.stat usage_usec; v1: cpuacct.usage, in ns); null when unreadable.
 */
export function cpuTimeUs(id: string): number | null {
  const h = hostInfo();
  if (h.cgroupMode === 'v2') {
    const usage = readKeyed(join(v2SandboxesDir(), id, 'cpu.stat')).usage_usec;
    return Number.isFinite(usage) ? usage : null;
  }
  const acct = h.v1Hierarchies.find((n) => n.split(',').includes('cpuacct'));
  const ns = acct ? readNumber(join(ROOT, acct, 'nslab', id, 'cpuacct.usage')) : null;
  return ns === null ? null : Math.floor(ns / 1000);
}

/** v1 reports "no limit" as a page-rounded LONG_MAX */
const V1_UNLIMITED = 2 ** 62;

/**
 * Every group of the sandbox with its members, memory limit/usage/events and
 * pids limit. `toSandboxPid` maps host pids to the sandbox's pid namespace.
 */
export function readCgroups(id: string, toSandboxPid: (hostPid: number) => number | null): CgroupInfo[] {
  const h = hostInfo();
  if (h.cgroupMode === 'v2') return readCgroupTree(join(v2SandboxesDir(), id), toSandboxPid);
  // hybrid (v1): memory and pids are hierarchies of their own, merged by path
  const groups = new Map<string, CgroupInfo>();
  const get = (base: string, d: string): CgroupInfo => {
    const path = relPath(base, d);
    let g = groups.get(path);
    if (!g) groups.set(path, g = emptyGroup(path, 1));
    return g;
  };
  const mem = join(ROOT, 'memory', 'nslab', id);
  for (const d of walk(mem).reverse()) {
    const g = get(mem, d);
    addMembers(g, d, toSandboxPid);
    const lim = readNumber(join(d, 'memory.limit_in_bytes'));
    g.memoryLimit = lim === null || lim >= V1_UNLIMITED ? null : lim;
    g.memoryUsage = readNumber(join(d, 'memory.usage_in_bytes'));
    const oc = readKeyed(join(d, 'memory.oom_control'));
    const failcnt = readNumber(join(d, 'memory.failcnt')) ?? 0;
    g.memoryEvents = { max: failcnt, oom: oc.under_oom ?? 0, oomKill: oc.oom_kill ?? 0 };
    g.oomKills = oc.oom_kill ?? 0;
  }
  const pidsBase = join(ROOT, 'pids', 'nslab', id);
  for (const d of walk(pidsBase).reverse()) {
    const g = get(pidsBase, d);
    addMembers(g, d, toSandboxPid);
    g.pidsMax = readNumber(join(d, 'pids.max'));
    g.pidsCurrent = readNumber(join(d, 'pids.current'));
  }
  return [...groups.values()].sort((a, b) => a.path.localeCompare(b.path));
}

const relPath = (base: string, d: string): string => (d === base ? '/' : d.slice(base.length));

function emptyGroup(path: string, version: 1 | 2): CgroupInfo {
  return { path, version, pids: [], hostPids: [], memoryLimit: null, memoryUsage: null, oomKills: 0, memoryEvents: { max: 0, oom: 0, oomKill: 0 }, pidsMax: null, pidsCurrent: null };
}

/** the group's processes from `dir`'s cgroup.procs (a v1 group is read in two hierarchies: once each) */
function addMembers(g: CgroupInfo, dir: string, toSandboxPid: (hostPid: number) => number | null): void {
  for (const p of readInts(join(dir, 'cgroup.procs'))) {
    if (g.hostPids.includes(p)) continue;
    g.hostPids.push(p);
    const sp = toSandboxPid(p);
    if (sp !== null) g.pids.push(sp);
  }
}

/**
 * A cgroup v2 tree from its top directory `base` (shown as '/'): every group with
 * its members, memory limit, usage and events, and pids limit. The local sandbox's
 * tree on a v2 host, and a pod's container group on a Kubernetes node.
 */
export function readCgroupTree(base: string, toSandboxPid: (hostPid: number) => number | null): CgroupInfo[] {
  const groups: CgroupInfo[] = [];
  for (const d of walk(base).reverse()) {
    const g = emptyGroup(relPath(base, d), 2);
    addMembers(g, d, toSandboxPid);
    g.memoryLimit = readNumber(join(d, 'memory.max'));
    g.memoryUsage = readNumber(join(d, 'memory.current'));
    const ev = readKeyed(join(d, 'memory.events'));
    g.memoryEvents = { max: ev.max ?? 0, oom: ev.oom ?? 0, oomKill: ev.oom_kill ?? 0 };
    g.oomKills = g.memoryEvents.oomKill;
    g.pidsMax = readNumber(join(d, 'pids.max'));
    g.pidsCurrent = readNumber(join(d, 'pids.current'));
    groups.push(g);
  }
  return groups.sort((a, b) => a.path.localeCompare(b.path));
}
