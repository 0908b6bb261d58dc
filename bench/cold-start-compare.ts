/**
 * bench/cold-start-compare: two source trees' cold starts side by side, measured in
 * turns (before, after, before, after, ...) so the load of a shared machine falls on
 * both alike; each turn runs that tree's bench/cold-start.ts, whose `crun run`
 * baseline alternates with its own sandboxes.
 *
 * usage: nice -n 19 node --import tsx bench/cold-start-compare.ts --before DIR [--after DIR] [--turns 4] [--runs 8] [--joins 40] [--write-docs]
 *   DIR: a tree with bench/cold-start.ts, e.g. an older commit:
 *     git archive <rev> | tar -x -C DIR; cp bench/cold-start.ts bench/lib.ts DIR/bench/; ln -s $PWD/node_modules DIR/
 *   (its LocalSandbox needs startupTimes for the steps table; without them the table shows only the after column)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pct, table, writeSection } from './lib.ts';

const opt = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const before = resolve(opt('before', ''));
const after = resolve(opt('after', join(import.meta.dirname, '..')));
const TURNS = Number(opt('turns', '4'));
const RUNS = opt('runs', '8');
const JOINS = opt('joins', '40');

interface Result {
  load: string;
  crun: number[];
  cold: number[];
  phases: Record<string, number[]>;
  rush: { default: { allMs: number } | null; full: { allMs: number } | null };
}
const results: Record<'before' | 'after', Result[]> = { before: [], after: [] };
const tmp = mkdtempSync(join(tmpdir(), 'nslab-cold-'));
const loads: string[] = [];
for (let t = 0; t < TURNS; t++) {
  for (const [name, dir] of [['before', before], ['after', after]] as const) {
    const file = join(tmp, `${name}-${t}.json`);
    // the rush in every turn too: one sample per turn and tree, so its median is over TURNS samples
    const rush = ['--joins', JOINS];
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, 'bench', 'cold-start.ts'), '--runs', RUNS, ...rush, '--json', file], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`${name} (${dir}) failed: ${r.status}`);
    const res = JSON.parse(readFileSync(file, 'utf8')) as Result;
    results[name].push(res);
    loads.push(res.load);
  }
}
rmSync(tmp, { recursive: true, force: true });

const all = (name: 'before' | 'after', key: 'crun' | 'cold') => results[name].flatMap((r) => r[key]);
/** per turn, the tree's cold start over its own crun baseline; then the median of all samples */
const ratio = (name: 'before' | 'after', p: number) => pct(all(name, 'cold'), p) / pct(all(name, 'crun'), p);
const phaseNames = [...new Set([...results.before, ...results.after].flatMap((r) => Object.keys(r.phases)))];
const phase = (name: 'before' | 'after', n: string) => {
  const v = results[name].flatMap((r) => r.phases[n] ?? []);
  return v.length ? pct(v, 50) : '-';
};
const rushes = (name: 'before' | 'after', k: 'default' | 'full') => results[name].map((r) => r.rush[k]?.allMs).filter((v): v is number => v !== undefined);
const rushOf = (name: 'before' | 'after', k: 'default' | 'full') => {
  const v = rushes(name, k);
  return `${pct(v, 50).toFixed(1)} (${v.map((x) => x.toFixed(0)).join(', ')})`;
};
const n = TURNS * Number(RUNS);
const out = [
  `Cold start before/after, ${new Date().toISOString()}, ${TURNS} turns of ${RUNS} runs per tree, taken in turns; load averages during the turns: ${loads.join(' | ')} (2 cores, shared)`,
  '',
  table(['', 'before p50 ms', 'after p50 ms', 'before p90 ms', 'after p90 ms'], [
    [`crun run bash -c true (baseline, ${n} runs each)`, pct(all('before', 'crun'), 50), pct(all('after', 'crun'), 50), pct(all('before', 'crun'), 90), pct(all('after', 'crun'), 90)],
    ['nslab cold create-to-first-prompt (no pool)', pct(all('before', 'cold'), 50), pct(all('after', 'cold'), 50), pct(all('before', 'cold'), 90), pct(all('after', 'cold'), 90)],
    ['ratio nslab / crun run', `${ratio('before', 50).toFixed(2)}x`, `${ratio('after', 50).toFixed(2)}x`, `${ratio('before', 90).toFixed(2)}x`, `${ratio('after', 90).toFixed(2)}x`],
  ]),
  '',
  table(['where it goes (median ms of each step)', 'before', 'after'], phaseNames.map((p) => [p, phase('before', p), phase('after', p)])),
  '',
  table([`${JOINS} sessions asked for at once, until every prompt: median (each turn)`, 'before ms', 'after ms'], [
    ['warm pool of 2 (nslab serve\'s default), the rest cold', rushOf('before', 'default'), rushOf('after', 'default')],
    [`warm pool of ${JOINS}, filled beforehand`, rushOf('before', 'full'), rushOf('after', 'full')],
  ]),
].join('\n');
console.log(out);
if (process.argv.includes('--write-docs')) writeSection('Cold start before/after', out);
