/**
 * When a new sandbox counts as started (runtime-ready.ts): its init's ready line AND
 * crun's state file, which crun writes after the init already runs. A real child
 * process stands in for `crun run` so that the gap can be made as long as a loaded
 * host makes it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { waitRuntimeReady } from '../../lab-server/sandbox/runtime-ready.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
const tempDir = () => { const d = mkdtempSync(join(tmpdir(), 'nslab-ready-')); dirs.push(d); return d; };
const runner = (script: string) => spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });

it('waits for the runtime state file that crun writes after the init printed its ready line', async () => {
  const status = join(tempDir(), 'status');
  const r = runner('echo "nslab-init ready"; sleep 5');
  let writtenAt = 0;
  // the init is up at once; the state comes 300 ms later (crun descheduled after sync 4)
  const write = setTimeout(() => { writeFileSync(status, '{}'); writtenAt = Date.now(); }, 300);
  try {
    await waitRuntimeReady(r, status, 10_000);
    expect(writtenAt).toBeGreaterThan(0);
  } finally {
    clearTimeout(write);
    r.kill('SIGKILL');
  }
});

it('is ready at once when the state is already there', async () => {
  const status = join(tempDir(), 'status');
  writeFileSync(status, '{}');
  const r = runner('echo "nslab-init ready"; sleep 5');
  try {
    await waitRuntimeReady(r, status, 10_000);
  } finally {
    r.kill('SIGKILL');
  }
});

it('says what is missing: the runtime exiting, or its state never written', async () => {
  const status = join(tempDir(), 'status');
  await expect(waitRuntimeReady(runner('echo "no such image" >&2; exit 3'), status, 10_000)).rejects.toThrow(/crun exited with 3: no such image/);
  const stuck = runner('echo "nslab-init ready"; sleep 5');
  await expect(waitRuntimeReady(stuck, status, 500)).rejects.toThrow(/did not start within 500 ms \(NSLAB_START_SECONDS\): its runtime state \(.*status\) was not written/);
});
