/**
 * Soak: sessions created and destroyed in waves against a real `nslab serve` (child
 * process: classroom store, lesson engine, warm pool), over HTTP and the session
 * socket, with terminals doing real work; afterwards nothing may be left.
 *
 *   npm test          the short version: 3 waves of 4 sessions, light work
 *   npm run soak      NSLAB_SOAK=full: 10 waves of 10 sessions (100), more work per terminal
 *   NSLAB_SOAK_WAVES / NSLAB_SOAK_SESSIONS override the sizes
 *
 * Each session (lessons rotate through sample-hostname, ipc-namespace and
 * process-isolation, so the check engines run too) opens two terminals. Terminal 1
 * compiles and runs a C program that creates System V queue, shared memory and
 * semaphore objects and a POSIX queue and leaves them there, uses ipcmk/ipcs,
 * `unshare --ipc`, and starts background processes that try to outlive the session
 * (`setsid nohup sleep`, a sleep in a nested pid namespace). Terminal 2 prints a few
 * hundred KB (more than the scrollback in the full run). Sessions end in every way a
 * session can: DELETE while the socket is open, the socket closed or dropped and the
 * idle reaper ending it, a reset first, `kill -9 -1` first, and classroom learners
 * leaving through the classroom API.
 *
 * Afterwards, with the server still running:
 * - every sandbox the server ever owned, except the warm pool's, is gone from the
 *   host: no process (by uid range and cgroup), no cgroup in any v1 hierarchy or the
 *   unified one, no mount, no sandbox/crun/uid-range file; processes that only finish
 *   their exit (zombies for the host's PID 1, known gap 3) must drain too;
 * - the host's IPC objects (System V, POSIX queues) and nsfs mounts are as before;
 * - the server's open fds and live child processes are back to the baseline (+2 fds);
 * - its memory after a forced full GC (V8 inspector) is back near the baseline:
 *   heap + array buffers within 6 MiB + 64 KiB per session, RSS within 64 MiB + 512
 *   KiB per session (see MEMORY below for why these bounds);
 * - /metrics shows no session, socket or terminal;
 * then a SIGTERM stop leaves nothing of the pool either.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call, createWorkshop, join, openLesson, SECRET } from '../classroom/helpers.ts';
import { LabClient, until, type TestServer } from '../server/client.ts';
import {
  children, fdCount, fdKinds, hardLeftovers, hostIpc, leftovers, ownedSandboxes, reapOwned, rssBytes, SandboxRecorder, serve, waitExited, type ServeProcess,
} from './host.ts';
import { guardHost } from '../host-guard.ts';

// the host's /dev owners and modes and its cgroup counts are the same after this file
guardHost();

const FULL = process.env.NSLAB_SOAK === 'full';
const WAVES = Number(process.env.NSLAB_SOAK_WAVES ?? (FULL ? 10 : 4));
const PER_WAVE = Number(process.env.NSLAB_SOAK_SESSIONS ?? (FULL ? 10 : 6));
/** rounds of the terminal-1 work and lines printed in terminal 2 */
const ROUNDS = FULL ? 3 : 1;
const LINES = FULL ? 12_000 : 6_000;
const POOL = 2;
const LESSONS = ['sample-hostname', 'ipc-namespace', 'process-isolation'];
/** how sessions end, cycled through every wave (offset per wave so each slot sees each mode) */
const MODES = ['delete', 'idle', 'classroom', 'reset', 'kill', 'drop'] as const;
type Mode = (typeof MODES)[number];

/**
 * MEMORY. What one leaked session would keep: its hub with two terminals, each with a
 * scrollback of what terminal 2 printed (LINES x ~45 bytes, up to 256 KiB) plus the
 * lesson engine's state; so >= ~150 KiB of heap + array buffers per session here. The
 * bound (6 MiB + 64 KiB per session) is under half of that for every session, so
 * leaking even a fraction of them fails, while the fixed 6 MiB absorbs what a
 * long-running V8 heap legitimately grows by (compiled code, inline caches, lazily
 * loaded modules after the warm-up). RSS is looser (64 MiB + 512 KiB per session):
 * malloc and V8 keep freed pages for reuse, so RSS only shows gross leaks (native
 * memory, pty buffers) and is mostly reported.
 */
const HEAP_SLACK = 2 * 1024 * 1024;
const HEAP_PER_SESSION = 32 * 1024;
const RSS_SLACK = 64 * 1024 * 1024;
const RSS_PER_SESSION = 512 * 1024;
/** fds the server may hold more than at the baseline (a keep-alive HTTP connection of ours, sqlite WAL) */
const FD_SLACK = 2;

const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

// a C program that leaves IPC objects of every kind behind in the sandbox's IPC namespace
const C_SOURCE = `#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
int main(void) {
  struct { long type; char text[32]; } m = { 1, "soak" };
  int q = msgget(IPC_PRIVATE, 0600 | IPC_CREAT);
  int sent = msgsnd(q, &m, sizeof m.text, 0);
  int shm = shmget(IPC_PRIVATE, 1 << 20, 0600 | IPC_CREAT);
  int sem = semget(IPC_PRIVATE, 4, 0600 | IPC_CREAT);
  struct mq_attr a = { .mq_maxmsg = 4, .mq_msgsize = 64 };
  mqd_t mq = mq_open("/soak", O_CREAT | O_RDWR, 0600, &a);
  int ok = q >= 0 && sent == 0 && shm >= 0 && sem >= 0 && mq != (mqd_t)-1;
  printf("soak-c %s\\n", ok ? "ok" : "FAILED");
  return !ok;
}
`;
const C_B64 = Buffer.from(C_SOURCE).toString('base64');

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nslab-soak-'));
let server: ServeProcess | null = null;

afterAll(async () => {
  if (server) {
    await server.stop();
    await reapOwned(server.pid);
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const srvOf = (s: ServeProcess) => ({ base: s.base, wsBase: s.wsBase }) as TestServer;

async function metrics(s: ServeProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`${s.base}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const l of text.split('\n')) {
    const m = /^(nslab_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(l);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

async function healthz(s: ServeProcess): Promise<{ sessions: number; sandboxes: number }> {
  return (await fetch(`${s.base}/healthz`)).json();
}

/** the work one session's terminals do; throws if any of it did not happen */
async function work(c: LabClient): Promise<void> {
  await c.open(1);
  await c.open(2);
  // terminal 2 prints while terminal 1 compiles
  const loop = c.run(2, `for i in $(seq 1 ${LINES}); do echo "soak line $i $RANDOM$RANDOM$RANDOM$RANDOM"; done; echo "loop-done $((${LINES}*1))"`);
  await c.run(1, `echo ${C_B64} | base64 -d > /tmp/soak.c && gcc -O0 -o /tmp/soak /tmp/soak.c`);
  for (let r = 0; r < ROUNDS; r++) {
    await c.run(1, '/tmp/soak; ipcmk -Q >/dev/null; ipcmk -M 4096 >/dev/null; echo "ipc-here=$(ipcs | grep -c 0x)"');
    await c.run(1, `unshare --ipc sh -c 'ipcmk -Q >/dev/null; echo "ipc-new-ns=$(ipcs | grep -c 0x)"'`);
  }
  // processes that try to outlive the session
  await c.run(1, 'setsid nohup sleep 3600 >/dev/null 2>&1 & unshare --pid --fork --mount-proc sleep 3600 & echo bg-started');
  await loop;
  const s1 = await c.waitScreen(1, /^bg-started$/m);
  expect(s1.match(/^soak-c ok$/gm)?.length ?? 0, s1).toBe(ROUNDS);
  expect(s1.match(/^ipc-new-ns=1$/gm)?.length ?? 0, s1).toBe(ROUNDS);
  expect(s1).toMatch(/^ipc-here=[1-9]\d*$/m);
  await c.waitScreen(2, new RegExp(`^loop-done ${LINES}$`, 'm'));
}

interface Ended { mode: Mode; ms: number }

/** one session from creation to its end, in the given way */
async function oneSession(s: ServeProcess, workshop: string, name: string, lesson: string, mode: Mode): Promise<Ended> {
  const t0 = Date.now();
  let session: { id: string; token: string };
  let learnerToken = '';
  if (mode === 'classroom') {
    learnerToken = (await join(s.base, workshop, name)).token;
    const opened = await openLesson(s.base, learnerToken, lesson);
    if (opened.status !== 201) throw new Error(`classroom session for ${name}: ${opened.status} ${JSON.stringify(opened.body)}`);
    session = opened.body.session;
  } else {
    // a full lab answers 503 with Retry-After: wait as the page would
    for (;;) {
      const r = await call(s.base, 'POST', '/api/sessions', { body: { lesson, lang: 'en' } });
      if (r.status === 201) { session = r.body; break; }
      if (r.status !== 503 && r.status !== 429) throw new Error(`create session: ${r.status} ${r.text}`);
      await new Promise((res) => setTimeout(res, 500));
    }
  }
  const c = await LabClient.connect(srvOf(s), session);
  await work(c);
  const auth = { token: session.token };
  switch (mode) {
    case 'delete': {
      expect((await call(s.base, 'DELETE', `/api/sessions/${session.id}`, auth)).status).toBe(204);
      expect((await c.waitClose()).code).toBe(4010);
      break;
    }
    case 'classroom': {
      expect((await call(s.base, 'DELETE', '/api/classroom/me/session', { token: learnerToken })).status).toBeLessThan(300);
      expect((await c.waitClose()).code).toBe(4010);
      break;
    }
    case 'idle':
      c.close();
      break;
    case 'drop':
      c.ws.terminate();
      break;
    case 'reset': {
      const from = c.events.length;
      expect((await call(s.base, 'POST', `/api/sessions/${session.id}/reset`, auth)).status).toBe(200);
      await c.waitEvent('session-reset', undefined, from);
      await c.open(1);
      await c.run(1, 'echo "after-reset $(pgrep -c sleep)"');
      await c.waitScreen(1, /^after-reset 0$/m);
      expect((await call(s.base, 'DELETE', `/api/sessions/${session.id}`, auth)).status).toBe(204);
      break;
    }
    case 'kill': {
      const from = c.events.length;
      c.type(1, 'kill -9 -1\r');
      await c.waitEvent('sandbox-emptied', undefined, from);
      expect((await call(s.base, 'DELETE', `/api/sessions/${session.id}`, auth)).status).toBe(204);
      break;
    }
  }
  if (c.closed === null && mode !== 'idle' && mode !== 'drop') await c.waitClose();
  return { mode, ms: Date.now() - t0 };
}

/** wait until the server has no session left (idle ones go with the reaper, every 15 s) and the pool is full again */
async function settle(s: ServeProcess): Promise<void> {
  let h = await healthz(s);
  for (let i = 0; i < 240 && h.sessions > 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    h = await healthz(s);
  }
  expect(h.sessions, 'sessions still open after 2 min (idle reaper)').toBe(0);
  await until(() => ownedSandboxes(s.pid).length === POOL, 'the warm pool back to its size and nothing else', () => JSON.stringify(ownedSandboxes(s.pid)), 2400);
  // a killed terminal's relay may take a few seconds to exit (SIGTERM, then SIGKILL after 5 s): let it
  await new Promise((r) => setTimeout(r, 6000));
}

describe(`soak: ${WAVES} waves of ${PER_WAVE} sessions (${FULL ? 'full' : 'short'})`, () => {
  it('creates and destroys sessions with busy terminals and leaves nothing behind', { timeout: FULL ? 40 * 60_000 : 8 * 60_000 }, async () => {
    const ipcBefore = hostIpc();
    server = await serve({
      NSLAB_CLASSROOM_DB: path.join(dataDir, 'classroom.db'),
      NSLAB_INSTRUCTOR_SECRET: SECRET,
      NSLAB_POOL: String(POOL),
      NSLAB_MAX_SESSIONS: String(PER_WAVE * 3 + 10),
      NSLAB_CLASSROOM_CAPACITY: String(PER_WAVE * 3 + 10),
      // 15 s without a socket ends a session (the reaper looks every 15 s). Not less: the
      // clock runs from creation, and in the cgroup v2 VM (TCG, docs/vm.md) 3 s passed
      // between POST /api/sessions and the socket, so the reaper took sessions never used
      NSLAB_IDLE_MINUTES: '0.25',
      NSLAB_CREATE_PER_MINUTE: '100000',
      NSLAB_CREATE_BURST: '1000',
    }, { inspect: true });
    const s = server;
    const recorder = new SandboxRecorder(s.pid);
    const workshop = (await createWorkshop(s.base, LESSONS, 'Soak')).code;

    // warm-up: lazily loaded code, the lesson catalogue, sqlite, the pool; then the baseline
    await until(() => ownedSandboxes(s.pid).length === POOL, 'the warm pool', () => '', 2400);
    await Promise.all(MODES.slice(0, 3).map((mode, i) => oneSession(s, workshop, `warm-${i}`, LESSONS[i % LESSONS.length], mode)));
    await settle(s);
    const base = { fds: fdCount(s.pid), fdKinds: fdKinds(s.pid), children: children(s.pid), mem: await s.inspector!.memoryAfterGc(), rss: 0 };
    base.rss = rssBytes(s.pid);

    const t0 = Date.now();
    const waves: { wave: number; ms: number; modes: Record<string, number> }[] = [];
    let sessions = 0;
    for (let w = 0; w < WAVES; w++) {
      const tw = Date.now();
      const ended = await Promise.all(Array.from({ length: PER_WAVE }, (_, i) => {
        const mode = MODES[(i + w) % MODES.length];
        return oneSession(s, workshop, `w${w}-s${i}`, LESSONS[(i + w) % LESSONS.length], mode);
      }));
      sessions += ended.length;
      const modes: Record<string, number> = {};
      for (const e of ended) modes[e.mode] = (modes[e.mode] ?? 0) + 1;
      waves.push({ wave: w + 1, ms: Date.now() - tw, modes });
      console.log(`soak: wave ${w + 1}/${WAVES}: ${ended.length} sessions in ${((Date.now() - tw) / 1000).toFixed(1)} s ${JSON.stringify(modes)}`);
    }
    const wavesMs = Date.now() - t0;
    await settle(s);
    const settledMs = Date.now() - t0;

    // ---- leaks, with the server still running
    const pool = new Set(ownedSandboxes(s.pid).map((x) => x.id));
    const all = recorder.stop();
    const gone = all.filter((x) => !pool.has(x.id));
    // the warm-up's 3, ours, the resets' second sandboxes and the pool refills: all recorded
    expect(gone.length).toBeGreaterThanOrEqual(sessions + 3);
    expect(hardLeftovers(leftovers(gone))).toEqual({ processes: [], cgroups: [], mounts: [], files: [] });
    const exited = await waitExited(gone);
    expect(exited.left, 'processes of destroyed sandboxes still exiting (waiting for the host PID 1 to reap)').toEqual([]);
    // no new host IPC object (other files, running beside this one, may remove their own meanwhile)
    expect(hostIpc().filter((o) => !ipcBefore.includes(o))).toEqual([]);

    const m = await metrics(s);
    expect({ sessions: m.nslab_sessions_active, sockets: m.nslab_sockets, terminals: m.nslab_terminals_open, sandboxes: m.nslab_sandboxes })
      .toEqual({ sessions: 0, sockets: 0, terminals: 0, sandboxes: 0 });

    const after = { fds: fdCount(s.pid), fdKinds: fdKinds(s.pid), children: children(s.pid), mem: await s.inspector!.memoryAfterGc(), rss: 0 };
    after.rss = rssBytes(s.pid);
    expect(after.fds, `fds before ${JSON.stringify(base.fdKinds)}\nafter ${JSON.stringify(after.fdKinds)}`).toBeLessThanOrEqual(base.fds + FD_SLACK);
    expect(after.children.length, `children before ${base.children.join(', ')}; after ${after.children.join(', ')}`).toBe(base.children.length);
    const heap = (x: typeof base.mem) => x.heapUsed + x.arrayBuffers;
    const heapBound = heap(base.mem) + HEAP_SLACK + HEAP_PER_SESSION * sessions;
    const rssBound = base.rss + RSS_SLACK + RSS_PER_SESSION * sessions;

    const report = [
      `soak (${FULL ? 'full' : 'short'}): ${sessions} sessions in ${WAVES} waves of ${PER_WAVE}, ${gone.length} sandboxes created and destroyed (resets and the pool included)`,
      `  waves ${(wavesMs / 1000).toFixed(0)} s, all sessions ended (idle reaper) after ${(settledMs / 1000).toFixed(0)} s; wave times ${waves.map((x) => (x.ms / 1000).toFixed(0)).join(', ')} s`,
      `  sessions per way of ending: ${JSON.stringify(waves.reduce((acc, x) => { for (const [k, v] of Object.entries(x.modes)) acc[k] = (acc[k] ?? 0) + v; return acc; }, {} as Record<string, number>))}`,
      `  leftovers: 0 processes, 0 cgroups, 0 mounts, 0 files; ${exited.most} exiting process(es) drained by the host's PID 1 in ${(exited.waitedMs / 1000).toFixed(1)} s; host IPC objects ${ipcBefore.length} before, ${hostIpc().length} after`,
      `  server fds ${base.fds} -> ${after.fds}; live children ${base.children.length} -> ${after.children.length}`,
      `  server heap+arrayBuffers after GC ${MiB(heap(base.mem))} -> ${MiB(heap(after.mem))} (bound ${MiB(heapBound)}); heapUsed ${MiB(base.mem.heapUsed)} -> ${MiB(after.mem.heapUsed)}; external ${MiB(base.mem.external)} -> ${MiB(after.mem.external)}`,
      `  server RSS ${MiB(base.rss)} -> ${MiB(after.rss)} (bound ${MiB(rssBound)})`,
    ].join('\n');
    console.log(report);
    expect(heap(after.mem), report).toBeLessThanOrEqual(heapBound);
    expect(after.rss, report).toBeLessThanOrEqual(rssBound);

    // ---- a clean stop takes the pool with it
    const poolSandboxes = all.filter((x) => pool.has(x.id));
    expect(await s.stop()).toBe(0);
    server = null;
    expect(hardLeftovers(leftovers(poolSandboxes))).toEqual({ processes: [], cgroups: [], mounts: [], files: [] });
    expect((await waitExited(poolSandboxes)).left).toEqual([]);
  });
});
