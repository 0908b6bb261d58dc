/**
 * A front's Kubernetes side with nothing stood in: the in-process API server (its
 * pods real local sandboxes), a real node agent (`startAgent`) over mutual TLS whose
 * locator finds each pod's sandbox by the pod's UID, as the real one finds a pod's
 * cgroup on its node, and a KubeBackend whose view of every pod is the agent's
 * (`agentViewFor`). The only thing the tests give by hand is the pod-to-sandbox
 * lookup: the real CgroupPodLocator cannot see these sandboxes as kubelet trees.
 */
import { KubeApi, urlConnection } from '../../lab-server/kube/api-client.ts';
import { agentUrlsFromPods } from '../../lab-server/kube/agent-discovery.ts';
import type { Pod } from '../../lab-server/kube/pod-watch.ts';
import { startAgent, type RunningAgent } from '../../lab-server/kube/agent-server.ts';
import { agentViewFor, type AgentViewFor } from '../../lab-server/kube/agent-view.ts';
import type { KubeBackend } from '../../lab-server/kube/kube-backend.ts';
import type { PodLocator, PodSandbox } from '../../lab-server/kube/pod-locator.ts';
import { testBackend } from '../sandbox/helpers.ts';
import { makeTestTls, podSandboxOf, type TestTls } from './agent-fixtures.ts';
import { kubeBackend, startApiServer, TOKEN, VALUES } from './apiserver/harness.ts';
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
  /** the probe helper the agents run (to start another agent) */
  helperBin: string;
  views: AgentViewFor;
  backend: KubeBackend;
  close(): Promise<void>;
}

/**
 * `discover`: the front finds the agent as on a cluster (agent-discovery.ts), from
 * agent pods listed in the install's namespace: this one on the sandboxes' node
 * (node-1, at 127.0.0.1), another on a node with no sandboxes, and a Pending one.
 * Otherwise the agent's URL is given.
 */
export async function startAgentCluster(opts: { discover?: boolean } = {}): Promise<AgentCluster> {
  const local = await testBackend();
  const server = await startApiServer({ backend: local });
  const tls = makeTestTls();
  const locator = new ApiServerPodLocator(server);
  const agent = await startAgent({ port: 0, host: '127.0.0.1', tls: tls.server, locator, helperBin: local.probeHelper });
  let agentUrlFor: (pod: Pod) => string | Promise<string> = () => agent.url;
  if (opts.discover) {
    const labels = { 'app.kubernetes.io/name': 'nslab', 'app.kubernetes.io/component': 'agent' };
    server.addRunningPod(VALUES.namespace, 'nslab-agent-pending', labels, 'node-1', '127.0.0.9', 'Pending');
    server.addRunningPod(VALUES.namespace, 'nslab-agent-a', labels, 'node-1', '127.0.0.1');
    server.addRunningPod(VALUES.namespace, 'nslab-agent-b', labels, 'node-2', '127.0.0.2');
    agentUrlFor = agentUrlsFromPods({ api: new KubeApi(urlConnection(server.url, TOKEN)), namespace: VALUES.namespace, port: agent.port });
  }
  const views = agentViewFor({ tls: tls.client, agentUrlFor });
  const backend = kubeBackend(server, { viewFor: views });
  await backend.checkHost();
  return {
    server, agent, locator, tls, views, backend, helperBin: local.probeHelper,
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
