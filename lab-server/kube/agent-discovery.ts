/**
 * Which node agent serves a pod (docs/kubernetes.md, "A front on Kubernetes"): the
 * agent listens on its own pod address (no host network, no host port, so the
 * NetworkPolicy agent-from-fronts applies), so a front lists the agent pods of the
 * install (label app.kubernetes.io/component=agent) and takes the running one on
 * the sandbox pod's node: https://POD_IP:PORT. The list is kept briefly: a class
 * rush asks for the same few nodes hundreds of times a minute.
 */
import { z } from 'zod';
import type { KubeApi } from './api-client.ts';
import type { Pod } from './pod-watch.ts';

export const AGENT_SELECTOR = 'app.kubernetes.io/component=agent';

const agentPodList = z.object({
  items: z.array(z.object({
    metadata: z.object({ name: z.string(), deletionTimestamp: z.string().optional() }).passthrough(),
    spec: z.object({ nodeName: z.string().optional() }).passthrough().optional(),
    status: z.object({ phase: z.string().optional(), podIP: z.string().optional() }).passthrough().optional(),
  }).passthrough()),
}).passthrough();

export interface AgentDiscoveryOptions {
  api: KubeApi;
  /** the install's namespace, where the agents' DaemonSet runs */
  namespace: string;
  port: number;
  /** how long one list answers for (default 10 s) */
  ttlMs?: number;
}

export function agentUrlsFromPods(opts: AgentDiscoveryOptions): (pod: Pod) => Promise<string> {
  const ttl = opts.ttlMs ?? 10_000;
  let byNode = new Map<string, string>();
  let listedAt = -Infinity;
  let listing: Promise<void> | null = null;
  const list = () => {
    listing ??= (async () => {
      const path = `/api/v1/namespaces/${encodeURIComponent(opts.namespace)}/pods?labelSelector=${encodeURIComponent(AGENT_SELECTOR)}`;
      const items = agentPodList.parse(await opts.api.call('GET', path)).items;
      const next = new Map<string, string>();
      for (const p of items) {
        const node = p.spec?.nodeName;
        const ip = p.status?.podIP;
        if (!node || !ip || p.status?.phase !== 'Running' || p.metadata.deletionTimestamp) continue;
        next.set(node, `https://${ip.includes(':') ? `[${ip}]` : ip}:${opts.port}`);
      }
      byNode = next;
      listedAt = Date.now();
    })().finally(() => { listing = null; });
    return listing;
  };
  return async (pod) => {
    const node = pod.spec?.nodeName;
    if (!node) throw new Error(`pod ${pod.metadata.name} is on no node yet`);
    const fresh = Date.now() - listedAt < ttl;
    if (!fresh || (!byNode.has(node) && Date.now() - listedAt > 1000)) await list();
    const url = byNode.get(node);
    if (!url) throw new Error(`no node agent runs on node ${node} (pods ${AGENT_SELECTOR} in namespace ${opts.namespace}): is the DaemonSet nslab-agent scheduled there?`);
    return url;
  };
}
