/**
 * The front's side of the node agent (agent-server.ts): a Probe whose every method is
 * one fixed operation over mutual TLS, and the pod's command events as a stream.
 * Answers are checked against agent-protocol.ts before a check sees them, so a
 * broken or impersonated agent gives errors, never made-up state.
 *
 * The agent's certificate is checked against the install's CA and the one name all
 * agents share (AGENT_SERVER_NAME), not the address: fronts reach agents by pod IP,
 * which no certificate can list ahead of time.
 */
import { Agent, request } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { z } from 'zod';
import type { Capabilities, NamespaceOwners, TimeOffsets, UserNamespaceInfo } from '../sandbox/identity.ts';
import type { NetState } from '../sandbox/net-state.ts';
import type {
  CgroupInfo, CommandEvent, MountInfo, MqueueEntry, NamespaceInfo, NamespaceSet, NsinfoSection, ProcessInfo, Probe, SysvIpc,
} from '../sandbox/types.ts';
import { commandStreamLine, resultSchemas, type Operation } from './agent-protocol.ts';

/** the DNS name in every agent's certificate (docs/kubernetes.md, "TLS material") */
export const AGENT_SERVER_NAME = 'nslab-agent';
const REQUEST_TIMEOUT_MS = 20_000;
const MAX_ANSWER_BYTES = 64 << 20;
const MAX_STREAM_LINE = 1 << 20;

export interface AgentClientTls {
  /** the front's client certificate and key, and the CA that signed the agents' (PEM) */
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
  /** the name the agent's certificate must carry; default AGENT_SERVER_NAME */
  serverName?: string;
}

/** the agent answered with an error: its HTTP status, code and message */
export class AgentRequestError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'AgentRequestError';
  }
}

export class AgentClient {
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(agentUrl: string, private readonly tls: AgentClientTls) {
    this.base = new URL(agentUrl);
    if (this.base.protocol !== 'https:') throw new Error(`the agent URL must be https://, not ${agentUrl}`);
    const name = tls.serverName ?? AGENT_SERVER_NAME;
    this.agent = new Agent({
      keepAlive: true, maxSockets: 64, cert: tls.cert, key: tls.key, ca: tls.ca, servername: name,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
    });
  }

  private url(podUid: string, op: string): URL {
    return new URL(`/v1/pods/${encodeURIComponent(podUid)}/${op}`, this.base);
  }

  /** one operation; the answer checked against its schema */
  async call<O extends Operation>(podUid: string, op: O, body: object): Promise<z.infer<(typeof resultSchemas)[O]>> {
    const text = JSON.stringify(body);
    const { status, data } = await new Promise<{ status: number; data: string }>((resolve, reject) => {
      const req = request(this.url(podUid, op), {
        method: 'POST', agent: this.agent, timeout: REQUEST_TIMEOUT_MS,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) { req.destroy(new Error(`the agent's answer to ${op} is larger than ${MAX_ANSWER_BYTES} bytes`)); return; }
          chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, data: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`the node agent did not answer ${op} within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(text);
    });
    let json: unknown;
    try { json = JSON.parse(data); } catch { throw new AgentRequestError(status, 'bad_answer', `the node agent's answer to ${op} is not JSON (HTTP ${status})`); }
    if (status !== 200) {
      const err = (json as { error?: { code?: unknown; message?: unknown } })?.error;
      throw new AgentRequestError(status, typeof err?.code === 'string' ? err.code : 'error', typeof err?.message === 'string' ? err.message : `the node agent answered HTTP ${status}`);
    }
    const parsed = resultSchemas[op].safeParse((json as { result?: unknown })?.result);
    if (!parsed.success) throw new AgentRequestError(status, 'bad_answer', `the node agent's answer to ${op} does not fit the protocol: ${parsed.error.issues[0]?.message ?? ''}`);
    return parsed.data as z.infer<(typeof resultSchemas)[O]>;
  }

  /**
   * The pod's command events: first those so far (the agent keeps the pod's
   * history), then each as it comes. `onEnd` once the stream ends, with why.
   * Returns a function that stops it.
   */
  commands(podUid: string, onEvent: (e: CommandEvent) => void, onEnd: (reason: string) => void): () => void {
    let ended = false;
    const end = (why: string) => { if (!ended) { ended = true; onEnd(why); } };
    const req = request(this.url(podUid, 'commands'), { method: 'GET', agent: this.agent }, (res) => {
      if (res.statusCode !== 200) {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { if (data.length < 65536) data += c; });
        res.on('end', () => {
          let message = `the node agent answered HTTP ${res.statusCode}`;
          try { message = (JSON.parse(data) as { error: { message: string } }).error.message ?? message; } catch { /* not the error shape */ }
          end(message);
        });
        return;
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let parsed;
          try { parsed = commandStreamLine.safeParse(JSON.parse(line)); } catch { parsed = null; }
          if (!parsed?.success) { end('the node agent sent a line that is not a command event'); req.destroy(); return; }
          if ('end' in parsed.data) { end(parsed.data.end); return; }
          onEvent(parsed.data.event);
        }
        if (buf.length > MAX_STREAM_LINE) { end('the node agent sent an overlong line'); req.destroy(); }
      });
      res.on('end', () => end('the node agent closed the stream'));
      res.on('error', (err) => end(err.message));
    });
    req.on('error', (err) => end(err.message));
    req.end();
    return () => { ended = true; req.destroy(); };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Probe over the node agent: what a Kubernetes back end gives its sandboxes' checks. */
export class AgentProbe implements Probe {
  constructor(readonly client: AgentClient, readonly podUid: string) {}

  private call<O extends Operation>(op: O, body: object = {}) {
    return this.client.call(this.podUid, op, body);
  }

  processes(): Promise<ProcessInfo[]> { return this.call('processes'); }
  rootNamespaces(): Promise<NamespaceSet> { return this.call('rootNamespaces'); }
  readFile(hostPid: number, path: string): Promise<string | null> { return this.call('readFile', { hostPid, path }); }
  sysvipc(hostPid: number): Promise<SysvIpc> { return this.call('sysvipc', { hostPid }); }
  mqueue(hostPid: number): Promise<MqueueEntry[]> { return this.call('mqueue', { hostPid }); }
  sysctl(hostPid: number, name: string): Promise<string> { return this.call('sysctl', { hostPid, name }); }
  hostname(hostPid: number): Promise<string> { return this.call('hostname', { hostPid }); }
  mounts(hostPid: number): Promise<MountInfo[]> { return this.call('mounts', { hostPid }); }
  mountsBounded(hostPid: number, maxBytes: number): Promise<{ mounts: MountInfo[]; complete: boolean }> { return this.call('mountsBounded', { hostPid, maxBytes }); }
  cgroups(): Promise<CgroupInfo[]> { return this.call('cgroups'); }
  net(hostPid: number, pinned?: string): Promise<NetState | null> { return this.call('net', pinned === undefined ? { hostPid } : { hostPid, pinned }); }
  userNamespace(hostPid: number): Promise<UserNamespaceInfo> { return this.call('userNamespace', { hostPid }); }
  namespaceOwners(hostPid: number): Promise<NamespaceOwners> { return this.call('namespaceOwners', { hostPid }); }
  capabilities(hostPid: number): Promise<Capabilities> { return this.call('capabilities', { hostPid }); }
  timeOffsets(hostPid: number): Promise<TimeOffsets> { return this.call('timeOffsets', { hostPid }); }

  async namespaceInfo(requests: readonly { hostPid: number; sections: readonly NsinfoSection[] }[], maxBytes: number): Promise<Map<number, NamespaceInfo | Error>> {
    const rows = await this.call('namespaceInfo', { requests: requests.map((r) => ({ hostPid: r.hostPid, sections: [...r.sections] })), maxBytes });
    return new Map(rows.map(([pid, v]) => [pid, 'info' in v ? v.info : new Error(v.error)]));
  }

  /** the pod's command events (history first); see AgentClient.commands */
  commands(onEvent: (e: CommandEvent) => void, onEnd: (reason: string) => void): () => void {
    return this.client.commands(this.podUid, onEvent, onEnd);
  }
}

/** A Probe for one pod through its node's agent (a client of its own; share an AgentClient for many pods). */
export function agentProbeFor(opts: { agentUrl: string; tls: AgentClientTls; podUid: string }): AgentProbe {
  return new AgentProbe(new AgentClient(opts.agentUrl, opts.tls), opts.podUid);
}

const MAX_COMMAND_EVENTS = 5000;

/**
 * A pod's command log as a Sandbox shows it (commands(), onCommand()), kept from the
 * agent's stream: what a Kubernetes back end's sandbox hands the terminals, the
 * grader and the check engine. One stream for the pod's life; it does not reconnect
 * (the agent replays the history to a new stream: a caller that reconnects must
 * drop what it has, or see events twice).
 */
export class AgentCommandFeed {
  private readonly events: CommandEvent[] = [];
  private readonly listeners = new Set<(e: CommandEvent) => void>();
  private readonly stop: () => void;
  private _ended: string | null = null;

  constructor(probe: AgentProbe) {
    this.stop = probe.commands((e) => {
      this.events.push(e);
      if (this.events.length > MAX_COMMAND_EVENTS) this.events.splice(0, this.events.length - MAX_COMMAND_EVENTS);
      for (const l of this.listeners) {
        try { l(e); } catch (err) { console.error('nslab: command listener failed', err); }
      }
    }, (why) => { this._ended = why; });
  }

  all(): readonly CommandEvent[] {
    return this.events;
  }

  subscribe(listener: (e: CommandEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** why the stream ended, or null while it runs */
  ended(): string | null {
    return this._ended;
  }

  close(): void {
    this.stop();
    this.listeners.clear();
  }
}
