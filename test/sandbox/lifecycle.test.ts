/**
 * Destroy leaves nothing; a killed server's sandboxes are reaped at the next
 * start; the command log reports nested shells; limits hold (docs/sandbox.md, "What a sandbox is made of").
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupDirs, prepareCgroups, removeCgroups } from '../../lab-server/sandbox/cgroups.ts';
import { loadSettings } from '../../lab-server/config/settings.ts';
import { driverConfig, loadDriverConfig } from '../../lab-server/sandbox/config.ts';
import { createSandboxBackend } from '../../lab-server/sandbox/index.ts';
import { LocalBackend } from '../../lab-server/sandbox/local-backend.ts';
import { hostInfo } from '../../lab-server/sandbox/host.ts';
import { describeProcess, processTable } from '../procs.ts';
import { sh, terminal, testBackend } from './helpers.ts';

const hybrid = hostInfo().cgroupMode === 'hybrid';

const repo = join(import.meta.dirname, '..', '..');

/** everything a sandbox id can leave on the host */
function leftovers(id: string, uidFrom: number) {
  const table = processTable();
  const procs = table.filter((p) => p.euid >= uidFrom && p.euid < uidFrom + 65536);
  // host root's runtime processes name the sandbox in their argv (nslab-reaper, crun, nslab-rootfs);
  // a detached crun leaves its reaper with no parent of ours once the server is gone
  const runtime = table.filter((p) => p.euid === 0 && p.pid !== process.pid && p.cmdline.split(' ').includes(id));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(id));
  return {
    // named, so that a failure says what was left (pid, state, parent, command)
    procs: procs.map(describeProcess),
    runtime: runtime.map(describeProcess),
    mounts,
    cgroups: cgroupDirs(id).filter(existsSync),
    dirs: ['/run/nslab/sandboxes', '/run/nslab/crun'].map((d) => join(d, id)).filter(existsSync),
  };
}

describe('sandbox lifecycle', () => {
  // 50 sandboxes: about 1 s of work on the host, 100 s and more in the emulated v2 VM,
  // where vitest's default 120 s per test is too close (a harness guard, not an assertion)
  it('create and destroy 50 sandboxes (with processes, IPC, mounts, files, cgroups inside) leaves nothing', { timeout: 900_000 }, async () => {
    const backend = await testBackend();
    const made: { id: string; uid: number }[] = [];
    for (let wave = 0; wave < 5; wave++) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => backend.create()));
      await Promise.all(batch.map((s) => sh(s, [
        'setsid nohup sleep 1000 >/dev/null 2>&1 &',
        'ipcmk -Q >/dev/null; ipcmk -M 4096 >/dev/null',
        'mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo x > /mnt/t/f',
        'dd if=/dev/zero of=/root/blob bs=1M count=4 status=none',
        'mkdir /sys/fs/cgroup/memory/g && echo $$ > /sys/fs/cgroup/memory/g/cgroup.procs',
        'ip netns add n1',
      ].join('\n'))));
      for (const s of batch) made.push({ id: s.id, uid: s.hostUid });
      await Promise.all(batch.map((s) => s.destroy()));
    }
    for (const m of made) expect(leftovers(m.id, m.uid)).toEqual({ procs: [], runtime: [], mounts: [], cgroups: [], dirs: [] });
    // the host's own IPC namespace never had any of the sandboxes' objects
    expect(execFileSync('ipcs', ['-q'], { encoding: 'utf8' })).not.toMatch(/0x[0-9a-f]+\s+\d+\s+\S+\s+600\s+0\s+0\s*\n[\s\S]*0x/);
  });

  // Without nslab-reaper in front of crun, a crun that died before reaping its
  // child in the sandbox handed it to the host's PID 1, a zombie of the sandbox's uid.
  it('a terminal ends without leaving a process behind, whether hung up, asked to stop, or its crun is killed', async () => {
    const s = await (await testBackend()).create();
    try {
      const initOnly = () => leftovers(s.id, s.hostUid).procs.filter((p) => !/ nslab-init/.test(p));
      const ended = async (n: number, how: (p: ReturnType<typeof s.spawnPty>) => void) => {
        const t = terminal(s, n);
        await t.ready();
        const exit = new Promise<{ exitCode: number; signal?: number }>((resolve) => t.term.onExit(resolve));
        how(t.term);
        const result = await exit;
        // the shell is not the terminal's process: script(1) is (crun exec detaches, nslab-reaper
        // keeps script); the shell, hung up when script ends, is reaped by the sandbox's init
        // a moment after the terminal has ended. What counts is that nothing stays.
        for (let i = 0; i < 100 && initOnly().length; i++) await new Promise((r) => setTimeout(r, 50));
        return { result, left: initOnly() };
      };
      // SIGHUP is how a pty says its terminal is gone; script(1) inside ignores it
      expect((await ended(2, (p) => p.kill('SIGHUP'))).left).toEqual([]);
      expect((await ended(3, (p) => p.kill('SIGTERM'))).left).toEqual([]);
      // the process under the terminal's nslab-reaper dies (script(1), or crun if it has not detached yet)
      const crunDied = await ended(4, (p) => {
        for (const child of processTable().filter((x) => x.ppid === p.pid)) process.kill(child.pid, 'SIGKILL');
      });
      expect(crunDied.result.signal).toBe(9);
      expect(crunDied.left).toEqual([]);
      // and the sandbox lives on
      expect((await sh(s, 'echo alive')).stdout.trim()).toBe('alive');
    } finally {
      await s.destroy();
    }
  });

  it('reaps the sandboxes of a server killed with SIGKILL at the next start', async () => {
    const backend = await testBackend();
    const script = `
      import { createSandboxBackend } from ${JSON.stringify(join(repo, 'lab-server/sandbox/index.ts'))};
      const b = createSandboxBackend();
      const s = await b.create();
      const p = s.spawnPty({ terminal: 1 });
      await s.exec(['sh', '-c', 'setsid nohup sleep 1000 >/dev/null 2>&1 & ipcmk -Q >/dev/null']);
      console.log(JSON.stringify({ id: s.id, uid: s.hostUid }));
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d; if (out.includes('\n')) resolve(out.trim()); });
      child.on('exit', (c) => reject(new Error(`child exited ${c}`)));
    });
    const { id, uid } = JSON.parse(line) as { id: string; uid: number };
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    // the orphan is still there: nothing cleaned up after the kill
    expect(leftovers(id, uid).procs.length).toBeGreaterThan(0);
    // and so is its runtime: the reapers that keep init and the terminal's script(1)
    // (crun itself detached long ago), now without the server they were children of
    expect(leftovers(id, uid).runtime.length).toBeGreaterThan(0);
    const reaped = await backend.reapOrphans();
    expect(reaped).toBeGreaterThanOrEqual(1);
    // a reaper ends once the child it keeps is gone and reaped, a moment after the sweep killed it
    for (let i = 0; i < 100 && leftovers(id, uid).runtime.length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(leftovers(id, uid)).toEqual({ procs: [], runtime: [], mounts: [], cgroups: [], dirs: [] });
  });

  it('two servers with different run dirs on one host never share a uid range nor reap each other', async () => {
    const base = loadDriverConfig();
    // a uid range far from the other tests', and one slot per server
    const uidBase = base.uidBase + 16_000 * 65536;
    const runA = `/run/nslab-test-a-${process.pid}`;
    const runB = `/run/nslab-test-b-${process.pid}`;
    const runC = `/run/nslab-test-c-${process.pid}`;
    const halfId = `half${process.pid}`;
    const halfUid = uidBase + 2 * 65536;
    // a short grace, waited out below, so the sweep judges these two sandboxes by what is in
    // their groups; not 0: other tests on this host are creating sandboxes right now, and a
    // sweep without grace would take their half-made groups (it did, once, in CI)
    const grace = { strayGraceMs: 2000 };
    const a = new LocalBackend({ ...base, runDir: runA, instance: 'a', uidBase, uidSlots: 1, ...grace });
    const b = new LocalBackend({ ...base, runDir: runB, instance: 'b', uidBase, uidSlots: 1, ...grace });
    const b2 = new LocalBackend({ ...base, runDir: runB, instance: 'b', uidBase: uidBase + 65536, uidSlots: 1, ...grace });
    const sa = await a.create();
    try {
      // the only range is a's: b must not get it too, even though its run dir is another
      await expect(b.create()).rejects.toThrow(/no free uid range/);
      const sb = await b2.create();
      try {
        expect(sb.hostUid).not.toBe(sa.hostUid);
        // a third server's sandbox, half-made (claimed, directory and groups made, nothing running yet)
        mkdirSync(join(a.uidClaimDir, String(halfUid)));
        writeFileSync(join(a.uidClaimDir, String(halfUid), 'sandbox'), join(runC, 'sandboxes', halfId));
        mkdirSync(join(runC, 'sandboxes', halfId), { recursive: true });
        prepareCgroups(halfId, halfUid);
        // each server's start-up sweep leaves the other's live sandbox alone
        await new Promise((r) => setTimeout(r, 2500));
        await a.reapOrphans();
        await b2.reapOrphans();
        // neither sweep takes it, past the grace and empty as it is
        expect(cgroupDirs(halfId).filter(existsSync)).toEqual(cgroupDirs(halfId));
        for (const s of [sa, sb]) {
          expect(s.state).toBe('running');
          expect((await s.exec(['echo', 'alive'])).stdout).toBe('alive\n');
          expect(cgroupDirs(s.id).filter(existsSync)).toEqual(cgroupDirs(s.id));
          expect(readdirSync(a.uidClaimDir)).toContain(String(s.hostUid));
        }
      } finally {
        await sb.destroy();
      }
    } finally {
      await sa.destroy();
      rmSync(runA, { recursive: true, force: true });
      rmSync(runB, { recursive: true, force: true });
      rmSync(runC, { recursive: true, force: true });
      await removeCgroups(halfId);
      rmSync(join(a.uidClaimDir, String(halfUid)), { recursive: true, force: true });
    }
    expect(readdirSync(a.uidClaimDir)).not.toContain(String(sa.hostUid));
  });

  it('reports every finished command, nested shells included, with namespaces and exit status', async () => {
    const s = await (await testBackend()).create();
    try {
      const t = terminal(s, 2);
      const first = await t.ready();
      expect(first.terminal).toBe(2);
      const failed = await t.run('false');
      expect(failed).toMatchObject({ kind: 'cmd', command: 'false', status: 1 });
      const nested = await t.run('unshare --ipc --uts bash');
      expect(nested.kind).toBe('ready');
      expect(nested.ns.ipc).not.toBe(first.ns.ipc);
      expect(nested.ns.uts).not.toBe(first.ns.uts);
      expect(nested.ns.mnt).toBe(first.ns.mnt);
      const inner = await t.run('hostname inner && echo "多语言 한국어"');
      expect(inner).toMatchObject({ kind: 'cmd', command: 'hostname inner && echo "多语言 한국어"', status: 0, pid: nested.pid });
      expect(inner.hostPid).toBeGreaterThan(0);
      const back = await t.run('exit 3');
      expect(back).toMatchObject({ kind: 'cmd', command: 'unshare --ipc --uts bash', status: 3, pid: first.pid });
      const pidns = await t.run('unshare --pid --fork --mount-proc bash');
      expect(pidns).toMatchObject({ kind: 'ready', pid: 1 });
      expect(pidns.hostPid).toBeGreaterThan(0);
      t.term.kill();
    } finally {
      await s.destroy();
    }
  });

  it('a shell that may not write the command log (a user namespace with no mapping) prints no error at its prompts', async () => {
    const s = await (await testBackend()).create();
    try {
      const t = terminal(s, 1);
      await t.ready();
      t.term.write('unshare --user bash\r');
      t.term.write('id -u; echo "marker-$((6 * 7))"\r');
      for (let i = 0; i < 400 && !/marker-42[\s\S]*\$ $/.test(t.screen); i++) await new Promise((r) => setTimeout(r, 25));
      expect(t.screen).toMatch(/65534/);
      expect(t.screen).toMatch(/marker-42/);
      // bash applies redirections left to right: `>> log 2>/dev/null` printed the failed open
      expect(t.screen).not.toMatch(/Permission denied|cmdlog/);
      const back = await t.run('exit');
      expect(back).toMatchObject({ kind: 'cmd', command: 'unshare --user bash' });
    } finally {
      await s.destroy();
    }
  });

  it('stops a fork bomb at the pids limit and a memory hog at the memory limit; the sandbox survives', async () => {
    const backend = await testBackend();
    const s = await backend.create({ limits: { pids: 128, memoryBytes: 256 * 1024 * 1024 } });
    const other = await backend.create();
    try {
      // the hog first: what a fork bomb leaves behind can make the OOM killer pick the reporting shell
      const hog = await sh(s, 'python3 -c "x = bytearray(1024 * 1024 * 1024)"; echo status=$?');
      expect(hog.stdout).toContain('status=137');
      // the bomb volunteers for the OOM killer (128 bash processes overrun 256 MiB, and the
      // reporting shell must not be the one picked) and lives in a pid namespace of its own,
      // so that the timeout's SIGKILL ends all of it, not just its first bash
      const bomb = await sh(s, 'timeout -s KILL 10 unshare --pid --fork --kill-child bash -c \'echo 1000 > /proc/self/oom_score_adj; b() { b | b & }; b; sleep 30\' 2>/dev/null; sleep 1; echo done');
      expect(bomb.stdout).toContain('done');
      if (hybrid) {
        // the kernel refused forks at the limit
        const events = readFileSync(`/sys/fs/cgroup/pids/nslab/${s.id}/pids.events`, 'utf8');
        expect(Number(/^max (\d+)/m.exec(events)?.[1])).toBeGreaterThan(0);
      }
      const groups = await s.probe.cgroups();
      expect(groups.find((g) => g.path === '/')?.oomKills).toBeGreaterThan(0);
      expect((await sh(s, 'echo alive')).stdout.trim()).toBe('alive');
      expect((await sh(other, 'echo neighbour-fine')).stdout.trim()).toBe('neighbour-fine');
    } finally {
      await Promise.all([s.destroy(), other.destroy()]);
    }
  });

  it('ends a sandbox at its lifetime limit and says why', async () => {
    const s = await (await testBackend()).create({ limits: { lifetimeMs: 1000 } });
    const reason = await new Promise<string>((resolve) => s.onExit(resolve));
    expect(reason).toMatch(/lifetime/);
    expect(s.state).toBe('dead');
    expect(leftovers(s.id, s.hostUid)).toEqual({ procs: [], runtime: [], mounts: [], cgroups: [], dirs: [] });
  });

  it('gives up on a sandbox not ready within its start timeout (NSLAB_START_SECONDS), says so and leaves nothing', async () => {
    await testBackend(); // the image built
    const settings = loadSettings({ NSLAB_START_SECONDS: '1' });
    expect(driverConfig(settings).startTimeoutMs).toBe(1000);
    expect(() => loadSettings({ NSLAB_START_SECONDS: '0' })).toThrow(/NSLAB_START_SECONDS/);
    // 1 ms: the runtime cannot be ready that soon
    const backend = createSandboxBackend({ startTimeoutMs: 1 });
    const before = new Set(readdirSync(backend.sandboxesDir));
    await expect(backend.create()).rejects.toThrow(/did not start within 1 ms \(NSLAB_START_SECONDS\)/);
    expect(backend.list()).toEqual([]);
    const made = readdirSync(backend.sandboxesDir).filter((id) => !before.has(id));
    expect(made).toEqual([]);
  });

  it(`writes the CPU, memory and pids limits into the sandbox cgroups (${hybrid ? 'v1 hierarchies' : 'its cgroup v2 group'})`, async () => {
    const s = await (await testBackend()).create({ limits: { cpus: 0.5, pids: 100, memoryBytes: 128 * 1024 * 1024 } });
    try {
      const read = (f: string) => readFileSync(f, 'utf8').trim();
      if (hybrid) {
        expect(read(`/sys/fs/cgroup/cpu/nslab/${s.id}/cpu.cfs_quota_us`)).toBe('50000');
        expect(read(`/sys/fs/cgroup/cpu/nslab/${s.id}/cpu.cfs_period_us`)).toBe('100000');
        expect(read(`/sys/fs/cgroup/pids/nslab/${s.id}/pids.max`)).toBe('100');
        expect(read(`/sys/fs/cgroup/memory/nslab/${s.id}/memory.limit_in_bytes`)).toBe(String(128 * 1024 * 1024));
      } else {
        const g = `/sys/fs/cgroup/nslab/${s.id}`;
        expect(read(`${g}/cpu.max`)).toBe('50000 100000');
        expect(read(`${g}/pids.max`)).toBe('100');
        expect(read(`${g}/memory.max`)).toBe(String(128 * 1024 * 1024));
        // no swap on top of the memory limit
        expect(read(`${g}/memory.swap.max`)).toBe('0');
        // the learner's groups get the same controllers (nslab-init enables them for its children)
        expect(read(`${g}/cgroup.subtree_control`).split(' ').sort()).toEqual(['cpu', 'memory', 'pids']);
      }
    } finally {
      await s.destroy();
    }
  });

  it('caps the writable layer', async () => {
    const s = await (await testBackend()).create({ limits: { diskBytes: 32 * 1024 * 1024 } });
    try {
      const r = await sh(s, 'dd if=/dev/zero of=/root/fill bs=1M count=64 2>&1 | grep -o "No space left on device"; df -m / | tail -1 | awk "{print \\$2}"');
      expect(r.stdout).toMatch(/No space left on device/);
      expect(Number(r.stdout.trim().split('\n').pop())).toBeLessThanOrEqual(32);
    } finally {
      await s.destroy();
    }
  });
});
