/**
 * A process's mount table for checks: /proc/PID/mountinfo as the kernel shows it
 * (read from the host by the probe, so nothing the learner types can change it),
 * with the questions mount lessons ask of it: which mount is at a path, which
 * filesystem directory a path is, are two mounts peers, what findmnt's PROPAGATION
 * column would say. Paths are the process's own (relative to its root directory).
 * proc(5) "/proc/pid/mountinfo"; Documentation/filesystems/sharedsubtree.rst.
 */
import path from 'node:path';
import type { MountInfo } from '../sandbox/types.ts';
import type { Lab } from './api.ts';

/** a directory of a filesystem, independent of where (or whether) it is mounted */
export interface FsLocation { device: string; path: string }

export class MountTable {
  constructor(readonly mounts: readonly MountInfo[]) {}

  /** the mount a process reaches at exactly `where`: the top of a stack of mounts there */
  at(where: string): MountInfo | undefined {
    const p = path.posix.resolve('/', where);
    const here = this.mounts.filter((m) => m.mountPoint === p);
    // the one no other mount at the same point was mounted on
    return here.find((m) => !here.some((o) => o.parentId === m.mountId)) ?? here.at(-1);
  }

  /** the mount a path lies on: the deepest mount point that contains it */
  containing(where: string): MountInfo | undefined {
    let p = path.posix.resolve('/', where);
    for (;;) {
      const m = this.at(p);
      if (m) return m;
      if (p === '/') return undefined;
      p = path.posix.dirname(p);
    }
  }

  /** which directory of which filesystem `where` is (what a bind mount of it would show) */
  locate(where: string): FsLocation | null {
    const p = path.posix.resolve('/', where);
    const m = this.containing(p);
    if (!m) return null;
    const rest = m.mountPoint === '/' ? p : p.slice(m.mountPoint.length);
    return { device: m.device, path: path.posix.join(m.root, rest || '/') };
  }

  /** the mount on which `m` is mounted, if the process can see it */
  parent(m: MountInfo): MountInfo | undefined {
    return this.mounts.find((o) => o.mountId === m.parentId);
  }
}

/** the same directory of the same filesystem (a bind mount and its source are) */
export const sameFsLocation = (a: FsLocation | null, b: FsLocation | null): boolean =>
  !!a && !!b && a.device === b.device && a.path === b.path;

export const mountedDir = (m: MountInfo): FsLocation => ({ device: m.device, path: m.root });

/** two mounts in one peer group: a mount or unmount under one is propagated to the other */
export const arePeers = (a: MountInfo, b: MountInfo): boolean =>
  a.propagation.shared !== null && a.propagation.shared === b.propagation.shared;

/** what findmnt's PROPAGATION column says: shared, slave, private, unbindable or 'shared,slave' */
export function propagationName(m: MountInfo): string {
  const { shared, master, unbindable } = m.propagation;
  if (shared !== null && master !== null) return 'shared,slave';
  if (shared !== null) return 'shared';
  if (master !== null) return unbindable ? 'unbindable,slave' : 'slave';
  return unbindable ? 'unbindable' : 'private';
}

/** findmnt's SOURCE column for a mount: 'nslab-rw[/tmp/site]' for a bind of a subdirectory */
export const describeSource = (m: MountInfo): string => (m.root === '/' ? m.source : `${m.source}[${m.root}]`);

/** the mount table of a process, null when it has exited in the meantime (or is not the sandbox's) */
export async function mountTable(lab: Pick<Lab, 'mounts'>, hostPid: number): Promise<MountTable | null> {
  try {
    return new MountTable(await lab.mounts(hostPid));
  } catch {
    return null;
  }
}
