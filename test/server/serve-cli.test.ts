/**
 * `nslab serve` as an operator runs it: a child process, a real port, real
 * sandboxes; Ctrl-C / SIGTERM close the sessions and destroy their sandboxes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseServeArgs } from '../../lab-server/cli/serve.ts';
import { loadSettings } from '../../lab-server/config/settings.ts';
import { createSandboxBackend } from '../../lab-server/sandbox/index.ts';
import { until } from './client.ts';

const CLI = path.resolve(import.meta.dirname, '../../lab-server/cli.ts');

describe('nslab serve arguments', () => {
  it('takes --port/--host, env defaults, and refuses nonsense', () => {
    expect(parseServeArgs([], {})).toEqual({ port: 8080, host: '127.0.0.1' });
    expect(parseServeArgs([], loadSettings({ NSLAB_PORT: '9000', NSLAB_HOST: '0.0.0.0' }))).toEqual({ port: 9000, host: '0.0.0.0' });
    expect(parseServeArgs(['--port', '81', '--host=::1'], loadSettings({ NSLAB_PORT: '9000' }))).toEqual({ port: 81, host: '::1' });
    expect(parseServeArgs(['--port', 'http'], {})).toMatch(/port must be a number/);
    expect(parseServeArgs(['--port', '70000'], {})).toMatch(/port must be a number/);
    expect(parseServeArgs(['--port'], {})).toMatch(/--port needs a value/);
    expect(parseServeArgs(['--verbose'], {})).toMatch(/unknown argument --verbose/);
  });

  it('a usage error exits 2 with the usage', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', 'x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage: nslab serve/);
  });
});

describe('nslab serve', () => {
  it('serves, and SIGTERM destroys the sessions\' sandboxes and exits 0', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'nslab-serve-'));
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0'], {
      env: { ...process.env, NSLAB_HOST_TUNING: 'off', NSLAB_CLASSROOM_DB: path.join(data, 'classroom.db') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const base = await until(() => /listening on (http:\/\/\S+?)\/ /.exec(out)?.[1], 'the listening line', () => `stdout:\n${out}\nstderr:\n${err}`);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const created = await fetch(`${base}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lesson: 'sample-hostname' }) });
    expect(created.status).toBe(201);
    // the driver keeps one directory per live sandbox, with its owner's pid
    const { sandboxesDir } = createSandboxBackend();
    const owned = () => (existsSync(sandboxesDir) ? readdirSync(sandboxesDir) : []).filter((id) => {
      try { return JSON.parse(readFileSync(path.join(sandboxesDir, id, 'owner.json'), 'utf8')).pid === child.pid; } catch { return false; }
    });
    expect(owned().length).toBeGreaterThanOrEqual(1);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).toMatch(/SIGTERM: closing 1 session/);
    expect(err).toMatch(/stopped/);
    expect(owned()).toEqual([]);
  });
});
