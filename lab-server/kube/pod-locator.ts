/**
 * From a pod UID to what the probe looks at, on a node with cgroup v2: the pod's
 * cgroup (as the kubelet names it), the sandbox container's group inside it, its
 * processes, its PID 1 and its uid mapping (docs/kubernetes.md, "The node agent").
 *
 * The kubelet's two cgroup drivers name a pod's group
 *   systemd:  kubepods.slice/kubepods-QOS.slice/kubepods-QOS-podUID_WITH_UNDERSCORES.slice
 *   cgroupfs: kubepods/QOS/podUID
 * with QOS burstable or besteffort; a Guaranteed pod sits directly under kubepods
 * (kubepods.slice/kubepods-podUID.slice, kubepods/podUID). Inside, one group per
 * container: the pause container's and the sandbox's. The sandbox is the container
 * whose PID 1 is nslab-init (the image's init); the pause process has a pid
 * namespace of its own and is no part of the sandbox, so the probe sees only the
 * sandbox container's group and below (where the learner's own groups are), and
 * paths are shown from that group, as the container's cgroup namespace shows them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { walk } from '../sandbox/cgroup-quota.ts';
import { readCgroupTree } from '../sandbox/cgroups.ts';
import { insideId, parseIdMap, type IdMapRange } from '../sandbox/identity.ts';
import type { ProbeTarget } from '../sandbox/probe.ts';
import { processStartTime } from '../sandbox/process-identity.ts';
import type { CommandEvent } from '../sandbox/types.ts';
import { podUidSchema } from './agent-protocol.ts';
import { COMMAND_LOG_PATH, PodCommandLog } from './pod-command-log.ts';

/** a sandbox's command events: what happened so far, and what comes */
export interface CommandSource {
  all(): readonly CommandEvent[];
  subscribe(listener: (e: CommandEvent) => void): () => void;
  /** why no more events will come, or null while they may */
  ended?(): string | null;
}

/** one sandbox pod on this node, as the agent serves it */
export interface PodSandbox {
  readonly podUid: string;
  readonly target: ProbeTarget;
  /** false once the sandbox's init is gone */
  alive(): boolean;
  commands(): CommandSource;
}

export interface PodLocator {
  /** the pod's sandbox on this node; null when the UID is not a pod UID, or no such pod runs here */
  locate(podUid: string): PodSandbox | null;
  close?(): void;
}

const QOS = ['burstable', 'besteffort'] as const;

/** where the kubelet puts a pod's group, relative to the cgroup root, for both drivers and every QoS class */
export function podCgroupCandidates(podUid: string): string[] {
  const u = podUid.replace(/-/g, '_');
  return [
    ...QOS.map((q) => `kubepods.slice/kubepods-${q}.slice/kubepods-${q}-pod${u}.slice`),
    `kubepods.slice/kubepods-pod${u}.slice`,
    ...QOS.map((q) => `kubepods/${q}/pod${podUid}`),
    `kubepods/pod${podUid}`,
  ];
}

function isDir(p: string): boolean {
  try { readdirSync(p); return true; } catch { return false; }
}

/** the pod's cgroup directory, or null */
export function findPodCgroup(cgroupRoot: string, podUid: string): string | null {
  if (!podUidSchema.safeParse(podUid).success) return null;
  for (const rel of podCgroupCandidates(podUid)) {
    const dir = join(cgroupRoot, rel);
    if (isDir(dir)) return dir;
  }
  return null;
}

function readInts(file: string): number[] {
  try { return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number); } catch { return []; }
}

/** host pids in a group and every group below it */
export function treePids(dir: string): number[] {
  const pids = new Set<number>();
  for (const d of walk(dir)) for (const p of readInts(join(d, 'cgroup.procs'))) pids.add(p);
  return [...pids];
}

function nsPidsAndName(pid: number): { nsPids: number[]; name: string } | null {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return null; }
  return {
    name: /^Name:\s*(.*)$/m.exec(text)?.[1] ?? '',
    nsPids: (/^NSpid:\s*(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/).filter(Boolean).map(Number),
  };
}

/** the image's init (sandbox-images/default/src/nslab-init.c) */
export const SANDBOX_INIT_NAME = 'nslab-init';

/**
 * The sandbox container in a pod's group: the child group whose subtree holds a
 * PID 1 (of its own pid namespace) named nslab-init. Null while there is none (the
 * container is starting, or the pod is not a sandbox).
 */
export function findSandboxContainer(podDir: string): { containerDir: string; initPid: number } | null {
  let children: string[];
  try { children = readdirSync(podDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(podDir, e.name)); } catch { return null; }
  for (const dir of children.sort()) {
    for (const pid of treePids(dir)) {
      const s = nsPidsAndName(pid);
      if (s && s.nsPids.length >= 2 && s.nsPids[1] === 1 && s.name === SANDBOX_INIT_NAME) return { containerDir: dir, initPid: pid };
    }
  }
  return null;
}

/** the in-sandbox pid of a host process (its second NSpid field) */
function sandboxPid(hostPid: number): number | null {
  return nsPidsAndName(hostPid)?.nsPids[1] ?? null;
}

class CgroupPod implements PodSandbox {
  readonly target: ProbeTarget;
  private readonly initStart: string | null;
  private log: PodCommandLog | null = null;

  constructor(
    readonly podUid: string,
    readonly containerDir: string,
    readonly initPid: number,
    uidMap: readonly IdMapRange[],
    private readonly openLog: (pod: CgroupPod) => PodCommandLog,
  ) {
    this.initStart = processStartTime(initPid);
    this.target = {
      name: `pod ${podUid}`,
      hostPids: () => treePids(containerDir),
      initPid: () => (this.alive() ? initPid : null),
      toSandboxUid: (hostUid) => insideId(uidMap, hostUid),
      cgroups: (toSandboxPid) => readCgroupTree(containerDir, toSandboxPid),
    };
  }

  alive(): boolean {
    return this.initStart !== null && processStartTime(this.initPid) === this.initStart;
  }

  commands(): CommandSource {
    // a reader that ended while the pod lives (the FIFO was not there to open, the
    // helper was killed) is tried again: the history it held is lost, the rest is not
    if (this.log?.ended() && this.alive()) { this.log.close(); this.log = null; }
    const log = (this.log ??= this.openLog(this));
    return { all: () => log.feed.all(), subscribe: (l) => log.feed.subscribe(l), ended: () => log.ended() };
  }

  close(): void {
    this.log?.close();
  }
}

export interface CgroupLocatorOptions {
  /** helpers/nslab-probe.c, built (sandbox/host-helpers.ts) */
  helperBin: string;
  /** the host's cgroup2 mount; the agent's DaemonSet mounts the node's at /sys/fs/cgroup */
  cgroupRoot?: string;
  /** the FIFO the image's bash hook writes, inside the sandbox */
  commandLogPath?: string;
}

/** The agent's locator: the kubelet's cgroup tree and /proc of the node (host PID namespace). */
export class CgroupPodLocator implements PodLocator {
  private readonly pods = new Map<string, CgroupPod>();
  /** a pod that ends between requests must not keep its command-log reader (and the FIFO's tmpfs) alive */
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: CgroupLocatorOptions) {
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
  }

  locate(podUid: string): PodSandbox | null {
    if (!podUidSchema.safeParse(podUid).success) return null;
    const known = this.pods.get(podUid);
    if (known?.alive()) return known;
    if (known) { known.close(); this.pods.delete(podUid); }
    this.sweep();
    const podDir = findPodCgroup(this.opts.cgroupRoot ?? '/sys/fs/cgroup', podUid);
    if (!podDir) return null;
    const found = findSandboxContainer(podDir);
    if (!found) return null;
    let uidMap: IdMapRange[];
    try { uidMap = parseIdMap(readFileSync(`/proc/${found.initPid}/uid_map`, 'utf8'), (id) => id); } catch { return null; }
    const pod = new CgroupPod(podUid, found.containerDir, found.initPid, uidMap,
      (p) => new PodCommandLog(this.opts.helperBin, p.initPid, () => p.target.hostPids(), this.opts.commandLogPath ?? COMMAND_LOG_PATH));
    if (!pod.alive()) return null;
    this.pods.set(podUid, pod);
    // the hook reports only to a FIFO that exists when a shell starts: open it now, before the learner's first shell
    pod.commands();
    return pod;
  }

  /** forget pods whose sandbox is gone (their command-log readers end with them) */
  private sweep(): void {
    for (const [uid, pod] of this.pods) if (!pod.alive()) { pod.close(); this.pods.delete(uid); }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const pod of this.pods.values()) pod.close();
    this.pods.clear();
  }
}
