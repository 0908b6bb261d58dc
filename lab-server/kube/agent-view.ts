/**
 * The node agent as the Kubernetes back end's view of a pod (docs/kubernetes.md,
 * "The back end", "What checks see"): every probe call one fixed operation on the
 * agent of the pod's node over mutual TLS (AgentProbe), the command log that agent's
 * stream (AgentCommandFeed). One AgentClient (one keep-alive pool) per agent URL,
 * shared by every pod on that node.
 */
import { AgentClient, AgentCommandFeed, AgentProbe, type AgentClientTls } from './agent-probe.ts';
import type { SandboxView } from './kube-sandbox.ts';
import type { Pod } from './pod-watch.ts';

export interface AgentViewOptions {
  /** the front's client certificate and key, and the CA of the agents' (agent-probe.ts) */
  tls: AgentClientTls;
  /** the https:// URL of the agent on the pod's node (agent-discovery.ts on a cluster) */
  agentUrlFor: (pod: Pod) => string | Promise<string>;
}

export type AgentViewFor = ((pod: Pod) => Promise<SandboxView>) & {
  /** ends every agent connection (the front shuts down) */
  close(): void;
};

export function agentViewFor(opts: AgentViewOptions): AgentViewFor {
  const clients = new Map<string, AgentClient>();
  const clientFor = (url: string) => {
    let c = clients.get(url);
    if (!c) clients.set(url, (c = new AgentClient(url, opts.tls)));
    return c;
  };
  const view = async (pod: Pod): Promise<SandboxView> => {
    const uid = pod.metadata.uid;
    if (!uid) throw new Error(`pod ${pod.metadata.name} has no UID`);
    const url = await opts.agentUrlFor(pod);
    const probe = new AgentProbe(clientFor(url), uid);
    // the agent must see the pod before a learner is given it: a sandbox whose checks
    // cannot read it is of no use (the back end deletes the pod when this throws)
    await probe.rootNamespaces();
    const feed = new AgentCommandFeed(probe);
    return {
      probe,
      commands: () => feed.all(),
      onCommand: (l) => feed.subscribe(l),
      close: () => feed.close(),
    };
  };
  return Object.assign(view, {
    close: () => {
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  });
}
