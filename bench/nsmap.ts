/**
 * bench/nsmap: what the namespace map costs the check engine's probe round, next to
 * the checks-only round of the same lesson (ipc-namespace, every step open) measured
 * in the same run and the same sandbox:
 *   - 10 processes, the sandbox's own namespaces only
 *   - 200 processes, own namespaces only
 *   - 200 processes, 50 new IPC+UTS+net+mount namespaces (one `unshare` each)
 * Per row: checks-only round, checks + map round, the map alone, the helper forks and
 * bytes the map's reads took, and the snapshot's JSON size. Then the reaction time:
 * typed `ipcmk -Q` → the command-log event (baseline) → the map pushed with the queue.
 * usage: node --import tsx bench/nsmap.ts [--runs 15] [--write-docs]
 */
import { CheckEngine } from '../lab-server/checks/engine.ts';
import { createLab } from '../lab-server/checks/lab.ts';
import { loadChecks } from '../lab-server/checks/load.ts';
import { collectNamespaceMap } from '../lab-server/checks/namespace-map.ts';
import type { NsmapIpcContents, NsmapSnapshot } from '../lab-server/contract/namespace-map.ts';
import { LessonCatalog } from '../lab-server/lessons/loader.ts';
import { createSandboxBackend } from '../lab-server/sandbox/index.ts';
import type { CommandEvent, Sandbox } from '../lab-server/sandbox/types.ts';
import { MapSubscription } from '../lab-server/terminal/map-subscription.ts';
import { pct, table, writeSection } from './lib.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 15);
const now = () => performance.now();

const backend = createSandboxBackend();
await backend.checkHost();
const catalog = new LessonCatalog();
const lesson = await catalog.load('ipc-namespace');
const checks = await loadChecks(lesson.dir);
const steps = lesson.versions.en!.steps.map((s) => s.id);

function nextEvent(s: Sandbox, pred: (e: CommandEvent) => boolean): Promise<number> {
  return new Promise((resolve) => {
    const off = s.onCommand((e) => { if (pred(e)) { off(); resolve(now()); } });
  });
}

/** one engine round over every step of the lesson, with or without the map wanted */
async function roundMs(s: Sandbox, withMap: boolean): Promise<number[]> {
  const channel = new MapSubscription(() => {});
  channel.set(withMap);
  const engine = new CheckEngine({ sandbox: s, checks, steps, lang: 'en', pollMs: 0, map: channel, log: () => {} });
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = now();
    await engine.evaluate();
    await engine.idle();
    out.push(now() - t);
  }
  engine.stop();
  return out;
}

async function mapAlone(s: Sandbox): Promise<{ ms: number[]; forks: number; bytes: number; json: number; snap: NsmapSnapshot }> {
  const ms: number[] = [];
  let forks = 0;
  let bytes = 0;
  let snap: NsmapSnapshot | null = null;
  for (let i = 0; i < RUNS; i++) {
    forks = 0;
    bytes = 0;
    const lab = createLab(s, { lang: 'en' });
    const probe = {
      namespaceInfo: async (...a: Parameters<Sandbox['probe']['namespaceInfo']>) => { forks++; const r = await s.probe.namespaceInfo(...a); bytes += JSON.stringify([...r.values()]).length; return r; },
      mountsBounded: async (...a: Parameters<Sandbox['probe']['mountsBounded']>) => { const r = await s.probe.mountsBounded(...a); bytes += JSON.stringify(r).length; return r; },
    };
    const t = now();
    snap = await collectNamespaceMap({ processes: lab.processes, rootNamespaces: lab.rootNamespaces, cgroups: lab.cgroups, commands: () => s.commands(), probe }, i + 1);
    ms.push(now() - t);
  }
  return { ms, forks, bytes, json: JSON.stringify(snap).length, snap: snap! };
}

const rows: (string | number)[][] = [];
const scenarios: [string, string][] = [
  ['10 processes, own namespaces', 'for i in $(seq 8); do sleep 1000 </dev/null >/dev/null 2>&1 & done'],
  ['200 processes, own namespaces', 'for i in $(seq 198); do sleep 1000 </dev/null >/dev/null 2>&1 & done'],
  ['200 processes, 50 namespaces per kind', [
    'for i in $(seq 49); do unshare --ipc --uts --net --mount sleep 1000 </dev/null >/dev/null 2>&1 & done',
    'for i in $(seq 149); do sleep 1000 </dev/null >/dev/null 2>&1 & done',
  ].join('\n')],
];
for (const [name, script] of scenarios) {
  const s = await backend.create({ label: 'bench nsmap' });
  try {
    s.spawnPty({ terminal: 1 });
    await nextEvent(s, (e) => e.kind === 'ready');
    await s.exec(['/bin/bash', '-c', `${script}\nsleep 1`], { timeoutMs: 120_000 });
    const base = await roundMs(s, false);
    const both = await roundMs(s, true);
    const alone = await mapAlone(s);
    const ipc = alone.snap.kinds.find((k) => k.kind === 'ipc')!;
    rows.push([
      name, alone.snap.processes.total, ipc.total,
      pct(base, 50), pct(both, 50), pct(both, 95), pct(alone.ms, 50), alone.forks, Math.round(alone.bytes / 1024), Math.round(alone.json / 1024),
    ]);
  } finally {
    await s.destroy();
  }
}

// reaction: typed ipcmk -Q in a new IPC namespace → command event → map pushed with the queue
const toEvent: number[] = [];
const toMap: number[] = [];
{
  const s = await backend.create({ label: 'bench nsmap reaction' });
  try {
    const pty = s.spawnPty({ terminal: 1 });
    await nextEvent(s, (e) => e.kind === 'ready');
    const ready = nextEvent(s, (e) => e.kind === 'ready');
    pty.write('unshare --ipc bash\r');
    await ready;
    let want = 0;
    let seen = 0;
    const channel = new MapSubscription((snap) => {
      const queues = snap.kinds.find((k) => k.kind === 'ipc')!.namespaces.filter((n) => !n.own)
        .reduce((a, n) => a + ((n.contents as NsmapIpcContents | null)?.queues.total ?? 0), 0);
      if (queues >= want && !seen) seen = now();
    });
    const engine = new CheckEngine({ sandbox: s, checks, steps, lang: 'en', pollMs: 600_000, map: channel, log: () => {} }).start();
    channel.set(true);
    await engine.idle();
    for (let i = 0; i < RUNS; i++) {
      want = i + 1;
      seen = 0;
      const ev = nextEvent(s, (e) => e.kind === 'cmd');
      const t = now();
      pty.write('ipcmk -Q >/dev/null\r');
      toEvent.push((await ev) - t);
      await engine.idle();
      for (let k = 0; k < 100 && !seen; k++) await new Promise((r) => setTimeout(r, 10));
      toMap.push(seen - t);
    }
    engine.stop();
  } finally {
    await s.destroy();
  }
}

const out = [
  `host: ${process.platform} ${(await import('node:os')).cpus().length} cores, ${RUNS} runs per cell, lesson ipc-namespace (all steps open)`,
  '',
  table(
    ['sandbox', 'procs', 'ipc ns', 'checks round p50 ms', 'checks+map p50 ms', 'checks+map p95 ms', 'map alone p50 ms', 'helper forks', 'read KiB (parsed)', 'snapshot KiB'],
    rows,
  ),
  '',
  table(['typed → ...', 'p50 ms', 'p95 ms'], [
    ['command-log event (baseline)', pct(toEvent, 50), pct(toEvent, 95)],
    ['map pushed with the new queue', pct(toMap, 50), pct(toMap, 95)],
  ]),
].join('\n');
console.log(out);
if (process.argv.includes('--write-docs')) writeSection('Namespace map (bench/nsmap.ts)', out);
