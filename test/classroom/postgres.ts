/**
 * A real, throwaway PostgreSQL server for the tests: Debian's postgresql package
 * (scripts/setup.sh --with-postgres installs it), a cluster made with initdb in a
 * temp dir, listening only on a unix socket in that dir, stopped and removed after.
 * As root (the test suites run as root), the cluster belongs to the `postgres` user:
 * PostgreSQL refuses to run as root.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface TestPostgres {
  /** the socket directory (also the cluster's home) */
  dir: string;
  /** a URL for `database` on this server, as NSLAB_DATABASE_URL takes it */
  url(database: string): string;
  /** a new empty database; returns its URL */
  createDatabase(): Promise<string>;
  /** drops it; fails if a connection to it is still open */
  dropDatabase(url: string): Promise<void>;
  stop(): Promise<void>;
}

/** /usr/lib/postgresql/<newest>/bin, where Debian keeps initdb and pg_ctl (not on PATH) */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v) && existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  if (!versions.length) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/setup.sh --with-postgres, or apt-get install -y postgresql');
  return path.join(root, versions.sort((a, b) => Number(b) - Number(a))[0], 'bin');
}

/** uid and gid of the postgres user, from /etc/passwd (the package creates it) */
function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user in /etc/passwd: is Debian\'s postgresql package installed?');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

let counter = 0;

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  // short: a unix socket path must fit in 107 bytes
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nslab-pg-'));
  chmodSync(dir, 0o755);
  const asUser: { uid?: number; gid?: number } = process.getuid?.() === 0 ? postgresUser() : {};
  if (asUser.uid !== undefined) chownSync(dir, asUser.uid, asUser.gid!);
  const data = path.join(dir, 'data');
  const opts = { ...asUser, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' } };
  await run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync'], opts);
  // a test server: no TCP, no durability (a crash of a test loses a test); the socket in our dir
  const serverOpts = `-k ${dir} -c listen_addresses= -c unix_socket_permissions=0777 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const stopNow = () => spawnSync(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'], { ...opts, stdio: 'ignore' });
  // a test run that dies must not leave a server behind
  const onExit = () => { stopNow(); rmSync(dir, { recursive: true, force: true }); };
  process.once('exit', onExit);
  try {
    await run(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', '-o', serverOpts, 'start'], opts);
  } catch (err) {
    const log = existsSync(path.join(dir, 'server.log')) ? readFileSync(path.join(dir, 'server.log'), 'utf8') : '';
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`);
  }
  const url = (database: string) => `postgresql://postgres@/${database}?host=${encodeURIComponent(dir)}`;
  const admin = new pg.Pool({ connectionString: url('postgres'), max: 2 });
  // pg-pool's end() resolves once it has asked its idle connections to close, not when
  // they are closed: the server's fast stop right after can reach one first, and its
  // "terminating connection due to administrator command" then comes as a pool error.
  // Without a listener that error is an uncaught exception, which fails the whole run
  // (vitest exits 1 with every test passed).
  let stopping = false;
  admin.on('error', (err) => {
    if (!stopping) console.warn(`test PostgreSQL: an idle admin connection failed: ${err.message}`);
  });
  return {
    dir,
    url,
    async createDatabase() {
      const name = `nslab_test_${process.pid}_${++counter}`;
      await admin.query(`CREATE DATABASE ${name}`);
      return url(name);
    },
    async dropDatabase(u) {
      const name = /^postgresql:\/\/[^/]*\/([^?]+)/.exec(u)?.[1] ?? '';
      // a closed store's connections say goodbye asynchronously: give them a moment to go.
      // No FORCE: a store that leaks a connection fails the test here ("is being accessed by other users")
      for (let i = 0; i < 100; i++) {
        const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
        if (rows[0].n === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)}`);
    },
    async stop() {
      stopping = true;
      await admin.end();
      await run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], opts).catch(() => stopNow());
      process.off('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
