/**
 * The Kubernetes back end with the node agent as its view, end to end (test/kube/
 * agent-cluster.ts): sandboxes are pods of the in-process API server, every
 * keystroke goes over pods/exec v5, and every check and the command log the grader
 * waits on come through a real agent over mutual TLS. A lesson is graded both ways
 * and by a near miss; a pod deleted from outside ends the sandbox and the agent's
 * command stream.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeTranscript, prepareLesson, readTranscript } from '../../lab-server/grade/grade.ts';
import { formatText } from '../../lab-server/grade/report.ts';
import { AgentClient, AgentProbe } from '../../lab-server/kube/agent-probe.ts';
import { startAgent } from '../../lab-server/kube/agent-server.ts';
import { agentViewFor } from '../../lab-server/kube/agent-view.ts';
import type { KubeSandbox } from '../../lab-server/kube/kube-sandbox.ts';
import { startAgentCluster, type AgentCluster } from './agent-cluster.ts';
import { kubeBackend, TOKEN, VALUES } from './apiserver/harness.ts';

let c: AgentCluster;

beforeAll(async () => { c = await startAgentCluster(); });
afterAll(async () => { await c?.close(); });

const served = () => [...c.agent.served.values()].reduce((a, b) => a + b, 0);

describe('a lesson graded through pods and the node agent', () => {
  it('ipc-namespace: the solution passes every step, through the agent', async () => {
    const lesson = await prepareLesson('ipc-namespace');
    const before = served();
    const streams = c.agent.served.get('commands') ?? 0;
    const solution = path.join('lessons', 'ipc-namespace', 'solution.txt');
    const report = await gradeTranscript(lesson, await readTranscript(solution), { backend: c.backend });
    expect(report.steps.filter((s) => !s.passed).map((s) => `${s.id}: ${s.message}`), formatText(report, solution)).toEqual([]);
    expect(report.passed).toBe(report.total);
    // the checks read through the agent, and the grader's command log came from its stream
    expect(served() - before).toBeGreaterThan(report.total);
    expect(c.agent.served.get('commands') ?? 0).toBeGreaterThan(streams);
    expect(c.backend.list()).toEqual([]);
  });

  it('ipc-namespace: a fresh sandbox passes none of the steps', async () => {
    const lesson = await prepareLesson('ipc-namespace');
    const fresh = await gradeTranscript(lesson, { file: '(only true)', items: [{ kind: 'type', text: 'true', line: 1 }], nearMiss: null }, { backend: c.backend });
    expect(fresh.steps.filter((s) => s.passed).map((s) => s.id), formatText(fresh, '(only true)')).toEqual([]);
  });

  it('ipc-namespace: a near miss fails the steps it names', async () => {
    const lesson = await prepareLesson('ipc-namespace');
    const file = path.join('lessons', 'ipc-namespace', 'near-misses', 'queue-before-unshare.txt');
    const report = await gradeTranscript(lesson, await readTranscript(file), { backend: c.backend });
    const failed = report.steps.filter((s) => !s.passed).map((s) => s.id);
    expect(failed).toEqual(expect.arrayContaining(['create-queue', 'check-from-parent']));
    expect(report.passed).toBeGreaterThan(0);
  });
});

describe('a pod deleted from outside', () => {
  it('ends its sandbox, and the agent ends the pod\'s command stream', async () => {
    const s = (await c.backend.create()) as KubeSandbox;
    const reason = new Promise<string>((resolve) => s.onExit(resolve));
    // a second reader of the pod's stream, as another front would hold one
    const client = new AgentClient(c.agent.url, c.tls.client);
    try {
      const probe = new AgentProbe(client, s.podUid);
      expect((await probe.processes()).some((p) => p.pid === 1)).toBe(true);
      const streamEnd = new Promise<string>((resolve) => probe.commands(() => {}, resolve));
      const res = await fetch(`${c.server.url}/api/v1/namespaces/${VALUES.sandboxNamespace}/pods/${s.podName}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      expect(await reason).toBe("the sandbox's pod was deleted");
      expect(s.state).toBe('dead');
      expect(await streamEnd).toMatch(new RegExp(`the sandbox of pod ${s.podUid} is gone`));
      // and the agent no longer answers for it
      await expect(probe.processes()).rejects.toMatchObject({ status: 404, code: 'no_such_pod' });
    } finally {
      client.close();
    }
  });
});

describe('an agent that restarts at another address', () => {
  it('the checks of a sandbox made before follow it to the new address', async () => {
    const start = () => startAgent({ port: 0, host: '127.0.0.1', tls: c.tls.server, locator: c.locator, helperBin: c.helperBin });
    const first = await start();
    let where = first.url;
    const views = agentViewFor({ tls: c.tls.client, agentUrlFor: () => where });
    const backend = kubeBackend(c.server, { viewFor: views });
    const second = await start();
    try {
      const s = await backend.create();
      const init = (await s.probe.processes()).find((p) => p.pid === 1);
      expect(init).toBeDefined();
      expect(first.served.get('processes')).toBe(1);
      await first.close();
      // the node's agent is still the old one as far as discovery knows: the call fails
      await expect(s.probe.processes()).rejects.toThrow(/ECONNREFUSED|socket hang up|ECONNRESET/);
      where = second.url;
      expect(await s.probe.hostname(init!.hostPid)).toBe('nslab');
      expect(second.served.get('processes') ?? 0).toBe(0);
      expect(second.served.get('hostname')).toBe(1);
      await s.destroy();
    } finally {
      await backend.close();
      views.close();
      await second.close();
    }
  });
});
