/**
 * Host uid ranges, one per sandbox: 65536 ids starting at uidBase + slot * 65536.
 * A range is claimed by making a directory named by its first host uid (mkdir is
 * atomic), holding a file `sandbox` that names the sandbox's directory. The claims
 * live host-wide, not under a server's run dir: two servers with different
 * NSLAB_RUN on one host must never hand out the same range, and every server's
 * orphan sweep (orphan-sweep.ts) reads them to tell a half-made sandbox of another
 * server from a leftover.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** where every server on the host claims its ranges */
export const UID_CLAIM_DIR = '/run/nslab/uids';

export class UidClaims {
  constructor(
    readonly dir: string,
    private readonly uidBase: number,
    private readonly slots: number,
  ) {}

  /** the first host uid of a slot's range */
  uidOf(slot: number): number {
    return this.uidBase + slot * 65536;
  }

  /** A free range for the sandbox whose directory is `sandboxDir`; returns its slot. */
  claim(sandboxDir: string): number {
    const tryClaim = (slot: number) => {
      try {
        mkdirSync(join(this.dir, String(this.uidOf(slot))));
      } catch { return false; }
      // who holds it: the sandbox's directory, checked by every server's orphan sweep
      writeFileSync(join(this.dir, String(this.uidOf(slot)), 'sandbox'), sandboxDir);
      return true;
    };
    for (let tries = 0; tries < 64; tries++) {
      const slot = Math.floor(Math.random() * this.slots);
      if (tryClaim(slot)) return slot;
    }
    for (let slot = 0; slot < this.slots; slot++) if (tryClaim(slot)) return slot;
    throw new Error('no free uid range for a new sandbox');
  }

  release(slot: number): void {
    rmSync(join(this.dir, String(this.uidOf(slot))), { recursive: true, force: true });
  }

  /** ids of the sandboxes named by claims whose sandbox directory exists, whichever server's */
  claimedSandboxIds(): Set<string> {
    const ids = new Set<string>();
    for (const claim of existsSync(this.dir) ? readdirSync(this.dir) : []) {
      try {
        const holder = readFileSync(join(this.dir, claim, 'sandbox'), 'utf8');
        if (holder.startsWith('/') && existsSync(holder)) ids.add(basename(holder));
      } catch { /* half-written or gone */ }
    }
    return ids;
  }

  /** Removes the claims whose sandbox directory is gone, but none younger than graceMs (being claimed right now). */
  releaseStale(graceMs: number): void {
    for (const claim of existsSync(this.dir) ? readdirSync(this.dir) : []) {
      const path = join(this.dir, claim);
      try { if (Date.now() - statSync(path).mtimeMs < graceMs) continue; } catch { continue; }
      let holder = '';
      try { holder = readFileSync(join(path, 'sandbox'), 'utf8'); } catch { /* half-written */ }
      // a claim names its sandbox's directory, under whichever run dir its server uses
      if (!holder.startsWith('/') || !existsSync(holder)) rmSync(path, { recursive: true, force: true });
    }
  }
}
