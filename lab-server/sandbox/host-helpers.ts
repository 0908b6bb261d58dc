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

export function ensureHelper(dataDir: string, name: HelperName): string {
  const source = join(import.meta.dirname, 'helpers', `${name}.c`);
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const dir = join(dataDir, 'bin');
  const bin = join(dir, `${name}-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    execFileSync('gcc', ['-O2', '-Wall', '-o', tmp, source], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new HostError(`cannot build the host helper ${name}: ${(err as Error).message}`, 'apt-get install -y gcc libc6-dev   (or run scripts/setup.sh)');
  }
  renameSync(tmp, bin);
  return bin;
}
