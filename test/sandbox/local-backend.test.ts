/**
 * The local crun back end against the SandboxBackend contract (backend-conformance.ts):
 * cold sandboxes, and sandboxes handed out by the warm pool, which is what the lab
 * server gives its learners.
 */
import { afterAll } from 'vitest';
import { createSandboxBackend, type LocalBackend } from '../../lab-server/sandbox/index.ts';
import type { Sandbox } from '../../lab-server/sandbox/types.ts';
import { sandboxBackendConformance } from './backend-conformance.ts';

const made: LocalBackend[] = [];

async function localBackend(poolSize: number): Promise<LocalBackend> {
  const backend = createSandboxBackend();
  made.push(backend);
  await backend.checkHost();
  await backend.images.ensureBuilt('default', (l) => console.log(l));
  if (poolSize) {
    backend.setPoolSize(poolSize);
    await backend.poolReady();
  }
  return backend;
}

/** its init killed from the host, as an OOM kill or a crash of the runtime would end it */
async function killInit(s: Sandbox): Promise<void> {
  const init = (await s.probe.processes()).find((p) => p.pid === 1);
  if (!init) throw new Error(`sandbox ${s.id} has no PID 1`);
  process.kill(init.hostPid, 'SIGKILL');
}

sandboxBackendConformance('local crun, cold', { make: () => localBackend(0), crash: killInit });
sandboxBackendConformance('local crun, warm pool', { make: () => localBackend(2), crash: killInit });

afterAll(async () => {
  for (const b of made) {
    b.setPoolSize(0);
    await b.destroyAll();
  }
});
