/**
 * Where sandboxes' cgroups go on a v2 host (lab-server/sandbox/cgroup-root.ts): the
 * plan from /proc/self/cgroup, systemd's presence and its Delegate= answer, both ways;
 * and the claim on a fake cgroup tree in a temp dir whose io follows the kernel's two
 * rules that matter here (a pid written to a cgroup.procs leaves every other group;
 * a group holding processes cannot enable controllers for children: EBUSY).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimCgroupRoot, type CgroupIo, ownCgroupV2, planCgroupRoot, unitOf } from '../../lab-server/sandbox/cgroup-root.ts';
import { HostError } from '../../lab-server/sandbox/types.ts';

const SERVICE = '0::/system.slice/nslab.service\n';
const SESSION = '0::/user.slice/user-0.slice/session-4.scope\n';
const facts = (procSelfCgroup: string, systemd: boolean, delegated: boolean | null, override?: string) =>
  ({ procSelfCgroup, systemd, isDelegated: () => delegated, override });

describe('planCgroupRoot', () => {
  it('without systemd: the top of the tree, as always', () => {
    expect(planCgroupRoot(facts('0::/\n', false, null))).toMatchObject({ kind: 'plain', base: '/nslab' });
  });

  it('under a delegated unit: sandboxes and the server below it', () => {
    const asked: string[] = [];
    const plan = planCgroupRoot({ ...facts(SERVICE, true, true), isDelegated: (u) => { asked.push(u); return true; } });
    expect(asked).toEqual(['nslab.service']);
    expect(plan).toMatchObject({ kind: 'delegated', unit: 'nslab.service', unitPath: '/system.slice/nslab.service', base: '/system.slice/nslab.service/sandboxes', leaf: '/system.slice/nslab.service/server' });
    // after the move the server is in its leaf: the same plan
    expect(planCgroupRoot(facts('0::/system.slice/nslab.service/server\n', true, true))).toEqual(plan);
    // a transient scope (systemd-run --scope -p Delegate=yes) works the same way
    expect(planCgroupRoot(facts('0::/system.slice/run-r1b2.scope\n', true, true))).toMatchObject({ kind: 'delegated', unit: 'run-r1b2.scope', base: '/system.slice/run-r1b2.scope/sandboxes' });
  });

  it('under systemd but not delegated (a login session, Delegate=no, systemctl silent): refused, with both fixes', () => {
    for (const [cg, d] of [[SESSION, false], [SERVICE, false], [SERVICE, null], ['0::/\n', true]] as const) {
      const plan = planCgroupRoot(facts(cg, true, d));
      expect(plan.kind, cg).toBe('undelegated');
      if (plan.kind !== 'undelegated') continue;
      expect(plan.fix).toMatch(/packaging\/nslab\.service has Delegate=yes.*systemd-run --scope -p Delegate=yes/);
      expect(() => claimCgroupRoot(plan, '/nonexistent')).toThrow(HostError);
    }
    expect(planCgroupRoot(facts(SESSION, true, false))).toMatchObject({ unit: 'session-4.scope', detail: expect.stringContaining('not delegated (Delegate=no)') });
  });

  it('NSLAB_CGROUP_ROOT wins, and bad values are refused with a reason', () => {
    expect(planCgroupRoot(facts(SESSION, true, false, '/nslab.slice/lab'))).toMatchObject({ kind: 'override', base: '/nslab.slice/lab' });
    for (const [bad, why] of [['nslab', 'must be an absolute path'], ['/a/../b', 'must not contain empty, "." or ".." segments'], ['/a//b', 'must not contain'], ['/', 'must not be the root']] as const) {
      expect(() => planCgroupRoot(facts(SERVICE, true, true, bad)), bad).toThrow(why);
    }
  });

  it('parses /proc/self/cgroup (hybrid lines ignored) and finds the deepest unit', () => {
    expect(ownCgroupV2('12:pids:/x\n1:name=systemd:/x\n0::/system.slice/a.service\n')).toBe('/system.slice/a.service');
    expect(() => ownCgroupV2('12:pids:/\n')).toThrow('no cgroup v2 line');
    expect(unitOf('/system.slice/a.service/server')).toEqual({ unit: 'a.service', unitPath: '/system.slice/a.service' });
    expect(unitOf('/user.slice/user-0.slice/user@0.service/app.slice/x.scope')).toEqual({ unit: 'x.scope', unitPath: '/user.slice/user-0.slice/user@0.service/app.slice/x.scope' });
    expect(unitOf('/init.scope/..x')).toEqual({ unit: 'init.scope', unitPath: '/init.scope' });
    expect(unitOf('/')).toBeNull();
  });
});

describe('claimCgroupRoot on a fake cgroup tree', () => {
  let mount: string;
  beforeEach(() => { mount = mkdtempSync(path.join(os.tmpdir(), 'nslab-cgroot-')); });
  afterEach(() => { rmSync(mount, { recursive: true, force: true }); });

  const group = (rel: string, procs: string[] = [], controllers = '') => {
    const d = path.join(mount, rel);
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, 'cgroup.procs'), procs.map((p) => `${p}\n`).join(''));
    writeFileSync(path.join(d, 'cgroup.subtree_control'), controllers);
  };
  const groups = (): string[] => {
    const out: string[] = [];
    const visit = (d: string) => { if (readdirSync(d).includes('cgroup.procs')) out.push(d); for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) visit(path.join(d, e.name)); };
    visit(mount);
    return out;
  };
  /** the kernel's rules, on plain files */
  const kernel = (opts: { refuse?: string } = {}): CgroupIo => ({
    read: (f) => readFileSync(f, 'utf8'),
    mkdir: (d) => { if (!readdirSync(path.dirname(d)).includes(path.basename(d))) group(path.relative(mount, d)); },
    write: (f, data) => {
      const dir = path.dirname(f);
      if (f.endsWith('/cgroup.procs')) {
        if (opts.refuse === data) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
        for (const g of groups()) {
          const file = path.join(g, 'cgroup.procs');
          writeFileSync(file, readFileSync(file, 'utf8').split('\n').filter((p) => p && p !== data).map((p) => `${p}\n`).join(''));
        }
        writeFileSync(f, `${readFileSync(f, 'utf8')}${data}\n`);
      } else if (f.endsWith('/cgroup.subtree_control')) {
        if (readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim()) throw Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY' });
        const on = new Set(readFileSync(f, 'utf8').split(/\s+/).filter(Boolean));
        for (const w of data.split(/\s+/)) on.add(w.replace(/^\+/, ''));
        writeFileSync(f, [...on].sort().join(' '));
      } else writeFileSync(f, data);
    },
  });

  const plan = () => planCgroupRoot(facts(SERVICE, true, true));

  it('moves every process of the unit root into the server leaf, then enables controllers in the unit and the sandboxes\' parent', () => {
    group('system.slice/nslab.service', ['101', '102']);
    const base = claimCgroupRoot(plan(), mount, kernel());
    expect(base).toBe(path.join(mount, 'system.slice/nslab.service/sandboxes'));
    const read = (rel: string) => readFileSync(path.join(mount, rel), 'utf8');
    expect(read('system.slice/nslab.service/cgroup.procs')).toBe('');
    expect(read('system.slice/nslab.service/server/cgroup.procs')).toBe('101\n102\n');
    expect(read('system.slice/nslab.service/cgroup.subtree_control')).toBe('cpu memory pids');
    expect(read('system.slice/nslab.service/sandboxes/cgroup.subtree_control')).toBe('cpu memory pids');
    // idempotent: a second worker of the same run claims the same root
    expect(claimCgroupRoot(plan(), mount, kernel())).toBe(base);
  });

  it('control: enabling controllers first is what the kernel refuses (why the move comes first)', () => {
    group('system.slice/nslab.service', ['101']);
    expect(() => kernel().write(path.join(mount, 'system.slice/nslab.service/cgroup.subtree_control'), '+memory')).toThrow('EBUSY');
  });

  it('a process that cannot be moved is a clear host error', () => {
    group('system.slice/nslab.service', ['101', '7']);
    expect(() => claimCgroupRoot(plan(), mount, kernel({ refuse: '7' }))).toThrow(/cannot move process 7 into \/system\.slice\/nslab\.service\/server: EACCES[\s\S]*fix: check that nslab\.service has Delegate=yes/);
  });

  it('plain (no systemd): only makes /nslab, touches nothing above it', () => {
    group('', ['1']);
    expect(claimCgroupRoot(planCgroupRoot(facts('0::/\n', false, null)), mount, kernel())).toBe(path.join(mount, 'nslab'));
    expect(readFileSync(path.join(mount, 'cgroup.subtree_control'), 'utf8')).toBe('');
  });
});
