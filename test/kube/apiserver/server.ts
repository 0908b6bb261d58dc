/**
 * An in-process Kubernetes API server for the Kubernetes back end's tests: exactly
 * the calls KubeBackend makes, with a real API server's shapes, and real local
 * sandboxes behind its pods (test infrastructure; no cluster can run here).
 *
 *  - pods: POST, GET, LIST (labelSelector, limit), DELETE (gracePeriodSeconds), and
 *    watch (chunked JSON lines ADDED/MODIFIED/DELETED/ERROR; resourceVersion
 *    increasing; a compaction window past which an old version is 410 Gone, sent as
 *    an ERROR event as the real one does; timeoutSeconds ends a watch);
 *  - Status answers: 401 without the bearer token, 404 NotFound, 409 AlreadyExists,
 *    422 Invalid;
 *  - pods/NAME/exec: a WebSocket, v5.channel.k8s.io or v4.channel.k8s.io (exec.ts);
 *  - every pod is a LocalBackend sandbox: Pending, then Running once the sandbox is
 *    up; its death makes the pod Failed; activeDeadlineSeconds ends it as
 *    DeadlineExceeded; a delete destroys it.
 * Faults for the tests: drop or reset every watch, fail the next creates, kill a
 * sandbox, expire a pod.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { LocalBackend, LocalSandbox } from '../../../lab-server/sandbox/index.ts';
import { EXEC_PROTOCOLS, parseExecParams, serveExec } from './exec.ts';
import { alreadyExists, failure, gone, invalid, notFound, unauthorized, type Status } from './status.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface StoredPod {
  obj: Json;
  sandbox: LocalSandbox | null;
  deadline: NodeJS.Timeout | null;
  /** the API is ending it (delete, deadline): its sandbox's exit is not a crash */
  ending: boolean;
}

interface Watcher { ns: string; selector: Selector; res: http.ServerResponse; timer: NodeJS.Timeout }

type Selector = (labels: Record<string, string>) => boolean;

export type CreateFault = 'admission' | 'unschedulable' | 'start-error';

export interface FakeApiServerOptions {
  backend: LocalBackend;
  token: string;
  /** the image the "nodes" can pull; any other sits in ImagePullBackOff */
  image: string;
  /** how many past events a watch can resume from; older versions are 410 Gone */
  compactionWindow?: number;
  /** the timeoutSeconds a watch gets when it asks for none */
  defaultWatchSeconds?: number;
  /** serve https with this key and certificate (PEM), as a real API server does */
  tls?: { key: string; cert: string };
}

function parseSelector(s: string | null): Selector | string {
  if (!s) return () => true;
  const terms: ((l: Record<string, string>) => boolean)[] = [];
  for (const part of s.split(',')) {
    const m = /^\s*([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)\s*$/.exec(part);
    if (m) {
      const [, k, op, v] = m;
      terms.push(op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v);
      continue;
    }
    const exists = /^\s*(!?)([\w./-]+)\s*$/.exec(part);
    if (!exists) return `unable to parse requirement: ${part}`;
    terms.push(exists[1] ? (l) => !(exists[2] in l) : (l) => exists[2] in l);
  }
  return (l) => terms.every((t) => t(l));
}

const QUANTITY: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 };
function quantity(q: unknown): number | undefined {
  const m = typeof q === 'string' ? /^(\d+(?:\.\d+)?)(m|k|M|G|Ki|Mi|Gi)?$/.exec(q) : null;
  return m ? Number(m[1]) * QUANTITY[m[2] ?? ''] : undefined;
}

export class FakeApiServer {
  private readonly server: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => EXEC_PROTOCOLS.find((p) => offered.has(p)) ?? false });
  private readonly pods = new Map<string, StoredPod>();
  private rv = 100;
  private history: { rv: number; ns: string; type: string; obj: Json }[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly createFaults: CreateFault[] = [];
  /** watch requests held unanswered (holdWatches) */
  private held: (() => void)[] | null = null;
  private stalled = false;
  /** counters the tests read */
  readonly stats = { creates: 0, deletes: 0, watches: 0, execs: 0, gone410: 0 };
  url = '';

  constructor(private readonly opts: FakeApiServerOptions) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => { this.handle(req, res).catch((e: Error) => this.send(res, failure(500, 'InternalError', e.message))); };
    this.server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket as import('node:net').Socket, head));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** every pod's sandbox destroyed, every connection ended */
  async close(): Promise<void> {
    this.releaseWatches();
    for (const w of [...this.watchers]) this.endWatch(w, false);
    for (const c of this.wss.clients) c.terminate();
    await Promise.all([...this.pods.keys()].map((name) => this.removePod(name)));
    await Promise.all([...this.background]);
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  // --- what the tests see and do -------------------------------------------------

  /** the local sandbox behind a pod (the tests' stand-in for the node agent's view) */
  sandboxOf(name: string): LocalSandbox {
    const s = this.pods.get(name)?.sandbox;
    if (!s) throw new Error(`pod ${name} has no running sandbox`);
    return s;
  }

  /** the local sandbox behind the pod of this UID, while it runs (what a node agent's locator finds on its node) */
  sandboxOfUid(uid: string): LocalSandbox | undefined {
    for (const p of this.pods.values()) if (p.obj.metadata.uid === uid) return p.sandbox ?? undefined;
    return undefined;
  }

  /**
   * A pod some other controller runs, with no sandbox behind it (a DaemonSet's node
   * agent): it is Running on `nodeName` at `podIP` from the start.
   */
  addRunningPod(ns: string, name: string, labels: Record<string, string>, nodeName: string, podIP: string, phase = 'Running'): void {
    const obj: Json = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, namespace: ns, labels, uid: randomUUID(), creationTimestamp: new Date().toISOString() },
      spec: { nodeName, containers: [{ name: 'agent', image: 'registry.example/nslab/server:test' }] },
      status: { phase, podIP },
    };
    this.pods.set(name, { obj, sandbox: null, deadline: null, ending: false });
    this.emit('ADDED', obj);
  }

  pod(name: string): Json | undefined {
    return this.pods.get(name)?.obj;
  }

  /** the last terminal size a client's exec asked for, per pod (channel 4, as the kubelet gets it) */
  readonly ptySizes = new Map<string, { cols: number; rows: number }>();

  podNames(): string[] {
    return [...this.pods.keys()];
  }

  /** the next creates fail, each in the given way */
  failNextCreates(n: number, how: CreateFault): void {
    for (let i = 0; i < n; i++) this.createFaults.push(how);
  }

  /** every open watch's connection dropped (a load balancer's idle cut, an API server restart) */
  dropWatches(): void {
    for (const w of [...this.watchers]) this.endWatch(w, true);
  }

  /** new watch requests wait unanswered until releaseWatches (an API server busy or restarting) */
  holdWatches(): void {
    this.held ??= [];
  }

  releaseWatches(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const go of held) go();
  }

  /** etcd compacts everything so far: every version a client holds is 410 Gone; open watches get the ERROR event */
  resetWatches(): void {
    this.history = [];
    for (const w of [...this.watchers]) {
      w.res.write(`${JSON.stringify({ type: 'ERROR', object: gone(String(this.rv - 1), this.rv) })}\n`);
      this.stats.gone410++;
      this.endWatch(w, false);
    }
  }

  /** exec streams stop reading what clients send (a node whose pty nobody drains), until resumeExecs */
  stallExecs(): void {
    this.stalled = true;
    for (const c of this.wss.clients) c.pause();
  }

  resumeExecs(): void {
    this.stalled = false;
    for (const c of this.wss.clients) c.resume();
  }

  /** SIGKILL the sandbox's init, as an OOM kill or a node's runtime crash would end it */
  async killSandbox(name: string): Promise<void> {
    const s = this.sandboxOf(name);
    const init = (await s.probe.processes()).find((p) => p.pid === 1);
    if (!init) throw new Error(`pod ${name}'s sandbox has no PID 1`);
    process.kill(init.hostPid, 'SIGKILL');
  }

  /** the pod's activeDeadlineSeconds is over, now */
  expire(name: string): void {
    const p = this.pods.get(name);
    if (p) this.deadlineExceeded(name, p);
  }

  // --- the store --------------------------------------------------------------------

  private emit(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: Json): void {
    this.rv++;
    obj.metadata.resourceVersion = String(this.rv);
    const ns = obj.metadata.namespace as string;
    const snapshot = structuredClone(obj);
    this.history.push({ rv: this.rv, ns, type, obj: snapshot });
    const window = this.opts.compactionWindow ?? 1000;
    if (this.history.length > window) this.history.splice(0, this.history.length - window);
    for (const w of this.watchers) if (w.ns === ns && w.selector(snapshot.metadata.labels ?? {})) w.res.write(`${JSON.stringify({ type, object: snapshot })}\n`);
  }

  private modify(name: string, change: (obj: Json) => void): void {
    const p = this.pods.get(name);
    if (!p) return;
    change(p.obj);
    this.emit('MODIFIED', p.obj);
  }

  private track<T>(p: Promise<T>): void {
    const t = p.catch(() => {}).finally(() => this.background.delete(t));
    this.background.add(t);
  }

  /** the "kubelet": runs the pod as a local sandbox */
  private async start(name: string, fault: CreateFault | undefined): Promise<void> {
    const p = this.pods.get(name)!;
    const spec = p.obj.spec;
    const c = spec.containers[0];
    const now = () => new Date().toISOString();
    if (fault === 'unschedulable') {
      this.modify(name, (o) => { o.status.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.' }]; });
      return;
    }
    this.modify(name, (o) => { o.spec.nodeName = 'node-1'; o.status.conditions = [{ type: 'PodScheduled', status: 'True' }]; o.status.startTime = now(); });
    if (c.image !== this.opts.image) {
      this.modify(name, (o) => { o.status.containerStatuses = [{ name: c.name, ready: false, image: c.image, state: { waiting: { reason: 'ErrImagePull', message: `failed to pull image "${c.image}": not found` } } }]; });
      this.modify(name, (o) => { o.status.containerStatuses[0].state = { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` } }; });
      return;
    }
    const failStart = (message: string) => this.modify(name, (o) => {
      o.status.phase = 'Failed';
      o.status.containerStatuses = [{ name: c.name, ready: false, image: c.image, state: { terminated: { reason: 'StartError', message, exitCode: 128 } } }];
    });
    if (fault === 'start-error') return failStart('failed to create containerd task: injected by the test');
    let limitsAnn: { pids?: number; ptys?: number } = {};
    try { limitsAnn = JSON.parse(p.obj.metadata.annotations?.['nslab.io/limits'] ?? '{}'); } catch { /* none */ }
    const deadline = spec.activeDeadlineSeconds as number | undefined;
    let sandbox: LocalSandbox;
    try {
      sandbox = await this.opts.backend.create({
        hostname: spec.hostname,
        label: `kube pod ${name}`,
        limits: {
          memoryBytes: quantity(c.resources?.limits?.memory),
          cpus: quantity(c.resources?.limits?.cpu),
          diskBytes: quantity(spec.volumes?.find((v: Json) => v.emptyDir)?.emptyDir?.sizeLimit),
          pids: limitsAnn.pids,
          ptys: limitsAnn.ptys,
          // the deadline is the API server's to enforce (deadlineExceeded), not the sandbox's own timer
          ...(deadline ? { lifetimeMs: deadline * 1000 + 60_000 } : {}),
        },
      });
    } catch (e) {
      return failStart((e as Error).message);
    }
    if (!this.pods.has(name) || p.ending) { await sandbox.destroy(); return; }
    p.sandbox = sandbox;
    sandbox.onExit(() => {
      if (p.ending || !this.pods.has(name)) return;
      this.modify(name, (o) => {
        o.status.phase = 'Failed';
        o.status.containerStatuses = [{ name: c.name, ready: false, image: c.image, state: { terminated: { reason: 'Error', exitCode: 137 } } }];
        o.status.conditions = o.status.conditions.map((x: Json) => (x.type === 'Ready' ? { ...x, status: 'False' } : x));
      });
    });
    this.modify(name, (o) => {
      o.status.phase = 'Running';
      o.status.podIP = '10.0.0.2';
      o.status.conditions = [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }];
      o.status.containerStatuses = [{ name: c.name, ready: true, started: true, image: c.image, state: { running: { startedAt: now() } } }];
    });
    if (deadline) {
      p.deadline = setTimeout(() => this.deadlineExceeded(name, p), deadline * 1000);
    }
  }

  private deadlineExceeded(name: string, p: StoredPod): void {
    if (p.ending || !this.pods.has(name)) return;
    p.ending = true;
    if (p.deadline) clearTimeout(p.deadline);
    this.modify(name, (o) => {
      o.status.phase = 'Failed';
      o.status.reason = 'DeadlineExceeded';
      o.status.message = 'Pod was active on the node longer than the specified deadline';
    });
    if (p.sandbox) this.track(p.sandbox.destroy());
  }

  /** the object gone from the API (DELETED) once its sandbox is destroyed */
  private async removePod(name: string): Promise<void> {
    const p = this.pods.get(name);
    if (!p) return;
    p.ending = true;
    if (p.deadline) clearTimeout(p.deadline);
    await p.sandbox?.destroy();
    if (this.pods.get(name) !== p) return;
    this.pods.delete(name);
    this.emit('DELETED', p.obj);
  }

  // --- HTTP ----------------------------------------------------------------------

  private send(res: http.ServerResponse, body: Json | Status, code = (body as Status).code ?? 200): void {
    if (res.headersSent) { res.destroy(); return; }
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.opts.token}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!this.authorized(req)) return this.send(res, unauthorized());
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/pods(?:\/([a-z0-9.-]+))?$/.exec(url.pathname);
    if (!m) return this.send(res, failure(404, 'NotFound', 'the server could not find the requested resource'));
    const [, ns, name] = m;
    const body = req.method === 'POST' || req.method === 'DELETE' ? await readJson(req) : undefined;
    if (!name && req.method === 'GET') {
      const selector = parseSelector(url.searchParams.get('labelSelector'));
      if (typeof selector === 'string') return this.send(res, failure(400, 'BadRequest', selector));
      const watch = url.searchParams.get('watch');
      if (watch === '1' || watch === 'true') {
        if (this.held) { this.held.push(() => this.watch(ns, selector, url.searchParams, res)); return; }
        return this.watch(ns, selector, url.searchParams, res);
      }
      let items = [...this.pods.values()].map((p) => p.obj).filter((o) => o.metadata.namespace === ns && selector(o.metadata.labels ?? {}));
      const limit = Number(url.searchParams.get('limit') ?? 0);
      if (limit > 0) items = items.slice(0, limit);
      return this.send(res, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
    }
    if (!name && req.method === 'POST') return this.create(ns, body as Json, res);
    const p = name ? this.pods.get(name) : undefined;
    if (name && req.method === 'GET') return p && p.obj.metadata.namespace === ns ? this.send(res, p.obj) : this.send(res, notFound(name));
    if (name && req.method === 'DELETE') {
      if (!p || p.obj.metadata.namespace !== ns) return this.send(res, notFound(name));
      this.stats.deletes++;
      const grace = Number(url.searchParams.get('gracePeriodSeconds') ?? (body as Json | undefined)?.gracePeriodSeconds ?? p.obj.spec.terminationGracePeriodSeconds ?? 30);
      if (!p.obj.metadata.deletionTimestamp) {
        this.modify(name, (o) => { o.metadata.deletionTimestamp = new Date().toISOString(); o.metadata.deletionGracePeriodSeconds = grace; });
      }
      this.send(res, p.obj);
      this.track(this.removePod(name));
      return;
    }
    return this.send(res, failure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
  }

  private create(ns: string, obj: Json | undefined, res: http.ServerResponse): void {
    if (!obj || obj.kind !== 'Pod' || typeof obj.metadata !== 'object') return this.send(res, failure(400, 'BadRequest', 'the object provided is not a Pod'));
    const name: string = obj.metadata.name ?? (obj.metadata.generateName ? `${obj.metadata.generateName}${randomUUID().slice(0, 5)}` : '');
    const causes: { field: string; message: string }[] = [];
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'` });
    if (obj.metadata.namespace && obj.metadata.namespace !== ns) return this.send(res, failure(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
    const containers = obj.spec?.containers;
    if (!Array.isArray(containers) || containers.length === 0) causes.push({ field: 'spec.containers', message: 'Required value' });
    else containers.forEach((c: Json, i: number) => {
      if (!c.image) causes.push({ field: `spec.containers[${i}].image`, message: 'Required value' });
      if (c.securityContext?.procMount === 'Unmasked' && obj.spec.hostUsers !== false) causes.push({ field: `spec.containers[${i}].securityContext.procMount`, message: 'Invalid value: "Unmasked": `hostUsers` must be false to use `Unmasked`' });
    });
    if (causes.length) return this.send(res, invalid(name, causes));
    if (this.pods.has(name)) return this.send(res, alreadyExists(name));
    const fault = this.createFaults.shift();
    if (fault === 'admission') return this.send(res, failure(422, 'Invalid', `pods "${name}" is forbidden: ValidatingAdmissionPolicy 'nslab-sandbox-pods' with binding 'nslab-sandbox-pods' denied request: injected by the test`));
    this.stats.creates++;
    const stored: Json = structuredClone(obj);
    stored.apiVersion = 'v1';
    stored.metadata = { ...stored.metadata, name, namespace: ns, uid: randomUUID(), creationTimestamp: new Date().toISOString() };
    delete stored.metadata.generateName;
    stored.status = { phase: 'Pending', qosClass: 'Burstable' };
    const p: StoredPod = { obj: stored, sandbox: null, deadline: null, ending: false };
    this.pods.set(name, p);
    this.emit('ADDED', stored);
    this.send(res, stored, 201);
    this.track(this.start(name, fault));
  }

  private watch(ns: string, selector: Selector, q: URLSearchParams, res: http.ServerResponse): void {
    this.stats.watches++;
    const fromRv = q.get('resourceVersion');
    const seconds = Number(q.get('timeoutSeconds') ?? this.opts.defaultWatchSeconds ?? 1800);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { ns, selector, res, timer: setTimeout(() => this.endWatch(w, false), seconds * 1000) };
    const write = (type: string, obj: Json) => res.write(`${JSON.stringify({ type, object: obj })}\n`);
    if (!fromRv || fromRv === '0') {
      // "start at most recent": the current state as ADDED events, then what follows
      for (const p of this.pods.values()) if (p.obj.metadata.namespace === ns && selector(p.obj.metadata.labels ?? {})) write('ADDED', p.obj);
    } else {
      const want = Number(fromRv);
      const oldest = this.history.length ? this.history[0].rv - 1 : this.rv;
      if (!Number.isInteger(want) || want < oldest) {
        this.stats.gone410++;
        write('ERROR', gone(fromRv, oldest));
        clearTimeout(w.timer);
        res.end();
        return;
      }
      for (const h of this.history) if (h.rv > want && h.ns === ns && selector(h.obj.metadata.labels ?? {})) write(h.type, h.obj);
    }
    this.watchers.add(w);
    res.on('close', () => { clearTimeout(w.timer); this.watchers.delete(w); });
  }

  private endWatch(w: Watcher, drop: boolean): void {
    clearTimeout(w.timer);
    this.watchers.delete(w);
    if (drop) w.res.destroy(); else w.res.end();
  }

  private upgrade(req: http.IncomingMessage, socket: import('node:net').Socket, head: Buffer): void {
    const refuse = (st: Status) => {
      const body = JSON.stringify(st);
      socket.end(`HTTP/1.1 ${st.code} ${http.STATUS_CODES[st.code ?? 400]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    if (!this.authorized(req)) return refuse(unauthorized());
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/pods\/([a-z0-9.-]+)\/exec$/.exec(url.pathname);
    if (!m) return refuse(failure(404, 'NotFound', 'the server could not find the requested resource'));
    const p = this.pods.get(m[2]);
    if (!p || p.obj.metadata.namespace !== m[1]) return refuse(notFound(m[2]));
    const params = parseExecParams(url.searchParams);
    if (typeof params === 'string') return refuse(failure(400, 'BadRequest', params));
    const container = url.searchParams.get('container') ?? p.obj.spec.containers[0].name;
    if (!p.obj.spec.containers.some((c: Json) => c.name === container)) return refuse(failure(400, 'BadRequest', `container ${container} is not valid for pod ${m[2]}`));
    if (!p.sandbox || p.obj.status.phase !== 'Running' || p.sandbox.state !== 'running') return refuse(failure(400, 'BadRequest', `unable to upgrade connection: container not found ("${container}")`));
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    if (!offered.some((o) => (EXEC_PROTOCOLS as readonly string[]).includes(o))) return refuse(failure(400, 'BadRequest', `unable to upgrade: no supported subprotocol in ${offered.join(', ') || '(none)'}`));
    const sandbox = p.sandbox;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.stats.execs++;
      if (this.stalled) ws.pause();
      let done: () => void = () => {};
      this.track(new Promise<void>((resolve) => { done = resolve; }));
      serveExec(ws, sandbox, params, () => done(), (cols, rows) => this.ptySizes.set(m[2], { cols, rows }));
    });
  }
}

function readJson(req: http.IncomingMessage): Promise<Json | undefined> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      if (!text) return resolve(undefined);
      try { resolve(JSON.parse(text) as Json); } catch (e) { reject(e); }
    });
    req.on('error', reject);
  });
}
