/**
 * The instructor stays signed in: the secret is traded once for an HttpOnly cookie
 * that opens the API and the board socket from any tab, and can be revoked (sign
 * out, sign out everywhere, a new secret). Real server, real SQLite.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstructorSessions } from '../../lab-server/classroom/instructor-sessions.ts';
import { until } from '../server/client.ts';
import { call, SECRET, startClassroomServer, type ClassroomServer } from './helpers.ts';

let srv: ClassroomServer;
beforeAll(async () => { srv = await startClassroomServer(); });
afterAll(async () => { await srv?.close(); });

async function signIn(): Promise<string> {
  const r = await call(srv.base, 'POST', '/api/classroom/instructor/session', { token: SECRET });
  expect(r.status).toBe(204);
  const set = r.headers.get('set-cookie')!;
  expect(set).toMatch(/HttpOnly/);
  expect(set).toMatch(/SameSite=Strict/);
  expect(set).toMatch(/Path=\/api/);
  return /nslab_instructor=([^;]+)/.exec(set)![1];
}
const asCookie = (cookie: string) => ({ cookie: `nslab_instructor=${cookie}` });

async function boardHello(cookie: string | null): Promise<{ welcome: boolean; close: number | null }> {
  const ws = new WebSocket(`${srv.wsBase}/api/classroom/socket`, { headers: cookie ? asCookie(cookie) : {} });
  const got: string[] = [];
  let close: number | null = null;
  ws.on('message', (d) => got.push(JSON.parse(d.toString()).type));
  ws.on('close', (c) => { close = c; });
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  ws.send(JSON.stringify({ type: 'hello' }));
  await until(() => got.includes('welcome') || close !== null, 'welcome or close');
  const r = { welcome: got.includes('welcome'), close };
  ws.close();
  return r;
}

describe('instructor sign-in', () => {
  it('the cookie opens the API and the board socket; a missing or forged one does not', async () => {
    const cookie = await signIn();
    expect((await call(srv.base, 'GET', '/api/classroom/workshops', { headers: asCookie(cookie) })).status).toBe(200);
    expect((await call(srv.base, 'POST', '/api/classroom/workshops', { headers: asCookie(cookie), body: { title: 'By cookie', lessons: ['sample-hostname'] } })).status).toBe(201);
    expect((await call(srv.base, 'GET', '/api/classroom/workshops')).status).toBe(401);
    expect((await call(srv.base, 'GET', '/api/classroom/workshops', { headers: asCookie('A'.repeat(43)) })).status).toBe(401);
    // the cookie cannot mint more cookies: that takes the secret
    expect((await call(srv.base, 'POST', '/api/classroom/instructor/session', { headers: asCookie(cookie) })).status).toBe(400);
    // another site cannot use the instructor's browser to change anything
    expect((await call(srv.base, 'POST', '/api/classroom/workshops', { headers: { ...asCookie(cookie), origin: 'https://evil.example' }, body: { title: 'x', lessons: ['sample-hostname'] } })).status).toBe(403);
    // the database keeps a hash, never the cookie
    const db = (srv.setup.classroom.store as unknown as { db: import('better-sqlite3').Database }).db;
    expect(JSON.stringify(db.prepare('SELECT * FROM instructor_sessions').all())).not.toContain(cookie);

    expect(await boardHello(cookie)).toEqual({ welcome: true, close: null });
    expect((await boardHello(null)).close).toBe(4001);
  });

  it('sign out ends this browser; sign out everywhere ends them all', async () => {
    const a = await signIn();
    const b = await signIn();
    const out = await call(srv.base, 'DELETE', '/api/classroom/instructor/session', { headers: asCookie(a) });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/nslab_instructor=;.*Max-Age=0/);
    expect((await call(srv.base, 'GET', '/api/classroom/instructor', { headers: asCookie(a) })).status).toBe(401);
    expect((await call(srv.base, 'GET', '/api/classroom/instructor', { headers: asCookie(b) })).status).toBe(200);
    const c = await signIn();
    // signing everyone out takes an instructor
    expect((await call(srv.base, 'DELETE', '/api/classroom/instructor/session?everywhere=1')).status).toBe(401);
    expect((await call(srv.base, 'DELETE', '/api/classroom/instructor/session?everywhere=1', { headers: asCookie(c) })).status).toBe(204);
    for (const x of [b, c]) expect((await call(srv.base, 'GET', '/api/classroom/instructor', { headers: asCookie(x) })).status).toBe(401);
    expect((await boardHello(b)).close).toBe(4001);
  });

  it('a new instructor secret voids the sign-ins made with the old one; old sign-ins expire', async () => {
    const store = srv.setup.classroom.store;
    let now = 1_000_000;
    const old = new InstructorSessions(store, 'old-secret-0123456789', { now: () => now, maxAgeMs: 60_000 });
    const cookie = /nslab_instructor=([^;]+)/.exec(await old.signIn(false))![1];
    const req = { headers: asCookie(cookie) } as never;
    expect(await old.signedIn(req)).toBe(true);
    expect(await new InstructorSessions(store, 'new-secret-0123456789', { now: () => now }).signedIn(req)).toBe(false);
    now += 61_000;
    expect(await old.signedIn(req)).toBe(false);
    // a new sign-in clears the rows that can never be valid again (expired, or of another secret)
    const db = (store as unknown as { db: import('better-sqlite3').Database }).db;
    const count = () => (db.prepare('SELECT count(*) AS n FROM instructor_sessions WHERE created_at <= ?').get(now) as { n: number }).n;
    expect(count()).toBeGreaterThan(0);
    await new InstructorSessions(store, 'new-secret-0123456789', { now: () => now, maxAgeMs: 60_000 }).signIn(false);
    expect(count()).toBe(1);
  });
});
