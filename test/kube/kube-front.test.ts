/**
 * A lab front on Kubernetes (docs/kubernetes.md, "A front on Kubernetes"): the HTTP
 * app (createApp) with the Kubernetes back end, whose sandboxes are pods of the
 * in-process API server and whose checks come from a real node agent over mutual
 * TLS, found as a front finds it on a cluster: the agent pod on the sandbox pod's
 * node (agent-discovery.ts). A learner's path: a session over the HTTP API, terminal
 * 1 over the session socket, a command typed, the lesson's steps turning green.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLessonsPlugin } from '../../lab-server/checks/plugin.ts';
import { KubeApi, urlConnection } from '../../lab-server/kube/api-client.ts';
import { agentUrlsFromPods } from '../../lab-server/kube/agent-discovery.ts';
import type { Pod } from '../../lab-server/kube/pod-watch.ts';
import type { LessonsPlugin } from '../../lab-server/http/plugins.ts';
import { createSession, LabClient, startServer, type TestServer } from '../server/client.ts';
import { startAgentCluster, type AgentCluster } from './agent-cluster.ts';
import { TOKEN, VALUES } from './apiserver/harness.ts';

let c: AgentCluster;
let srv: TestServer;

beforeAll(async () => {
  c = await startAgentCluster({ discover: true });
  const lessons: LessonsPlugin = createLessonsPlugin({ log: () => {} });
  srv = await startServer({ backend: c.backend, lessons, createBurst: 100 });
});
afterAll(async () => {
  await srv?.close();
  await c?.close();
});

describe('a front whose sandboxes are pods', () => {
  it('serves a session: a terminal over exec, steps checked through the node agent', async () => {
    const s = await createSession(srv, 'sample-hostname');
    expect(srv.lab.sessions.size).toBe(1);
    // the session's sandbox is a pod, on the node whose agent the front found
    const pods = c.server.podNames().filter((n) => n.startsWith('nslab-sbx-'));
    expect(pods).toHaveLength(1);
    expect(c.backend.list().map((x) => x.podName)).toEqual(pods);
    const cl = await LabClient.connect(srv, s);
    try {
      expect((await cl.waitEvent('steps')).steps[0]).toMatchObject({ id: 'look', status: 'pending' });
      await cl.open(1);
      const streams = c.agent.served.get('commands') ?? 0;
      expect(streams).toBeGreaterThan(0);
      await cl.run(1, 'hostname; readlink /proc/$$/ns/uts');
      await cl.waitScreen(1, /uts:\[\d+\]/);
      await cl.waitEvent('steps', (e) => e.steps.find((x) => x.id === 'look')?.status === 'pass');
      // a step that needs the probe: a shell in a new UTS namespace named box1, read by the agent
      const hostnames = c.agent.served.get('hostname') ?? 0;
      cl.type(1, 'unshare --uts bash\r');
      await cl.run(1, 'hostname box1');
      await cl.waitEvent('steps', (e) => e.steps.find((x) => x.id === 'new-uts')?.status === 'pass');
      expect(c.agent.served.get('hostname') ?? 0).toBeGreaterThan(hostnames);
    } finally {
      cl.close();
    }
  });
});

describe('finding the agent of a pod\'s node', () => {
  const discover = () => agentUrlsFromPods({ api: new KubeApi(urlConnection(c.server.url, TOKEN)), namespace: VALUES.namespace, port: 7443 });
  const podOn = (nodeName?: string) => ({ metadata: { name: 'nslab-sbx-x' }, spec: { nodeName } }) as Pod;

  it('takes the running agent pod on that node, at its pod address and the agents\' port', async () => {
    const find = discover();
    expect(await find(podOn('node-1'))).toBe('https://127.0.0.1:7443');
    expect(await find(podOn('node-2'))).toBe('https://127.0.0.2:7443');
  });

  it('says which node has no agent, and that a pod with no node has none yet', async () => {
    const find = discover();
    await expect(find(podOn('node-3'))).rejects.toThrow(/no node agent runs on node node-3/);
    await expect(find(podOn(undefined))).rejects.toThrow(/on no node yet/);
  });

  it('a new agent pod is found once its node is asked for (the short cache is listed again on a miss)', async () => {
    const find = discover();
    await expect(find(podOn('node-4'))).rejects.toThrow(/node-4/);
    c.server.addRunningPod(VALUES.namespace, 'nslab-agent-d', { 'app.kubernetes.io/component': 'agent' }, 'node-4', '127.0.0.4');
    await new Promise((r) => setTimeout(r, 1100));
    expect(await find(podOn('node-4'))).toBe('https://127.0.0.4:7443');
  });
});
