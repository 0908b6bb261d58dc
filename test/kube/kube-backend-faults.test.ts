/**
 * The Kubernetes back end where a real cluster is unkind, on the in-process API
 * server with real local sandboxes behind its pods: terminals and exit codes over
 * v5, watches that reset (410 Gone) or drop during a create and during a sandbox's
 * life, pods deleted or failed from outside, creates that fail (and leave nothing),
 * bad credentials, orphans, and the API's own answers (401, 404, 409, 422, exec
 * subprotocol negotiation).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ApiError, KubeApi, urlConnection } from '../../lab-server/kube/api-client.ts';
import type { KubeBackend } from '../../lab-server/kube/kube-backend.ts';
import type { KubeSandbox } from '../../lab-server/kube/kube-sandbox.ts';
import type { KubePty } from '../../lab-server/kube/kube-pty.ts';
import { TerminalSession } from '../../lab-server/terminal/terminal.ts';
import { HostError } from '../../lab-server/sandbox/types.ts';
import { kubeBackend, startApiServer, TOKEN, VALUES } from './apiserver/harness.ts';
import type { FakeApiServer } from './apiserver/server.ts';

const NS = VALUES.sandboxNamespace;
let server: FakeApiServer;
let backend: KubeBackend;
const extra: KubeBackend[] = [];

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never happened: ${what}`);
}

const exited = (s: KubeSandbox) => new Promise<string>((resolve) => s.onExit(resolve));

function api(token = TOKEN): KubeApi {
  return new KubeApi(urlConnection(server.url, token));
}

function more(opts: Parameters<typeof kubeBackend>[1] = {}): KubeBackend {
  const b = kubeBackend(server, opts);
  extra.push(b);
  return b;
}

beforeAll(async () => {
  server = await startApiServer({ compactionWindow: 50 });
  backend = kubeBackend(server);
  await backend.checkHost();
});
afterAll(async () => {
  for (const b of [backend, ...extra]) { await b?.destroyAll(); await b?.close(); }
  await server?.close();
});

describe('terminals and commands over pods/exec (v5)', () => {
  it('a terminal follows resizes and reports the shell\'s exit code', async () => {
    const s = await backend.create();
    try {
      const term = s.spawnPty({ terminal: 1, cols: 90, rows: 20 });
      let screen = '';
      term.onData((d) => { screen += d; });
      const exit = new Promise<{ exitCode: number; signal?: number }>((resolve) => term.onExit(resolve));
      term.write('stty size; echo "first:$NSLAB_TERM"\r');
      await until('the first size', () => screen.includes('20 90') && screen.includes('first:1'));
      term.resize(132, 43);
      expect([term.cols, term.rows]).toEqual([132, 43]);
      // what the back end owns: the resize message, as the kubelet would get it
      await until('the new size at the API server', () => {
        const sz = server.ptySizes.get(s.podName);
        return sz?.cols === 132 && sz.rows === 43;
      });
      // and the shell behind it sees it (a full host run once saw it not arrive: the
      // SIGWINCH reached only a crun exec -d still finishing, fixed in nslab-reaper)
      term.write('stty size; echo "second:$NSLAB_TERM"\r');
      await until('the new size in the shell', () => screen.includes('43 132') && screen.includes('second:1'));
      term.write('exit 7\r');
      expect(await exit).toEqual({ exitCode: 7 });
    } finally {
      await s.destroy();
    }
  });

  it('exec reports every exit code: 0, a status, 255, a killed command, a command not found', async () => {
    const s = await backend.create();
    expect((await s.exec(['true'])).code).toBe(0);
    expect((await s.exec(['sh', '-c', 'exit 42'])).code).toBe(42);
    expect((await s.exec(['sh', '-c', 'exit 255'])).code).toBe(255);
    expect((await s.exec(['sh', '-c', 'kill -9 $$'])).code).toBe(137);
    const missing = await s.exec(['/no/such/command']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/no\/such\/command/);
    // a megabyte through stdin and back: flow over the channels, EOF by the close stream
    const big = 'x'.repeat(1 << 20);
    expect((await s.exec(['wc', '-c'], { input: big })).stdout.trim()).toBe(String(1 << 20));
    await s.destroy();
  });
});

describe('what the node agent\'s view adds', () => {
  it('cpuTime: the pod\'s CPU time, growing as it works; null once it is gone', async () => {
    const s = await backend.create();
    const before = s.cpuTime();
    expect(before).not.toBeNull();
    await s.exec(['sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done']);
    expect(s.cpuTime()!).toBeGreaterThan(before!);
    await s.destroy();
    expect(s.cpuTime()).toBeNull();
  });
});

describe('a terminal session (terminal/) on a pod\'s terminal', () => {
  it('flow control pauses the exec stream while the client does not ack, and resumes on acks', async () => {
    const s = await backend.create();
    const pty = s.spawnPty({ terminal: 1, cols: 80, rows: 24 });
    const session = new TerminalSession(pty, { terminal: 1, cols: 80, rows: 24, flow: { highWater: 64 * 1024, lowWater: 16 * 1024 } });
    let got = 0;
    let text = '';
    session.attach({ data: (_t, chunk) => { got += chunk.length; text = (text + chunk.toString()).slice(-200); } }, () => {});
    const total = 4_000_000;
    session.write(`head -c ${total} /dev/zero | tr '\\0' y; echo; echo done-flowing\r`);
    await until('the session pauses', () => session.paused);
    const atPause = got;
    await new Promise((r) => setTimeout(r, 500));
    // paused: what still came was in flight (one socket read at most), not the rest of the 4 MB
    expect(got - atPause).toBeLessThan(512 * 1024);
    expect(got).toBeLessThan(total / 2);
    for (let i = 0; i < 3000 && !text.includes('done-flowing\r\n'); i++) {
      session.ack(got);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(got).toBeGreaterThan(total);
    expect(text).toContain('done-flowing');
    session.kill();
    await s.destroy();
  });
});

describe('input the pod does not take', () => {
  it('is held up to a bound, then dropped: the front does not keep an endless paste', async () => {
    const s = await backend.create();
    const term = s.spawnPty({ terminal: 1 }) as KubePty;
    let out = '';
    term.onData((d) => { out += d; });
    term.write('echo ready\r');
    await until('the shell answers', () => out.includes('ready'));
    server.stallExecs();
    const chunk = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 64; i++) { term.write(chunk); await new Promise((r) => setImmediate(r)); }
    expect(term.droppedInput).toBeGreaterThan(0);
    // all of it was offered; what was not dropped went to the socket or waits in its bound
    expect(term.droppedInput).toBeLessThan(64 * chunk.length);
    expect(term.droppedInput % chunk.length).toBe(0);
    term.kill();
    await s.destroy();
    server.resumeExecs();
  });
});

describe('watches that reset or drop', () => {
  it('a create survives its watch being reset (410 Gone) before the pod runs', async () => {
    const lists = backend.podLists;
    const gone = server.stats.gone410;
    const creates = server.stats.creates;
    const made = backend.create();
    await until('the pod is posted', () => server.stats.creates > creates);
    server.resetWatches();
    const s = await made;
    expect(s.state).toBe('running');
    expect(server.stats.gone410).toBeGreaterThan(gone);
    expect(backend.podLists).toBeGreaterThan(lists);
    expect((await s.exec(['echo', 'up'])).stdout).toBe('up\n');
    await s.destroy();
  });

  it('a create survives its watch being dropped: it watches again from the last version, no new list', async () => {
    const lists = backend.podLists;
    const creates = server.stats.creates;
    const made = backend.create();
    await until('the pod is posted', () => server.stats.creates > creates);
    server.dropWatches();
    const s = await made;
    expect(s.state).toBe('running');
    expect(backend.podLists).toBe(lists);
    await s.destroy();
  });

  it('a watch ended by its timeoutSeconds is opened again, and still hears the pod go', async () => {
    const short = more({ watchTimeoutSeconds: 1 });
    const s = await short.create();
    const watches = server.stats.watches;
    await until('two more watches opened', () => server.stats.watches >= watches + 2);
    const reason = exited(s);
    await fetch(`${server.url}/api/v1/namespaces/${NS}/pods/${s.podName}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(await reason).toMatch(/deleted/);
    expect(short.podLists).toBe(1);
  });

  it('a pod deleted while the watch was down and its versions compacted is found gone by the new list', async () => {
    const s = await backend.create();
    const reason = exited(s);
    const lists = backend.podLists;
    server.holdWatches();
    server.dropWatches();
    const res = await fetch(`${server.url}/api/v1/namespaces/${NS}/pods/${s.podName}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    await until('the pod is gone from the API', () => !server.podNames().includes(s.podName));
    server.resetWatches();
    server.releaseWatches();
    expect(await reason).toBe("the sandbox's pod was deleted");
    expect(backend.podLists).toBeGreaterThan(lists);
    expect(s.state).toBe('dead');
    expect(backend.list()).not.toContain(s);
  });
});

describe('a sandbox ended from outside', () => {
  it('a pod deleted by someone else (kubectl delete) ends the sandbox, and its exec refuses', async () => {
    const s = await backend.create();
    const reason = exited(s);
    const res = await fetch(`${server.url}/api/v1/namespaces/${NS}/pods/${s.podName}?gracePeriodSeconds=0`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await reason).toBe("the sandbox's pod was deleted");
    expect(s.state).toBe('dead');
    await expect(s.exec(['true'])).rejects.toThrow(/not running/);
  });

  it('activeDeadlineSeconds over: the lifetime reason, and the failed pod is deleted', async () => {
    const s = await backend.create();
    const reason = exited(s);
    server.expire(s.podName);
    expect(await reason).toMatch(/lifetime limit/);
    await until('the failed pod is deleted', () => !server.podNames().includes(s.podName));
  });

  it('an open terminal ends when its pod is killed', async () => {
    const s = await backend.create();
    const term = s.spawnPty({ terminal: 1 });
    let out = '';
    term.onData((d) => { out += d; });
    term.write('echo alive\r');
    await until('the shell answers', () => out.includes('alive'));
    const ended = new Promise((resolve) => term.onExit(resolve));
    const reason = exited(s);
    await server.killSandbox(s.podName);
    expect(await reason).toMatch(/init process exited/);
    await ended;
  });
});

describe('creates that fail leave nothing behind', () => {
  const posted = () => server.podNames().length;

  it('a pod that fails to start', async () => {
    const before = posted();
    server.failNextCreates(1, 'start-error');
    await expect(backend.create()).rejects.toThrow(/could not create a sandbox: pod nslab-sbx-\w+ ended before it ran: .*StartError/);
    expect(posted()).toBe(before);
    expect(backend.list().length).toBe(0);
  });

  it('an image the nodes cannot pull (ImagePullBackOff)', async () => {
    const wrong = more({ values: { ...VALUES, images: { ...VALUES.images, sandbox: 'registry.example/nslab/sandbox:missing' } } });
    const before = posted();
    await expect(wrong.create()).rejects.toThrow(/cannot start: (ErrImagePull|ImagePullBackOff)/);
    expect(posted()).toBe(before);
  });

  it('a pod no node has room for, past the start timeout, names the scheduler\'s reason', async () => {
    const impatient = more({ startTimeoutMs: 1500 });
    const before = posted();
    server.failNextCreates(1, 'unschedulable');
    await expect(impatient.create()).rejects.toThrow(/did not run within 2 s \(phase Pending; Unschedulable: 0\/3 nodes are available/);
    expect(posted()).toBe(before);
  });

  it('a pod whose node agent view cannot be had', async () => {
    const blind = more({ viewFor: () => { throw new Error('agent on node-1 refused the front\'s certificate'); } });
    const before = posted();
    await expect(blind.create()).rejects.toThrow(/the node agent's view of it failed: agent on node-1 refused/);
    expect(posted()).toBe(before);
  });

  it('a pod the admission policy refuses (422): nothing was made, and the next create works', async () => {
    const before = posted();
    server.failNextCreates(1, 'admission');
    await expect(backend.create()).rejects.toThrow(/422 Invalid.*ValidatingAdmissionPolicy/);
    expect(posted()).toBe(before);
    const s = await backend.create();
    expect(s.state).toBe('running');
    await s.destroy();
    expect(posted()).toBe(before);
  });
});

describe('credentials and reachability', () => {
  it('a bad token: checkHost names 401 and how to fix it; create fails too', async () => {
    const bad = more({ connection: urlConnection(server.url, 'not-the-token') });
    const err = await bad.checkHost().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostError);
    expect((err as Error).message).toMatch(/refused the front's credentials \(401 Unauthorized\)/);
    expect((err as HostError).fix).toMatch(/ServiceAccount nslab-front/);
    await expect(bad.create()).rejects.toThrow(/401/);
  });

  it('a token fixed after a refusal (rotated, or the RoleBinding applied late) is used: the watch starts on the next try', async () => {
    let token = 'stale';
    const rotating = more({ connection: { apiUrl: server.url, token: () => token } });
    await expect(rotating.create()).rejects.toThrow(/401/);
    token = TOKEN;
    const s = await rotating.create();
    expect((await s.exec(['echo', 'in'])).stdout).toBe('in\n');
    await s.destroy();
  });

  it('no API server at the URL: checkHost says it cannot reach it', async () => {
    const nowhere = more({ connection: urlConnection('http://127.0.0.1:1', TOKEN) });
    await expect(nowhere.checkHost()).rejects.toThrow(/cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:1/);
  });
});

describe('orphans', () => {
  it('a crashed front\'s pods: reaped when their session is gone, kept while it lives; dead pods always', async () => {
    const crashed = more();
    const [keep, lose] = await Promise.all([crashed.create(), crashed.create()]);
    await crashed.close(); // the front is gone; its pods are not
    const next = more({ sessionAlive: (id) => id === keep.id });
    await next.checkHost();
    expect(await next.reapOrphans()).toBe(1);
    expect(server.podNames()).toContain(keep.podName);
    expect(server.podNames()).not.toContain(lose.podName);
    // without a session store to ask, only pods that are over are reaped
    const careful = more();
    await careful.checkHost();
    expect(await careful.reapOrphans()).toBe(0);
    await server.killSandbox(keep.podName);
    await until('the pod has failed', () => server.pod(keep.podName)?.status.phase === 'Failed');
    await until('the watch has seen it', () => careful.reapOrphans().then((n) => n === 1));
    expect(server.podNames()).not.toContain(keep.podName);
  });
});

describe('another front', () => {
  it('adopts a sandbox by its id: the same machine, its limits and start read back from the pod; it hears the pod go', async () => {
    const s = await backend.create({ limits: { pids: 300, lifetimeMs: 600_000 }, hostname: 'adopted' });
    await s.exec(['sh', '-c', 'echo made-by-a > /root/note']);
    const other = more();
    const t = (await other.adopt(s.id))!;
    expect(t).not.toBeNull();
    expect(t.id).toBe(s.id);
    expect(t.podName).toBe(s.podName);
    expect(t.limits).toEqual(s.limits);
    expect(Math.abs(t.createdAt.getTime() - s.createdAt.getTime())).toBeLessThan(5000);
    expect(other.list()).toEqual([t]);
    expect(await other.adopt(s.id)).toBe(t);
    expect((await t.exec(['cat', '/root/note'])).stdout).toBe('made-by-a\n');
    expect((await t.exec(['hostname'])).stdout).toBe('adopted\n');
    const reason = exited(t);
    await s.destroy();
    expect(await reason).toBe("the sandbox's pod was deleted");
    expect(other.list()).toEqual([]);
    // gone, unknown or not a sandbox id: nothing to adopt
    expect(await other.adopt(s.id)).toBeNull();
    expect(await other.adopt('0123456789abcdef')).toBeNull();
    await expect(other.adopt('../etc')).rejects.toThrow(/lower-case letters and digits/);
  });

  it('does not adopt a pod of another install, nor one that is over', async () => {
    const s = await backend.create();
    expect(await more({ install: 'another-install' }).adopt(s.id)).toBeNull();
    await server.killSandbox(s.podName);
    await until('the pod has failed', () => server.pod(s.podName)?.status.phase === 'Failed' || !server.podNames().includes(s.podName));
    expect(await more().adopt(s.id)).toBeNull();
  });
});

describe('the in-process API server answers as a real one does', () => {
  it('401, 404, 409, 422 as Status objects', async () => {
    const a = api();
    const pod = backend.podFor('apishape1', backend.defaultLimits, {});
    await expect(api('wrong').call('GET', `/api/v1/namespaces/${NS}/pods`)).rejects.toMatchObject({ code: 401, reason: 'Unauthorized' });
    await expect(a.call('GET', `/api/v1/namespaces/${NS}/pods/nope`)).rejects.toMatchObject({ code: 404, reason: 'NotFound' });
    await expect(a.call('DELETE', `/api/v1/namespaces/${NS}/pods/nope`)).rejects.toMatchObject({ code: 404 });
    const noUserns = structuredClone(pod);
    noUserns.spec!.hostUsers = true;
    const invalid = await a.call('POST', `/api/v1/namespaces/${NS}/pods`, noUserns).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ApiError);
    expect(invalid).toMatchObject({ code: 422, reason: 'Invalid' });
    expect((invalid as Error).message).toMatch(/hostUsers. must be false to use .Unmasked/);
    await a.call('POST', `/api/v1/namespaces/${NS}/pods`, pod);
    await expect(a.call('POST', `/api/v1/namespaces/${NS}/pods`, pod)).rejects.toMatchObject({ code: 409, reason: 'AlreadyExists' });
    await a.call('DELETE', `/api/v1/namespaces/${NS}/pods/${pod.metadata!.name}`);
    await until('the test pod is gone', () => !server.podNames().includes(pod.metadata!.name!));
    a.close();
  });

  it('exec negotiates v5 or v4, and refuses a client offering neither', async () => {
    const s = await backend.create();
    const url = `${server.url.replace('http', 'ws')}/api/v1/namespaces/${NS}/pods/${s.podName}/exec?command=echo&command=v4&stdout=true&container=sandbox`;
    const v4 = new WebSocket(url, ['v4.channel.k8s.io'], { headers: { Authorization: `Bearer ${TOKEN}` } });
    const frames: Buffer[] = [];
    v4.on('message', (d: Buffer) => frames.push(d));
    await new Promise((resolve) => v4.on('close', resolve));
    expect(v4.protocol).toBe('v4.channel.k8s.io');
    expect(Buffer.concat(frames.filter((f) => f[0] === 1).map((f) => f.subarray(1))).toString()).toBe('v4\n');
    expect(JSON.parse(frames.find((f) => f[0] === 3)!.subarray(1).toString())).toMatchObject({ status: 'Success' });
    const old = new WebSocket(url, ['channel.k8s.io'], { headers: { Authorization: `Bearer ${TOKEN}` } });
    const refused = await new Promise<number>((resolve) => old.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)));
    expect(refused).toBe(400);
    await s.destroy();
  });
});
