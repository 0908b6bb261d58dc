/**
 * Looking into a sandbox from the host, for checks. Everything here reads the
 * kernel's view (procfs, cgroupfs, or a short-lived helper that joins *only* the
 * namespaces it needs): what a learner types cannot change what the probe sees
 * about processes, namespaces, IPC objects, mounts or cgroups.
 *
 * What procfs cannot show from outside (a file as the process sees it, IPC objects,
 * message queues, namespaced sysctls) is read by a fork of our long-lived helper
 * (helpers/nslab-probe.c, probe-helper.ts) that never execs anything. For files it
 * joins the process's user and mount namespaces and its root and then only open(2)s
 * and read(2)s: a symlink the learner planted resolves inside the sandbox, and no
 * program of the learner's can ever be run in its place. For the rest it joins only
 * ipc/uts/net namespaces and reads the host's procfs, or asks rtnetlink (links,
 * addresses, routes; net-state.ts). None joins the sandbox's pid
 * namespace: the learner cannot see or ptrace them.
 */
import { closeSync, openSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { z } from 'zod';
import { readCgroups, sandboxHostPids } from './cgroups.ts';
import { parseNetState, type NetState } from './net-state.ts';
import { probeHelper } from './probe-helper.ts';
import { LocalIdentityProbe } from './identity-probe.ts';
import type { Capabilities, NamespaceOwners, TimeOffsets, UserNamespaceInfo } from './identity.ts';
import {
  NAMESPACE_KINDS, type CgroupInfo, type MountInfo, type MountPropagation, type MqueueEntry, type NamespaceInfo, type NamespaceSet, type NetInterface,
  type NsinfoSection, type ProcessInfo, type Probe, type SysvIpc,
} from './types.ts';

const MAX_READ = 1024 * 1024;

export function readNamespaces(hostPid: number): NamespaceSet | null {
  const ns = {} as NamespaceSet;
  try {
    for (const kind of NAMESPACE_KINDS) {
      const link = readlinkSync(`/proc/${hostPid}/ns/${kind}`);
      ns[kind] = Number(/\[(\d+)\]/.exec(link)?.[1] ?? 0);
    }
  } catch {
    return null;
  }
  return ns;
}

interface Status { nsPids: number[]; ppid: number; uid: number; state: string; name: string }

function readStatus(hostPid: number): Status | null {
  let text: string;
  try { text = readFileSync(`/proc/${hostPid}/status`, 'utf8'); } catch { return null; }
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(text)?.[1] ?? '';
  return {
    name: field('Name'),
    state: field('State').split(' ')[0] ?? '',
    ppid: Number(field('PPid')),
    uid: Number(field('Uid').split(/\s+/)[1]),
    nsPids: field('NSpid').split(/\s+/).filter(Boolean).map(Number),
  };
}

const num = (s: string | undefined) => Number(s ?? 0);

/** /proc/sysvipc/{msg,shm,sem} as one text: each table starts with its header line */
export function parseSysvipc(text: string, toSandboxUid: (hostUid: number) => number): SysvIpc {
  const out: SysvIpc = { queues: [], shm: [], sems: [] };
  let table: 'msg' | 'shm' | 'sem' | null = null;
  let cols: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('key')) {
      cols = line.split(/\s+/);
      table = cols.includes('msqid') ? 'msg' : cols.includes('shmid') ? 'shm' : cols.includes('semid') ? 'sem' : null;
      continue;
    }
    const v = line.split(/\s+/);
    const get = (c: string) => v[cols.indexOf(c)];
    if (table === 'msg') {
      out.queues.push({ key: num(get('key')), id: num(get('msqid')), perms: parseInt(get('perms') ?? '0', 8), cbytes: num(get('cbytes')), qnum: num(get('qnum')), lspid: num(get('lspid')), lrpid: num(get('lrpid')), uid: toSandboxUid(num(get('uid'))) });
    } else if (table === 'shm') {
      out.shm.push({ key: num(get('key')), id: num(get('shmid')), perms: parseInt(get('perms') ?? '0', 8), size: num(get('size')), cpid: num(get('cpid')), lpid: num(get('lpid')), nattch: num(get('nattch')), uid: toSandboxUid(num(get('uid'))) });
    } else if (table === 'sem') {
      out.sems.push({ key: num(get('key')), id: num(get('semid')), perms: parseInt(get('perms') ?? '0', 8), nsems: num(get('nsems')), uid: toSandboxUid(num(get('uid'))) });
    }
  }
  return out;
}

export function parseMountinfo(text: string): MountInfo[] {
  const unescape = (s: string) => s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 6) continue;
    const propagation: MountPropagation = { shared: null, master: null, propagateFrom: null, unbindable: false };
    for (const tag of f.slice(6, sep)) {
      const [k, v] = tag.split(':');
      if (k === 'shared') propagation.shared = Number(v);
      else if (k === 'master') propagation.master = Number(v);
      else if (k === 'propagate_from') propagation.propagateFrom = Number(v);
      else if (k === 'unbindable') propagation.unbindable = true;
    }
    out.push({
      mountId: Number(f[0]), parentId: Number(f[1]), device: f[2], root: unescape(f[3]), mountPoint: unescape(f[4]),
      options: f[5].split(','), propagation, fsType: f[sep + 1], source: unescape(f[sep + 2] ?? ''), superOptions: (f[sep + 3] ?? '').split(','),
    });
  }
  return out;
}

/** the helper's mq answer: "NAME\tMODE\tINFO" lines */
export function parseMqueueList(text: string): MqueueEntry[] {
  return text.split('\n').filter(Boolean).map((line) => {
    const [name, mode, info] = line.split('\t');
    return { name, mode: parseInt(mode, 8), qsize: Number(/QSIZE:(\d+)/.exec(info ?? '')?.[1] ?? 0) };
  });
}

/** the helper's interface list: "L\tNAME\tFLAGS", "A\tNAME\tFAMILY\tADDR\tPREFIX", "T\tLINKS\tADDRS" */
export function parseInterfaces(text: string): NonNullable<NamespaceInfo['net']> {
  const byName = new Map<string, NetInterface>();
  let totalInterfaces = 0;
  let totalAddresses = 0;
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'L' && f.length === 3) byName.set(f[1], { name: f[1], flags: parseInt(f[2], 16) || 0, addresses: [] });
    else if (f[0] === 'A' && f.length === 5 && (f[2] === 'inet' || f[2] === 'inet6')) {
      byName.get(f[1])?.addresses.push({ family: f[2], address: f[3], prefix: Number(f[4]) || 0 });
    } else if (f[0] === 'T') { totalInterfaces = Number(f[1]) || 0; totalAddresses = Number(f[2]) || 0; }
  }
  return { interfaces: [...byName.values()], totalInterfaces: Math.max(totalInterfaces, byName.size), totalAddresses };
}

/** "@NAME LEN\n" + LEN bytes, repeated (helpers/nslab-probe.c, nsinfo) */
export function splitSections(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(10, at);
    const m = nl < 0 ? null : /^@([a-z]+) (\d+)$/.exec(buf.subarray(at, nl).toString('latin1'));
    if (!m) throw new Error('the probe helper sent a malformed namespace report');
    const len = Number(m[2]);
    out.set(m[1], buf.subarray(nl + 1, nl + 1 + len));
    at = nl + 1 + len;
  }
  return out;
}

/** the nsbatch answer: "@p|@e|@s PID LEN\n" + LEN bytes per process (helpers/nslab-probe.c) */
export function splitBatch(buf: Buffer): Map<number, { kind: 'p' | 'e' | 's'; body: Buffer }> {
  const out = new Map<number, { kind: 'p' | 'e' | 's'; body: Buffer }>();
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(10, at);
    const m = nl < 0 ? null : /^@([pes]) (\d+) (\d+)$/.exec(buf.subarray(at, nl).toString('latin1'));
    if (!m) throw new Error('the probe helper sent a malformed namespace report');
    const len = Number(m[3]);
    out.set(Number(m[2]), { kind: m[1] as 'p' | 'e' | 's', body: buf.subarray(nl + 1, nl + 1 + len) });
    at = nl + 1 + len;
  }
  return out;
}

/** up to maxBytes of a file, and whether that was all of it */
function readBounded(path: string, maxBytes: number): { text: string; complete: boolean } {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n === buf.length) break;
    }
    if (n <= maxBytes) return { text: buf.subarray(0, n).toString('utf8'), complete: true };
    // only whole lines
    const cut = buf.subarray(0, maxBytes);
    return { text: cut.subarray(0, cut.lastIndexOf(10) + 1).toString('utf8'), complete: false };
  } finally {
    closeSync(fd);
  }
}

const sysctlName = z.string().min(1).max(200).regex(/^[a-z0-9_]+([./][a-z0-9_-]+)*$/, 'a sysctl name like kernel.msgmni');
const filePath = z.string().startsWith('/').max(4096).refine((p) => !p.includes('\0'), 'no NUL bytes');

export class LocalProbe implements Probe {
  constructor(
    private readonly id: string,
    private readonly hostUidBase: number,
    private readonly initPid: () => number | null,
    /** helpers/nslab-probe.c, built by host-helpers.ts */
    private readonly helperBin: string,
  ) {}

  private toSandboxUid = (hostUid: number) => (hostUid >= this.hostUidBase && hostUid < this.hostUidBase + 65536 ? hostUid - this.hostUidBase : 65534);
  // made on first use: parameter properties are not yet assigned while field initialisers run
  private identityProbe: LocalIdentityProbe | null = null;
  private get identity(): LocalIdentityProbe {
    return (this.identityProbe ??= new LocalIdentityProbe((pid) => this.own(pid), this.toSandboxUid, this.helperBin));
  }

  /** refuses pids that are not the sandbox's: a check can never read a host process */
  private own(hostPid: number): number {
    if (!Number.isInteger(hostPid) || hostPid <= 0 || !sandboxHostPids(this.id).includes(hostPid)) {
      throw new Error(`process ${hostPid} is not in sandbox ${this.id}`);
    }
    return hostPid;
  }

  async processes(): Promise<ProcessInfo[]> {
    const statuses = new Map<number, Status>();
    for (const p of sandboxHostPids(this.id)) {
      const s = readStatus(p);
      if (s && s.nsPids.length >= 2) statuses.set(p, s);
    }
    const out: ProcessInfo[] = [];
    for (const [hostPid, s] of statuses) {
      const ns = readNamespaces(hostPid);
      if (!ns) continue;
      let cmdline: string[] = [];
      let cwd = '';
      let root = '';
      try { cmdline = readFileSync(`/proc/${hostPid}/cmdline`, 'utf8').split('\0').filter((x, i, a) => x !== '' || i < a.length - 1); } catch { /* exited */ }
      try { cwd = readlinkSync(`/proc/${hostPid}/cwd`); } catch { /* exited or kernel thread */ }
      try { root = readlinkSync(`/proc/${hostPid}/root`); } catch { /* exited or kernel thread */ }
      const parent = statuses.get(s.ppid);
      out.push({
        hostPid, pid: s.nsPids[1], nsPids: s.nsPids.slice(1), ppid: parent ? parent.nsPids[1] : 0, hostPpid: s.ppid,
        comm: s.name, cmdline, uid: this.toSandboxUid(s.uid), hostUid: s.uid, cwd, root, ns, state: s.state,
      });
    }
    return out.sort((a, b) => a.pid - b.pid);
  }

  async rootNamespaces(): Promise<NamespaceSet> {
    const pid = this.initPid();
    const ns = pid ? readNamespaces(pid) : null;
    if (!ns) throw new Error(`sandbox ${this.id} is not running`);
    return ns;
  }

  async readFile(hostPid: number, path: string): Promise<string | null> {
    const p = filePath.parse(path);
    // never exec a program after joining the sandbox's mount namespace: the
    // learner controls what lives at every path in there (docs/security.md, gap 0)
    const r = await probeHelper(this.helperBin).request('read', this.own(hostPid), MAX_READ, p);
    if (r.code === 2) return null;
    if (r.code !== 0) throw new Error(`cannot read ${p} in process ${hostPid}: ${r.text.trim()}`);
    return r.text;
  }

  async sysvipc(hostPid: number): Promise<SysvIpc> {
    const r = await probeHelper(this.helperBin).request('ipc', this.own(hostPid), MAX_READ);
    if (r.code !== 0) throw new Error(`cannot read the IPC namespace of ${hostPid}: ${r.text.trim()}`);
    return parseSysvipc(r.text, this.toSandboxUid);
  }

  async mqueue(hostPid: number): Promise<MqueueEntry[]> {
    // An mqueue mount shows the queues of the IPC namespace of whoever mounts it: the
    // helper mounts one in a throwaway mount namespace after joining the process's.
    const r = await probeHelper(this.helperBin).request('mq', this.own(hostPid), MAX_READ);
    if (r.code !== 0) throw new Error(`cannot list POSIX message queues of ${hostPid}: ${r.text.trim()}`);
    return parseMqueueList(r.text);
  }

  async namespaceInfo(requests: readonly { hostPid: number; sections: readonly NsinfoSection[] }[], maxBytes: number): Promise<Map<number, NamespaceInfo | Error>> {
    const out = new Map<number, NamespaceInfo | Error>();
    // one read of the sandbox's cgroup for every pid of the batch (own() reads it per call)
    const mine = new Set(sandboxHostPids(this.id));
    const lines: string[] = [];
    for (const r of requests) {
      const sections = r.sections.filter((s) => ['ipc', 'mq', 'uts', 'net', 'nest', 'cgroupns'].includes(s));
      if (!Number.isInteger(r.hostPid) || !mine.has(r.hostPid)) out.set(r.hostPid, new Error(`process ${r.hostPid} is not in sandbox ${this.id}`));
      else if (sections.length) lines.push(`${r.hostPid} ${sections.join(',')}`);
    }
    if (!lines.length) return out;
    const r = await probeHelper(this.helperBin).request('nsbatch', 0, maxBytes, lines.join('\n'));
    if (r.code !== 0) throw new Error(`cannot read the sandbox's namespaces: ${r.text.trim()}`);
    for (const [hostPid, entry] of splitBatch(r.raw)) {
      if (entry.kind === 'e') { out.set(hostPid, new Error(`cannot read the namespaces of ${hostPid}: ${entry.body.toString('utf8')}`)); continue; }
      if (entry.kind === 's') { out.set(hostPid, new Error('not read this round: the probe had spent its bound of bytes or time')); continue; }
      out.set(hostPid, this.namespaceSections(splitSections(entry.body), maxBytes));
    }
    return out;
  }

  private namespaceSections(parts: Map<string, Buffer>, maxBytes: number): NamespaceInfo {
    const out: NamespaceInfo = {};
    const ipc = parts.get('ipc');
    if (ipc) out.ipc = { sysv: parseSysvipc(ipc.toString('utf8'), this.toSandboxUid), complete: ipc.length < maxBytes };
    const mq = parts.get('mq');
    if (mq) out.mq = { queues: parseMqueueList(mq.toString('utf8')), total: Number(parts.get('mqtotal')?.toString('latin1') ?? 0) };
    const uts = parts.get('uts');
    if (uts) {
      const [hostname = '', domainname = ''] = uts.toString('utf8').split('\n');
      out.uts = { hostname, domainname };
    }
    const net = parts.get('net');
    if (net) out.net = parseInterfaces(net.toString('utf8'));
    const nest = parts.get('nest');
    if (nest) {
      const chain = (kind: string) => (new RegExp(`^${kind}((?: \\d+)*)$`, 'm').exec(nest.toString('latin1'))?.[1] ?? '').split(' ').filter(Boolean).map(Number);
      out.nest = { pid: chain('pid'), user: chain('user') };
    }
    const cgroupns = parts.get('cgroupns');
    if (cgroupns) out.cgroupns = cgroupns.toString('utf8').split('\n').filter(Boolean);
    return out;
  }

  async sysctl(hostPid: number, name: string): Promise<string> {
    const rel = sysctlName.parse(name).replace(/\./g, '/');
    const r = await probeHelper(this.helperBin).request('sysctl', this.own(hostPid), MAX_READ, rel);
    if (r.code !== 0) throw new Error(`cannot read sysctl ${name} in process ${hostPid}: ${r.text.trim()}`);
    return r.text.trim();
  }

  async hostname(hostPid: number): Promise<string> {
    return this.sysctl(hostPid, 'kernel.hostname');
  }

  async net(hostPid: number, pinned?: string): Promise<NetState | null> {
    const p = pinned === undefined ? '' : filePath.parse(pinned);
    const r = await probeHelper(this.helperBin).request('net', this.own(hostPid), MAX_READ, p);
    if (r.code === 2 || r.code === 4) return null;
    if (r.code !== 0) throw new Error(`cannot read the network namespace ${p ? `${p} as seen by` : 'of'} process ${hostPid}: ${r.text.trim()}`);
    return parseNetState(r.text);
  }

  async mounts(hostPid: number): Promise<MountInfo[]> {
    const pid = this.own(hostPid);
    return parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
  }

  userNamespace(hostPid: number): Promise<UserNamespaceInfo> { return this.identity.userNamespace(hostPid); }
  namespaceOwners(hostPid: number): Promise<NamespaceOwners> { return this.identity.namespaceOwners(hostPid); }
  capabilities(hostPid: number): Promise<Capabilities> { return this.identity.capabilities(hostPid); }
  timeOffsets(hostPid: number): Promise<TimeOffsets> { return this.identity.timeOffsets(hostPid); }
  async mountsBounded(hostPid: number, maxBytes: number): Promise<{ mounts: MountInfo[]; complete: boolean }> {
    const r = readBounded(`/proc/${this.own(hostPid)}/mountinfo`, maxBytes);
    return { mounts: parseMountinfo(r.text), complete: r.complete };
  }

  async cgroups(): Promise<CgroupInfo[]> {
    return readCgroups(this.id, (hostPid) => readStatus(hostPid)?.nsPids[1] ?? null);
  }
}
