/**
 * The few Kubernetes API calls the sandbox back end makes (docs/kubernetes.md,
 * "The back end"), on node:http(s) and `ws` rather than @kubernetes/client-node:
 * five calls (create, get, list, delete pods; watch) and one WebSocket (exec) do not
 * need its dependency tree, and owning the watch loop is what lets the driver handle
 * 410 Gone and a closing watch the way it wants (pod-watch.ts).
 *
 * Auth: in the cluster, the ServiceAccount token (re-read as the kubelet rotates it)
 * and the cluster's CA; for tests and out-of-cluster use, a URL and a token.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** a bound token is valid for about an hour and rotated well before: reading it once a minute is plenty */
const TOKEN_REREAD_MS = 60_000;

export interface KubeConnection {
  /** https://host:port (in the cluster) or http://127.0.0.1:port (the tests' in-process API server) */
  apiUrl: string;
  /** the bearer token; a function so a rotated token file is picked up */
  token(): string;
  /** PEM of the CA that signed the API server's certificate (https only) */
  ca?: string;
}

/** The front's ServiceAccount, as the kubelet mounts it in the front's pod. */
export function inClusterConnection(dir = SA_DIR, env: NodeJS.ProcessEnv = process.env, rereadMs = TOKEN_REREAD_MS): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new Error('KUBERNETES_SERVICE_HOST is not set: this is not a pod in a cluster (give an API URL instead)');
  let token = '';
  let readAt = 0;
  return {
    apiUrl: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readFileSync(`${dir}/ca.crt`, 'utf8'),
    token() {
      if (!token || Date.now() - readAt >= rereadMs) {
        token = readFileSync(`${dir}/token`, 'utf8').trim();
        readAt = Date.now();
      }
      return token;
    },
  };
}

/** An API URL and a fixed token (tests, or a front run outside the cluster with a token of its ServiceAccount). */
export function urlConnection(apiUrl: string, token: string, ca?: string): KubeConnection {
  const u = new URL(apiUrl);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`API URL ${apiUrl}: http:// or https:// only`);
  return { apiUrl: u.origin, token: () => token, ca };
}

/**
 * An API URL and a token file (a front outside the cluster, given a token of its
 * ServiceAccount); the file is read again each minute, so a rotated token is taken.
 */
export function tokenFileConnection(apiUrl: string, tokenFile: string, caFile?: string, rereadMs = TOKEN_REREAD_MS): KubeConnection {
  const conn = urlConnection(apiUrl, '', caFile ? readFileSync(caFile, 'utf8') : undefined);
  let token = '';
  let readAt = 0;
  const read = () => {
    if (!token || Date.now() - readAt >= rereadMs) {
      token = readFileSync(tokenFile, 'utf8').trim();
      readAt = Date.now();
    }
    return token;
  };
  read();
  return { ...conn, token: read };
}

/** A Status object, what the API server answers a failed call with. */
const statusSchema = z.object({
  kind: z.literal('Status').optional(),
  status: z.string().optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  code: z.number().optional(),
  details: z.object({ causes: z.array(z.object({ reason: z.string().optional(), message: z.string().optional(), field: z.string().optional() })).optional() }).passthrough().optional(),
}).passthrough();
export type KubeStatus = z.infer<typeof statusSchema>;

export function parseStatus(v: unknown): KubeStatus | null {
  const r = statusSchema.safeParse(v);
  return r.success ? r.data : null;
}

export class ApiError extends Error {
  constructor(readonly method: string, readonly path: string, readonly code: number, readonly reason: string, detail: string) {
    super(`Kubernetes API ${method} ${path}: ${code} ${reason}${detail ? `: ${detail}` : ''}`);
    this.name = 'ApiError';
  }
}

export class KubeApi {
  private readonly base: URL;
  private readonly agent: http.Agent;

  constructor(readonly conn: KubeConnection) {
    this.base = new URL(conn.apiUrl);
    this.agent = this.base.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, ca: conn.ca })
      : new http.Agent({ keepAlive: true });
  }

  /** ws:// or wss:// for a path, and the options `ws` needs to open it with our credentials */
  wsTarget(path: string): { url: string; options: { headers: Record<string, string>; ca?: string } } {
    const u = new URL(path, this.base);
    u.protocol = this.base.protocol === 'https:' ? 'wss:' : 'ws:';
    return { url: u.toString(), options: { headers: { Authorization: `Bearer ${this.conn.token()}` }, ...(this.conn.ca ? { ca: this.conn.ca } : {}) } };
  }

  private open(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<http.IncomingMessage> {
    const u = new URL(path, this.base);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const mod = u.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(u, {
        method,
        agent: this.agent,
        headers: {
          Accept: 'application/json',
          Authorization: `Bearer ${this.conn.token()}`,
          ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {}),
        },
      }, resolve);
      // a stalled connection (not a long watch: that one's socket is given no timeout)
      if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(new Error(`Kubernetes API ${method} ${u.pathname}: ${e.message}`)));
      req.end(data);
    });
  }

  /** one call; the parsed JSON body on 2xx, an ApiError with the Status' reason otherwise */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.open(method, path, body);
    const text = await readAll(res);
    let json: unknown = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: a proxy's error page, say */ }
    const code = res.statusCode ?? 0;
    if (code >= 200 && code < 300) return json as T;
    const st = parseStatus(json);
    throw new ApiError(method, path.split('?')[0], code, st?.reason ?? (res.statusMessage || 'Error'), st?.message ?? text.slice(0, 200));
  }

  /**
   * A watch: the response stream of newline-separated events, once the server has
   * answered 200; an ApiError otherwise (410 Gone among them).
   */
  async watch(path: string): Promise<http.IncomingMessage> {
    const res = await this.open('GET', path, undefined, 0);
    if (res.statusCode === 200) return res;
    const text = await readAll(res);
    let st: KubeStatus | null = null;
    try { st = parseStatus(JSON.parse(text)); } catch { /* not JSON */ }
    throw new ApiError('GET', path.split('?')[0], res.statusCode ?? 0, st?.reason ?? 'Error', st?.message ?? text.slice(0, 200));
  }

  close(): void {
    this.agent.destroy();
  }
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (b: Buffer) => parts.push(b));
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', reject);
  });
}
