/**
 * Server input hardening (docs/security.md, threat model), against the real lab server with
 * real sandboxes: a table of hostile socket messages, hostile HTTP paths and
 * bodies, another learner's ids and tokens, cross-site requests, a creation
 * flood, a client that never reads, and the security headers. Each row must
 * get a clear refusal (or be ignored) and leave the socket, the session and the
 * server usable.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLessonsPlugin } from '../../lab-server/checks/plugin.ts';
import { CloseCode, MAX_CLIENT_MESSAGE_BYTES } from '../../lab-server/contract/session-protocol.ts';
import { api, createSession, LabClient, startServer, until, type TestServer } from '../server/client.ts';
import { guardHost } from '../host-guard.ts';

// the host's /dev owners and modes and its cgroup counts are the same after this file
guardHost();

const servers: TestServer[] = [];
const start = async (...a: Parameters<typeof startServer>) => { const s = await startServer(...a); servers.push(s); return s; };
afterAll(async () => { await Promise.all(servers.map((s) => s.close())); });

/** a raw HTTP request, so the path and headers go out exactly as written */
function raw(srv: TestServer, request: string): Promise<string> {
  const port = Number(new URL(srv.base).port);
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(request));
    let out = '';
    sock.on('data', (d) => { out += d.toString('latin1'); });
    sock.on('end', () => resolve(out));
    sock.on('close', () => resolve(out));
    sock.on('error', reject);
  });
}
const rawGet = (srv: TestServer, p: string, extra = '') =>
  raw(srv, `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1:${new URL(srv.base).port}\r\nAccept: text/html,application/json\r\n${extra}Connection: close\r\n\r\n`);
const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);

type Outcome = { error: string } | { close: number } | 'ignored';
interface SocketRow { name: string; send: (c: LabClient) => void; outcome: Outcome | Outcome[] }

const json = (m: unknown) => (c: LabClient) => c.send(m);
const text = (t: string) => (c: LabClient) => c.ws.send(t);
const binary = (b: Buffer) => (c: LabClient) => c.ws.send(b);

const SOCKET_ROWS: SocketRow[] = [
  { name: 'a text frame that is not JSON', send: text('rm -rf /'), outcome: { error: 'bad-message' } },
  { name: 'a JSON array', send: text('[1,2,3]'), outcome: { error: 'bad-message' } },
  { name: 'JSON null', send: text('null'), outcome: { error: 'bad-message' } },
  { name: 'a JSON number', send: text('42'), outcome: { error: 'bad-message' } },
  { name: 'a JSON string', send: text('"hello"'), outcome: { error: 'bad-message' } },
  { name: 'an object without a type', send: json({ terminal: 1 }), outcome: { error: 'bad-message' } },
  { name: 'an unknown message type', send: json({ type: 'exec', command: 'id' }), outcome: { error: 'bad-message' } },
  { name: 'a type naming an Object.prototype member', send: json({ type: 'constructor' }), outcome: { error: 'bad-message' } },
  { name: 'type __proto__', send: text('{"type":"__proto__"}'), outcome: { error: 'bad-message' } },
  { name: 'prototype pollution through a __proto__ key', send: text('{"type":"ping","__proto__":{"nslabPolluted":true}}'), outcome: [{ error: 'bad-message' }, 'ignored'] },
  { name: 'prototype pollution through constructor.prototype', send: text('{"type":"ping","constructor":{"prototype":{"nslabPolluted":true}}}'), outcome: { error: 'bad-message' } },
  { name: 'an extra field on a known message', send: json({ type: 'open', terminal: 1, cols: 80, rows: 24, shell: '/bin/sh' }), outcome: { error: 'bad-message' } },
  { name: 'a second hello after the session is attached', send: (c) => c.send({ type: 'hello', token: 'x'.repeat(43) }), outcome: [{ error: 'bad-message' }, 'ignored'] },
  { name: 'open terminal 0', send: json({ type: 'open', terminal: 0, cols: 80, rows: 24 }), outcome: { error: 'bad-message' } },
  { name: 'open terminal 5 (above the limit)', send: json({ type: 'open', terminal: 5, cols: 80, rows: 24 }), outcome: { error: 'bad-message' } },
  { name: 'open terminal -1', send: json({ type: 'open', terminal: -1, cols: 80, rows: 24 }), outcome: { error: 'bad-message' } },
  { name: 'open terminal 1.5', send: json({ type: 'open', terminal: 1.5, cols: 80, rows: 24 }), outcome: { error: 'bad-message' } },
  { name: 'open terminal "1" (a string)', send: json({ type: 'open', terminal: '1', cols: 80, rows: 24 }), outcome: { error: 'bad-message' } },
  { name: 'open with cols 0 and rows 0', send: json({ type: 'open', terminal: 2, cols: 0, rows: 0 }), outcome: [{ error: 'bad-message' }, { error: 'bad-size' }] },
  { name: 'resize to -1 columns', send: json({ type: 'resize', terminal: 1, cols: -1, rows: 24 }), outcome: [{ error: 'bad-message' }, { error: 'bad-size' }] },
  { name: 'resize to 1e9 columns', send: json({ type: 'resize', terminal: 1, cols: 1e9, rows: 24 }), outcome: [{ error: 'bad-message' }, { error: 'bad-size' }] },
  { name: 'resize to NaN rows (null in JSON)', send: text('{"type":"resize","terminal":1,"cols":80,"rows":null}'), outcome: [{ error: 'bad-message' }, { error: 'bad-size' }] },
  { name: 'resize to 1e309 columns (Infinity)', send: text('{"type":"resize","terminal":1,"cols":1e309,"rows":24}'), outcome: [{ error: 'bad-message' }, { error: 'bad-size' }] },
  { name: 'resize to 80.5 columns', send: json({ type: 'resize', terminal: 1, cols: 80.5, rows: 24 }), outcome: [{ error: 'bad-message' }, { error: 'bad-size' }] },
  { name: 'resize to "80" columns (a string)', send: json({ type: 'resize', terminal: 1, cols: '80', rows: 24 }), outcome: [{ error: 'bad-message' }, { error: 'bad-size' }] },
  { name: 'ack of negative bytes', send: json({ type: 'ack', terminal: 1, bytes: -1e9 }), outcome: { error: 'bad-message' } },
  { name: 'ack of 2^53 bytes', send: json({ type: 'ack', terminal: 1, bytes: 2 ** 53 }), outcome: { error: 'bad-message' } },
  { name: 'ack for a terminal that was never opened', send: json({ type: 'ack', terminal: 4, bytes: 100 }), outcome: [{ error: 'bad-terminal' }, 'ignored'] },
  { name: 'close a terminal that was never opened', send: json({ type: 'close', terminal: 4 }), outcome: [{ error: 'bad-terminal' }, 'ignored'] },
  { name: 'a ping with a 10 KB id', send: json({ type: 'ping', id: 'x'.repeat(10_000) }), outcome: { error: 'bad-message' } },
  { name: 'JSON nested 30000 levels deep', send: text(`${'['.repeat(30_000)}${']'.repeat(30_000)}`), outcome: { error: 'bad-message' } },
  { name: 'a binary frame for terminal 0', send: binary(Buffer.from([0, 65, 66])), outcome: { error: 'bad-terminal' } },
  { name: 'a binary frame for terminal 255', send: binary(Buffer.from([255, 65, 66])), outcome: { error: 'bad-terminal' } },
  { name: 'an empty binary frame', send: binary(Buffer.alloc(0)), outcome: [{ error: 'bad-terminal' }, { error: 'bad-message' }, 'ignored'] },
  { name: 'a text frame that is not UTF-8', send: rawFrame(0x1, Buffer.from([0xff, 0xfe, 0x7b])), outcome: { close: 1007 } },
  { name: 'a frame just over the 64 KiB limit', send: text(`{"type":"ping","id":"${'x'.repeat(MAX_CLIENT_MESSAGE_BYTES)}"}`), outcome: { close: CloseCode.tooBig } },
  { name: 'an unknown WebSocket opcode', send: rawFrame(0x3, Buffer.from('x')), outcome: { close: 1002 } },
];

/** write one masked client frame (FIN set) straight to the TCP socket: frames `ws` itself would never send */
function rawFrame(opcode: number, payload: Buffer) {
  return (c: LabClient) => {
    const mask = Buffer.from([1, 2, 3, 4]);
    const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
    (c.ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, body]));
  };
}

describe('hostile socket messages', () => {
  let srv: TestServer;
  let session: { id: string; token: string };
  beforeAll(async () => {
    srv = await start({ createBurst: 100 });
    session = await createSession(srv);
    // terminal 1 exists, so resize/ack rows hit a real terminal
    const c = await LabClient.connect(srv, session);
    await c.open(1);
    c.close();
    await until(() => !srv.lab.sessions.get(session.id)!.hub.connected, 'the first socket to go');
  });

  for (const row of SOCKET_ROWS) {
    it(row.name, async () => {
      const c = await LabClient.connect(srv, session);
      await c.waitEvent('welcome');
      const from = c.events.length;
      row.send(c);
      const outcomes = Array.isArray(row.outcome) ? row.outcome : [row.outcome];
      const expectsClose = outcomes.find((o): o is { close: number } => typeof o === 'object' && 'close' in o);
      if (!expectsClose) c.send({ type: 'ping', id: 'after' });
      if (expectsClose) {
        expect((await c.waitClose()).code).toBe(expectsClose.close);
      } else {
        // the socket answers the ping that followed the bad message: it is still usable
        await c.waitEvent('pong', (e) => e.id === 'after', from);
        const errors = c.events.slice(from).filter((e) => e.type === 'error').map((e) => (e as { code: string }).code);
        const allowed = outcomes.map((o) => (o === 'ignored' ? null : 'error' in o ? o.error : null));
        if (errors.length === 0) expect(allowed).toContain(null);
        else expect(allowed).toContain(errors[0]);
        expect(c.closed).toBeNull();
        c.close();
      }
      // nothing leaked into the server's own objects
      expect(({} as Record<string, unknown>).nslabPolluted).toBeUndefined();
      await until(() => !srv.lab.sessions.get(session.id)!.hub.connected, 'the socket to go');
    });
  }

  it('after the whole table the session still runs commands, and the server is healthy', async () => {
    const c = await LabClient.connect(srv, session);
    await c.waitEvent('welcome');
    // terminal 1 survived the whole table and is re-attached
    await c.waitEvent('opened', (e) => e.terminal === 1 && e.reattached);
    await c.waitEvent('replay-end', (e) => e.terminal === 1);
    await c.run(1, 'echo $((6*7))');
    await c.waitScreen(1, /^42$/m);
    c.close();
    expect((await api(srv, 'GET', '/healthz')).body).toMatchObject({ ok: true });
  });
});

describe('hostile HTTP input', () => {
  let srv: TestServer;
  let plain: TestServer;
  let root: string;
  const secret = `nslab-outside-secret-${process.pid}`;
  beforeAll(async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'nslab-sec-'));
    root = path.join(base, 'web');
    mkdirSync(path.join(root, 'assets'), { recursive: true });
    writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>nslab app</title>');
    writeFileSync(path.join(root, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(path.join(base, 'secret.txt'), secret);
    srv = await start({ webRoot: root, lessons: createLessonsPlugin({ log: () => {} }), createBurst: 100 });
    plain = await start({ createBurst: 100 });
  });

  it('lesson ids with traversal, NUL, odd case or length are refused before any file is touched', async () => {
    const before = plain.lab.sessions.size;
    for (const lesson of ['../../etc/passwd', '..%2f..%2fetc%2fpasswd', '%2e%2e', 'a/../b', '..', '.', 'ok\u0000', 'x'.repeat(65), 'UPPER', '03-ipc-namespace/../../x', '', ' ', 'a\\..\\b']) {
      const r = await api(plain, 'POST', '/api/sessions', { body: { lesson } });
      expect({ lesson, status: r.status, code: r.body?.error?.code }).toEqual({ lesson, status: 400, code: 'bad-request' });
      expect(r.body.error.message).toMatch(/lesson id/);
    }
    expect(plain.lab.sessions.size).toBe(before);
  });

  it('lesson pages: traversal in the lesson id reads no file', async () => {
    for (const p of ['/api/lessons/..%2f..%2f..%2f..%2fetc%2fpasswd', '/api/lessons/%2e%2e', '/api/lessons/..', '/api/lessons/sample-hostname%00', '/api/lessons/..%5c..%5cetc%5cpasswd', '/api/lessons/%252e%252e%252fetc', '/api/lessons/sample-hostname?lang=../../etc/passwd']) {
      const res = await rawGet(srv, p);
      expect({ p, refused: [400, 404].includes(statusOf(res)) }).toEqual({ p, refused: true });
      expect(res).not.toMatch(/root:x:0:0/);
    }
  });

  it('static files: no way out of the web root (encoded, double-encoded, backslash, NUL, dot segments)', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/%2e%2e%2fsecret.txt', '/assets/..%2f..%2fsecret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/..%5csecret.txt', '/assets/%252e%252e%252f%252e%252e%252fsecret.txt', '/.%2e/secret.txt', '/index.html%00/../../secret.txt', '//secret.txt', '/assets/../../../../../../etc/passwd']) {
      const res = await rawGet(srv, p);
      expect({ p, leaked: res.includes(secret) || /root:x:0:0/.test(res) }).toEqual({ p, leaked: false });
    }
  });

  it('session ids with path tricks reach no other route', async () => {
    const s = await createSession(plain);
    for (const p of [`/api/sessions/..%2f..%2fhealthz`, `/api/sessions/${s.id}%2f..%2f..%2fmetrics`, '/api/sessions/%00', `/api/sessions/${'a'.repeat(5000)}`]) {
      const res = await rawGet(plain, p, `Authorization: Bearer ${s.token}\r\n`);
      expect({ p, clientError: statusOf(res) >= 400 && statusOf(res) < 500 }).toEqual({ p, clientError: true });
      expect(res).not.toMatch(/"ok":true|nslab_sessions/);
    }
    await api(plain, 'DELETE', `/api/sessions/${s.id}`, { token: s.token });
  });

  it('bodies: too large, not JSON, wrong type, prototype pollution', async () => {
    expect((await api(plain, 'POST', '/api/sessions', { body: JSON.stringify({ lesson: 'x', pad: 'y'.repeat(17 * 1024) }) })).status).toBe(413);
    expect((await api(plain, 'POST', '/api/sessions', { body: '{"lesson": ' })).body.error.code).toBe('bad-json');
    expect((await api(plain, 'POST', '/api/sessions', { body: 'lesson=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(400);
    const polluted = await api(plain, 'POST', '/api/sessions', { body: '{"lesson":"x","__proto__":{"nslabAdmin":true},"constructor":{"prototype":{"nslabAdmin":true}}}' });
    expect(polluted.status).toBe(400);
    expect(({} as Record<string, unknown>).nslabAdmin).toBeUndefined();
  });

  it('headers: a 64 KiB header is refused, and a forged Host cannot inject into the CSP', async () => {
    const big = await rawGet(plain, '/healthz', `X-Junk: ${'a'.repeat(64 * 1024)}\r\n`);
    expect(statusOf(big)).toBe(431);
    const forged = await raw(plain, `GET /healthz HTTP/1.1\r\nHost: evil.example; script-src *\r\nConnection: close\r\n\r\n`);
    const csp = /^content-security-policy: (.*)$/im.exec(forged)?.[1] ?? '';
    expect(csp).not.toContain('evil');
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect((await api(plain, 'GET', '/healthz')).body.ok).toBe(true);
  });

  it("another learner's session id with my token, and guessed tokens, get nothing", async () => {
    const mine = await createSession(plain);
    const theirs = await createSession(plain);
    for (const [method, p] of [['GET', ''], ['POST', '/reset'], ['DELETE', '']] as const) {
      const r = await api(plain, method, `/api/sessions/${theirs.id}${p}`, { token: mine.token });
      expect(r).toMatchObject({ status: 401, body: { error: { code: 'bad-token' } } });
    }
    // a socket to their session with my token
    const c = await LabClient.connect(plain, { id: theirs.id, token: mine.token });
    expect(await c.waitClose()).toEqual({ code: CloseCode.unauthorized, reason: 'Wrong session token.' });
    // guessing: tokens and ids carry at least 128 random bits and differ per session
    const bits = (s: string) => s.length * Math.log2(64);
    expect(bits(theirs.token)).toBeGreaterThanOrEqual(128);
    expect(theirs.token).not.toBe(mine.token);
    for (let i = 0; i < 200; i++) {
      const guess = Buffer.from(Array.from({ length: 32 }, () => Math.floor(Math.random() * 256))).toString('base64url');
      const r = await api(plain, 'GET', `/api/sessions/${theirs.id}`, { token: guess });
      expect(r.status).toBe(401);
    }
    // their session is untouched
    expect((await api(plain, 'GET', `/api/sessions/${theirs.id}`, { token: theirs.token })).status).toBe(200);
    expect(plain.logs.join('\n')).not.toContain(theirs.token);
    expect(plain.logs.join('\n')).not.toContain(mine.token);
    await Promise.all([mine, theirs].map((s) => api(plain, 'DELETE', `/api/sessions/${s.id}`, { token: s.token })));
  });

  it('cross-site requests: another Origin cannot create, reset or delete sessions, nor open a socket', async () => {
    const s = await createSession(plain);
    const evil = { origin: 'https://evil.example' };
    expect((await api(plain, 'POST', '/api/sessions', { body: { lesson: 'x' }, headers: evil })).body.error.code).toBe('bad-origin');
    expect((await api(plain, 'DELETE', `/api/sessions/${s.id}`, { token: s.token, headers: evil })).status).toBe(403);
    expect((await api(plain, 'POST', `/api/sessions/${s.id}/reset`, { token: s.token, headers: evil })).status).toBe(403);
    const c = await LabClient.connect(plain, s, { origin: 'https://evil.example' });
    expect((await c.waitClose()).code).toBe(CloseCode.badOrigin);
    expect((await api(plain, 'GET', `/api/sessions/${s.id}`, { token: s.token })).status).toBe(200);
    await api(plain, 'DELETE', `/api/sessions/${s.id}`, { token: s.token });
  });
});

describe('floods and slow clients', () => {
  it('a parallel flood of session creations from one address: a clear 429, no overshoot, everything cleaned up', async () => {
    const srv = await start({ createBurst: 4, createPerMinute: 1, maxSessions: 10 });
    const results = await Promise.all(Array.from({ length: 30 }, () => api(srv, 'POST', '/api/sessions', { body: { lesson: 'x' } })));
    const created = results.filter((r) => r.status === 201);
    const limited = results.filter((r) => r.status === 429);
    expect(created.length).toBe(4);
    expect(limited.length).toBe(26);
    for (const r of limited) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(r.body.error.message).toMatch(/Too many new sessions from your address\. Retry in \d+ s\./);
    }
    const sandboxIds = created.map((r) => srv.lab.sessions.get(r.body.id)!.sandbox.id);
    await Promise.all(created.map((r) => api(srv, 'DELETE', `/api/sessions/${r.body.id}`, { token: r.body.token })));
    expect(srv.lab.sessions.size).toBe(0);
    const backend = (await import('../server/client.ts')).realBackend;
    const live = (await backend()).list().map((s) => s.id);
    for (const id of sandboxIds) expect(live).not.toContain(id);
    expect((await api(srv, 'GET', '/healthz')).body.ok).toBe(true);
  });

  it('a client that never reads: the pty pauses, the server buffers a bounded amount, others are unaffected', async () => {
    const srv = await start({ createBurst: 100 });
    const s = await createSession(srv);
    const c = await LabClient.connect(srv, s, { ack: false });
    await c.open(1);
    // stop reading from TCP altogether (the kernel buffers fill, then the server's)
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    c.type(1, 'yes nslab-flood-never-read\r');
    const session = srv.lab.sessions.get(s.id)!;
    await until(() => session.hub.pausedCount >= 1, 'the flooding terminal to be paused');
    // a bounded backlog: what the server holds for this socket stays near the flow window
    const ws = (session.hub as unknown as { socket: { bufferedAmount: number } | null }).socket;
    expect(ws).not.toBeNull();
    expect(ws!.bufferedAmount).toBeLessThanOrEqual(4 * 1024 * 1024);
    // the flood is stopped at the source: `yes` blocks writing to its full pty (a running `yes` never sleeps)
    let blocked = false;
    for (let i = 0; i < 400 && !blocked; i++) {
      blocked = (await session.sandbox.probe.processes()).some((p) => p.comm === 'yes' && p.state === 'S');
      if (!blocked) await new Promise((r) => setTimeout(r, 25));
    }
    expect(blocked).toBe(true);
    // another learner and the server are fine meanwhile
    const other = await createSession(srv);
    const o = await LabClient.connect(srv, other);
    await o.open(1);
    await o.run(1, 'echo other-$((40+2))');
    await o.waitScreen(1, /^other-42$/m);
    expect((await api(srv, 'GET', '/healthz')).body.ok).toBe(true);
    o.close();
    c.ws.terminate();
    await api(srv, 'DELETE', `/api/sessions/${s.id}`, { token: s.token });
    await api(srv, 'DELETE', `/api/sessions/${other.id}`, { token: other.token });
  });
});

describe('security headers', () => {
  let srv: TestServer;
  beforeAll(async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'nslab-hdr-'));
    writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>nslab app</title>');
    srv = await start({ webRoot: root });
  });

  it('CSP allows what xterm.js needs and nothing more; nosniff; no framing — on pages, assets, API and errors', async () => {
    for (const p of ['/', '/lessons/x', '/index.html', '/healthz', '/api/sessions/nope', '/missing.js']) {
      const r = await fetch(`${srv.base}${p}`, { headers: { accept: 'text/html' } });
      const csp = Object.fromEntries((r.headers.get('content-security-policy') ?? '').split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
      expect({ p, script: csp['script-src'] }).toEqual({ p, script: ["'self'"] });
      // xterm.js and shiki set inline styles; nothing else is inline
      expect(csp['style-src']).toEqual(["'self'", "'unsafe-inline'"]);
      expect(csp['default-src']).toEqual(["'self'"]);
      expect(csp['object-src']).toEqual(["'none'"]);
      expect(csp['base-uri']).toEqual(["'none'"]);
      expect(csp['frame-ancestors']).toEqual(["'none'"]);
      expect(csp['connect-src']).toEqual(expect.arrayContaining(["'self'"]));
      for (const v of csp['connect-src']) expect(v).toMatch(/^('self'|wss?:\/\/127\.0\.0\.1:\d+)$/);
      expect(JSON.stringify(csp)).not.toMatch(/unsafe-eval|\*|data:[^"]*script/);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      expect(r.headers.get('x-powered-by')).toBeNull();
    }
  });
});
