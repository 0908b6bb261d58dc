/**
 * The HTTP side of the lab server: sessions API, limits, health, metrics, headers,
 * the web app, the lessons plug-in. Real server, real sandboxes.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLessonsPlugin } from '../../lab-server/checks/plugin.ts';
import type { LessonsPlugin } from '../../lab-server/http/plugins.ts';
import { CloseCode } from '../../lab-server/contract/session-protocol.ts';
import { api, createSession, LabClient, realBackend, startServer, until, type TestServer } from './client.ts';

const servers: TestServer[] = [];
const start = async (...a: Parameters<typeof startServer>) => { const s = await startServer(...a); servers.push(s); return s; };
afterAll(async () => { await Promise.all(servers.map((s) => s.close())); });

/** a raw HTTP request, so that paths are sent exactly as written (fetch normalizes '..') */
function rawGet(srv: TestServer, rawPath: string): Promise<string> {
  const port = Number(new URL(srv.base).port);
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(`GET ${rawPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/html\r\nConnection: close\r\n\r\n`));
    let out = '';
    sock.on('data', (d) => { out += d.toString(); });
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

describe('sessions API', () => {
  let srv: TestServer;
  beforeAll(async () => { srv = await start({ createBurst: 100 }); });

  it('creates a session with a strong token and guards it', async () => {
    const r = await api(srv, 'POST', '/api/sessions', { body: { lesson: 'some-lesson', lang: 'ko' } });
    expect(r.status).toBe(201);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const s = r.body;
    expect(s).toMatchObject({ lesson: 'some-lesson', lang: 'ko', state: 'running', socket: `/api/sessions/${s.id}/socket`, terminals: [], lessonTerminals: 2 });
    expect(Buffer.from(s.token, 'base64url').length).toBeGreaterThanOrEqual(16); // >= 128 bits
    expect(new Date(s.expiresAt).getTime()).toBeGreaterThan(Date.now());

    const got = await api(srv, 'GET', `/api/sessions/${s.id}`, { token: s.token });
    expect(got.status).toBe(200);
    expect(got.body.token).toBeUndefined();
    expect(got.body.id).toBe(s.id);

    expect(await api(srv, 'GET', `/api/sessions/${s.id}`)).toMatchObject({ status: 401, body: { error: { code: 'missing-token' } } });
    expect(await api(srv, 'GET', `/api/sessions/${s.id}`, { token: s.token.slice(0, -1) + (s.token.endsWith('A') ? 'B' : 'A') }))
      .toMatchObject({ status: 401, body: { error: { code: 'bad-token', message: 'Wrong session token.' } } });
    expect(await api(srv, 'DELETE', `/api/sessions/${s.id}`, { token: 'nope' })).toMatchObject({ status: 401 });
    expect(await api(srv, 'GET', '/api/sessions/nosuchsession', { token: s.token })).toMatchObject({ status: 404, body: { error: { code: 'unknown-session' } } });
    expect(await api(srv, 'POST', '/api/sessions/nosuchsession/reset', { token: s.token })).toMatchObject({ status: 404 });
    expect((await api(srv, 'DELETE', `/api/sessions/${s.id}`, { token: s.token })).status).toBe(204);
    expect(srv.logs.join('\n')).not.toContain(s.token);
  });

  it('bad requests get clear errors', async () => {
    expect(await api(srv, 'POST', '/api/sessions', { body: '{nope' })).toMatchObject({ status: 400, body: { error: { code: 'bad-json' } } });
    expect(await api(srv, 'POST', '/api/sessions', { body: {} })).toMatchObject({ status: 400, body: { error: { code: 'bad-request', message: expect.stringMatching(/lesson/) } } });
    expect(await api(srv, 'POST', '/api/sessions', { body: { lesson: 'x', lang: 'fr' } })).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/lang/) } } });
    expect(await api(srv, 'POST', '/api/sessions', { body: { lesson: '../etc' } })).toMatchObject({ status: 400 });
    expect(await api(srv, 'POST', '/api/sessions', { body: { lesson: 'a', pad: 'x'.repeat(20_000) } })).toMatchObject({ status: 413, body: { error: { code: 'too-large' } } });
    expect(await api(srv, 'GET', '/api/nothing-here')).toMatchObject({ status: 404, body: { error: { code: 'not-found' } } });
    // a cross-site page cannot create sessions with the learner's browser
    expect(await api(srv, 'POST', '/api/sessions', { body: { lesson: 'x' }, headers: { origin: 'https://evil.example' } }))
      .toMatchObject({ status: 403, body: { error: { code: 'bad-origin' } } });
  });

  it('healthz and metrics', async () => {
    const s = await createSession(srv);
    const c = await LabClient.connect(srv, s);
    await c.open(1);
    await c.run(1, 'echo metered');
    const h = await api(srv, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ ok: true, backend: expect.any(String), sessions: expect.any(Number) });
    const m = await api(srv, 'GET', '/metrics');
    expect(m.headers.get('content-type')).toMatch(/^text\/plain/);
    const metric = (name: string) => Number((m.body as string).match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1]);
    expect(metric('nslab_sessions_active')).toBeGreaterThanOrEqual(1);
    expect(metric('nslab_sandboxes')).toBeGreaterThanOrEqual(1);
    expect(metric('nslab_sockets')).toBe(1);
    expect(metric('nslab_terminals_open')).toBe(1);
    expect(metric('nslab_session_create_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(metric('nslab_terminal_bytes_total\\{direction="out"\\}')).toBeGreaterThan(0);
    expect(metric('nslab_terminal_bytes_total\\{direction="in"\\}')).toBeGreaterThan(0);
    expect(m.body).toMatch(/^# TYPE nslab_session_create_seconds histogram$/m);
    expect(m.body).toMatch(/^nslab_session_create_seconds_bucket\{le="\+Inf"\} \d+$/m);
    c.close();
  });

  it('security headers on pages and API', async () => {
    for (const p of ['/healthz', '/api/sessions/x']) {
      const r = await fetch(`${srv.base}${p}`);
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self' 'unsafe-inline'");
      expect(csp).not.toMatch(/script-src[^;]*unsafe/);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
      expect(r.headers.get('x-powered-by')).toBeNull();
    }
  });
});

describe('limits', () => {
  it('a full lab answers 503 with Retry-After and a clear message, and has room again after a delete', async () => {
    const srv = await start({ maxSessions: 2, createBurst: 100 });
    const a = await createSession(srv);
    await createSession(srv);
    const full = await api(srv, 'POST', '/api/sessions', { body: { lesson: 'x' } });
    expect(full.status).toBe(503);
    const retry = Number(full.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(5);
    expect(full.body.error).toMatchObject({ code: 'full', retryAfterSeconds: retry, message: expect.stringMatching(new RegExp(`lab is full.*Retry in ${retry} s`)) });
    expect((await api(srv, 'GET', '/metrics')).body).toMatch(/^nslab_sessions_rejected_total\{reason="full"\} 1$/m);
    expect((await api(srv, 'DELETE', `/api/sessions/${a.id}`, { token: a.token })).status).toBe(204);
    expect((await api(srv, 'POST', '/api/sessions', { body: { lesson: 'x' } })).status).toBe(201);
  });

  it('parallel creations cannot overshoot the cap', async () => {
    const srv = await start({ maxSessions: 3, createBurst: 100 });
    const results = await Promise.all(Array.from({ length: 6 }, () => api(srv, 'POST', '/api/sessions', { body: { lesson: 'x' } })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 503)).toHaveLength(3);
    expect(srv.lab.sessions.size).toBe(3);
  });

  it('a session whose lesson is still attaching is counted once against the cap', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let attaching = 0;
    const lessons = {
      resolve: () => ({ id: 'x', terminals: 1 }),
      // the second session's lesson engine takes its time to attach
      attach: async () => { if (++attaching === 2) await gate; },
    };
    const srv = await start({ maxSessions: 3, createBurst: 100, lessons });
    expect((await api(srv, 'POST', '/api/sessions', { body: { lesson: 'x' } })).status).toBe(201);
    const second = api(srv, 'POST', '/api/sessions', { body: { lesson: 'x' } });
    await until(() => attaching === 2, 'the second session attaching');
    // two sessions exist, the cap is three: there is room (it was counted twice: 503)
    expect((await api(srv, 'POST', '/api/sessions', { body: { lesson: 'x' } })).status).toBe(201);
    release();
    expect((await second).status).toBe(201);
    expect(srv.lab.sessions.size).toBe(3);
  });

  it('a flood of creations from one address gets 429 with Retry-After', async () => {
    const srv = await start({ createBurst: 3, createPerMinute: 2 });
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof api>> | null = null;
    for (let i = 0; i < 6; i++) {
      const r = await api(srv, 'POST', '/api/sessions', { body: { lesson: 'x' } });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(statuses).toEqual([201, 201, 201, 429, 429, 429]);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited!.body.error).toMatchObject({ code: 'rate-limited', message: expect.stringMatching(/Too many new sessions.*Retry in \d+ s/) });
  });

  it('sockets that never say hello are capped', async () => {
    const srv = await start({ maxPendingSockets: 2, createBurst: 100 });
    const s = await createSession(srv);
    const silent = [await LabClient.connect(srv, s, { hello: false }), await LabClient.connect(srv, s, { hello: false })];
    const third = await LabClient.connect(srv, s, { hello: false });
    expect(await third.waitClose()).toEqual({ code: CloseCode.tryAgainLater, reason: 'The lab server is busy; try again in a moment.' });
    for (const c of silent) c.close();
    await Promise.all(silent.map((c) => c.waitClose()));
    const ok = await LabClient.connect(srv, s);
    await ok.waitEvent('welcome');
    ok.close();
  });

  it('idle sessions are reaped and their sandboxes destroyed', async () => {
    const backend = await realBackend();
    const srv = await start({ idleTimeoutMs: 300, inactiveTimeoutMs: 1500, reapIntervalMs: 100, createBurst: 100 });
    const idle = await createSession(srv);
    const sandboxId = srv.lab.sessions.get(idle.id)!.sandbox.id;
    const watched = await createSession(srv);
    const c = await LabClient.connect(srv, watched);
    await c.waitEvent('welcome');
    await until(() => !srv.lab.sessions.get(idle.id), 'the idle session to be reaped');
    await until(() => !backend.list().some((s) => s.id === sandboxId), 'its sandbox to be destroyed');
    expect((await api(srv, 'GET', `/api/sessions/${idle.id}`, { token: idle.token })).status).toBe(404);
    // a connected but untouched session lasts longer, is warned, then ends with a reason
    expect(srv.lab.sessions.get(watched.id)).toBeDefined();
    expect(await c.waitEvent('expiring')).toMatchObject({ reason: 'idle', inMs: expect.any(Number) });
    expect(await c.waitClose()).toEqual({ code: CloseCode.sessionEnded, reason: 'The session ended: nothing was typed for a long time.' });
    expect((await api(srv, 'GET', '/metrics')).body).toMatch(/^nslab_sessions_ended_total\{reason="idle"\} 1$/m);
  });
});

describe('web app', () => {
  let srv: TestServer;
  beforeAll(async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'nslab-web-'));
    writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>nslab app</title>');
    mkdirSync(path.join(root, 'assets'));
    writeFileSync(path.join(root, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(path.join(root, '.secret'), 'dotfile');
    srv = await start({ webRoot: root });
  });

  it('serves files, falls back to index.html for app routes, 404s missing assets', async () => {
    const index = await fetch(`${srv.base}/`);
    expect(await index.text()).toContain('nslab app');
    expect(index.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const js = await fetch(`${srv.base}/assets/app.js`);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    const route = await fetch(`${srv.base}/lessons/03-ipc-namespace`, { headers: { accept: 'text/html' } });
    expect(route.status).toBe(200);
    expect(await route.text()).toContain('nslab app');
    expect((await fetch(`${srv.base}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${srv.base}/.secret`)).status).not.toBe(200);
  });

  it('no path traversal', async () => {
    for (const p of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2f..%2fetc%2fpasswd', '/..%5c..%5cetc/passwd']) {
      const res = await rawGet(srv, p);
      expect(res).not.toMatch(/root:x:0:0/);
    }
  });

  it('without a build it says how to build', async () => {
    const other = await start({ webRoot: path.join(tmpdir(), 'nslab-no-such-build') });
    const r = await fetch(`${other.base}/`, { headers: { accept: 'text/html' } });
    expect(r.status).toBe(503);
    expect(await r.text()).toMatch(/npm run build/);
  });
});

describe('with the lessons plug-in', () => {
  it('unknown lessons are 404, known ones push step statuses over the socket', async () => {
    const lessons: LessonsPlugin = createLessonsPlugin({ log: () => {} });
    const srv = await start({ lessons, createBurst: 100 });
    expect((await api(srv, 'GET', '/api/lessons')).status).toBe(200);
    expect(await api(srv, 'POST', '/api/sessions', { body: { lesson: 'no-such-lesson' } }))
      .toMatchObject({ status: 404, body: { error: { code: 'unknown-lesson', message: 'There is no lesson "no-such-lesson".' } } });
    const s = await createSession(srv, 'sample-hostname');
    expect(s.steps?.steps.map((x) => x.id)).toEqual(['look', 'new-uts', 'check-outside']);
    const c = await LabClient.connect(srv, s);
    expect((await c.waitEvent('steps')).steps[0]).toMatchObject({ id: 'look', status: 'pending' });
    await c.open(1);
    await c.run(1, 'readlink /proc/$$/ns/uts');
    await c.waitEvent('steps', (e) => e.steps.find((x) => x.id === 'look')?.status === 'pass');
    c.close();
  });
});
