/** The probe reads the sandbox's real state from outside, inside the right namespaces (docs/sandbox.md, "The probe"). */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSandbox, ProcessInfo } from '../../lab-server/sandbox/index.ts';
import { hostInfo } from '../../lab-server/sandbox/host.ts';
import { sh, terminal, testBackend } from './helpers.ts';

let s: LocalSandbox;
let child: ProcessInfo;
let parent: ProcessInfo;
const hostSecret = `/run/nslab-probe-secret-${process.pid}`;

beforeAll(async () => {
  writeFileSync(hostSecret, 'host-only\n');
  s = await (await testBackend()).create();
  const t = terminal(s, 1);
  await t.ready();
  // a long-lived child with new ipc, uts and mount namespaces, holding state in each
  await t.run('unshare --ipc --uts --mount bash');
  await t.run('hostname kid; sysctl -qw kernel.msgmni=77; ipcmk -Q >/dev/null; ipcmk -M 8192 >/dev/null; ipcmk -S 3 >/dev/null');
  await t.run('mount -t mqueue none /dev/mqueue && touch /dev/mqueue/orders && mount -t tmpfs -o size=32m shm /dev/shm && echo secret > /dev/shm/kid-only');
  await t.run(`ln -s ${hostSecret} /root/evil; cd /tmp`);
  const procs = await s.probe.processes();
  const root = await s.probe.rootNamespaces();
  child = procs.find((p) => p.comm === 'bash' && p.ns.ipc !== root.ipc)!;
  parent = procs.find((p) => p.comm === 'bash' && p.ns.ipc === root.ipc)!;
});
afterAll(async () => { await s?.destroy(); rmSync(hostSecret, { force: true }); });

describe('probe', () => {
  it('lists processes with host pid, sandbox pid, parent, cmdline, uid, cwd, root and namespaces', () => {
    expect(child.hostPid).toBeGreaterThan(child.pid);
    expect(child.ppid).toBe(parent.pid);
    expect(child.cmdline).toEqual(['bash']);
    expect(child.uid).toBe(0);
    expect(child.hostUid).toBe(s.hostUid);
    expect(child.cwd).toBe('/tmp');
    // no chroot: the root directory is '/' of the process's own mount namespace
    expect(child.root).toBe('/');
    expect(child.ns.uts).not.toBe(parent.ns.uts);
    expect(child.ns.mnt).not.toBe(parent.ns.mnt);
    expect(child.ns.net).toBe(parent.ns.net);
  });

  it('reads System V objects per IPC namespace, with sandbox uids', async () => {
    const kid = await s.probe.sysvipc(child.hostPid);
    expect([kid.queues.length, kid.shm.length, kid.sems.length]).toEqual([1, 1, 1]);
    expect(kid.shm[0].size).toBe(8192);
    expect(kid.sems[0].nsems).toBe(3);
    expect(kid.queues[0].uid).toBe(0);
    const top = await s.probe.sysvipc(parent.hostPid);
    expect([top.queues.length, top.shm.length, top.sems.length]).toEqual([0, 0, 0]);
  });

  it('reads sysctls and the hostname inside the namespaces of a process', async () => {
    expect(await s.probe.sysctl(child.hostPid, 'kernel.msgmni')).toBe('77');
    expect(await s.probe.sysctl(parent.hostPid, 'kernel.msgmni')).not.toBe('77');
    expect(await s.probe.hostname(child.hostPid)).toBe('kid');
    expect(await s.probe.hostname(parent.hostPid)).toBe('nslab');
    await expect(s.probe.sysctl(parent.hostPid, '../../etc/passwd')).rejects.toThrow();
  });

  it('lists POSIX message queues of the IPC namespace, not of the mount', async () => {
    expect((await s.probe.mqueue(child.hostPid)).map((q) => q.name)).toEqual(['orders']);
    // mode and size as the kernel reports them (touch made it with the shell's umask)
    expect(await s.probe.mqueue(child.hostPid)).toEqual([{ name: 'orders', mode: 0o644, qsize: 0 }]);
    expect(await s.probe.mqueue(parent.hostPid)).toEqual([]);
  });

  it('reads files and mounts as the process sees them; planted symlinks stay inside', async () => {
    expect(await s.probe.readFile(child.hostPid, '/dev/shm/kid-only')).toBe('secret\n');
    expect(await s.probe.readFile(parent.hostPid, '/dev/shm/kid-only')).toBeNull();
    // /root/evil points at a path that exists only on the host: resolved inside the sandbox, it leads nowhere
    expect(await s.probe.readFile(child.hostPid, '/root/evil')).toBeNull();
    const shm = (await s.probe.mounts(child.hostPid)).filter((m) => m.mountPoint === '/dev/shm');
    expect(shm.at(-1)?.superOptions.join(',')).toMatch(/size=32768k/);
  });

  it('answers every read in order, failures included, from one resident helper (probe-helper.ts)', async () => {
    // all at once: the helper serves them one by one, and each answer reaches its caller
    const answers = await Promise.all([
      s.probe.readFile(child.hostPid, '/dev/shm/kid-only'),
      s.probe.readFile(child.hostPid, '/etc').catch((e: Error) => e.message),
      s.probe.readFile(child.hostPid, '/no/such/file'),
      s.probe.sysctl(child.hostPid, 'kernel.msgmni'),
      s.probe.sysctl(child.hostPid, 'kernel.no_such_sysctl').catch((e: Error) => e.message),
      s.probe.hostname(child.hostPid),
      s.probe.sysvipc(child.hostPid).then((x) => x.queues.length),
    ]);
    expect(answers).toEqual(['secret\n', expect.stringMatching(/not a regular file/), null, '77', expect.stringMatching(/no_such_sysctl/), 'kid', 1]);
  });

  it('refuses processes that are not in the sandbox', async () => {
    await expect(s.probe.readFile(process.pid, '/etc/hostname')).rejects.toThrow(/not in sandbox/);
    await expect(s.probe.sysvipc(1)).rejects.toThrow(/not in sandbox/);
  });

  it('reads the sandbox cgroups and their limits', async () => {
    const groups = await s.probe.cgroups();
    const root = groups.find((g) => g.path === '/')!;
    expect(root.memoryLimit).toBe(512 * 1024 * 1024);
    expect(root.pidsMax).toBe(512);
    if (hostInfo().cgroupMode === 'v2') {
      // v2's "no internal processes" rule: the sandbox's processes live in its /init
      // leaf (nslab-init.c), which is what /proc/self/cgroup shows the learner too
      expect(root.pids).toEqual([]);
      const leaf = groups.find((g) => g.path === '/init')!;
      expect(leaf.pids).toContain(child.pid);
      expect(leaf.pids).toContain(1);
      expect(readFileSync(`/proc/${child.hostPid}/cgroup`, 'utf8')).toBe(`0::/nslab/${s.id}/init\n`);
    } else {
      expect(root.pids).toContain(child.pid);
    }
  });

  it('a dead sandbox is reported', async () => {
    const other = await (await testBackend()).create();
    const reasons: string[] = [];
    other.onExit((r) => reasons.push(r));
    await sh(other, 'true');
    await other.destroy();
    expect(other.state).toBe('dead');
    expect(reasons).toEqual(['destroyed']);
    await expect(sh(other, 'true')).rejects.toThrow(/not running/);
  });
});
