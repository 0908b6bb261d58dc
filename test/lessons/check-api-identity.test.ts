/**
 * The identity probes of the checks API (user namespace and id maps, namespace
 * owners, capabilities, clock offsets) on a real sandbox: what the kernel reports
 * about processes the test sets up the way a learner would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab } from '../../lab-server/checks/lab.ts';
import type { Lab, ProcessInfo } from '../../lab-server/checks/api.ts';
import type { Sandbox } from '../../lab-server/sandbox/types.ts';
import { sh, terminal, testBackend } from '../sandbox/helpers.ts';

const AS_1000 = 'setpriv --reuid=1000 --regid=1000 --clear-groups';

describe('identity probes', () => {
  let sandbox: Sandbox;
  let term: ReturnType<typeof terminal>;
  beforeAll(async () => {
    sandbox = await (await testBackend()).create({ label: 'check-api identity' });
    term = terminal(sandbox);
    await term.ready();
  });
  afterAll(async () => { await sandbox?.destroy(); });

  const lab = (): Lab => createLab(sandbox, { lang: 'en' });
  /** the live process whose command line is exactly this, once it exists */
  const waitFor = async (cmdline: string): Promise<ProcessInfo> => {
    for (let i = 0; i < 200; i++) {
      const p = (await lab().processes()).find((x) => x.cmdline.join(' ') === cmdline);
      if (p) return p;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no process "${cmdline}"`);
  };

  it('the sandbox root: all its ids mapped, root inside, every capability, owned by the host', async () => {
    const l = lab();
    const init = await l.init();
    const root = await l.rootNamespaces();
    const user = await l.userNamespace(init.hostPid);
    expect(user.ns).toBe(root.user);
    expect(user.uidMap).toEqual([{ inside: 0, outside: 0, hostOutside: init.hostUid, count: 65536 }]);
    expect(user.gidMap.map((r) => [r.inside, r.outside, r.count])).toEqual([[0, 0, 65536]]);
    expect([user.uid, user.gid, user.ownerUid, user.setgroups]).toEqual([0, 0, 0, 'allow']);
    expect(user.parent).not.toBe(0);
    const owners = await l.namespaceOwners(init.hostPid);
    // the sandbox's namespaces belong to its user namespace, except the time namespace it shares with the host
    for (const k of ['mnt', 'uts', 'ipc', 'net', 'pid', 'cgroup'] as const) expect(owners[k], k).toBe(root.user);
    expect(owners.user).toBe(user.parent);
    expect(owners.time).not.toBe(root.user);
    const caps = await l.capabilities(init.hostPid);
    expect(caps.effective).toContain('cap_sys_admin');
    expect(caps.bounding).toContain('cap_sys_time');
    expect(await l.timeOffsets(init.hostPid)).toEqual({ monotonic: 0, boottime: 0 });
  });

  it('a user namespace made by uid 1000: nobody inside until the maps are written, then root, with setgroups denied', async () => {
    await term.run(`${AS_1000} unshare --user sleep 1001 >/dev/null 2>&1 &`);
    const p = await waitFor('sleep 1001');
    const root = await lab().rootNamespaces();
    const before = await lab().userNamespace(p.hostPid);
    expect(before.ns).not.toBe(root.user);
    expect(before.parent).toBe(root.user);
    expect(before.ownerUid).toBe(1000);
    expect([before.uidMap, before.gidMap, before.uid, before.gid, before.setgroups]).toEqual([[], [], 65534, 65534, 'allow']);
    // an unmapped uid's exec dropped every capability, though the bounding set is whole
    const caps = await lab().capabilities(p.hostPid);
    expect(caps.effective).toEqual([]);
    expect(caps.bounding).toContain('cap_sys_admin');

    // the one-line rule: uid 1000 may map only itself, and gid_map only after setgroups is denied
    const write = (what: string, file: string) => sh(sandbox, `${AS_1000} sh -c 'echo "${what}" > /proc/${p.pid}/${file}'`);
    expect((await write('0 1000 2', 'uid_map')).code).not.toBe(0);
    expect((await write('0 1000 1', 'uid_map')).code).toBe(0);
    expect((await write('0 1000 1', 'gid_map')).code).not.toBe(0);
    expect((await write('deny', 'setgroups')).code).toBe(0);
    expect((await write('0 1000 1', 'gid_map')).code).toBe(0);
    const after = await lab().userNamespace(p.hostPid);
    expect(after.uidMap).toEqual([{ inside: 0, outside: 1000, hostOutside: (await lab().init()).hostUid + 1000, count: 1 }]);
    expect(after.gidMap.map((r) => [r.inside, r.outside, r.count])).toEqual([[0, 1000, 1]]);
    expect([after.uid, after.gid, after.setgroups]).toEqual([0, 0, 'deny']);
  });

  it('a mount namespace made inside a new user namespace is owned by it', async () => {
    await term.run('unshare --user --map-root-user --mount sleep 1002 >/dev/null 2>&1 &');
    const p = await waitFor('sleep 1002');
    const root = await lab().rootNamespaces();
    const owners = await lab().namespaceOwners(p.hostPid);
    expect(p.ns.user).not.toBe(root.user);
    expect(owners.mnt).toBe(p.ns.user);
    expect(owners.user).toBe(root.user);
    // the namespaces it did not unshare still belong to the sandbox's user namespace
    expect(owners.uts).toBe(root.user);
    expect(owners.net).toBe(root.user);
    expect((await lab().capabilities(p.hostPid)).effective).toContain('cap_sys_admin');
  });

  it('clock offsets of a time namespace, and none outside it', async () => {
    await term.run('unshare --time --fork --monotonic 3600 --boottime 86400 sleep 1003 >/dev/null 2>&1 &');
    const p = await waitFor('sleep 1003');
    const root = await lab().rootNamespaces();
    expect(p.ns.time).not.toBe(root.time);
    expect(await lab().timeOffsets(p.hostPid)).toEqual({ monotonic: 3600, boottime: 86400 });
    expect(await lab().timeOffsets((await lab().init()).hostPid)).toEqual({ monotonic: 0, boottime: 0 });
  });

  it('refuses a process that is not the sandbox\'s', async () => {
    await expect(lab().userNamespace(process.pid)).rejects.toThrow(/not in sandbox/);
    await expect(lab().timeOffsets(process.pid)).rejects.toThrow(/not in sandbox/);
  });
});
