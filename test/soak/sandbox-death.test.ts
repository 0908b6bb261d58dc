/**
 * Fault: the learner wrecks their own sandbox mid-lesson, through the real lab server
 * and its socket, with the real lesson engine (sample-hostname) and real sandboxes.
 *
 * - `kill -9 -1`: the kernel spares only the sandbox's PID 1 (and the caller, whose
 *   terminal dies with it), so every shell and background process is gone while the
 *   sandbox itself keeps running. The server says so (`sandbox-emptied`), the reset
 *   gives a fresh machine with a working prompt, and passed steps stay passed.
 * - PID 1 itself killed from inside (a ptrace exit-kill: the one way a learner can end
 *   init): `sandbox-died`, the session is `dead`, opening a terminal is refused with a
 *   hint to reset, and the reset brings it back with the progress kept.
 * - A single shell killed with `kill -9 $$` while another runs is an ordinary exit:
 *   no `sandbox-emptied`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLessonsPlugin } from '../../lab-server/checks/plugin.ts';
import type { StepStatus } from '../../lab-server/contract/steps.ts';
import { api, createSession, LabClient, startServer, until, type TestServer } from '../server/client.ts';
import { guardHost } from '../host-guard.ts';

// the host's /dev owners and modes and its cgroup counts are the same after this file
guardHost();

const LESSON = 'sample-hostname';
let srv: TestServer;

beforeAll(async () => {
  srv = await startServer({ lessons: createLessonsPlugin({ pollMs: 300, log: () => {} }) });
});
afterAll(async () => { await srv?.close(); });

function statusOf(c: LabClient, id: string): StepStatus | undefined {
  const last = [...c.events].reverse().find((e) => e.type === 'steps');
  return last?.type === 'steps' ? last.steps.find((s) => s.id === id) : undefined;
}

/** mid-lesson: two of the three steps green, a shell in a renamed UTS namespace, a background process */
async function midLesson(c: LabClient): Promise<Record<string, number>> {
  await c.open(1);
  await c.open(2);
  await c.run(1, 'readlink /proc/$$/ns/uts');
  await c.run(2, 'setsid nohup sleep 4242 >/dev/null 2>&1 & touch /root/before-the-crash');
  const from = c.events.length;
  c.type(1, 'unshare --uts bash\r');
  await c.waitEvent('command', (e) => e.terminal === 1 && e.kind === 'ready', from);
  await c.run(1, 'hostname box1');
  await until(() => statusOf(c, 'look')?.status === 'pass' && statusOf(c, 'new-uts')?.status === 'pass', 'steps look and new-uts green',
    () => JSON.stringify([...c.events].reverse().find((e) => e.type === 'steps')));
  expect(statusOf(c, 'check-outside')?.status).not.toBe('pass');
  return { look: statusOf(c, 'look')!.passedAt!, 'new-uts': statusOf(c, 'new-uts')!.passedAt! };
}

/** after the reset: a fresh machine (nothing of the old one), a prompt, the passed steps still passed, and the lesson can be finished */
async function continueAfterReset(c: LabClient, s: { id: string; token: string }, passed: Record<string, number>): Promise<void> {
  const from = c.events.length;
  const r = await api(srv, 'POST', `/api/sessions/${s.id}/reset`, { token: s.token });
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ id: s.id, state: 'running', terminals: [] });
  await c.waitEvent('session-reset', undefined, from);
  await c.open(1);
  await c.open(2);
  await c.run(1, 'echo fresh-$((40+2)); ls /root; pgrep -c sleep');
  const screen = await c.waitScreen(1, /^fresh-42$/m);
  expect(screen.slice(screen.lastIndexOf('fresh-42'))).not.toMatch(/before-the-crash/);
  // the engine re-checks the fresh sandbox; what was passed stays passed, with its time
  const steps = await c.waitEvent('steps', (e) => e.steps.some((x) => x.id === 'look'), from);
  for (const [id, at] of Object.entries(passed)) expect(steps.steps.find((x) => x.id === id)).toMatchObject({ status: 'pass', passedAt: at });
  // and the learner can go on to finish the lesson
  const f = c.events.length;
  c.type(1, 'unshare --uts bash\r');
  await c.waitEvent('command', (e) => e.terminal === 1 && e.kind === 'ready', f);
  await c.run(1, 'hostname box1');
  await c.run(2, 'hostname');
  await until(() => statusOf(c, 'check-outside')?.status === 'pass', 'step check-outside green after the reset', () => JSON.stringify(statusOf(c, 'check-outside')));
}

describe('a sandbox that dies mid-lesson', () => {
  it('kill -9 -1: the learner is told every process is gone, a reset gives a fresh prompt, progress is kept', async () => {
    const s = await createSession(srv, LESSON);
    const c = await LabClient.connect(srv, s);
    const passed = await midLesson(c);
    const sandbox = srv.lab.sessions.get(s.id)!.sandbox;

    const from = c.events.length;
    c.type(2, 'kill -9 -1\r');
    const emptied = await c.waitEvent('sandbox-emptied', undefined, from);
    expect(emptied.reason).toMatch(/kill -9 -1/);
    // both shells went with it, and nothing but init is left
    await c.waitEvent('exited', (e) => e.terminal === 1, from);
    await c.waitEvent('exited', (e) => e.terminal === 2, from);
    const left = (await sandbox.probe.processes()).filter((p) => p.state !== 'Z');
    expect(left.map((p) => p.pid)).toEqual([1]);
    // not a death: the session is still running and says it again to a reconnecting page
    expect(c.events.slice(from).some((e) => e.type === 'sandbox-died')).toBe(false);
    expect((await api(srv, 'GET', `/api/sessions/${s.id}`, { token: s.token })).body.state).toBe('running');
    c.close();
    const again = await LabClient.connect(srv, s);
    await again.waitEvent('welcome');
    expect(await again.waitEvent('sandbox-emptied')).toEqual(emptied);

    await continueAfterReset(again, s, passed);
    // the old sandbox is gone from the host
    expect(srv.lab.sessions.get(s.id)!.sandbox.id).not.toBe(sandbox.id);
    expect(sandbox.state).toBe('dead');
    again.close();
    expect((await api(srv, 'DELETE', `/api/sessions/${s.id}`, { token: s.token })).status).toBe(204);
  });

  it('kill -9 -1, then new shells on the same machine instead of a reset: the notice is not repeated', async () => {
    const s = await createSession(srv, LESSON);
    const c = await LabClient.connect(srv, s);
    await c.open(1);
    await c.run(1, 'touch /root/still-here');
    const from = c.events.length;
    c.type(1, 'kill -9 -1\r');
    await c.waitEvent('sandbox-emptied', undefined, from);
    await c.open(1);
    await c.run(1, 'ls /root');
    await c.waitScreen(1, /still-here/);
    c.close();
    const again = await LabClient.connect(srv, s);
    await again.waitEvent('welcome');
    await again.waitEvent('opened', (e) => e.terminal === 1 && e.reattached);
    expect(again.events.some((e) => e.type === 'sandbox-emptied')).toBe(false);
    again.close();
    expect((await api(srv, 'DELETE', `/api/sessions/${s.id}`, { token: s.token })).status).toBe(204);
  });

  it('PID 1 killed from inside (ptrace exit-kill): sandbox-died, terminals refused until the reset, progress kept', async () => {
    const s = await createSession(srv, LESSON);
    const c = await LabClient.connect(srv, s);
    const passed = await midLesson(c);

    const from = c.events.length;
    // PTRACE_SEIZE PID 1 with PTRACE_O_EXITKILL: the kernel SIGKILLs init when the tracer exits
    c.type(2, `python3 -c 'import ctypes; print("seized", ctypes.CDLL(None).ptrace(0x4206, 1, 0, 0x100000))'\r`);
    const died = await c.waitEvent('sandbox-died', undefined, from);
    expect(died.reason).toMatch(/init/);
    expect(c.events.slice(from).some((e) => e.type === 'sandbox-emptied')).toBe(false);
    expect((await api(srv, 'GET', `/api/sessions/${s.id}`, { token: s.token })).body.state).toBe('dead');
    const f = c.events.length;
    c.send({ type: 'open', terminal: 1, cols: 80, rows: 24 });
    expect(await c.waitEvent('error', (e) => e.code === 'sandbox-dead', f)).toMatchObject({ message: expect.stringMatching(/Reset/) });

    await continueAfterReset(c, s, passed);
    c.close();
    expect((await api(srv, 'DELETE', `/api/sessions/${s.id}`, { token: s.token })).status).toBe(204);
  });

  it('one shell killed with kill -9 $$ while another runs is an ordinary exit', async () => {
    const s = await createSession(srv, LESSON);
    const c = await LabClient.connect(srv, s);
    await c.open(1);
    await c.open(2);
    const from = c.events.length;
    c.type(1, 'kill -9 $$\r');
    expect(await c.waitEvent('exited', (e) => e.terminal === 1, from)).toMatchObject({ exitCode: 137 });
    // longer than both looks the server takes (0.3 s and 1.5 s after the exit)
    await new Promise((r) => setTimeout(r, 2500));
    expect(c.events.slice(from).filter((e) => e.type === 'sandbox-emptied' || e.type === 'sandbox-died')).toEqual([]);
    await c.run(2, 'echo still-alive');
    await c.waitScreen(2, /^still-alive$/m);
    c.close();
    expect((await api(srv, 'DELETE', `/api/sessions/${s.id}`, { token: s.token })).status).toBe(204);
  });
});
