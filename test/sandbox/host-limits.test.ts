/**
 * The operator preflight's pool logic (lab-server/sandbox/host-limits.ts) on injected
 * hosts: every finding on a host with enough and on a host with too little.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  assessHostPools, findingLines, MEM_CGROUP_ID_MAX, formatNeeds, readSysctl, SANDBOX_USERNS_OWNED_BY_HOST_ROOT, sysctlFix, SYSCTL_D_FILE,
  type HostFacts, type PoolFinding, type PoolPlan,
} from '../../lab-server/sandbox/host-limits.ts';
import { DENIED_SYSCALLS, ENOSYS_SYSCALLS } from '../../lab-server/sandbox/seccomp.ts';
import { CGROUP_QUOTA } from '../../lab-server/sandbox/cgroup-quota.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const LONG_MAX = '9223372036854775807';

/** 20 sessions + 2 warm = 22 sandboxes of 512 MiB, 512 pids, 64 ptys; 4 terminals each */
const plan = (over: Partial<PoolPlan> = {}): PoolPlan => ({
  maxSessions: 20, warmPool: 2, limits: { memoryBytes: 512 * MiB, pids: 512, ptys: 64 },
  terminalsPerSession: 4, cgroupMode: 'v2', ...over,
});

const NS_KINDS = ['user', 'mnt', 'net', 'ipc', 'uts', 'pid', 'cgroup', 'time'];

/** a host sized for the plan above (values as /proc/sys shows them) */
const roomy: Record<string, string> = {
  'fs.file-max': LONG_MAX, 'fs.file-nr': '1000 0 ' + LONG_MAX,
  'kernel.pty.max': '8192', 'kernel.pty.reserve': '1024',
  'kernel.pid_max': '4194304', 'kernel.threads-max': '1000000',
  'vm.overcommit_memory': '0', 'net.ipv4.tcp_mem': '1000 2000 20000000',
  'fs.aio-max-nr': '65536', 'kernel.keys.maxbytes': '20000',
  'fs.inotify.max_user_instances': '2147483647', 'fs.inotify.max_user_watches': '2147483647',
  'user.max_fanotify_groups': '128',
  ...Object.fromEntries(NS_KINDS.map((k) => [`user.max_${k}_namespaces`, '2147483647'])),
};

/** a stock small VM: the kernel's defaults */
const tight: Record<string, string> = {
  'fs.file-max': '2466183', 'fs.file-nr': '432 0 2466183',
  'kernel.pty.max': '4096', 'kernel.pty.reserve': '1024',
  'kernel.pid_max': '8192', 'kernel.threads-max': '8000',
  'vm.overcommit_memory': '2', 'net.ipv4.tcp_mem': '1000 2000 3000',
  'fs.aio-max-nr': '65536', 'kernel.keys.maxbytes': '20000',
  'fs.inotify.max_user_instances': '128', 'fs.inotify.max_user_watches': '192536',
  'user.max_fanotify_groups': '128',
  ...Object.fromEntries(NS_KINDS.map((k) => [`user.max_${k}_namespaces`, '96365'])),
};

const host = (sysctls: Record<string, string>, over: Partial<HostFacts> = {}): HostFacts => ({
  sysctl: (name) => sysctls[name] ?? null, memTotalBytes: 64 * GiB, tasksNow: 200, ...over,
});

function find(findings: PoolFinding[], sysctl: string): PoolFinding {
  const f = findings.find((x) => x.sysctl === sysctl);
  if (!f) throw new Error(`no finding for ${sysctl}: ${findings.map((x) => x.sysctl).join(', ')}`);
  return f;
}

/** the /etc/sysctl.d/ lines of the findings, applied to a copy of the host */
function applyFixes(sysctls: Record<string, string>, findings: PoolFinding[]): Record<string, string> {
  const next = { ...sysctls };
  for (const f of findings) {
    if (!f.sysctlD) continue;
    const m = /^(\S+) = (.+)$/.exec(f.sysctlD);
    expect(m, f.sysctlD).not.toBeNull();
    next[m![1]] = m![2];
  }
  return next;
}

describe('host pools: a host with enough and a host with too little', () => {
  const good = assessHostPools(plan(), host(roomy));
  const bad = assessHostPools(plan(), host(tight, { memTotalBytes: 8 * GiB }));
  // the ucount pools as they were before known gap 1's fix (every sandbox's user namespace owned by host root)
  const shared = plan({ sharedRootUcounts: true });
  const goodShared = assessHostPools(shared, host(roomy));
  const badShared = assessHostPools(shared, host(tight, { memTotalBytes: 8 * GiB }));

  it('fs.file-max: memory-bound need (22 x 512 MiB / ~244 B + open now)', () => {
    const need = 22 * Math.floor(512 * MiB / 244) + 432;
    expect(find(good, 'fs.file-max')).toMatchObject({ severity: 'ok', current: LONG_MAX, fix: null });
    expect(find(bad, 'fs.file-max')).toMatchObject({ severity: 'error', current: '2466183', recommended: String(need) });
    expect(find(bad, 'fs.file-max').fix).toBe(`sysctl -w fs.file-max=${LONG_MAX} && echo 'fs.file-max = ${LONG_MAX}' >> ${SYSCTL_D_FILE}`);
  });

  it('kernel.pty.max: the sandboxes\' ptys must fit in pty.max - pty.reserve', () => {
    expect(find(good, 'kernel.pty.max').severity).toBe('ok');
    // 22 x 64 = 1408 fits 4096 - 1024; 50 + 2 sandboxes (3328) do not
    expect(find(bad, 'kernel.pty.max').severity).toBe('ok');
    const many = find(assessHostPools(plan({ maxSessions: 50 }), host(tight)), 'kernel.pty.max');
    expect(many).toMatchObject({ severity: 'error', current: '4096', recommended: String(52 * 64 + 1024) });
    expect(many.fix).toMatch(/^sysctl -w kernel\.pty\.max=5120 && echo 'kernel\.pty\.max = 5120' >> \/etc\/sysctl\.d\//);
    expect(many.why).toMatch(/3,072/);
  });

  it('kernel.pty.reserve: room for the server\'s own terminals when the sandboxes hold all theirs', () => {
    expect(find(good, 'kernel.pty.reserve').severity).toBe('ok');
    // no reserve: sandboxes may take 1408 of 1500, leaving 92 < 20 x 4 + 32
    const r = find(assessHostPools(plan(), host({ ...tight, 'kernel.pty.max': '1500', 'kernel.pty.reserve': '0' })), 'kernel.pty.reserve');
    expect(r).toMatchObject({ severity: 'error', current: '0', recommended: String(20 * 4 + 32) });
    expect(r.fix).toMatch(/sysctl -w kernel\.pty\.reserve=112/);
  });

  it('kernel.pid_max and kernel.threads-max: every sandbox task has a host pid', () => {
    expect(find(good, 'kernel.pid_max').severity).toBe('ok');
    expect(find(good, 'kernel.threads-max').severity).toBe('ok');
    const tasks = 22 * 512 + 200 + 20 * 4 * 2;
    expect(find(bad, 'kernel.pid_max')).toMatchObject({ severity: 'error', current: '8192', recommended: String(tasks + 300) });
    expect(find(bad, 'kernel.pid_max').fix).toMatch(/sysctl -w kernel\.pid_max=4194304/);
    expect(find(bad, 'kernel.threads-max')).toMatchObject({ severity: 'error', current: '8000', recommended: String(tasks) });
    // more than PID_MAX_LIMIT: no sysctl helps
    const huge = find(assessHostPools(plan({ limits: { memoryBytes: 512 * MiB, pids: 65536, ptys: 64 }, maxSessions: 100 }), host(roomy)), 'kernel.pid_max');
    expect(huge.severity).toBe('error');
    expect(huge.fix).toMatch(/lower NSLAB_PIDS or NSLAB_MAX_SESSIONS/);
    expect(huge.sysctlD).toBeNull();
  });

  it('MemTotal: warns when the sandboxes\' memory limits add up to more than RAM', () => {
    expect(find(good, 'MemTotal').severity).toBe('ok');
    const m = find(bad, 'MemTotal');
    expect(m).toMatchObject({ severity: 'warn', current: String(8 * GiB), recommended: String(22 * 512 * MiB) });
    // 8 GiB holds 16 sandboxes of 512 MiB: 14 sessions + 2 warm
    expect(m.fix).toMatch(/NSLAB_MAX_SESSIONS=14, or NSLAB_MEMORY_MB=372/);
  });

  it('vm.overcommit_memory: strict overcommit is one pool a sandbox can drain', () => {
    expect(find(good, 'vm.overcommit_memory')).toMatchObject({ severity: 'ok', fix: null });
    expect(find(assessHostPools(plan(), host({ ...roomy, 'vm.overcommit_memory': '1' })), 'vm.overcommit_memory').severity).toBe('ok');
    expect(find(bad, 'vm.overcommit_memory')).toMatchObject({ severity: 'error', current: '2', recommended: '0 or 1' });
    expect(find(bad, 'vm.overcommit_memory').fix).toMatch(/^sysctl -w vm\.overcommit_memory=0 && echo 'vm\.overcommit_memory = 0' >> /);
  });

  it('net.ipv4.tcp_mem: on v2 compared with the sandboxes\' memory; on v1 with their kmem.tcp caps (64 MiB each)', () => {
    expect(find(good, 'net.ipv4.tcp_mem').severity).toBe('ok');
    const low = find(bad, 'net.ipv4.tcp_mem');
    // needs min(22 x 512 MiB, RAM 8 GiB) in pages
    expect(low).toMatchObject({ severity: 'info', recommended: `1000 2000 ${8 * GiB / 4096}` });
    expect(low.fix).toBe(`sysctl -w net.ipv4.tcp_mem="1000 2000 2097152" && echo 'net.ipv4.tcp_mem = 1000 2000 2097152' >> ${SYSCTL_D_FILE}`);
    const v1 = (sysctls: Record<string, string>) => find(assessHostPools(plan({ cgroupMode: 'hybrid' }), host(sysctls)), 'net.ipv4.tcp_mem');
    expect(v1(roomy)).toMatchObject({ severity: 'ok', fix: null });
    // 22 sandboxes x 64 MiB in pages
    expect(v1(tight)).toMatchObject({ severity: 'info', recommended: `1000 2000 ${(22 * 64 * 1048576) / 4096}` });
    expect(v1(tight).why).toMatch(/kmem\.tcp/);
  });

  it('fs.aio-max-nr: info while seccomp denies io_*, an error with too little once allowed', () => {
    expect(find(good, 'fs.aio-max-nr')).toMatchObject({ severity: 'info', fix: null });
    expect(find(bad, 'fs.aio-max-nr')).toMatchObject({ severity: 'info', fix: null });
    const allowed = new Set<string>([...DENIED_SYSCALLS, ...ENOSYS_SYSCALLS].filter((s) => !s.startsWith('io_')));
    const need = 22 * (512 * MiB / 32);
    expect(find(assessHostPools(plan({ deniedSyscalls: allowed }), host(tight)), 'fs.aio-max-nr'))
      .toMatchObject({ severity: 'error', recommended: String(need) });
    expect(find(assessHostPools(plan({ deniedSyscalls: allowed }), host({ ...roomy, 'fs.aio-max-nr': String(need) })), 'fs.aio-max-nr').severity).toBe('ok');
  });

  it('kernel.keys: info while seccomp denies keyctl, a warning once allowed', () => {
    expect(find(good, 'kernel.keys.maxbytes').severity).toBe('info');
    const allowed = new Set<string>([...DENIED_SYSCALLS].filter((s) => s !== 'keyctl'));
    const k = find(assessHostPools(plan({ deniedSyscalls: allowed }), host(tight)), 'kernel.keys.maxbytes');
    expect(k.severity).toBe('warn');
    expect(k.fix).toMatch(/seccomp\.ts/);
  });

  it('inotify shared with host root (known gap 1 open): a warning below the memory bound', () => {
    for (const [name, cost] of [['fs.inotify.max_user_instances', 3386], ['fs.inotify.max_user_watches', 79]] as const) {
      const g = find(goodShared, name);
      expect(g.severity).toBe('info');
      expect(g.why).toMatch(/owned by host root \(known gap 1\)/);
      const b = find(badShared, name);
      expect(b).toMatchObject({ severity: 'warn', recommended: String(22 * Math.floor(512 * MiB / cost) + 1024) });
      expect(b.fix).toMatch(new RegExp(`^sysctl -w ${name.replace(/\./g, '\\.')}=\\d+ && echo '`));
      expect(b.why).toMatch(/one sandbox can use it up/);
    }
  });

  it('user.max_*_namespaces shared with host root (known gap 1 open): info, with the memory-bound value to set', () => {
    for (const k of NS_KINDS) {
      const name = `user.max_${k}_namespaces`;
      expect(find(goodShared, name)).toMatchObject({ severity: 'info', fix: null });
      const b = find(badShared, name);
      expect(b.severity).toBe('info');
      expect(b.why).toMatch(/owned by host root \(known gap 1\)/);
      expect(Number(b.recommended)).toBeGreaterThan(96365);
      expect(b.fix).toMatch(new RegExp(`^sysctl -w ${name.replace(/\./g, '\\.')}=${b.recommended} `));
    }
  });

  it('fanotify: unreachable while seccomp denies fanotify_init', () => {
    expect(find(bad, 'user.max_fanotify_groups')).toMatchObject({ severity: 'info', fix: null });
    const allowed = new Set<string>([...DENIED_SYSCALLS].filter((s) => s !== 'fanotify_init'));
    expect(find(assessHostPools(plan({ deniedSyscalls: allowed, sharedRootUcounts: true }), host(tight)), 'user.max_fanotify_groups').fix).toMatch(/sysctl -w user\.max_fanotify_groups=/);
    expect(find(assessHostPools(plan({ deniedSyscalls: allowed }), host(tight)), 'user.max_fanotify_groups')).toMatchObject({ severity: 'ok', fix: null });
  });

  it('with known gap 1 fixed (the default now) the ucount pools are per-sandbox budgets: ok at any value', () => {
    expect(SANDBOX_USERNS_OWNED_BY_HOST_ROOT).toBe(false);
    for (const findings of [good, bad]) {
      for (const name of ['fs.inotify.max_user_instances', 'fs.inotify.max_user_watches', ...NS_KINDS.map((k) => `user.max_${k}_namespaces`)]) {
        const f = find(findings, name);
        expect(f).toMatchObject({ severity: 'ok', fix: null });
        expect(f.why).toMatch(/budget per sandbox/);
      }
    }
  });

  it('applying every sysctl fix of the tight host leaves nothing at warn or error that a sysctl can fix', () => {
    const fixedSysctls = applyFixes(tight, badShared);
    const after = assessHostPools(shared, host(fixedSysctls, { memTotalBytes: 8 * GiB }));
    const left = after.filter((f) => f.severity === 'warn' || f.severity === 'error');
    // only RAM remains: no sysctl makes 11 GiB of limits fit in 8 GiB
    expect(left.map((f) => f.sysctl)).toEqual(['MemTotal']);
    expect(after.every((f) => f.severity === 'ok' || f.severity === 'info' || f.sysctl === 'MemTotal')).toBe(true);
  });

  it('every warn/error finding names its fix; every sysctl fix has the sysctl -w and the /etc/sysctl.d/ line', () => {
    for (const f of [...good, ...bad, ...goodShared, ...badShared]) {
      if (f.severity === 'warn' || f.severity === 'error') expect(f.fix, f.sysctl).toBeTruthy();
      if (f.severity === 'ok') expect(f.fix, f.sysctl).toBeNull();
      if (f.sysctlD) {
        expect(f.fix).toContain(`sysctl -w ${f.sysctl}=`);
        expect(f.fix).toContain(`echo '${f.sysctlD}' >> ${SYSCTL_D_FILE}`);
      }
    }
  });

  it('a sysctl this kernel lacks is a note, not a failure', () => {
    const none = assessHostPools(plan(), host({}));
    for (const name of ['fs.file-max', 'kernel.pty.max', 'kernel.pid_max', 'vm.overcommit_memory', 'net.ipv4.tcp_mem', 'fs.inotify.max_user_instances']) {
      expect(find(none, name)).toMatchObject({ severity: 'info', current: null, fix: null });
    }
  });
});

describe('host pools: helpers', () => {
  it('sysctlFix quotes multi-value settings', () => {
    expect(sysctlFix('kernel.pty.max', 5120)).toEqual({ fix: `sysctl -w kernel.pty.max=5120 && echo 'kernel.pty.max = 5120' >> ${SYSCTL_D_FILE}`, sysctlD: 'kernel.pty.max = 5120' });
    expect(sysctlFix('net.ipv4.tcp_mem', '1 2 3').fix).toBe(`sysctl -w net.ipv4.tcp_mem="1 2 3" && echo 'net.ipv4.tcp_mem = 1 2 3' >> ${SYSCTL_D_FILE}`);
  });

  it('formatNeeds and findingLines: one line per warn/error finding', () => {
    expect(formatNeeds({ recommended: '42' })).toBe('>= 42');
    expect(formatNeeds({ recommended: '0 or 1' })).toBe('0 or 1');
    expect(formatNeeds({ recommended: null })).toBe('-');
    const findings = assessHostPools(plan(), host(tight, { memTotalBytes: 8 * GiB }));
    const lines = findingLines(findings);
    expect(lines).toHaveLength(findings.filter((f) => f.severity === 'warn' || f.severity === 'error').length);
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);
    expect(lines[0]).toMatch(/^error: fs\.file-max = 2466183, needs >= \d+; fix: sysctl -w fs\.file-max=/);
    expect(findingLines(assessHostPools(plan(), host(roomy)))).toEqual([]);
  });

  it('readSysctl reads /proc/sys-style files, normalises whitespace, refuses odd names', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'nslab-sysctl-'));
    mkdirSync(path.join(root, 'net/ipv4'), { recursive: true });
    writeFileSync(path.join(root, 'net/ipv4/tcp_mem'), '287901\t383869\t575802\n');
    expect(readSysctl('net.ipv4.tcp_mem', root)).toBe('287901 383869 575802');
    expect(readSysctl('net.ipv4.nothing', root)).toBeNull();
    expect(() => readSysctl('../../etc/passwd', root)).toThrow(/bad sysctl name/);
    expect(() => readSysctl('fs/file-max', root)).toThrow(/bad sysctl name/);
  });
});

describe('memory cgroup ids (docs/security.md known gap 8: one host-wide space of 65535)', () => {
  it('is ok while every sandbox at its cgroup budget still fits, and an error with a session count that fits when not', () => {
    const perBox = CGROUP_QUOTA.created + 2;
    const fits = find(assessHostPools(plan({ maxSessions: 50, warmPool: 2 }), host(roomy, { memoryCgroups: 100 })), 'cgroups.memory');
    expect(fits.severity).toBe('ok');
    expect(fits.recommended).toBe(String(52 * perBox + 100));
    const crowded = find(assessHostPools(plan({ maxSessions: 1000, warmPool: 2 }), host(roomy, { memoryCgroups: 3000 })), 'cgroups.memory');
    expect(crowded.severity).toBe('error');
    const fill = Math.floor((MEM_CGROUP_ID_MAX - 3000) / perBox);
    expect(crowded.why).toContain(`${fill.toLocaleString('en-US')} sandboxes would fill what is free`);
    expect(crowded.fix).toContain(`NSLAB_MAX_SESSIONS=${fill - 2}`);
    // the suggested session count fits
    expect(find(assessHostPools(plan({ maxSessions: fill - 2, warmPool: 2 }), host(roomy, { memoryCgroups: 3000 })), 'cgroups.memory').severity).toBe('ok');
  });

  it('is left out when the host has no memory controller to count', () => {
    expect(assessHostPools(plan(), host(roomy, { memoryCgroups: null })).some((f) => f.sysctl === 'cgroups.memory')).toBe(false);
  });
});
