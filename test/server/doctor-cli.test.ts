/**
 * `nslab doctor` as an operator runs it, on this machine: the real bin/nslab, the
 * real /proc. Whatever this host's sysctls are, the JSON has the documented shape
 * and the exit status is 1 exactly when something is at "error".
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readSysctl } from '../../lab-server/sandbox/host-limits.ts';

const NSLAB = path.resolve(import.meta.dirname, '../../bin/nslab');
const severity = z.enum(['ok', 'info', 'warn', 'error']);

const reportSchema = z.object({
  plan: z.object({
    maxSessions: z.number().int().positive(),
    warmPool: z.number().int().min(0),
    sandboxes: z.number().int().positive(),
    memoryBytes: z.number().int().positive(),
    pids: z.number().int().positive(),
    ptys: z.number().int().positive(),
    cgroupMode: z.enum(['v2', 'hybrid']).nullable(),
  }).strict(),
  requirements: z.array(z.object({ check: z.string().min(1), severity, detail: z.string().min(1), fix: z.string().min(1).nullable() }).strict()).min(1),
  findings: z.array(z.object({
    sysctl: z.string().regex(/^([a-z0-9_-]+\.)+[a-z0-9_-]+$|^MemTotal$/),
    current: z.string().nullable(),
    recommended: z.string().nullable(),
    severity,
    why: z.string().min(20),
    fix: z.string().min(1).nullable(),
    sysctlD: z.string().regex(/^\S+ = \S.*$/).nullable(),
  }).strict()).min(10),
  counts: z.object({ ok: z.number(), info: z.number(), warn: z.number(), error: z.number() }).strict(),
  ok: z.boolean(),
}).strict();

function doctor(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(NSLAB, ['doctor', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

describe('nslab doctor on this machine', () => {
  it('--json: the documented shape, this host\'s values, exit 1 exactly when something is at error', () => {
    const r = doctor(['--json']);
    expect(r.error).toBeUndefined();
    const report = reportSchema.parse(JSON.parse(r.stdout));

    const all = [...report.requirements, ...report.findings];
    const errors = all.filter((x) => x.severity === 'error').length;
    expect(report.counts).toEqual({
      ok: all.filter((x) => x.severity === 'ok').length,
      info: all.filter((x) => x.severity === 'info').length,
      warn: all.filter((x) => x.severity === 'warn').length,
      error: errors,
    });
    expect(report.ok).toBe(errors === 0);
    expect(r.status).toBe(errors === 0 ? 0 : 1);

    // the pools the preflight promises, read from this host (doctor only reads /proc/sys)
    for (const name of ['fs.file-max', 'kernel.pty.max', 'kernel.pty.reserve', 'kernel.pid_max', 'kernel.threads-max', 'MemTotal',
      'vm.overcommit_memory', 'fs.aio-max-nr', 'fs.inotify.max_user_instances', 'fs.inotify.max_user_watches', 'user.max_user_namespaces']) {
      const f = report.findings.find((x) => x.sysctl === name);
      expect(f, name).toBeDefined();
      if (name !== 'MemTotal') expect(f!.current, name).toBe(readSysctl(name));
    }
    expect(report.plan.sandboxes).toBe(report.plan.maxSessions + report.plan.warmPool);
    for (const f of report.findings) {
      if (f.severity === 'warn' || f.severity === 'error') expect(f.fix, f.sysctl).not.toBeNull();
      if (f.sysctlD) expect(f.fix).toContain(`sysctl -w ${f.sysctl}=`);
    }
    // the host requirements nslab serve checks, one row each
    expect(report.requirements.map((q) => q.check)).toEqual(expect.arrayContaining(['root', 'crun', 'user namespaces', 'erofs', 'cgroups', 'image default']));
  });

  it('--sessions changes the plan; the text table and the JSON agree', () => {
    const one = reportSchema.parse(JSON.parse(doctor(['--json', '--sessions', '1'], { NSLAB_POOL: '0' }).stdout));
    expect(one.plan).toMatchObject({ maxSessions: 1, warmPool: 0, sandboxes: 1 });
    const text = doctor(['--sessions', '1'], { NSLAB_POOL: '0' });
    expect(text.status).toBe(one.ok ? 0 : 1);
    expect(text.stdout).toMatch(/^nslab doctor: can this host run 1 sandbox \(1 session \+ 0 warm\)/);
    expect(text.stdout).toMatch(/Host requirements\n {2}STATUS {2}CHECK/);
    expect(text.stdout).toMatch(/System-wide kernel pools/);
    for (const f of one.findings) expect(text.stdout).toContain(f.sysctl);
    expect(text.stdout).toMatch(new RegExp(`${one.counts.error} error\\(s\\), ${one.counts.warn} warning\\(s\\)`));
  });

  it('follows the server\'s configuration: NSLAB_MAX_SESSIONS, NSLAB_MEMORY_MB, NSLAB_POOL', () => {
    const r = reportSchema.parse(JSON.parse(doctor(['--json'], { NSLAB_MAX_SESSIONS: '7', NSLAB_MEMORY_MB: '256', NSLAB_POOL: '1' }).stdout));
    expect(r.plan).toMatchObject({ maxSessions: 7, warmPool: 1, sandboxes: 8, memoryBytes: 256 * 1024 * 1024 });
    expect(r.findings.find((f) => f.sysctl === 'MemTotal')!.recommended).toBe(String(8 * 256 * 1024 * 1024));
  });

  it('a usage error exits 2', () => {
    for (const args of [['--sessions', 'many'], ['--sessions'], ['--frobnicate']]) {
      const r = doctor(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/usage: nslab doctor/);
    }
    expect(doctor(['--help']).status).toBe(0);
  });
});
