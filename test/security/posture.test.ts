/**
 * Sandbox posture, read from the host (docs/security.md, "What a sandbox promises"; modelled on gVisor's
 * test/root/sandboxposture_test.go): for every process of a busy sandbox
 * (exec'd commands, a terminal shell, a nested user+pid namespace, a learner
 * sub-cgroup) the host checks credentials and id maps, capabilities relative
 * to the process's user namespace, seccomp, no_new_privs, namespaces, root,
 * open files, cgroups, mounts and OOM score. Then: nothing outlives destroy.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupDirs, sandboxHostPids } from '../../lab-server/sandbox/cgroups.ts';
import { readNamespaces } from '../../lab-server/sandbox/probe.ts';
import type { LocalBackend, LocalSandbox, NamespaceSet, ProcessInfo } from '../../lab-server/sandbox/index.ts';
import { initOomScore, terminal, testBackend } from '../sandbox/helpers.ts';
import { LEARNER_OOM_SCORE } from '../../lab-server/sandbox/oom-score.ts';
import { processesInRange } from './harness.ts';
import { guardHost } from '../host-guard.ts';

// the host's /dev owners and modes and its cgroup counts are the same after this file
guardHost();

let backend: LocalBackend;
let s: LocalSandbox;
let procs: ProcessInfo[];
let hostNs: NamespaceSet;
let destroyed = false;

const status = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
const field = (text: string, k: string) => new RegExp(`^${k}:[ \\t]*(.*)$`, 'm').exec(text)?.[1] ?? '';
/** the outside ids of every line of /proc/PID/{uid,gid}_map, read from the host */
const mapLines = (pid: number, which: 'uid' | 'gid') => readFileSync(`/proc/${pid}/${which}_map`, 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
const rlimit = (pid: number, name: string) => {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith(name)) ?? '';
  const [soft, hard] = line.slice(26).trim().split(/\s+/);
  return { soft, hard };
};

beforeAll(async () => {
  backend = await testBackend();
  hostNs = readNamespaces(process.pid)!;
  s = await backend.create({ label: 'posture' });
  // a busy sandbox: a daemon that tries to outlive the session, a bind-mounted
  // network namespace, IPC objects, a learner sub-cgroup, a terminal with a nested
  // user + pid namespace
  await s.exec(['bash', '-c', [
    'setsid nohup sleep 10001 >/dev/null 2>&1 &',
    '( setsid sh -c "sleep 10002 & sleep 10003" >/dev/null 2>&1 & )',
    'ip netns add keep',
    'ipcmk -Q >/dev/null',
    'mkdir /sys/fs/cgroup/pids/learner',
    'sh -c \'echo $$ > /sys/fs/cgroup/pids/learner/cgroup.procs; exec sleep 10004\' >/dev/null 2>&1 &',
  ].join('\n')], { timeoutMs: 30_000 });
  const t = terminal(s, 1);
  await t.ready();
  t.term.write('unshare -r --pid --fork --mount-proc sleep 10005 &\r');
  for (let i = 0; i < 200; i++) {
    procs = await s.probe.processes();
    // unshare shows "10005" before it has forked the nested-namespace child: wait for that child too
    if (['10001', '10002', '10003', '10004', '10005'].every((n) => procs.some((p) => p.cmdline.includes(n))) && procs.some((p) => p.nsPids.length > 1)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  if (!destroyed) await s?.destroy();
});

/**
 * Run `check` for every process of the sandbox, freshly listed; a process that
 * exits while it is being read (the shell hook forks one per prompt) is skipped.
 */
async function eachProcess(check: (p: ProcessInfo) => void): Promise<number> {
  let checked = 0;
  for (const p of await s.probe.processes()) {
    try {
      check(p);
      checked++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') continue;
      throw err;
    }
  }
  expect(checked).toBeGreaterThanOrEqual(8);
  return checked;
}

describe('posture of every sandbox process, read from the host', () => {
  it('the sandbox is busy: exec, terminal, daemons, nested namespaces, a learner cgroup', () => {
    for (const n of ['10001', '10002', '10003', '10004', '10005']) expect(procs.some((p) => p.cmdline.includes(n))).toBe(true);
    expect(procs.some((p) => p.nsPids.length > 1)).toBe(true); // the nested pid namespace
    expect(procs.length).toBeGreaterThanOrEqual(8);
  });

  it('uid and gid maps stay inside the sandbox range; the sandbox user namespace maps exactly its 65536 ids', async () => {
    await eachProcess((p) => {
      for (const which of ['uid', 'gid'] as const) {
        for (const [, outside, count] of mapLines(p.hostPid, which)) {
          expect(outside).toBeGreaterThanOrEqual(s.hostUid);
          expect(outside + count).toBeLessThanOrEqual(s.hostUid + 65536);
        }
      }
    });
    const init = procs.find((p) => p.pid === 1)!;
    expect(mapLines(init.hostPid, 'uid')).toEqual([[0, s.hostUid, 65536]]);
    expect(mapLines(init.hostPid, 'gid')).toEqual([[0, s.hostUid, 65536]]);
    expect(s.hostUid).toBeGreaterThanOrEqual(backend.cfg.uidBase);
  });

  it('every credential is an unprivileged host id of the range (never host root)', async () => {
    await eachProcess((p) => {
      const st = status(p.hostPid);
      for (const k of ['Uid', 'Gid']) {
        for (const id of field(st, k).split(/\s+/).map(Number)) {
          expect(id).toBeGreaterThanOrEqual(s.hostUid);
          expect(id).toBeLessThan(s.hostUid + 65536);
        }
      }
      for (const g of field(st, 'Groups').split(/\s+/).filter(Boolean).map(Number)) expect(g - s.hostUid).toBeGreaterThanOrEqual(0);
    });
  });

  it('capabilities are held only relative to a user namespace that is not the host one', async () => {
    await eachProcess((p) => {
      const capEff = BigInt(`0x${field(status(p.hostPid), 'CapEff')}`);
      if (capEff !== 0n) expect(p.ns.user).not.toBe(hostNs.user);
      expect(BigInt(`0x${field(status(p.hostPid), 'CapAmb')}`)).toBe(0n);
    });
  });

  it('seccomp filter mode 2 and no_new_privs everywhere', async () => {
    await eachProcess((p) => {
      const st = status(p.hostPid);
      expect({ comm: p.comm, seccomp: field(st, 'Seccomp'), nnp: field(st, 'NoNewPrivs') }).toEqual({ comm: p.comm, seccomp: '2', nnp: '1' });
      expect(Number(field(st, 'Seccomp_filters'))).toBeGreaterThanOrEqual(1);
    });
  });

  it('every namespace differs from the host (time is shared by design)', async () => {
    await eachProcess((p) => {
      for (const kind of ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'pid_for_children', 'user', 'uts'] as const) {
        expect({ comm: p.comm, kind, same: p.ns[kind] === hostNs[kind] }).toEqual({ comm: p.comm, kind, same: false });
      }
    });
  });

  it('root directory is not the host root', async () => {
    const hostRoot = statSync('/');
    await eachProcess((p) => {
      const root = statSync(`/proc/${p.hostPid}/root/`);
      expect(root.dev === hostRoot.dev && root.ino === hostRoot.ino).toBe(false);
    });
  });

  it("no open file on the host's disk except the command-log FIFO", async () => {
    const hostRootDev = statSync('/').dev;
    const fifo = statSync(join(backend.sandboxesDir, s.id, 'cmdlog'));
    await eachProcess((p) => {
      for (const fd of readdirSync(`/proc/${p.hostPid}/fd`)) {
        let st;
        try { st = statSync(`/proc/${p.hostPid}/fd/${fd}`); } catch { continue; }
        if (st.dev !== hostRootDev) continue;
        expect({ comm: p.comm, fd, target: readlinkSync(`/proc/${p.hostPid}/fd/${fd}`), fifo: st.ino === fifo.ino })
          .toMatchObject({ fifo: true });
      }
    });
  });

  it("every process sits in the sandbox's cgroup (or below it) in every hierarchy", async () => {
    await eachProcess((p) => {
      for (const line of readFileSync(`/proc/${p.hostPid}/cgroup`, 'utf8').trim().split('\n')) {
        expect(line).toMatch(new RegExp(`:/nslab/${s.id}(/|$)`));
      }
    });
    // members of the cgroup outside the sandbox's pid namespace are the runtime's own exec helpers
    const inside = new Set((await s.probe.processes()).map((p) => p.hostPid));
    for (const pid of sandboxHostPids(s.id).filter((x) => !inside.has(x))) {
      let comm = '';
      try { comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { continue; }
      expect(comm).toMatch(/^(crun|3:\[.*\]|2:\[.*\]|1:\[.*\])$|crun/);
    }
  });

  it('mounts: the root is the size-capped tmpfs, the image is read-only, nothing else of the host disk', async () => {
    const hostRootDev = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[4] === '/')![2];
    await eachProcess((p) => {
      const mounts = readFileSync(`/proc/${p.hostPid}/mountinfo`, 'utf8').trim().split('\n').map((l) => l.split(' '));
      const root = mounts.find((f) => f[4] === '/')!;
      expect(root[root.indexOf('-') + 1]).toBe('tmpfs');
      const fromHostDisk = mounts.filter((f) => f[2] === hostRootDev).map((f) => f[3]);
      for (const src of fromHostDisk) expect(src).toBe(join(backend.sandboxesDir, s.id, 'cmdlog'));
      for (const m of mounts.filter((f) => f[f.indexOf('-') + 1] === 'erofs')) expect(m[5].split(',')).toContain('ro');
    });
  });

  // PID 1 is the exception, set from the host: a learner's OOM must not end the sandbox
  // (docs/security.md, "cgroup v2 hosts"; host root without CAP_SYS_RESOURCE leaves it at 0)
  it('OOM score: no process but PID 1 is protected from the OOM killer, and PID 1 only by the host; learner processes go first', async () => {
    await eachProcess((p) => {
      const score = Number(readFileSync(`/proc/${p.hostPid}/oom_score_adj`, 'utf8'));
      if (p.pid === 1) expect(score).toBe(initOomScore());
      else expect(score).toBe(LEARNER_OOM_SCORE);
    });
  });

  it('PID 1 runs with the rlimits of the OCI spec (no core dumps, 4096/8192 files)', () => {
    const init = procs.find((p) => p.pid === 1)!;
    expect(rlimit(init.hostPid, 'Max core file size')).toEqual({ soft: '0', hard: '0' });
    expect(rlimit(init.hostPid, 'Max open files')).toEqual({ soft: '4096', hard: '8192' });
  });

  it('every process has the spec rlimits, commands entering by crun exec too (was known gap 2)', async () => {
    await eachProcess((p) => {
      expect({ comm: p.comm, core: rlimit(p.hostPid, 'Max core file size').hard }).toEqual({ comm: p.comm, core: '0' });
      expect({ comm: p.comm, nofile: rlimit(p.hostPid, 'Max open files').hard }).toEqual({ comm: p.comm, nofile: '8192' });
    });
  });

  it("the sandbox's user namespace is owned by its own host uid, not by host root (was known gap 1)", () => {
    const init = procs.find((p) => p.pid === 1)!;
    // NS_GET_OWNER_UID on the user namespace file, from the host
    const owner = execFileSync('python3', ['-c', `
import fcntl, os, struct
fd = os.open('/proc/${init.hostPid}/ns/user', os.O_RDONLY)
buf = fcntl.ioctl(fd, 0xb704, b'\\0' * 4)
print(struct.unpack('I', buf)[0])`], { encoding: 'utf8' }).trim();
    expect(Number(owner)).toBe(s.hostUid);
  });
});

describe('the sandbox does not outlive destroy', () => {
  it('no process, namespace, mount, cgroup, runtime state or uid slot is left', async () => {
    const userNs = procs.find((p) => p.pid === 1)!.ns.user;
    const id = s.id;
    const hostUid = s.hostUid;
    expect(processesInRange(hostUid).length).toBeGreaterThanOrEqual(8);
    await s.destroy();
    destroyed = true;
    expect(s.state).toBe('dead');
    // Nothing of the sandbox can run any more: no process of its uid range has an
    // address space. (Killed processes whose parent was a `crun exec` outside the
    // sandbox are reparented to the host's PID 1; until that reaps them they stay
    // zombies, and the sandbox's PID 1 waits for them in its exit. On a host whose
    // PID 1 does not reap, like this CI VM, they stay: docs/security.md, known gap 3.)
    const alive = processesInRange(hostUid).filter((pid) => {
      try { return /^VmRSS:/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; }
    });
    expect(alive).toEqual([]);
    // nothing on the host is still in the sandbox's user namespace (the netns bind mount and daemons died with it)
    const stillInNs = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/ns/user`).includes(`[${userNs}]`) && /^VmRSS:/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
      } catch { return false; }
    });
    expect(stillInNs).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(id);
    expect(cgroupDirs(id).filter(existsSync)).toEqual([]);
    expect(existsSync(join(backend.sandboxesDir, id))).toBe(false);
    expect(existsSync(join(backend.crunRoot, id))).toBe(false);
    expect(readdirSync(backend.uidClaimDir)).not.toContain(String(hostUid));
    // no runtime process for it either
    const crunLeft = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((pid) => {
      try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(id); } catch { return false; }
    });
    expect(crunLeft).toEqual([]);
  });
});
