/**
 * Self-paced progress on a real server (real sandboxes, real SQLite): the learner
 * cookie, "Continue" resuming the same machine from another tab, a fresh machine
 * with the passed steps after a restart, and nobody else reading or writing it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LabClient } from '../server/client.ts';
import { call, startClassroomServer, type ClassroomServer } from './helpers.ts';

const servers: ClassroomServer[] = [];
afterAll(async () => { for (const s of servers) await s.close().catch(() => {}); });

const cookieOf = (r: { headers: Headers }) => {
  const set = r.headers.get('set-cookie');
  const m = set ? /nslab_learner=([^;]+)/.exec(set) : null;
  return m ? m[1] : null;
};
const open = (base: string, cookie: string | null, lesson = 'sample-hostname', headers: Record<string, string> = {}) =>
  call(base, 'POST', `/api/self/lessons/${lesson}/session`, { body: { lang: 'en' }, headers: { ...(cookie ? { cookie: `nslab_learner=${cookie}` } : {}), ...headers } });
const progress = (base: string, cookie: string | null) =>
  call(base, 'GET', '/api/self/progress', { headers: cookie ? { cookie: `nslab_learner=${cookie}` } : {} });

describe('self-paced progress', () => {
  it('lives with the learner cookie: same machine from another tab, passed steps after a restart, private to the learner', async () => {
    const srv = await startClassroomServer();
    servers.push(srv);
    const first = await open(srv.base, null);
    expect(first.status).toBe(201);
    const setCookie = first.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).toMatch(/Path=\/api/);
    expect(setCookie).toMatch(/Max-Age=\d{7,}/);
    const cookie = cookieOf(first)!;
    expect(cookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.body).toMatchObject({ resumed: false, restoredSteps: 0, session: { lesson: 'sample-hostname' } });
    // the database holds only the hash of the cookie
    const row = srv.setup.classroom.store as unknown as { db: import('better-sqlite3').Database };
    expect(JSON.stringify(row.db.prepare('SELECT * FROM self_paced_learners').all())).not.toContain(cookie);

    const c = await LabClient.connect(srv, first.body.session);
    await c.open(1);
    await c.run(1, 'readlink /proc/$$/ns/uts');
    await c.waitEvent('steps', (e) => e.steps.some((s) => s.id === 'look' && s.status === 'pass'));
    let p: Awaited<ReturnType<typeof progress>> | null = null;
    for (let i = 0; i < 200; i++) {
      p = await progress(srv.base, cookie);
      if (p.body.lessons['sample-hostname']?.passed === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(p!.body.lessons['sample-hostname']).toEqual({ passed: 1, total: 3, live: true });

    // another tab (same cookie): the same machine, with a token that works
    const again = await open(srv.base, cookie);
    expect(again.status).toBe(201);
    expect(cookieOf(again)).toBeNull();
    expect(again.body).toMatchObject({ resumed: true, session: { id: first.body.session.id } });
    expect((await call(srv.base, 'GET', `/api/sessions/${again.body.session.id}`, { token: again.body.session.token })).status).toBe(200);
    c.close();

    // someone else: no cookie, a forged one, or another learner's session id do not reach this progress
    expect((await progress(srv.base, null)).body).toEqual({ lessons: {} });
    expect((await progress(srv.base, 'A'.repeat(43))).body).toEqual({ lessons: {} });
    const stranger = await open(srv.base, 'A'.repeat(43));
    expect(stranger.status).toBe(201);
    expect(cookieOf(stranger)).not.toBe(cookie);
    expect(stranger.body).toMatchObject({ resumed: false, restoredSteps: 0 });
    expect(stranger.body.session.id).not.toBe(first.body.session.id);
    expect((await progress(srv.base, cookieOf(stranger))).body.lessons['sample-hostname']).toMatchObject({ passed: 0 });
    // another site cannot open (and so cannot learn the session token of) the learner's machine
    expect((await open(srv.base, cookie, 'sample-hostname', { origin: 'https://evil.example' })).status).toBe(403);
    expect((await open(srv.base, cookie, 'no-such-lesson')).status).toBe(404);

    // restart on the same data: a fresh machine, the passed step already green
    await srv.close();
    const srv2 = await startClassroomServer({ dataDir: srv.dataDir });
    servers.push(srv2);
    expect((await progress(srv2.base, cookie)).body.lessons['sample-hostname']).toEqual({ passed: 1, total: 3, live: false });
    const after = await open(srv2.base, cookie);
    expect(after.status).toBe(201);
    expect(after.body).toMatchObject({ resumed: false, restoredSteps: 1 });
    const c2 = await LabClient.connect(srv2, after.body.session);
    const steps = await c2.waitEvent('steps', (e) => e.steps.length > 0);
    expect(steps.steps.find((s) => s.id === 'look')).toMatchObject({ status: 'pass' });
    c2.close();
  });
});
