/**
 * `nslab agent` as the DaemonSet runs it: the real bin/nslab, TLS material read from a
 * directory laid out like the mounted Secret (tls.crt, tls.key, ca.crt), answering a
 * front over mutual TLS, stopping cleanly on SIGTERM; wrong arguments are usage errors.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../lab-server/kube/agent-probe.ts';
import { parseAgentArgs } from '../../lab-server/cli/agent.ts';
import { makeTestTls } from './agent-fixtures.ts';

const NSLAB = path.resolve(import.meta.dirname, '../../bin/nslab');
const tls = makeTestTls();
const dir = mkdtempSync(path.join(tmpdir(), 'nslab-agent-cli-'));
afterAll(() => { tls.remove(); rmSync(dir, { recursive: true, force: true }); });

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('nslab agent', () => {
  it('serves the fronts over mutual TLS with the Secret\'s files, and stops on SIGTERM', async () => {
    const tlsDir = path.join(dir, 'tls');
    mkdirSync(tlsDir);
    writeFileSync(path.join(tlsDir, 'tls.crt'), tls.server.cert);
    writeFileSync(path.join(tlsDir, 'tls.key'), tls.server.key);
    writeFileSync(path.join(tlsDir, 'ca.crt'), tls.server.ca);
    const cgroupRoot = path.join(dir, 'cgroup');
    mkdirSync(cgroupRoot);
    const port = await freePort();
    const child = spawn(NSLAB, ['agent', '--port', String(port), '--host', '127.0.0.1', '--tls-dir', tlsDir, '--cgroup-root', cgroupRoot], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 600 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain(`listening on 127.0.0.1:${port}`);
      const client = new AgentClient(`https://127.0.0.1:${port}`, tls.client);
      const uid = randomUUID();
      await expect(client.call(uid, 'processes', {})).rejects.toThrow(`no sandbox pod ${uid} runs on this node`);
      client.close();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('says what is wrong with its arguments', () => {
    expect(parseAgentArgs([])).toBe('--port is required');
    expect(parseAgentArgs(['--port', 'x'])).toMatch(/--port must be a port number/);
    expect(parseAgentArgs(['--exec', 'id'])).toBe('unknown argument --exec');
    expect(parseAgentArgs(['--port', '9443'])).toEqual({ port: 9443, host: '0.0.0.0', tlsDir: '/etc/nslab/tls', cgroupRoot: '/sys/fs/cgroup' });
    const r = spawnSync(NSLAB, ['agent', '--port', '9443', '--tls-dir', path.join(dir, 'none')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read the TLS material/);
  });
});
