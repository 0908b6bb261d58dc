/**
 * Restart survival with a real `nslab serve` process: kill -9 it mid-workshop, start
 * it again on the same data dir, and the learner's progress is intact; their next
 * sandbox is a fresh one with a notice and the passed steps already green.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LabClient, until } from '../server/client.ts';
import { call, createWorkshop, join, openLesson, SECRET, serveAnywhere as serveAnywhereWith, stopServeProcesses } from './helpers.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
// only the classroom database is throwaway: images and sandboxes stay where the driver keeps them
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nslab-restart-'));
const procs: ChildProcess[] = [];

/** `nslab serve` on the throwaway database */
const serveAnywhere = () => serveAnywhereWith({ NSLAB_CLASSROOM_DB: path.join(dataDir, 'classroom.db') }, procs);

afterAll(async () => {
  await stopServeProcesses(procs);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('kill -9 and restart', () => {
  it('keeps workshops, learners and progress; the learner gets a fresh sandbox with a notice', async () => {
    const first = await serveAnywhere();
    let base = `http://127.0.0.1:${first.port}`;
    const srv = { base, wsBase: `ws://127.0.0.1:${first.port}` };
    expect(first.out()).toContain(`${base}/#/instructor/${SECRET}`);

    const w = await createWorkshop(base, ['sample-hostname'], 'Survives');
    const a = await join(base, w.code, 'Hedy');
    const opened = await openLesson(base, a.token);
    expect(opened.status).toBe(201);
    expect(opened.body.notice).toBeNull();
    const c = await LabClient.connect(srv as never, opened.body.session);
    await c.open(1);
    await c.run(1, 'readlink /proc/$$/ns/uts');
    await c.waitEvent('steps', (e) => e.steps.some((s) => s.id === 'look' && s.status === 'pass'));
    // the store has it once the board shows it (the write follows the push)
    for (let i = 0; i < 100; i++) {
      const b = await call(base, 'GET', `/api/classroom/workshops/${w.code}`, { token: SECRET });
      if (b.body.counts?.[0] === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const passedAt = (await call(base, 'GET', '/api/classroom/me', { token: a.token })).body.lessons[0].steps[0].passedAt;
    expect(passedAt).toBeGreaterThan(0);

    first.proc.kill('SIGKILL');
    await until(() => first.proc.exitCode !== null || first.proc.signalCode !== null, 'server death');
    await c.waitClose();

    // same database, a new process (on whatever port is free now)
    const second = await serveAnywhere();
    base = `http://127.0.0.1:${second.port}`;
    srv.base = base;
    srv.wsBase = `ws://127.0.0.1:${second.port}`;
    // the same learner token still works, progress intact
    const me = await call(base, 'GET', '/api/classroom/me', { token: a.token });
    expect(me.status).toBe(200);
    expect(me.body.learner.name).toBe('Hedy');
    expect(me.body.session).toBeNull();
    expect(me.body.lessons[0].steps[0]).toMatchObject({ id: 'look', status: 'pass', passedAt });
    const board = await call(base, 'GET', `/api/classroom/workshops/${w.code}`, { token: SECRET });
    expect(board.body.learners[0]).toMatchObject({ name: 'Hedy', passed: 1, admission: 'offline' });

    // a fresh sandbox, a notice, and the step already green in the new session
    const again = await openLesson(base, a.token);
    expect(again.status).toBe(201);
    expect(again.body.session.id).not.toBe(opened.body.session.id);
    expect(again.body.notice).toEqual({ code: 'fresh-sandbox', afterRestart: true, passedSteps: 1 });
    const c2 = await LabClient.connect(srv as never, again.body.session);
    const steps = await c2.waitEvent('steps');
    expect(steps.steps.find((s) => s.id === 'look')).toMatchObject({ status: 'pass', passedAt });
    await c2.open(1);
    await c2.run(1, 'hostname');
    c2.close();

    // nslab export reads the same database from another process
    const csv = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', 'lab-server/cli.ts', 'export', w.code, '--format', 'csv'], { cwd: REPO, env: { ...process.env, NSLAB_CLASSROOM_DB: path.join(dataDir, 'classroom.db') } });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { err += d; });
      p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`export exited ${code}: ${err}`))));
    });
    expect(csv.split('\r\n')[1]).toMatch(/^Hedy,.*,1,3,.*pass \d{4}-/);
  });
});
