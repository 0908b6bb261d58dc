/**
 * Operator preflight: the host's system-wide kernel pools against what N sandboxes
 * with the configured limits may take (docs/security.md, known gap 5).
 *
 * Some kernel limits are ONE pool for the whole host, not per sandbox: open files,
 * pids, ptys, AIO events, TCP buffer memory, and (while known gap 1 was open) the
 * per-user "ucounts" such as inotify instances and user namespaces. A sandbox's
 * memory cgroup is then its only bound, so a pool is safe when it is larger than
 * what the sandboxes' memory lets them hold.
 *
 * `assessHostPools(plan, facts)` is pure (tests inject the sysctls);
 * `readHostFacts()` only reads /proc. Nothing here changes the host.
 */
import { TCP_BYTES } from './oci-spec.ts';
import { CGROUP_QUOTA } from './cgroup-quota.ts';
import { readFileSync } from 'node:fs';
import { DENIED_SYSCALLS, ENOSYS_SYSCALLS } from './seccomp.ts';
import type { SandboxLimits } from './types.ts';

export type Severity = 'ok' | 'info' | 'warn' | 'error';
export const SEVERITIES: readonly Severity[] = ['ok', 'info', 'warn', 'error'];

export interface PoolFinding {
  /** dotted sysctl name (or `MemTotal` for /proc/meminfo, `cgroups.memory` for /proc/cgroups' memory line) */
  sysctl: string;
  /** the host's value as /proc shows it; null when this kernel has no such knob */
  current: string | null;
  /** what covers the plan: the least value (digits), or the values that do (e.g. `0 or 1`); null when no value of this knob does */
  recommended: string | null;
  severity: Severity;
  why: string;
  /** what to run (`sysctl -w ...` and the /etc/sysctl.d/ line that keeps it), or what to change instead; null when nothing needs doing */
  fix: string | null;
  /** the /etc/sysctl.d/ line of `fix`, when the fix is a sysctl */
  sysctlD: string | null;
}

export interface PoolPlan {
  /** sessions the lab server allows at once (one sandbox each) */
  maxSessions: number;
  /** sandboxes kept warm beyond the sessions */
  warmPool: number;
  limits: Pick<SandboxLimits, 'memoryBytes' | 'pids' | 'ptys'>;
  /** host ptys the server opens per session (one per terminal) */
  terminalsPerSession: number;
  cgroupMode: 'v2' | 'hybrid';
  /** syscalls the sandboxes' seccomp filter refuses (default: seccomp.ts) */
  deniedSyscalls?: ReadonlySet<string>;
  /**
   * every sandbox's user namespace is owned by host root (known gap 1 before its
   * fix), so per-user kernel quotas (ucounts) are one counter for all sandboxes and host root.
   * Default: SANDBOX_USERNS_OWNED_BY_HOST_ROOT.
   */
  sharedRootUcounts?: boolean;
}

export interface HostFacts {
  /** raw text of /proc/sys/<name with dots as slashes>, trimmed; null when absent */
  sysctl(name: string): string | null;
  memTotalBytes: number;
  /** threads on the host now (/proc/loadavg) */
  tasksNow: number;
  /** memory cgroups on the host now, dying ones included (/proc/cgroups); null or absent: not known */
  memoryCgroups?: number | null;
}

export const SYSCTL_D_FILE = '/etc/sysctl.d/90-nslab.conf';

/**
 * Known gap 1 (docs/security.md): while crun, running as host root, created every
 * sandbox's user namespace, per-user kernel quotas (ucounts) were one counter for
 * all sandboxes and host root. Fixed (lab-server/sandbox/user-namespace.ts): each
 * sandbox's user namespace is owned by its own host uid, so each ucount sysctl is
 * a per-sandbox budget. Kept as a switch so the shared case stays tested.
 */
export const SANDBOX_USERNS_OWNED_BY_HOST_ROOT = false;

/**
 * Bytes of a sandbox's memory cgroup one object costs, measured on Linux 6.18 in a
 * cgroup v1 memory group (thousands of objects, each held open by a file
 * descriptor, so the descriptor's struct file is included). Approximate: slab sizes
 * vary by kernel, and a smaller cost means a larger recommendation.
 */
export const COST_BYTES = {
  openFile: 244,
  inotifyInstance: 3386,
  inotifyWatch: 79,
  /** an AIO ring entry (struct io_event) is 32 bytes of page cache charged to the sandbox */
  aioEvent: 32,
  namespace: { user: 2568, mnt: 10615, net: 91593, ipc: 4949, uts: 1659, cgroup: 1611, pid: 1600, time: 1600 },
} as const;

const LONG_MAX = '9223372036854775807';
const INT_MAX = 2_147_483_647;
/** kernel.pid_max cannot go higher on 64-bit (PID_MAX_LIMIT); systemd sets it */
const PID_MAX_LIMIT = 4_194_304;
/** pids below 300 are never reused for new processes */
const RESERVED_PIDS = 300;
/** kernel.threads-max ceiling (FUTEX_TID_MASK) */
const THREADS_MAX_LIMIT = 0x3fff_ffff;
/** host ptys beyond the server's terminals: ssh logins, tmux ... */
const HOST_PTY_HEADROOM = 32;
/** inotify instances / namespaces host root itself uses (systemd, udev, containers ...) */
const ROOT_UCOUNT_HEADROOM = 1024;
const PAGE = 4096;
/** memory cgroup ids are 16 bits (MEM_CGROUP_ID_MAX in include/linux/memcontrol.h) */
export const MEM_CGROUP_ID_MAX = 65535;
const MiB = 1024 * 1024;

const n = (v: number | bigint) => v.toLocaleString('en-US');
const mib = (bytes: number) => `${n(Math.round(bytes / MiB))} MiB`;
const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
const roundUp = (v: number, step: number) => Math.ceil(v / step) * step;

/** `sysctl -w NAME=VALUE && echo 'NAME = VALUE' >> /etc/sysctl.d/90-nslab.conf` */
export function sysctlFix(name: string, value: string | number): { fix: string; sysctlD: string } {
  const v = String(value);
  const arg = v.includes(' ') ? `${name}="${v}"` : `${name}=${v}`;
  const line = `${name} = ${v}`;
  return { fix: `sysctl -w ${arg} && echo '${line}' >> ${SYSCTL_D_FILE}`, sysctlD: line };
}

function big(v: string | null): bigint | null {
  if (v === null || !/^\d+$/.test(v)) return null;
  return BigInt(v);
}

/** One finding per pool; the order is the order an operator should read them in. */
export function assessHostPools(plan: PoolPlan, facts: HostFacts): PoolFinding[] {
  const denied = plan.deniedSyscalls ?? new Set<string>([...DENIED_SYSCALLS, ...ENOSYS_SYSCALLS]);
  const sharedRoot = plan.sharedRootUcounts ?? SANDBOX_USERNS_OWNED_BY_HOST_ROOT;
  const boxes = plan.maxSessions + plan.warmPool;
  const { memoryBytes, pids, ptys } = plan.limits;
  const who = `${n(boxes)} sandboxes (${n(plan.maxSessions)} sessions + ${n(plan.warmPool)} warm)`;
  const out: PoolFinding[] = [];
  const get = (name: string) => facts.sysctl(name);

  const absent = (sysctl: string, why: string): PoolFinding =>
    ({ sysctl, current: null, recommended: null, severity: 'info', why: `not on this kernel; ${why}`, fix: null, sysctlD: null });

  /** a plain "current >= need" pool; `fixValue` is what the fix sets (>= need) */
  const atLeast = (sysctl: string, need: bigint, fixValue: string, failSeverity: Severity, why: string): PoolFinding => {
    const current = get(sysctl);
    const cur = big(current);
    if (current === null) return absent(sysctl, why);
    const enough = cur !== null && cur >= need;
    const f = sysctlFix(sysctl, fixValue);
    return {
      sysctl, current, recommended: need.toString(), severity: enough ? 'ok' : failSeverity, why,
      fix: enough ? null : f.fix, sysctlD: enough ? null : f.sysctlD,
    };
  };

  // ---- open files: fs.file-max ----
  {
    const perBox = Math.floor(memoryBytes / COST_BYTES.openFile);
    const inUse = Number(get('fs.file-nr')?.split(/\s+/)[0] ?? 0) || 0;
    const need = BigInt(boxes) * BigInt(perBox) + BigInt(inUse);
    out.push(atLeast('fs.file-max', need, LONG_MAX, 'error',
      `one table of open files for the whole host; when it is full every sandbox and every non-root host process gets ENFILE. ` +
      `A sandbox's open files are bounded only by its memory (~${COST_BYTES.openFile} bytes each): ${who} x ${mib(memoryBytes)} hold up to ${n(need - BigInt(inUse))} files, plus ${n(inUse)} open now. ` +
      `The fix sets LONG_MAX as systemd does, so memory is the only bound.`));
  }

  // ---- ptys: kernel.pty.max - kernel.pty.reserve ----
  {
    const max = big(get('kernel.pty.max'));
    const reserve = big(get('kernel.pty.reserve')) ?? 0n;
    const sandboxPtys = BigInt(boxes * ptys);
    const hostPtys = BigInt(plan.maxSessions * plan.terminalsPerSession + HOST_PTY_HEADROOM);
    if (max === null) out.push(absent('kernel.pty.max', 'ptys are not limited'));
    else {
      const share = max > reserve ? max - reserve : 0n;
      const wantReserve = reserve > hostPtys ? reserve : hostPtys;
      const need = sandboxPtys + wantReserve;
      const enough = sandboxPtys <= share;
      const f = sysctlFix('kernel.pty.max', roundUp(Number(need), 1024));
      out.push({
        sysctl: 'kernel.pty.max', current: max.toString(), recommended: need.toString(), severity: enough ? 'ok' : 'error',
        why: `sandboxes' devpts instances share pty.max - pty.reserve = ${n(share)} ptys; each sandbox may open ${n(ptys)}, so ${who} may hold ${n(sandboxPtys)}` +
          (enough ? '.' : ': a few learners opening ptys leave none for the others\' terminals.'),
        fix: enough ? null : f.fix, sysctlD: enough ? null : f.sysctlD,
      });
      // what is left for the host's own devpts (the server's terminals, logins) when the sandboxes hold all they may
      const hostLeft = max - (sandboxPtys < share ? sandboxPtys : share);
      const hostOk = hostLeft >= hostPtys;
      const fr = sysctlFix('kernel.pty.reserve', Number(hostPtys));
      out.push({
        sysctl: 'kernel.pty.reserve', current: reserve.toString(), recommended: hostPtys.toString(), severity: hostOk ? 'ok' : 'error',
        why: `the server opens a host pty for each terminal (${n(plan.maxSessions)} sessions x ${plan.terminalsPerSession}, + ${HOST_PTY_HEADROOM} for logins); ` +
          `with every sandbox holding its ptys, ${n(hostLeft)} remain for the host` + (hostOk ? '.' : ': new terminals would fail for everybody.'),
        fix: hostOk ? null : `${fr.fix}   (and raise kernel.pty.max by as much)`, sysctlD: hostOk ? null : fr.sysctlD,
      });
    }
  }

  // ---- processes: kernel.pid_max, kernel.threads-max ----
  {
    const serverSide = plan.maxSessions * plan.terminalsPerSession * 2;
    const tasks = BigInt(boxes * pids + facts.tasksNow + serverSide);
    const what = `each sandbox may run ${n(pids)} tasks (pids cgroup), so ${who} may hold ${n(boxes * pids)}, plus ${n(facts.tasksNow)} on the host now and ~${n(serverSide)} runtime processes outside the sandboxes`;
    const needPid = tasks + BigInt(RESERVED_PIDS);
    const pidFix = needPid <= BigInt(PID_MAX_LIMIT) ? PID_MAX_LIMIT : null;
    const pf = atLeast('kernel.pid_max', needPid, String(PID_MAX_LIMIT), 'error',
      `one pid space for the host (every sandbox process also has a host pid); when it runs out nothing on the host can fork. ${what}.`);
    if (pf.severity === 'error' && pidFix === null) {
      pf.fix = `no pid_max is large enough (${n(PID_MAX_LIMIT)} is the kernel's limit): lower NSLAB_PIDS or NSLAB_MAX_SESSIONS`;
      pf.sysctlD = null;
    }
    out.push(pf);
    out.push(atLeast('kernel.threads-max', tasks, String(Math.min(THREADS_MAX_LIMIT, roundUp(Number(tasks) * 2, 65536))), 'error',
      `one limit on threads for the whole host (root too); ${what}.`));
  }

  // ---- memory cgroup ids: one space of MEM_CGROUP_ID_MAX for the host ----
  if (facts.memoryCgroups !== undefined && facts.memoryCgroups !== null) {
    const inUse = facts.memoryCgroups;
    // its own group, the v2 /init leaf, and every group it may make over its life (dying ones included)
    const perBox = CGROUP_QUOTA.created + 2;
    const need = boxes * perBox + inUse;
    const fill = Math.max(0, Math.floor((MEM_CGROUP_ID_MAX - inUse) / perBox));
    const enough = need <= MEM_CGROUP_ID_MAX;
    out.push({
      sysctl: 'cgroups.memory', current: String(inUse), recommended: String(need), severity: enough ? 'ok' : 'error',
      why: `one space of ${n(MEM_CGROUP_ID_MAX)} memory cgroup ids for the host (every systemd unit and every sandbox group, dying ones included); ${n(inUse)} in use now. ` +
        `A sandbox may hold at most ${n(perBox)} (its own group and /init leaf, and ${n(CGROUP_QUOTA.created)} made over its life: cgroup-quota.ts), so ${who} hold up to ${n(boxes * perBox)}; ` +
        `${n(fill)} sandboxes would fill what is free.` + (enough ? '' : ' When it is full no sandbox and no systemd unit can start.'),
      fix: enough ? null : `NSLAB_MAX_SESSIONS=${Math.max(0, fill - plan.warmPool)} or fewer (no sysctl raises this kernel constant)`, sysctlD: null,
    });
  }

  // ---- memory: MemTotal and overcommit ----
  {
    const sum = boxes * memoryBytes;
    const fits = sum <= facts.memTotalBytes;
    const fitBoxes = Math.floor(facts.memTotalBytes / memoryBytes);
    const fitSessions = fitBoxes - plan.warmPool;
    const fitMb = Math.floor(facts.memTotalBytes / boxes / MiB);
    out.push({
      sysctl: 'MemTotal', current: String(facts.memTotalBytes), recommended: String(sum), severity: fits ? 'ok' : 'warn',
      why: `${who} x ${mib(memoryBytes)} (memory + swap each) = ${gib(sum)}, RAM is ${gib(facts.memTotalBytes)}` +
        (fits ? '.' : ': the sandboxes together can push the host into global OOM, where the kernel may kill the lab server instead of a sandbox.'),
      fix: fits ? null : (fitSessions >= 1 ? `NSLAB_MAX_SESSIONS=${fitSessions}, or NSLAB_MEMORY_MB=${fitMb}, or more RAM` : `NSLAB_MEMORY_MB=${fitMb}, or more RAM`),
      sysctlD: null,
    });
    const mode = get('vm.overcommit_memory');
    const strict = mode === '2';
    const f = sysctlFix('vm.overcommit_memory', 0);
    out.push(mode === null ? absent('vm.overcommit_memory', 'no commit accounting') : {
      sysctl: 'vm.overcommit_memory', current: mode, recommended: '0 or 1', severity: strict ? 'error' : 'ok',
      why: strict
        ? 'strict overcommit (2) makes committed address space one host-wide pool, and untouched mappings are not charged to a sandbox\'s memory cgroup: one sandbox can mmap the whole CommitLimit and every non-root allocation on the host fails.'
        : `mode ${mode}: no host-wide commit limit; each sandbox's memory cgroup bounds what it really uses.`,
      fix: strict ? f.fix : null, sysctlD: strict ? f.sysctlD : null,
    });
  }

  // ---- TCP buffer memory: net.ipv4.tcp_mem ----
  {
    const current = get('net.ipv4.tcp_mem');
    const hard = current ? Number(current.split(/\s+/)[2]) : NaN;
    if (current === null || !Number.isFinite(hard)) out.push(absent('net.ipv4.tcp_mem', 'no TCP'));
    else if (plan.cgroupMode === 'hybrid') {
      // v1 does not charge socket buffers to memory.limit_in_bytes; the driver caps
      // them per sandbox with kmem.tcp (OCI kernelTCP, TCP_BYTES). Without that cap a
      // sandbox parked 2229 MiB in loopback queues here (test/security, "park socket buffers").
      const perBox = Math.min(TCP_BYTES, memoryBytes);
      const needPages = Math.ceil(Math.min(boxes * perBox, facts.memTotalBytes) / PAGE);
      const enough = hard >= needPages;
      const parts = current.split(/\s+/);
      const f = sysctlFix('net.ipv4.tcp_mem', `${parts[0]} ${parts[1]} ${needPages}`);
      out.push({
        sysctl: 'net.ipv4.tcp_mem', current, recommended: `${parts[0]} ${parts[1]} ${needPages}`, severity: enough ? 'ok' : 'info',
        why: `cgroup v1: socket buffers are capped per sandbox by memory.kmem.tcp.limit_in_bytes (${Math.round(perBox / 1048576)} MiB, on top of its memory limit), but the TCP hard limit (${gib(hard * PAGE)}) is one pool: ` +
          (enough ? 'it is above what the sandboxes can hold.' : `the sandboxes together (${gib(boxes * perBox)}) can reach it and stall TCP host-wide. Raising it trades the kernel's own protection of host memory for that; decide per host.`),
        fix: enough ? null : f.fix, sysctlD: enough ? null : f.sysctlD,
      });
    } else {
      const needPages = Math.ceil(Math.min(boxes * memoryBytes, facts.memTotalBytes) / PAGE);
      const enough = hard >= needPages;
      const parts = current.split(/\s+/);
      const f = sysctlFix('net.ipv4.tcp_mem', `${parts[0]} ${parts[1]} ${needPages}`);
      out.push({
        sysctl: 'net.ipv4.tcp_mem', current, recommended: `${parts[0]} ${parts[1]} ${needPages}`, severity: enough ? 'ok' : 'info',
        why: `socket buffers count against each sandbox's memory.max, but the TCP hard limit (${gib(hard * PAGE)}) is one pool: ` +
          (enough ? 'it is above what the sandboxes can hold.' : `a few sandboxes together (${gib(boxes * memoryBytes)} of memory) can reach it and stall TCP host-wide. Raising it trades the kernel's own protection of host memory for that; decide per host.`),
        fix: enough ? null : f.fix, sysctlD: enough ? null : f.sysctlD,
      });
    }
  }

  // ---- AIO: fs.aio-max-nr (io_* denied by seccomp) ----
  {
    const need = BigInt(boxes) * BigInt(Math.floor(memoryBytes / COST_BYTES.aioEvent));
    const aioDenied = denied.has('io_setup');
    const current = get('fs.aio-max-nr');
    if (current === null) out.push(absent('fs.aio-max-nr', 'no legacy AIO'));
    else if (aioDenied) {
      out.push({
        sysctl: 'fs.aio-max-nr', current, recommended: null, severity: 'info',
        why: 'one host-wide pool of AIO events (one sandbox took all 65,536 with 16 io_setup calls), but the seccomp filter answers io_* with ENOSYS, so sandboxes cannot reach it.',
        fix: null, sysctlD: null,
      });
    } else {
      out.push(atLeast('fs.aio-max-nr', need, need.toString(), 'error',
        `io_setup is allowed: one host-wide pool of AIO events, ~${COST_BYTES.aioEvent} bytes of a sandbox's memory each, so ${who} x ${mib(memoryBytes)} may take ${n(need)}. Better: deny io_* again in seccomp.ts.`));
    }
  }

  // ---- keyrings: kernel.keys.* (keyctl denied by seccomp) ----
  {
    const current = get('kernel.keys.maxbytes');
    const keysDenied = ['keyctl', 'add_key', 'request_key'].every((s) => denied.has(s));
    if (current === null) out.push(absent('kernel.keys.maxbytes', 'no keyrings'));
    else out.push({
      sysctl: 'kernel.keys.maxbytes', current, recommended: null, severity: keysDenied ? 'info' : 'warn',
      why: keysDenied
        ? 'key quotas are per host uid (each sandbox has uids of its own), and the seccomp filter denies keyctl/add_key/request_key anyway.'
        : `keyctl is allowed: key quotas are per host uid and a sandbox owns 65,536 uids, so it may hold 65,536 x ${current} bytes of keys. Deny keyctl, add_key and request_key in seccomp.ts.`,
      fix: keysDenied ? null : 'deny keyctl, add_key and request_key in lab-server/sandbox/seccomp.ts', sysctlD: null,
    });
  }

  // ---- per-user kernel quotas (ucounts): per sandbox since known gap 1's fix, shared with host root before ----
  const perSandbox = 'a budget per sandbox (known gap 1 is fixed: each sandbox\'s user namespace is owned by a host uid of its own), so a sandbox can use up only its own';
  const ucount = (sysctl: string, cost: number, belowSeverity: Severity, what: string, syscall?: string): PoolFinding => {
    const current = get(sysctl);
    if (current === null) return absent(sysctl, what);
    if (syscall && denied.has(syscall)) {
      return { sysctl, current, recommended: null, severity: 'info', why: `${what}; the seccomp filter denies ${syscall}, so sandboxes cannot take any.`, fix: null, sysctlD: null };
    }
    if (!sharedRoot) return { sysctl, current, recommended: null, severity: 'ok', why: `${what}; ${perSandbox}.`, fix: null, sysctlD: null };
    const perBox = Math.floor(memoryBytes / cost);
    const need = Math.min(INT_MAX, boxes * perBox + ROOT_UCOUNT_HEADROOM);
    const cur = Number(current);
    const enough = cur >= need;
    const f = sysctlFix(sysctl, need);
    return {
      sysctl, current, recommended: String(need), severity: enough ? 'info' : belowSeverity,
      why: `${what}. User namespaces owned by host root (known gap 1): one counter for all sandboxes and host root, whose systemd, udev and tail -f need it too. A sandbox can hold ~${n(perBox)} (~${n(cost)} bytes of its memory each)` +
        (enough ? ', and the limit is above what all sandboxes can hold: memory bounds it.'
          : `, so ${cur < perBox ? 'one sandbox' : 'a few sandboxes'} can use it up for everybody. The fix makes memory the bound; it raises the limit for every host user too (an nslab host should have no others).`),
      fix: enough ? null : f.fix, sysctlD: enough ? null : f.sysctlD,
    };
  };
  out.push(ucount('fs.inotify.max_user_instances', COST_BYTES.inotifyInstance, 'warn',
    'inotify instances per user (the same counter as user.max_inotify_instances)'));
  out.push(ucount('fs.inotify.max_user_watches', COST_BYTES.inotifyWatch, 'warn', 'inotify watches per user'));
  for (const kind of ['user', 'mnt', 'net', 'ipc', 'uts', 'pid', 'cgroup', 'time'] as const) {
    const extra = kind === 'user' ? '; crun needs one to create each sandbox' : '';
    out.push(ucount(`user.max_${kind}_namespaces`, COST_BYTES.namespace[kind], 'info', `${kind} namespaces per user${extra}`));
  }
  out.push(ucount('user.max_fanotify_groups', COST_BYTES.inotifyInstance, 'info', 'fanotify groups per user', 'fanotify_init'));
  return out;
}

/** /proc/sys/<name> as text (trimmed, whitespace runs as single spaces), or null. Only reads. */
export function readSysctl(name: string, root = '/proc/sys'): string | null {
  if (!/^[a-z0-9_.-]+$/i.test(name) || name.includes('..')) throw new Error(`bad sysctl name ${name}`);
  try {
    return readFileSync(`${root}/${name.replace(/\./g, '/')}`, 'utf8').trim().replace(/\s+/g, ' ');
  } catch {
    return null;
  }
}

/** The host as it is now: /proc/sys, MemTotal from /proc/meminfo, threads from /proc/loadavg. */
export function readHostFacts(): HostFacts {
  const mem = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  const load = /\s\d+\/(\d+)\s/.exec(readFileSync('/proc/loadavg', 'utf8'));
  return {
    sysctl: (name) => readSysctl(name),
    memTotalBytes: mem ? Number(mem[1]) * 1024 : 0,
    tasksNow: load ? Number(load[1]) : 0,
    memoryCgroups: memoryCgroupsInUse(),
  };
}

/** /proc/cgroups' count for the memory controller (live and dying groups); null without one */
export function memoryCgroupsInUse(): number | null {
  try {
    const line = readFileSync('/proc/cgroups', 'utf8').split('\n').find((l) => l.startsWith('memory\t'));
    return line ? Number(line.split('\t')[2]) : null;
  } catch {
    return null;
  }
}

/** `>= N` for a least value, the text otherwise (`0 or 1`), `-` when no value of the knob helps. */
export function formatNeeds(f: Pick<PoolFinding, 'recommended'>): string {
  if (f.recommended === null) return '-';
  return /^\d+$/.test(f.recommended) ? `>= ${f.recommended}` : f.recommended;
}

/** Findings at warn or error, one line each (what `nslab serve` logs at start). */
export function findingLines(findings: readonly PoolFinding[]): string[] {
  return findings
    .filter((f) => f.severity === 'warn' || f.severity === 'error')
    .map((f) => `${f.severity}: ${f.sysctl} = ${f.current ?? '(absent)'}${f.recommended === null ? '' : `, needs ${formatNeeds(f)}`}${f.fix ? `; fix: ${f.fix}` : ''}`);
}
