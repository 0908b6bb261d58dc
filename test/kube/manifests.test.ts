/**
 * The Kubernetes install (lab-server/kube, docs/kubernetes.md) without a cluster:
 * every object validated against the Kubernetes schemas (kubernetes-models), the
 * checked-in deploy/kubernetes/nslab.yaml equal to what the code renders, every
 * security field of the sandbox pod named, and the admission policy's CEL rules run
 * (@bufbuild/cel) against the pod we make, which they must admit, and against near
 * misses, each of which a named rule must refuse.
 */
import { readFileSync } from 'node:fs';
import { run } from '@bufbuild/cel';
import * as apps from 'kubernetes-models/apps/v1';
import * as admission from 'kubernetes-models/admissionregistration.k8s.io/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as scheduling from 'kubernetes-models/scheduling.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { sandboxPolicyRules } from '../../lab-server/kube/admission-policy.ts';
import { clusterObjects } from '../../lab-server/kube/cluster-objects.ts';
import { renderInstall } from '../../lab-server/kube/render.ts';
import { learnerLabel, sandboxPod } from '../../lab-server/kube/sandbox-pod.ts';
import { resolveValues } from '../../lab-server/kube/values.ts';
import { seccompProfile } from '../../lab-server/sandbox/seccomp.ts';

const MODELS: Record<string, Record<string, unknown>> = {
  v1: core, 'apps/v1': apps, 'admissionregistration.k8s.io/v1': admission, 'networking.k8s.io/v1': networking,
  'policy/v1': policy, 'rbac.authorization.k8s.io/v1': rbac, 'scheduling.k8s.io/v1': scheduling,
};
type Validating = new (o: unknown) => { validate(): void };
function validate(obj: object): void {
  const o = obj as { apiVersion?: string; kind?: string };
  const Model = MODELS[o.apiVersion ?? '']?.[o.kind ?? ''] as Validating | undefined;
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

const V = resolveValues({});
const POD = sandboxPod(V, { id: 'a1b2c3', course: 'Crash course', learner: 'ada-token' });

describe('the rendered install', () => {
  it('validates against the Kubernetes schemas, every object of it and the sandbox pod', () => {
    for (const o of [...clusterObjects(V), POD]) expect(() => validate(o), `${o.kind} ${o.metadata?.name}`).not.toThrow();
    // and the validator is not a rubber stamp
    expect(() => validate({ ...POD, spec: { ...POD.spec!, restartPolicy: 'Sometimes' as 'Never' } })).toThrow(/restartPolicy/);
  });

  it('deploy/kubernetes/nslab.yaml is what `nslab kube render` makes (regenerate: bin/nslab kube render > deploy/kubernetes/nslab.yaml)', () => {
    const text = readFileSync('deploy/kubernetes/nslab.yaml', 'utf8');
    expect(text).toBe(renderInstall(V));
    const docs = parseAllDocuments(text).map((d) => d.toJS());
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(clusterObjects(V).map((o) => `${o.kind}/${o.metadata!.name}`));
  });

  it('sizes itself by the course: fronts and placeholders follow the learners, unless given', () => {
    expect([V.learners, V.fronts.replicas, V.placeholders]).toEqual([30, 2, 3]);
    const big = resolveValues({ learners: 300 });
    expect([big.fronts.replicas, big.placeholders]).toEqual([2, 30]);
    expect(resolveValues({ learners: 1000, placeholders: 0, fronts: { replicas: 3 } })).toMatchObject({ placeholders: 0, fronts: { replicas: 3 } });
  });

  it('refuses bad values by name: a typo, a quantity, an image without a tag', () => {
    expect(() => resolveValues({ lerners: 3 })).toThrow(/lerners/);
    expect(() => resolveValues({ sandbox: { memory: '512 MB' } })).toThrow(/Kubernetes quantity/);
    expect(() => resolveValues({ images: { sandbox: 'nslab/sandbox' } })).toThrow(/tag or digest/);
  });

  it("ships nslab's own seccomp filter and the AppArmor profile to the nodes", () => {
    const cm = clusterObjects(V).find((o) => o.kind === 'ConfigMap') as core.IConfigMap;
    expect(JSON.parse(cm.data!['sandbox.json'])).toEqual(seccompProfile());
    expect(cm.data!['nslab-sandbox']).toMatch(/profile nslab-sandbox[\s\S]*\n {2}mount,[\s\S]*deny \/sys\/kernel\/security/);
  });

  it('a sandbox talks to nobody: deny-all in its namespace; the fronts may only handle pods there', () => {
    const objs = clusterObjects(V);
    const deny = objs.find((o) => o.kind === 'NetworkPolicy' && o.metadata!.namespace === V.sandboxNamespace) as networking.INetworkPolicy;
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const role = objs.find((o) => o.kind === 'Role' && o.metadata!.namespace === V.sandboxNamespace) as rbac.IRole;
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['create', 'get', 'list', 'watch', 'delete'] },
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'] },
    ]);
  });

  it('in the install\'s namespace the fronts only read pods (to find the node agents) and hold the lease', () => {
    const objs = clusterObjects(V);
    const roles = objs.filter((o) => o.kind === 'Role' && o.metadata!.namespace === V.namespace) as rbac.IRole[];
    expect(Object.fromEntries(roles.map((r) => [r.metadata!.name, r.rules]))).toEqual({
      'nslab-front-lease': [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'update'] }],
      'nslab-front-agents': [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
    });
    const bound = objs.filter((o) => o.kind === 'RoleBinding' && o.metadata!.namespace === V.namespace) as rbac.IRoleBinding[];
    expect(bound.map((b) => [b.roleRef.name, b.subjects])).toEqual(roles.map((r) => [r.metadata!.name, [{ kind: 'ServiceAccount', name: 'nslab-front', namespace: V.namespace }]]));
    // and what a front is told by its Deployment is where the agents are
    const front = objs.find((o) => o.kind === 'Deployment') as apps.IDeployment;
    expect(front.spec!.template.spec!.containers[0].env).toEqual(expect.arrayContaining([
      { name: 'NSLAB_BACKEND', value: 'kubernetes' },
      { name: 'NSLAB_AGENT_NAMESPACE', value: V.namespace },
      { name: 'NSLAB_AGENT_PORT', value: String(V.agent.port) },
    ]));
  });
});

describe('the sandbox pod', () => {
  it('has every security field of docs/kubernetes.md', () => {
    const spec = POD.spec!;
    const c = spec.containers[0];
    expect(spec).toMatchObject({
      hostUsers: false, restartPolicy: 'Never', automountServiceAccountToken: false, enableServiceLinks: false,
      activeDeadlineSeconds: 4 * 3600, dnsPolicy: 'None',
      securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'nslab/sandbox.json' }, appArmorProfile: { type: 'Localhost', localhostProfile: 'nslab-sandbox' } },
    });
    expect(spec.hostNetwork ?? false).toBe(false);
    expect(spec.hostPID ?? false).toBe(false);
    expect(spec.hostIPC ?? false).toBe(false);
    expect(spec.containers).toHaveLength(1);
    expect(c.securityContext).toMatchObject({ privileged: false, procMount: 'Unmasked', readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(c.securityContext!.capabilities!.add).toEqual(expect.arrayContaining(['SYS_ADMIN', 'NET_ADMIN']));
    expect(c.securityContext!.capabilities!.add).not.toContain('SYS_MODULE');
    expect(c.resources!.limits).toEqual({ cpu: '1', memory: '512Mi', 'ephemeral-storage': '1Gi' });
    expect(spec.volumes!.every((vol) => vol.emptyDir?.medium === 'Memory')).toBe(true);
  });

  it("keeps the learner's identity out of the cluster: a hash, never the token", () => {
    expect(POD.metadata!.labels!['nslab.io/learner']).toBe(learnerLabel('ada-token'));
    expect(JSON.stringify(POD)).not.toContain('ada-token');
    expect(POD.metadata!.labels!['nslab.io/course']).toBe('crash-course');
    expect(() => sandboxPod(V, { id: 'A;rm', course: 'x', learner: 'y' })).toThrow(/lower-case letters and digits/);
  });
});

/** JSON as CEL sees a Kubernetes object: maps, lists, integers as int */
function celValue(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(celValue);
  if (x !== null && typeof x === 'object') return new Map(Object.entries(x).map(([k, v]) => [k, celValue(v)]));
  if (typeof x === 'number' && Number.isInteger(x)) return BigInt(x);
  return x;
}
const RULES = sandboxPolicyRules(V);
/** the messages of the rules that refuse this pod */
function refused(pod: unknown): string[] {
  return RULES.filter((r) => run(r.expression, { object: celValue(pod) } as never) !== true).map((r) => r.message);
}
const clone = <T>(o: T): T => structuredClone(o);
type Pod = ReturnType<typeof sandboxPod>;
const NEAR_MISSES: [string, (p: Pod) => void, RegExp][] = [
  ['in the host user namespace', (p) => { p.spec!.hostUsers = true; }, /own user namespace/],
  ['hostUsers left out', (p) => { delete p.spec!.hostUsers; }, /own user namespace/],
  ['on the host network', (p) => { p.spec!.hostNetwork = true; }, /network, PID or IPC/],
  ['in the host PID namespace', (p) => { p.spec!.hostPID = true; }, /network, PID or IPC/],
  ['with a service-account token', (p) => { p.spec!.automountServiceAccountToken = true; }, /service-account token/],
  ['restarted on failure', (p) => { p.spec!.restartPolicy = 'OnFailure'; }, /restartPolicy/],
  ['living longer', (p) => { p.spec!.activeDeadlineSeconds = 10 * 3600; }, /lives at most/],
  ['without a deadline', (p) => { delete p.spec!.activeDeadlineSeconds; }, /lives at most/],
  ['with a second container', (p) => { p.spec!.containers.push(clone(p.spec!.containers[0])); }, /exactly one container/],
  ['with an ephemeral debug container', (p) => { p.spec!.ephemeralContainers = [{ name: 'debug', image: 'busybox:1' }]; }, /exactly one container/],
  ['another image', (p) => { p.spec!.containers[0].image = 'evil.example/root:1'; }, /run only/],
  ['a host port', (p) => { p.spec!.containers[0].ports = [{ containerPort: 22, hostPort: 22 }]; }, /no ports/],
  ['a host path', (p) => { p.spec!.volumes!.push({ name: 'host', hostPath: { path: '/' } }); }, /only emptyDir/],
  ['a secret', (p) => { p.spec!.volumes!.push({ name: 's', secret: { secretName: 'nslab-database' } }); }, /only emptyDir/],
  ['seccomp Unconfined', (p) => { p.spec!.securityContext!.seccompProfile = { type: 'Unconfined' }; }, /seccomp filter/],
  ['seccomp overridden in the container', (p) => { p.spec!.containers[0].securityContext!.seccompProfile = { type: 'Unconfined' }; }, /seccomp filter/],
  ['AppArmor Unconfined', (p) => { p.spec!.securityContext!.appArmorProfile = { type: 'Unconfined' }; }, /AppArmor/],
  ['privileged', (p) => { p.spec!.containers[0].securityContext!.privileged = true; }, /never privileged/],
  ['SYS_MODULE added', (p) => { p.spec!.containers[0].securityContext!.capabilities!.add!.push('SYS_MODULE'); }, /drop ALL/],
  ['the default capabilities kept', (p) => { delete p.spec!.containers[0].securityContext!.capabilities!.drop; }, /drop ALL/],
  ['no securityContext at all', (p) => { delete p.spec!.containers[0].securityContext; }, /never privileged/],
  ['a masked /proc', (p) => { p.spec!.containers[0].securityContext!.procMount = 'Default'; }, /full \/proc/],
  ['a writable image', (p) => { p.spec!.containers[0].securityContext!.readOnlyRootFilesystem = false; }, /read-only/],
  ['more memory', (p) => { p.spec!.containers[0].resources!.limits!.memory = '64Gi'; }, /limited to/],
  ['no limits', (p) => { delete p.spec!.containers[0].resources; }, /limited to/],
];

describe('the admission policy', () => {
  it('admits the pod nslab makes', () => {
    expect(refused(POD)).toEqual([]);
  });

  for (const [what, change, rule] of NEAR_MISSES) {
    it(`refuses a sandbox pod ${what}`, () => {
      const p = clone(POD);
      change(p);
      const reasons = refused(p);
      expect(reasons.length, `${what}: admitted`).toBeGreaterThan(0);
      expect(reasons.join('\n')).toMatch(rule);
    });
  }

  it('binds to the sandbox namespace only, and denies', () => {
    const binding = clusterObjects(V).find((o) => o.kind === 'ValidatingAdmissionPolicyBinding') as admission.IValidatingAdmissionPolicyBinding;
    expect(binding.spec).toMatchObject({ validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'nslab-sandboxes' } } } });
  });
});
