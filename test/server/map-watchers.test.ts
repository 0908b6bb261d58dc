/**
 * The namespace map with two kinds of viewers: the learner's socket and read-only
 * watchers (the instructor's board). The engine builds the map while either looks;
 * each gets what it asked for, and one does not hide the map from the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLessonsPlugin } from '../../lab-server/checks/plugin.ts';
import type { NsmapSnapshot } from '../../lab-server/contract/namespace-map.ts';
import type { MapEvent } from '../../lab-server/contract/session-protocol.ts';
import { MapSubscription } from '../../lab-server/terminal/map-subscription.ts';
import { createSession, LabClient, startServer, type TestServer } from './client.ts';

const snap = (seq: number) => ({ seq }) as unknown as NsmapSnapshot;

describe('MapSubscription', () => {
  it('is wanted while the socket or any watcher looks, and tells its listeners only on a change', () => {
    const toSocket: number[] = [];
    const m = new MapSubscription((s) => toSocket.push(s.seq));
    const wanted: boolean[] = [];
    m.onWanted((w) => wanted.push(w));

    const toBoard: number[] = [];
    const stopBoard = m.watch((s) => toBoard.push(s.seq));
    expect([m.wanted, m.subscribed, wanted]).toEqual([true, false, [true]]);
    // the socket subscribing too changes nothing for the engine, but it is subscribed now
    m.set(true);
    expect([m.subscribed, wanted]).toEqual([true, [true]]);
    m.push(snap(1));
    expect([toSocket, toBoard]).toEqual([[1], [1]]);

    // a second watcher gets the last snapshot at once
    const late: number[] = [];
    const stopLate = m.watch((s) => late.push(s.seq));
    expect(late).toEqual([1]);

    stopBoard();
    stopLate();
    expect([m.wanted, wanted]).toEqual([true, [true]]);
    m.push(snap(2));
    expect([toSocket, toBoard, late]).toEqual([[1, 2], [1], [1]]);
    m.set(false);
    expect([m.wanted, wanted]).toEqual([false, [true, false]]);
    // stopping twice is harmless
    stopBoard();
    expect(wanted).toEqual([true, false]);
  });

  it('a watcher that throws does not stop the others', () => {
    const m = new MapSubscription(() => {}, () => {});
    const got: number[] = [];
    m.watch(() => { throw new Error('broken board'); });
    m.watch((s) => got.push(s.seq));
    m.push(snap(3));
    expect(got).toEqual([3]);
  });
});

describe('a watcher and the learner\'s socket on a real session', () => {
  let srv: TestServer;
  beforeAll(async () => { srv = await startServer({ lessons: createLessonsPlugin({ log: () => {} }) }); });
  afterAll(async () => { await srv?.close(); });

  it('the learner\'s map-subscribe still answers while the board already watches the map', async () => {
    const s = await createSession(srv, 'ipc-namespace');
    const c = await LabClient.connect(srv, s);
    try {
      await c.waitEvent('welcome');
      await c.open(1);
      await c.run(1, 'true');
      const session = srv.lab.sessions.get(s.id)!;
      const board: NsmapSnapshot[] = [];
      const stop = session.hub.map.watch((snapshot) => board.push(snapshot));
      await expect.poll(() => board.length, { timeout: 30_000 }).toBeGreaterThan(0);
      // the board's watch sends the learner nothing they did not ask for
      expect(c.events.filter((e) => e.type === 'map')).toEqual([]);

      c.send({ type: 'map-subscribe' });
      const first = (await c.waitEvent('map') as MapEvent).snapshot;
      expect(first.kinds.find((k) => k.kind === 'ipc')!.namespaces[0]!.terminals).toEqual([1]);

      // the board stops; the learner's socket keeps getting news
      stop();
      const from = c.events.length;
      c.type(1, 'unshare --ipc bash\r');
      await c.waitEvent('command', (e) => e.terminal === 1 && e.kind === 'ready', from);
      await c.run(1, 'ipcmk -Q');
      await c.waitEvent('map', (e) => e.snapshot.kinds.find((k) => k.kind === 'ipc')!.namespaces.length === 2, from);
    } finally {
      c.close();
    }
  });
});
