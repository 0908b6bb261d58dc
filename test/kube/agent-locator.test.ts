/**
 * The agent's pod locator on a directory tree shaped like the kubelet's cgroup tree
 * (systemd and cgroupfs drivers, every QoS class), holding real processes: a real
 * sandbox's as the sandbox container, and a real "pause" process (a PID 1 of its own
 * pid namespace, named pause) as the pod's pause container. And the pod's command
 * log as the agent reads it: the FIFO opened inside the sandbox by the probe helper.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, AgentProbe } from '../../lab-server/kube/agent-probe.ts';
import { startAgent } from '../../lab-server/kube/agent-server.ts';
import { PodCommandLog } from '../../lab-server/kube/pod-command-log.ts';
import { CgroupPodLocator, findPodCgroup, podCgroupCandidates } from '../../lab-server/kube/pod-locator.ts';
import { sandboxHostPids } from '../../lab-server/sandbox/cgroups.ts';
import type { LocalSandbox } from '../../lab-server/sandbox/index.ts';
import { LocalProbe } from '../../lab-server/sandbox/probe.ts';
import type { CommandEvent } from '../../lab-server/sandbox/types.ts';
import { sh, testBackend } from '../sandbox/helpers.ts';
import { makeTestTls } from './agent-fixtures.ts';

let s: LocalSandbox;
let helperBin: string;
let sandboxInit: number;
let pause: ChildProcess;
let pausePid: number;
const root = mkdtempSync(join(tmpdir(), 'nslab-kubepods-'));

/** the host pid of the one child of `pid` (unshare --fork's child) */
async function childOf(pid: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      if (kids) return Number(kids.split(' ')[0]);
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} has no child`);
}

/** a pod's group as the kubelet lays it out: the pause container's group and the sandbox container's, with a learner's subgroup */
function layPod(podRel: string, containerName: (id: string) => string): string {
  const pod = join(root, podRel);
  const pauseDir = join(pod, containerName('0pause'));
  const sandboxDir = join(pod, containerName('1sandbox'));
  mkdirSync(pauseDir, { recursive: true });
  mkdirSync(join(sandboxDir, 'learner'), { recursive: true });
  writeFileSync(join(pauseDir, 'cgroup.procs'), `${pausePid}\n`);
  const pids = sandboxHostPids(s.id);
  // the init in the container's top group, the rest in the learner's group below
  writeFileSync(join(sandboxDir, 'cgroup.procs'), `${sandboxInit}\n`);
  writeFileSync(join(sandboxDir, 'learner', 'cgroup.procs'), pids.filter((p) => p !== sandboxInit).join('\n'));
  writeFileSync(join(sandboxDir, 'learner', 'memory.max'), '33554432\n');
  return sandboxDir;
}

beforeAll(async () => {
  const backend = await testBackend();
  helperBin = backend.probeHelper;
  s = await backend.create();
  // a second long-lived process in the sandbox, so the pod has more than its init
  void s.exec(['sleep', '600']).catch(() => {});
  for (let i = 0; i < 200 && sandboxHostPids(s.id).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  sandboxInit = (await s.probe.processes()).find((p) => p.pid === 1)!.hostPid;
  copyFileSync('/bin/sleep', join(root, 'pause'));
  pause = spawn('unshare', ['--pid', '--fork', '--kill-child', join(root, 'pause'), '600'], { stdio: 'ignore' });
  pausePid = await childOf(pause.pid!);
});

afterAll(async () => {
  pause?.kill('SIGKILL');
  await s?.destroy();
  rmSync(root, { recursive: true, force: true });
});

describe('finding a pod on the node', () => {
  const layouts: [string, (uid: string) => string, (id: string) => string][] = [
    ['systemd driver, Burstable', (u) => `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${u.replace(/-/g, '_')}.slice`, (id) => `cri-containerd-${id}.scope`],
    ['systemd driver, BestEffort', (u) => `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${u.replace(/-/g, '_')}.slice`, (id) => `crio-${id}.scope`],
    ['systemd driver, Guaranteed', (u) => `kubepods.slice/kubepods-pod${u.replace(/-/g, '_')}.slice`, (id) => `cri-containerd-${id}.scope`],
    ['cgroupfs driver, Burstable', (u) => `kubepods/burstable/pod${u}`, (id) => id],
    ['cgroupfs driver, Guaranteed', (u) => `kubepods/pod${u}`, (id) => id],
  ];
  for (const [name, podRel, container] of layouts) {
    it(`${name}: the sandbox container's pids, its init, its uid map; not the pause process`, async () => {
      const uid = randomUUID();
      const sandboxDir = layPod(podRel(uid), container);
      expect(podCgroupCandidates(uid)).toContain(podRel(uid));
      expect(findPodCgroup(root, uid)).toBe(join(root, podRel(uid)));
      const locator = new CgroupPodLocator({ helperBin, cgroupRoot: root, commandLogPath: '/tmp/nslab-agent-test-cmdlog' });
      try {
        const pod = locator.locate(uid)!;
        expect(pod).not.toBeNull();
        expect(pod.alive()).toBe(true);
        expect(pod.target.name).toBe(`pod ${uid}`);
        expect(pod.target.initPid()).toBe(sandboxInit);
        expect(pod.target.hostPids().sort()).toEqual(sandboxHostPids(s.id).sort());
        expect(pod.target.hostPids()).not.toContain(pausePid);
        expect(pod.target.toSandboxUid(s.hostUid)).toBe(0);
        expect(pod.target.toSandboxUid(s.hostUid + 1000)).toBe(1000);
        expect(pod.target.toSandboxUid(0)).toBe(65534);
        const groups = pod.target.cgroups(() => null);
        expect(groups.map((g) => g.path)).toEqual(['/', '/learner']);
        expect(groups[1].memoryLimit).toBe(32 * 1024 * 1024);
        // the real probe over the located pod: the sandbox's processes, and a refusal for the pause process
        const probe = new LocalProbe(pod.target, helperBin);
        expect((await probe.processes()).map((p) => p.hostPid).sort()).toEqual((await s.probe.processes()).map((p) => p.hostPid).sort());
        await expect(probe.readFile(pausePid, '/etc/hostname')).rejects.toThrow(`process ${pausePid} is not in pod ${uid}`);
        expect(await probe.readFile(sandboxInit, '/etc/hostname')).toBe(await s.probe.readFile(sandboxInit, '/etc/hostname'));
        // the same object while its init lives
        expect(locator.locate(uid)).toBe(pod);
      } finally {
        locator.close();
        rmSync(sandboxDir, { recursive: true, force: true });
      }
    });
  }

  it('nothing for a UID that is not a UUID, a pod not on the node, or a pod with no sandbox init', () => {
    const locator = new CgroupPodLocator({ helperBin, cgroupRoot: root });
    expect(locator.locate('../../etc')).toBeNull();
    expect(locator.locate(randomUUID().toUpperCase())).toBeNull();
    expect(locator.locate(randomUUID())).toBeNull();
    // only a pause container: no sandbox (yet)
    const uid = randomUUID();
    mkdirSync(join(root, `kubepods/besteffort/pod${uid}/pause`), { recursive: true });
    writeFileSync(join(root, `kubepods/besteffort/pod${uid}/pause/cgroup.procs`), `${pausePid}\n`);
    expect(locator.locate(uid)).toBeNull();
    locator.close();
  });
});

describe("the pod's command log, read from the host side", () => {
  const init = () => sandboxInit;
  const hostPids = () => sandboxHostPids(s.id);

  it('makes the FIFO inside the sandbox, and reads what a shell writes to it', async () => {
    const log = new PodCommandLog(helperBin, init(), hostPids, '/run/agent-test/cmdlog');
    try {
      await log.opened;
      expect((await sh(s, 'test -p /run/agent-test/cmdlog && echo fifo')).stdout).toBe('fifo\n');
      const seen: CommandEvent[] = [];
      log.feed.subscribe((e) => seen.push(e));
      await sh(s, "printf 'nslab1\\tcmd\\t2\\t1\\t0\\t7\\t\\tls /proc\\n' >> /run/agent-test/cmdlog; printf 'junk\\n' >> /run/agent-test/cmdlog");
      for (let i = 0; i < 400 && !seen.length; i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ kind: 'cmd', terminal: 2, pid: 1, command: 'ls /proc', hostPid: sandboxInit });
      expect(log.ended()).toBeNull();
    } finally {
      log.close();
    }
  });

  it('refuses a symlink the learner planted where the FIFO goes, and a regular file', async () => {
    await sh(s, 'ln -sf /etc/hostname /root/planted-link; echo x > /root/planted-file');
    for (const [path, why] of [['/root/planted-link', /symlink/], ['/root/planted-file', /not a FIFO/]] as const) {
      const log = new PodCommandLog(helperBin, init(), hostPids, path);
      await expect(log.opened).rejects.toThrow(why);
      log.close();
    }
    // and the host file behind the symlink was never touched
    expect((await sh(s, 'cat /etc/hostname')).code).toBe(0);
  });

  it('the locator opens the log again once a failed reader has ended', async () => {
    const uid = randomUUID();
    const sandboxDir = layPod(`kubepods/besteffort/pod${uid}`, (id) => id);
    await sh(s, 'mkdir -p /run/retry && ln -sf /etc/hostname /run/retry/cmdlog');
    const locator = new CgroupPodLocator({ helperBin, cgroupRoot: root, commandLogPath: '/run/retry/cmdlog' });
    try {
      const pod = locator.locate(uid)!;
      const failed = pod.commands();
      for (let i = 0; i < 400 && !failed.ended?.(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(failed.ended?.()).toMatch(/symlink/);
      await sh(s, 'rm /run/retry/cmdlog');
      const source = pod.commands();
      const seen: CommandEvent[] = [];
      source.subscribe((e) => seen.push(e));
      for (let i = 0; i < 400 && (await sh(s, 'test -p /run/retry/cmdlog')).code !== 0; i++) await new Promise((r) => setTimeout(r, 10));
      await sh(s, "printf 'nslab1\\tprompt\\t1\\t1\\t0\\t4\\t\\t\\n' >> /run/retry/cmdlog");
      for (let i = 0; i < 400 && !seen.length; i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen.map((e) => e.kind)).toEqual(['prompt']);
      expect(source.ended?.()).toBeNull();
    } finally {
      locator.close();
      rmSync(sandboxDir, { recursive: true, force: true });
    }
  });

  it('ends when the process it was opened through is not there', async () => {
    const log = new PodCommandLog(helperBin, 999_999_999, hostPids, '/run/x');
    await expect(log.opened).rejects.toThrow(/open target|helper/);
    log.close();
  });
});

describe('the agent with the cgroup locator (the path a real node takes)', () => {
  it('answers the probe and streams the command log the helper reads from the pod\'s FIFO', async () => {
    const uid = randomUUID();
    const sandboxDir = layPod(`kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replace(/-/g, '_')}.slice`, (id) => `cri-containerd-${id}.scope`);
    const tls = makeTestTls();
    const locator = new CgroupPodLocator({ helperBin, cgroupRoot: root, commandLogPath: '/run/agent-stream/cmdlog' });
    const agent = await startAgent({ port: 0, host: '127.0.0.1', tls: tls.server, locator, helperBin });
    const client = new AgentClient(agent.url, tls.client);
    const probe = new AgentProbe(client, uid);
    let stop = () => {};
    try {
      expect((await probe.processes()).map((p) => p.hostPid).sort()).toEqual(sandboxHostPids(s.id).sort());
      await expect(probe.readFile(pausePid, '/etc/hostname')).rejects.toThrow(`process ${pausePid} is not in pod ${uid}`);
      const seen: CommandEvent[] = [];
      let ended: string | null = null;
      stop = probe.commands((e) => seen.push(e), (why) => { ended = why; });
      // the agent opened the FIFO inside the sandbox when it first saw the pod
      expect((await sh(s, 'test -p /run/agent-stream/cmdlog && echo fifo')).stdout).toBe('fifo\n');
      await sh(s, "printf 'nslab1\\tcmd\\t1\\t1\\t0\\t3\\t\\tipcmk -Q\\n' >> /run/agent-stream/cmdlog");
      for (let i = 0; i < 400 && !seen.length; i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen.map((e) => e.command)).toEqual(['ipcmk -Q']);
      expect(seen[0].hostPid).toBe(sandboxInit);
      expect(ended).toBeNull();
    } finally {
      stop();
      client.close();
      await agent.close();
      locator.close();
      tls.remove();
      rmSync(sandboxDir, { recursive: true, force: true });
    }
  });
});
