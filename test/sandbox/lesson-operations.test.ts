/**
 * Everything the lessons teach must work inside a sandbox (DESIGN.md "Sandboxes", docs/sandbox-for-authors.md).
 * Each test runs the real commands in a real sandbox and checks their effect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSandbox } from '../../lab-server/sandbox/index.ts';
import { hostInfo } from '../../lab-server/sandbox/host.ts';
import { sh, testBackend } from './helpers.ts';

const hybrid = hostInfo().cgroupMode === 'hybrid';

let s: LocalSandbox;
beforeAll(async () => { s = await (await testBackend()).create(); });
afterAll(async () => { await s?.destroy(); });

describe('lesson operations inside a sandbox', () => {
  it('is root in a user namespace mapped to an unprivileged host range', async () => {
    const r = await sh(s, 'id -u; cat /proc/self/uid_map');
    expect(r.code).toBe(0);
    const [uid, map] = r.stdout.trim().split('\n');
    expect(uid).toBe('0');
    const [inside, host, count] = map.trim().split(/\s+/).map(Number);
    expect(inside).toBe(0);
    expect(host).toBeGreaterThan(65535);
    expect(count).toBe(65536);
  });

  it('unshares every namespace kind', async () => {
    const r = await sh(s, [
      'set -e',
      'unshare --ipc true', 'unshare --uts true', 'unshare --net true', 'unshare --mount true',
      'unshare --user true', 'unshare --cgroup true', 'unshare --time true',
      'unshare --user --map-root-user --pid --fork --mount-proc true',
      'echo all-ok',
    ].join('\n'));
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('all-ok');
  });

  it('gives a new PID namespace with --mount-proc a /proc of its own', async () => {
    const r = await sh(s, 'unshare --pid --fork --mount-proc sh -c \'echo pid=$$; ls /proc | grep -E "^[0-9]+$" | wc -l\'');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('pid=1');
    expect(Number(r.stdout.trim().split('\n')[1])).toBeLessThanOrEqual(5); // sh, ls, grep, wc and nothing else
  });

  it('changes the hostname only in a new UTS namespace', async () => {
    const r = await sh(s, 'unshare --uts sh -c "hostname inner; hostname"; hostname');
    expect(r.stdout.trim().split('\n')).toEqual(['inner', 'nslab']);
  });

  it('a queue made in a child IPC namespace is invisible in the parent; nsenter sees it', async () => {
    const r = await sh(s, [
      'unshare --ipc sh -c "ipcmk -Q >/dev/null; exec sleep 30" >/dev/null 2>&1 & sleep 0.5',
      'child=$(pgrep -x sleep | head -1)',
      'echo "parent:$(ipcs -q | grep -c 0x)"',
      'echo "child:$(nsenter -t $child --ipc ipcs -q | grep -c 0x)"',
      'echo "child2:$(nsenter --ipc=/proc/$child/ns/ipc ipcs -q | grep -c 0x)"',
      'kill $child',
    ].join('\n'));
    expect(r.stdout).toContain('parent:0');
    expect(r.stdout).toContain('child:1');
    expect(r.stdout).toContain('child2:1');
  });

  it('mounts proc, tmpfs and mqueue; mqueue files are POSIX queues', async () => {
    const r = await sh(s, [
      'set -e',
      'mkdir -p /mnt/p /mnt/t',
      'mount -t proc proc /mnt/p && test -e /mnt/p/self/ns/ipc && echo proc-ok',
      'mount -t tmpfs -o size=8m tmpfs /mnt/t && echo x > /mnt/t/f && echo tmpfs-ok',
      'mount -t mqueue none /dev/mqueue && touch /dev/mqueue/q1 && grep -q QSIZE /dev/mqueue/q1 && echo mq-ok',
    ].join('\n'));
    expect(r.stdout.trim().split('\n')).toEqual(['proc-ok', 'tmpfs-ok', 'mq-ok']);
  });

  it('creates, uses and deletes network namespaces with ip netns', async () => {
    const r = await sh(s, [
      'set -e',
      'ip netns add red',
      'ip netns exec red ip link set lo up',
      'ip netns exec red ip -br link | grep -q "^lo"',
      'ip link add veth0 type veth peer name veth1 && ip link set veth1 netns red && echo veth-ok',
      'ip netns del red && echo del-ok',
    ].join('\n'));
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('veth-ok');
    expect(r.stdout).toContain('del-ok');
  });

  it('sets an IPC sysctl in a child IPC namespace without touching the parent', async () => {
    const r = await sh(s, 'unshare --ipc sh -c "sysctl -qw kernel.msgmni=50; cat /proc/sys/kernel/msgmni"; cat /proc/sys/kernel/msgmni');
    const [child, parent] = r.stdout.trim().split('\n');
    expect(child).toBe('50');
    expect(parent).not.toBe('50');
  });

  it('compiles and runs C programs using System V and POSIX IPC', async () => {
    const program = `
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/sem.h>
#include <mqueue.h>
#include <fcntl.h>
int main(void) {
  int q = msgget(0x1234, IPC_CREAT | 0600);
  int m = shmget(0x1235, 4096, IPC_CREAT | 0600);
  int s = semget(0x1236, 2, IPC_CREAT | 0600);
  mqd_t mq = mq_open("/lab", O_CREAT | O_RDWR, 0600, NULL);
  printf("%d %d %d %d\\n", q >= 0, m >= 0, s >= 0, mq != (mqd_t)-1);
  return 0;
}`;
    const r = await sh(s, 'cat > /tmp/ipc.c && gcc -o /tmp/ipc /tmp/ipc.c -lrt && unshare --ipc sh -c "/tmp/ipc && ipcs | grep -c 0x0000123"', program);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['1 1 1 1', '3']);
  });

  it('runs python3 multiprocessing.shared_memory', async () => {
    const r = await sh(s, `python3 -c "
from multiprocessing import shared_memory
m = shared_memory.SharedMemory(create=True, size=64, name='lab')
m.buf[0] = 42
n = shared_memory.SharedMemory(name='lab')
print(n.buf[0]); n.close(); m.close(); m.unlink()"`);
    expect(r.stdout.trim()).toBe('42');
  });

  it(`makes a cgroup with a memory limit that OOM-kills a hog, and counts it (the ${hybrid ? 'v1' : 'v2'} recipe)`, async () => {
    // the recipe of the host's cgroup layout (docs/sandbox.md): a group in the memory
    // hierarchy on v1/hybrid hosts, a group of the one hierarchy on v2
    const r = await sh(s, (hybrid ? [
      'set -e',
      'G=/sys/fs/cgroup/memory/mygroup',
      'mkdir $G',
      'echo 100000000 > $G/memory.limit_in_bytes',
      'cat $G/memory.limit_in_bytes',
      'sh -c "echo \\$\\$ > $G/cgroup.procs; exec python3 -c \\"b = bytearray(300 * 1024 * 1024)\\"" || echo killed=$?',
      'grep oom_kill $G/memory.oom_control',
    ] : [
      'set -e',
      'G=/sys/fs/cgroup/mygroup',
      'mkdir $G',
      'echo 100000000 > $G/memory.max',
      'cat $G/memory.max',
      'sh -c "echo \\$\\$ > $G/cgroup.procs; exec python3 -c \\"b = bytearray(300 * 1024 * 1024)\\"" || echo killed=$?',
      'grep oom_kill $G/memory.events',
    ]).join('\n'));
    expect(r.stdout).toMatch(/^99999744$/m); // the kernel rounds down to whole pages
    expect(r.stdout).toContain('killed=137');
    expect(r.stdout).toMatch(/oom_kill [1-9]/);
    const groups = await s.probe.cgroups();
    const mine = groups.find((g) => g.path === '/mygroup');
    expect(mine?.memoryLimit).toBe(99999744);
    expect(mine?.oomKills).toBeGreaterThan(0);
  });

  it(`the ${hybrid ? 'v2 recipe fails loudly on a hybrid host: the tmpfs holding the controllers is read-only' : 'v1 recipe fails loudly on a v2 host: there is no memory hierarchy, and the v2 controllers are there for the learner\'s groups'}`, async () => {
    if (hybrid) {
      const r = await sh(s, 'mkdir /sys/fs/cgroup/mygroup; echo 100M > /sys/fs/cgroup/memory.max; ls /sys/fs/cgroup | grep -c -e memory -e pids; mkdir /sys/fs/cgroup/pids/ro-check && rmdir /sys/fs/cgroup/pids/ro-check && echo controllers-writable');
      expect(r.stderr).toMatch(/mkdir: cannot create directory .\/sys\/fs\/cgroup\/mygroup.: Read-only file system/);
      expect(r.stderr).toMatch(/memory\.max: Read-only file system/);
      expect(r.stdout.trim().split('\n')).toEqual(['2', 'controllers-writable']);
    } else {
      const r = await sh(s, 'mkdir /sys/fs/cgroup/memory/mygroup; echo 100M > /sys/fs/cgroup/memory/mygroup/memory.limit_in_bytes; cat /sys/fs/cgroup/cgroup.subtree_control');
      expect(r.stderr).toMatch(/mkdir: cannot create directory .\/sys\/fs\/cgroup\/memory\/mygroup.: No such file or directory/);
      expect(r.stderr).toMatch(/memory\.limit_in_bytes: No such file or directory/);
      expect(r.stdout.trim().split(' ').sort()).toEqual(['cpu', 'memory', 'pids']);
    }
  });

  it('chroots into the small root filesystem the image provides', async () => {
    const r = await sh(s, 'chroot /opt/minirootfs /bin/sh -c "cat /etc/hostname; test -x /bin/busybox && echo 1"');
    expect(r.stdout.trim().split('\n')).toEqual(['mini', '1']);
  });
});
