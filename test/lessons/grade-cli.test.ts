/** `nslab grade` as graders run it: the real CLI, real sandboxes, exit codes and report files. */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir, cp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

const nslab = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
  execFile(process.execPath, ['--import', 'tsx', 'lab-server/cli.ts', ...args], { cwd: process.cwd(), maxBuffer: 10 << 20 }, (err, stdout, stderr) => {
    resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
  });
});

let tmp: string;
beforeAll(async () => { tmp = await mkdtemp(path.join(os.tmpdir(), 'nslab-grade-')); });
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

it('grades one transcript: JSON on stdout, exit 0 when all steps pass', async () => {
  const r = await nslab(['grade', 'sample-hostname', 'lessons/sample-hostname/solution.txt', '--format', 'json']);
  expect(r.code, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout);
  expect(j).toMatchObject({ lesson: 'sample-hostname', passed: 3, total: 3 });
  expect(j.steps.map((s: { id: string }) => s.id)).toEqual(['look', 'new-uts', 'check-outside']);
});

it('grades a folder in parallel: one report per file, a summary, exit 1 when some failed', async () => {
  const subs = path.join(tmp, 'submissions');
  await mkdir(subs);
  await cp('lessons/sample-hostname/solution.txt', path.join(subs, 'alice.txt'));
  await cp('lessons/sample-hostname/near-misses/renamed-machine.txt', path.join(subs, 'bob.txt'));
  await writeFile(path.join(subs, 'carol.txt'), 'true\n');
  await writeFile(path.join(subs, 'dave.txt'), '#!bogus\n');
  const out = path.join(tmp, 'reports');
  const r = await nslab(['grade', 'sample-hostname', subs, '--format', 'junit', '--jobs', '3', '--out', out]);
  // dave's transcript is malformed: an error row, and exit 2 (not everything could be graded)
  expect(r.code, r.stderr).toBe(2);
  expect((await readdir(out)).sort()).toEqual(['alice.xml', 'bob.xml', 'carol.xml', 'dave.error.txt', 'summary.xml']);
  expect(await readFile(path.join(out, 'alice.xml'), 'utf8')).toContain('tests="3" failures="0"');
  expect(await readFile(path.join(out, 'carol.xml'), 'utf8')).toContain('tests="3" failures="3"');
  expect(await readFile(path.join(out, 'dave.error.txt'), 'utf8')).toContain('unknown directive "#!bogus"');

  await rm(path.join(subs, 'dave.txt'));
  const t = await nslab(['grade', 'sample-hostname', subs, '--out', out]);
  expect(t.code, t.stderr).toBe(1);
  expect(t.stdout).toMatch(/alice\.txt\s+3\/3\s+-/);
  expect(t.stdout).toMatch(/bob\.txt\s+1\/3\s+new-uts, check-outside/);
  expect(t.stdout).toContain('1/3 transcripts passed every step');
});

it('exits 2 on usage and environment errors', async () => {
  expect((await nslab(['grade', 'no-such-lesson', 'x.txt'])).code).toBe(2);
  expect((await nslab(['grade', 'sample-hostname', '/nonexistent.txt'])).code).toBe(2);
  expect((await nslab(['grade', 'sample-hostname', 'lessons/sample-hostname/solution.txt', '--format', 'xml'])).code).toBe(2);
  expect((await nslab(['grade', 'sample-hostname'])).code).toBe(2);
});
