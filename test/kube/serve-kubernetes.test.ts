/**
 * `nslab serve` with NSLAB_BACKEND=kubernetes, as its own process: it takes the
 * Kubernetes back end from the settings (an API URL and a token file, the agents'
 * client certificate from a directory laid out like the mounted Secret, the agents'
 * port), says at start that it builds no image, keeps no warm pool and tunes no host,
 * finds the node agent by its pod, and serves a learner whose sandbox is a pod.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, LabClient, until, type TestServer } from '../server/client.ts';
import { startAgentCluster, type AgentCluster } from './agent-cluster.ts';
import { TOKEN } from './apiserver/harness.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
let c: AgentCluster;
let dir: string;
let child: ChildProcess | null = null;
let out = '';

beforeAll(async () => {
  c = await startAgentCluster({ discover: true });
  dir = mkdtempSync(path.join(tmpdir(), 'nslab-kube-serve-'));
  writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`);
  writeFileSync(path.join(dir, 'tls.crt'), c.tls.client.cert);
  writeFileSync(path.join(dir, 'tls.key'), c.tls.client.key);
  writeFileSync(path.join(dir, 'ca.crt'), c.tls.client.ca);
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await c?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('nslab serve on Kubernetes', () => {
  it('serves a session whose sandbox is a pod, checked through the node agent, and removes the pod when it stops', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'lab-server/cli.ts'), 'serve', '--port', '0'], {
      cwd: ROOT,
      env: {
        ...process.env,
        NSLAB_BACKEND: 'kubernetes',
        NSLAB_KUBE_API_URL: c.server.url,
        NSLAB_KUBE_TOKEN_FILE: path.join(dir, 'token'),
        NSLAB_AGENT_TLS_DIR: dir,
        NSLAB_AGENT_PORT: String(c.agent.port),
        NSLAB_DATA: dir,
        NSLAB_CLASSROOM_DB: path.join(dir, 'classroom.db'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const listening = await until(() => /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(out) ?? (child!.exitCode !== null && 'exited'), 'the front to listen', () => out);
    if (listening === 'exited') throw new Error(`nslab serve exited with ${child.exitCode}:\n${out}`);
    const port = Number(listening[1]);
    expect(port).toBeGreaterThan(0);
    expect(out).toMatch(/sandboxes are pods in namespace nslab-sandboxes of the Kubernetes API at http:\/\/127\.0\.0\.1:\d+; checks through the node agents .*no image build, no warm pool, no host tuning/);
    expect(out).not.toMatch(/building|kept warm|raised/i);

    const srv = { base: `http://127.0.0.1:${port}`, wsBase: `ws://127.0.0.1:${port}` } as TestServer;
    const s = await createSession(srv, 'sample-hostname');
    const pods = () => c.server.podNames().filter((n) => n.startsWith('nslab-sbx-'));
    expect(pods()).toHaveLength(1);
    const cl = await LabClient.connect(srv, s);
    try {
      await cl.open(1);
      await cl.run(1, 'readlink /proc/$$/ns/uts');
      await cl.waitEvent('steps', (e) => e.steps.find((x) => x.id === 'look')?.status === 'pass');
    } finally {
      cl.close();
    }
    expect(c.agent.served.get('commands') ?? 0).toBeGreaterThan(0);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // the session's sandbox went with the front: no pod left behind
    await until(() => pods().length === 0, 'the pod to be deleted', () => c.server.podNames().join(', '));
  });
});
