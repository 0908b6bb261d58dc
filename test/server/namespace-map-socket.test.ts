/**
 * The namespace map over the session socket: nothing until `map-subscribe`, then a
 * full snapshot, a new one after a command that changed the machine, none after
 * `map-unsubscribe`, and a reconnecting socket subscribes again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLessonsPlugin } from '../../lab-server/checks/plugin.ts';
import { nsmapSnapshotSchema, type NsmapIpcContents, type NsmapSnapshot } from '../../lab-server/contract/namespace-map.ts';
import type { MapEvent } from '../../lab-server/contract/session-protocol.ts';
import { api, createSession, LabClient, startServer, type TestServer } from './client.ts';

let srv: TestServer;
beforeAll(async () => { srv = await startServer({ lessons: createLessonsPlugin({ log: () => {} }) }); });
afterAll(async () => { await srv?.close(); });

const maps = (c: LabClient) => c.events.filter((e): e is MapEvent => e.type === 'map');
const ipcNamespaces = (s: NsmapSnapshot) => s.kinds.find((k) => k.kind === 'ipc')!.namespaces;

describe('namespace map on the session socket', () => {
  it('pushes snapshots only to a subscribed socket, and a new one when a command changed the machine', async () => {
    const s = await createSession(srv, 'ipc-namespace');
    const c = await LabClient.connect(srv, s);
    try {
      await c.waitEvent('welcome');
      await c.open(1);
      await c.run(1, 'true');
      expect(maps(c)).toEqual([]);

      c.send({ type: 'map-subscribe' });
      const first = (await c.waitEvent('map', (e) => ipcNamespaces(e.snapshot).some((n) => n.terminals.includes(1)))).snapshot;
      nsmapSnapshotSchema.parse(first);
      expect(ipcNamespaces(first)).toHaveLength(1);

      const from = c.events.length;
      c.type(1, 'unshare --ipc bash\r');
      await c.waitEvent('command', (e) => e.terminal === 1 && e.kind === 'ready', from);
      await c.run(1, 'ipcmk -Q');
      const changed = (await c.waitEvent('map', (e) => ipcNamespaces(e.snapshot).some((n) => !n.own && (n.contents as NsmapIpcContents | null)?.queues.total === 1), from)).snapshot;
      expect(changed.seq).toBeGreaterThan(first.seq);
      expect(ipcNamespaces(changed).find((n) => !n.own)!.terminals).toEqual([1]);

      // unsubscribed: a change sends nothing more
      c.send({ type: 'map-unsubscribe' });
      await c.run(1, 'true'); // a round trip, so the unsubscribe has been handled
      const count = maps(c).length;
      await c.run(1, 'ipcmk -Q');
      await c.run(1, 'true');
      expect(maps(c).length).toBe(count);

      // a reconnecting socket is not subscribed until it asks; then it gets the current map at once
      c.close();
      await c.waitClose();
      const c2 = await LabClient.connect(srv, s);
      try {
        await c2.waitEvent('welcome');
        await c2.waitEvent('opened');
        expect(maps(c2)).toEqual([]);
        c2.send({ type: 'map-subscribe' });
        const again = (await c2.waitEvent('map', (e) => ipcNamespaces(e.snapshot).some((n) => (n.contents as NsmapIpcContents | null)?.queues.total === 2))).snapshot;
        expect(ipcNamespaces(again).find((n) => !n.own)!.terminals).toEqual([1]);
      } finally {
        c2.close();
      }
    } finally {
      c.close();
    }
  });

  it('a reset starts a new series for the still subscribed socket: the fresh machine, seq 1', async () => {
    const s = await createSession(srv, 'ipc-namespace');
    const c = await LabClient.connect(srv, s);
    try {
      await c.waitEvent('welcome');
      await c.open(1);
      c.send({ type: 'map-subscribe' });
      c.type(1, 'unshare --ipc bash\r');
      await c.waitEvent('map', (e) => ipcNamespaces(e.snapshot).length === 2);
      const from = c.events.length;
      expect((await api(srv, 'POST', `/api/sessions/${s.id}/reset`, { token: s.token })).status).toBe(200);
      await c.waitEvent('session-reset', undefined, from);
      const fresh = (await c.waitEvent('map', () => true, from)).snapshot;
      expect(fresh.seq).toBe(1);
      expect(ipcNamespaces(fresh)).toHaveLength(1);
    } finally {
      c.close();
    }
  });

  it('refuses a map message with extra fields like any bad message', async () => {
    const s = await createSession(srv, 'ipc-namespace');
    const c = await LabClient.connect(srv, s);
    try {
      await c.waitEvent('welcome');
      c.send({ type: 'map-subscribe', kind: 'ipc' });
      const err = await c.waitEvent('error');
      expect(err.code).toBe('bad-message');
    } finally {
      c.close();
    }
  });
});
