/**
 * The check engine on a real sandbox: event-driven evaluation, passed stays passed,
 * broken checks fail clearly without taking the session down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineChecks, fail, pass, pending } from '../../lab-server/checks/api.ts';
import { CheckEngine } from '../../lab-server/checks/engine.ts';
import type { StepStatus } from '../../lab-server/contract/steps.ts';
import { createSandboxBackend, type LocalBackend } from '../../lab-server/sandbox/index.ts';
import type { CommandEvent, Sandbox } from '../../lab-server/sandbox/types.ts';

let backend: LocalBackend;
beforeAll(async () => {
  backend = createSandboxBackend();
  await backend.checkHost();
  await backend.images.ensureBuilt('default', (l) => console.log(l));
});
afterAll(async () => { await backend?.destroyAll(); });

function shell(s: Sandbox) {
  const pty = s.spawnPty({ terminal: 1 });
  const next = (pred: (e: CommandEvent) => boolean) => new Promise<CommandEvent>((resolve) => {
    const off = s.onCommand((e) => { if (pred(e)) { off(); resolve(e); } });
  });
  return {
    ready: next((e) => e.kind === 'ready'),
    async run(line: string) {
      const done = next((e) => e.kind === 'cmd');
      pty.write(`${line}\r`);
      return done;
    },
  };
}

/** the file exists as PID 1 sees it */
const fileExists = async (lab: Parameters<Parameters<typeof defineChecks>[0][string]>[0], file: string) => {
  const init = (await lab.processes()).find((p) => p.pid === 1)!;
  return (await lab.readFile(init.hostPid, file)) !== null;
};

describe('check engine', () => {
  it('evaluates on command events, keeps passed steps passed, and turns broken checks into clear failures', async () => {
    const sandbox = await backend.create({ label: 'check-engine test' });
    const logged: string[] = [];
    const changes: StepStatus[][] = [];
    const checks = defineChecks({
      marker: async (lab) => (await fileExists(lab, '/tmp/marker') ? pass() : pending('make /tmp/marker')),
      'needs-two': async (lab) => (await fileExists(lab, '/tmp/two') ? pass() : fail({ en: 'no /tmp/two yet', ko: '/tmp/two가 아직 없습니다' })),
      throws: async () => { throw new Error('kaboom'); },
      garbage: async () => ({ status: 'maybe' }) as never,
      slow: () => new Promise(() => {}),
    });
    const engine = new CheckEngine({
      sandbox, checks, steps: ['marker', 'needs-two', 'throws', 'garbage', 'slow'], lang: 'ko',
      pollMs: 0, // only command events drive this test
      checkTimeoutMs: 300,
      log: (l) => logged.push(l),
      onStatus: (changed) => changes.push(changed),
    });
    try {
      // a check that throws once is given another round (it may have raced a process exit) ...
      await engine.evaluate();
      expect(engine.statuses().find((s) => s.id === 'throws')).toMatchObject({ status: 'pending' });
      // ... and is reported as broken when it throws again
      const t = shell(sandbox);
      engine.start();
      await t.ready;
      await engine.idle();
      const first = Object.fromEntries(engine.statuses().map((s) => [s.id, s]));
      expect(first.marker).toMatchObject({ status: 'pending', message: 'make /tmp/marker' });
      expect(first['needs-two']).toMatchObject({ status: 'fail', message: '/tmp/two가 아직 없습니다' });
      expect(first.throws).toMatchObject({ status: 'fail', error: true, message: expect.stringContaining('kaboom') });
      expect(first.garbage).toMatchObject({ status: 'fail', error: true });
      expect(first.slow).toMatchObject({ status: 'fail', error: true });
      expect(logged.some((l) => l.includes('"throws" threw') && l.includes('kaboom'))).toBe(true);
      // logged once, however many rounds it keeps failing
      await engine.evaluate();
      await engine.evaluate();
      expect(logged.filter((l) => l.includes('"throws" threw'))).toHaveLength(1);

      // the command event alone (no poll) brings the step to pass
      changes.length = 0;
      await t.run('touch /tmp/marker');
      await engine.idle();
      expect(engine.statuses().find((s) => s.id === 'marker')!.status).toBe('pass');
      expect(changes.flat().map((c) => `${c.id}:${c.status}`)).toEqual(['marker:pass']);

      // undoing the state does not take the pass away
      await t.run('rm /tmp/marker');
      await engine.idle();
      expect(engine.statuses().find((s) => s.id === 'marker')!).toMatchObject({ status: 'pass', passedAt: expect.any(Number) });

      await t.run('touch /tmp/two');
      await engine.idle();
      expect(engine.statuses().filter((s) => s.status === 'pass').map((s) => s.id)).toEqual(['marker', 'needs-two']);
    } finally {
      engine.stop();
      await sandbox.destroy();
    }
  });

  it('does not let a hung check hold back another step', async () => {
    const sandbox = await backend.create({ label: 'check-engine test 3' });
    const checks = defineChecks({
      hung: () => new Promise(() => {}),
      marker: async (lab) => (await fileExists(lab, '/tmp/marker') ? pass() : pending()),
    });
    const engine = new CheckEngine({ sandbox, checks, steps: ['hung', 'marker'], lang: 'en', pollMs: 0, checkTimeoutMs: 60_000, log: () => {} });
    try {
      const t = shell(sandbox);
      const green = new Promise<void>((resolve) => engine.onStatus((changed) => { if (changed.some((c) => c.id === 'marker' && c.status === 'pass')) resolve(); }));
      engine.start();
      await t.ready;
      await t.run('touch /tmp/marker');
      await green;
      // the hung check has neither finished nor timed out, yet marker is green
      expect(engine.statuses().map((s) => `${s.id}:${s.status}`)).toEqual(['hung:pending', 'marker:pass']);
    } finally {
      engine.stop();
      await sandbox.destroy();
    }
  });

  it('probes each namespace once per round, however many processes share it', async () => {
    const { createLab } = await import('../../lab-server/checks/lab.ts');
    const sandbox = await backend.create({ label: 'check-engine test 4' });
    try {
      const a = shell(sandbox);
      await a.ready;
      await a.run('unshare --ipc sleep 1000 & sleep 1000 & sleep 1000 & true');
      // the background `unshare` may not have run yet when the shell reports back
      let lab = createLab(sandbox, { lang: 'en' });
      for (let i = 0; i < 200 && new Set((await lab.processes()).map((p) => p.ns.ipc)).size < 2; i++) {
        await new Promise((r) => setTimeout(r, 25));
        lab = createLab(sandbox, { lang: 'en' });
      }
      const procs = await lab.processes();
      const namespaces = new Set(procs.map((p) => p.ns.ipc));
      expect(namespaces.size).toBe(2);
      let calls = 0;
      const real = sandbox.probe.sysvipc.bind(sandbox.probe);
      sandbox.probe.sysvipc = (pid: number) => { calls++; return real(pid); };
      const results = await Promise.all(procs.map((p) => lab.ipc(p.hostPid)));
      expect(results).toHaveLength(procs.length);
      expect(calls).toBe(2);
    } finally {
      await sandbox.destroy();
    }
  });

  it('restores progress and stops quietly when the sandbox dies', async () => {
    const sandbox = await backend.create({ label: 'check-engine test 2' });
    let calls = 0;
    const engine = new CheckEngine({
      sandbox, steps: ['a', 'b'], lang: 'en', pollMs: 50, passed: ['a'],
      // a is watched (b is open), and on this fresh machine what it made is not there
      checks: { a: async () => pending('make a again'), b: async () => { calls++; return pending(); } },
    }).start();
    await engine.idle();
    expect(engine.statuses().map((s) => s.status)).toEqual(['pass', 'pending']);
    expect(engine.statuses()[0]).toMatchObject({ status: 'pass', passedAt: expect.any(Number), stale: { message: 'make a again' } });
    await sandbox.destroy();
    const after = calls;
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(after);
    expect(engine.statuses().map((s) => s.status)).toEqual(['pass', 'pending']);
  });

  it('reports a passed step whose state is gone as stale, with what to redo, and keeps it passed', async () => {
    const sandbox = await backend.create({ label: 'check-engine stale' });
    const changes: StepStatus[] = [];
    const made = (file: string) => async (lab: Parameters<typeof fileExists>[0]) => (await fileExists(lab, file) ? pass() : pending({ en: `make ${file}`, ko: `${file}을 만드세요` }));
    const checks = defineChecks({ first: made('/tmp/first'), second: made('/tmp/second'), open: async () => pending() });
    const engine = new CheckEngine({
      sandbox, checks, steps: ['first', 'second', 'open'], lang: 'ko', pollMs: 0, log: () => {},
      onStatus: (changed) => changes.push(...changed),
    });
    const stale = () => Object.fromEntries(engine.statuses().map((s) => [s.id, s.stale ?? null]));
    try {
      const t = shell(sandbox);
      engine.start();
      await t.ready;
      await t.run('touch /tmp/first /tmp/second');
      await engine.idle();
      // the near miss: both passed and their state is there, so neither is stale
      expect(engine.statuses().map((s) => s.status)).toEqual(['pass', 'pass', 'pending']);
      expect(stale()).toEqual({ first: null, second: null, open: null });
      const passedAt = engine.statuses()[1].passedAt;

      changes.length = 0;
      await t.run('rm /tmp/second');
      await engine.idle();
      const second = engine.statuses()[1];
      expect(second).toMatchObject({ status: 'pass', passedAt, stale: { message: '/tmp/second을 만드세요', messages: { en: 'make /tmp/second', ko: '/tmp/second을 만드세요' } } });
      expect(stale().first).toBeNull();
      expect(changes.map((c) => `${c.id}:${c.status}:${!!c.stale}`)).toEqual(['second:pass:true']);

      // further back: stale only while every step between it and the open one is stale too
      await t.run('rm /tmp/first');
      await engine.idle();
      expect(stale().first).toMatchObject({ message: '/tmp/first을 만드세요' });
      await t.run('touch /tmp/second');
      await engine.idle();
      expect(stale()).toEqual({ first: null, second: null, open: null });
      expect(engine.statuses().map((s) => s.status)).toEqual(['pass', 'pass', 'pending']);
    } finally {
      engine.stop();
      await sandbox.destroy();
    }
  });

  it('a passed step that fails one look (a read that timed out) is looked at again before it is called stale', async () => {
    const sandbox = await backend.create({ label: 'check-engine blip' });
    let looks = 0;
    // passes, then fails exactly one look, then passes again: a transient probe failure
    const blip = async () => (++looks === 2 ? pending('gone?') : pass());
    const changes: StepStatus[] = [];
    const engine = new CheckEngine({
      sandbox, steps: ['kept', 'open'], lang: 'en', pollMs: 0, log: () => {},
      checks: { kept: blip, open: async () => pending() }, onStatus: (changed) => changes.push(...changed),
    });
    try {
      const t = shell(sandbox);
      engine.start();
      await t.ready;
      await t.run('true');
      await engine.idle();
      await t.run('true');
      await engine.idle();
      expect(looks).toBeGreaterThanOrEqual(3);
      expect(changes.filter((c) => c.stale)).toEqual([]);
      expect(engine.statuses()[0]).toMatchObject({ status: 'pass' });
      expect(engine.statuses()[0].stale).toBeUndefined();
    } finally {
      engine.stop();
      await sandbox.destroy();
    }
  });

  it('does not watch a step the lesson leaves behind, nor when told not to watch', async () => {
    const sandbox = await backend.create({ label: 'check-engine left behind' });
    const made = (file: string) => async (lab: Parameters<typeof fileExists>[0]) => (await fileExists(lab, file) ? pass() : pending(`make ${file}`));
    const checks = defineChecks({ left: made('/tmp/left'), kept: made('/tmp/kept'), open: async () => pending() }, { leftBehind: ['left'] });
    const engine = new CheckEngine({ sandbox, checks, steps: ['left', 'kept', 'open'], lang: 'en', pollMs: 0, log: () => {} });
    const unwatched = new CheckEngine({ sandbox, checks, steps: ['left', 'kept', 'open'], lang: 'en', pollMs: 0, log: () => {}, watchPassed: false });
    try {
      const t = shell(sandbox);
      engine.start();
      unwatched.start();
      await t.ready;
      await t.run('touch /tmp/left /tmp/kept');
      await engine.idle();
      await unwatched.idle();
      await t.run('rm /tmp/left /tmp/kept');
      await engine.idle();
      await unwatched.idle();
      expect(engine.statuses().map((s) => `${s.id}:${s.status}:${s.stale?.message ?? '-'}`)).toEqual(['left:pass:-', 'kept:pass:make /tmp/kept', 'open:pending:-']);
      expect(unwatched.statuses().map((s) => `${s.id}:${s.status}:${s.stale?.message ?? '-'}`)).toEqual(['left:pass:-', 'kept:pass:-', 'open:pending:-']);
    } finally {
      engine.stop();
      unwatched.stop();
      await sandbox.destroy();
    }
  });

  /** waits (no time limit: the test runner's own timeout is the bound) until `cond` holds */
  async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
    while (!(await cond())) await new Promise((r) => setTimeout(r, 20));
  }
  const passed = (engine: CheckEngine, id: string) => new Promise<void>((resolve) => {
    if (engine.statuses().some((s) => s.id === id && s.status === 'pass')) return resolve();
    engine.onStatus((changed) => { if (changed.some((c) => c.id === id && c.status === 'pass')) resolve(); });
  });

  it('backs off while nothing happens, and its poll still sees a background job finish', async () => {
    const sandbox = await backend.create({ label: 'check-engine backoff' });
    const checks = defineChecks({ late: async (lab) => (await fileExists(lab, '/tmp/late') ? pass() : pending()) });
    const engine = new CheckEngine({ sandbox, checks, steps: ['late'], lang: 'en', pollMs: 50, maxPollMs: 400, log: () => {} });
    try {
      const t = shell(sandbox);
      engine.start();
      await t.ready;
      // the job creates the checked state only when told to, long after its command ended
      await t.run('(while [ ! -e /tmp/go ]; do sleep 0.1; done; touch /tmp/late) &');
      expect(engine.pollDelayMs).toBe(50);
      // quiet rounds double the delay up to its bound
      await until(() => engine.pollDelayMs === 400);
      expect(engine.statuses()[0].status).toBe('pending');
      const events = sandbox.commands().length;
      const green = passed(engine, 'late');
      expect((await sandbox.exec(['touch', '/tmp/go'])).code).toBe(0);
      await green;
      // nothing announced it: the backed-off poll found it
      expect(sandbox.commands().length).toBe(events);
    } finally {
      engine.stop();
      await sandbox.destroy();
    }
  });

  it('checks at once on the next command event, however far the poll has backed off', async () => {
    const sandbox = await backend.create({ label: 'check-engine event' });
    const checks = defineChecks({ late: async (lab) => (await fileExists(lab, '/tmp/late') ? pass() : pending()) });
    // a poll too slow to matter here: only the event can turn the step green
    const engine = new CheckEngine({ sandbox, checks, steps: ['late'], lang: 'en', pollMs: 3_600_000, log: () => {} });
    try {
      const t = shell(sandbox);
      engine.start();
      await t.ready;
      await t.run('(while [ ! -e /tmp/go ]; do sleep 0.1; done; touch /tmp/late) &');
      expect((await sandbox.exec(['touch', '/tmp/go'])).code).toBe(0);
      await until(async () => (await sandbox.exec(['test', '-e', '/tmp/late'])).code === 0);
      await engine.idle();
      expect(engine.statuses()[0].status).toBe('pending');
      const green = passed(engine, 'late');
      await t.run('true');
      await green;
    } finally {
      engine.stop();
      await sandbox.destroy();
    }
  });

  it('checks again when the kernel reports a cgroup event (a group made inside), with no command', async () => {
    const { hostInfo } = await import('../../lab-server/sandbox/host.ts');
    const sandbox = await backend.create({ label: 'check-engine cgroup event' });
    let rounds = 0;
    const checks = defineChecks({ group: async (lab) => { rounds++; return (await lab.cgroups()).some((g) => g.path.endsWith('/made')) ? pass() : pending(); } });
    const engine = new CheckEngine({ sandbox, checks, steps: ['group'], lang: 'en', pollMs: 3_600_000, log: () => {} });
    try {
      engine.start();
      await engine.idle();
      expect(rounds).toBe(1);
      const green = passed(engine, 'group');
      const dir = hostInfo().cgroupMode === 'v2' ? '/sys/fs/cgroup/made' : '/sys/fs/cgroup/pids/made';
      expect((await sandbox.exec(['mkdir', dir])).code).toBe(0);
      await green;
      expect(sandbox.commands()).toHaveLength(0);
    } finally {
      engine.stop();
      await sandbox.destroy();
    }
  });
});
