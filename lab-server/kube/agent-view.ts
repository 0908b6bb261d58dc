/**
 * The node agent as the Kubernetes back end's view of a pod (docs/kubernetes.md,
 * "The back end", "What checks see"): every probe call one fixed operation on the
 * agent of the pod's node over mutual TLS (AgentProbe), the command log that agent's
 * stream (AgentCommandFeed). One AgentClient (one keep-alive pool) per agent URL,
 * shared by every pod on that node.
 */
import type { Probe } from '../sandbox/types.ts';
import { AgentClient, AgentCommandFeed, AgentProbe, AgentRequestError, type AgentClientTls } from './agent-probe.ts';
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
    let url = await opts.agentUrlFor(pod);
    let current = new AgentProbe(clientFor(url), uid);
    // the agent must see the pod before a learner is given it: a sandbox whose checks
    // cannot read it is of no use (the back end deletes the pod when this throws)
    await current.rootNamespaces();
    const feed = new AgentCommandFeed(current);
    /**
     * A call the agent never answered (not an AgentRequestError: its pod is gone, or
     * it restarted with a new pod address) asks where the node's agent is now and,
     * if that is elsewhere, is made there once more.
     */
    const follow = async <T>(call: (p: AgentProbe) => Promise<T>): Promise<T> => {
      try {
        return await call(current);
      } catch (e) {
        if (e instanceof AgentRequestError) throw e;
        const now = await opts.agentUrlFor(pod);
        if (now === url) throw e;
        url = now;
        current = new AgentProbe(clientFor(now), uid);
        return call(current);
      }
    };
    const probe: Probe = {
      processes: () => follow((p) => p.processes()),
      rootNamespaces: () => follow((p) => p.rootNamespaces()),
      readFile: (pid, path) => follow((p) => p.readFile(pid, path)),
      sysvipc: (pid) => follow((p) => p.sysvipc(pid)),
      mqueue: (pid) => follow((p) => p.mqueue(pid)),
      sysctl: (pid, name) => follow((p) => p.sysctl(pid, name)),
      hostname: (pid) => follow((p) => p.hostname(pid)),
      mounts: (pid) => follow((p) => p.mounts(pid)),
      mountsBounded: (pid, max) => follow((p) => p.mountsBounded(pid, max)),
      cgroups: () => follow((p) => p.cgroups()),
      namespaceInfo: (requests, max) => follow((p) => p.namespaceInfo(requests, max)),
      net: (pid, pinned) => follow((p) => p.net(pid, pinned)),
      userNamespace: (pid) => follow((p) => p.userNamespace(pid)),
      namespaceOwners: (pid) => follow((p) => p.namespaceOwners(pid)),
      capabilities: (pid) => follow((p) => p.capabilities(pid)),
      timeOffsets: (pid) => follow((p) => p.timeOffsets(pid)),
    };
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
