/** Small helpers shared by the benchmarks: percentiles, table printing, the runtime baseline, a first prompt. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalSandbox } from '../lab-server/sandbox/index.ts';
export function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(1)) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r: (string | number)[]) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(cells[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

export function memUsedBytes(): number {
  const m = Object.fromEntries(
    readFileSync('/proc/meminfo', 'utf8').split('\n').filter(Boolean).map((l: string) => {
      const [k, v] = l.split(':');
      return [k, Number(v.trim().split(' ')[0]) * 1024];
    }),
  ) as Record<string, number>;
  return m.MemTotal - m.MemAvailable;
}

/** replaces the "## <name>" section of docs/benchmarks.md, leaving the others alone */
export function writeSection(name: string, body: string): void {
  const file = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { text = '# Benchmarks\n\nTables printed by the scripts in bench/, latest run first. Each compares nslab with a baseline measured in the same run.\n'; }
  const section = `## ${name}\n\n\`\`\`\n${body}\n\`\`\`\n`;
  const re = new RegExp(`## ${name}\\n[\\s\\S]*?(?=\\n## |$)`);
  text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}`;
  writeFileSync(file, text);
}

/**
 * The runtime alone: `crun run` of a minimal bundle (the image read-only, proc and a
 * tmpfs /dev, the same namespaces; no limits, no seccomp, no cgroup work) running
 * `bash -c true`. On hybrid hosts crun must not see the cgroup2 at
 * /sys/fs/cgroup/unified, so it runs in a private mount namespace without it, as
 * nslab's own `crun run` does (lab-server/sandbox/crun.ts).
 */
export function crunBaseline(imageRoot: string): { run: () => number; cleanup: () => void } {
  const bundle = mkdtempSync('/run/nslab/bench-');
  mkdirSync(join(bundle, 'rootfs'));
  writeFileSync(join(bundle, 'config.json'), JSON.stringify({
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['/bin/bash', '-c', 'true'], env: ['PATH=/usr/bin:/bin'], cwd: '/' },
    root: { path: imageRoot, readonly: true },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs' }],
    linux: {
      uidMappings: [{ containerID: 0, hostID: 3_000_000_000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 3_000_000_000, size: 65536 }],
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network', 'user'].map((type) => ({ type })),
    },
  }));
  let i = 0;
  return {
    run: () => {
      const wrap = ['-c', 'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec crun --root /run/nslab/bench-crun run --bundle "$0" "$1"', bundle, `bench-${process.pid}-${i++}`];
      const t = performance.now();
      // pipes, never 'ignore': crun (before 1.24) fchowns the std streams it is given to the
      // container's root, and 'ignore' is the host's /dev/null (docs/security.md, known gap 7)
      const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', ...wrap], { stdio: 'pipe', input: '' });
      if (r.status !== 0) throw new Error(`crun run (baseline) failed: ${r.status}`);
      return performance.now() - t;
    },
    cleanup: () => rmSync(bundle, { recursive: true, force: true }),
  };
}

/**
 * Spawns terminal 1 and resolves when both its prompt bytes arrived and the command
 * log said 'ready' (performance.now() of each, and the terminal's host pid).
 */
export function firstPrompt(s: LocalSandbox, timeoutMs = 120_000): Promise<{ pid: number; promptBytesAt: number; readyAt: number }> {
  const term = s.spawnPty({ terminal: 1 });
  return new Promise((resolve, reject) => {
    let promptBytesAt = 0;
    let readyAt = 0;
    let bytes = '';
    const timer = setTimeout(() => reject(new Error(`sandbox ${s.id}: no prompt in ${timeoutMs} ms (prompt bytes ${promptBytesAt ? 'seen' : 'not seen'}, ready ${readyAt ? 'seen' : 'not seen'}; output so far ${JSON.stringify(bytes.slice(-300))})`)), timeoutMs);
    const check = () => {
      if (!promptBytesAt || !readyAt) return;
      clearTimeout(timer); off(); data.dispose();
      resolve({ pid: term.pid, promptBytesAt, readyAt });
    };
    // the whole output so far: a prompt's "# " may arrive split over two reads
    const data = term.onData((d) => { bytes += d; if (!promptBytesAt && bytes.includes('# ')) { promptBytesAt = performance.now(); check(); } });
    const off = s.onCommand((e) => { if (!readyAt && e.kind === 'ready' && e.terminal === 1) { readyAt = performance.now(); check(); } });
  });
}
