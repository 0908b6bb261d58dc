/**
 * Shared pieces of the hostile-learner suite (docs/security.md): the row type,
 * the context a row sees, host-side readers, and a host "service" whose
 * answering proves the host side still works after each group.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { hostInfo } from '../../lab-server/sandbox/host.ts';
import type { ExecResult, LocalBackend, LocalSandbox } from '../../lab-server/sandbox/index.ts';

export type Group = 'seeing the host' | 'escaping' | 'exhausting' | 'network' | 'cross-learner';
export const GROUPS: Group[] = ['seeing the host', 'escaping', 'exhausting', 'network', 'cross-learner'];

export interface Ctx {
  backend: LocalBackend;
  /** the attacker's sandbox */
  a: LocalSandbox;
  /** another learner's sandbox (the victim in the cross-learner group) */
  b: LocalSandbox;
  host: HostService;
  /** a random string planted on the host (environment, files, IPC keys) that must never show up inside */
  marker: string;
  /** non-loopback addresses of the host */
  hostAddrs: string[];
}

export interface Attempt {
  group: Group;
  /** the attack, in a few words */
  name: string;
  /** a bash script run inside the attacker's sandbox; gets what `before` returned */
  script: string | ((c: Ctx, before: any) => string);
  /** type the script into an interactive terminal instead (output floods); the result's stdout is `bytes=N` and the tail */
  pty?: boolean;
  /** host-side setup or a snapshot taken before the attempt; its result is handed to `check` */
  before?: (c: Ctx) => unknown;
  /** host-side activity while the script runs (e.g. processes entering the sandbox) */
  during?: (c: Ctx) => Promise<void>;
  /** the safe outcome: assertions on the output and exit code, and on the host */
  check: (r: ExecResult, c: Ctx, before: any) => void | Promise<void>;
  timeoutMs?: number;
  /** the attack is known to succeed today: the row documents the gap and runs as it.fails until it is fixed */
  knownGap?: string;
}

/** A TCP service on the host's loopback and on every address, counting connections. */
export class HostService {
  private servers: Server[] = [];
  private sockets = new Set<Socket>();
  connections = 0;
  port = 0;
  abstractName = `nslab-hostile-${randomBytes(6).toString('hex')}`;

  async start(): Promise<void> {
    const handler = (c: Socket) => {
      this.connections++;
      this.sockets.add(c);
      c.on('close', () => this.sockets.delete(c));
      c.on('error', () => {});
      c.end('host-ok\n');
    };
    const tcp = createServer(handler);
    await new Promise<void>((r) => tcp.listen(0, '::', () => r()));
    this.port = (tcp.address() as { port: number }).port;
    const abstract = createServer(handler);
    await new Promise<void>((r) => abstract.listen(`\0${this.abstractName}`, () => r()));
    this.servers.push(tcp, abstract);
  }

  /** the host side still answers (the lab server's event loop is fine) */
  async ping(): Promise<string> {
    const { connect } = await import('node:net');
    return new Promise((resolve, reject) => {
      const c = connect(this.port, '127.0.0.1');
      let data = '';
      c.on('data', (d) => { data += d.toString(); });
      c.on('end', () => resolve(data.trim()));
      c.on('error', reject);
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
  }
}

export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80')) out.push(a.address);
  }
  return out;
}

export function readHost(path: string): string | null {
  try { return readFileSync(path, 'utf8'); } catch { return null; }
}

/** a file of the sandbox's cgroup in a v1 controller's hierarchy (or the v2 group) */
export function cgroupFile(id: string, controller: string, file: string): string {
  const h = hostInfo();
  if (h.cgroupMode === 'v2') return join('/sys/fs/cgroup/nslab', id, file);
  const dir = h.v1Hierarchies.find((n) => n.split(',').includes(controller)) ?? controller;
  return join('/sys/fs/cgroup', dir, 'nslab', id, file);
}

/** how many groups the sandbox has below its own v2 group (what a fresh cgroup2 mount inside shows) */
export function ownV2Groups(id: string): number {
  const count = (dir: string): number => readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory()).reduce((n, e) => n + 1 + count(join(dir, e.name)), 0);
  return count(join('/sys/fs/cgroup/nslab', id));
}

/**
 * A counter of a keyed events file (e.g. pids.events max) for the sandbox. On v2
 * summed over every group of the sandbox: before Linux 6.11 (commit 73e75e6fc352)
 * pids.events counts where the fork failed (the /init leaf, a learner's group),
 * not in the group whose limit was hit.
 */
export function cgroupEvents(id: string, controller: string, file: string, key: string): number {
  if (hostInfo().cgroupMode !== 'v2') return keyedNumber(readHost(cgroupFile(id, controller, file)), key);
  let sum = 0;
  const visit = (dir: string) => {
    sum += keyedNumber(readHost(join(dir, file)), key);
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) visit(join(dir, e.name));
  };
  visit(join('/sys/fs/cgroup/nslab', id));
  return sum;
}

/** the sandbox's CPU quota in µs per period: cpu.max on v2, cpu.cfs_quota_us on v1 */
export function cpuQuotaUs(id: string): string | undefined {
  if (hostInfo().cgroupMode === 'v2') return readHost(cgroupFile(id, 'cpu', 'cpu.max'))?.trim().split(' ')[0];
  return readHost(cgroupFile(id, 'cpu', 'cpu.cfs_quota_us'))?.trim();
}

/** CPU time the sandbox used, in ns: usage_usec of cpu.stat on v2 (hierarchical), cpuacct.usage on v1 */
export function cpuUsageNs(id: string): number {
  if (hostInfo().cgroupMode === 'v2') return keyedNumber(readHost(cgroupFile(id, 'cpu', 'cpu.stat')), 'usage_usec') * 1000;
  return Number(readHost(cgroupFile(id, 'cpuacct', 'cpuacct.usage')) ?? 0);
}

export function keyedNumber(text: string | null, key: string): number {
  const m = new RegExp(`^${key}\\s+(\\d+)`, 'm').exec(text ?? '');
  return m ? Number(m[1]) : 0;
}

/** the host can still start processes and open files */
export function hostCanFork(): boolean {
  return execFileSync('sh', ['-c', 'echo forked'], { encoding: 'utf8' }).trim() === 'forked';
}

/** every host process whose uid lies in [from, from+65536) */
export function processesInRange(from: number): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((pid) => {
    try {
      const uid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      return uid >= from && uid < from + 65536;
    } catch { return false; }
  });
}

/** release_agent of every v1 hierarchy root, to prove none was written */
export function releaseAgents(): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  const h = hostInfo();
  for (const name of h.v1Hierarchies) {
    const f = join('/sys/fs/cgroup', name, 'release_agent');
    if (existsSync(f)) out[name] = readHost(f);
  }
  return out;
}

/** A python prelude that tries raw syscalls and prints "<name> ok|<strerror>". */
export const PY_SYSCALLS = `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def sc(name, nr, *a):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(x) for x in a])
    print(name, 'ok' if r >= 0 else os.strerror(ctypes.get_errno()), flush=True)
`;

export const DENIED = /Operation not permitted|Permission denied|Read-only file system|No such file or directory|Function not implemented|Bad address/;

/** lines of "<name> <result>" into a map */
export function results(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const i = line.indexOf(' ');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
