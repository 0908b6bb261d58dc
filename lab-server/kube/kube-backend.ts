/**
 * The Kubernetes back end (docs/kubernetes.md, "The back end"): every sandbox one
 * bare Pod (sandbox-pod.ts) in the sandbox namespace, made and watched through the
 * API server; terminals and commands through `pods/exec` (v5 channels); what checks
 * see from the node agent on the pod's node, through the `viewFor` the front is
 * given (the agent's client), never from inside the pod.
 *
 * One list-and-watch per back end (pod-watch.ts) follows every sandbox pod of the
 * install: a create waits on it for Running, a sandbox hears its death from it.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { limitsSchema } from '../sandbox/config.ts';
import { HostError, type CreateOptions, type SandboxBackend, type SandboxLimits } from '../sandbox/types.ts';
import { ApiError, KubeApi, type KubeConnection } from './api-client.ts';
import { KubeSandbox, type SandboxView } from './kube-sandbox.ts';
import type { IPod } from 'kubernetes-models/v1';
import { PodWatch, podSchema, type Pod, type PodEventType } from './pod-watch.ts';
import { formatBytes, formatCpu, parseQuantity } from './quantity.ts';
import { sandboxPod, sandboxPodName } from './sandbox-pod.ts';
import { resolveValues, type ResolvedValues } from './values.ts';

export const INSTALL_LABEL = 'nslab.io/install';
/** the limits a pod spec cannot hold (pids, ptys), for the node to apply (docs/kubernetes.md) */
export const LIMITS_ANNOTATION = 'nslab.io/limits';
export const SANDBOX_LABEL = 'nslab.io/sandbox';
const CONTAINER = 'sandbox';

const limitsAnnotation = z.object({ pids: z.number().int(), ptys: z.number().int() }).partial();
const safeJson = (s: string | undefined): unknown => { try { return s ? JSON.parse(s) : undefined; } catch { return undefined; } };

/** container waiting reasons that never get better by waiting */
const HOPELESS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'CrashLoopBackOff']);

export interface KubeBackendOptions {
  connection: KubeConnection;
  /** the install's values (values.ts): namespace, image, limits; default: the defaults */
  values?: ResolvedValues;
  /** the node agent's view of a running pod (probe, command log); the agent's client in a front */
  viewFor: (pod: Pod) => SandboxView | Promise<SandboxView>;
  /** names this install's pods (label nslab.io/install), so two installs or test runs in one namespace never touch each other's */
  install?: string;
  /**
   * whether a sandbox's session still exists somewhere (the fronts' shared store);
   * reapOrphans deletes live pods only when this says no. Without it only dead pods
   * (Failed, Succeeded) are reaped: no front can know another's sessions alone.
   */
  sessionAlive?: (sandboxId: string, pod: Pod) => boolean | Promise<boolean>;
  /** pids and ptys (not in a pod spec); the rest of the limits come from the values */
  limits?: Partial<Pick<SandboxLimits, 'pids' | 'ptys'>>;
  /** how long a pod may take to run (scheduling, image pull, start) */
  startTimeoutMs?: number;
  /** how long a deleted pod may take to go */
  deleteTimeoutMs?: number;
  /** the server's timeoutSeconds for each watch (default 5 to 10 minutes) */
  watchTimeoutSeconds?: number;
  log?: (line: string) => void;
}

/** why a pod's sandbox is over, from the pod as the API server shows it; null while it runs */
export function podEnd(type: PodEventType, pod: Pod): string | null {
  if (type === 'DELETED') return "the sandbox's pod was deleted";
  const st = pod.status;
  if (st?.phase === 'Failed' || st?.phase === 'Succeeded') {
    if (st.reason === 'DeadlineExceeded') return 'the sandbox reached its lifetime limit (activeDeadlineSeconds)';
    if (st.reason === 'Evicted') return `the sandbox was evicted from its node${st.message ? `: ${st.message}` : ''}`;
    const term = st.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.terminated;
    if (term) return `the sandbox stopped (its init process exited: ${term.reason ?? 'ended'}, code ${term.exitCode ?? '?'})`;
    return `the sandbox stopped (pod ${st.phase}${st.reason ? `: ${st.reason}` : ''}${st.message ? `: ${st.message}` : ''})`;
  }
  return null;
}

/** a pod that will not run however long we wait, and why; null if it may still come up */
function hopeless(pod: Pod): string | null {
  for (const c of pod.status?.containerStatuses ?? []) {
    const w = c.state?.waiting;
    if (w?.reason && HOPELESS.has(w.reason)) return `${w.reason}${w.message ? `: ${w.message}` : ''}`;
  }
  return null;
}

export class KubeBackend implements SandboxBackend {
  readonly name = 'kubernetes';
  readonly api: KubeApi;
  readonly values: ResolvedValues;
  readonly install: string;
  readonly defaultLimits: SandboxLimits;
  private readonly watch: PodWatch;
  private readonly sandboxes = new Map<string, KubeSandbox>();
  private watching: Promise<void> | null = null;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: KubeBackendOptions) {
    this.api = new KubeApi(opts.connection);
    this.values = opts.values ?? resolveValues({});
    this.install = opts.install ?? 'nslab';
    if (!/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/.test(this.install)) throw new Error(`install name ${JSON.stringify(this.install)}: a label value (lower-case letters, digits, dots, dashes)`);
    this.log = opts.log ?? ((l) => console.error(`nslab: ${l}`));
    this.defaultLimits = limitsSchema.parse({
      memoryBytes: parseQuantity(this.values.sandbox.memory),
      cpus: parseQuantity(this.values.sandbox.cpu),
      diskBytes: parseQuantity(this.values.sandbox.writable),
      lifetimeMs: this.values.sandbox.lifetimeSeconds * 1000,
      // the kubelet's podPidsLimit the requirements ask for (docs/kubernetes.md)
      pids: 1024,
      ptys: 64,
      ...opts.limits,
    });
    this.watch = new PodWatch(this.api, {
      namespace: this.values.sandboxNamespace,
      labelSelector: `app.kubernetes.io/component=sandbox,${INSTALL_LABEL}=${this.install}`,
      timeoutSeconds: opts.watchTimeoutSeconds,
      log: this.log,
    });
    this.watch.subscribe((type, pod) => this.onPod(type, pod));
  }

  /** how many times the pod list was read (1 + watch resets survived); for tests and metrics */
  get podLists(): number {
    return this.watch.lists;
  }

  private get ns(): string {
    return this.values.sandboxNamespace;
  }

  private podPath(name?: string): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.ns)}/pods${name ? `/${encodeURIComponent(name)}` : ''}`;
  }

  async checkHost(): Promise<void> {
    const where = `${this.opts.connection.apiUrl}, namespace ${this.ns}`;
    try {
      await this.api.call('GET', `${this.podPath()}?limit=1`);
    } catch (e) {
      if (e instanceof ApiError && e.code === 401) {
        throw new HostError(`the Kubernetes API at ${where} refused the front's credentials (401 Unauthorized)`,
          "in the cluster, run the front under its ServiceAccount nslab-front with a mounted token (deploy/kubernetes/nslab.yaml does); outside it, give a current token of that ServiceAccount (kubectl -n nslab create token nslab-front)");
      }
      if (e instanceof ApiError && e.code === 403) {
        throw new HostError(`the Kubernetes API at ${where} does not let the front list pods (403 Forbidden: ${e.message})`,
          'apply the Role and RoleBinding nslab-front of `nslab kube render` (pods: create, get, list, watch, delete; pods/exec: create) in the sandbox namespace');
      }
      if (e instanceof ApiError) throw new HostError(`the Kubernetes API at ${where} answered ${e.code} ${e.reason}`, 'check that the API URL is the cluster\'s API server and the namespace exists (kubectl apply the rendered install)');
      throw new HostError(`cannot reach the Kubernetes API at ${this.opts.connection.apiUrl}: ${(e as Error).message}`,
        'in the cluster, the front needs KUBERNETES_SERVICE_HOST (set by the kubelet) and a network path to the API server; outside it, give the API server\'s URL');
    }
    await this.startWatch();
  }

  private startWatch(): Promise<void> {
    if (!this.watching) {
      this.watching = this.watch.start();
      this.watching.catch(() => { this.watching = null; });
    }
    return this.watching;
  }

  private onPod(type: PodEventType, pod: Pod): void {
    const s = this.sandboxes.get(pod.metadata.name);
    if (!s || (pod.metadata.uid && pod.metadata.uid !== s.podUid)) return;
    const reason = podEnd(type, pod);
    if (reason) void s.ended(reason, type !== 'DELETED');
  }

  list(): KubeSandbox[] {
    return [...this.sandboxes.values()];
  }

  async create(opts: CreateOptions = {}): Promise<KubeSandbox> {
    if ((opts.image ?? 'default') !== 'default') throw new Error(`image ${JSON.stringify(opts.image)}: a Kubernetes install runs only its sandbox image (${this.values.images.sandbox}), named 'default'`);
    const limits = limitsSchema.parse({ ...this.defaultLimits, ...opts.limits });
    if (limits.lifetimeMs > this.values.sandbox.lifetimeSeconds * 1000) throw new Error(`lifetime ${limits.lifetimeMs} ms is past the install's ${this.values.sandbox.lifetimeSeconds} s (sandbox.lifetimeSeconds)`);
    if (opts.hostname !== undefined && !/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})$/.test(opts.hostname)) throw new Error(`bad hostname '${opts.hostname}'`);
    await this.startWatch();
    for (let attempt = 0; ; attempt++) {
      const id = randomBytes(8).toString('hex');
      try {
        return await this.createPod(id, limits, opts);
      } catch (e) {
        // a name taken (a pod of the same id, however unlikely): another id
        if (e instanceof ApiError && e.code === 409 && attempt < 2) continue;
        throw e instanceof HostError ? e : new Error(`could not create a sandbox: ${(e as Error).message}`);
      }
    }
  }

  /** the pod of a sandbox: sandbox-pod.ts's, with this sandbox's limits, hostname and this install's labels */
  podFor(id: string, limits: SandboxLimits, opts: CreateOptions): IPod {
    const pod = sandboxPod(this.values, { id, course: 'self-paced', learner: opts.label ?? id });
    const c = pod.spec!.containers[0];
    c.resources = {
      ...c.resources,
      limits: { ...c.resources?.limits, cpu: formatCpu(limits.cpus), memory: formatBytes(limits.memoryBytes) },
    };
    pod.spec!.volumes = pod.spec!.volumes?.map((v) => (v.emptyDir ? { ...v, emptyDir: { ...v.emptyDir, sizeLimit: formatBytes(limits.diskBytes) } } : v));
    pod.spec!.activeDeadlineSeconds = Math.ceil(limits.lifetimeMs / 1000);
    if (opts.hostname) pod.spec!.hostname = opts.hostname.toLowerCase();
    pod.metadata!.labels = { ...pod.metadata!.labels, [INSTALL_LABEL]: this.install };
    pod.metadata!.annotations = { [LIMITS_ANNOTATION]: JSON.stringify({ pids: limits.pids, ptys: limits.ptys }) };
    return pod;
  }

  private async createPod(id: string, limits: SandboxLimits, opts: CreateOptions): Promise<KubeSandbox> {
    const made = podSchema.parse(await this.api.call('POST', this.podPath(), this.podFor(id, limits, opts)));
    const name = made.metadata.name;
    const uid = made.metadata.uid ?? '';
    let running: Pod;
    try {
      running = await this.untilRunning(name, uid);
    } catch (e) {
      await this.removePod(name).catch((err: Error) => this.log(`pod ${name} of a failed create: ${err.message}`));
      throw e;
    }
    try {
      return await this.track(id, running, limits, new Date());
    } catch (e) {
      // no checks without the agent's view: the pod is of no use to a learner
      await this.removePod(name).catch((err: Error) => this.log(`pod ${name} without a view: ${err.message}`));
      throw e;
    }
  }

  /** a running pod as a sandbox of this front: its view from the node agent, its death from the watch */
  private async track(id: string, running: Pod, limits: SandboxLimits, createdAt: Date, seenByWatch = true): Promise<KubeSandbox> {
    const name = running.metadata.name;
    const uid = running.metadata.uid ?? '';
    let view: SandboxView;
    try {
      view = await this.opts.viewFor(running);
    } catch (e) {
      throw new Error(`pod ${name} runs, but the node agent's view of it failed: ${(e as Error).message}`);
    }
    const s: KubeSandbox = new KubeSandbox(id, uid, limits, createdAt, {
      api: this.api,
      namespace: this.ns,
      pod: name,
      container: CONTAINER,
      remove: () => this.removePod(name),
      forget: () => { if (this.sandboxes.get(name) === s) this.sandboxes.delete(name); },
    }, view);
    this.sandboxes.set(name, s);
    // it may have ended between Running and now. A pod the watch has not shown yet
    // (read by GET, an instant after another front made it) is taken as it was read:
    // its later events reach the sandbox from here on.
    const now = this.watch.get(name);
    const end = now ? podEnd('MODIFIED', now) : seenByWatch ? "the sandbox's pod was deleted" : null;
    if (end) void s.ended(end, !!now);
    return s;
  }

  /**
   * A sandbox another front made (any front serves any learner), by its id: its
   * limits and start read back from its pod, its view asked of the node agent. Null
   * when there is no such pod of this install, or it is over.
   */
  async adopt(id: string): Promise<KubeSandbox | null> {
    if (!/^[a-z0-9]{1,40}$/.test(id)) throw new Error(`sandbox id ${JSON.stringify(id)}: lower-case letters and digits only`);
    const name = sandboxPodName(id);
    const held = this.sandboxes.get(name);
    if (held) return held;
    await this.startWatch();
    let pod = this.watch.get(name);
    const seenByWatch = pod !== undefined;
    if (!pod) {
      try {
        pod = podSchema.parse(await this.api.call('GET', this.podPath(name)));
      } catch (e) {
        if (e instanceof ApiError && e.code === 404) return null;
        throw e;
      }
    }
    if (pod.metadata.labels?.[INSTALL_LABEL] !== this.install || pod.metadata.deletionTimestamp || podEnd('MODIFIED', pod)) return null;
    const running = pod.status?.phase === 'Running' ? pod : await this.untilRunning(name, pod.metadata.uid ?? '');
    return this.track(id, running, this.limitsOf(running), new Date(running.status?.startTime ?? running.metadata.creationTimestamp ?? Date.now()), seenByWatch || running !== pod);
  }

  /** a pod's limits, as podFor wrote them (the rest from this front's defaults) */
  private limitsOf(pod: Pod): SandboxLimits {
    const spec = pod.spec as { activeDeadlineSeconds?: number; containers?: { resources?: { limits?: Record<string, string> } }[]; volumes?: { emptyDir?: { sizeLimit?: string } }[] } | undefined;
    const lim = spec?.containers?.[0]?.resources?.limits ?? {};
    const size = spec?.volumes?.find((v) => v.emptyDir)?.emptyDir?.sizeLimit;
    const ann = limitsAnnotation.safeParse(safeJson(pod.metadata.annotations?.[LIMITS_ANNOTATION]));
    return limitsSchema.parse({
      ...this.defaultLimits,
      ...(lim.memory ? { memoryBytes: parseQuantity(lim.memory) } : {}),
      ...(lim.cpu ? { cpus: parseQuantity(lim.cpu) } : {}),
      ...(size ? { diskBytes: parseQuantity(size) } : {}),
      ...(spec?.activeDeadlineSeconds ? { lifetimeMs: spec.activeDeadlineSeconds * 1000 } : {}),
      ...(ann.success ? ann.data : {}),
    });
  }

  /** resolves with the pod once it runs; rejects, naming why, once it cannot or does not in time */
  private untilRunning(name: string, uid: string): Promise<Pod> {
    const timeoutMs = this.opts.startTimeoutMs ?? 300_000;
    return new Promise((resolve, reject) => {
      let last: Pod | undefined;
      const look = (type: PodEventType, pod: Pod): boolean => {
        if (pod.metadata.name !== name || (uid && pod.metadata.uid && pod.metadata.uid !== uid)) return false;
        last = pod;
        const end = podEnd(type, pod);
        if (end) return done(new Error(`pod ${name} ended before it ran: ${end}`));
        const stuck = hopeless(pod);
        if (stuck) return done(new Error(`pod ${name} cannot start: ${stuck}`));
        if (pod.status?.phase === 'Running' && !pod.metadata.deletionTimestamp) return done(null, pod);
        return false;
      };
      const done = (err: Error | null, pod?: Pod): true => {
        off();
        clearTimeout(timer);
        if (err) reject(err); else resolve(pod!);
        return true;
      };
      const off = this.watch.subscribe((type, pod) => { look(type, pod); });
      const timer = setTimeout(() => {
        const unsched = last?.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
        done(new Error(`pod ${name} did not run within ${Math.round(timeoutMs / 1000)} s (phase ${last?.status?.phase ?? 'unknown'}${unsched ? `; ${unsched.reason}: ${unsched.message ?? ''}` : ''})`));
      }, timeoutMs);
      timer.unref();
      const known = this.watch.get(name);
      if (known) look('MODIFIED', known);
    });
  }

  /** DELETE with no grace (a sandbox has nothing to save) and wait until the API no longer has it */
  async removePod(name: string): Promise<void> {
    let off = () => {};
    const gone = new Promise<'gone'>((resolve) => {
      off = this.watch.subscribe((type, pod) => { if (type === 'DELETED' && pod.metadata.name === name) resolve('gone'); });
    });
    let timer: NodeJS.Timeout | undefined;
    let polling = true;
    try {
      try {
        await this.api.call('DELETE', `${this.podPath(name)}?gracePeriodSeconds=0`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, propagationPolicy: 'Background' });
      } catch (e) {
        if (e instanceof ApiError && e.code === 404) return;
        throw e;
      }
      const timeoutMs = this.opts.deleteTimeoutMs ?? 60_000;
      const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), timeoutMs); });
      // the watch may be resetting right now: a GET that says 404 is as good as the DELETED event
      const poll = (async (): Promise<'gone'> => {
        while (polling) {
          await new Promise((r) => setTimeout(r, 1000));
          try { await this.api.call('GET', this.podPath(name)); } catch (e) { if (e instanceof ApiError && e.code === 404) return 'gone'; }
        }
        return 'gone';
      })();
      if (await Promise.race([gone, late, poll]) === 'late') throw new Error(`pod ${name} was deleted but is still there after ${timeoutMs / 1000} s`);
    } finally {
      polling = false;
      off();
      clearTimeout(timer);
    }
  }

  async reapOrphans(): Promise<number> {
    await this.startWatch();
    let reaped = 0;
    for (const pod of this.watch.all()) {
      const name = pod.metadata.name;
      if (this.sandboxes.has(name) || pod.metadata.deletionTimestamp) continue;
      const id = pod.metadata.labels?.[SANDBOX_LABEL] ?? '';
      const dead = podEnd('MODIFIED', pod) !== null;
      const orphan = dead || (this.opts.sessionAlive ? !(await this.opts.sessionAlive(id, pod)) : false);
      if (!orphan) continue;
      await this.removePod(name).then(() => { reaped++; }, (e: Error) => this.log(`reaping pod ${name}: ${e.message}`));
    }
    return reaped;
  }

  async destroyAll(): Promise<void> {
    await Promise.all(this.list().map((s) => s.destroy()));
  }

  /** stops the watch (the sandboxes stay: a front shutting down leaves them to the next) */
  async close(): Promise<void> {
    await this.watch.stop();
    this.api.close();
  }
}
