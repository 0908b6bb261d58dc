/**
 * One list-and-watch of the sandbox pods of an install, the way client-go's
 * reflector keeps a cache: list (a resourceVersion), watch from it, and
 *  - when the watch ends (the server's timeoutSeconds, a dropped connection), watch
 *    again from the last resourceVersion seen;
 *  - when the server says that version is gone (410 Gone, as an HTTP answer or as an
 *    ERROR event: etcd compacted it), list again and tell the listeners what changed
 *    meanwhile, a pod missing from the new list as DELETED.
 * So a listener sees every pod's last state, even across resets, and never a stale
 * one twice in a way that matters (events are by pod, not by change).
 */
import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { ApiError, type KubeApi, parseStatus } from './api-client.ts';

const containerStateSchema = z.object({
  waiting: z.object({ reason: z.string().optional(), message: z.string().optional() }).passthrough().optional(),
  running: z.object({}).passthrough().optional(),
  terminated: z.object({ reason: z.string().optional(), message: z.string().optional(), exitCode: z.number().optional() }).passthrough().optional(),
}).passthrough();

/** the parts of a Pod the driver reads; the rest passes through untouched */
export const podSchema = z.object({
  metadata: z.object({
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    creationTimestamp: z.string().optional(),
    deletionTimestamp: z.string().optional(),
  }).passthrough(),
  spec: z.object({ nodeName: z.string().optional() }).passthrough().optional(),
  status: z.object({
    phase: z.string().optional(),
    reason: z.string().optional(),
    message: z.string().optional(),
    startTime: z.string().optional(),
    conditions: z.array(z.object({ type: z.string(), status: z.string(), reason: z.string().optional(), message: z.string().optional() }).passthrough()).optional(),
    containerStatuses: z.array(z.object({ name: z.string(), ready: z.boolean().optional(), state: containerStateSchema.optional() }).passthrough()).optional(),
  }).passthrough().optional(),
}).passthrough();
export type Pod = z.infer<typeof podSchema>;

const podListSchema = z.object({ metadata: z.object({ resourceVersion: z.string() }).passthrough(), items: z.array(podSchema) });
const watchEventSchema = z.object({ type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']), object: z.unknown() });

export type PodEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export type PodListener = (type: PodEventType, pod: Pod) => void;

export interface PodWatchOptions {
  namespace: string;
  labelSelector: string;
  /** how long the server keeps one watch open; client-go picks 5 to 10 minutes */
  timeoutSeconds?: number;
  /** for operators: a reset or a failed call */
  log?: (line: string) => void;
}

export class PodWatch {
  private readonly pods = new Map<string, Pod>();
  private readonly listeners = new Set<PodListener>();
  private rv: string | null = null;
  private stopped = false;
  private current: IncomingMessage | null = null;
  private loop: Promise<void> | null = null;
  private synced: Promise<void>;
  private markSynced!: () => void;
  private failSync!: (e: Error) => void;
  /** lists since start: 1 + the resets (410 Gone) survived; for tests and metrics */
  lists = 0;

  constructor(private readonly api: KubeApi, private readonly opts: PodWatchOptions) {
    this.synced = new Promise((resolve, reject) => { this.markSynced = resolve; this.failSync = reject; });
    this.synced.catch(() => { /* the caller of start() hears it */ });
  }

  /** resolves once the first list is in (rejects if that list fails: no credentials, no RBAC) */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.synced;
  }

  /** the first list failed (no credentials, no RBAC): the next start() tries again */
  private restartable(e: Error): void {
    const failed = this.failSync;
    this.loop = null;
    this.synced = new Promise((resolve, reject) => { this.markSynced = resolve; this.failSync = reject; });
    this.synced.catch(() => {});
    failed(e);
  }

  get(name: string): Pod | undefined {
    return this.pods.get(name);
  }

  all(): Pod[] {
    return [...this.pods.values()];
  }

  subscribe(l: PodListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.destroy();
    await this.loop?.catch(() => {});
  }

  private emit(type: PodEventType, pod: Pod): void {
    for (const l of [...this.listeners]) {
      try { l(type, pod); } catch (e) { this.opts.log?.(`pod watch listener failed: ${(e as Error).message}`); }
    }
  }

  private base(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.opts.namespace)}/pods?labelSelector=${encodeURIComponent(this.opts.labelSelector)}`;
  }

  private async relist(): Promise<void> {
    const list = podListSchema.parse(await this.api.call('GET', this.base()));
    this.lists++;
    const seen = new Set<string>();
    for (const pod of list.items) {
      seen.add(pod.metadata.name);
      const old = this.pods.get(pod.metadata.name);
      this.pods.set(pod.metadata.name, pod);
      if (!old) this.emit('ADDED', pod);
      else if (old.metadata.resourceVersion !== pod.metadata.resourceVersion) this.emit('MODIFIED', pod);
    }
    // gone while we were not watching: deleted, as far as anyone here is concerned
    for (const [name, pod] of [...this.pods]) {
      if (!seen.has(name)) { this.pods.delete(name); this.emit('DELETED', pod); }
    }
    this.rv = list.metadata.resourceVersion;
  }

  private async run(): Promise<void> {
    let backoff = 500;
    let first = true;
    while (!this.stopped) {
      try {
        if (this.rv === null) await this.relist();
        if (first) { first = false; this.markSynced(); }
        const timeout = this.opts.timeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
        const res = await this.api.watch(`${this.base()}&watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(this.rv!)}&timeoutSeconds=${timeout}`);
        const opened = Date.now();
        if (this.stopped) { res.destroy(); return; }
        this.current = res;
        const events = await this.consume(res);
        this.current = null;
        // a watch the server ends at once, again and again (an overloaded API server, a
        // proxy cutting it), must not become a busy loop of requests: back off as client-go does
        if (events === 0 && this.rv !== null && Date.now() - opened < 1000) {
          await delay(backoff, undefined, { ref: false });
          backoff = Math.min(backoff * 2, 30_000);
        } else backoff = 500;
      } catch (e) {
        this.current = null;
        if (first) { this.restartable(e as Error); return; }
        if (this.stopped) return;
        if (e instanceof ApiError && e.code === 410) {
          this.opts.log?.(`pod watch: resourceVersion ${this.rv} is gone (410): listing again`);
          this.rv = null;
          continue;
        }
        this.opts.log?.(`pod watch: ${(e as Error).message}; again in ${backoff} ms`);
        await delay(backoff, undefined, { ref: false });
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  /** reads one watch to its end, resolving with how many events it had; a 410 ERROR event sets rv to null (list again) */
  private consume(res: IncomingMessage): Promise<number> {
    return new Promise((resolve) => {
      let events = 0;
      const decoder = new StringDecoder('utf8');
      let buf = '';
      let ended = false;
      const line = (text: string) => {
        if (ended || !text.trim()) return;
        events++;
        let ev: z.infer<typeof watchEventSchema>;
        try { ev = watchEventSchema.parse(JSON.parse(text)); } catch (e) { this.opts.log?.(`pod watch: a bad event line (${(e as Error).message})`); return; }
        if (ev.type === 'ERROR') {
          const st = parseStatus(ev.object);
          if (st?.code === 410) {
            this.opts.log?.(`pod watch: ${st.message ?? 'resourceVersion too old'} (410): listing again`);
            this.rv = null;
          } else this.opts.log?.(`pod watch: ERROR event ${st?.code ?? ''} ${st?.message ?? ''}`);
          ended = true;
          res.destroy();
          return;
        }
        const pod = podSchema.safeParse(ev.object);
        if (!pod.success) return;
        if (pod.data.metadata.resourceVersion) this.rv = pod.data.metadata.resourceVersion;
        if (ev.type === 'BOOKMARK') return;
        if (ev.type === 'DELETED') this.pods.delete(pod.data.metadata.name);
        else this.pods.set(pod.data.metadata.name, pod.data);
        this.emit(ev.type, pod.data);
      };
      res.on('data', (b: Buffer) => {
        buf += decoder.write(b);
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) { line(buf.slice(0, i)); buf = buf.slice(i + 1); }
      });
      const done = () => { buf += decoder.end(); if (buf) line(buf); buf = ''; resolve(events); };
      res.on('end', done);
      res.on('close', done);
      res.on('error', () => done());
    });
  }
}
