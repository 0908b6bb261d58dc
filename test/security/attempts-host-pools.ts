/**
 * Hostile rows for what outside scanners found (docs/security.md, "Outside scanners"): host inodes handed to
 * the sandbox, and the host-wide memory cgroup id pool. test/security/host-effects
 * proves each both ways in fresh sandboxes; here they run in the hostile suite's
 * shared attacker sandbox like every other attack.
 */
import { expect } from 'vitest';
import { lstatSync } from 'node:fs';
import { CGROUP_QUOTA } from '../../lab-server/sandbox/cgroup-quota.ts';
import { hostInfo } from '../../lab-server/sandbox/host.ts';
import { devChanges, ForeignChurn, devSnapshot, hostCgroupCounts, cgroupsBesidesLiveSandboxes, memorySettleMs, pick, settleCgroupCounts } from '../host-guard.ts';
import type { Attempt } from './harness.ts';

const V2 = hostInfo().cgroupMode === 'v2';
const CG = V2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory';
/** v2 allows no process beside child groups: a learner's process goes back to the /init leaf */
const HOME = V2 ? `${CG}/init/cgroup.procs` : `${CG}/cgroup.procs`;
const hostDevNull = () => { const st = lstatSync('/dev/null'); return `${st.uid}:${st.gid} ${(st.mode & 0o777).toString(8)}`; };

export const hostPools: Attempt[] = [
  {
    group: 'escaping', name: "chmod/chown the host's /dev/null and the other device nodes bound into /dev",
    before: () => devSnapshot(),
    script: 'for f in /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; do chmod 0600 $f; chown 0:0 $f; chmod u+s $f; done 2>&1 | sort | uniq -c | head -3; stat -c "%n %u %a" /dev/null',
    check: (r, _c, before) => {
      expect(r.stdout).toContain('/dev/null 65534 666');
      expect(devChanges(before)).toEqual([]);
      expect(hostDevNull()).toBe('0:0 666');
    },
  },
  {
    group: 'exhausting', name: "drain the host's memory cgroup ids: mkdir without end, then mkdir/charge/rmdir loops",
    before: () => hostCgroupCounts().memory,
    script: String.raw`cd ${CG}; i=0; while [ $i -lt 20000 ]; do mkdir pool$i 2>/dev/null || break; i=$((i+1)); done; echo made=$i
      j=0; while [ $j -lt 400 ]; do mkdir churn 2>/dev/null || break; echo $BASHPID > churn/cgroup.procs || break
        head -c 8192 /dev/urandom > /tmp/churn$j; echo $BASHPID > ${HOME}; rmdir churn || break; j=$((j+1)); done; echo cycles=$j`,
    check: (r, _c, memBefore: number) => {
      expect(Number(/made=(\d+)/.exec(r.stdout)?.[1])).toBeLessThan(1000);
      expect(Number(/cycles=(\d+)/.exec(r.stdout)?.[1])).toBeLessThanOrEqual(CGROUP_QUOTA.created);
      // live and dying together: no more than this sandbox's budgets
      expect(hostCgroupCounts().memory - memBefore).toBeLessThanOrEqual(CGROUP_QUOTA.live + CGROUP_QUOTA.created);
    },
    timeoutMs: 120_000,
  },
  {
    group: 'exhausting', name: 'leave dying memory cgroups behind a destroyed sandbox (groups that hold page cache and tmpfs pages)',
    before: async (c) => {
      const churn = new ForeignChurn(['memory']);
      const baseline = cgroupsBesidesLiveSandboxes();
      const s = await c.backend.create({ label: 'hostile dying groups' });
      try {
        await s.exec(['/bin/bash', '-c', String.raw`cd ${CG}; for i in 1 2 3 4 5 6 7 8; do mkdir pin$i; (echo $BASHPID > pin$i/cgroup.procs; cat /usr/bin/*$i* >/dev/null 2>&1; head -c 65536 /dev/urandom > /tmp/pin$i); done; for i in 1 2 3 4; do rmdir pin$i; done`]);
      } finally {
        await s.destroy();
      }
      return { baseline, churn };
    },
    script: 'echo destroyed-before',
    check: async (_r, _c, { baseline, churn }: { baseline: Record<string, number>; churn: ForeignChurn }) => {
      // (less what the other test file's sandboxes that went meanwhile may hold, dying)
      try {
        expect(await settleCgroupCounts(pick(baseline, 'memory'), memorySettleMs(), () => churn.recent(memorySettleMs()))).toEqual({});
      } finally {
        churn.stop();
      }
    },
    // the test's own time: on v2 the groups take up to memorySettleMs() to go
    timeoutMs: memorySettleMs() + 30_000,
  },
];
