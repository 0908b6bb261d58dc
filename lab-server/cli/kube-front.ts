/**
 * The back end of a front on Kubernetes (NSLAB_BACKEND=kubernetes; docs/kubernetes.md,
 * "A front on Kubernetes"): sandboxes are pods made through the API server, checks
 * read through the node agent of each pod's node over mutual TLS. Nothing of the
 * local back end runs here: no image build (the sandbox image is pulled by the
 * nodes), no warm pool (placeholder pods hold room for a rush), no host tuning (the
 * front's host runs no sandbox).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inClusterConnection, KubeApi, tokenFileConnection, type KubeConnection } from '../kube/api-client.ts';
import { agentUrlsFromPods } from '../kube/agent-discovery.ts';
import { agentViewFor } from '../kube/agent-view.ts';
import { KubeBackend } from '../kube/kube-backend.ts';
import { resolveValues } from '../kube/values.ts';
import { DEFAULTS, type Settings } from '../config/settings.ts';
import { HostError } from '../sandbox/types.ts';

export interface KubeFront {
  backend: KubeBackend;
  /** the start-up line: where sandboxes go, and what this front does not do */
  describe: string;
  close(): Promise<void>;
}

function connectionFrom(settings: Settings): KubeConnection {
  if (settings.NSLAB_KUBE_API_URL) {
    if (!settings.NSLAB_KUBE_TOKEN_FILE) throw new HostError('NSLAB_KUBE_API_URL is set but NSLAB_KUBE_TOKEN_FILE is not', 'give a file holding a token of the ServiceAccount nslab-front (kubectl -n nslab-sandboxes create token nslab-front > FILE)');
    return tokenFileConnection(settings.NSLAB_KUBE_API_URL, settings.NSLAB_KUBE_TOKEN_FILE, settings.NSLAB_KUBE_CA_FILE);
  }
  try {
    return inClusterConnection();
  } catch (e) {
    throw new HostError(`NSLAB_BACKEND=kubernetes: ${(e as Error).message}`, 'run the front in the cluster (deploy/kubernetes/nslab.yaml), or set NSLAB_KUBE_API_URL and NSLAB_KUBE_TOKEN_FILE');
  }
}

function agentTls(dir: string) {
  try {
    const read = (f: string) => readFileSync(join(dir, f));
    return { cert: read('tls.crt'), key: read('tls.key'), ca: read('ca.crt') };
  } catch (e) {
    throw new HostError(`cannot read the front's certificate for the node agents in ${dir}: ${(e as Error).message}`,
      'mount the Secret nslab-front-tls (tls.crt, tls.key, ca.crt) there, or set NSLAB_AGENT_TLS_DIR');
  }
}

export function kubeFront(settings: Settings, log: (line: string) => void): KubeFront {
  const connection = connectionFrom(settings);
  const values = resolveValues({
    ...(settings.NSLAB_KUBE_NAMESPACE ? { sandboxNamespace: settings.NSLAB_KUBE_NAMESPACE } : {}),
    ...(settings.NSLAB_AGENT_NAMESPACE ? { namespace: settings.NSLAB_AGENT_NAMESPACE } : {}),
    ...(settings.NSLAB_AGENT_PORT ? { agent: { port: settings.NSLAB_AGENT_PORT } } : {}),
  });
  const tlsDir = settings.NSLAB_AGENT_TLS_DIR ?? DEFAULTS.agentTlsDir;
  const views = agentViewFor({
    tls: agentTls(tlsDir),
    agentUrlFor: agentUrlsFromPods({ api: new KubeApi(connection), namespace: values.namespace, port: values.agent.port }),
  });
  const backend = new KubeBackend({ connection, values, viewFor: views, log });
  return {
    backend,
    describe: `sandboxes are pods in namespace ${values.sandboxNamespace} of the Kubernetes API at ${connection.apiUrl}; checks through the node agents (namespace ${values.namespace}, port ${values.agent.port}, client certificate from ${tlsDir}); on this front: no image build, no warm pool, no host tuning`,
    close: async () => {
      await backend.close();
      views.close();
    },
  };
}
