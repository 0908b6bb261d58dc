/**
 * The README's two commands on a fresh machine: `npm test` must bring what its
 * browser tests launch (Debian's chromium, test/browser.ts) and the PostgreSQL the
 * store tests start (test/classroom/postgres.ts) by itself, not only when CI's
 * .ci/run asked for it first; `npm start` needs neither.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const scripts = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;

/** the Debian packages the set-up step of an npm script ensures */
function packagesOf(script: string): string[] {
  const m = /bash scripts\/setup\.sh((?: --[a-z-]+)*)/.exec(scripts[script]);
  if (!m) throw new Error(`npm ${script} does not run scripts/setup.sh: ${scripts[script]}`);
  const args = m[1].trim().split(/\s+/).filter(Boolean);
  return execFileSync('bash', ['scripts/setup.sh', ...args, '--list-packages'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n');
}

describe('the README commands set up what they use', () => {
  it('npm test installs the chromium the browser tests launch; npm start does not need it', () => {
    expect(readFileSync(path.join(ROOT, 'test/browser.ts'), 'utf8')).toContain("executablePath: '/usr/bin/chromium'");
    expect(packagesOf('test')).toContain('chromium');
    expect(packagesOf('start')).not.toContain('chromium');
    expect(packagesOf('start')).toContain('crun');
  });

  it('npm test installs the postgresql the store tests start; npm start keeps to SQLite', () => {
    expect(readFileSync(path.join(ROOT, 'test/classroom/postgres.ts'), 'utf8')).toContain("'/usr/lib/postgresql'");
    expect(packagesOf('test')).toContain('postgresql');
    expect(packagesOf('start')).not.toContain('postgresql');
  });
});
