/**
 * lab.cgroupSeenInside (lab-server/checks/cgroup-lab.ts) on a real sandbox: a process's
 * cgroup as it sees it from its own cgroup namespace, on the host's kind of cgroups
 * (v2: /sys/fs/cgroup/box; v1/hybrid: the memory hierarchy's box).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupLinePath } from '../../lab-server/checks/cgroup-lab.ts';
import { createLab } from '../../lab-server/checks/lab.ts';
import type { Lab, ProcessInfo } from '../../lab-server/checks/api.ts';
import type { Sandbox } from '../../lab-server/sandbox/types.ts';
import { sh, terminal, testBackend } from '../sandbox/helpers.ts';

describe('cgroupLinePath', () => {
  it('takes the v2 line, or the v1 line of the memory controller', () => {
    expect(cgroupLinePath(['0::/box'])).toBe('/box');
    expect(cgroupLinePath(['0::/../box'])).toBe('/../box');
    expect(cgroupLinePath(['9:name=systemd:/', '5:memory:/box', '4:pids:/', '0::/'])).toBe('/box');
    expect(cgroupLinePath(['3:cpu,memory:/x'])).toBe('/x');
    expect(cgroupLinePath(['garbage'])).toBeNull();
  });
});

describe('lab.cgroupSeenInside', () => {
  let sandbox: Sandbox;
  let term: ReturnType<typeof terminal>;
  let group: string;
  let v2: boolean;
  beforeAll(async () => {
    sandbox = await (await testBackend()).create({ label: 'check-api cgroupns' });
    term = terminal(sandbox);
    await term.ready();
    v2 = (await sh(sandbox, 'stat -fc %T /sys/fs/cgroup')).stdout.trim() === 'cgroup2fs';
    group = v2 ? '/sys/fs/cgroup/box' : '/sys/fs/cgroup/memory/box';
    expect((await sh(sandbox, `mkdir ${group}`)).code).toBe(0);
  });
  afterAll(async () => { await sandbox?.destroy(); });

  const lab = (): Lab => createLab(sandbox, { lang: 'en' });
  const waitFor = async (cmdline: string): Promise<ProcessInfo> => {
    for (let i = 0; i < 200; i++) {
      const p = (await lab().processes()).find((x) => x.cmdline.join(' ') === cmdline && x.state !== 'Z');
      if (p) return p;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no process "${cmdline}"`);
  };

  it("the sandbox's own shell sees its group in the sandbox's tree", async () => {
    const shell = (await lab().shells())[0];
    const seen = await lab().cgroupSeenInside(shell.hostPid);
    // v2: the sandbox's shells start in its /init leaf; v1: at the root of each hierarchy
    expect(['/init', '/']).toContain(seen);
  });

  it('a cgroup namespace made after the move into box sees box as /', async () => {
    await term.run(`(echo $BASHPID > ${group}/cgroup.procs; exec unshare --cgroup sleep 2001) &`);
    const p = await waitFor('sleep 2001');
    expect(await lab().cgroupSeenInside(p.hostPid)).toBe('/');
    const box = (await lab().cgroups()).find((g) => g.path === '/box');
    expect(box?.hostPids).toContain(p.hostPid);
  });

  it('one made before the move sees box relative to the group it was made in', async () => {
    await term.run('unshare --cgroup sleep 2002 &');
    const p = await waitFor('sleep 2002');
    const before = await lab().cgroupSeenInside(p.hostPid);
    expect(before).toBe('/');
    expect((await sh(sandbox, `echo ${p.pid} > ${group}/cgroup.procs`)).code).toBe(0);
    // made in /init on v2 (box is a sibling), at the memory hierarchy's root on v1 (box is a child)
    expect(await lab().cgroupSeenInside(p.hostPid)).toBe(v2 ? '/../box' : '/box');
  });

  it('a process that is gone: null', async () => {
    expect(await lab().cgroupSeenInside(999_999)).toBeNull();
  });
});
