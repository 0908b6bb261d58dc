/**
 * Builds (once per source version) the small host helpers in helpers/:
 * nslab-probe (the probe's long-lived reader), nslab-rootfs (the sandbox's writable root),
 * nslab-reaper (runs each crun process so that nothing it starts outlives it unreaped) and
 * nslab-userns (holds the sandbox's user namespace, owned by its host uid, until crun joins it).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { HostError } from './types.ts';

export type HelperName = 'nslab-probe' | 'nslab-rootfs' | 'nslab-reaper' | 'nslab-userns';

/**
 * Linked statically: the ones that stay resident, one or two per session. A static
 * nslab-reaper keeps 0.65 MiB resident instead of 1.2 MiB with libc mapped whole, and
 * its pages are shared by every copy (bench/session-memory.ts). Where the static libc
 * is missing they are linked as usual.
 */
const STATIC: readonly HelperName[] = ['nslab-reaper'];

export function ensureHelper(dataDir: string, name: HelperName): string {
  const source = join(import.meta.dirname, 'helpers', `${name}.c`);
  const flags = STATIC.includes(name) ? ['-static', '-no-pie'] : [];
  const hash = createHash('sha256').update(readFileSync(source)).update(flags.join(' ')).digest('hex').slice(0, 12);
  const dir = join(dataDir, 'bin');
  const bin = join(dir, `${name}-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    try {
      execFileSync('gcc', ['-O2', '-Wall', ...flags, '-o', tmp, source], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      if (!flags.length) throw err;
      execFileSync('gcc', ['-O2', '-Wall', '-o', tmp, source], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
  } catch (err) {
    throw new HostError(`cannot build the host helper ${name}: ${(err as Error).message}`, 'apt-get install -y gcc libc6-dev   (or run scripts/setup.sh)');
  }
  renameSync(tmp, bin);
  return bin;
}
