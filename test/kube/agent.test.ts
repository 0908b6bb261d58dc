/**
 * The node agent (docs/kubernetes.md, "The node agent") over real mutual TLS, in
 * front of real sandboxes standing in for pods: what a front's checks read through
 * AgentProbe is what the sandbox's own probe reads, and nothing else gets through
 * (no certificate, another CA's certificate, a pid that is not the pod's, an
 * operation or body the protocol does not have, a pod that is not here).
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, AgentProbe, AgentRequestError, agentProbeFor } from '../../lab-server/kube/agent-probe.ts';
import { MAX_BATCH } from '../../lab-server/kube/agent-protocol.ts';
import { startAgent, type RunningAgent } from '../../lab-server/kube/agent-server.ts';
import type { LocalSandbox } from '../../lab-server/sandbox/index.ts';
import type { CommandEvent } from '../../lab-server/sandbox/types.ts';
import { sh, terminal, testBackend } from '../sandbox/helpers.ts';
import { makeTestTls, SandboxPodLocator, type Pem, type TestTls } from './agent-fixtures.ts';

let tls: TestTls;
let agent: RunningAgent;
let s: LocalSandbox;
let other: LocalSandbox;
let uid: string;
let probe: AgentProbe;
const locator = new SandboxPodLocator();

beforeAll(async () => {
  tls = makeTestTls();
  const backend = await testBackend();
  [s, other] = await Promise.all([backend.create(), backend.create()]);
  uid = locator.add(s);
  locator.add(other);
  agent = await startAgent({ port: 0, host: '127.0.0.1', tls: tls.server, locator, helperBin: backend.probeHelper });
  probe = agentProbeFor({ agentUrl: agent.url, tls: tls.client, podUid: uid });
});

afterAll(async () => {
  probe?.client.close();
  await agent?.close();
  await Promise.all([s?.destroy(), other?.destroy()]);
  tls?.remove();
});

/** a raw request to the agent, to see exactly what it answers */
function raw(path: string, opts: { method?: string; body?: string; pem?: Pem | null } = {}): Promise<{ status: number; json: { error?: { code: string; message: string } } }> {
  const pem = opts.pem === undefined ? tls.client : opts.pem;
  return new Promise((resolve, reject) => {
    const req = request(`${agent.url}${path}`, {
      method: opts.method ?? 'POST', ca: tls.server.ca, servername: 'nslab-agent', checkServerIdentity: () => undefined,
      ...(pem ? { cert: pem.cert, key: pem.key } : {}),
      headers: { 'content-type': 'application/json' },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(data) }));
    });
    req.on('error', reject);
    req.end(opts.body ?? '');
  });
}

describe('the agent answers the probe operations for its pods', () => {
  it('processes: the same processes the sandbox\'s own probe lists', async () => {
    const [viaAgent, local] = await Promise.all([probe.processes(), s.probe.processes()]);
    expect(viaAgent.map((p) => p.hostPid).sort()).toEqual(local.map((p) => p.hostPid).sort());
    const init = viaAgent.find((p) => p.pid === 1)!;
    expect(init.uid).toBe(0);
    expect(init.ns).toEqual(await probe.rootNamespaces());
  });

  it('readFile: a file as the process sees it; null when missing', async () => {
    const init = (await probe.processes()).find((p) => p.pid === 1)!;
    await sh(s, 'echo agent-was-here > /root/note');
    expect(await probe.readFile(init.hostPid, '/root/note')).toBe('agent-was-here\n');
    expect(await probe.readFile(init.hostPid, '/root/none')).toBeNull();
  });

  it('sysvipc: a queue made with ipcmk -Q inside shows up', async () => {
    const init = (await probe.processes()).find((p) => p.pid === 1)!;
    expect((await probe.sysvipc(init.hostPid)).queues).toEqual([]);
    const made = await sh(s, 'ipcmk -Q');
    expect(made.code).toBe(0);
    const queues = (await probe.sysvipc(init.hostPid)).queues;
    expect(queues).toHaveLength(1);
    expect(made.stdout).toContain(String(queues[0].id));
    expect(queues[0].uid).toBe(0);
  });

  it('every other operation answers what the local probe answers', async () => {
    const init = (await probe.processes()).find((p) => p.pid === 1)!.hostPid;
    const pairs: [string, unknown, unknown][] = [
      ['hostname', await probe.hostname(init), await s.probe.hostname(init)],
      ['sysctl', await probe.sysctl(init, 'kernel.msgmni'), await s.probe.sysctl(init, 'kernel.msgmni')],
      ['mqueue', await probe.mqueue(init), await s.probe.mqueue(init)],
      ['mounts', await probe.mounts(init), await s.probe.mounts(init)],
      ['mountsBounded', await probe.mountsBounded(init, 512), await s.probe.mountsBounded(init, 512)],
      ['net', await probe.net(init), await s.probe.net(init)],
      ['net pinned (missing)', await probe.net(init, '/run/netns/none'), null],
      ['userNamespace', await probe.userNamespace(init), await s.probe.userNamespace(init)],
      ['namespaceOwners', await probe.namespaceOwners(init), await s.probe.namespaceOwners(init)],
      ['capabilities', await probe.capabilities(init), await s.probe.capabilities(init)],
      ['timeOffsets', await probe.timeOffsets(init), await s.probe.timeOffsets(init)],
      ['cgroups paths', (await probe.cgroups()).map((g) => g.path), (await s.probe.cgroups()).map((g) => g.path)],
    ];
    for (const [name, viaAgent, local] of pairs) expect(viaAgent, name).toEqual(local);
    expect((await probe.mountsBounded(init, 512)).complete).toBe(false);
    const info = await probe.namespaceInfo([{ hostPid: init, sections: ['ipc', 'uts', 'nest'] }, { hostPid: process.pid, sections: ['uts'] }], 4096);
    expect((info.get(init) as { uts: { hostname: string } }).uts.hostname).toBe(await s.probe.hostname(init));
    expect(info.get(process.pid)).toBeInstanceOf(Error);
    expect((info.get(process.pid) as Error).message).toMatch(/is not in pod|is not in sandbox/);
  });

  it('the commands stream replays the history and then sees a command typed in a pty', async () => {
    const seen: CommandEvent[] = [];
    let ended: string | null = null;
    const stop = probe.commands((e) => seen.push(e), (why) => { ended = why; });
    try {
      const t = terminal(s, 1);
      await t.ready();
      await t.run('echo typed-$((6*7))');
      for (let i = 0; i < 400 && !seen.some((e) => e.kind === 'cmd' && e.command === 'echo typed-$((6*7))'); i++) await new Promise((r) => setTimeout(r, 25));
      const typed = seen.find((e) => e.kind === 'cmd' && e.command === 'echo typed-$((6*7))');
      expect(typed, JSON.stringify(seen)).toBeDefined();
      expect(typed!.terminal).toBe(1);
      expect(typed!.hostPid).toBeGreaterThan(0);
      expect(ended).toBeNull();
      t.term.kill();
    } finally {
      stop();
    }
    // a second reader (another front, a restarted one) gets the history first
    const replay: CommandEvent[] = [];
    const stop2 = probe.commands((e) => replay.push(e), () => {});
    for (let i = 0; i < 400 && !replay.some((e) => e.command === 'echo typed-$((6*7))'); i++) await new Promise((r) => setTimeout(r, 25));
    stop2();
    expect(replay.some((e) => e.command === 'echo typed-$((6*7))')).toBe(true);
  });
});

describe('the commands stream ends', () => {
  it('with why, once the pod\'s sandbox is gone', async () => {
    const gone = await (await testBackend()).create();
    const goneUid = locator.add(gone);
    const events: CommandEvent[] = [];
    const ended = new Promise<string>((resolve) => { probe.client.commands(goneUid, (e) => events.push(e), resolve); });
    await gone.destroy();
    expect(await ended).toBe(`the sandbox of pod ${goneUid} is gone`);
  });
});

describe('the agent refuses', () => {
  it('a client without a certificate, in the TLS handshake', async () => {
    await expect(raw(`/v1/pods/${uid}/processes`, { pem: null })).rejects.toThrow(/certificate|handshake|socket hang up|ECONNRESET/i);
  });

  it('a client whose certificate another CA signed', async () => {
    await expect(raw(`/v1/pods/${uid}/processes`, { pem: tls.rogueClient })).rejects.toThrow(/certificate|unknown ca|alert|socket hang up|ECONNRESET/i);
    const rogue = new AgentClient(agent.url, tls.rogueClient);
    await expect(rogue.call(uid, 'processes', {})).rejects.toThrow();
    rogue.close();
  });

  it('an agent\'s own certificate (server auth only) presented as a client: a node\'s agent cannot query another node\'s', async () => {
    const asClient = new AgentClient(agent.url, tls.server);
    try {
      await expect(asClient.call(uid, 'processes', {})).rejects.toThrow(/certificate|socket hang up|ECONNRESET/i);
    } finally {
      asClient.close();
    }
  });

  it('an agent whose certificate is not the agents\' (the front checks the server too)', async () => {
    // the front's own client certificate, presented as a server's: no DNS name nslab-agent, no serverAuth
    const impostor = await startAgent({ port: 0, host: '127.0.0.1', tls: tls.client, locator, helperBin: (await testBackend()).probeHelper });
    const client = new AgentClient(impostor.url, tls.client);
    try {
      await expect(client.call(uid, 'processes', {})).rejects.toThrow(/nslab-agent|altnames|certificate|purpose/i);
    } finally {
      client.close();
      await impostor.close();
    }
  });

  it('a pid of another sandbox, or of the host', async () => {
    const otherInit = (await other.probe.processes()).find((p) => p.pid === 1)!.hostPid;
    for (const pid of [otherInit, process.pid, 1]) {
      const err = await probe.readFile(pid, '/etc/hostname').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AgentRequestError);
      expect((err as AgentRequestError).status).toBe(403);
      expect((err as AgentRequestError).message).toContain(`process ${pid} is not in`);
    }
    await expect(probe.sysvipc(otherInit)).rejects.toThrow(/is not in/);
    await expect(probe.capabilities(process.pid)).rejects.toThrow(/is not in/);
  });

  it('an unknown operation, or a body the operation does not take, with a clear 400', async () => {
    const unknown = await raw(`/v1/pods/${uid}/exec`, { body: '{"command":["id"]}' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error?.code).toBe('unknown_operation');
    expect(unknown.json.error?.message).toMatch(/unknown operation 'exec'.*processes/);
    const badPid = await raw(`/v1/pods/${uid}/readFile`, { body: '{"hostPid":"1; rm -rf /","path":"/etc/hostname"}' });
    expect(badPid.status).toBe(400);
    expect(badPid.json.error?.message).toMatch(/bad readFile request: hostPid/);
    const extra = await raw(`/v1/pods/${uid}/processes`, { body: '{"command":"id"}' });
    expect(extra.status).toBe(400);
    expect(extra.json.error?.message).toMatch(/command/);
    const relative = await raw(`/v1/pods/${uid}/readFile`, { body: '{"hostPid":1,"path":"etc/shadow"}' });
    expect(relative.status).toBe(400);
    const notJson = await raw(`/v1/pods/${uid}/processes`, { body: '{nope' });
    expect(notJson.status).toBe(400);
    expect(notJson.json.error?.message).toBe('the request body is not JSON');
    const big = await raw(`/v1/pods/${uid}/processes`, { body: JSON.stringify({ pad: 'x'.repeat(300 * 1024) }) });
    expect(big.status).toBe(413);
    const badSysctl = await probe.sysctl(1, '../../etc/shadow').catch((e: unknown) => e);
    expect((badSysctl as AgentRequestError).status).toBe(400);
  });

  it('a client past its rate, with 429 and when to retry', async () => {
    const limited = await startAgent({ port: 0, host: '127.0.0.1', tls: tls.server, locator, helperBin: (await testBackend()).probeHelper, rateLimit: { burst: 3, perMinute: 1 } });
    const client = new AgentClient(limited.url, tls.client);
    try {
      for (let i = 0; i < 3; i++) await client.call(uid, 'rootNamespaces', {});
      const err = await client.call(uid, 'rootNamespaces', {}).catch((e: unknown) => e);
      expect((err as AgentRequestError).status).toBe(429);
      expect((err as AgentRequestError).code).toBe('rate_limited');
      expect((err as AgentRequestError).message).toMatch(/retry in \d+ s/);
    } finally {
      client.close();
      await limited.close();
    }
  });

  it('a namespaceInfo batch up to MAX_BATCH pids fits in a body; one more is refused', async () => {
    const batch = Array.from({ length: MAX_BATCH }, (_, i) => ({ hostPid: 4_000_000 + i, sections: ['ipc', 'mq', 'uts', 'net', 'nest', 'cgroupns'] as const }));
    const answers = await probe.namespaceInfo(batch.map((r) => ({ hostPid: r.hostPid, sections: [...r.sections] })), 24 * 1024);
    expect(answers.size).toBe(MAX_BATCH);
    expect([...answers.values()].every((a) => a instanceof Error && /is not in/.test(a.message))).toBe(true);
    const over = await probe.namespaceInfo([...batch, { hostPid: 1, sections: ['uts'] }], 1024).catch((e: unknown) => e);
    expect((over as AgentRequestError).status).toBe(400);
  });

  it('a pod UID that is not a UUID, or a pod not on this node, with 404', async () => {
    const notUuid = await raw('/v1/pods/..%2F..%2Fetc/processes', { body: '{}' });
    expect(notUuid.status).toBe(404);
    expect(notUuid.json.error?.message).toMatch(/is not a pod UID/);
    expect((await raw('/v1/pods/%E0%A4%A/processes', { body: '{}' })).status).toBe(404);
    const absent = await raw(`/v1/pods/${randomUUID()}/processes`, { body: '{}' });
    expect(absent.status).toBe(404);
    expect(absent.json.error?.message).toMatch(/no sandbox pod .* runs on this node/);
    const stream: string[] = [];
    await new Promise<void>((resolve) => { probe.client.commands(randomUUID(), () => {}, (why) => { stream.push(why); resolve(); }); });
    expect(stream[0]).toMatch(/runs on this node/);
  });
});
