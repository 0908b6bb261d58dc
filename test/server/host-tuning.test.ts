/**
 * What `nslab serve` does about a stock host at start: the session cap fits the RAM,
 * the safe host-wide limits are raised (and it says so), the rest stays a warning
 * for the operator, and nothing is called an error that does not stop the lab.
 *
 * The pure parts run on made-up hosts and on a fake /proc/sys in a temp dir. The
 * last test starts the real `nslab serve` on this host, which may raise this host's
 * limits: it restores every one of them afterwards.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assessHostPools, readSysctl, type HostFacts, type PoolPlan } from '../../lab-server/sandbox/host-limits.ts';
import { applyRaises, plannedRaises, SAFE_TO_RAISE, sessionCapForHost } from '../../lab-server/sandbox/host-tuning.ts';
import { serveRaises } from '../../lab-server/cli/doctor.ts';
import { until } from './client.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const LONG_MAX = '9223372036854775807';

/** a stock Debian 12 VM with 24 GiB of RAM, as the first `npm start` met it */
const stock: Record<string, string> = {
  'fs.file-max': '2466252', 'fs.file-nr': '1500 0 2466252', 'kernel.pty.max': '4096', 'kernel.pty.reserve': '1024',
  'kernel.pid_max': '4194304', 'kernel.threads-max': '190000', 'vm.overcommit_memory': '0', 'net.ipv4.tcp_mem': '287907 383879 575814',
  'fs.aio-max-nr': '65536', 'kernel.keys.maxbytes': '20000', 'fs.inotify.max_user_instances': '128', 'fs.inotify.max_user_watches': '192543',
};
const host = (sysctls: Record<string, string>): HostFacts => ({ sysctl: (n) => sysctls[n] ?? null, memTotalBytes: 24 * GiB, tasksNow: 300, memoryCgroups: 200 });
const plan = (maxSessions: number): PoolPlan => ({ maxSessions, warmPool: 2, limits: { memoryBytes: 512 * MiB, pids: 512, ptys: 64 }, terminalsPerSession: 4, cgroupMode: 'v2' });

describe('host tuning at start', () => {
  it('sizes the session cap to the RAM, never above what was wanted, never below 1', () => {
    expect(sessionCapForHost({ wanted: 50, warmPool: 2, memoryBytes: 512 * MiB, memTotalBytes: 24 * GiB })).toBe(46);
    expect(sessionCapForHost({ wanted: 20, warmPool: 2, memoryBytes: 512 * MiB, memTotalBytes: 24 * GiB })).toBe(20);
    expect(sessionCapForHost({ wanted: 50, warmPool: 2, memoryBytes: 512 * MiB, memTotalBytes: 1 * GiB })).toBe(1);
    // with the cap, the memory finding is no longer a warning
    const capped = assessHostPools(plan(46), host(stock)).find((f) => f.sysctl === 'MemTotal')!;
    expect(capped.severity).toBe('ok');
    expect(assessHostPools(plan(50), host(stock)).find((f) => f.sysctl === 'MemTotal')!.severity).toBe('warn');
  });

  it('raises only the safe limits, only upwards, to what the fix says; the others stay the operator\'s', () => {
    // 50 sessions, as before the cap: the open-file table and the ptys are both short
    const findings = assessHostPools(plan(50), host(stock));
    const raises = plannedRaises(findings);
    expect(raises.map((r) => r.sysctl).sort()).toEqual(['fs.file-max', 'kernel.pty.max']);
    expect(raises.find((r) => r.sysctl === 'fs.file-max')).toEqual({ sysctl: 'fs.file-max', from: '2466252', to: LONG_MAX });
    expect(Number(raises.find((r) => r.sysctl === 'kernel.pty.max')!.to)).toBeGreaterThan(4096);
    // tcp_mem is below its need here too, but raising it gives up a protection of the host: not applied
    expect(findings.find((f) => f.sysctl === 'net.ipv4.tcp_mem')!.severity).toBe('info');
    expect(raises.some((r) => !SAFE_TO_RAISE.has(r.sysctl))).toBe(false);
    // after the raises nothing is left at warn or error
    const after = { ...stock };
    for (const r of raises) after[r.sysctl] = r.to;
    // after the raises only the RAM is short of 50 sessions, which the cap takes care of
    expect(assessHostPools(plan(50), host(after)).filter((f) => f.severity === 'warn' || f.severity === 'error').map((f) => f.sysctl)).toEqual(['MemTotal']);
    expect(assessHostPools(plan(46), host(after)).filter((f) => f.severity === 'warn' || f.severity === 'error')).toEqual([]);
    // a fix that would lower a value is never a raise
    expect(plannedRaises([{ sysctl: 'kernel.pty.max', current: '9000', recommended: '5000', severity: 'error', why: '', fix: 'x', sysctlD: 'kernel.pty.max = 5000' }])).toEqual([]);
  });

  it('nslab doctor calls a limit that serve raises by itself a note, not an error, unless tuning is off', () => {
    const findings = assessHostPools(plan(50), host(stock));
    const noted = serveRaises(findings, {});
    for (const n of ['fs.file-max', 'kernel.pty.max']) {
      expect(findings.find((f) => f.sysctl === n)!.severity).toBe('error');
      expect(noted.find((f) => f.sysctl === n)).toMatchObject({ severity: 'info', why: expect.stringMatching(/nslab serve raises it to \d+ at start/) });
    }
    expect(serveRaises(findings, { NSLAB_HOST_TUNING: 'off' })).toEqual(findings);
  });

  it('applies by writing and reading back; what does not take is reported, not assumed', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'nslab-fake-proc-sys-'));
    try {
      mkdirSync(path.join(root, 'fs'));
      mkdirSync(path.join(root, 'kernel/pty'), { recursive: true });
      writeFileSync(path.join(root, 'fs/file-max'), '2466252\n');
      // a directory where the file should be: the write fails as on a read-only /proc/sys
      mkdirSync(path.join(root, 'kernel/pty/max'));
      const r = applyRaises([{ sysctl: 'fs.file-max', from: '2466252', to: LONG_MAX }, { sysctl: 'kernel.pty.max', from: '4096', to: '5120' }], root);
      expect(r.applied).toEqual([{ sysctl: 'fs.file-max', from: '2466252', to: LONG_MAX }]);
      expect(readFileSync(path.join(root, 'fs/file-max'), 'utf8').trim()).toBe(LONG_MAX);
      expect(r.failed.map((f) => f.raise.sysctl)).toEqual(['kernel.pty.max']);
      expect(r.failed[0].reason).toBe('EISDIR');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('nslab serve on this host', () => {
  const TOUCHED = [...SAFE_TO_RAISE];
  const before = new Map(TOUCHED.map((n) => [n, readSysctl(n)]));
  const data = mkdtempSync(path.join(tmpdir(), 'nslab-serve-tuning-'));
  afterAll(() => {
    // this host's limits go back to what they were
    for (const [n, v] of before) {
      if (v !== null && readSysctl(n) !== v) writeFileSync(`/proc/sys/${n.replace(/\./g, '/')}`, `${v}\n`);
    }
    expect(new Map(TOUCHED.map((n) => [n, readSysctl(n)]))).toEqual(before);
    rmSync(data, { recursive: true, force: true });
  });

  it('starts without an error line: raises what it may and says so, warns about the rest', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NSLAB_CLASSROOM_DB: path.join(data, 'classroom.db') };
    delete env.NSLAB_MAX_SESSIONS;
    delete env.NSLAB_HOST_TUNING;
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(import.meta.dirname, '../../lab-server/cli.ts'), 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const max = Number(await until(() => /\((\d+) sessions max;/.exec(out)?.[1], 'the listening line', () => `stdout:\n${out}\nstderr:\n${err}`));
      const all = `${out}\n${err}`;
      expect(all).not.toMatch(/\berror\b/i);
      // whatever was below its need among the safe limits was raised, in one line that says from what to what
      for (const m of all.matchAll(/(\S+) (\d+) -> (\d+)/g)) {
        expect(SAFE_TO_RAISE.has(m[1])).toBe(true);
        expect(BigInt(m[3])).toBeGreaterThan(BigInt(m[2]));
        expect(readSysctl(m[1])).toBe(m[3]);
      }
      const raisedNames = [...all.matchAll(/(\S+) (\d+) -> (\d+)/g)].map((m) => m[1]);
      for (const n of TOUCHED) if (!raisedNames.includes(n)) expect(readSysctl(n)).toBe(before.get(n));
      // the cap fits this host's RAM
      const mem = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
      expect((max + 2) * 512 * MiB).toBeLessThanOrEqual(Math.max(mem, 3 * 512 * MiB));
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
