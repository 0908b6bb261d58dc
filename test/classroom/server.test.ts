/**
 * The classroom on a real lab server: real SQLite file, real sandboxes, real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabClient, until } from '../server/client.ts';
import {
  BoardClient, call, createWorkshop, join, openLesson, parseCsv, parseXml, SECRET, startClassroomServer, type ClassroomServer,
} from './helpers.ts';

let srv: ClassroomServer;
beforeAll(async () => { srv = await startClassroomServer({ classroom: { capacity: 45, stuckMinutes: 10 } }); });
afterAll(async () => { await srv?.close(); });

describe('instructor and learner authorization', () => {
  it('workshops need the instructor secret; a learner token is not it', async () => {
    expect((await call(srv.base, 'POST', '/api/classroom/workshops', { body: { title: 'x', lessons: ['sample-hostname'] } })).status).toBe(401);
    expect((await call(srv.base, 'POST', '/api/classroom/workshops', { token: 'wrong-secret', body: { title: 'x', lessons: ['sample-hostname'] } })).status).toBe(403);
    const w = await createWorkshop(srv.base);
    expect(w.code).toMatch(/^[2-9A-HJ-NP-Z]{6}$/);
    const a = await join(srv.base, w.code, 'Alice');
    for (const [method, p] of [
      ['GET', `/api/classroom/workshops/${w.code}`],
      ['GET', `/api/classroom/workshops/${w.code}/export?format=csv`],
      ['GET', '/api/classroom/workshops'],
      ['POST', `/api/classroom/workshops/${w.code}/close`],
    ] as const) {
      const r = await call(srv.base, method, p, { token: a.token });
      expect(r.status, `${method} ${p}`).toBe(403);
    }
    // and the board socket refuses it
    const b = await BoardClient.connect(srv.wsBase, a.token);
    expect((await b.waitClose()).code).toBe(4001);
  });

  it('unknown lessons, bad bodies and bad codes get clear errors', async () => {
    const r1 = await call(srv.base, 'POST', '/api/classroom/workshops', { token: SECRET, body: { title: 'x', lessons: ['no-such-lesson'] } });
    expect(r1.status).toBe(400);
    expect(r1.body.error.message).toMatch(/unknown lesson.*no-such-lesson/);
    const r2 = await call(srv.base, 'POST', '/api/classroom/workshops', { token: SECRET, body: { title: '', lessons: [] } });
    expect(r2.status).toBe(400);
    const w = await createWorkshop(srv.base);
    const r3 = await call(srv.base, 'POST', '/api/classroom/join', { body: { code: w.code, name: '\u0007bell' } });
    expect(r3.status).toBe(400);
    await join(srv.base, w.code, 'Zed');
    const r4 = await call(srv.base, 'POST', '/api/classroom/join', { body: { code: w.code.toLowerCase(), name: 'zed' } });
    expect(r4.status).toBe(409);
    expect(r4.body.error.code).toBe('name-taken');
    // a Cyrillic e: the same "Zed" on the board
    const r5 = await call(srv.base, 'POST', '/api/classroom/join', { body: { code: w.code, name: 'Z\u0435d' } });
    expect(r5.status).toBe(409);
    expect(r5.body.error.message).toMatch(/looks the same/);
  });

  it('a learner reaches only their own session', async () => {
    const w = await createWorkshop(srv.base);
    const a = await join(srv.base, w.code, 'Ann');
    const b = await join(srv.base, w.code, 'Ben');
    const ra = await openLesson(srv.base, a.token);
    const rb = await openLesson(srv.base, b.token);
    expect([ra.status, rb.status]).toEqual([201, 201]);
    const sa = ra.body.session;
    const sb = rb.body.session;
    // /me is always the caller's own learner
    const me = await call(srv.base, 'GET', '/api/classroom/me', { token: a.token });
    expect(me.body.learner.name).toBe('Ann');
    expect(me.body.session.id).toBe(sa.id);
    expect(JSON.stringify(me.body)).not.toContain(sb.id);
    // Ann's tokens do not open Ben's session, over HTTP or the socket
    expect((await call(srv.base, 'GET', `/api/sessions/${sb.id}`, { token: sa.token })).status).toBe(401);
    expect((await call(srv.base, 'GET', `/api/sessions/${sb.id}`, { token: a.token })).status).toBe(401);
    const c = await LabClient.connect(srv, { id: sb.id, token: sa.token });
    expect((await c.waitClose()).code).toBe(4001);
    // a made-up token is nobody
    expect((await call(srv.base, 'GET', '/api/classroom/me', { token: 'x'.repeat(43) })).status).toBe(401);
    // a lesson outside the workshop is refused
    expect((await openLesson(srv.base, a.token, 'ipc-namespace')).status).toBe(404);
  });
});

describe('joining', () => {
  it('40 learners join at once and each gets a sandbox', async () => {
    const w = await createWorkshop(srv.base, ['sample-hostname'], 'Forty');
    const names = Array.from({ length: 40 }, (_, i) => `Learner ${i + 1}`);
    const joined = await Promise.all(names.map((n) => join(srv.base, w.code, n)));
    expect(new Set(joined.map((j) => j.token)).size).toBe(40);
    const opened = await Promise.all(joined.map((j) => openLesson(srv.base, j.token)));
    expect(opened.map((r) => r.status)).toEqual(Array(40).fill(201));
    expect(new Set(opened.map((r) => r.body.session.id)).size).toBe(40);
    const board = (await call(srv.base, 'GET', `/api/classroom/workshops/${w.code}`, { token: SECRET })).body;
    expect(board.learners).toHaveLength(40);
    expect(board.learners.every((l: any) => l.admission === 'active')).toBe(true);
    expect(board.capacity.active).toBeGreaterThanOrEqual(40);
    // closing reclaims every sandbox of the workshop
    const closed = await call(srv.base, 'POST', `/api/classroom/workshops/${w.code}/close`, { token: SECRET });
    expect(closed.body.endedSessions).toBe(40);
    for (const r of opened) expect(srv.lab.sessions.get(r.body.session.id)).toBeUndefined();
    const live = new Set(srv.lab.sessions.all().map((s) => s.sandbox.id));
    expect(srv.lab.sessions.all().filter((s) => opened.some((r) => r.body.session.id === s.id))).toHaveLength(0);
    expect(live.size).toBe(srv.lab.sessions.size);
    expect((await call(srv.base, 'POST', '/api/classroom/join', { body: { code: w.code, name: 'Late' } })).status).toBe(410);
    expect((await openLesson(srv.base, joined[0].token)).status).toBe(410);
  });

  it('wrong codes and wrong instructor secrets are rate-limited per address', async () => {
    const fresh = await startClassroomServer();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 14; i++) statuses.push((await call(fresh.base, 'POST', '/api/classroom/join', { body: { code: 'ZZZZZZ', name: 'guess' } })).status);
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(404));
      expect(statuses.slice(10)).toEqual(Array(4).fill(429));
      // once limited, even a right code gets nothing: an enumerator cannot tell a hit
      const w = await createWorkshop(fresh.base);
      const r = await call(fresh.base, 'POST', '/api/classroom/join', { body: { code: w.code, name: 'real' } });
      expect(r.status).toBe(429);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      // wrong instructor secrets are limited too (then even the right one waits)
      const tries: number[] = [];
      for (let i = 0; i < 22; i++) tries.push((await call(fresh.base, 'GET', '/api/classroom/workshops', { token: `guess-${i}` })).status);
      expect(tries.slice(0, 20)).toEqual(Array(20).fill(403));
      expect(tries.slice(20)).toEqual([429, 429]);
      expect((await call(fresh.base, 'GET', '/api/classroom/workshops', { token: SECRET })).status).toBe(429);
    } finally {
      await fresh.close();
    }
  });
});

describe('capacity', () => {
  it('beyond capacity learners queue with a visible position and get in when a seat frees', async () => {
    const small = await startClassroomServer({ classroom: { capacity: 2 } });
    try {
      const w = await createWorkshop(small.base);
      const [a, b, c, d] = await Promise.all(['A', 'B', 'C', 'D'].map((n) => join(small.base, w.code, n)));
      expect((await openLesson(small.base, a.token)).status).toBe(201);
      expect((await openLesson(small.base, b.token)).status).toBe(201);
      const qc = await openLesson(small.base, c.token);
      expect(qc.status).toBe(202);
      expect(qc.body).toMatchObject({ state: 'queued', position: 1 });
      const qd = await openLesson(small.base, d.token);
      expect(qd.body).toMatchObject({ state: 'queued', position: 2 });
      expect((await call(small.base, 'GET', '/api/classroom/me', { token: d.token })).body.queuePosition).toBe(2);
      const board = (await call(small.base, 'GET', `/api/classroom/workshops/${w.code}`, { token: SECRET })).body;
      expect(board.capacity).toMatchObject({ active: 2, queued: 2, limit: 2 });
      expect(board.learners.find((l: any) => l.name === 'C')).toMatchObject({ admission: 'queued', queuePosition: 1 });
      // D may not overtake C
      await call(small.base, 'DELETE', '/api/classroom/me/session', { token: a.token });
      expect((await openLesson(small.base, d.token)).body).toMatchObject({ state: 'queued', position: 2 });
      expect((await openLesson(small.base, c.token)).status).toBe(201);
      expect((await openLesson(small.base, d.token)).body).toMatchObject({ state: 'queued', position: 1 });
    } finally {
      await small.close();
    }
  });
});

describe('queue timeouts', () => {
  it('a queued learner whose page stopped asking leaves the line', async () => {
    const small = await startClassroomServer({ classroom: { capacity: 1, queueTimeoutMs: 400 } });
    try {
      const w = await createWorkshop(small.base);
      const [a, b, c] = await Promise.all(['A', 'B', 'C'].map((n) => join(small.base, w.code, n)));
      expect((await openLesson(small.base, a.token)).status).toBe(201);
      expect((await openLesson(small.base, b.token)).body.position).toBe(1);
      expect((await openLesson(small.base, c.token)).body.position).toBe(2);
      // C keeps asking, B has gone quiet
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 150));
        await call(small.base, 'GET', '/api/classroom/me', { token: c.token });
      }
      expect((await openLesson(small.base, c.token)).body.position).toBe(1);
      // B comes back: at the end of the line
      expect((await openLesson(small.base, b.token)).body.position).toBe(2);
    } finally {
      await small.close();
    }
  });
});

describe('capacity under concurrency', () => {
  it('simultaneous requests never overshoot capacity, and queue positions are distinct', async () => {
    const small = await startClassroomServer({ classroom: { capacity: 3 } });
    try {
      const w = await createWorkshop(small.base);
      const learners = await Promise.all(Array.from({ length: 8 }, (_, i) => join(small.base, w.code, `P${i}`)));
      const results = await Promise.all(learners.map((l) => openLesson(small.base, l.token)));
      expect(results.filter((r) => r.status === 201)).toHaveLength(3);
      const positions = results.filter((r) => r.status === 202).map((r) => r.body.position).sort();
      expect(positions).toEqual([1, 2, 3, 4, 5]);
      expect((await call(small.base, 'GET', `/api/classroom/workshops/${w.code}`, { token: SECRET })).body.capacity).toMatchObject({ active: 3, queued: 5 });
    } finally {
      await small.close();
    }
  });
});

describe('live board, progress and watching', () => {
  it('the board updates live when a learner passes a step; watching is read-only', async () => {
    const w = await createWorkshop(srv.base, ['sample-hostname'], 'Live');
    const board = await BoardClient.connect(srv.wsBase);
    await board.waitMessage((m) => m.type === 'welcome', 'welcome');
    board.send({ type: 'subscribe', workshop: w.code });
    await board.waitBoard((b) => b.workshop.code === w.code && b.learners.length === 0, 'empty board');

    const a = await join(srv.base, w.code, 'Grace');
    await board.waitBoard((b) => b.learners.some((l: any) => l.name === 'Grace'), 'Grace on the board');
    const opened = await openLesson(srv.base, a.token);
    const learner = await LabClient.connect(srv, opened.body.session);
    await learner.open(1);
    await learner.run(1, 'readlink /proc/$$/ns/uts');
    const b1 = await board.waitBoard((b) => b.learners.find((l: any) => l.name === 'Grace')?.cells[0]?.status === 'pass', 'step "look" passed on the board');
    expect(b1.columns[0]).toMatchObject({ lesson: 'sample-hostname', step: 'look' });
    expect(b1.counts[0]).toBe(1);
    expect(b1.learners[0].current).toMatchObject({ lesson: 'sample-hostname', step: 'new-uts' });
    // the learner's own socket got it too
    await learner.waitEvent('steps', (e) => e.steps.some((s) => s.id === 'look' && s.status === 'pass'));

    // watch: the instructor sees the learner's terminal, replay first, then live
    board.send({ type: 'watch', learner: a.learner.id });
    await board.waitMessage((m) => m.type === 'watch-started' && m.name === 'Grace', 'watch-started');
    await until(() => board.output.get(1)?.includes('readlink'), 'replay of terminal 1 on the board');
    await learner.run(1, 'echo live-$((6*7))');
    await until(() => board.output.get(1)?.includes('live-42'), 'live output on the board');

    // and cannot type: a binary frame is refused and reaches no shell
    board.ws.send(Buffer.concat([Buffer.from([1]), Buffer.from('touch /tmp/pwned-by-board\r')]));
    await board.waitMessage((m) => m.type === 'error' && m.code === 'read-only', 'read-only refusal');
    // text messages have no input path either: unknown types are refused
    board.send({ type: 'input', terminal: 1, data: 'touch /tmp/pwned-by-board\r' });
    await board.waitMessage((m) => m.type === 'error' && m.code === 'bad-message', 'bad-message refusal');
    await learner.run(1, 'ls /tmp/pwned-by-board 2>&1; echo done-$((1+1))');
    await learner.waitScreen(1, /No such file or directory[\s\S]*done-2/);
    const sandbox = srv.lab.sessions.get(opened.body.session.id)!.sandbox;
    expect(sandbox.commands().some((e) => e.command.includes('touch'))).toBe(false);

    // the learner leaves: the watch ends, the board shows them offline
    await call(srv.base, 'DELETE', '/api/classroom/me/session', { token: a.token });
    await board.waitMessage((m) => m.type === 'watch-ended', 'watch-ended');
    await board.waitBoard((b) => b.learners[0].admission === 'offline', 'offline on the board');
    board.close();
    learner.close();
  });

  it('the watch carries the learner\'s namespace map on request, and only then', async () => {
    const w = await createWorkshop(srv.base, ['ipc-namespace'], 'Map watch');
    const board = await BoardClient.connect(srv.wsBase);
    await board.waitMessage((m) => m.type === 'welcome', 'welcome');
    board.send({ type: 'subscribe', workshop: w.code });
    const a = await join(srv.base, w.code, 'Hedy');
    const opened = await openLesson(srv.base, a.token, 'ipc-namespace');
    const learner = await LabClient.connect(srv, opened.body.session);
    await learner.open(1);
    await learner.run(1, 'true');
    await board.waitBoard((b) => b.learners.some((l: any) => l.name === 'Hedy'), 'Hedy on the board');
    const maps = () => board.messages.filter((m: any) => m.type === 'watch-map');

    // no watch, no map
    board.send({ type: 'watch-map-subscribe' });
    await board.waitMessage((m) => m.type === 'error' && m.code === 'not-watching', 'not-watching refusal');

    board.send({ type: 'watch', learner: a.learner.id });
    await board.waitMessage((m) => m.type === 'watch-started', 'watch-started');
    board.send({ type: 'watch-map-subscribe' });
    const first = await board.waitMessage((m) => m.type === 'watch-map' && m.snapshot.kinds.find((k: any) => k.kind === 'ipc').namespaces.length === 1, 'the map');
    expect(first.snapshot.kinds.find((k: any) => k.kind === 'ipc').namespaces[0].terminals).toEqual([1]);
    // the learner did not subscribe: their socket gets no map
    learner.type(1, 'unshare --ipc bash\r');
    await learner.run(1, 'ipcmk -Q');
    await board.waitMessage((m) => m.type === 'watch-map' && m.snapshot.kinds.find((k: any) => k.kind === 'ipc').namespaces.length === 2, 'the new IPC namespace on the board');
    expect(learner.events.filter((e) => e.type === 'map')).toEqual([]);

    // unsubscribed: the watch goes on, the maps stop
    board.send({ type: 'watch-map-unsubscribe' });
    // the board socket handles its messages in order: the pong says the unsubscribe is done
    board.send({ type: 'ping', id: 'after-unsubscribe' });
    await board.waitMessage((m) => m.type === 'pong' && m.id === 'after-unsubscribe', 'pong');
    const count = maps().length;
    await learner.run(1, 'ipcmk -Q');
    await learner.run(1, 'echo after-$((2+3))');
    await until(() => board.output.get(1)?.includes('after-5'), 'terminal output after the change');
    expect(maps().length).toBe(count);
    board.close();
    learner.close();
  });

  it('exports parse: CSV, JSON and JUnit XML', async () => {
    const w = await createWorkshop(srv.base, ['sample-hostname'], 'Export, "quoted" & <xml>');
    const a = await join(srv.base, w.code, '=HYPERLINK("x")');
    await join(srv.base, w.code, 'Ünïcode 名前, with comma');
    const opened = await openLesson(srv.base, a.token);
    const learner = await LabClient.connect(srv, opened.body.session);
    await learner.open(1);
    await learner.run(1, 'readlink /proc/$$/ns/uts');
    const boardHas = async () => (await call(srv.base, 'GET', `/api/classroom/workshops/${w.code}`, { token: SECRET })).body.counts[0] === 1;
    for (let i = 0; i < 200 && !(await boardHas()); i++) await new Promise((r) => setTimeout(r, 50));
    learner.close();

    // attach a grade report to the workshop
    const report = { lesson: 'sample-hostname', steps: [{ id: 'look', title: 'Look', passed: true, message: '' }], passed: 1, total: 1 };
    expect((await call(srv.base, 'POST', `/api/classroom/workshops/${w.code}/grading-runs`, { token: SECRET, body: { report, learner: '=HYPERLINK("x")', source: 'grace.txt' } })).status).toBe(201);

    const csv = await call(srv.base, 'GET', `/api/classroom/workshops/${w.code}/export?format=csv`, { token: SECRET });
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    // fetch's text() drops a BOM; the bytes on the wire must carry it
    const raw = Buffer.from(await (await fetch(`${srv.base}/api/classroom/workshops/${w.code}/export?format=csv`, { headers: { authorization: `Bearer ${SECRET}` } })).arrayBuffer());
    const rows = parseCsv(raw.toString('utf8'), { bom: true });
    expect(rows[0].slice(0, 4)).toEqual(['learner', 'joined_at', 'passed', 'total']);
    expect(rows[0]).toContain('sample-hostname/look');
    expect(rows).toHaveLength(3);
    expect(rows[1][0]).toBe('\'=HYPERLINK("x")'); // no formula injection
    expect(rows[1][rows[0].indexOf('sample-hostname/look')]).toMatch(/^pass \d{4}-/);
    expect(rows[2][0]).toBe('Ünïcode 名前, with comma');

    const json = await call(srv.base, 'GET', `/api/classroom/workshops/${w.code}/export?format=json`, { token: SECRET });
    expect(json.body.format).toBe('nslab-workshop-progress');
    expect(json.body.workshop.title).toBe('Export, "quoted" & <xml>');
    expect(json.body.learners[0].steps[0]).toMatchObject({ step: 'look', status: 'pass' });
    expect(json.body.gradingRuns[0]).toMatchObject({ learner: '=HYPERLINK("x")', source: 'grace.txt', passed: 1 });

    const xml = await call(srv.base, 'GET', `/api/classroom/workshops/${w.code}/export?format=junit`, { token: SECRET });
    // the learner who never opened the lesson has three skipped steps, not three failures
    expect(parseXml(xml.text)).toMatchObject({ root: 'testsuites', suites: 2, cases: 6 });
    expect(parseXml(xml.text).skipped).toBeGreaterThanOrEqual(3);
    expect(parseXml(xml.text).failures + parseXml(xml.text).skipped).toBe(5);
    const one = await call(srv.base, 'GET', `/api/classroom/workshops/${w.code}/export?format=junit&learner=${a.learner.id}`, { token: SECRET });
    expect(parseXml(one.text)).toMatchObject({ root: 'testsuites', suites: 1, cases: 3 });
    expect(parseXml(one.text).failures + parseXml(one.text).skipped).toBe(2);
    expect(one.headers.get('content-disposition')).toMatch(/attachment; filename="nslab-/);
  });
});

describe('board socket guards', () => {
  it('refuses other sites, missing hellos, wrong secrets, oversized and malformed messages', async () => {
    const foreign = await BoardClient.connect(srv.wsBase, SECRET, 'https://evil.example');
    expect((await foreign.waitClose()).code).toBe(4003);
    const wrong = await BoardClient.connect(srv.wsBase, 'not-the-secret');
    expect(await wrong.waitClose()).toMatchObject({ code: 4001, reason: expect.stringMatching(/secret/) });
    const binaryFirst = await BoardClient.connect(srv.wsBase, null);
    binaryFirst.ws.send(Buffer.from([1, 65]));
    expect((await binaryFirst.waitClose()).code).toBe(4001);

    const ok = await BoardClient.connect(srv.wsBase);
    await ok.waitMessage((m) => m.type === 'welcome', 'welcome');
    ok.send({ type: 'subscribe', workshop: 'ZZZZZZ' });
    await ok.waitMessage((m) => m.type === 'error' && m.code === 'unknown-workshop', 'unknown workshop');
    ok.send({ type: 'watch', learner: 'nobody' });
    await ok.waitMessage((m) => m.type === 'error' && m.code === 'not-subscribed', 'watch before subscribe');
    ok.ws.send('not json');
    await ok.waitMessage((m) => m.type === 'error' && m.code === 'bad-message', 'bad message');
    ok.ws.send('x'.repeat(64 * 1024));
    expect((await ok.waitClose()).code).toBe(1009);
  });

  it('each board can set its own stuck threshold', async () => {
    const w = await createWorkshop(srv.base);
    const a = await join(srv.base, w.code, 'Slowpoke');
    expect((await openLesson(srv.base, a.token)).status).toBe(201);
    await new Promise((r) => setTimeout(r, 50));
    const dflt = await call(srv.base, 'GET', `/api/classroom/workshops/${w.code}`, { token: SECRET });
    expect(dflt.body).toMatchObject({ stuckMinutes: 10 });
    expect(dflt.body.learners[0].stuck).toBe(false);
    const strict = await call(srv.base, 'GET', `/api/classroom/workshops/${w.code}?stuck=0`, { token: SECRET });
    expect(strict.body.learners[0].stuck).toBe(true);
    expect((await call(srv.base, 'GET', `/api/classroom/workshops/${w.code}?stuck=-1`, { token: SECRET })).status).toBe(400);
    const b = await BoardClient.connect(srv.wsBase);
    b.send({ type: 'subscribe', workshop: w.code, stuckMinutes: 0 });
    await b.waitBoard((x) => x.workshop.code === w.code && x.stuckMinutes === 0 && x.learners[0]?.stuck === true, 'stuck with threshold 0');
    b.close();
    await call(srv.base, 'DELETE', '/api/classroom/me/session', { token: a.token });
  });

  it('cannot watch a learner of another workshop', async () => {
    const w1 = await createWorkshop(srv.base);
    const w2 = await createWorkshop(srv.base);
    const a = await join(srv.base, w2.code, 'Other');
    expect((await openLesson(srv.base, a.token)).status).toBe(201);
    const b = await BoardClient.connect(srv.wsBase);
    b.send({ type: 'subscribe', workshop: w1.code });
    await b.waitBoard((x) => x.workshop.code === w1.code, 'board of w1');
    b.send({ type: 'watch', learner: a.learner.id });
    await b.waitMessage((m) => m.type === 'error' && m.code === 'no-session', 'refused');
    expect(b.output.size).toBe(0);
    b.close();
    await call(srv.base, 'DELETE', '/api/classroom/me/session', { token: a.token });
  });
});

