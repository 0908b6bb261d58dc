/**
 * What an operator chooses for a Kubernetes install (docs/kubernetes.md): course
 * size, images, per-sandbox limits, the sandbox node pool. Everything has a default
 * that renders a working small install; the file given to `nslab kube render
 * --values` is checked here, so a typo is an error naming the field, never a
 * silently different cluster.
 */
import { z } from 'zod';

const quantity = z.string().regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'a Kubernetes quantity (e.g. 500m, 512Mi, 2Gi)');
const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a DNS label (lower-case letters, digits, dashes)');
const image = z.string().regex(/^[\w.-]+(:\d+)?(\/[\w.-]+)+(:[\w.-]+|@sha256:[0-9a-f]{64})$/, 'an image reference with a tag or digest (e.g. registry.example/nslab/sandbox:1.0)');

export const kubeValuesSchema = z.strictObject({
  /** learners at once the install is sized for (placeholders, fronts, quotas follow it) */
  learners: z.number().int().min(1).max(100_000).default(30),
  /** where the fronts, the node agents and the policies live */
  namespace: dnsLabel.default('nslab'),
  /** where sandbox pods live: nothing else runs there */
  sandboxNamespace: dnsLabel.default('nslab-sandboxes'),
  images: z.strictObject({
    /** the server (fronts and node agents run the same program) */
    server: image.default('registry.example/nslab/server:0.1.0'),
    /** the default lab image, published as an OCI image */
    sandbox: image.default('registry.example/nslab/sandbox:0.1.0'),
    /** what placeholders and the image puller's main container run */
    pause: image.default('registry.k8s.io/pause:3.10'),
  }).prefault({}),
  fronts: z.strictObject({
    /** stateless: any front serves any learner; at least 2 so one can be drained */
    replicas: z.number().int().min(1).max(100).optional(),
    /** NSLAB_DATABASE_URL (PostgreSQL) comes from this Secret's key `url` */
    databaseSecret: dnsLabel.default('nslab-database'),
  }).prefault({}),
  sandbox: z.strictObject({
    cpu: quantity.default('1'),
    memory: quantity.default('512Mi'),
    /** what the scheduler packs by: a learner's shell idles most of the time */
    cpuRequest: quantity.default('50m'),
    memoryRequest: quantity.default('128Mi'),
    ephemeralStorage: quantity.default('1Gi'),
    /** the writable part (/root, /tmp, /run, /var/tmp), in memory, counted against memory */
    writable: quantity.default('256Mi'),
    /** hard end of a sandbox's life, whatever the fronts do */
    lifetimeSeconds: z.number().int().min(300).max(7 * 24 * 3600).default(4 * 3600),
  }).prefault({}),
  nodePool: z.strictObject({
    /** sandbox pods go only to nodes that can run user-namespace pods (docs/kubernetes.md) */
    nodeSelector: z.record(z.string(), z.string()).default({ 'nslab.io/sandbox-pool': 'true' }),
    /** the taint that keeps everything else off those nodes */
    taint: z.strictObject({ key: z.string(), value: z.string() }).default({ key: 'nslab.io/sandbox-pool', value: 'true' }),
    runtimeClassName: dnsLabel.optional(),
  }).prefault({}),
  /** low-priority pods holding room for a class rush; default a tenth of the course */
  placeholders: z.number().int().min(0).max(10_000).optional(),
  agent: z.strictObject({
    port: z.number().int().min(1024).max(65535).default(7443),
    /** Secrets with tls.crt, tls.key and ca.crt: the agents' server certificate and the fronts' client certificate */
    serverTlsSecret: dnsLabel.default('nslab-agent-tls'),
    clientTlsSecret: dnsLabel.default('nslab-front-tls'),
  }).prefault({}),
});

export type KubeValues = z.infer<typeof kubeValuesSchema>;

/** the values with the course-size defaults filled in */
export interface ResolvedValues extends KubeValues {
  fronts: KubeValues['fronts'] & { replicas: number };
  placeholders: number;
}

export function resolveValues(input: unknown): ResolvedValues {
  const v = kubeValuesSchema.parse(input ?? {});
  return {
    ...v,
    // one front per ~150 learners' terminals (bench/ load test), never fewer than 2
    fronts: { ...v.fronts, replicas: v.fronts.replicas ?? Math.max(2, Math.ceil(v.learners / 150)) },
    placeholders: v.placeholders ?? Math.ceil(v.learners / 10),
  };
}
