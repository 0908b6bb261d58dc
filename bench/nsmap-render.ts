/**
 * bench/nsmap-render: how long the browser takes to draw the namespace map at the
 * sizes the server allows (200 processes, 50 namespaces per kind, full IPC tables,
 * a 100-group cgroup tree), in Debian's Chromium, per kind and per view:
 *
 *   model   the server's snapshot turned into the map's model (web/nsmap/adapt.ts)
 *   build   the DOM built and put on the page (web/nsmap/render.ts, table.ts)
 *   layout  style and layout forced right after (what the next frame would pay)
 *
 * A "frame" is 16.7 ms at 60 Hz: model + build + layout under it means a snapshot is
 * drawn without a dropped frame. The snapshot is validated against the contract's schema
 * first, so the sizes are ones the server can really send.
 *
 * usage: node --import tsx bench/nsmap-render.ts [--runs 30] [--write-docs]
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { NSMAP_KINDS, NSMAP_LIMITS, nsmapSnapshotSchema, type NsmapSnapshot } from '../lab-server/contract/namespace-map.ts';
import { CHROMIUM_ARGS } from '../test/browser.ts';
import { pct, table, writeSection } from './lib.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 30);
const ROOT = join(import.meta.dirname, '..');

/** the biggest snapshot the server sends: every bound reached where the learner can reach it */
export function bigSnapshot(seq: number): NsmapSnapshot {
  const L = NSMAP_LIMITS;
  const nsCount = L.namespacesPerKind;
  const procs = Array.from({ length: L.processes }, (_, i) => i + 1);
  const nsOf = (pid: number) => (pid - 1) % nsCount;
  const inode = (kind: number, n: number) => 4026531840 + kind * 1000 + n;
  const processes = procs.map((pid) => ({
    pid, ppid: pid === 1 ? 0 : Math.max(1, pid - nsCount), comm: pid % 7 === 0 ? 'sleep' : 'bash', cmd: pid % 7 === 0 ? 'sleep infinity' : 'bash',
    terminal: pid === 2 ? 1 : pid === 3 ? 2 : null,
    ns: Object.fromEntries(NSMAP_KINDS.map((k, ki) => [k, inode(ki, nsOf(pid))])) as Record<(typeof NSMAP_KINDS)[number], number>,
  }));
  const bounded = <T>(items: T[], total = items.length) => ({ items, total, truncated: total > items.length });
  // the content-item budget spread over the namespaces that hold things
  const perNs = Math.floor(L.contentItems / nsCount / 4);
  const kinds = NSMAP_KINDS.map((kind, ki) => ({
    kind,
    total: nsCount + 5,
    truncated: true,
    namespaces: Array.from({ length: nsCount }, (_, n) => {
      const pids = procs.filter((p) => nsOf(p) === n);
      const contents = (() => {
        switch (kind) {
          case 'ipc': return {
            kind,
            queues: bounded(Array.from({ length: perNs }, (_, q) => ({ key: 0x6c54b6c4 + q, id: q + seq, owner: 0, perms: 0o644, messages: q, bytes: q * 100 })), perNs * 3),
            sems: bounded(Array.from({ length: perNs }, (_, q) => ({ key: 0x1000 + q, id: q, owner: 0, perms: 0o600, nsems: 3 }))),
            shm: bounded(Array.from({ length: perNs }, (_, q) => ({ key: 0x2000 + q, id: q, owner: 0, perms: 0o600, size: 4096 * (q + 1), attached: 1 }))),
            mqueues: bounded(Array.from({ length: perNs }, (_, q) => ({ name: `jobs-${q}`, mode: 0o644, bytes: 80 }))),
          } as const;
          case 'uts': return { kind, hostname: `host-${n}`, domainname: '(none)' } as const;
          case 'net': return { kind, interfaces: bounded(Array.from({ length: 4 }, (_, i) => ({ name: i === 0 ? 'lo' : `veth${n}-${i}`, state: 'up' as const, running: true, loopback: i === 0, addresses: bounded([{ family: 'inet' as const, address: `10.${n}.${i}.1`, prefix: 24 }, { family: 'inet6' as const, address: `fd00::${n}:${i}`, prefix: 64 }]) }))) } as const;
          case 'mnt': return { kind, mountCount: 20 + n, differences: bounded(Array.from({ length: n === 0 ? 0 : 5 }, (_, i) => ({ change: 'added' as const, mountPoint: `/mnt/m${i}`, fsType: 'tmpfs', source: 'tmpfs' }))) } as const;
          case 'cgroup': return { kind, root: n === 0 ? '/' : `/g${n % 10}` } as const;
          case 'pid': case 'user': return { kind, level: n === 0 ? 0 : 1 + (n % 3) } as const;
          case 'time': return { kind } as const;
        }
      })();
      // pid and user nest: a chain of three levels under the sandbox's own
      const nests = kind === 'pid' || kind === 'user';
      const parent = !nests || n === 0 ? null : inode(ki, n % 3 === 1 ? 0 : n - 1);
      return { id: inode(ki, n), own: n === 0, parent, pids, processCount: pids.length, terminals: processes.filter((p) => p.terminal && nsOf(p.pid) === n).map((p) => p.terminal!), contents };
    }),
  }));
  const groups = Array.from({ length: L.cgroups }, (_, i) => {
    const path = i === 0 ? '/' : i <= 10 ? `/g${i - 1}` : `/g${i % 10}/sub${i}`;
    return { path, pids: procs.filter((p) => p % L.cgroups === i), processCount: 2, memoryLimit: i % 3 ? 100 * 2 ** 20 : null, memoryUsage: 12 * 2 ** 20 + seq, pidsLimit: i % 2 ? 64 : null, oomKills: 0 };
  }).sort((a, b) => a.path.localeCompare(b.path));
  const snap = {
    version: 1 as const, seq, at: Date.now(),
    processes: bounded(processes, 260),
    kinds,
    cgroups: { version: 2 as const, groups: bounded(groups, 140) },
    limits: { processes: L.processes, namespacesPerKind: L.namespacesPerKind, ipcObjects: L.ipcObjects, mqueues: L.mqueues, interfaces: L.interfaces, addresses: L.addresses, cgroups: L.cgroups, mounts: L.mounts, contentItems: L.contentItems },
  };
  return nsmapSnapshotSchema.parse(snap);
}

export async function bundle(): Promise<{ js: string; css: string }> {
  const entry = `
    import { snapshotModel } from './web/nsmap/adapt.ts';
    import { keysOf } from './web/nsmap/model.ts';
    import { renderMap } from './web/nsmap/render.ts';
    import { renderTable } from './web/nsmap/table.ts';
    import './web/nsmap/panel.ts';
    window.nsmapBench = { snapshotModel, keysOf, renderMap, renderTable };`;
  const out = await build({ stdin: { contents: entry, resolveDir: ROOT, loader: 'ts' }, bundle: true, write: false, format: 'iife', outdir: '/nsmap-bench', logLevel: 'warning' });
  const js = out.outputFiles.find((f) => f.path.endsWith('.js'))!.text;
  const css = out.outputFiles.filter((f) => f.path.endsWith('.css')).map((f) => f.text).join('\n');
  return { js, css: readFileSync(join(ROOT, 'web/styles.css'), 'utf8') + '\n' + css };
}

interface Sample { model: number; build: number; layout: number; elements: number }

async function main(): Promise<void> {
  const first = bigSnapshot(1);
  const second = bigSnapshot(2);
  const bytes = JSON.stringify(first).length;
  const { js, css } = await bundle();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const rows: (string | number)[][] = [];
  try {
    for (const theme of ['light'] as const) {
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // a real origin (the app's modules use localStorage, which an about:blank page has not)
      await page.route('http://nsmap.bench/', (r) => r.fulfill({ contentType: 'text/html', body: `<!doctype html><html data-theme="${theme}"><head><style>${css}</style></head><body><div class="nsmap" style="height:900px;width:560px"><div class="nsmap-body" id="host"></div></div></body></html>` }));
      await page.goto('http://nsmap.bench/');
      await page.addScriptTag({ content: js });
      if (errors.length) throw new Error(`the bundle failed in the page: ${errors.join('; ')}`);
      for (const kind of NSMAP_KINDS) {
        for (const view of ['drawing', 'table'] as const) {
          const samples = await page.evaluate(({ a, b, kind, view, runs }) => {
            const B = (window as unknown as { nsmapBench: any }).nsmapBench;
            const host = document.getElementById('host')!;
            const out: { model: number; build: number; layout: number; elements: number }[] = [];
            let prev: Set<string> | null = null;
            for (let i = 0; i < runs; i++) {
              // alternate two snapshots, as a live map does: the second has changed ids, so highlighting works too
              const snap = i % 2 ? b : a;
              const t0 = performance.now();
              const model = B.snapshotModel(snap, kind);
              const t1 = performance.now();
              const el = view === 'table' ? B.renderTable(model) : B.renderMap(model, prev).el;
              prev = B.keysOf(model);
              host.replaceChildren(el);
              const t2 = performance.now();
              void host.offsetHeight;
              const t3 = performance.now();
              out.push({ model: t1 - t0, build: t2 - t1, layout: t3 - t2, elements: host.getElementsByTagName('*').length });
            }
            return out;
          }, { a: first, b: second, kind, view, runs: RUNS }) as Sample[];
          // the first draws warm the JIT: report the steady state a live map is in
          const steady = samples.slice(Math.min(5, Math.floor(samples.length / 3)));
          const total = steady.map((s) => s.model + s.build + s.layout);
          rows.push([kind, view, steady[0]!.elements, pct(steady.map((s) => s.model), 50), pct(steady.map((s) => s.build), 50), pct(steady.map((s) => s.layout), 50), pct(total, 50), pct(total, 95), Math.max(...total)]);
        }
      }
      await page.close();
    }
  } finally {
    await browser.close();
  }
  const head = `Namespace map drawing in Chromium (${RUNS} draws per row, warm-up dropped), biggest snapshot the server sends: ` +
    `${NSMAP_LIMITS.processes} processes, ${NSMAP_LIMITS.namespacesPerKind} namespaces per kind, ${NSMAP_LIMITS.cgroups} cgroups; ${Math.round(bytes / 1024)} KiB of JSON. Times in ms; a frame at 60 Hz is 16.7 ms. ` +
    `${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)} at the end (others' work shares the machine: p95 and max suffer first).`;
  const body = `${head}\n\n${table(['kind', 'view', 'elements', 'model p50', 'build p50', 'layout p50', 'total p50', 'total p95', 'total max'], rows)}`;
  console.log(body);
  if (process.argv.includes('--write-docs')) writeSection('namespace map rendering', body);
}

// the snapshot maker is shared (a screenshot script, tests); the bench runs when this file is run
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
