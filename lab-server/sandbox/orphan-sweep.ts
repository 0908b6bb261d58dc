/**
 * What a previous server left on the host, found and removed at start-up: its
 * sandboxes (by their owner record), cgroups of sandboxes that have no directory
 * (a crash mid-create or mid-teardown) and uid claims whose sandbox is gone.
 * Several servers may share a host, each with its own run dir and instance name:
 * a sweep never touches what a live server owns or is making right now.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupAgeMs, cgroupHasProcesses, cgroupSandboxIds, emptyCgroups, reclaimDeadSandboxes, removeCgroups } from './cgroups.ts';
import { processStartTime } from './process-identity.ts';
import type { UidClaims } from './uid-claims.ts';

/** leftovers younger than this may belong to a sandbox another server is creating */
export const STRAY_GRACE_MS = 60_000;

/** owner.json in a sandbox's directory: which server (instance, pid, start time) owns it */
export interface Owner { instance: string; pid: number; startTime: string; createdAt: string; label?: string; slot: number }

const OWNER_FILE = 'owner.json';

export function writeOwner(sandboxDir: string, owner: Owner): void {
  writeFileSync(join(sandboxDir, OWNER_FILE), JSON.stringify(owner));
}

/** null when the sandbox is half-made (no record yet) or the record is unreadable */
export function readOwner(sandboxDir: string): Owner | null {
  try { return JSON.parse(readFileSync(join(sandboxDir, OWNER_FILE), 'utf8')) as Owner; } catch { return null; }
}

export interface SweepScope {
  /** this server's <runDir>/sandboxes */
  sandboxesDir: string;
  /** this server's instance name (DriverConfig.instance) */
  instance: string;
  uidClaims: UidClaims;
  /** DriverConfig.strayGraceMs, default STRAY_GRACE_MS */
  graceMs: number;
  /** a sandbox alive in this process */
  isLive(id: string): boolean;
  /** removes everything of a sandbox (the back end's teardown) */
  teardown(id: string): Promise<void>;
}

/** Removes the leftovers; returns how many sandboxes (and stray cgroups) went. */
export async function sweepOrphans(scope: SweepScope): Promise<number> {
  const { sandboxesDir } = scope;
  let reaped = 0;
  const known = new Set<string>();
  for (const id of existsSync(sandboxesDir) ? readdirSync(sandboxesDir) : []) {
    known.add(id);
    if (scope.isLive(id)) continue;
    const owner = readOwner(join(sandboxesDir, id));
    const ownerAlive = owner !== null && owner.startTime !== '' && processStartTime(owner.pid) === owner.startTime;
    const mine = owner?.instance === scope.instance;
    if (ownerAlive && !(mine && owner!.pid !== process.pid)) continue;
    if (ownerAlive && mine && owner!.pid !== process.pid) {
      // another live server of the same instance: not ours to touch
      continue;
    }
    await scope.teardown(id);
    reaped++;
  }
  // an orphan's `crun run` may have removed its groups before this teardown could reclaim them
  if (reaped > 0) reclaimDeadSandboxes();
  // Groups of sandboxes with no directory here (a crash mid-create or mid-teardown).
  // Every server shares /nslab/<id>, whatever its NSLAB_RUN, and others may be creating
  // right now: only groups that are empty and not brand new are ours to remove.
  // Every server names its sandboxes in its uid claims (host-wide, made before the groups):
  // a group whose sandbox is claimed is some server's, however old or empty (half-made).
  const claimed = scope.uidClaims.claimedSandboxIds();
  for (const id of cgroupSandboxIds()) {
    if (known.has(id) || scope.isLive(id) || existsSync(join(sandboxesDir, id)) || claimed.has(id)) continue;
    if (cgroupAgeMs(id) < scope.graceMs) continue;
    if (cgroupHasProcesses(id)) {
      console.error(`nslab: cgroup nslab/${id} has processes but no sandbox directory in ${sandboxesDir}: another server's sandbox? left alone`);
      continue;
    }
    await emptyCgroups(id);
    await removeCgroups(id);
    reaped++;
  }
  // uid ranges whose sandbox is gone (not one being claimed right now)
  scope.uidClaims.releaseStale(scope.graceMs);
  return reaped;
}
