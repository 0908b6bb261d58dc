/**
 * Two fronts on one PostgreSQL: two real `nslab serve` processes with the same
 * NSLAB_DATABASE_URL (a throwaway server this file starts, postgres.ts). A learner
 * joins and works through front A, in a real sandbox with real checks; the
 * instructor on front B sees the progress on the board, the learner's token works on
 * B, a front starting later leaves A's live session alone, `nslab export` reads
 * the same database, and closing the workshop on B ends the sandbox on A.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabClient } from '../server/client.ts';
import { BoardClient, call, createWorkshop, join, openLesson, SECRET, serveAnywhere, stopServeProcesses } from './helpers.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const procs: ChildProcess[] = [];
let pg: TestPostgres;
let url: string;

beforeAll(async () => {
  pg = await startPostgres();
  url = await pg.createDatabase();
});
afterAll(async () => {
  await stopServeProcesses(procs);
  await pg?.stop();
});

/**
 * A front: its own instance name (each front reaps only its own orphans on this
 * host), no warm pool (two fronts' pools would only load the machine), the shared database.
 */
const front = (name: string) => serveAnywhere({ NSLAB_DATABASE_URL: url, NSLAB_INSTANCE: `pg-front-${name}`, NSLAB_POOL: '0' }, procs);

describe('two fronts on one PostgreSQL', () => {
  it('progress recorded through front A is on the board of front B', async () => {
    const a = await front('a');
    expect(a.out()).toMatch(/classroom: kept in PostgreSQL postgresql:\/\/postgres@\/nslab_test_/);

    const w = await createWorkshop(a.base, ['sample-hostname'], 'Two fronts');
    const hedy = await join(a.base, w.code, 'Hedy');
    const opened = await openLesson(a.base, hedy.token);
    expect(opened.status).toBe(201);

    // B starts while Hedy's sandbox runs on A: B's start-up must not end A's session
    const b = await front('b');
    expect((await call(a.base, 'GET', '/api/classroom/me', { token: hedy.token })).body.session).toMatchObject({ id: opened.body.session.id });

    // the instructor's live board, on B
    const live = await BoardClient.connect(b.wsBase);
    await live.waitMessage((m) => m.type === 'welcome', 'welcome');
    live.send({ type: 'subscribe', workshop: w.code });
    await live.waitBoard((bd) => bd.learners.length === 1 && bd.learners[0].passed === 0, 'Hedy on B\'s board, nothing passed yet');

    const c = await LabClient.connect(a as never, opened.body.session);
    await c.open(1);
    await c.run(1, 'readlink /proc/$$/ns/uts');
    await c.waitEvent('steps', (e) => e.steps.some((s) => s.id === 'look' && s.status === 'pass'));

    // the board socket on B refreshes (front A's change reached it through the database)
    await live.waitBoard((bd) => bd.learners[0]?.passed === 1, 'the pass on B\'s live board');
    live.close();
    // and B's board API, which never saw Hedy, reads her progress from the database
    // (A's check engine pushes the pass to the learner first, then writes it)
    let board = null;
    for (let i = 0; i < 200 && !board; i++) {
      const r = await call(b.base, 'GET', `/api/classroom/workshops/${w.code}`, { token: SECRET });
      if (r.body.learners?.[0]?.passed === 1) board = r.body;
      else await new Promise((res) => setTimeout(res, 50));
    }
    expect(board?.learners).toHaveLength(1);
    expect(board.learners[0]).toMatchObject({ name: 'Hedy', passed: 1 });
    expect(board.counts[0]).toBe(1);

    // the learner's token works on B too, and a name taken through A is taken on B
    const me = await call(b.base, 'GET', '/api/classroom/me', { token: hedy.token });
    expect(me.status).toBe(200);
    expect(me.body.lessons[0].steps.find((s: { id: string }) => s.id === 'look')).toMatchObject({ status: 'pass' });
    expect((await call(b.base, 'POST', '/api/classroom/join', { body: { code: w.code, name: 'HEDY' } })).status).toBe(409);
    c.close();

    // nslab export, another process on the same database
    const csv = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', 'lab-server/cli.ts', 'export', w.code, '--format', 'csv'], { cwd: REPO, env: { ...process.env, NSLAB_DATABASE_URL: url } });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { err += d; });
      p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`export exited ${code}: ${err}`))));
    });
    expect(csv.split('\r\n')[1]).toMatch(/^Hedy,.*,1,3,.*pass \d{4}-/);

    // the instructor closes the workshop on B: Hedy's sandbox on A ends too
    expect((await call(b.base, 'POST', `/api/classroom/workshops/${w.code}/close`, { token: SECRET })).status).toBe(200);
    let session: unknown = 'still open';
    for (let i = 0; i < 200 && session !== null; i++) {
      session = (await call(a.base, 'GET', '/api/classroom/me', { token: hedy.token })).body.session;
      if (session !== null) await new Promise((res) => setTimeout(res, 50));
    }
    expect(session).toBeNull();
    expect((await openLesson(a.base, hedy.token)).status).toBe(410);
  });

  it('a front on PostgreSQL without NSLAB_INSTRUCTOR_SECRET does not start, and says why', async () => {
    const err = await serveAnywhere({ NSLAB_DATABASE_URL: url, NSLAB_INSTANCE: 'pg-front-c', NSLAB_POOL: '0', NSLAB_INSTRUCTOR_SECRET: '' }, procs).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/set NSLAB_INSTRUCTOR_SECRET too, the same on every front/);
  });
});
