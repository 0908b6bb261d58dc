/**
 * The hostile-learner table (docs/security.md, "What a sandbox promises"). Each row is one attack a root
 * learner can type, run inside a real sandbox through the driver the server
 * uses, and the safe outcome: what the attack prints or exits with, and where
 * it matters what the host looks like afterwards.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { hostname, release } from 'node:os';
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import {
  type Attempt, DENIED, PY_SYSCALLS, cgroupEvents, cgroupFile, cpuQuotaUs, cpuUsageNs, hostCanFork, keyedNumber, ownV2Groups,
  readHost, releaseAgents, results,
} from './harness.ts';
import { hostInfo } from '../../lab-server/sandbox/host.ts';
import { hostPools } from './attempts-host-pools.ts';

/** pure cgroup v2 host: one hierarchy, the learner's shell in the sandbox's /init leaf (nslab-init.c) */
const V2 = hostInfo().cgroupMode === 'v2';
/** the running kernel is at least major.minor */
const kernelAtLeast = (major: number, minor: number) => {
  const [a, b] = (/^(\d+)\.(\d+)/.exec(release()) ?? []).slice(1).map(Number);
  return a > major || (a === major && b >= minor);
};

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const crunPath = () => execFileSync('sh', ['-c', 'command -v crun'], { encoding: 'utf8' }).trim();
const hostSysctls = ['kernel/panic_on_oops', 'kernel/randomize_va_space', 'vm/overcommit_memory', 'kernel/core_pattern', 'kernel/pid_max', 'fs/file-max', 'net/core/somaxconn', 'user/max_user_namespaces'];
const snapshotSysctls = () => Object.fromEntries(hostSysctls.map((s) => [s, readHost(`/proc/sys/${s}`)]));
/** the sandbox's own limits as the host has them (v1: per controller hierarchy; v2: its one group) */
const ownLimits = (id: string) => (V2
  ? Object.fromEntries(['pids.max', 'memory.max', 'memory.swap.max', 'memory.high', 'cpu.max'].map((f) => [f, readHost(cgroupFile(id, 'memory', f))]))
  : {
    pids: readHost(cgroupFile(id, 'pids', 'pids.max')),
    mem: readHost(cgroupFile(id, 'memory', 'memory.limit_in_bytes')),
    cpu: readHost(cgroupFile(id, 'cpu', 'cpu.cfs_quota_us')),
    oom: readHost(cgroupFile(id, 'memory', 'memory.oom_control')),
  });

/** A watcher inside that tries to ptrace, and to open for writing the binary of, every new process for a few seconds. */
const WATCHER = String.raw`python3 - <<'PY'
import os, time, ctypes
libc = ctypes.CDLL(None, use_errno=True)
seen = set(os.listdir('/proc'))
res = {'new': 0, 'foreign': 0, 'attached_foreign': 0, 'exe_written': 0, 'attached': 0}
end = time.time() + 5
while time.time() < end:
    for p in os.listdir('/proc'):
        if not p.isdigit() or p in seen: continue
        seen.add(p); res['new'] += 1
        try: foreign = os.stat('/proc/' + p).st_uid == 65534
        except OSError: continue
        if foreign: res['foreign'] += 1
        try:
            fd = os.open('/proc/%s/exe' % p, os.O_WRONLY); os.close(fd); res['exe_written'] += 1
        except OSError: pass
        if libc.ptrace(16, int(p), 0, 0) == 0:
            res['attached'] += 1
            try:
                if os.stat('/proc/' + p).st_uid == 65534: res['attached_foreign'] += 1
            except OSError: pass
            # wait for the attach-stop before detaching: a detach before it fails, and the
            # SIGSTOP still pending would then leave the process stopped after we exit
            for _ in range(200):
                try:
                    if os.waitpid(int(p), os.WNOHANG | 0x40000000)[0]: break
                except ChildProcessError: break
                time.sleep(0.005)
            libc.ptrace(17, int(p), 0, 0)
for k, v in res.items(): print(k, v)
PY
# a process caught between the attach and its stop may still have the attach's SIGSTOP
# pending and stop after we left (under load, seen in CI): wake everything we stopped
kill -CONT -1 2>/dev/null; true`;

const seeing: Attempt[] = [
  {
    group: 'seeing the host', name: 'list host processes',
    script: 'ps -e -o comm= | sort -u; echo count=$(ls /proc | grep -c "^[0-9]")',
    check: (r) => {
      expect(r.stdout).not.toMatch(/^(node|systemd|crun|conmon|vitest|sshd|init|containerd)$/m);
      expect(Number(/count=(\d+)/.exec(r.stdout)?.[1])).toBeLessThan(10);
    },
  },
  {
    group: 'seeing the host', name: 'PID 1 is the host init',
    script: 'cat /proc/1/comm; cat /proc/1/cmdline | tr "\\0" " "',
    check: (r) => expect(r.stdout.split('\n')[0]).toBe('nslab-init'),
  },
  {
    group: 'seeing the host', name: "read the lab server's environment through /proc/*/environ",
    // the marker is spelled backwards in the script, or grep would find its own command line
    script: (c) => `echo '${[...c.marker].reverse().join('')}' | rev > /tmp/m; cat /proc/*/environ /proc/*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c -f /tmp/m || true`,
    before: (c) => { process.env.NSLAB_HOSTILE_MARK = c.marker; },
    check: (r) => expect(r.stdout.trim()).toBe('0'),
  },
  {
    group: 'seeing the host', name: 'list and remove the host System V IPC objects',
    before: (c) => {
      const key = `0x${c.marker.slice(0, 8)}`;
      const ids = ['-Q', '-M 4096', '-S 1'].map((k) => Number(/(\d+)/.exec(execFileSync('sh', ['-c', `ipcmk ${k}`], { encoding: 'utf8' }))?.[1]));
      return { key, ids };
    },
    script: (c) => `ipcs -a | grep -c 0x || true; for id in 0 1 2 3 4 5; do ipcrm -q $id -m $id -s $id 2>/dev/null; done; ipcrm -a; echo done`,
    check: (r, _c, b: { ids: number[] }) => {
      expect(r.stdout.trim().split('\n')[0]).toBe('0');
      const host = execFileSync('ipcs', ['-a'], { encoding: 'utf8' });
      // the host's own objects are all still there
      for (const id of b.ids) expect(host).toMatch(new RegExp(`\\s${id}\\s`));
      execFileSync('sh', ['-c', `ipcrm -q ${b.ids[0]} -m ${b.ids[1]} -s ${b.ids[2]}`]);
    },
  },
  {
    group: 'seeing the host', name: 'list the host POSIX message queues',
    before: (c) => execFileSync('unshare', ['-m', 'sh', '-c', `mkdir -p /tmp/mq-$$ && mount -t mqueue none /tmp/mq-$$ && touch /tmp/mq-$$/host-${c.marker}; umount /tmp/mq-$$; rmdir /tmp/mq-$$`]),
    script: 'mkdir -p /mnt/mq && mount -t mqueue none /mnt/mq && ls -A /mnt/mq; echo listed; umount /mnt/mq',
    check: (r, c) => {
      expect(r.stdout).toContain('listed');
      expect(r.stdout).not.toContain(c.marker);
      execFileSync('unshare', ['-m', 'sh', '-c', `mkdir -p /tmp/mq-$$ && mount -t mqueue none /tmp/mq-$$ && rm -f /tmp/mq-$$/host-${c.marker}; umount /tmp/mq-$$; rmdir /tmp/mq-$$`]);
    },
  },
  {
    group: 'seeing the host', name: 'find host files (the repo, a planted secret, through /proc/1/root)',
    before: (c) => execFileSync('sh', ['-c', `echo secret > /tmp/nslab-hostile-${c.marker}`]),
    script: (c) => `ls /work /proc/1/root/work 2>&1; find / -xdev -name '*${c.marker}*' 2>/dev/null; cat /tmp/nslab-hostile-${c.marker} 2>&1; echo searched`,
    check: (r, c) => {
      expect(r.stdout).toContain('searched');
      expect(r.stdout).toMatch(/cannot access '\/work'/);
      expect(r.stdout).not.toContain('secret\n');
      expect(r.stdout.split('\n').filter((l) => l.startsWith('/') && l.includes(c.marker))).toEqual([]);
      execFileSync('rm', ['-f', `/tmp/nslab-hostile-${c.marker}`]);
    },
  },
  {
    group: 'seeing the host', name: 'read the host mount table',
    script: 'cat /proc/self/mountinfo',
    check: (r) => {
      const lines = r.stdout.trim().split('\n').map((l) => l.split(' '));
      const root = lines.find((f) => f[4] === '/');
      expect(root?.[root.indexOf('-') + 1]).toBe('tmpfs');
      // the only thing from the host's disk is the command-log FIFO
      const fromDisk = lines.filter((f) => /^(ext[234]|xfs|btrfs)$/.test(f[f.indexOf('-') + 1] ?? '')).map((f) => f[4]);
      expect(fromDisk.filter((m) => m !== '/run/nslab/cmdlog')).toEqual([]);
      expect(r.stdout).not.toMatch(/ \/work|\/var\/lib\/nslab/);
    },
  },
  {
    group: 'seeing the host', name: 'read the kernel log (dmesg, /proc/kmsg, /dev/kmsg)',
    script: 'dmesg 2>&1 | head -1; head -c 64 /proc/kmsg 2>&1; head -c 64 /dev/kmsg 2>&1; echo end',
    check: (r) => {
      expect(r.stdout).toMatch(/dmesg: read kernel buffer failed: Operation not permitted/);
      expect(r.stdout).toMatch(/\/proc\/kmsg.*Permission denied/);
      expect(r.stdout).toMatch(/\/dev\/kmsg.*No such file/);
    },
  },
  {
    group: 'seeing the host', name: 'read kernel addresses (/proc/kallsyms, /proc/kcore, /proc/modules)',
    script: 'echo nonzero=$(awk \'$1 != "0000000000000000"\' /proc/kallsyms | wc -l); head -c 16 /proc/kcore >/dev/null 2>&1; echo kcore=$?',
    check: (r) => {
      expect(r.stdout).toContain('nonzero=0');
      expect(r.stdout).toMatch(/kcore=[1-9]/);
    },
  },
  {
    group: 'seeing the host', name: 'use the kernel keyring (keyctl, add_key, request_key)',
    script: `python3 - <<'PY'\n${PY_SYSCALLS}sc('keyctl', 250, 0, -3, 0)\nsc('add_key', 248, 0, 0, 0, 0, -3)\nsc('request_key', 249, 0, 0, 0, 0)\nPY`,
    check: (r) => expect(results(r.stdout)).toEqual({ keyctl: 'Operation not permitted', add_key: 'Operation not permitted', request_key: 'Operation not permitted' }),
  },
  {
    group: 'seeing the host', name: 'read firmware tables and DMI data',
    script: 'for f in /sys/firmware/acpi/tables/* /sys/class/dmi/id/product_serial /sys/class/dmi/id/product_uuid; do [ -e "$f" ] || continue; head -c 1 "$f" >/dev/null 2>&1 && echo "READ $f"; done; echo end',
    check: (r) => expect(r.stdout).not.toContain('READ'),
  },
  {
    group: 'seeing the host', name: "change the host's hostname",
    before: () => hostname(),
    script: 'hostname evil-host && hostname; hostname nslab',
    check: (r, _c, before: string) => {
      expect(r.stdout.trim()).toBe('evil-host');
      expect(hostname()).toBe(before);
    },
  },
  {
    group: 'seeing the host', name: 'see the host cgroup tree (own /proc/self/cgroup, fresh cgroup2 and v1 mounts)',
    script: 'cat /proc/self/cgroup; mkdir -p /mnt/c2 /mnt/c1; mount -t cgroup2 none /mnt/c2 && echo c2-dirs=$(find /mnt/c2 -mindepth 1 -type d | wc -l); umount /mnt/c2; mount -t cgroup -o pids none /mnt/c1 && echo c1-dirs=$(find /mnt/c1 -mindepth 1 -type d | wc -l); umount /mnt/c1',
    check: (r, c) => {
      const own = r.stdout.split('\n').filter((l) => /^\d+:/.test(l));
      if (V2) {
        // the shell sits in the sandbox's init leaf, named from the sandbox's own root;
        // a fresh cgroup2 mount shows exactly the sandbox's groups, and no v1 controller
        // can be mounted beside the v2 ones
        expect(own).toEqual(['0::/init']);
        expect(r.stdout).toContain(`c2-dirs=${ownV2Groups(c.a.id)}`);
        expect(r.stdout).not.toContain('c1-dirs=');
      } else {
        for (const line of own) expect(line).toMatch(/:\/$/);
        expect(r.stdout).toContain('c2-dirs=0');
        expect(r.stdout).toContain('c1-dirs=0');
      }
      expect(r.stdout).not.toMatch(/nslab|system\.slice|user\.slice/);
    },
  },
  {
    group: 'seeing the host', name: 'list the mounts of other mount namespaces by id (listmount, 6.8+)',
    script: String.raw`python3 - <<'PY'
import ctypes, os, struct, fcntl
libc = ctypes.CDLL(None, use_errno=True)
buf = bytearray(8)
try:
    fcntl.ioctl(os.open('/proc/self/ns/mnt', os.O_RDONLY), 0x8008b705, buf)  # NS_GET_MNTNS_ID
    own = struct.unpack('Q', buf)[0]
except OSError as e:  # before Linux 6.8 there are no mount namespace ids: try the ids anyway
    own = 0
out = (ctypes.c_uint64 * 64)()
readable = []
for nsid in list(range(1, 4096)) + list(range(max(1, own - 4096), own + 4096)):
    req = struct.pack('IIQQQ', 32, 0, 0xffffffffffffffff, 0, nsid)  # mnt_id_req for LSMT_ROOT in namespace nsid
    if libc.syscall(458, req, out, 64, 0) >= 0: readable.append(nsid)
print('own', own)
print('readable', sorted(set(readable)))
PY`,
    check: (r) => {
      const own = /own (\d+)/.exec(r.stdout)?.[1];
      expect(own).toBeDefined();
      // listmount(2) and namespace ids came in Linux 6.8: on older kernels nothing is readable at all
      expect(r.stdout).toContain(kernelAtLeast(6, 8) ? `readable [${own}]` : 'readable []');
    },
  },
  {
    group: 'seeing the host', name: 'climb to the host namespaces with NS_GET_PARENT / NS_GET_USERNS',
    script: String.raw`python3 - <<'PY'
import os, fcntl
for ns, req, name in (('user', 0xb702, 'parent-of-user'), ('pid', 0xb702, 'parent-of-pid'), ('user', 0xb701, 'owner-of-user')):
    try:
        nfd = fcntl.ioctl(os.open('/proc/self/ns/' + ns, os.O_RDONLY), req)
        print(name, os.readlink('/proc/self/fd/%d' % nfd))
    except OSError as e: print(name, e.strerror)
PY`,
    check: (r) => expect(results(r.stdout)).toEqual({
      'parent-of-user': 'Operation not permitted', 'parent-of-pid': 'Operation not permitted', 'owner-of-user': 'Operation not permitted',
    }),
  },
  {
    group: 'seeing the host', name: 'find host block and memory devices in /dev',
    script: 'ls /dev; ls /dev/vda /dev/sda /dev/loop0 /dev/loop-control /dev/mem /dev/kmem /dev/port /dev/nvme0n1 2>&1 | grep -vc "No such file"; true',
    check: (r) => {
      expect(r.stdout.trim().split('\n').pop()).toBe('0');
      expect(r.stdout).not.toMatch(/\b(vd[a-z]|sd[a-z]|loop\d|nvme|mem|kmem|port)\b/);
    },
  },
];

const escaping: Attempt[] = [
  {
    group: 'escaping', name: 'mount the host disk (mknod a block device, loop devices)',
    script: 'mknod /tmp/vda b 254 0 2>&1; mount /dev/vda /mnt 2>&1; mount -t ext4 /tmp/vda /mnt 2>&1; losetup -f 2>&1; grep -c " /mnt " /proc/self/mountinfo',
    check: (r) => {
      expect(r.stdout).toMatch(/mknod: \/tmp\/vda: Operation not permitted/);
      expect(r.stdout.trim().split('\n').pop()).toBe('0');
    },
  },
  {
    group: 'escaping', name: 'mknod of disk and memory devices',
    script: 'for d in "b 8 0" "c 1 1" "c 1 2" "c 1 4" "c 10 232"; do mknod /tmp/dev-$RANDOM $d 2>&1; done; true',
    check: (r) => expect(r.stdout.trim().split('\n').filter((l) => !/Operation not permitted/.test(l))).toEqual([]),
  },
  {
    group: 'escaping', name: 'write /proc/sysrq-trigger (own /proc and a fresh one in a new pid namespace)',
    script: 'echo h > /proc/sysrq-trigger; echo rc=$?; unshare --pid --fork --mount-proc sh -c "echo h > /proc/sysrq-trigger; echo rc=\\$?"',
    check: (r) => {
      expect(r.stdout).not.toContain('rc=0');
      expect(r.stdout.match(/rc=[1-9]/g)).toHaveLength(2);
    },
  },
  {
    group: 'escaping', name: 'write kernel.core_pattern, modprobe and uevent_helper',
    before: () => snapshotSysctls(),
    script: String.raw`for f in /proc/sys/kernel/core_pattern /proc/sys/kernel/modprobe /sys/kernel/uevent_helper; do echo '|/tmp/pwn' > $f 2>/dev/null && echo "WROTE $f"; done
unshare --pid --fork --mount-proc sh -c "echo '|/tmp/pwn' > /proc/sys/kernel/core_pattern 2>/dev/null && echo WROTE-nested"; cat /proc/sys/kernel/core_pattern`,
    check: (r, _c, before) => {
      expect(r.stdout).not.toContain('WROTE');
      expect(snapshotSysctls()).toEqual(before);
    },
  },
  {
    group: 'escaping', name: 'set host-wide sysctls (panic_on_oops, ASLR, overcommit, pid_max, file-max)',
    before: () => snapshotSysctls(),
    script: 'for kv in kernel.panic_on_oops=1 kernel.randomize_va_space=0 vm.overcommit_memory=1 kernel.pid_max=4194304 fs.file-max=10 vm.drop_caches=3; do sysctl -q -w $kv 2>/dev/null && echo "SET $kv"; done; echo end',
    check: (r, _c, before) => {
      // kernel.pid_max belongs to the pid namespace since Linux 6.14: setting it inside is allowed and stays inside
      expect(r.stdout.split('\n').filter((l) => l.startsWith('SET') && !l.includes('kernel.pid_max'))).toEqual([]);
      expect(snapshotSysctls()).toEqual(before);
    },
  },
  {
    group: 'escaping', name: 'register a binfmt_misc handler',
    script: `mkdir -p /mnt/binfmt; mount -t binfmt_misc none /mnt/binfmt 2>&1 && { echo ':nslabpwn:E::nslabpwn::/tmp/pwn:' > /mnt/binfmt/register 2>&1; ls /mnt/binfmt; umount /mnt/binfmt; }; echo end`,
    check: (r) => {
      expect(r.stdout).toContain('end');
      // whatever happened inside, the host's binfmt_misc has no such entry
      const host = execFileSync('unshare', ['-m', 'sh', '-c', 'mkdir -p /tmp/bf-$$ && mount -t binfmt_misc none /tmp/bf-$$ && ls /tmp/bf-$$; umount /tmp/bf-$$ 2>/dev/null; rmdir /tmp/bf-$$'], { encoding: 'utf8' });
      expect(host).not.toContain('nslabpwn');
    },
  },
  {
    group: 'escaping', name: 'cgroup v1 release_agent (CVE-2022-0492: every hierarchy, directly and under unshare -UrmC)',
    before: () => releaseAgents(),
    script: String.raw`try() { d=$(mktemp -d); if mount -t cgroup -o $1 cgroup $d 2>/dev/null; then [ -e $d/release_agent ] && echo /tmp/pwn > $d/release_agent 2>/dev/null && echo "WROTE $1 $2"; echo 1 > $d/notify_on_release 2>/dev/null; umount $d; fi; rmdir $d; }
for h in memory pids cpu cpuacct freezer devices blkio cpuset net_cls perf_event hugetlb rdma misc name=systemd; do try $h direct; done
export -f try
unshare -UrmC --propagation=private bash -c 'for h in memory pids cpu freezer devices blkio cpuset rdma name=systemd; do try $h userns; done'
echo end`,
    check: (r, _c, before) => {
      expect(r.stdout).not.toContain('WROTE');
      expect(r.stdout).toContain('end');
      expect(releaseAgents()).toEqual(before);
    },
  },
  {
    group: 'escaping', name: "raise the sandbox's own cgroup limits or disable its OOM killer",
    before: (c) => ownLimits(c.a.id),
    // v1: a file per controller hierarchy; v2: the files of the sandbox's own group, which
    // a fresh cgroup2 mount inside shows too. v2 has no switch that turns the OOM killer
    // off; memory.oom.group (kill the group as a whole) is the learner's by design
    // (/sys/kernel/cgroup/delegate, crun hands it over) and spares PID 1 at -1000
    script: V2
      ? 'cd /sys/fs/cgroup; for w in "pids.max max" "memory.max max" "memory.swap.max max" "memory.high max" "cpu.max max"; do set -- $w; echo $2 > $1 2>/dev/null && echo "RAISED $1"; done; mkdir -p /mnt/u && mount -t cgroup2 none /mnt/u && { echo max > /mnt/u/memory.max 2>/dev/null && echo "RAISED fresh memory.max"; umount /mnt/u; }; echo end'
      : 'cd /sys/fs/cgroup; for w in "pids/pids.max max" "memory/memory.limit_in_bytes -1" "memory/memory.memsw.limit_in_bytes -1" "cpu/cpu.cfs_quota_us -1" "memory/memory.oom_control 1"; do set -- $w; echo $2 > $1 2>/dev/null && echo "RAISED $1"; done; echo end',
    check: (r, c, before) => {
      expect(r.stdout).not.toContain('RAISED');
      expect(r.stdout).toContain('end');
      expect(ownLimits(c.a.id)).toEqual(before);
    },
  },
  {
    group: 'escaping', name: "move itself out of the sandbox's cgroup (fresh v1 and cgroup2 mounts)",
    script: 'mkdir -p /mnt/p /mnt/u; mount -t cgroup -o pids none /mnt/p && { echo $$ > /mnt/p/../cgroup.procs 2>/dev/null; echo $$ > /mnt/p/cgroup.procs; umount /mnt/p; }; mount -t cgroup2 none /mnt/u && { echo $$ > /mnt/u/cgroup.procs 2>/dev/null && echo moved-v2; umount /mnt/u; }; sleep 300 >/dev/null 2>&1 & echo bg=$!',
    check: async (r, c) => {
      expect(r.stdout).toMatch(/bg=\d+/);
      // from the host: every process of the sandbox is still inside its cgroups in every hierarchy
      const procs = await c.a.probe.processes();
      expect(procs.length).toBeGreaterThan(1);
      for (const p of procs) {
        const cg = readHost(`/proc/${p.hostPid}/cgroup`) ?? '';
        for (const line of cg.trim().split('\n')) expect(line).toContain(`/nslab/${c.a.id}`);
      }
      await c.a.exec(['pkill', '-x', 'sleep']);
    },
  },
  {
    group: 'escaping', name: 'open_by_handle_at / name_to_handle_at ("shocker")',
    script: `python3 - <<'PY'\n${PY_SYSCALLS}sc('open_by_handle_at', 304, -100, 0, 0)\nsc('name_to_handle_at', 303, -100, 0, 0, 0, 0)\nPY`,
    check: (r) => expect(results(r.stdout)).toEqual({ open_by_handle_at: 'Operation not permitted', name_to_handle_at: 'Operation not permitted' }),
  },
  {
    group: 'escaping', name: 'ptrace the runtime processes that enter the sandbox (crun exec)',
    script: WATCHER,
    during: async (c) => {
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 0; i < 20; i++) await c.a.exec(['true'], { timeoutMs: 15_000 });
    },
    check: (r) => {
      const res = results(r.stdout);
      expect(Number(res.new)).toBeGreaterThan(0);
      // processes still owned by the host (non-dumpable runtime) were seen but never attached
      expect(res.attached_foreign).toBe('0');
    },
  },
  {
    group: 'escaping', name: 'overwrite the runtime binary through /proc/PID/exe (CVE-2019-5736)',
    before: () => ({ crun: sha(crunPath()) }),
    script: WATCHER,
    during: async (c) => {
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 0; i < 20; i++) await c.a.exec(['true'], { timeoutMs: 15_000 });
    },
    check: (r, _c, before) => {
      expect(results(r.stdout).exe_written).toBe('0');
      expect(sha(crunPath())).toBe(before.crun);
    },
  },
  {
    group: 'escaping', name: 'load, unload or autoload kernel modules',
    script: `modprobe dummy 2>/dev/null && echo MODPROBE; python3 - <<'PY'\n${PY_SYSCALLS}sc('init_module', 175, 0, 0, 0)\nsc('finit_module', 313, 0, 0, 0)\nsc('delete_module', 176, 0, 0)\nPY`,
    check: (r) => {
      expect(r.stdout).not.toContain('MODPROBE');
      expect(results(r.stdout)).toMatchObject({ init_module: 'Operation not permitted', finit_module: 'Operation not permitted', delete_module: 'Operation not permitted' });
    },
  },
  {
    group: 'escaping', name: 'write to /sys (remount it read-write)',
    before: () => readHost('/sys/kernel/mm/transparent_hugepage/enabled'),
    script: 'mount -o remount,rw /sys 2>&1; echo never > /sys/kernel/mm/transparent_hugepage/enabled 2>&1; echo 1 > /sys/kernel/profiling 2>&1; echo end',
    check: (r, _c, before) => {
      expect(r.stdout + r.stderr).toMatch(DENIED);
      expect(r.stderr).toMatch(/transparent_hugepage\/enabled: (Read-only file system|Permission denied)/);
      expect(readHost('/sys/kernel/mm/transparent_hugepage/enabled')).toBe(before);
    },
  },
  {
    group: 'escaping', name: 'write into the shared read-only image (remount /usr and /etc rw)',
    script: 'for d in /usr /etc /var /opt; do mount -o remount,bind,rw $d 2>/dev/null; touch $d/nslab-pwn 2>&1; done; echo end',
    check: (r, c) => {
      expect(r.stdout.split('\n').filter((l) => l.startsWith('touch')).length).toBe(4);
      expect(r.stdout).toMatch(/Read-only file system/);
      const root = execFileSync('sh', ['-c', `find /var/lib/nslab /run/nslab -maxdepth 6 -name nslab-pwn 2>/dev/null; true`], { encoding: 'utf8' });
      expect(root.trim()).toBe('');
    },
  },
  {
    group: 'escaping', name: 'map host uid 0 or ids beyond its range into a nested user namespace',
    script: 'unshare -U sleep 30 & p=$!; sleep 0.3; for m in "0 0 65537" "0 65536 1" "0 4294967294 1"; do echo "$m" > /proc/$p/uid_map 2>/dev/null && echo "MAPPED $m"; done; kill $p; unshare -r cat /proc/self/uid_map',
    check: (r) => {
      expect(r.stdout).not.toContain('MAPPED');
      // a nested root is the sandbox's uid 0, one id
      expect(r.stdout.trim().split('\n').pop()?.trim().split(/\s+/)).toEqual(['0', '0', '1']);
    },
  },
  {
    group: 'escaping', name: 'inject keystrokes into the terminal (TIOCSTI, TIOCLINUX)',
    script: String.raw`cat > /tmp/sti.py <<'PY'
import fcntl, termios
for name, req in (('TIOCSTI', termios.TIOCSTI), ('TIOCLINUX', 0x541C)):
    try: fcntl.ioctl(0, req, b'x'); print(name, 'ok')
    except OSError as e: print(name, e.strerror)
PY
script -qc 'python3 /tmp/sti.py' /dev/null`,
    check: (r) => expect(results(r.stdout.replace(/\r/g, ''))).toEqual({ TIOCSTI: 'Operation not permitted', TIOCLINUX: 'Operation not permitted' }),
  },
  {
    group: 'escaping', name: 'break out of a chroot back to the real root',
    script: String.raw`mkdir -p /tmp/jail && cd /tmp/jail && python3 -c "
import os
os.makedirs('inner', exist_ok=True)
os.chroot('inner')  # the working directory stays outside the new root
for _ in range(64): os.chdir('..')
os.chroot('.')
print(sorted(os.listdir('/')))"`,
    check: (r) => {
      expect(r.stdout).toContain("'usr'");
      expect(r.stdout).not.toMatch(/'work'|'boot'|'lost\+found'/);
    },
  },
  {
    group: 'escaping', name: 'reboot, kexec, swap, accounting, clock and port I/O syscalls',
    script: `python3 - <<'PY'\n${PY_SYSCALLS}sc('reboot', 169, 0xfee1dead, 672274793, 0x01234567, 0)\nsc('kexec_load', 246, 0, 0, 0, 0)\nsc('swapon', 167, 0, 0)\nsc('acct', 163, 0)\nsc('settimeofday', 164, 0, 0)\nsc('clock_settime', 227, 0, 0)\nsc('iopl', 172, 3)\nsc('ioperm', 173, 0, 1, 1)\nsc('syslog', 103, 3, 0, 0)\nPY`,
    check: (r) => {
      const res = results(r.stdout);
      expect(Object.keys(res)).toHaveLength(9);
      for (const v of Object.values(res)) expect(v).toBe('Operation not permitted');
    },
  },
  {
    group: 'escaping', name: 'bpf, perf_event_open, userfaultfd, io_uring, kcmp, fanotify',
    script: `python3 - <<'PY'\n${PY_SYSCALLS}sc('bpf', 321, 0, 0, 0)\nsc('perf_event_open', 298, 0, 0, -1, -1, 0)\nsc('userfaultfd', 323, 0)\nsc('io_uring_setup', 425, 1, 0)\nsc('kcmp', 312, 1, 1, 0, 0, 0)\nsc('fanotify_init', 300, 0, 0)\nPY`,
    check: (r) => expect(results(r.stdout)).toEqual({
      bpf: 'Operation not permitted', perf_event_open: 'Operation not permitted', userfaultfd: 'Operation not permitted',
      io_uring_setup: 'Function not implemented', kcmp: 'Operation not permitted', fanotify_init: 'Operation not permitted',
    }),
  },
  {
    group: 'escaping', name: 'bypass the seccomp filter through the 32-bit (int 0x80) and x32 syscall ABIs',
    script: String.raw`cd /tmp && cat > abi.c <<'C'
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  long r;
  if (!strcmp(argv[1], "i386")) { /* keyctl is 288 on i386 */
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(288L), "b"(0L), "c"(0L) : "memory");
  } else { /* keyctl on x32 */
    r = syscall(0x40000000L | 250, 0L, -3L, 0L);
  }
  printf("%s returned %ld\n", argv[1], r);
  return 0;
}
C
gcc -o abi abi.c && for abi in i386 x32; do ./abi $abi; echo "$abi exit=$?"; done`,
    check: (r) => {
      // libseccomp kills a process using any ABI other than x86_64 (SIGSYS: 128+31)
      expect(r.stdout).toContain('i386 exit=159');
      expect(r.stdout).toContain('x32 exit=159');
      expect(r.stdout).not.toContain('returned');
    },
  },
  {
    group: 'escaping', name: 'find runtime sockets and state (docker.sock, crun state, other sandboxes)',
    script: 'find / -type s -not -path "/proc/*" -not -path "/sys/*" 2>/dev/null; ls -A /run /run/nslab; ls /run/crun /run/nslab/sandboxes /var/run/docker.sock /run/containerd 2>&1 | grep -vc "No such file"; true',
    check: (r) => {
      expect(r.stdout.trim().split('\n').pop()).toBe('0');
      expect(r.stdout).not.toMatch(/docker\.sock|containerd|crun/);
    },
  },
  {
    group: 'escaping', name: "plant a program where the host-side probe helper execs `head` (lab.readFile in lesson checks)",
    before: (c) => ({ connections: c.host.connections, env: (process.env.NSLAB_HOSTILE_MARK = c.marker) }),
    script: (c) => `cat > /tmp/evil <<'EOF'
#!/bin/bash
{ echo "links: $(ip -o link | cut -d: -f2 | tr -d ' ' | tr '\\n' ' ')"; env | grep -c ${c.marker.slice(0, 6)} | sed 's/^/server-env: /'
  timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${c.host.port} && cat <&3' | sed 's/^/host-service: /'; } > /tmp/pwned-out 2>&1
echo forged
EOF
chmod +x /tmp/evil && mount --bind /tmp/evil /usr/bin/head && echo planted`,
    check: async (r, c, before: { connections: number }) => {
      expect(r.stdout).toContain('planted');
      // a check reads a file of PID 1, as lessons' checks do all the time
      const init = (await c.a.probe.processes()).find((p) => p.pid === 1)!;
      const read = await c.a.probe.readFile(init.hostPid, '/etc/hostname').catch((e: Error) => e.message);
      const report = (await c.a.exec(['bash', '-c', 'cat /tmp/pwned-out 2>/dev/null; umount /usr/bin/head; rm -f /tmp/pwned-out'])).stdout;
      const reached = c.host.connections - before.connections;
      // the safe outcome: the helper never ran the learner's program, so no report,
      // no host interface, no server environment, no connection, and the real file
      expect({ report, reached }).toEqual({ report: '', reached: 0 });
      expect(read).toBe('nslab\n');
    },
  },
  {
    group: 'escaping', name: 'point an `ip netns` pin at a namespace outside the sandbox, for the probe to read (lab.net in lesson checks)',
    script: `mkdir -p /run/netns && ln -s /proc/self/ns/net /run/netns/self-link && ln -s /proc/1/ns/net /run/netns/init-link \
&& ln -s ../../../../proc/1/root/proc/1/ns/net /run/netns/climb && echo planted`,
    check: async (r, c) => {
      expect(r.stdout).toContain('planted');
      const init = (await c.a.probe.processes()).find((p) => p.pid === 1)!;
      const hostNet = Number(/\d+/.exec(execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }))![0]);
      // every path resolves inside the sandbox (its procfs, its root): at most the sandbox's own namespace
      for (const pin of ['/run/netns/self-link', '/run/netns/init-link', '/run/netns/climb']) {
        const state = await c.a.probe.net(init.hostPid, pin);
        expect(state === null || state.inode === init.ns.net, pin).toBe(true);
        expect(state?.inode, pin).not.toBe(hostNet);
      }
      await c.a.exec(['bash', '-c', 'rm -f /run/netns/self-link /run/netns/init-link /run/netns/climb']);
    },
  },
  {
    group: 'escaping', name: 'kill or stop the sandbox init from inside',
    script: 'kill -KILL 1; kill -SEGV 1; kill -STOP 1; sleep 0.2; cat /proc/1/status | grep State',
    check: async (r, c) => {
      expect(r.stdout).toMatch(/State:\s+S/);
      expect(c.a.state).toBe('running');
    },
  },
];

const exhausting: Attempt[] = [
  {
    group: 'exhausting', name: 'fork bomb',
    before: (c) => cgroupEvents(c.a.id, 'pids', 'pids.events', 'max'),
    // 8 s reach the limit many times over on a host; under emulation (the TCG VM,
    // docs/vm.md, NSLAB_VM=1) forks are slow enough that 8 s sometimes did not
    script: `timeout -s KILL ${process.env.NSLAB_VM ? 30 : 8} unshare --pid --fork --kill-child bash -c 'b() { b | b & }; b; sleep ${process.env.NSLAB_VM ? 30 : 10}' >/dev/null 2>&1; echo bomb-over`,
    timeoutMs: 60_000,
    check: (r, c, maxBefore: number) => {
      expect(r.stdout).toContain('bomb-over');
      // the pids limit was hit (the kernel refused forks), and the host can still fork
      expect(cgroupEvents(c.a.id, 'pids', 'pids.events', 'max')).toBeGreaterThan(maxBefore);
      expect(Number(readHost(cgroupFile(c.a.id, 'pids', 'pids.max')))).toBe(c.a.limits.pids);
      expect(hostCanFork()).toBe(true);
    },
  },
  {
    group: 'exhausting', name: 'park socket buffers on loopback (not charged to the memory limit on cgroup v1 unless kmem.tcp is limited)',
    // 300 connections with 64 MiB buffers, each filled until the kernel says stop; held while the host looks
    script: String.raw`sysctl -qw net.ipv4.tcp_rmem="4096 131072 67108864" net.ipv4.tcp_wmem="4096 131072 67108864"
python3 - <<'PY'
import socket
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(512)
total = 0; conns = []
for i in range(300):
    c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    c.connect(srv.getsockname()); a, _ = srv.accept(); a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    c.setblocking(False); conns.append((c, a))
    while True:
        try: total += c.send(b'x' * 65536)
        except OSError: break
print('queued_mib', total >> 20)
PY`,
    timeoutMs: 90_000,
    check: (r, c) => {
      const queued = Number(results(r.stdout).queued_mib);
      if (hostInfo().cgroupMode === 'v2') {
        // v2 charges socket memory to memory.max: bounded by the sandbox's memory limit
        expect(queued).toBeLessThan(c.a.limits.memoryBytes / 1048576);
      } else {
        // v1: the sandbox's kmem.tcp limit (64 MiB) stopped it, far below the host-wide tcp_mem
        expect(queued).toBeGreaterThan(8);
        expect(queued).toBeLessThanOrEqual(66);
        expect(Number(readHost(cgroupFile(c.a.id, 'memory', 'memory.kmem.tcp.limit_in_bytes')))).toBe(64 * 1048576);
      }
    },
  },
  {
    group: 'exhausting', name: 'park datagrams in thousands of UDP receive queues (also uncharged on cgroup v1 without a socket-memory cap)',
    // On v2 the parked buffers fill memory.max, and then every allocation in the sandbox
    // stalls in reclaim until the holder dies (in the TCG VM for longer than the row may
    // run, wedging the rows after it): the learner's own timeout ends the holder
    script: String.raw`timeout -s KILL 60 python3 - <<'PY'
import socket
socks = []
for i in range(4000):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24); r.bind(('127.0.0.1', 0))
    socks.append(r)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for r in socks:
    for j in range(400): s.sendto(b'x' * 1400, r.getsockname())
rx = sum(int(l.split()[4].split(':')[1], 16) for l in open('/proc/net/udp').readlines()[1:])
print('queued_mib', rx >> 20)
PY
echo status=$?`,
    timeoutMs: 90_000,
    check: async (r, c) => {
      const queued = Number(results(r.stdout).queued_mib);
      if (V2) {
        // v2 charges socket buffers to memory.max: the queues end in the memory cgroup's
        // OOM killer or the timeout (the script is killed), or stop below the limit; either
        // way the sandbox lives on, its PID 1 out of the killer's reach (docs/security.md known gap 2).
        // The killer may take the row's shell as well as python (then no status line at all)
        if (r.stdout.includes('status=137') || r.code === 137) {
          expect((await c.a.probe.cgroups()).find((g) => g.path === '/')!.memoryLimit).toBe(c.a.limits.memoryBytes);
        } else {
          expect(queued).toBeGreaterThan(8);
          expect(queued).toBeLessThanOrEqual(c.a.limits.memoryBytes / 1048576);
        }
        expect(c.a.state).toBe('running');
        expect((await c.a.exec(['sh', '-c', 'echo alive'])).stdout.trim()).toBe('alive');
        return;
      }
      // v1: the kmem.tcp cap covers every socket of the group on this kernel (2259 MiB without it)
      expect(queued).toBeGreaterThan(8);
      expect(queued).toBeLessThanOrEqual(66);
    },
  },
  {
    group: 'exhausting', name: 'memory hog',
    before: async (c) => (await c.a.probe.cgroups()).find((g) => g.path === '/')!.oomKills,
    script: String.raw`python3 -c "
x = []
while True: x.append(b'\x01' * (1 << 20))"; echo status=$?`,
    check: async (r, c, kills: number) => {
      expect(r.stdout).toContain('status=137');
      const root = (await c.a.probe.cgroups()).find((g) => g.path === '/')!;
      expect(root.oomKills).toBeGreaterThan(kills);
      expect(root.memoryLimit).toBe(c.a.limits.memoryBytes);
    },
  },
  {
    group: 'exhausting', name: 'several moderate memory hogs that only together overrun the limit',
    before: async (c) => (await c.a.probe.cgroups()).find((g) => g.path === '/')!.oomKills,
    script: String.raw`for i in 1 2 3 4 5; do python3 -c "x = b'' * (150 << 20); import time; time.sleep(4)" & done; wait; echo waited`,
    check: async (r, c, kills: number) => {
      // one of the hogs is OOM-killed, not the sandbox's PID 1
      expect(r.stdout).toContain('waited');
      expect(r.stderr).toMatch(/Killed/);
      expect((await c.a.probe.cgroups()).find((g) => g.path === '/')!.oomKills).toBeGreaterThan(kills);
      expect(c.a.state).toBe('running');
    },
  },
  {
    group: 'exhausting', name: 'fill the writable layer',
    script: 'dd if=/dev/zero of=/root/fill bs=1M count=2048 2>&1 | grep -o "No space left on device"; echo mb=$(du -m /root/fill | cut -f1); rm -f /root/fill',
    check: (r, c) => {
      expect(r.stdout).toContain('No space left on device');
      expect(Number(/mb=(\d+)/.exec(r.stdout)?.[1])).toBeLessThanOrEqual(c.a.limits.diskBytes / 1024 / 1024);
    },
  },
  {
    group: 'exhausting', name: 'fill /dev/shm, /run and /var/tmp',
    script: 'for d in /dev/shm /run /var/tmp; do dd if=/dev/zero of=$d/fill bs=1M count=1024 2>&1 | grep -o "No space left on device"; echo "$d $(du -m $d/fill | cut -f1)"; rm -f $d/fill; done',
    check: (r) => {
      expect(r.stdout.match(/No space left on device/g)).toHaveLength(3);
      for (const [dir, cap] of [['/dev/shm', 64], ['/run', 16], ['/var/tmp', 64]] as const) {
        expect(Number(new RegExp(`^${dir} (\\d+)`, 'm').exec(r.stdout)?.[1])).toBeLessThanOrEqual(cap);
      }
    },
  },
  {
    group: 'exhausting', name: 'exhaust inodes of the writable layer',
    script: String.raw`python3 -c "
import os
os.makedirs('/root/inodes', exist_ok=True)
n = 0
try:
    while n < 200000:
        open('/root/inodes/%d' % n, 'w').close(); n += 1
    print('made', n)
except OSError as e: print('stopped', n, e.strerror)"; rm -rf /root/inodes`,
    check: (r, c) => {
      expect(r.stdout).toMatch(/stopped \d+ No space left on device/);
      expect(Number(/stopped (\d+)/.exec(r.stdout)?.[1])).toBeLessThanOrEqual(Math.max(4096, c.a.limits.diskBytes / 16384));
    },
  },
  {
    group: 'exhausting', name: 'mount a huge tmpfs of its own and fill it (pages are charged to the sandbox)',
    script: `unshare -m sh -c 'mount -t tmpfs -o size=8g big /mnt && dd if=/dev/zero of=/mnt/f bs=1M count=2048 2>/dev/null; echo dd=$?; echo mb=$(du -m /mnt/f | cut -f1)'; echo end`,
    check: async (r, c) => {
      // dd (and maybe its shells) were OOM-killed below the memory limit, never at 2 GiB
      const mb = /mb=(\d+)/.exec(r.stdout)?.[1];
      if (mb !== undefined) expect(Number(mb)).toBeLessThan(c.a.limits.memoryBytes / 1024 / 1024);
      expect(r.stdout).not.toContain('dd=0');
      expect(c.a.state).toBe('running');
      const root = (await c.a.probe.cgroups()).find((g) => g.path === '/')!;
      expect(root.oomKills).toBeGreaterThan(0);
    },
  },
  {
    group: 'exhausting', name: 'System V message queues up to the namespace limit',
    script: String.raw`python3 -c "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while n < 100000:
    if libc.msgget(0, 0o1600) < 0: print('stopped', n, os.strerror(ctypes.get_errno())); break
    n += 1"; ipcrm -a; echo left=$(ipcs -q | grep -c 0x)`,
    check: (r) => {
      expect(r.stdout).toMatch(/stopped 32000 No space left on device/);
      expect(r.stdout).toContain('left=0');
      // the host IPC namespace is untouched and usable
      const id = /(\d+)/.exec(execFileSync('ipcmk', ['-Q'], { encoding: 'utf8' }))![1];
      execFileSync('ipcrm', ['-q', id]);
    },
  },
  {
    group: 'exhausting', name: 'POSIX message queues up to RLIMIT_MSGQUEUE',
    script: String.raw`python3 -c "
import ctypes, os, resource
resource.setrlimit(resource.RLIMIT_MSGQUEUE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))" 2>&1 | tail -1
python3 -c "
import ctypes, os
rt = ctypes.CDLL('librt.so.1', use_errno=True)
n = 0
while n < 10000:
    if rt.mq_open(b'/q%d' % n, os.O_CREAT | os.O_RDWR, 0o600, None) < 0: print('stopped', n, os.strerror(ctypes.get_errno())); break
    n += 1
for i in range(n): rt.mq_unlink(b'/q%d' % i)"`,
    check: (r) => {
      expect(r.stdout).toMatch(/PermissionError|ValueError|not allowed/);
      expect(r.stdout).toMatch(/stopped \d+ Too many open files/);
      expect(Number(/stopped (\d+)/.exec(r.stdout)?.[1])).toBeLessThan(100);
    },
  },
  {
    group: 'exhausting', name: 'thousands of network namespaces held open (charged to the sandbox memory)',
    // the timeout only matters in the TCG VM (docs/vm.md), where namespaces are slow to make
    script: String.raw`timeout -s KILL 75 python3 -c "
import ctypes, os, resource, time
libc = ctypes.CDLL(None, use_errno=True)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
usage_file = '/sys/fs/cgroup/memory.current' if os.path.exists('/sys/fs/cgroup/memory.current') else '/sys/fs/cgroup/memory/memory.usage_in_bytes'
usage = lambda: int(open(usage_file).read())
prev = usage()
for _ in range(60):
    time.sleep(0.5); cur = usage()
    if abs(cur - prev) < 1048576: break
    prev = cur
start = usage()
n = 0
while n < 100000:
    if libc.unshare(0x40000000) != 0: print('stopped', n, os.strerror(ctypes.get_errno()), flush=True); break
    os.open('/proc/self/ns/net', os.O_RDONLY); n += 1
    if n == 1000: print('charged-kb', (usage() - start) // 1024, flush=True)
print('held', n)"; echo status=$?`,
    // the kernel frees net namespaces later, in a workqueue: under emulation the
    // teardown of thousands outlasts the loop's 75 s (and a retry's start must wait
    // for the last run's frees to settle, above, or its charge reads negative)
    timeoutMs: 240_000,
    check: (r) => {
      // 1000 namespaces cost the sandbox's memory cgroup real memory (so the memory limit bounds them)
      expect(Number(/charged-kb (\d+)/.exec(r.stdout)?.[1])).toBeGreaterThan(1000 * 16);
      // then the OOM killer or a per-process limit stopped the loop (or, in the VM, the timeout)
      expect(r.stdout).toMatch(/status=137|stopped \d+/);
      expect(hostCanFork()).toBe(true);
    },
  },
  {
    group: 'exhausting', name: 'nest user namespaces without end',
    script: String.raw`python3 -c "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while n < 1000:
    outer = os.geteuid(), os.getegid()
    if libc.unshare(0x10000000) != 0: print('stopped', n, os.strerror(ctypes.get_errno())); break
    open('/proc/self/setgroups', 'w').write('deny')
    open('/proc/self/uid_map', 'w').write('0 %d 1' % outer[0])
    open('/proc/self/gid_map', 'w').write('0 %d 1' % outer[1])
    n += 1"`,
    check: (r) => {
      // the kernel caps nesting at 32 levels; the sandbox is already one of them
      expect(r.stdout).toMatch(/stopped (\d+) (Too many users|No space left on device)/);
      expect(Number(/stopped (\d+)/.exec(r.stdout)?.[1])).toBeLessThanOrEqual(32);
    },
  },
  {
    group: 'exhausting', name: 'file descriptors up to RLIMIT_NOFILE',
    script: String.raw`python3 -c "
import os, resource
try: resource.setrlimit(resource.RLIMIT_NOFILE, (1 << 24, 1 << 24)); print('raised')
except (ValueError, OSError) as e: print('raise refused')
fds = []
try:
    while len(fds) < 10000000: fds.append(os.open('/dev/null', os.O_RDONLY))
except OSError as e: print('stopped', len(fds), e.strerror)"`,
    check: (r) => {
      expect(r.stdout).toContain('raise refused');
      expect(r.stdout).toMatch(/stopped \d+ Too many open files/);
      expect(hostCanFork()).toBe(true);
    },
  },
  {
    group: 'exhausting', name: 'open pseudo-terminals without end',
    script: String.raw`python3 -c "
import os
n = 0
try:
    while n < 100000: os.openpty(); n += 1
except OSError as e: print('stopped', n, e.strerror)"`,
    check: (r, c) => {
      expect(Number(/stopped (\d+)/.exec(r.stdout)?.[1])).toBeLessThanOrEqual(c.a.limits.ptys);
      // the host can still open a pty
      expect(execFileSync('script', ['-qc', 'echo host-pty', '/dev/null'], { encoding: 'utf8' })).toContain('host-pty');
    },
  },
  {
    group: 'exhausting', name: 'flood the terminal with output (64 MiB through the pty)',
    pty: true,
    script: 'yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c 67108864',
    check: (r) => {
      expect(Number(/bytes=(\d+)/.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(64 * 1024 * 1024);
      expect(hostCanFork()).toBe(true);
    },
  },
  {
    group: 'exhausting', name: 'flood the command-log FIFO with one 1 MiB write of well-formed forged lines',
    before: (c) => {
      const seen = { n: 0 };
      const off = c.a.onCommand(() => { seen.n++; });
      return { seen, off };
    },
    // the pipe is enlarged to 1 MiB and filled in one write(), so the server finds the whole flood at once
    script: String.raw`python3 - <<'PY'
import fcntl, os
line = b'nslab1\tcmd\t1\t1\t0\t1\t\techo forged\n'
n = (1 << 20) // len(line)
fd = os.open('/run/nslab/cmdlog', os.O_WRONLY)
fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ
os.write(fd, line * n)
print('lines', n)
PY`,
    check: async (r, c, b: { seen: { n: number }; off: () => void }) => {
      const lines = Number(/lines (\d+)/.exec(r.stdout)?.[1]);
      expect(lines).toBeGreaterThan(10_000);
      // once the server has begun to take the lines in, the host side must still
      // answer before it has swallowed all of them: a flood must not monopolise the
      // lab server's event loop (every learner's terminal and checks run on it)
      for (let i = 0; i < 2400 && b.seen.n === 0; i++) await new Promise((res) => setTimeout(res, 25));
      expect(await c.host.ping()).toBe('host-ok');
      const atPing = b.seen.n;
      b.off();
      expect(atPing).toBeGreaterThan(0);
      expect(atPing).toBeLessThan(lines);
    },
  },
  {
    group: 'exhausting', name: 'take the system-wide AIO pool (fs.aio-max-nr) with io_setup',
    script: String.raw`python3 - <<'PY'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while n < 10000:
    ctx = ctypes.c_ulong(0)
    if libc.syscall(206, 4096, ctypes.byref(ctx)) != 0: print('stopped', n, os.strerror(ctypes.get_errno())); break
    n += 1
PY`,
    check: (r) => {
      // refused outright (seccomp ENOSYS): one sandbox could otherwise take all 65536 events of the host
      expect(r.stdout.trim()).toBe('stopped 0 Function not implemented');
      const host = execFileSync('python3', ['-c', 'import ctypes; c = ctypes.c_ulong(0); l = ctypes.CDLL(None); r = l.syscall(206, 1, ctypes.byref(c)); print(r); l.syscall(207, c)'], { encoding: 'utf8' }).trim();
      expect(host).toBe('0');
    },
  },
  {
    group: 'exhausting', name: 'burn CPU on every core',
    before: (c) => ({
      periods: keyedNumber(readHost(cgroupFile(c.a.id, 'cpu', 'cpu.stat')), 'nr_periods'),
      usage: cpuUsageNs(c.a.id),
    }),
    script: `timeout -s KILL 5 unshare --pid --fork --kill-child sh -c 'for i in 1 2 3 4; do (while :; do :; done) & done; wait'; echo burn-over`,
    check: (r, c, before: { periods: number; usage: number }) => {
      expect(r.stdout).toContain('burn-over');
      const quotaUs = Math.round(c.a.limits.cpus * 100_000);
      expect(cpuQuotaUs(c.a.id)).toBe(String(quotaUs));
      // CFS bandwidth accounting: in the periods the group ran it used at most its quota per period
      // (plus one period of slack); an invariant of the counters, not a timing
      const periods = keyedNumber(readHost(cgroupFile(c.a.id, 'cpu', 'cpu.stat')), 'nr_periods') - before.periods;
      const usedNs = cpuUsageNs(c.a.id) - before.usage;
      expect(periods).toBeGreaterThan(0);
      expect(usedNs).toBeLessThanOrEqual((periods + 1) * quotaUs * 1000);
    },
  },
];

const network: Attempt[] = [
  {
    group: 'network', name: 'reach a host service on loopback',
    before: (c) => c.host.connections,
    script: (c) => `for a in 127.0.0.1 ::1 localhost; do timeout 3 bash -c "exec 3<>/dev/tcp/$a/${c.host.port} && cat <&3" 2>/dev/null && echo "REACHED $a"; done; echo end`,
    check: (r, c, before: number) => {
      expect(r.stdout).not.toContain('REACHED');
      expect(r.stdout).not.toContain('host-ok');
      expect(c.host.connections).toBe(before);
    },
  },
  {
    group: 'network', name: "reach the host's own addresses, the gateway and the metadata service",
    before: (c) => c.host.connections,
    script: (c) => `for a in ${c.hostAddrs.join(' ')} 169.254.169.254 192.0.2.1 10.0.0.1 172.17.0.1; do timeout 3 bash -c "exec 3<>/dev/tcp/$a/${c.host.port}" 2>&1 | tail -1; done; ip route; ip -6 route; echo end`,
    check: (r, c, before: number) => {
      expect(r.stdout).not.toMatch(/^default|via /m);
      expect(r.stdout.match(/Network is unreachable/g)?.length).toBeGreaterThanOrEqual(c.hostAddrs.length + 4);
      expect(c.host.connections).toBe(before);
    },
  },
  {
    group: 'network', name: 'find other interfaces',
    script: 'ip -o link | cut -d: -f2; ls /sys/class/net',
    check: (r) => expect(r.stdout.trim().split(/\s+/)).toEqual(['lo', 'lo']),
  },
  {
    group: 'network', name: "sniff the host's traffic with a packet socket",
    script: (c) => String.raw`python3 -c "
import socket, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.settimeout(0.2)
seen, ifaces, end = 0, set(), time.time() + 3
while time.time() < end:
    try: data, addr = s.recvfrom(65535)
    except socket.timeout: continue
    ifaces.add(addr[0])
    if b'host-ok' in data or b'${c.marker}' in data: seen += 1
print('host-packets', seen); print('ifaces', sorted(ifaces))"`,
    during: async (c) => {
      for (let i = 0; i < 20; i++) { await c.host.ping(); await new Promise((r) => setTimeout(r, 100)); }
    },
    check: (r) => {
      expect(r.stdout).toContain('host-packets 0');
      expect(r.stdout).toMatch(/ifaces \[(\'lo\')?\]/);
    },
  },
  {
    group: 'network', name: "connect to the host's abstract unix sockets",
    before: (c) => c.host.connections,
    script: (c) => `python3 -c "
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try: s.connect('\\0${c.host.abstractName}'); print('CONNECTED', s.recv(100))
except OSError as e: print('refused', e.strerror)"`,
    check: (r, c, before: number) => {
      expect(r.stdout).toMatch(/refused Connection refused/);
      expect(c.host.connections).toBe(before);
    },
  },
  {
    group: 'network', name: 'egress to the internet and DNS',
    script: 'getent hosts example.com || echo no-dns; timeout 3 bash -c "exec 3<>/dev/tcp/1.1.1.1/53" 2>&1 | tail -1; timeout 3 bash -c "exec 3<>/dev/tcp/2606:4700:4700::1111/53" 2>&1 | tail -1; ping -c1 -W1 8.8.8.8 2>&1 | tail -1',
    check: (r) => {
      expect(r.stdout).toContain('no-dns');
      expect(r.stdout.match(/Network is unreachable/g)?.length).toBeGreaterThanOrEqual(2);
    },
  },
  {
    group: 'network', name: 'open sockets of every address family (vsock, AF_ALG, TIPC, RDS, Bluetooth, XDP, ...)',
    script: String.raw`python3 -c "
import socket, errno
opened = []
for af in range(0, 64):
    for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_RAW, socket.SOCK_SEQPACKET):
        try: socket.socket(af, t, 0).close(); opened.append(af); break
        except OSError as e:
            if e.errno != errno.EAFNOSUPPORT: opened.append(af); break
print('families', sorted(set(opened)))"`,
    check: (r) => expect(r.stdout.trim()).toBe('families [1, 2, 10, 16, 17]'),
  },
  {
    group: 'network', name: 'nf_tables netlink (the usual user-namespace privilege escalation route), nested too',
    script: String.raw`cat > /tmp/nf.py <<'PY'
import socket
try: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12); print('nfnetlink OPEN')
except OSError as e: print('nfnetlink', e.strerror)
PY
python3 /tmp/nf.py; unshare -rn python3 /tmp/nf.py`,
    check: (r) => expect(r.stdout.trim().split('\n')).toEqual(['nfnetlink Operation not permitted', 'nfnetlink Operation not permitted']),
  },
  {
    group: 'network', name: 'plug a veth pair into the host',
    before: () => Object.keys(networkInterfaces()).sort(),
    script: 'ip link add nslabpwn0 type veth peer name nslabpwn1 netns 1 2>&1; ip link set nslabpwn1 netns 1 2>&1; ip -o link | grep -c nslabpwn; ip link del nslabpwn0 2>/dev/null; echo end',
    check: (r, _c, before: string[]) => {
      expect(r.stdout).toContain('end');
      expect(Object.keys(networkInterfaces()).sort()).toEqual(before);
      expect(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })).not.toContain('nslabpwn');
    },
  },
];

const cross: Attempt[] = [
  {
    group: 'cross-learner', name: "see and remove another sandbox's System V IPC objects",
    before: async (c) => {
      await c.b.exec(['bash', '-c', 'ipcmk -Q -p 0600 && ipcmk -M 4096 && ipcmk -S 1']);
      return (await c.b.exec(['bash', '-c', 'ipcs -a | grep -c 0x'])).stdout.trim();
    },
    script: 'ipcs -a | grep -c 0x; for i in 0 1 2 3 4 5 6 7; do ipcrm -q $i -m $i -s $i 2>/dev/null; done; python3 -c "import ctypes; l=ctypes.CDLL(None); print(\'shmat\', l.shmat(0, None, 0))"',
    check: async (r, c, beforeB: string) => {
      expect(r.stdout.split('\n')[0]).toBe('0');
      expect(r.stdout).toContain('shmat -1');
      expect(beforeB).toBe('3');
      expect((await c.b.exec(['bash', '-c', 'ipcs -a | grep -c 0x'])).stdout.trim()).toBe('3');
      const seen = await c.b.probe.sysvipc((await c.b.probe.processes())[0].hostPid);
      expect([seen.queues.length, seen.shm.length, seen.sems.length]).toEqual([1, 1, 1]);
    },
  },
  {
    group: 'cross-learner', name: "see another sandbox's POSIX message queues",
    before: (c) => c.b.exec(['bash', '-c', `mount -t mqueue none /dev/mqueue && touch /dev/mqueue/b-${c.marker} && ls /dev/mqueue`]),
    script: 'mkdir -p /mnt/mq && mount -t mqueue none /mnt/mq && ls -A /mnt/mq; echo listed; umount /mnt/mq',
    check: async (r, c) => {
      expect(r.stdout).toContain('listed');
      expect(r.stdout).not.toContain(c.marker);
      expect((await c.b.probe.mqueue((await c.b.probe.processes())[0].hostPid)).map((q) => q.name)).toContain(`b-${c.marker}`);
    },
  },
  {
    group: 'cross-learner', name: "see another sandbox's processes and files",
    before: async (c) => {
      await c.b.exec(['bash', '-c', `echo secret > /root/b-${c.marker}; setsid nohup sleep 31337 >/dev/null 2>&1 &`]);
    },
    script: (c) => `pgrep -c -f '[s]leep 31337'; find / -xdev -name 'b-${c.marker}' 2>/dev/null | wc -l; kill -9 $(pgrep -f '[s]leep 31337') 2>&1 | head -1`,
    check: async (r, c) => {
      expect(r.stdout.trim().split('\n').slice(0, 2)).toEqual(['0', '0']);
      expect((await c.b.probe.processes()).some((p) => p.comm === 'sleep')).toBe(true);
    },
  },
  {
    group: 'cross-learner', name: "signal another sandbox's processes by their host pids",
    before: async (c) => (await c.b.probe.processes()).map((p) => p.hostPid),
    script: (_c, bPids: number[]) => `for p in ${bPids.join(' ')}; do kill -9 $p 2>/dev/null && echo "KILLED $p"; done; echo end`,
    check: async (r, c, bPids: number[]) => {
      expect(r.stdout).toContain('end');
      // any pid that happens to exist in the attacker's namespace is its own process, never the victim's
      expect(bPids.length).toBeGreaterThan(0);
      const after = (await c.b.probe.processes()).map((p) => p.hostPid);
      for (const p of bPids) expect(after).toContain(p);
    },
  },
  {
    group: 'cross-learner', name: "connect to another sandbox's loopback and abstract sockets",
    before: async (c) => {
      const srv = String.raw`import socket, os
a = socket.socket(socket.AF_UNIX); a.bind('\0b-secret'); a.listen()
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(('127.0.0.1', 7777)); t.listen()
print('listening', flush=True); os.close(1); import time; time.sleep(120)`;
      await c.b.exec(['bash', '-c', `cat > /tmp/srv.py <<'PY'\n${srv}\nPY\nsetsid nohup python3 /tmp/srv.py >/dev/null 2>&1 & for i in $(seq 100); do ss -lnt | grep -q 7777 && break; sleep 0.1; done`]);
    },
    script: String.raw`python3 -c "
import socket
for fam, addr in ((socket.AF_UNIX, '\0b-secret'), (socket.AF_INET, ('127.0.0.1', 7777))):
    s = socket.socket(fam)
    try: s.connect(addr); print('CONNECTED', addr)
    except OSError as e: print('refused', e.strerror)"`,
    check: async (r, c) => {
      expect(r.stdout.trim().split('\n')).toEqual(['refused Connection refused', 'refused Connection refused']);
      // the victim's services are really there
      expect((await c.b.exec(['bash', '-c', 'ss -lnx | grep -c b-secret; ss -lnt | grep -c 7777'])).stdout.trim().split('\n')).toEqual(['1', '1']);
    },
  },
  {
    group: 'cross-learner', name: "exhaust a per-uid kernel quota that another sandbox and the host need (inotify instances, mqueue bytes)",
    // the hog keeps its quota until the host has checked the neighbour, then lets go
    script: String.raw`cat > /tmp/hog.py <<'PY'
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
fds = []
while len(fds) < 100000:
    fd = libc.inotify_init()
    if fd < 0: print('inotify stopped', len(fds), os.strerror(ctypes.get_errno())); break
    fds.append(fd)
rt = ctypes.CDLL('librt.so.1', use_errno=True)
n = 0
while n < 1000 and rt.mq_open(b'/hog%d' % n, os.O_CREAT | os.O_RDWR, 0o600, None) >= 0: n += 1
print('mq', n, flush=True)
open('/tmp/hog.ready', 'w').close()
for _ in range(600):
    if os.path.exists('/tmp/hog.release'): break
    time.sleep(0.1)
for i in range(n): rt.mq_unlink(b'/hog%d' % i)
PY
rm -f /tmp/hog.ready /tmp/hog.release; setsid nohup python3 /tmp/hog.py > /tmp/hog.out 2>&1 &
for i in $(seq 300); do [ -e /tmp/hog.ready ] && break; sleep 0.1; done; cat /tmp/hog.out`,
    check: async (r, c) => {
      expect(r.stdout).toMatch(/inotify stopped \d+ Too many open files/);
      expect(r.stdout).toMatch(/mq \d+/);
      // the attacker still holds its quota
      expect((await c.a.probe.processes()).some((p) => p.cmdline.includes('/tmp/hog.py'))).toBe(true);
      // the host's own root processes are not starved either
      const hostTry = 'import ctypes; print(ctypes.CDLL(None).inotify_init() >= 0)';
      const host = execFileSync('python3', ['-c', hostTry], { encoding: 'utf8' }).trim();
      const other = await c.b.exec(['python3', '-c', String.raw`
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
rt = ctypes.CDLL('librt.so.1', use_errno=True)
print('inotify', 'ok' if libc.inotify_init() >= 0 else 'FAILED')
fd = rt.mq_open(b'/mine', os.O_CREAT | os.O_RDWR, 0o600, None)
print('mq', 'ok' if fd >= 0 else 'FAILED'); rt.mq_unlink(b'/mine')`]);
      await c.a.exec(['touch', '/tmp/hog.release']).catch(() => {});
      expect(host).toBe('True');
      expect(other.stdout.trim().split('\n')).toEqual(['inotify ok', 'mq ok']);
    },
  },
  {
    group: 'cross-learner', name: "find another sandbox's cgroup or uid range",
    // every group a fresh mount shows, by name, in a v1 hierarchy and in cgroup2
    script: 'mkdir -p /mnt/p /mnt/u; mount -t cgroup -o pids none /mnt/p 2>/dev/null && { echo v1-dirs=$(find /mnt/p -mindepth 1 -type d | wc -l); find /mnt/p -mindepth 1 -type d; umount /mnt/p; }; mount -t cgroup2 none /mnt/u && { echo v2-dirs=$(find /mnt/u -mindepth 1 -type d | wc -l); find /mnt/u -mindepth 1 -type d; umount /mnt/u; }; cat /proc/self/uid_map',
    check: async (r, c) => {
      if (V2) {
        // only the sandbox's own groups (its init leaf); v1 hierarchies cannot be mounted at all
        expect(r.stdout).toContain(`v2-dirs=${ownV2Groups(c.a.id)}`);
        expect(r.stdout).not.toContain('v1-dirs=');
      } else {
        expect(r.stdout).toContain('v1-dirs=0');
        expect(r.stdout).toContain('v2-dirs=0');
      }
      expect(r.stdout).not.toContain(c.b.id);
      // host view: the two uid ranges are disjoint and every process of each stays in its own
      const [ua, ub] = [c.a.hostUid, c.b.hostUid];
      expect(Math.abs(ua - ub)).toBeGreaterThanOrEqual(65536);
      for (const p of await c.b.probe.processes()) expect(p.hostUid - ub).toBeGreaterThanOrEqual(0);
      for (const p of await c.b.probe.processes()) expect(p.hostUid - ub).toBeLessThan(65536);
    },
  },
  {
    group: 'cross-learner', name: "change another sandbox's hostname",
    script: 'hostname pwned-neighbour; hostname',
    check: async (r, c) => {
      expect(r.stdout.trim()).toBe('pwned-neighbour');
      expect((await c.b.exec(['hostname'])).stdout.trim()).toBe('nslab');
      await c.a.exec(['hostname', 'nslab']);
    },
  },
  {
    group: 'cross-learner', name: 'kill -9 -1 (everything it can signal)',
    before: async (c) => {
      await c.a.exec(['bash', '-c', 'setsid nohup sleep 4242 >/dev/null 2>&1 &']);
      return (await c.b.probe.processes()).map((p) => p.hostPid);
    },
    // SIGKILL lands asynchronously and init reaps a moment later: poll for the planted sleep to be gone (zombies do not count)
    script: 'kill -9 -1; echo survived; for i in $(seq 40); do n=$(ps -eo stat=,args= | awk \'$1 !~ /^Z/ && $2 == "sleep" && $3 == "4242"\' | wc -l); [ "$n" = 0 ] && break; sleep 0.05; done; echo $n',
    check: async (r, c, bPids: number[]) => {
      // everything else in the attacker's sandbox died (bash spares itself, the kernel spares PID 1)
      expect(r.stdout.trim().split('\n')).toEqual(['survived', '0']);
      expect(c.a.state).toBe('running');
      const after = (await c.b.probe.processes()).map((p) => p.hostPid);
      for (const p of bPids) expect(after).toContain(p);
      expect(hostCanFork()).toBe(true);
    },
  },
];

export const ATTEMPTS: Attempt[] = [...seeing, ...escaping, ...exhausting, ...network, ...cross, ...hostPools];
