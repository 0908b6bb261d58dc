/**
 * bench/sandbox: create-to-first-prompt latency, destroy time and memory per idle
 * sandbox, next to baselines measured in the same run:
 *   - plain util-linux `unshare` of the same namespaces running `bash -c true`
 *   - the runtime alone: `crun run` of a minimal bundle running `bash -c true`
 * usage: node --import tsx bench/sandbox.ts [--runs 30] [--idle 50] [--write-docs] [--json FILE]
 *   --json FILE: the p50s and memory figures as JSON too (bench/v2-column.ts compares
 *   two such files, from this host and from the cgroup v2 VM)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSandboxBackend, type LocalSandbox } from '../lab-server/sandbox/index.ts';
import { v2SandboxesDir } from '../lab-server/sandbox/cgroup-root.ts';
import { hostInfo } from '../lab-server/sandbox/host.ts';
import { crunBaseline, firstPrompt as promptOf, memUsedBytes, pct, table, writeSection } from './lib.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 30);
const IDLE = arg('idle', 50);
const now = () => performance.now();

function timeCommand(file: string, args: string[]): number {
  const t = now();
  // pipes, never 'ignore': crun (before 1.24) fchowns the std streams it is given to the
  // container's root, and 'ignore' is the host's /dev/null (docs/security.md, known gap 7)
  const r = spawnSync(file, args, { stdio: 'pipe', input: '' });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} failed: ${r.status}`);
  return now() - t;
}

/** terminal 1 spawned until both its prompt bytes arrived and the command log said 'ready' */
async function firstPrompt(s: LocalSandbox): Promise<number> {
  return (await promptOf(s)).pid;
}

/** host memory a sandbox costs: what its memory cgroup is charged + host-side crun processes */
async function sandboxCostKiB(s: LocalSandbox, terminalPid: number): Promise<{ total: number; shell: number }> {
  // v1/hybrid: the memory hierarchy's group, and `crun run` sits in the unified one;
  // v2: one group, and `crun run` stays in the server's (found below its reaper)
  const v2 = hostInfo().cgroupMode === 'v2';
  const usage = Number(readFileSync(v2 ? join(v2SandboxesDir(), s.id, 'memory.current') : `/sys/fs/cgroup/memory/nslab/${s.id}/memory.usage_in_bytes`, 'utf8')) / 1024;
  const runners = v2 ? [] : readFileSync(`/sys/fs/cgroup/unified/nslab/${s.id}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
  // host-side: `crun run`, the nslab-reaper in front of it, and the terminal's pty
  // process (its nslab-reaper) with its `crun exec`
  const runtimeReaper = (s as unknown as { runner: { pid?: number } | null }).runner?.pid;
  const pids = new Set([...runners, ...(runtimeReaper ? [runtimeReaper, ...childrenOf(runtimeReaper)] : []), terminalPid, ...childrenOf(terminalPid)]);
  const hostSide = [...pids].reduce((a, p) => a + pssOf(p), 0);
  const shell = (await s.probe.processes()).filter((p) => p.comm === 'bash').reduce((a, p) => a + pssOf(p.hostPid), 0);
  return { total: usage + hostSide, shell };
}

async function main() {
  const backend = createSandboxBackend();
  await backend.reapOrphans();
  const imageRoot = await backend.images.mountedRoot('default');

  // baseline 1: the kernel floor, plain unshare
  const unshareArgs = ['--user', '--map-root-user', '--pid', '--ipc', '--uts', '--net', '--mount', '--cgroup', '--fork', 'bash', '-c', 'true'];
  timeCommand('unshare', unshareArgs);
  const unshareTimes = Array.from({ length: RUNS }, () => timeCommand('unshare', unshareArgs));

  // baseline 2: the runtime alone, crun run of a minimal bundle (same image, no limits/seccomp/cgroup work)
  const baseline = crunBaseline(imageRoot);
  baseline.run();
  const crunTimes = Array.from({ length: RUNS }, () => baseline.run());
  baseline.cleanup();

  // nslab: create -> terminal 1 -> first prompt reported by the command log
  const createTimes: number[] = [];
  const promptTimes: number[] = [];
  const destroyTimes: number[] = [];
  // how long the server's event loop (every learner's terminal) is held up per cold start:
  // a 1 ms ticker, gaps beyond 2 ms summed while create + first prompt run
  const stallTimes: number[] = [];
  let stall = 0;
  let lastTick = now();
  const ticker = setInterval(() => { const t = now(); const gap = t - lastTick - 1; if (gap > 2) stall += gap; lastTick = t; }, 1);
  for (let i = 0; i < RUNS + 1; i++) {
    await new Promise((r) => setTimeout(r, 20));
    stall = 0;
    lastTick = now();
    const t0 = now();
    const s = await backend.create();
    const t1 = now();
    await firstPrompt(s);
    const t2 = now();
    if (i > 0) stallTimes.push(stall);
    await s.destroy();
    const t3 = now();
    if (i === 0) continue; // warm-up
    createTimes.push(t1 - t0);
    promptTimes.push(t2 - t0);
    destroyTimes.push(t3 - t2);
  }

  clearInterval(ticker);

  // warm pool: the server keeps a few sandboxes ready; a learner arriving gets one
  backend.setPoolSize(2);
  const pooledPrompt: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await backend.poolReady();
    const t0 = now();
    const s = await backend.create();
    await firstPrompt(s);
    pooledPrompt.push(now() - t0);
    await s.destroy();
  }
  backend.setPoolSize(0);

  // memory: IDLE sandboxes each with an interactive shell
  execFileSync('sync');
  await new Promise((r) => setTimeout(r, 500));
  const before = memUsedBytes();
  const idle: { s: LocalSandbox; term: number }[] = [];
  for (let i = 0; i < IDLE; i++) {
    const s = await backend.create();
    idle.push({ s, term: await firstPrompt(s) });
  }
  await new Promise((r) => setTimeout(r, 1000));
  const after = memUsedBytes();
  const hostDelta = (after - before) / IDLE / 1048576;
  const costs = await Promise.all(idle.map(({ s, term }) => sandboxCostKiB(s, term)));
  const perSandbox = costs.reduce((a, c) => a + c.total, 0) / IDLE / 1024;
  const shellMiB = costs.reduce((a, c) => a + c.shell, 0) / IDLE / 1024;
  const tDestroyAll = now();
  await Promise.all(idle.map(({ s }) => s.destroy()));
  const destroyAllMs = now() - tDestroyAll;

  const rows: (string | number)[][] = [
    ['baseline: unshare (7 namespaces) bash -c true', pct(unshareTimes, 50), pct(unshareTimes, 95), ''],
    ['baseline: crun run bash -c true (no limits, no seccomp)', pct(crunTimes, 50), pct(crunTimes, 95), ''],
    ['nslab create (sandbox up, init ready)', pct(createTimes, 50), pct(createTimes, 95), `${(pct(createTimes, 50) / pct(crunTimes, 50)).toFixed(2)}x crun`],
    ['nslab create-to-first-prompt (terminal 1, command log)', pct(promptTimes, 50), pct(promptTimes, 95), `${(pct(promptTimes, 50) / pct(crunTimes, 50)).toFixed(2)}x crun`],
    ['nslab create-to-first-prompt from the warm pool (2 kept, terminal 1 pre-started)', pct(pooledPrompt, 50), pct(pooledPrompt, 95), `${(pct(pooledPrompt, 50) / pct(crunTimes, 50)).toFixed(2)}x crun`],
    ['nslab destroy (one sandbox)', pct(destroyTimes, 50), pct(destroyTimes, 95), ''],
    ['server event loop held up during one cold create-to-prompt (sum of gaps > 2 ms)', pct(stallTimes, 50), pct(stallTimes, 95), ''],
  ];
  const out = [
    `Sandbox benchmark, ${new Date().toISOString()}, ${RUNS} runs each (ms)`,
    '',
    table(['what', 'p50 ms', 'p95 ms', 'vs baseline'], rows),
    '',
    table(['memory', 'value'], [
      [`memory per idle sandbox (${IDLE} alive, each with a shell): cgroup charge + host-side crun and nslab-reaper`, `${perSandbox.toFixed(2)} MiB`],
      ['same, as MemAvailable drop per sandbox (noisy: other load on the host)', `${hostDelta.toFixed(2)} MiB`],
      ['of which the shell itself (PSS of bash)', `${shellMiB.toFixed(2)} MiB`],
      ['overhead beyond the shell', `${(perSandbox - shellMiB).toFixed(2)} MiB`],
      [`destroy all ${IDLE} at once`, `${destroyAllMs.toFixed(0)} ms`],
    ]),
    '',
    'What a learner waits for is the warm-pool row: `nslab serve` keeps 2 sandboxes whose terminal 1 is already at',
    'a prompt (docs/sandbox.md, Lifecycle), so create-to-prompt is a hand-over. A cold start needs two runtime calls',
    '(`crun run --detach` of the sandbox, then `crun exec -d` of the shell through script(1)) plus the user-namespace',
    'holder, the tmpfs, cgroup delegation and seccomp; bench/cold-start.ts breaks it down. Both runtime calls run under',
    'nslab-reaper (docs/security.md, known gap 3), which keeps what the detached crun leaves; destroy SIGKILLs init,',
    'waits for the reapers, then calls `crun delete --force` for the detached runtime state.',
  ].join('\n');
  console.log(out);
  if (process.argv.includes('--write-docs')) writeSection('Sandbox', out);
  const jsonAt = process.argv.indexOf('--json');
  if (jsonAt > 0) {
    writeFileSync(process.argv[jsonAt + 1]!, JSON.stringify({
      at: new Date().toISOString(), cgroupMode: hostInfo().cgroupMode, kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(), runs: RUNS, idle: IDLE,
      p50: { unshare: pct(unshareTimes, 50), crun: pct(crunTimes, 50), create: pct(createTimes, 50), prompt: pct(promptTimes, 50), pooled: pct(pooledPrompt, 50), destroy: pct(destroyTimes, 50), stall: pct(stallTimes, 50) },
      memory: { perSandboxMiB: perSandbox, shellMiB, destroyAllMs },
    }, null, 2));
  }
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((n) => {
    try {
      return /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${n}/status`, 'utf8'))?.[1] === String(pid);
    } catch { return false; }
  }).map(Number);
}

function pssOf(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch { return 0; }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
