/**
 * The contract of a sandbox back end (lab-server/sandbox/types.ts), as the floors
 * above rely on it: http/sessions.ts (create, limits, createdAt, list, destroy,
 * reset as destroy + create), terminal/hub.ts (terminals, command events, death),
 * checks/ (the probe, command history), grade/ (startTerminal, exec) and `nslab
 * exec` (spawnProcess). One suite, registered for every implementation by a test
 * file of its own (local-backend.test.ts), on real sandboxes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandEvent, Sandbox, SandboxBackend } from '../../lab-server/sandbox/types.ts';
import { sh, terminal } from './helpers.ts';

export interface SandboxBackendSubject {
  /** a new back end instance on the same host (or cluster), able to create the default image's sandboxes */
  make(): Promise<SandboxBackend>;
  /** ends a sandbox the way a crash would, from outside the back end (its init killed) */
  crash(s: Sandbox): Promise<void>;
}

function exited(s: Sandbox): Promise<string> {
  return new Promise((resolve) => s.onExit(resolve));
}

function nextEvent(s: Sandbox, pred: (e: CommandEvent) => boolean, what: string): Promise<CommandEvent> {
  return new Promise((resolve, reject) => {
    const hit = s.commands().find(pred);
    if (hit) return resolve(hit);
    const off = s.onCommand((e) => { if (pred(e)) { off(); clearTimeout(timer); resolve(e); } });
    // a missing event fails with its name instead of the test's timeout
    const timer = setTimeout(() => { off(); reject(new Error(`no command event: ${what}`)); }, 30_000);
  });
}

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never happened: ${what}`);
}

export function sandboxBackendConformance(name: string, subject: SandboxBackendSubject): void {
  describe(`SandboxBackend contract: ${name}`, () => {
    let backend: SandboxBackend;
    const made: Sandbox[] = [];
    const create = async (opts?: Parameters<SandboxBackend['create']>[0]) => {
      const s = await backend.create(opts);
      made.push(s);
      return s;
    };

    beforeAll(async () => {
      backend = await subject.make();
      await backend.checkHost();
    });
    afterAll(async () => {
      await Promise.all(made.map((s) => s.destroy()));
      await backend?.destroyAll();
    });

    it('creates running sandboxes, each its own, with the asked limits over the defaults, and lists them', async () => {
      expect(backend.name).toMatch(/\S/);
      const before = Date.now();
      const [a, b, c] = await Promise.all([create({ label: 'contract a' }), create({ limits: { pids: 99 } }), create()]);
      expect(new Set([a.id, b.id, c.id]).size).toBe(3);
      for (const s of [a, b, c]) {
        expect(s.state).toBe('running');
        expect(s.image).toBe('default');
        expect(s.createdAt.getTime()).toBeGreaterThanOrEqual(before);
        for (const v of Object.values(s.limits)) expect(v).toBeGreaterThan(0);
      }
      // the rest of the limits stay the defaults: the lifetime the session shows (createdAt + lifetimeMs) among them
      expect(b.limits).toEqual({ ...a.limits, pids: 99 });
      expect(backend.list()).toEqual(expect.arrayContaining([a, b, c]));
      await a.destroy();
      expect(backend.list()).not.toContain(a);
      expect(backend.list()).toEqual(expect.arrayContaining([b, c]));
    });

    it('exec returns output, status and stderr, feeds input, passes environment and ends a command at its timeout', async () => {
      const s = await create();
      expect(await s.exec(['sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
      expect((await s.exec(['cat'], { input: 'typed\n' })).stdout).toBe('typed\n');
      expect((await s.exec(['sh', '-c', 'echo "$GREETING"'], { env: { GREETING: 'hi 你好' } })).stdout).toBe('hi 你好\n');
      // the learner is root inside
      expect((await s.exec(['id', '-u'])).stdout).toBe('0\n');
      const slow = await s.exec(['sleep', '1000'], { timeoutMs: 300 });
      expect(slow.code).not.toBe(0);
      // what one exec leaves is there for the next (one machine, not a fresh one per call)
      await sh(s, 'echo kept > /root/note');
      expect((await s.exec(['cat', '/root/note'])).stdout).toBe('kept\n');
    });

    it('spawnProcess streams stdin in and stdout out, and reports the exit status', async () => {
      const s = await create();
      const p = s.spawnProcess(['sh', '-c', 'tr a-z A-Z; exit 5']);
      let out = '';
      p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
      p.stdin.end('streamed\n');
      const code = await new Promise<number | null>((resolve) => p.on('close', (c) => resolve(c)));
      expect(code).toBe(5);
      expect(out).toBe('STREAMED\n');
    });

    it('terminals: a shell per terminal number at the asked size, each command reported in order with its status and shell', async () => {
      const s = await create();
      const t2 = terminal(s, 2);
      const t3 = terminal(s, 3);
      const [ready2, ready3] = await Promise.all([t2.ready(), t3.ready()]);
      expect(ready2).toMatchObject({ kind: 'ready', terminal: 2 });
      expect(ready3).toMatchObject({ kind: 'ready', terminal: 3 });
      expect(ready2.pid).not.toBe(ready3.pid);
      // the probe knows the shell by the host pid the event names
      const procs = await s.probe.processes();
      expect(procs.find((p) => p.hostPid === ready2.hostPid)?.comm).toBe('bash');
      const failed = await t2.run('stty size; echo "term=$NSLAB_TERM"; false');
      expect(failed).toMatchObject({ kind: 'cmd', terminal: 2, status: 1, command: 'stty size; echo "term=$NSLAB_TERM"; false', pid: ready2.pid });
      await until('the output on the screen', () => t2.screen.includes('term=2'));
      expect(t2.screen).toContain('40 120');
      const ok = await t3.run('true');
      expect(ok).toMatchObject({ kind: 'cmd', terminal: 3, status: 0 });
      const log = s.commands();
      expect(log.indexOf(ready2)).toBeLessThan(log.indexOf(failed));
      expect(log.indexOf(ready3)).toBeLessThan(log.indexOf(ok));
      for (const e of log) expect(e.at).toBeGreaterThan(0);
      t2.term.kill();
      t3.term.kill();
    });

    it('refuses terminal numbers and sizes out of range', async () => {
      const s = await create();
      expect(() => s.spawnPty({ terminal: -1 })).toThrow();
      expect(() => s.spawnPty({ terminal: 1.5 })).toThrow();
      expect(() => s.spawnPty({ terminal: 1, cols: 100_000, rows: 24 })).toThrow();
      expect(() => s.spawnPty({ terminal: 1, cols: 80, rows: 0 })).toThrow();
    });

    it('startTerminal: terminal 1, asked for later, is one shell with one ready event', async () => {
      const s = await create({ startTerminal: true });
      const t = terminal(s, 1);
      await t.ready();
      await t.run('echo one');
      expect(s.commands().filter((e) => e.kind === 'ready' && e.terminal === 1)).toHaveLength(1);
      expect((await s.probe.processes()).filter((p) => p.comm === 'bash')).toHaveLength(1);
      t.term.kill();
    });

    it('onCommand delivers events until unsubscribed; the history keeps them all, oldest first', async () => {
      const s = await create();
      const t = terminal(s, 1);
      await t.ready();
      const seen: string[] = [];
      const off = s.onCommand((e) => seen.push(`${e.kind}:${e.command}`));
      await t.run('echo first');
      await until('the listener hears it', () => seen.includes('cmd:echo first'));
      off();
      await t.run('echo second');
      expect(seen).not.toContain('cmd:echo second');
      const commands = s.commands().filter((e) => e.kind === 'cmd').map((e) => e.command);
      expect(commands).toEqual(['echo first', 'echo second']);
      t.term.kill();
    });

    it('the probe sees PID 1, the root namespaces and what the learner made, from outside', async () => {
      const s = await create({ hostname: 'contract' });
      await sh(s, 'ipcmk -Q >/dev/null && echo hello > /root/made && mount -t mqueue none /dev/mqueue && touch /dev/mqueue/orders');
      const procs = await s.probe.processes();
      const init = procs.find((p) => p.pid === 1)!;
      expect(init).toBeDefined();
      expect(init.ppid).toBe(0);
      expect(init.ns).toEqual(await s.probe.rootNamespaces());
      expect(await s.probe.hostname(init.hostPid)).toBe('contract');
      expect(await s.probe.readFile(init.hostPid, '/root/made')).toBe('hello\n');
      expect(await s.probe.readFile(init.hostPid, '/root/not-there')).toBeNull();
      expect((await s.probe.sysvipc(init.hostPid)).queues).toHaveLength(1);
      expect((await s.probe.mqueue(init.hostPid)).map((q) => q.name)).toEqual(['orders']);
      expect(await s.probe.sysctl(init.hostPid, 'kernel.msgmni')).toMatch(/^\d+$/);
      expect((await s.probe.mounts(init.hostPid)).some((m) => m.mountPoint === '/')).toBe(true);
      const root = (await s.probe.cgroups()).find((g) => g.path === '/')!;
      expect(root).toMatchObject({ memoryLimit: s.limits.memoryBytes, pidsMax: s.limits.pids });
      // the network: loopback only, up; a namespace pinned by `ip netns add` is read through its pin
      const net = (await s.probe.net(init.hostPid))!;
      expect(net.inode).toBe(init.ns.net);
      expect(net.links.map((l) => [l.name, l.type, l.up])).toEqual([['lo', 'loopback', true]]);
      await sh(s, 'ip netns add contract');
      const pinned = (await s.probe.net(init.hostPid, '/run/netns/contract'))!;
      expect(pinned.inode).not.toBe(init.ns.net);
      expect(pinned.links.map((l) => [l.name, l.up])).toEqual([['lo', false]]);
      expect(await s.probe.net(init.hostPid, '/root/made')).toBeNull();
      // a check can never read a process outside the sandbox
      await expect(s.probe.readFile(process.pid, '/etc/hostname')).rejects.toThrow();
    });

    it('the probe reports identity from outside: the sandbox\'s user namespace, its owners, capabilities and clock offsets', async () => {
      const s = await create();
      const procs = await s.probe.processes();
      const init = procs.find((p) => p.pid === 1)!;
      const root = await s.probe.rootNamespaces();
      const user = await s.probe.userNamespace(init.hostPid);
      // the learner is root in a user namespace of the sandbox's own, with the sandbox's ids from 0
      expect(user).toMatchObject({ ns: root.user, uid: 0, gid: 0, ownerUid: 0 });
      expect(user.uidMap[0]).toMatchObject({ inside: 0, outside: 0 });
      expect((await s.probe.namespaceOwners(init.hostPid)).mnt).toBe(root.user);
      expect((await s.probe.capabilities(init.hostPid)).effective).toContain('cap_sys_admin');
      expect(await s.probe.timeOffsets(init.hostPid)).toEqual({ monotonic: 0, boottime: 0 });
      await expect(s.probe.userNamespace(process.pid)).rejects.toThrow();
    });

    it('sandboxes do not see each other', async () => {
      const [a, b] = await Promise.all([create(), create()]);
      await sh(a, 'ipcmk -Q >/dev/null; hostname only-a');
      const initOf = async (s: Sandbox) => (await s.probe.processes()).find((p) => p.pid === 1)!.hostPid;
      expect((await a.probe.sysvipc(await initOf(a))).queues).toHaveLength(1);
      expect((await b.probe.sysvipc(await initOf(b))).queues).toHaveLength(0);
      expect(await b.probe.hostname(await initOf(b))).not.toBe('only-a');
      // a host pid of one sandbox is refused by the other's probe
      await expect(b.probe.readFile(await initOf(a), '/etc/hostname')).rejects.toThrow();
    });

    it('destroy: dead at once, its exit listeners hear "destroyed" once, and it refuses work', async () => {
      const s = await create();
      const reasons: string[] = [];
      s.onExit((r) => reasons.push(r));
      const offLate = s.onExit((r) => reasons.push(`unsubscribed ${r}`));
      offLate();
      const first = s.destroy();
      expect(s.state).toBe('dead');
      await Promise.all([first, s.destroy()]);
      await s.destroy();
      expect(reasons).toEqual(['destroyed']);
      await expect(s.exec(['true'])).rejects.toThrow(/not running/);
      expect(() => s.spawnPty({ terminal: 1 })).toThrow(/not running/);
      expect(() => s.spawnProcess(['true'])).toThrow(/not running/);
      expect(backend.list()).not.toContain(s);
    });

    it('reports a sandbox that reached its lifetime limit', async () => {
      const s = await create({ limits: { lifetimeMs: 1500 } });
      const reason = await exited(s);
      expect(reason).toMatch(/lifetime/);
      expect(s.state).toBe('dead');
      expect(backend.list()).not.toContain(s);
    });

    it('reports a sandbox that died by itself, with a reason of its own', async () => {
      const s = await create();
      const reason = exited(s);
      await subject.crash(s);
      expect(await reason).not.toBe('destroyed');
      expect(s.state).toBe('dead');
      await expect(s.exec(['true'])).rejects.toThrow(/not running/);
    });

    it('reapOrphans of another server leaves live sandboxes alone', async () => {
      const s = await create();
      const other = await subject.make();
      expect(await other.reapOrphans()).toBeGreaterThanOrEqual(0);
      expect(s.state).toBe('running');
      expect((await s.exec(['echo', 'alive'])).stdout).toBe('alive\n');
    });

    it('destroyAll ends every sandbox of that back end only, and it can create again', async () => {
      const mine = await create();
      const other = await subject.make();
      const theirs = await other.create();
      const reason = exited(theirs);
      await other.destroyAll();
      expect(await reason).toBe('destroyed');
      expect(other.list()).toEqual([]);
      expect(mine.state).toBe('running');
      const again = await other.create();
      expect((await again.exec(['echo', 'again'])).stdout).toBe('again\n');
      await again.destroy();
    });
  });
}
