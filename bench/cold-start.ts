/**
 * bench/cold-start: a sandbox's cold create-to-first-prompt against the bare runtime,
 * alternating in one run, with where the time goes; then a class joining at once.
 *
 *   baseline  `crun run` of a minimal bundle (same image, no limits, no seccomp, no
 *             cgroup work) running `bash -c true` (bench/lib.ts, crunBaseline)
 *   nslab     LocalBackend.create() with the warm pool off, then terminal 1 until its
 *             prompt bytes arrived and the command log said 'ready'
 *   rush      JOINS sessions asked for at once, as the server asks (create with
 *             startTerminal), each until its prompt: with the server's pool of 2 and
 *             with a pool as large as the class, filled beforehand
 *
 * usage: nice -n 19 node --import tsx bench/cold-start.ts [--runs 30] [--joins 40] [--no-rush] [--json FILE] [--write-docs]
 *   --json FILE: every sample as JSON too (bench/cold-start-compare.ts puts two trees side by side)
 * The machine is shared: compare the ratio of the same run, not absolute times.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createSandboxBackend, type LocalSandbox } from '../lab-server/sandbox/index.ts';
import { hostInfo } from '../lab-server/sandbox/host.ts';
import { crunBaseline, firstPrompt, pct, table, writeSection } from './lib.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 30);
const JOINS = arg('joins', 40);
const now = () => performance.now();

/** gaps between the steps LocalBackend.create() marks, then the terminal's */
const PHASES: [string, string, string][] = [
  ['uid slot, sandbox dir, owner file, cgroups made and delegated', 'start', 'cgroups'],
  ['user-namespace holder up (after cgroups)', 'cgroups', 'userns'],
  ['OCI config written, runtime spawned', 'userns', 'spawned'],
  ['runtime: rootfs + crun run until init says ready', 'spawned', 'runtime'],
  ['init found, OOM guard, cgroup guard armed', 'runtime', 'attached'],
  ['terminal 1: crun exec + shell until the prompt bytes', 'attached', 'promptBytes'],
  ['terminal 1: until the command log says ready', 'promptBytes', 'ready'],
];

async function main() {
  const backend = createSandboxBackend();
  await backend.reapOrphans();
  backend.setPoolSize(0);
  const baseline = crunBaseline(await backend.images.mountedRoot('default'));

  async function coldOnce(): Promise<{ total: number; marks: Record<string, number> }> {
    const t0 = now();
    const s = await backend.create();
    const marks = { ...s.startupTimes };
    const p = await firstPrompt(s);
    const total = now() - t0;
    marks.promptBytes = p.promptBytesAt;
    marks.ready = p.readyAt;
    await s.destroy();
    return { total, marks };
  }

  // warm-up of both (page cache, helper builds)
  baseline.run();
  await coldOnce();
  const crunTimes: number[] = [];
  const coldTimes: number[] = [];
  const phaseTimes = new Map<string, number[]>();
  for (let i = 0; i < RUNS; i++) {
    // alternating, so a burst of load from other users hits both columns alike
    crunTimes.push(baseline.run());
    await new Promise((r) => setTimeout(r, 10));
    const { total, marks } = await coldOnce();
    coldTimes.push(total);
    for (const [name, from, to] of PHASES) {
      if (marks[from] !== undefined && marks[to] !== undefined) phaseTimes.set(name, [...(phaseTimes.get(name) ?? []), marks[to]! - marks[from]!]);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  baseline.cleanup();

  // a class joining at once: every session asked for together, each with its terminal pre-started
  async function rush(poolSize: number): Promise<{ allMs: number; p50: number; p90: number }> {
    backend.setPoolSize(poolSize);
    if (poolSize > 0) await backend.poolReady();
    const t0 = now();
    const each: number[] = [];
    const made: LocalSandbox[] = [];
    await Promise.all(Array.from({ length: JOINS }, async () => {
      const s = await backend.create({ startTerminal: true, label: 'bench rush' });
      made.push(s);
      await firstPrompt(s);
      each.push(now() - t0);
    }));
    const allMs = now() - t0;
    backend.setPoolSize(0);
    await Promise.all(made.map((s) => s.destroy()));
    await backend.destroyAll();
    return { allMs, p50: pct(each, 50), p90: pct(each, 90) };
  }
  const noRush = process.argv.includes('--no-rush');
  const rushDefault = noRush ? null : await rush(2);
  const rushFull = noRush ? null : await rush(JOINS);

  const ratio = (p: number) => `${(pct(coldTimes, p) / pct(crunTimes, p)).toFixed(2)}x`;
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const out = [
    `Cold start, ${new Date().toISOString()}, cgroups ${hostInfo().cgroupMode}, load average ${load} (2 cores, shared), ${RUNS} alternating runs`,
    '',
    table(['what', 'p50 ms', 'p90 ms', 'p50 ratio', 'p90 ratio'], [
      ['baseline: crun run bash -c true (minimal bundle)', pct(crunTimes, 50), pct(crunTimes, 90), '1.00x', '1.00x'],
      ['nslab cold create-to-first-prompt (no pool)', pct(coldTimes, 50), pct(coldTimes, 90), ratio(50), ratio(90)],
    ]),
    '',
    table(['where the cold start goes (medians of each step)', 'p50 ms', 'p90 ms'],
      PHASES.filter(([n]) => phaseTimes.has(n)).map(([n]) => [n, pct(phaseTimes.get(n)!, 50), pct(phaseTimes.get(n)!, 90)])),
    ...(rushDefault && rushFull ? ['', table([`${JOINS} sessions asked for at once (create + terminal 1 pre-started, until every prompt)`, 'all at a prompt ms', 'p50 ms', 'p90 ms'], [
      ['warm pool of 2 (nslab serve\'s default), the rest cold', rushDefault.allMs, rushDefault.p50, rushDefault.p90],
      [`warm pool of ${JOINS}, filled beforehand`, rushFull.allMs, rushFull.p50, rushFull.p90],
    ])] : []),
  ].join('\n');
  console.log(out);
  if (process.argv.includes('--write-docs')) writeSection('Cold start', out);
  const jsonAt = process.argv.indexOf('--json');
  if (jsonAt > 0) {
    writeFileSync(process.argv[jsonAt + 1]!, JSON.stringify({
      at: new Date().toISOString(), load, crun: crunTimes, cold: coldTimes, phases: Object.fromEntries(phaseTimes), rush: { default: rushDefault, full: rushFull },
    }));
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
