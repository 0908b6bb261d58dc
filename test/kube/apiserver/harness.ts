/**
 * The Kubernetes back end on the in-process API server (server.ts), for tests.
 *
 * TEST-ONLY stand-in: `localView` gives a pod's SandboxView (probe, command log)
 * straight from the local sandbox behind it, so the back end's pod handling is
 * tested alone. On a cluster that view is the node agent's (`agentViewFor`); the
 * tests of the whole path take that one (test/kube/agent-cluster.ts).
 */
import { KubeBackend, type KubeBackendOptions } from '../../../lab-server/kube/kube-backend.ts';
import { urlConnection } from '../../../lab-server/kube/api-client.ts';
import type { SandboxView } from '../../../lab-server/kube/kube-sandbox.ts';
import type { Pod } from '../../../lab-server/kube/pod-watch.ts';
import { resolveValues } from '../../../lab-server/kube/values.ts';
import { testBackend } from '../../sandbox/helpers.ts';
import { FakeApiServer, type FakeApiServerOptions } from './server.ts';

export const TOKEN = 'test-token-of-nslab-front';
export const VALUES = resolveValues({});

export async function startApiServer(opts: Partial<FakeApiServerOptions> = {}): Promise<FakeApiServer> {
  const server = new FakeApiServer({ backend: await testBackend(), token: TOKEN, image: VALUES.images.sandbox, ...opts });
  await server.listen();
  return server;
}

/** the local sandbox's own probe and command log, in place of the node agent's (see above) */
export function localView(server: FakeApiServer): (pod: Pod) => SandboxView {
  return (pod) => {
    const s = server.sandboxOf(pod.metadata.name);
    return { probe: s.probe, commands: () => s.commands(), onCommand: (l) => s.onCommand(l), onActivity: (l) => s.onActivity(l), cpuTime: () => s.cpuTime() };
  };
}

export function kubeBackend(server: FakeApiServer, extra: Partial<KubeBackendOptions> = {}): KubeBackend {
  return new KubeBackend({
    connection: urlConnection(server.url, TOKEN),
    values: VALUES,
    install: 'kube-test',
    viewFor: localView(server),
    log: () => {},
    ...extra,
  });
}
