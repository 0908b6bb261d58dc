/**
 * Lessons graded with every check reading through the node agent: each sandbox the
 * grader makes is mapped to a pod UID, its `probe` (the one seam checks read the
 * system through: checks/lab.ts, checks/engine.ts) is an AgentProbe speaking mutual
 * TLS to an agent in front of it, and its command log (what the grader waits on for
 * each prompt, and what command-log checks read) comes from the agent's commands
 * stream (AgentCommandFeed). Terminals stay the local sandbox's. As the
 * lesson tests prove each check both ways (test/lessons/harness.ts): the solution
 * passes every step, a fresh sandbox none.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeTranscript, prepareLesson, readTranscript } from '../../lab-server/grade/grade.ts';
import { formatText } from '../../lab-server/grade/report.ts';
import { AgentClient, AgentCommandFeed, AgentProbe } from '../../lab-server/kube/agent-probe.ts';
import { startAgent, type RunningAgent } from '../../lab-server/kube/agent-server.ts';
import { currentHostFacts, hostKey, solutionFor } from '../../lab-server/lessons/host-conditions.ts';
import { LessonCatalog } from '../../lab-server/lessons/loader.ts';
import type { CommandEvent, LocalBackend, LocalSandbox, Sandbox, SandboxBackend } from '../../lab-server/sandbox/index.ts';
import { testBackend } from '../sandbox/helpers.ts';
import { makeTestTls, SandboxPodLocator, type TestTls } from './agent-fixtures.ts';

const catalog = new LessonCatalog();
const host = currentHostFacts();
let tls: TestTls;
let agent: RunningAgent;
let client: AgentClient;
let local: LocalBackend;
const locator = new SandboxPodLocator();

/** the local back end, with each sandbox's probe replaced by the agent's view of it as a pod */
function throughAgent(): SandboxBackend {
  return {
    name: 'local, probed through the node agent',
    checkHost: () => local.checkHost(),
    reapOrphans: () => local.reapOrphans(),
    list: () => local.list(),
    destroyAll: () => local.destroyAll(),
    create: async (opts) => {
      const s = (await local.create(opts)) as LocalSandbox;
      const probe = new AgentProbe(client, locator.add(s));
      const feed = new AgentCommandFeed(probe);
      s.onExit(() => feed.close());
      const commands = () => feed.all();
      const onCommand = (l: (e: CommandEvent) => void) => feed.subscribe(l);
      return new Proxy(s, {
        get(target, key) {
          if (key === 'probe') return probe;
          if (key === 'commands') return commands;
          if (key === 'onCommand') return onCommand;
          const v = Reflect.get(target, key, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }) as Sandbox;
    },
  };
}

beforeAll(async () => {
  tls = makeTestTls();
  local = await testBackend();
  agent = await startAgent({ port: 0, host: '127.0.0.1', tls: tls.server, locator, helperBin: local.probeHelper });
  client = new AgentClient(agent.url, tls.client);
});

afterAll(async () => {
  client?.close();
  await agent?.close();
  tls?.remove();
});

const operations = () => [...agent.served.values()].reduce((a, b) => a + b, 0);

describe(`lessons graded through the node agent on a ${hostKey(host)} host`, () => {
  for (const id of ['ipc-namespace', 'user-namespace', 'network-namespace', 'mount-namespace']) {
    it(`${id}: the solution passes every step, a fresh sandbox none`, async () => {
      const dir = path.join(catalog.dir, id);
      const solution = path.join(dir, solutionFor(readdirSync(dir), host)!);
      const lesson = await prepareLesson(id, 'en', catalog);
      const before = operations();
      const streamsBefore = agent.served.get('commands') ?? 0;
      const report = await gradeTranscript(lesson, await readTranscript(solution), { backend: throughAgent(), lang: 'en' });
      expect(report.steps.filter((s) => !s.passed).map((s) => `${s.id}: ${s.message}`), formatText(report, solution)).toEqual([]);
      // the checks did read through the agent, and the command log came from its stream
      expect(operations()).toBeGreaterThan(before);
      expect(agent.served.get('commands') ?? 0).toBeGreaterThan(streamsBefore);
      const fresh = await gradeTranscript(lesson, { file: '(only true)', items: [{ kind: 'type', text: 'true', line: 1 }], nearMiss: null }, { backend: throughAgent(), lang: 'en' });
      expect(fresh.steps.filter((s) => s.passed).map((s) => s.id), formatText(fresh, '(only true)')).toEqual([]);
    });
  }
});
