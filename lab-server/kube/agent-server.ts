/**
 * The node agent (`nslab agent`, docs/kubernetes.md "The node agent"): the probe of one
 * host, pointed at the sandbox pods of this node, answering the fronts only.
 *
 * - Mutual TLS: a client must show a certificate from the fronts' CA; anything else
 *   is refused in the handshake, before a byte of HTTP is read.
 * - Fixed operations (agent-protocol.ts), one per Probe method, each body checked
 *   with zod: nothing here runs a command, and a pid that is not the pod's is
 *   refused by the probe itself (probe.ts, LocalProbe.own).
 * - Bounded: request bodies, one token bucket per client certificate, and the
 *   commands stream ends a reader that does not keep up.
 *
 * The commands stream is newline-delimited JSON on a long GET rather than a
 * WebSocket: it flows one way, so it needs no framing of its own, and it stays on
 * the same TLS server, authentication, rate limit and error shape as every other
 * operation (no upgrade path to guard separately).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import type { ApiErrorBody } from '../contract/api-error.ts';
import { RateLimiter, type BucketOptions } from '../lib/rate-limit.ts';
import { ForeignProcessError, LocalProbe } from '../sandbox/probe.ts';
import type { CommandEvent, Probe } from '../sandbox/types.ts';
import { MAX_BODY_BYTES, OPERATIONS, podUidSchema, requestSchemas, type Operation } from './agent-protocol.ts';
import type { PodLocator, PodSandbox } from './pod-locator.ts';

export interface AgentTls {
  /** the agent's certificate and key (PEM) */
  cert: string | Buffer;
  key: string | Buffer;
  /** the CA that signs the fronts' client certificates, and only that (PEM) */
  ca: string | Buffer;
}

export interface AgentOptions {
  port: number;
  /** default: every interface (the DaemonSet's pod port) */
  host?: string;
  tls: AgentTls;
  locator: PodLocator;
  /** helpers/nslab-probe.c, built */
  helperBin: string;
  /** per client certificate; the default is far above what a front's check rounds need */
  rateLimit?: BucketOptions;
}

export interface RunningAgent {
  readonly port: number;
  readonly url: string;
  /** requests answered per operation (for /metrics and tests) */
  readonly served: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/** a front polls every open sandbox's checks: a few hundred sandboxes per front, a dozen probes each per round */
const DEFAULT_RATE: BucketOptions = { burst: 5000, perMinute: 300_000, maxKeys: 1000 };
/** a commands-stream reader this far behind is dropped (it reconnects and gets the history again) */
const MAX_STREAM_BACKLOG = 1 << 20;
const STREAM_LIVENESS_MS = 1000;

class AgentError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly retryAfterSeconds?: number) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, e: AgentError): void {
  const body: ApiErrorBody = { error: { code: e.code, message: e.message, ...(e.retryAfterSeconds !== undefined ? { retryAfterSeconds: e.retryAfterSeconds } : {}) } };
  sendJson(res, e.status, body, e.retryAfterSeconds !== undefined ? { 'retry-after': String(e.retryAfterSeconds) } : {});
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) { reject(new AgentError(413, 'body_too_large', `a request body may be at most ${MAX_BODY_BYTES} bytes`)); return; }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new AgentError(413, 'body_too_large', `a request body may be at most ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const zodMessage = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');

/** runs one operation on the pod's probe; the body has been validated */
async function perform(probe: Probe, op: Operation, body: Record<string, unknown>): Promise<unknown> {
  const b = body as { hostPid: number; path: string; name: string; maxBytes: number; pinned?: string; requests: { hostPid: number; sections: [] }[] };
  switch (op) {
    case 'processes': return probe.processes();
    case 'rootNamespaces': return probe.rootNamespaces();
    case 'cgroups': return probe.cgroups();
    case 'readFile': return probe.readFile(b.hostPid, b.path);
    case 'sysvipc': return probe.sysvipc(b.hostPid);
    case 'mqueue': return probe.mqueue(b.hostPid);
    case 'sysctl': return probe.sysctl(b.hostPid, b.name);
    case 'hostname': return probe.hostname(b.hostPid);
    case 'mounts': return probe.mounts(b.hostPid);
    case 'mountsBounded': return probe.mountsBounded(b.hostPid, b.maxBytes);
    case 'net': return probe.net(b.hostPid, b.pinned);
    case 'userNamespace': return probe.userNamespace(b.hostPid);
    case 'namespaceOwners': return probe.namespaceOwners(b.hostPid);
    case 'capabilities': return probe.capabilities(b.hostPid);
    case 'timeOffsets': return probe.timeOffsets(b.hostPid);
    case 'namespaceInfo': {
      const m = await probe.namespaceInfo(b.requests, b.maxBytes);
      return [...m].map(([pid, v]) => [pid, v instanceof Error ? { error: v.message } : { info: v }]);
    }
  }
}

/** the probe's own refusals and input errors, as the HTTP answers a front can act on */
function probeError(err: unknown): AgentError {
  if (err instanceof AgentError) return err;
  if (err instanceof z.ZodError) return new AgentError(400, 'bad_request', zodMessage(err));
  const message = (err as Error)?.message ?? String(err);
  if (err instanceof ForeignProcessError) return new AgentError(403, 'not_in_pod', message);
  if (/ is not running$/.test(message)) return new AgentError(404, 'pod_not_running', message);
  return new AgentError(500, 'probe_failed', message);
}

export function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const limiter = new RateLimiter(opts.rateLimit ?? DEFAULT_RATE);
  const probes = new WeakMap<PodSandbox, LocalProbe>();
  const served = new Map<string, number>();
  const streams = new Set<ServerResponse>();
  const probeOf = (pod: PodSandbox) => {
    let p = probes.get(pod);
    if (!p) probes.set(pod, (p = new LocalProbe(pod.target, opts.helperBin)));
    return p;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // the handshake checked the chain against the fronts' CA; the certificate names the client for the rate limit
    const cert = (req.socket as TLSSocket).getPeerCertificate();
    const client = cert?.fingerprint256;
    if (!client || !(req.socket as TLSSocket).authorized) throw new AgentError(401, 'unauthorized', 'a client certificate from the fronts\' CA is required');
    const wait = limiter.takeOrWait(client);
    if (wait > 0) throw new AgentError(429, 'rate_limited', `too many requests from this client; retry in ${wait} s`, wait);

    const url = new URL(req.url ?? '/', 'https://agent');
    const m = /^\/v1\/pods\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (!m) throw new AgentError(404, 'not_found', `no such resource ${url.pathname}; the agent answers /v1/pods/POD_UID/OPERATION`);
    const [, rawUid, op] = m;
    let uid: string;
    try { uid = decodeURIComponent(rawUid); } catch { throw new AgentError(404, 'no_such_pod', 'the pod UID in the path is not a pod UID (a lower-case UUID)'); }
    const isStream = op === 'commands';
    if (!isStream && !(OPERATIONS as string[]).includes(op)) {
      throw new AgentError(400, 'unknown_operation', `unknown operation '${op}'; the agent answers: ${[...OPERATIONS, 'commands'].join(', ')}`);
    }
    const wantMethod = isStream ? 'GET' : 'POST';
    if (req.method !== wantMethod) throw new AgentError(405, 'method_not_allowed', `${op} is a ${wantMethod}`);
    if (!podUidSchema.safeParse(uid).success) throw new AgentError(404, 'no_such_pod', `'${uid.slice(0, 64)}' is not a pod UID (a lower-case UUID)`);

    let body: Record<string, unknown> = {};
    if (!isStream) {
      const text = await readBody(req);
      let json: unknown = {};
      if (text.trim()) {
        try { json = JSON.parse(text); } catch { throw new AgentError(400, 'bad_request', 'the request body is not JSON'); }
      }
      const parsed = requestSchemas[op as Operation].safeParse(json);
      if (!parsed.success) throw new AgentError(400, 'bad_request', `bad ${op} request: ${zodMessage(parsed.error)}`);
      body = parsed.data as Record<string, unknown>;
    }

    const pod = opts.locator.locate(uid);
    if (!pod) throw new AgentError(404, 'no_such_pod', `no sandbox pod ${uid} runs on this node`);
    served.set(op, (served.get(op) ?? 0) + 1);
    if (isStream) { streamCommands(pod, req, res); return; }
    let result: unknown;
    try { result = await perform(probeOf(pod), op as Operation, body); } catch (err) { throw probeError(err); }
    sendJson(res, 200, { result });
  };

  const streamCommands = (pod: PodSandbox, req: IncomingMessage, res: ServerResponse) => {
    const source = pod.commands();
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    streams.add(res);
    let done = false;
    let off: () => void = () => {};
    let timer: NodeJS.Timeout | undefined;
    const finish = (why: string | null) => {
      if (done) return;
      done = true;
      off();
      clearInterval(timer);
      streams.delete(res);
      if (why !== null && !res.destroyed) res.end(`${JSON.stringify({ end: why })}\n`);
      else res.destroy();
    };
    const send = (e: CommandEvent) => {
      if (done) return;
      res.write(`${JSON.stringify({ event: e })}\n`);
      if (res.writableLength > MAX_STREAM_BACKLOG) finish('the reader fell too far behind; reconnect to get the history again');
    };
    for (const e of source.all()) send(e);
    if (done) return;
    off = source.subscribe(send);
    timer = setInterval(() => {
      if (!pod.alive()) finish(`the sandbox of pod ${pod.podUid} is gone`);
      else { const ended = source.ended?.(); if (ended) finish(`the command log of pod ${pod.podUid} ended: ${ended}`); }
    }, STREAM_LIVENESS_MS);
    timer.unref();
    req.on('close', () => finish(null));
    res.on('close', () => finish(null));
  };

  const server: Server = createServer({
    cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca,
    requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2',
  }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof AgentError ? err : probeError(err);
      if (res.headersSent) { res.destroy(); return; }
      sendError(res, e);
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const prune = setInterval(() => limiter.prune(), 60_000);
  prune.unref();

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const host = opts.host && opts.host !== '0.0.0.0' && opts.host !== '::' ? opts.host : '127.0.0.1';
      resolve({
        port,
        url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
        served,
        close: () => new Promise<void>((done) => {
          clearInterval(prune);
          for (const s of streams) s.destroy();
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}
