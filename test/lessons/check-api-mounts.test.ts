/**
 * The mount probes of the checks API on a real sandbox: each process's root directory
 * (chroot shows, pivot_root does not) and the propagation fields of its mount table,
 * read from the host while the sandbox's processes change them.
 */
import { describe, expect, it } from 'vitest';
import { createLab } from '../../lab-server/checks/lab.ts';
import { mountTable, propagationName, type Lab } from '../../lab-server/checks/api.ts';
import { terminal, testBackend } from '../sandbox/helpers.ts';

/** a fresh Lab until `ok` holds: background processes may not have run yet when the shell reports back */
async function until(make: () => Lab, ok: (lab: Lab) => Promise<boolean>): Promise<Lab> {
  let lab = make();
  for (let i = 0; i < 200 && !(await ok(lab)); i++) {
    await new Promise((r) => setTimeout(r, 25));
    lab = make();
  }
  return lab;
}

describe('mount tables and roots through the checks API', () => {
  it('sees shared peers across namespaces, a private copy, a chroot and a pivot_root', async () => {
    const sandbox = await (await testBackend()).create({ label: 'check-api mounts' });
    try {
      const sh = terminal(sandbox);
      await sh.ready();
      const make = () => createLab(sandbox, { lang: 'en' });
      const init = await make().init();
      expect(init.root).toBe('/');
      const before = (await mountTable(make(), init.hostPid))!;
      // the sandbox's own mounts are all private
      expect(before.mounts.every((m) => propagationName(m) === 'private')).toBe(true);

      await sh.run('mkdir -p /mnt/shared && mount -t tmpfs shared /mnt/shared && mount --make-shared /mnt/shared');
      await sh.run('mkdir -p /tmp/nr && mount -t tmpfs nr /tmp/nr && cp -a /opt/minirootfs/. /tmp/nr/ && mkdir /tmp/nr/old');
      await sh.run([
        'unshare --mount --propagation unchanged sh -c "mkdir -p /mnt/shared/in && mount -t tmpfs in /mnt/shared/in && exec sleep 1001" &',
        'unshare --mount sh -c "exec sleep 1002" &',
        'unshare --mount sh -c "cd /tmp/nr && pivot_root . old && exec /bin/sleep 1003" &',
        'unshare --mount chroot /tmp/nr /bin/sleep 1004 & true',
      ].join(' '));
      const bySleep = (lab: Lab, n: number) => lab.processes().then((ps) => ps.find((p) => p.cmdline.join(' ').endsWith(`sleep ${n}`)));
      const lab = await until(make, async (l) => {
        const all = await Promise.all([1001, 1002, 1003, 1004].map((n) => bySleep(l, n)));
        const root = await mountTable(l, init.hostPid);
        return all.every(Boolean) && !!root?.at('/mnt/shared/in');
      });

      const sandboxTable = (await mountTable(lab, init.hostPid))!;
      const shared = (await bySleep(lab, 1001))!;
      const sharedTable = (await mountTable(lab, shared.hostPid))!;
      // mounted in the child namespace, propagated to the sandbox's: one peer group
      const inChild = sharedTable.at('/mnt/shared/in')!;
      const inSandbox = sandboxTable.at('/mnt/shared/in')!;
      expect(inChild.propagation.shared).not.toBeNull();
      expect(inSandbox.propagation.shared).toBe(inChild.propagation.shared);
      expect(inSandbox.mountId).not.toBe(inChild.mountId);

      const privateCopy = (await mountTable(lab, (await bySleep(lab, 1002))!.hostPid))!;
      expect(propagationName(privateCopy.at('/mnt/shared')!)).toBe('private');
      expect(privateCopy.at('/mnt/shared/in')).toBeUndefined();

      const pivoted = (await bySleep(lab, 1003))!;
      expect(pivoted.root).toBe('/');
      const pivotedTable = (await mountTable(lab, pivoted.hostPid))!;
      expect(pivotedTable.at('/')?.source).toBe('nr');
      expect(pivotedTable.at('/old')?.source).toBe(sandboxTable.at('/')?.source);

      const chrooted = (await bySleep(lab, 1004))!;
      expect(chrooted.root).toBe('/tmp/nr');
      // the process of a chroot sees only the mounts below its root, and the new root as '/'
      expect((await mountTable(lab, chrooted.hostPid))!.at('/')?.source).toBe('nr');

      // a process that is gone has no table, and the check gets null rather than an error
      await sh.run('kill %1; wait %1');
      const gone = await until(make, async (l) => !(await bySleep(l, 1001)));
      expect(await mountTable(gone, shared.hostPid)).toBeNull();
    } finally {
      await sandbox.destroy();
    }
  });
});
