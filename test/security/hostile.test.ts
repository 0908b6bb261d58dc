/**
 * Hostile learners (docs/security.md, "What a sandbox promises"): every row of attempts.ts runs inside a
 * real sandbox made by the driver the server uses, and must fail safely. After
 * each group the attacker's sandbox still answers and the host side still
 * works; after the exhausting group a fresh sandbox works too.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecResult } from '../../lab-server/sandbox/index.ts';
import { testBackend } from '../sandbox/helpers.ts';
import { ATTEMPTS } from './attempts.ts';
import { type Attempt, type Ctx, GROUPS, HostService, hostAddresses, hostCanFork } from './harness.ts';
import { guardHost } from '../host-guard.ts';

// the host's /dev owners and modes and its cgroup counts are the same after this file
guardHost();

const ctx = {} as Ctx;

beforeAll(async () => {
  ctx.backend = await testBackend();
  ctx.host = new HostService();
  await ctx.host.start();
  ctx.marker = randomBytes(8).toString('hex');
  ctx.hostAddrs = hostAddresses();
  [ctx.a, ctx.b] = await Promise.all([ctx.backend.create({ label: 'hostile attacker' }), ctx.backend.create({ label: 'hostile victim' })]);
});

afterAll(async () => {
  await Promise.all([ctx.a?.destroy(), ctx.b?.destroy()]);
  await ctx.host?.stop();
  delete process.env.NSLAB_HOSTILE_MARK;
});

/** type a script into a terminal of the sandbox; count what comes back until a marker only the shell can print */
async function runInPty(row: Attempt, script: string): Promise<ExecResult> {
  const term = ctx.a.spawnPty({ terminal: 9, cols: 200, rows: 50 });
  let bytes = 0;
  let tail = '';
  let done = false;
  let resolveDone: () => void = () => {};
  const finished = new Promise<void>((r) => { resolveDone = r; });
  term.onData((d) => {
    bytes += Buffer.byteLength(d);
    tail = (tail + d).slice(-4096);
    if (!done && tail.includes('NSLAB-END-42')) { done = true; resolveDone(); }
  });
  term.onExit(() => resolveDone());
  term.write(`${script}; echo NSLAB-END-$((6*7))\r`);
  const limit = setTimeout(() => resolveDone(), row.timeoutMs ?? 120_000);
  await finished;
  clearTimeout(limit);
  term.kill();
  return { code: done ? 0 : 1, stdout: `bytes=${bytes}\n${tail}`, stderr: '' };
}

async function run(row: Attempt): Promise<{ r: ExecResult; before: unknown }> {
  const before = await row.before?.(ctx);
  const script = typeof row.script === 'function' ? row.script(ctx, before) : row.script;
  if (row.pty) return { r: await runInPty(row, script), before };
  const exec = ctx.a.exec(['/bin/bash', '-c', script], { timeoutMs: row.timeoutMs ?? 60_000 });
  await row.during?.(ctx);
  return { r: await exec, before };
}

async function stillUsable(): Promise<void> {
  expect(ctx.a.state).toBe('running');
  const r = await ctx.a.exec(['sh', '-c', 'echo ok']);
  expect(r.stdout.trim()).toBe('ok');
  expect(await ctx.host.ping()).toBe('host-ok');
  expect(hostCanFork()).toBe(true);
}

it('has at least 40 attempts in every group the issue names', () => {
  expect(ATTEMPTS.length).toBeGreaterThanOrEqual(40);
  for (const g of GROUPS) expect(ATTEMPTS.filter((a) => a.group === g).length).toBeGreaterThanOrEqual(5);
  expect(new Set(ATTEMPTS.map((a) => a.name)).size).toBe(ATTEMPTS.length);
});

for (const group of GROUPS) {
  describe(group, () => {
    for (const row of ATTEMPTS.filter((a) => a.group === group)) {
      // NSLAB_SHOW_GAPS=1 runs known gaps as ordinary tests, to see what the attack achieves
      const test = row.knownGap && !process.env.NSLAB_SHOW_GAPS ? it.fails : it;
      test(row.knownGap ? `${row.name} [known gap: ${row.knownGap}]` : row.name, async () => {
        const { r, before } = await run(row);
        try {
          await row.check(r, ctx, before);
        } catch (err) {
          (err as Error).message += `\n--- exit ${r.code}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
          throw err;
        }
      }, Math.max(120_000, (row.timeoutMs ?? 0) + 60_000));
    }

    it(`the sandbox and the host side are still usable after "${group}"`, stillUsable);

    if (group === 'exhausting') {
      it('a fresh sandbox works after the exhausting group, and the neighbour was never hurt', async () => {
        const fresh = await ctx.backend.create({ label: 'hostile fresh' });
        try {
          expect((await fresh.exec(['sh', '-c', 'echo fresh-ok'])).stdout.trim()).toBe('fresh-ok');
        } finally {
          await fresh.destroy();
        }
        expect((await ctx.b.exec(['sh', '-c', 'echo neighbour-ok'])).stdout.trim()).toBe('neighbour-ok');
      });
    }
  });
}
