/**
 * The namespace map on real sandboxes: built by the check engine's round while a
 * viewer is subscribed, pushed when the machine changed, and bounded against a
 * learner who floods the sandbox with processes, namespaces and IPC objects.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CheckEngine } from '../../lab-server/checks/engine.ts';
import { createLab } from '../../lab-server/checks/lab.ts';
import { collectNamespaceMap, NSINFO_SECTION_BYTES } from '../../lab-server/checks/namespace-map.ts';
import { NSMAP_LIMITS, nsmapSnapshotSchema, type NsmapIpcContents, type NsmapSnapshot } from '../../lab-server/contract/namespace-map.ts';
import { MapSubscription } from '../../lab-server/terminal/map-subscription.ts';
import type { Sandbox } from '../../lab-server/sandbox/types.ts';
import { hostInfo } from '../../lab-server/sandbox/host.ts';
import { sh, terminal, testBackend } from './helpers.ts';

afterAll(async () => { await (await testBackend()).destroyAll(); });

const view = (s: NsmapSnapshot, kind: string) => s.kinds.find((k) => k.kind === kind)!;

/** the engine with no checks at all: only the map makes it run rounds */
function mapEngine(sandbox: Sandbox) {
  const pushed: NsmapSnapshot[] = [];
  const waiters: (() => void)[] = [];
  const channel = new MapSubscription((snap) => { pushed.push(snap); for (const w of waiters.splice(0)) w(); });
  // the poll is far away: whatever arrives here was driven by events
  const engine = new CheckEngine({ sandbox, checks: {}, steps: [], lang: 'en', pollMs: 600_000, map: channel, log: () => {} }).start();
  /** the next pushed snapshot that satisfies pred */
  const until = async (pred: (s: NsmapSnapshot) => boolean, what: string) => {
    for (let i = 0; i < 200; i++) {
      const hit = pushed.find(pred);
      if (hit) return hit;
      await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 100); });
    }
    throw new Error(`no map snapshot ${what}; last: ${JSON.stringify(pushed.at(-1)?.kinds.find((k) => k.kind === 'ipc'))}`);
  };
  return { engine, channel, pushed, until };
}

describe('namespace map', () => {
  it('shows the new IPC namespace with its queue and T1 in it after unshare --ipc + ipcmk, and T2 in the sandbox\'s own; not before', async () => {
    const backend = await testBackend();
    const sandbox = await backend.create({ label: 'nsmap test' });
    const { engine, channel, pushed, until } = mapEngine(sandbox);
    try {
      const t1 = terminal(sandbox, 1);
      const t2 = terminal(sandbox, 2);
      await t1.ready();
      await t2.ready();
      await engine.idle();
      expect(pushed).toEqual([]); // nobody subscribed: no map is built

      channel.set(true);
      const before = await until((s) => view(s, 'ipc').namespaces.some((n) => n.terminals.includes(1)) && view(s, 'ipc').namespaces.some((n) => n.terminals.includes(2)), 'with both shells');
      nsmapSnapshotSchema.parse(before);
      const ipcBefore = view(before, 'ipc');
      expect(ipcBefore.namespaces).toHaveLength(1);
      expect(ipcBefore.namespaces[0]).toMatchObject({ own: true, terminals: [1, 2] });
      expect((ipcBefore.namespaces[0].contents as NsmapIpcContents).queues.total).toBe(0);
      expect(before.processes.items.filter((p) => p.terminal !== null).map((p) => p.terminal).sort()).toEqual([1, 2]);
      expect(view(before, 'uts').namespaces[0].contents).toMatchObject({ kind: 'uts', hostname: expect.any(String) });
      expect(view(before, 'net').namespaces[0].contents).toMatchObject({ kind: 'net', interfaces: { items: [expect.objectContaining({ name: 'lo', loopback: true })] } });
      const rootGroup = before.cgroups.groups.items.find((g) => g.path === '/')!;
      expect(rootGroup).toMatchObject({ pidsLimit: sandbox.limits.pids, memoryLimit: sandbox.limits.memoryBytes });
      expect(rootGroup.pidsUsage).toBeGreaterThanOrEqual(before.processes.total);
      expect(rootGroup.memoryUsage).toBeGreaterThan(0);

      await t1.run('unshare --ipc bash');
      await t1.run('ipcmk --queue');
      const after = await until((s) => view(s, 'ipc').namespaces.some((n) => !n.own && (n.contents as NsmapIpcContents | null)?.queues.total === 1 && n.terminals.includes(1)), 'with the queue in a new namespace');
      nsmapSnapshotSchema.parse(after);
      const ipc = view(after, 'ipc');
      expect(ipc.namespaces).toHaveLength(2);
      const own = ipc.namespaces.find((n) => n.own)!;
      const fresh = ipc.namespaces.find((n) => !n.own)!;
      expect(own.terminals).toEqual([2]);
      expect((own.contents as NsmapIpcContents).queues.total).toBe(0);
      expect(fresh.terminals).toEqual([1]);
      const q = (fresh.contents as NsmapIpcContents).queues.items[0];
      expect(q).toMatchObject({ owner: 0, messages: 0 });
      // the shell at T1's prompt is the inner bash, in the new namespace
      const shell1 = after.processes.items.find((p) => p.terminal === 1)!;
      expect(shell1.ns.ipc).toBe(fresh.id);
      expect(fresh.pids).toContain(shell1.pid);
      // only ipc moved: T1's shell is still in the sandbox's own uts namespace
      expect(view(after, 'uts').namespaces).toHaveLength(1);
      expect(after.seq).toBeGreaterThan(before.seq);
    } finally {
      engine.stop();
      await sandbox.destroy();
    }
  });

  it('stays bounded under a flood: 300 IPC namespaces, 500 processes, 300 queues', async () => {
    const backend = await testBackend();
    const sandbox = await backend.create({ label: 'nsmap flood test', limits: { pids: 1024 } });
    try {
      const r = await sh(sandbox, [
        // a command line of 400 characters (first: the map lists the lowest pids)
        'bash -c "exec -a $(printf \'y%.0s\' $(seq 400)) sleep 1000" </dev/null >/dev/null 2>&1 &',
        'for i in $(seq 300); do unshare --ipc sleep 1000 </dev/null >/dev/null 2>&1 & done',
        'for i in $(seq 200); do sleep 1000 </dev/null >/dev/null 2>&1 & done',
        'for i in $(seq 300); do ipcmk -Q >/dev/null; done',
        // wait until all are running: the shell exits, they stay (their parent becomes PID 1)
        'sleep 1; echo started',
      ].join('\n'));
      expect(r.stdout).toContain('started');
      const probe = sandbox.probe;
      let batches = 0;
      let requests = 0;
      let bytes = 0;
      const lab = createLab(sandbox, { lang: 'en' });
      const counted = {
        namespaceInfo: async (...a: Parameters<typeof probe.namespaceInfo>) => {
          batches++;
          requests += a[0].length;
          const x = await probe.namespaceInfo(...a);
          bytes += JSON.stringify([...x.values()]).length;
          return x;
        },
        mountsBounded: (...a: Parameters<typeof probe.mountsBounded>) => probe.mountsBounded(...a),
      };
      const snap = await collectNamespaceMap({
        processes: lab.processes, rootNamespaces: lab.rootNamespaces, cgroups: lab.cgroups, commands: () => sandbox.commands(), probe: counted,
      }, 1);
      nsmapSnapshotSchema.parse(snap);
      expect(snap.processes.total).toBeGreaterThanOrEqual(500);
      expect(snap.processes.items).toHaveLength(NSMAP_LIMITS.processes);
      expect(snap.processes.truncated).toBe(true);
      const long = snap.processes.items.find((p) => p.cmd.startsWith('yyyy'))!;
      expect(long.cmd).toHaveLength(NSMAP_LIMITS.cmdlineChars);
      expect(long.cmd.endsWith('…')).toBe(true);
      const ipc = view(snap, 'ipc');
      expect(ipc.total).toBeGreaterThanOrEqual(301);
      expect(ipc.namespaces).toHaveLength(NSMAP_LIMITS.namespacesPerKind);
      expect(ipc.truncated).toBe(true);
      expect(ipc.namespaces[0].own).toBe(true);
      const queues = (ipc.namespaces[0].contents as NsmapIpcContents).queues;
      expect(queues.items).toHaveLength(NSMAP_LIMITS.ipcObjects);
      expect(queues.truncated).toBe(true);
      expect(queues.total).toBeGreaterThan(NSMAP_LIMITS.ipcObjects);
      // the probe's cost: one helper fork for the round, one process per listed namespace, bounded bytes each
      expect(batches).toBe(1);
      expect(requests).toBeLessThanOrEqual(NSMAP_LIMITS.namespacesPerKind + 2);
      expect(bytes).toBeLessThanOrEqual(requests * 6 * NSINFO_SECTION_BYTES);
      expect(JSON.stringify(snap).length).toBeLessThan(NSMAP_LIMITS.snapshotBytes);
    } finally {
      await sandbox.destroy();
    }
  });

  it('nests pid and user namespaces as the kernel does (NS_GET_PARENT)', async () => {
    const backend = await testBackend();
    const sandbox = await backend.create({ label: 'nsmap nesting test' });
    try {
      const r = await sh(sandbox, [
        'unshare --pid --fork unshare --pid --fork sleep 1000 </dev/null >/dev/null 2>&1 &',
        // bash stays in the middle namespace (the "; true" keeps it from exec'ing the last command)
        'unshare --user --map-root-user bash -c "unshare --user --map-root-user sleep 1000; true" </dev/null >/dev/null 2>&1 &',
        // a middle namespace with no process in it: not on the map, but counted in the depth
        'unshare --user --map-root-user unshare --user --map-root-user unshare --user --map-root-user sleep 1001 </dev/null >/dev/null 2>&1 &',
        'sleep 1; echo started',
      ].join('\n'));
      expect(r.stdout).toContain('started');
      const lab = createLab(sandbox, { lang: 'en' });
      const snap = await collectNamespaceMap({
        processes: lab.processes, rootNamespaces: lab.rootNamespaces, cgroups: lab.cgroups, commands: () => sandbox.commands(), probe: sandbox.probe,
      }, 1);
      nsmapSnapshotSchema.parse(snap);
      for (const kind of ['pid', 'user'] as const) {
        const nss = view(snap, kind).namespaces;
        expect(nss).toHaveLength(kind === 'pid' ? 3 : 4);
        const own = nss.find((n) => n.own)!;
        expect(own.parent).toBeNull();
        const middle = nss.find((n) => n.parent === own.id && n.contents?.kind === kind && n.contents.level === 1)!;
        const inner = nss.find((n) => n.parent === middle.id)!;
        expect(inner).toBeDefined();
        expect(inner.contents).toMatchObject({ kind, level: 2 });
        expect(middle.contents).toMatchObject({ kind, level: 1 });
        // the sleep is at the bottom of the chain
        const sleep = snap.processes.items.find((p) => p.comm === 'sleep' && p.ns[kind] === inner.id);
        expect(sleep).toBeDefined();
      }
      // three deep, the two above it without a process: drawn under the sandbox's own, at depth 3
      const deep = view(snap, 'user').namespaces.find((n) => n.contents?.kind === 'user' && n.contents.level === 3)!;
      expect(deep.parent).toBe(view(snap, 'user').namespaces.find((n) => n.own)!.id);
      expect(snap.processes.items.find((p) => p.ns.user === deep.id)?.cmd).toBe('sleep 1001');
    } finally {
      await sandbox.destroy();
    }
  });

  it('keeps a flood of long mount points within the snapshot\'s byte bound', async () => {
    const backend = await testBackend();
    const sandbox = await backend.create({ label: 'nsmap mount flood test' });
    try {
      // each namespace says when its mounts are made (a file in the shared /root, outside /tmp/m)
      const inner = 'for i in $(seq 100); do d=/tmp/m/$(printf "%0200d" $i); mkdir -p $d; mount -t tmpfs t $d; done; touch /root/done.$$; exec sleep 1000';
      const r = await sh(sandbox, [
        `for n in $(seq 20); do unshare --mount bash -c '${inner}' </dev/null >/dev/null 2>&1 & done`,
        'until [ "$(ls /root | grep -c done)" -ge 20 ]; do sleep 0.2; done; echo started',
      ].join('\n'), undefined, 540_000); // the test's own 600 s: 120 s was not enough in the v2 VM
      expect(r.stdout).toContain('started');
      const lab = createLab(sandbox, { lang: 'en' });
      const snap = await collectNamespaceMap({
        processes: lab.processes, rootNamespaces: lab.rootNamespaces, cgroups: lab.cgroups, commands: () => sandbox.commands(), probe: sandbox.probe,
      }, 1);
      nsmapSnapshotSchema.parse(snap);
      const mnt = view(snap, 'mnt').namespaces.filter((n) => !n.own);
      expect(mnt).toHaveLength(20);
      const diffs = mnt.map((n) => (n.contents?.kind === 'mnt' ? n.contents.differences : null)!);
      // the first namespaces show their mounts; the byte bound empties the last ones' lists, marked truncated
      expect(diffs[0].items.length).toBeGreaterThan(50);
      expect(diffs[0].items[0]).toMatchObject({ change: 'added', fsType: 'tmpfs' });
      expect(diffs.at(-1)!.items.length).toBeLessThan(diffs.at(-1)!.total);
      expect(diffs.at(-1)!.truncated).toBe(true);
      const contentBytes = JSON.stringify(diffs.map((d) => d.items)).length;
      expect(contentBytes).toBeLessThanOrEqual(NSMAP_LIMITS.contentBytes + 20 * 2);
      expect(JSON.stringify(snap).length).toBeLessThan(NSMAP_LIMITS.snapshotBytes);
    } finally {
      await sandbox.destroy();
    }
  }, 600_000); // 20 mount namespaces of long mounts: ~6 s on a host, minutes under emulation (the v2 VM)

  it('gives a cgroup namespace the group it was made in as its root, also after its process moved below it', async () => {
    const backend = await testBackend();
    const sandbox = await backend.create({ label: 'nsmap cgroupns test' });
    try {
      // v2: one tree; v1 (hybrid hosts): the memory hierarchy, which the sandbox's cgroups are read from
      const G = hostInfo().cgroupMode === 'v2' ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory';
      const r = await sh(sandbox, [
        `mkdir -p ${G}/g1/sub`,
        `bash -c 'echo $$ > ${G}/g1/cgroup.procs; exec unshare --cgroup bash -c "echo \\$\\$ > ${G}/g1/sub/cgroup.procs; exec sleep 1000"' </dev/null >/dev/null 2>&1 &`,
        `until grep -q . ${G}/g1/sub/cgroup.procs; do sleep 0.1; done; echo started`,
      ].join('\n'));
      expect(r.stdout + r.stderr).toContain('started');
      const lab = createLab(sandbox, { lang: 'en' });
      const snap = await collectNamespaceMap({
        processes: lab.processes, rootNamespaces: lab.rootNamespaces, cgroups: lab.cgroups, commands: () => sandbox.commands(), probe: sandbox.probe,
      }, 1);
      nsmapSnapshotSchema.parse(snap);
      const nss = view(snap, 'cgroup').namespaces;
      expect(nss).toHaveLength(2);
      expect(nss.find((n) => n.own)!.contents).toEqual({ kind: 'cgroup', root: '/' });
      expect(nss.find((n) => !n.own)!.contents).toEqual({ kind: 'cgroup', root: '/g1' });
      // the tree shows where the process is now
      const sleep = snap.processes.items.find((p) => p.comm === 'sleep')!;
      expect(snap.cgroups.groups.items.find((g) => g.path === '/g1/sub')!.pids).toContain(sleep.pid);
    } finally {
      await sandbox.destroy();
    }
  });
});
