/**
 * Fault: the lab server is killed with SIGKILL mid-lesson (no shutdown handler runs),
 * with the classroom store. test/classroom/restart.test.ts proves the store side
 * (workshop, learner, token, passedAt, export). This one looks at the host: the killed
 * server's sandboxes (the learner's, busy with a shell in a renamed namespace and a
 * detached background process, and the warm pool's) really are orphans, still running
 * after the kill, and the next server reaps every trace of them (processes, cgroups in
 * every hierarchy, mounts, files, uid ranges) before it listens; then two learners
 * with different progress carry on in fresh sandboxes and finish the lesson.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LabClient, until, type TestServer } from '../server/client.ts';
import { call, createWorkshop, join, openLesson, SECRET } from '../classroom/helpers.ts';
import { hardLeftovers, leftovers, liveProcesses, ownedSandboxes, reapOwned, serve, waitExited, type OwnedSandbox, type ServeProcess } from './host.ts';
import { guardHost } from '../host-guard.ts';

// the host's /dev owners and modes and its cgroup counts are the same after this file
guardHost();

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nslab-server-kill-'));
const ENV = { NSLAB_CLASSROOM_DB: path.join(dataDir, 'classroom.db'), NSLAB_INSTRUCTOR_SECRET: SECRET, NSLAB_POOL: '2' };
const servers: ServeProcess[] = [];

afterAll(async () => {
  for (const s of servers) {
    await s.stop();
    await reapOwned(s.pid);
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const srvOf = (s: ServeProcess) => ({ base: s.base, wsBase: s.wsBase }) as TestServer;

async function lastSteps(c: LabClient) {
  const e = [...c.events].reverse().find((x) => x.type === 'steps');
  return e?.type === 'steps' ? e.steps : [];
}

async function waitPassed(c: LabClient, ids: string[]): Promise<void> {
  await until(() => ids.every((id) => c.events.some((e) => e.type === 'steps' && e.steps.some((s) => s.id === id && s.status === 'pass'))),
    `steps ${ids.join(', ')} green`, () => JSON.stringify([...c.events].reverse().find((e) => e.type === 'steps')));
}

/** the store has a learner's passes once the board counts them (the write follows the push) */
async function waitBoard(base: string, code: string, passed: Record<string, number>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const b = await call(base, 'GET', `/api/classroom/workshops/${code}`, { token: SECRET });
    const rows = (b.body.learners ?? []) as { name: string; passed: number }[];
    if (Object.entries(passed).every(([name, n]) => rows.find((r) => r.name === name)?.passed === n)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`board never showed ${JSON.stringify(passed)}`);
}

async function unshareUts(c: LabClient, n: number, name: string): Promise<void> {
  const from = c.events.length;
  c.type(n, 'unshare --uts bash\r');
  await c.waitEvent('command', (e) => e.terminal === n && e.kind === 'ready', from);
  await c.run(n, `hostname ${name}`);
}

const t0 = Date.now();
/** progress lines, so a slow run shows where the time went */
const step = (what: string) => console.log(`server-kill +${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);

describe('the lab server killed with SIGKILL mid-lesson', () => {
  it('the next server reaps the orphaned sandboxes from the host; progress is intact and the learners carry on', { timeout: 300_000 }, async () => {
    const first = await serve(ENV);
    servers.push(first);
    const w = await createWorkshop(first.base, ['sample-hostname'], 'Crash course');
    const ada = await join(first.base, w.code, 'Ada');
    const bob = await join(first.base, w.code, 'Bob');

    // Ada: two of three steps, a shell in a renamed UTS namespace, a detached process, IPC objects
    const a1 = await openLesson(first.base, ada.token);
    expect(a1.status).toBe(201);
    const ca = await LabClient.connect(srvOf(first), a1.body.session);
    await ca.open(1);
    await ca.open(2);
    await ca.run(1, 'readlink /proc/$$/ns/uts');
    await ca.run(2, 'setsid nohup sleep 4242 >/dev/null 2>&1 & ipcmk -Q; ipcmk -M 65536; unshare --ipc sleep 4243 &');
    await unshareUts(ca, 1, 'box1');
    await waitPassed(ca, ['look', 'new-uts']);
    // Bob: one step, a plain shell
    const b1 = await openLesson(first.base, bob.token);
    const cb = await LabClient.connect(srvOf(first), b1.body.session);
    await cb.open(1);
    await cb.run(1, 'readlink /proc/$$/ns/uts');
    await waitPassed(cb, ['look']);
    await waitBoard(first.base, w.code, { Ada: 2, Bob: 1 });
    const before = Object.fromEntries(((await call(first.base, 'GET', '/api/classroom/me', { token: ada.token })).body.lessons[0].steps as { id: string; passedAt: number }[]).map((s) => [s.id, s.passedAt]));

    // the sandboxes of this server: two learners' plus the warm pool
    await until(() => ownedSandboxes(first.pid).length >= 4, 'two learner sandboxes and a full warm pool', () => JSON.stringify(ownedSandboxes(first.pid)));
    const orphans: OwnedSandbox[] = ownedSandboxes(first.pid);

    step(`mid-lesson with ${orphans.length} sandboxes; SIGKILL`);
    first.proc.kill('SIGKILL');
    await until(() => first.proc.signalCode !== null, 'the server to die');
    await ca.waitClose();
    await cb.waitClose();
    // really orphans: nobody tore them down; the learner's processes still run
    const alive = liveProcesses(orphans);
    expect(alive.some((p) => / sleep /.test(p)), alive.join('\n')).toBe(true);
    expect(leftovers(orphans).cgroups.length).toBeGreaterThan(0);

    // the next server, same data: it reaps before it listens
    const second = await serve(ENV, { inspect: true });
    servers.push(second);
    step('second server listening');
    expect(hardLeftovers(leftovers(orphans))).toEqual({ processes: [], cgroups: [], mounts: [], files: [] });
    console.log(`server-kill: ${orphans.length} orphaned sandboxes; ${/reaped (\d+) sandbox/.exec(second.out())?.[1] ?? 0} reaped by the new server (another test's server may have reaped some first)`);

    // progress intact in the store, for both learners
    const me = await call(second.base, 'GET', '/api/classroom/me', { token: ada.token });
    expect(me.status).toBe(200);
    expect(me.body.session).toBeNull();
    for (const [id, at] of Object.entries(before)) if (at) expect(me.body.lessons[0].steps.find((s: { id: string }) => s.id === id)).toMatchObject({ status: 'pass', passedAt: at });
    expect(me.body.lessons[0].steps.filter((s: { status: string }) => s.status === 'pass')).toHaveLength(2);
    const board = await call(second.base, 'GET', `/api/classroom/workshops/${w.code}`, { token: SECRET });
    expect(Object.fromEntries(board.body.learners.map((l: { name: string; passed: number }) => [l.name, l.passed]))).toEqual({ Ada: 2, Bob: 1 });

    step('progress checked');
    // both carry on in fresh sandboxes, with what they passed already green, and finish
    const a2 = await openLesson(second.base, ada.token);
    expect(a2.status).toBe(201);
    expect(a2.body.notice).toEqual({ code: 'fresh-sandbox', afterRestart: true, passedSteps: 2 });
    const ca2 = await LabClient.connect(srvOf(second), a2.body.session);
    await ca2.waitEvent('steps');
    expect((await lastSteps(ca2)).filter((s) => s.status === 'pass').map((s) => s.id).sort()).toEqual(['look', 'new-uts']);
    await ca2.open(1);
    await ca2.open(2);
    // a fresh machine: nothing of the old one
    await ca2.run(2, 'echo procs=$(pgrep -c sleep) queues=$(ipcs -q | grep -c 0x)');
    await ca2.waitScreen(2, /^procs=0 queues=0$/m);
    await unshareUts(ca2, 1, 'box2');
    await ca2.run(2, 'hostname');
    await waitPassed(ca2, ['check-outside']);

    const b2 = await openLesson(second.base, bob.token);
    expect(b2.body.notice).toEqual({ code: 'fresh-sandbox', afterRestart: true, passedSteps: 1 });
    const cb2 = await LabClient.connect(srvOf(second), b2.body.session);
    await cb2.open(1);
    await cb2.open(2);
    await unshareUts(cb2, 1, 'bob');
    await cb2.run(2, 'hostname');
    await waitPassed(cb2, ['new-uts', 'check-outside']);
    await waitBoard(second.base, w.code, { Ada: 3, Bob: 3 });
    ca2.close();
    cb2.close();

    // a clean stop of the second server leaves nothing either
    step('both learners finished');
    const mine = ownedSandboxes(second.pid);
    expect(mine.length).toBeGreaterThanOrEqual(2);
    expect(await second.stop(20_000)).toBe(0);
    expect(hardLeftovers(leftovers(mine))).toEqual({ processes: [], cgroups: [], mounts: [], files: [] });
    // and the pids of both servers' sandboxes are freed once the host's PID 1 has reaped
    step('second server stopped');
    const exited = await waitExited([...orphans, ...mine]);
    console.log(`server-kill: ${exited.most} exiting process(es) of ${orphans.length + mine.length} sandboxes, reaped by the host's PID 1 within ${exited.waitedMs} ms`);
    expect(exited.left).toEqual([]);
  });
});
