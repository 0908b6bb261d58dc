/**
 * The Kubernetes back end against the SandboxBackend contract (backend-conformance.ts),
 * on the in-process API server (apiserver/server.ts) whose pods are real local
 * sandboxes: pods made, watched and deleted through HTTP, every terminal and command
 * over pods/exec v5. The probe and command log are the local sandbox's own
 * (apiserver/harness.ts, localView) until the node agent's client replaces them.
 */
import { afterAll, beforeAll } from 'vitest';
import type { KubeBackend } from '../../lab-server/kube/kube-backend.ts';
import type { KubeSandbox } from '../../lab-server/kube/kube-sandbox.ts';
import type { Sandbox } from '../../lab-server/sandbox/types.ts';
import { sandboxBackendConformance } from '../sandbox/backend-conformance.ts';
import { kubeBackend, startApiServer } from './apiserver/harness.ts';
import type { FakeApiServer } from './apiserver/server.ts';

let server: FakeApiServer;
const made: KubeBackend[] = [];

beforeAll(async () => { server = await startApiServer(); });
afterAll(async () => {
  for (const b of made) { await b.destroyAll(); await b.close(); }
  await server?.close();
});

sandboxBackendConformance('kubernetes (in-process API server, local sandboxes behind the pods)', {
  async make() {
    // the fronts' shared session store, as far as this test's fronts go: a sandbox one of them holds is alive
    const b = kubeBackend(server, { sessionAlive: (id) => made.some((m) => m.list().some((s) => s.id === id)) });
    made.push(b);
    return b;
  },
  crash: (s: Sandbox) => server.killSandbox((s as KubeSandbox).podName),
});
