/**
 * The Kubernetes back end as it runs in a cluster: https to the API server, its
 * certificate checked against the cluster's CA, and the ServiceAccount token read
 * from the files the kubelet mounts (and read again when it rotates), for the
 * calls and for exec's WebSocket (wss).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inClusterConnection, urlConnection } from '../../lab-server/kube/api-client.ts';
import type { KubeBackend } from '../../lab-server/kube/kube-backend.ts';
import { HostError } from '../../lab-server/sandbox/types.ts';
import { kubeBackend, startApiServer, TOKEN } from './apiserver/harness.ts';
import type { FakeApiServer } from './apiserver/server.ts';

let dir: string;
let server: FakeApiServer;
const made: KubeBackend[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'nslab-kube-tls-'));
  // a self-signed certificate for 127.0.0.1: the "cluster's CA" is the certificate itself
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'ca.crt')], { stdio: 'ignore' });
  server = await startApiServer({ tls: { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'ca.crt'), 'utf8') } });
  writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`);
});
afterAll(async () => {
  for (const b of made) { await b.destroyAll(); await b.close(); }
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(server.url).port });

describe('in the cluster', () => {
  it('the mounted token and CA: pods made, exec over wss, the rotated token read again', async () => {
    const b = kubeBackend(server, { connection: inClusterConnection(dir, env(), 0) });
    made.push(b);
    await b.checkHost();
    const s = await b.create();
    expect(await s.exec(['sh', '-c', 'echo over-tls; exit 4'])).toEqual({ code: 4, stdout: 'over-tls\n', stderr: '' });
    await s.destroy();
    writeFileSync(path.join(dir, 'token'), 'a-revoked-token\n');
    await expect(b.checkHost()).rejects.toThrow(/401 Unauthorized/);
    writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`);
    await b.checkHost();
  });

  it('an API server whose certificate the CA did not sign is refused, with a fix', async () => {
    const b = kubeBackend(server, { connection: urlConnection(server.url, TOKEN) });
    made.push(b);
    const err = await b.checkHost().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostError);
    expect((err as Error).message).toMatch(/cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:\d+: .*(self.signed|certificate)/i);
  });

  it('outside a pod there is no in-cluster connection, and it says so', () => {
    expect(() => inClusterConnection(dir, {})).toThrow(/KUBERNETES_SERVICE_HOST is not set/);
    expect(inClusterConnection(dir, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }).apiUrl).toBe('https://[fd00::1]:6443');
  });
});
