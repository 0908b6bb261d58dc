/** npm run bench: every benchmark in turn, each printing its table (pass --write-docs to record them). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const extra = process.argv.slice(2);
// the short benches only; run by hand: idle.ts and nsmap.ts (minutes each), and thousand.ts, which wants
// a quiet machine and raised host pools (docs/benchmarks.md, "1,000 sessions")
let failed = 0;
for (const name of ['sandbox', 'cold-start', 'session-memory', 'terminal', 'checks', 'classroom', 'nsmap-render']) {
  console.log(`\n=== bench/${name}.ts ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, `${name}.ts`), ...extra], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
