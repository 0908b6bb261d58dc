/**
 * The cgroup budget guard (lab-server/sandbox/cgroup-quota.ts) on a plain directory
 * tree in a temp dir: inotify sees mkdir and rmdir there as it does in cgroupfs, so
 * the guard's counting and its answers (the lock, and on v2 the narrowed
 * cgroup.max.descendants) are checked exactly, step by step, without a kernel race.
 * The kernel side (mkdir refused) is checked on real sandboxes in
 * test/security/host-effects.test.ts.
 */
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CgroupGuard, type CgroupQuota } from '../../lab-server/sandbox/cgroup-quota.ts';

const QUOTA: CgroupQuota = { live: 16, created: 6, depth: 4 };
let root: string;
let guard: CgroupGuard | null = null;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'nslab-quota-'));
  writeFileSync(path.join(root, 'cgroup.max.descendants'), String(QUOTA.live));
});
afterEach(() => {
  guard?.stop();
  guard = null;
  rmSync(root, { recursive: true, force: true });
});

const maxDescendants = () => readFileSync(path.join(root, 'cgroup.max.descendants'), 'utf8').trim();
/** one step the guard has read: wait until its count says so */
async function step(make: () => void, createdAfter: number) {
  make();
  await vi.waitFor(() => expect(guard!.created).toBe(createdAfter), { timeout: 5000, interval: 5 });
  // the count and the answer come from the same look; one more turn for events of a removal
  await new Promise((r) => setImmediate(r));
}

describe('CgroupGuard lifetime budget', () => {
  for (const mode of ['v1', 'v2'] as const) {
    it(`${mode}: locks when the last group the budget allows is made, not one later`, async () => {
      const locks: string[] = [];
      guard = new CgroupGuard([root], mode, QUOTA, (e) => locks.push(e.reason));
      guard.start();
      for (let i = 1; i < QUOTA.created; i++) {
        await step(() => mkdirSync(path.join(root, `g${i}`)), i);
        expect(guard.locked, `after ${i} groups`).toBeNull();
      }
      await step(() => mkdirSync(path.join(root, `g${QUOTA.created}`)), QUOTA.created);
      expect(guard.locked).toMatch(/made 6 cgroups, its lifetime budget/);
      expect(locks).toHaveLength(1);
      if (mode === 'v2') expect(maxDescendants()).toBe('0');
    });
  }

  it('v2: cgroup.max.descendants shrinks with what is left of the budget, so the kernel stops a churn at the budget', async () => {
    guard = new CgroupGuard([root], 'v2', QUOTA);
    guard.start();
    expect(maxDescendants()).toBe(String(QUOTA.created)); // nothing alive, 6 left
    const g = path.join(root, 'g');
    for (let i = 1; i < QUOTA.created; i++) {
      await step(() => mkdirSync(g), i);
      // one alive, 6 - i left: the alive one plus what is left
      expect(maxDescendants(), `with cycle ${i}'s group alive`).toBe(String(1 + QUOTA.created - i));
      rmdirSync(g);
      await vi.waitFor(() => expect(maxDescendants()).toBe(String(QUOTA.created - i)), { timeout: 5000, interval: 5 });
      expect(guard.created).toBe(i); // a removal seen is not a creation
    }
    await step(() => mkdirSync(g), QUOTA.created);
    expect(guard.locked).not.toBeNull();
    expect(maxDescendants()).toBe('0');
  });

  it('v1: once locked, the guard hands the tree to host root once and goes quiet (its own chown is an inotify event)', async () => {
    guard = new CgroupGuard([root], 'v1', { live: 16, created: 2, depth: 4 });
    guard.start();
    // a group the learner made is the learner's (a chown is an event too: counted, on the safe side)
    mkdirSync(path.join(root, 'a'));
    chownSync(path.join(root, 'a'), 100000, 100000);
    await vi.waitFor(() => expect(guard!.locked).not.toBeNull(), { timeout: 5000, interval: 5 });
    await vi.waitFor(() => expect(statSync(path.join(root, 'a')).uid).toBe(0), { timeout: 5000, interval: 5 });
    const looks = guard.looks;
    await new Promise((r) => setTimeout(r, 300));
    // was: a look, a chown, an event, a look... a core spinning in the server for every locked sandbox
    expect(guard.looks - looks).toBeLessThanOrEqual(2);
  });

  it('v2: groups kept alive never raise the bound above the live budget', async () => {
    guard = new CgroupGuard([root], 'v2', { live: 3, created: 10, depth: 4 });
    guard.start();
    expect(maxDescendants()).toBe('3');
    await step(() => mkdirSync(path.join(root, 'a')), 1);
    await step(() => mkdirSync(path.join(root, 'b')), 2);
    expect(maxDescendants()).toBe('3');
    expect(guard.locked).toBeNull();
  });
});
