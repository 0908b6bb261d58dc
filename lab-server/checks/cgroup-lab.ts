/**
 * The cgroup-namespace part of the checks API: a process's cgroup as the process
 * itself sees it, from inside its cgroup namespace. `unshare --cgroup` roots the new
 * namespace at the group its caller is in at that moment, so a runtime moves the init
 * into the container's group first and the container then sees its group as '/'; a
 * namespace made before the move shows the group relative to where it was made:
 * '/../box' from a sibling group, '/box' from the parent (cgroup_namespaces(7)).
 * Read by the probe from inside the namespace (sandbox/probe.ts, section `cgroupns`).
 */
import type { ProcessInfo, Probe } from '../sandbox/types.ts';

type Once = <T>(key: string, f: () => Promise<T>) => Promise<T>;

/** enough for /proc/PID/cgroup: one line per hierarchy */
const MAX_CGROUP_FILE = 4096;

export interface CgroupLab {
  /**
   * the process's cgroup as it sees it in /proc/self/cgroup: the v2 line's path, or on
   * a v1 host the memory hierarchy's (the tree `lab.cgroups()` reads there). '/' when
   * its cgroup namespace is rooted at its own group; null when the process is gone or
   * the file could not be read
   */
  cgroupSeenInside(hostPid: number): Promise<string | null>;
}

/** the path of the v2 line ("0::/box"), else of the v1 line that lists the memory controller ("7:memory:/box") */
export function cgroupLinePath(lines: readonly string[]): string | null {
  const parse = (l: string) => {
    const a = l.indexOf(':');
    const b = l.indexOf(':', a + 1);
    return a < 0 || b < 0 ? null : { id: l.slice(0, a), controllers: l.slice(a + 1, b).split(','), path: l.slice(b + 1) };
  };
  const entries = lines.map(parse).filter((e) => e !== null);
  const line = entries.find((e) => e.controllers.includes('memory')) ?? entries.find((e) => e.id === '0' && e.controllers.join('') === '');
  return line?.path ?? null;
}

export function createCgroupLab(probe: Probe, once: Once, processes: () => Promise<ProcessInfo[]>): CgroupLab {
  return {
    cgroupSeenInside: (hostPid) => once(`cgroup-inside:${hostPid}`, async () => {
      const p = (await processes()).find((x) => x.hostPid === hostPid && x.state !== 'Z');
      if (!p) return null;
      const read = (await probe.namespaceInfo([{ hostPid, sections: ['cgroupns'] }], MAX_CGROUP_FILE)).get(hostPid);
      if (!read || read instanceof Error || !read.cgroupns) return null;
      return cgroupLinePath(read.cgroupns);
    }),
  };
}
