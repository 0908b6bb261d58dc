/**
 * The session socket end to end: a real lab server on loopback, real sandboxes,
 * @xterm/headless terminals as the client.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, MAX_CLIENT_MESSAGE_BYTES } from '../../lab-server/contract/session-protocol.ts';
import { api, createSession, LabClient, startServer, until, type TestServer } from './client.ts';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({ helloTimeoutMs: 1500, createBurst: 100, flow: { highWater: 256 * 1024, lowWater: 64 * 1024 } });
});
afterAll(async () => { await srv?.close(); });

describe('terminals over the socket', () => {
  it('typed commands run in the sandbox, UTF-8 both ways', async () => {
    const s = await createSession(srv);
    const c = await LabClient.connect(srv, s);
    const welcome = await c.waitEvent('welcome');
    expect(welcome).toMatchObject({ session: s.id, terminals: [], maxTerminals: 4, lessonTerminals: 2 });
    await c.open(1);
    await c.run(1, 'echo $((6*7)) > /tmp/answer; cat /tmp/answer; hostname; id -u');
    await c.waitScreen(1, /^42$[\s\S]*^nslab$[\s\S]*^0$/m);
    await c.run(1, 'echo "안녕 世界 $(printf %s 한글 | wc -c)"');
    await c.waitScreen(1, /^안녕 世界 6$/m);
    const cmd = c.events.filter((e) => e.type === 'command' && e.kind === 'cmd');
    expect(cmd.map((e) => e.type === 'command' && e.command)).toContain('echo "안녕 世界 $(printf %s 한글 | wc -c)"');
    c.close();
  });

  it('two terminals are two shells on the same machine', async () => {
    const s = await createSession(srv);
    const c = await LabClient.connect(srv, s);
    await c.open(1);
    await c.open(2, 80, 24);
    await c.run(1, 'echo "from one" > /tmp/shared; echo "shell1=$$"');
    const pid1 = (await c.waitScreen(1, /^shell1=\d+$/m)).match(/^shell1=(\d+)$/m)![1];
    await c.run(2, 'cat /tmp/shared; echo "shell2=$$"; ps -o pid= -p ' + pid1 + ' >/dev/null && echo "sees-shell1"');
    const screen2 = await c.waitScreen(2, /sees-shell1/);
    expect(screen2).toMatch(/^from one$/m);
    expect(screen2.match(/^shell2=(\d+)$/m)![1]).not.toBe(pid1);
    expect(c.screen(1)).not.toMatch(/sees-shell1/);
    c.close();
  });

  it('a reconnect re-attaches to the same shells and replays what was missed', async () => {
    const s = await createSession(srv);
    const a = await LabClient.connect(srv, s);
    await a.open(1);
    await a.run(1, 'echo "pid=$$"; echo before-reload');
    const pid = (await a.waitScreen(1, /^pid=\d+$/m)).match(/^pid=(\d+)$/m)![1];
    // output produced while nobody is connected
    a.type(1, 'sleep 1; echo while-away-$((400+56))\r');
    a.close();
    await a.waitClose();
    await new Promise((r) => setTimeout(r, 1500));
    const b = await LabClient.connect(srv, s);
    const welcome = await b.waitEvent('welcome');
    expect(welcome.terminals.map((t) => t.terminal)).toEqual([1]);
    expect(await b.waitEvent('opened')).toMatchObject({ terminal: 1, reattached: true });
    expect((await b.waitEvent('replay-start')).bytes).toBeGreaterThan(0);
    await b.waitEvent('replay-end');
    const replayed = await b.waitScreen(1, /while-away-456/);
    expect(replayed).toMatch(/before-reload/);
    await b.run(1, 'echo "again=$$"');
    await b.waitScreen(1, new RegExp(`^again=${pid}$`, 'm'));
    b.close();
  });

  it('a flood is throttled by flow control, the pty pauses, and another session stays responsive', async () => {
    const flood = await createSession(srv);
    const other = await createSession(srv);
    const f = await LabClient.connect(srv, flood, { ack: false });
    await f.open(1);
    f.type(1, 'yes nslab-flood\r');
    const session = srv.lab.sessions.get(flood.id)!;
    const term = session.hub.terminal(1)!;
    await until(() => term.paused, 'the flooding pty to be paused');
    const high = 256 * 1024;
    // bounded: at most highWater unacked, plus the rest of the flush that crossed it, plus
    // what the pty had already delivered when it was paused (each at most one 64 KiB frame)
    const bound = high + 3 * 64 * 1024;
    await new Promise((r) => setTimeout(r, 500));
    const received = f.received.get(1)!;
    await new Promise((r) => setTimeout(r, 500));
    expect(f.received.get(1)!).toBe(received); // nothing more while paused
    expect(received).toBeLessThanOrEqual(bound);
    expect(term.unacked).toBeLessThanOrEqual(bound);
    expect(term.buffered).toBeLessThanOrEqual(64 * 1024);
    expect(term.scrollback.size).toBeLessThanOrEqual(256 * 1024);

    // another learner is not frozen by it
    const o = await LabClient.connect(srv, other);
    await o.open(1);
    await o.run(1, 'echo still-responsive');
    await o.waitScreen(1, /^still-responsive$/m);

    // Ctrl-C reaches the paused program; acking lets the rest through and the prompt returns
    f.type(1, '\x03');
    f.send({ type: 'ack', terminal: 1, bytes: f.received.get(1)! });
    const from = f.events.length;
    let acked = f.received.get(1)!;
    await until(() => {
      const r = f.received.get(1)!;
      if (r > acked) { f.send({ type: 'ack', terminal: 1, bytes: r - acked }); acked = r; }
      return f.events.slice(from).some((e) => e.type === 'command' && e.terminal === 1 && e.kind === 'cmd');
    }, 'yes to be interrupted');
    expect(term.paused).toBe(false);
    f.close();
    o.close();
  });

  it('an acking client gets a big output completely and in order', async () => {
    const s = await createSession(srv);
    const c = await LabClient.connect(srv, s);
    await c.open(1);
    await c.run(1, 'seq 1 200000 | tail -c 5000000 >/dev/null; seq 1 60000; echo END-OF-SEQ');
    await c.waitScreen(1, /^END-OF-SEQ$/m);
    const lines = c.screen(1).split('\n');
    const i = lines.indexOf('60000');
    expect(i).toBeGreaterThan(0);
    // the last 4000 numbers are in the client's scrollback without a gap
    expect(lines.slice(i - 3999, i + 1)).toEqual(Array.from({ length: 4000 }, (_, k) => String(56001 + k)));
    c.close();
  });

  it('input to a program that never reads it is bounded, with a clear error', async () => {
    const s = await createSession(srv);
    const c = await LabClient.connect(srv, s);
    await c.open(1);
    c.type(1, 'sleep 600\r');
    await new Promise((r) => setTimeout(r, 300));
    const chunk = 'a'.repeat(60 * 1024);
    for (let i = 0; i < 40; i++) c.type(1, chunk);
    const e = await c.waitEvent('error', (x) => x.code === 'input-overflow');
    expect(e).toMatchObject({ terminal: 1, message: expect.stringMatching(/not reading its input/) });
    expect(c.events.filter((x) => x.type === 'error' && x.code === 'input-overflow')).toHaveLength(1);
    // closing the terminal gets the learner out
    c.send({ type: 'close', terminal: 1 });
    await c.waitEvent('exited', (x) => x.terminal === 1);
    await c.open(1);
    await c.run(1, 'echo fine');
    await c.waitScreen(1, /^fine$/m);
    c.close();
  });

  it('resize: bounds are enforced, good sizes reach the shell', async () => {
    const s = await createSession(srv);
    const c = await LabClient.connect(srv, s);
    await c.open(1);
    c.send({ type: 'resize', terminal: 1, cols: 100000, rows: 24 });
    expect(await c.waitEvent('error')).toMatchObject({ code: 'bad-size', terminal: 1 });
    c.send({ type: 'open', terminal: 2, cols: 0, rows: 0 });
    expect(await c.waitEvent('error', (e) => e.terminal === 2)).toMatchObject({ code: 'bad-size' });
    c.send({ type: 'resize', terminal: 1, cols: 123, rows: 45 });
    await c.waitEvent('resized', (e) => e.cols === 123);
    await c.run(1, 'stty size');
    await c.waitScreen(1, /^45 123$/m);
    c.close();
  });

  it('malformed messages get clear errors and the socket stays usable', async () => {
    const s = await createSession(srv);
    const c = await LabClient.connect(srv, s);
    await c.waitEvent('welcome');
    c.send('not json');
    expect(await c.waitEvent('error', (e) => e.code === 'bad-message')).toMatchObject({ message: expect.stringMatching(/JSON/) });
    c.send({ type: 'explode' });
    await until(() => c.events.filter((e) => e.type === 'error' && e.code === 'bad-message').length === 2, 'second error');
    c.type(3, 'echo hi\r');
    expect(await c.waitEvent('error', (e) => e.code === 'bad-terminal')).toMatchObject({ message: 'terminal 3 is not open' });
    c.ws.send(Buffer.from([9, 65]));
    await until(() => c.events.filter((e) => e.type === 'error' && e.code === 'bad-terminal').length === 2, 'frame for terminal 9 refused');
    c.send({ type: 'ping', id: 'p1' });
    expect(await c.waitEvent('pong')).toEqual({ type: 'pong', id: 'p1' });
    expect(c.closed).toBeNull();
    // endless garbage is cut off
    for (let i = 0; i < 25; i++) c.send('garbage');
    expect(await c.waitClose()).toEqual({ code: CloseCode.policy, reason: 'Too many malformed messages.' });
  });

  it('an oversized frame closes the socket with 1009', async () => {
    const s = await createSession(srv);
    const c = await LabClient.connect(srv, s);
    await c.waitEvent('welcome');
    c.ws.send(Buffer.alloc(MAX_CLIENT_MESSAGE_BYTES + 1024, 1));
    expect((await c.waitClose()).code).toBe(CloseCode.tooBig);
    // the session itself is fine
    const again = await LabClient.connect(srv, s);
    await again.waitEvent('welcome');
    again.close();
  });

  it('bad tokens, bad origins, unknown sessions and silent clients are refused with reasons', async () => {
    const s = await createSession(srv);
    const refused = async (o: Parameters<typeof LabClient.connect>[2], target: { id: string; token: string } = s) => {
      const c = await LabClient.connect(srv, target, o);
      const closed = await c.waitClose();
      expect(c.events).toEqual([]); // nothing but the close frame
      return closed;
    };
    expect(await refused({ token: 'x'.repeat(43) })).toEqual({ code: CloseCode.unauthorized, reason: 'Wrong session token.' });
    expect(await refused({ token: null })).toEqual({ code: CloseCode.unauthorized, reason: 'Missing session token.' });
    expect(await refused({ queryToken: 'nope', token: null })).toEqual({ code: CloseCode.unauthorized, reason: 'Wrong session token.' });
    expect((await refused({ origin: 'https://evil.example' })).code).toBe(CloseCode.badOrigin);
    expect((await refused({}, { id: 'doesnotexist', token: s.token })).code).toBe(CloseCode.unknownSession);
    expect((await refused({ hello: false })).reason).toMatch(/No hello within/);
    // the right origin and a token in the query work
    const ok = await LabClient.connect(srv, s, { origin: srv.base, queryToken: s.token, token: null });
    await ok.waitEvent('welcome');
    ok.close();
    // tokens never reach the logs
    expect(srv.logs.join('\n')).not.toContain(s.token);
  });

  it('paths other than a session socket get no WebSocket', async () => {
    const ws = new WebSocket(`${srv.wsBase}/api/elsewhere`);
    const err = await new Promise<Error>((r) => ws.once('error', r));
    expect(err.message).toMatch(/404/);
  });

  it('a second socket takes over the session; the first is told why', async () => {
    const s = await createSession(srv);
    const a = await LabClient.connect(srv, s);
    await a.waitEvent('welcome');
    const b = await LabClient.connect(srv, s);
    await b.waitEvent('welcome');
    expect(await a.waitClose()).toEqual({ code: CloseCode.replaced, reason: 'This session was opened in another window or tab.' });
    b.close();
  });

  it('reset gives a fresh machine; delete ends the session and closes its socket', async () => {
    const s = await createSession(srv);
    const c = await LabClient.connect(srv, s);
    await c.open(1);
    await c.run(1, 'touch /root/marker; ls /root');
    await c.waitScreen(1, /marker/);
    const from = c.events.length;
    const r = await api(srv, 'POST', `/api/sessions/${s.id}/reset`, { token: s.token });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: s.id, state: 'running', terminals: [] });
    await c.waitEvent('session-reset', undefined, from);
    // a reset on purpose is not reported as the sandbox dying, nor the shell as exiting
    expect(c.events.slice(from).filter((e) => e.type === 'sandbox-died' || e.type === 'exited')).toEqual([]);
    await c.open(1);
    await c.run(1, 'ls -a /root; echo listed');
    const screen = await c.waitScreen(1, /^listed$/m);
    expect(screen.slice(screen.lastIndexOf('ls -a /root'))).not.toMatch(/marker/);

    const d = await api(srv, 'DELETE', `/api/sessions/${s.id}`, { token: s.token });
    expect(d.status).toBe(204);
    expect(await c.waitClose()).toEqual({ code: CloseCode.sessionEnded, reason: 'The session was closed.' });
    expect((await api(srv, 'GET', `/api/sessions/${s.id}`, { token: s.token })).status).toBe(404);
  });

  it('a sandbox dying under the session is reported, and reset brings it back', async () => {
    const s = await createSession(srv);
    const c = await LabClient.connect(srv, s);
    await c.open(1);
    await srv.lab.sessions.get(s.id)!.sandbox.destroy();
    expect(await c.waitEvent('sandbox-died')).toMatchObject({ reason: expect.any(String) });
    await c.waitEvent('exited', (e) => e.terminal === 1);
    c.send({ type: 'open', terminal: 1, cols: 80, rows: 24 });
    expect(await c.waitEvent('error', (e) => e.code === 'sandbox-dead')).toMatchObject({ message: expect.stringMatching(/Reset/) });
    expect((await api(srv, 'GET', `/api/sessions/${s.id}`, { token: s.token })).body.state).toBe('dead');
    expect((await api(srv, 'POST', `/api/sessions/${s.id}/reset`, { token: s.token })).status).toBe(200);
    await c.open(1);
    await c.run(1, 'echo alive-again');
    await c.waitScreen(1, /^alive-again$/m);
    c.close();
  });
});
