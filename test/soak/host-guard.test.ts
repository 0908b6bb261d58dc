/**
 * The host guard's allowance for the other test file (test/host-guard.ts, ForeignChurn):
 * files run two at a time, and the memory groups of the other file's destroyed
 * sandboxes stay dying for a minute or two, in the same host-wide count. A full host
 * run failed the soak file's guard that way (2 memory groups "left" after 150 s while
 * the lesson files beside it kept making and destroying sandboxes).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalBackend } from '../../lab-server/sandbox/index.ts';
import { testBackend } from '../sandbox/helpers.ts';
import { ForeignChurn } from '../host-guard.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');
let backend: LocalBackend;
beforeAll(async () => { backend = await testBackend(); });
afterAll(async () => { await backend?.destroyAll(); });

// the other test file beside this one makes and destroys sandboxes too: the test holds to
// the two sandboxes it knows, never to totals
it("counts the groups of another process's sandbox once it went, and none of this process's own", async () => {
  const churn = new ForeignChurn(['memory']);
  try {
    // this process's own sandbox: what the guard must keep strict about
    const own = await backend.create({ label: 'guard: own' });
    await own.exec(['sleep', '0.5']);
    await own.destroy();
    expect(churn.went().map((g) => g.id)).not.toContain(own.id);
    // another process's (the other test file's) sandbox, alive long enough to be seen: a
    // process not below this one (the shell in between exits, so the kernel reparents it)
    const done = path.join(mkdtempSync(path.join(os.tmpdir(), 'nslab-guard-')), 'done');
    const cli = `'${process.execPath}' --import tsx lab-server/cli.ts exec -- sleep 2`;
    spawn('sh', ['-c', `(${cli}; echo $? > '${done}') >/dev/null 2>&1 &`], { cwd: REPO, stdio: 'ignore' });
    for (let i = 0; i < 6000 && !existsSync(done); i++) await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(done, 'utf8').trim()).toBe('0');
    const theirs = churn.went().filter((g) => g.label === 'nslab exec');
    expect(theirs.length).toBeGreaterThanOrEqual(1);
    expect(theirs.some((g) => (g.groups.memory ?? 0) >= 1)).toBe(true);
    // and what went counts toward the allowance for as long as it may stay dying
    expect(churn.recent(60_000).memory ?? 0).toBeGreaterThanOrEqual(1);
  } finally {
    churn.stop();
  }
}, 900_000); // under emulation (the v2 VM) the CLI's start alone takes a while
