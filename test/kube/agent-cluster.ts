/**
 * A front's Kubernetes side with nothing stood in: the in-process API server (its
 * pods real local sandboxes), a real node agent (`startAgent`) over mutual TLS whose
 * locator finds each pod's sandbox by the pod's UID, as the real one finds a pod's
 * cgroup on its node, and a KubeBackend whose view of every pod is the agent's
 * (`agentViewFor`). The only thing the tests give by hand is the pod-to-sandbox
 * lookup: the real CgroupPodLocator cannot see these sandboxes as kubelet trees.
 */
import { startAgent, type RunningAgent } from '../../lab-server/kube/agent-server.ts';
import { agentViewFor, type AgentViewFor } from '../../lab-server/kube/agent-view.ts';
import type { KubeBackend } from '../../lab-server/kube/kube-backend.ts';
import type { PodLocator, PodSandbox } from '../../lab-server/kube/pod-locator.ts';
import { testBackend } from '../sandbox/helpers.ts';
import { makeTestTls, podSandboxOf, type TestTls } from './agent-fixtures.ts';
import { kubeBackend, startApiServer } from './apiserver/harness.ts';
import type { FakeApiServer } from './apiserver/server.ts';

/** the agent's node, as the in-process API server: a pod UID names the sandbox behind that pod */
export class ApiServerPodLocator implements PodLocator {
  lookups = 0;
  constructor(private readonly server: FakeApiServer) {}

  locate(podUid: string): PodSandbox | null {
    this.lookups++;
    const s = this.server.sandboxOfUid(podUid);
    return s && s.state === 'running' ? podSandboxOf(podUid, s) : null;
  }
}

export interface AgentCluster {
  server: FakeApiServer;
  agent: RunningAgent;
  locator: ApiServerPodLocator;
  tls: TestTls;
  views: AgentViewFor;
  backend: KubeBackend;
  close(): Promise<void>;
}

export async function startAgentCluster(): Promise<AgentCluster> {
  const local = await testBackend();
  const server = await startApiServer({ backend: local });
  const tls = makeTestTls();
  const locator = new ApiServerPodLocator(server);
  const agent = await startAgent({ port: 0, host: '127.0.0.1', tls: tls.server, locator, helperBin: local.probeHelper });
  const views = agentViewFor({ tls: tls.client, agentUrlFor: () => agent.url });
  const backend = kubeBackend(server, { viewFor: views });
  await backend.checkHost();
  return {
    server, agent, locator, tls, views, backend,
    close: async () => {
      await backend.destroyAll();
      await backend.close();
      views.close();
      await agent.close();
      await server.close();
      tls.remove();
    },
  };
}
