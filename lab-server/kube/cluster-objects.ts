/**
 * Everything an install puts into the cluster once (docs/kubernetes.md): two
 * namespaces, priorities, network policies, the fronts' rights, the admission
 * policy, the node agent, the fronts, the class-rush placeholders and the image
 * puller. Sandbox pods are made one by one at run time (sandbox-pod.ts).
 */
import { seccompProfile } from '../sandbox/seccomp.ts';
import type { IValidatingAdmissionPolicy, IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { sandboxAdmissionPolicy } from './admission-policy.ts';
import { APPARMOR_PROFILE, SECCOMP_PROFILE } from './sandbox-pod.ts';
import type { IDaemonSet, IDeployment } from 'kubernetes-models/apps/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IRole, IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import type { IPriorityClass } from 'kubernetes-models/scheduling.k8s.io/v1';
import type { IConfigMap, INamespace, IPodSpec, IService, IServiceAccount } from 'kubernetes-models/v1';
import type { ResolvedValues } from './values.ts';

/** every kind an install holds, typed by the Kubernetes schemas (a misspelt field fails the typecheck) */
export type ClusterObject = INamespace | IPriorityClass | INetworkPolicy | IServiceAccount | IRole | IRoleBinding
  | IValidatingAdmissionPolicy | IValidatingAdmissionPolicyBinding | IConfigMap | IDaemonSet | IDeployment | IService | IPodDisruptionBudget;

const PART_OF = { 'app.kubernetes.io/part-of': 'nslab' };
const labels = (component: string) => ({ 'app.kubernetes.io/name': 'nslab', 'app.kubernetes.io/component': component, ...PART_OF });
const FRONT_PORT = 8080;

/**
 * Allows what the lessons do (mount, pivot_root, namespaces, raw sockets in the
 * pod's own network namespace); denies what a container escape reaches for even as
 * root of a user namespace. The user namespace is the boundary; this is depth.
 */
export const APPARMOR_TEXT = `#include <tunables/global>

profile ${APPARMOR_PROFILE} flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>
  file,
  network,
  capability,
  mount,
  umount,
  remount,
  pivot_root,
  signal,
  ptrace,
  unix,
  deny @{PROC}/sysrq-trigger rwklx,
  deny @{PROC}/kcore rwklx,
  deny @{PROC}/kmsg rwklx,
  deny @{PROC}/sys/kernel/core_pattern w,
  deny /sys/firmware/** rwklx,
  deny /sys/kernel/security/** rwklx,
  deny /sys/kernel/debug/** rwklx,
}
`;

function namespaces(v: ResolvedValues): INamespace[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: v.namespace, labels: { ...PART_OF, 'pod-security.kubernetes.io/enforce': 'privileged' } } },
    {
      apiVersion: 'v1', kind: 'Namespace',
      metadata: {
        name: v.sandboxNamespace,
        // Pod Security "baseline" refuses SYS_ADMIN and procMount: Unmasked; the
        // admission policy pins the exact spec instead (admission-policy.ts)
        labels: { ...PART_OF, 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'baseline' },
      },
    },
  ];
}

function priorities(): IPriorityClass[] {
  return [
    { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'nslab-sandbox', labels: PART_OF }, value: 1000, globalDefault: false, description: "a learner's sandbox: preempts placeholders" },
    { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'nslab-placeholder', labels: PART_OF }, value: -10, globalDefault: false, preemptionPolicy: 'Never', description: 'room held for a class rush; the first thing evicted' },
  ];
}

function networkPolicies(v: ResolvedValues): INetworkPolicy[] {
  return [
    // a sandbox talks to nobody and nobody to it: terminals go through the API server's exec, checks through the node agent's /proc
    { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-all', namespace: v.sandboxNamespace, labels: PART_OF }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } },
    {
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'agent-from-fronts', namespace: v.namespace, labels: PART_OF },
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/component': 'agent' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'front' } } }], ports: [{ protocol: 'TCP', port: v.agent.port }] }],
      },
    },
  ];
}

/** a Role in one namespace and its binding to the fronts' ServiceAccount */
function frontRole(v: ResolvedValues, name: string, namespace: string, rules: IRole['rules']): [IRole, IRoleBinding] {
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace, labels: PART_OF }, rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace, labels: PART_OF },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: 'nslab-front', namespace: v.namespace }],
    },
  ];
}

function frontRights(v: ResolvedValues): (IServiceAccount | IRole | IRoleBinding)[] {
  const sa: IServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'nslab-front', namespace: v.namespace, labels: PART_OF } };
  return [
    sa,
    ...frontRole(v, 'nslab-front', v.sandboxNamespace, [
      { apiGroups: [''], resources: ['pods'], verbs: ['create', 'get', 'list', 'watch', 'delete'] },
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'] },
    ]),
    // one reconciler among the fronts holds this Lease (leader election)
    ...frontRole(v, 'nslab-front-lease', v.namespace, [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'update'] }]),
    // a front finds the node agent of a sandbox's node by listing the agent pods (agent-discovery.ts): read only
    ...frontRole(v, 'nslab-front-agents', v.namespace, [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]),
  ];
}

function profiles(v: ResolvedValues): IConfigMap[] {
  return [{
    apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'nslab-node-profiles', namespace: v.namespace, labels: PART_OF },
    data: { 'sandbox.json': `${JSON.stringify(seccompProfile(), null, 2)}\n`, [APPARMOR_PROFILE]: APPARMOR_TEXT },
  }];
}

const sandboxNodes = (v: ResolvedValues): Pick<IPodSpec, 'nodeSelector' | 'tolerations'> => ({
  nodeSelector: v.nodePool.nodeSelector,
  tolerations: [{ key: v.nodePool.taint.key, operator: 'Equal', value: v.nodePool.taint.value, effect: 'NoSchedule' }],
});

/**
 * The node agent: the host's view of the sandbox pods on its node (host PID
 * namespace), to run the same probe and checks as on one host. Its init containers
 * install the seccomp and AppArmor profiles before any sandbox can start there (a
 * sandbox pod whose Localhost profile is missing does not start: it fails closed).
 */
function agent(v: ResolvedValues): IDaemonSet[] {
  const profileDir = `/var/lib/kubelet/seccomp/${SECCOMP_PROFILE.split('/')[0]}`;
  return [{
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'nslab-agent', namespace: v.namespace, labels: labels('agent') },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'nslab', 'app.kubernetes.io/component': 'agent' } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: labels('agent') },
        spec: {
          ...sandboxNodes(v),
          hostPID: true,
          automountServiceAccountToken: false,
          priorityClassName: 'system-node-critical',
          initContainers: [
            {
              name: 'seccomp-profile', image: v.images.server,
              command: ['sh', '-c', `mkdir -p ${profileDir} && cp /profiles/sandbox.json ${profileDir}/sandbox.json.new && mv ${profileDir}/sandbox.json.new ${profileDir}/sandbox.json`],
              securityContext: { runAsUser: 0, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['DAC_OVERRIDE'] } },
              volumeMounts: [{ name: 'profiles', mountPath: '/profiles', readOnly: true }, { name: 'seccomp', mountPath: profileDir }],
            },
            {
              name: 'apparmor-profile', image: v.images.server,
              command: ['apparmor_parser', '--replace', '--write-cache', `/profiles/${APPARMOR_PROFILE}`],
              securityContext: { privileged: true, readOnlyRootFilesystem: true },
              volumeMounts: [{ name: 'profiles', mountPath: '/profiles', readOnly: true }, { name: 'securityfs', mountPath: '/sys/kernel/security' }],
            },
          ],
          containers: [{
            name: 'agent', image: v.images.server,
            command: ['nslab', 'agent', '--port', String(v.agent.port)],
            ports: [{ name: 'agent', containerPort: v.agent.port, protocol: 'TCP' }],
            env: [{ name: 'NSLAB_NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
            // reads /proc of other pods' processes and enters their namespaces (setns): read-only otherwise
            securityContext: { privileged: true, readOnlyRootFilesystem: true },
            resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
            volumeMounts: [
              { name: 'cgroup', mountPath: '/sys/fs/cgroup', readOnly: true },
              { name: 'tls', mountPath: '/etc/nslab/tls', readOnly: true },
            ],
          }],
          volumes: [
            { name: 'profiles', configMap: { name: 'nslab-node-profiles' } },
            { name: 'seccomp', hostPath: { path: profileDir, type: 'DirectoryOrCreate' } },
            { name: 'securityfs', hostPath: { path: '/sys/kernel/security', type: 'Directory' } },
            { name: 'cgroup', hostPath: { path: '/sys/fs/cgroup', type: 'Directory' } },
            { name: 'tls', secret: { secretName: v.agent.serverTlsSecret } },
          ],
        },
      },
    },
  }];
}

function fronts(v: ResolvedValues): (IDeployment | IService | IPodDisruptionBudget)[] {
  const sel = { 'app.kubernetes.io/name': 'nslab', 'app.kubernetes.io/component': 'front' };
  return [
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'nslab-front', namespace: v.namespace, labels: labels('front') },
      spec: {
        replicas: v.fronts.replicas,
        selector: { matchLabels: sel },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: labels('front') },
          spec: {
            serviceAccountName: 'nslab-front',
            // its token is for the API server: the fronts create, exec into and delete sandbox pods
            automountServiceAccountToken: true,
            securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: sel } }],
            containers: [{
              name: 'front', image: v.images.server,
              command: ['nslab', 'serve', '--host', '0.0.0.0', '--port', String(FRONT_PORT)],
              ports: [{ name: 'http', containerPort: FRONT_PORT, protocol: 'TCP' }],
              env: [
                { name: 'NSLAB_BACKEND', value: 'kubernetes' },
                { name: 'NSLAB_KUBE_NAMESPACE', value: v.sandboxNamespace },
                { name: 'NSLAB_AGENT_NAMESPACE', value: v.namespace },
                { name: 'NSLAB_AGENT_PORT', value: String(v.agent.port) },
                { name: 'NSLAB_DATABASE_URL', valueFrom: { secretKeyRef: { name: v.fronts.databaseSecret, key: 'url' } } },
                { name: 'NSLAB_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ],
              readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 20, failureThreshold: 3 },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
              volumeMounts: [{ name: 'agent-client', mountPath: '/etc/nslab/tls', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }],
            }],
            volumes: [{ name: 'agent-client', secret: { secretName: v.agent.clientTlsSecret } }, { name: 'tmp', emptyDir: {} }],
          },
        },
      },
    },
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'nslab', namespace: v.namespace, labels: labels('front') },
      spec: { selector: sel, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
    },
    {
      apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'nslab-front', namespace: v.namespace, labels: labels('front') },
      spec: { minAvailable: 1, selector: { matchLabels: sel } },
    },
  ];
}

/**
 * The z2jh pattern for a class rush: pause pods sized like sandboxes, at a priority
 * below them, so the cluster autoscaler grows the pool before the class arrives and
 * each joining learner's pod takes a placeholder's room at once (preemption).
 */
function placeholders(v: ResolvedValues): IDeployment[] {
  return [{
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'nslab-placeholder', namespace: v.sandboxNamespace, labels: labels('placeholder') },
    spec: {
      replicas: v.placeholders,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'nslab', 'app.kubernetes.io/component': 'placeholder' } },
      template: {
        metadata: { labels: labels('placeholder') },
        spec: {
          ...sandboxNodes(v),
          priorityClassName: 'nslab-placeholder',
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
          securityContext: { runAsNonRoot: true, runAsUser: 65535, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: 'pause', image: v.images.pause,
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            resources: { requests: { cpu: v.sandbox.cpuRequest, memory: v.sandbox.memoryRequest }, limits: { memory: v.sandbox.memoryRequest } },
          }],
        },
      },
    },
  }];
}

/** every sandbox node holds the sandbox image before the first learner needs it */
function imagePuller(v: ResolvedValues): IDaemonSet[] {
  return [{
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'nslab-image-puller', namespace: v.sandboxNamespace, labels: labels('image-puller') },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'nslab', 'app.kubernetes.io/component': 'image-puller' } },
      template: {
        metadata: { labels: labels('image-puller') },
        spec: {
          ...sandboxNodes(v),
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
          securityContext: { runAsNonRoot: true, runAsUser: 65535, seccompProfile: { type: 'RuntimeDefault' } },
          initContainers: [{
            name: 'pull-sandbox', image: v.images.sandbox, imagePullPolicy: 'Always', command: ['/bin/true'],
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            resources: { requests: { cpu: '0', memory: '0' } },
          }],
          containers: [{
            name: 'pause', image: v.images.pause,
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            resources: { requests: { cpu: '0', memory: '0' }, limits: { memory: '20Mi' } },
          }],
        },
      },
    },
  }];
}

export function clusterObjects(v: ResolvedValues): ClusterObject[] {
  return [
    ...namespaces(v), ...priorities(), ...networkPolicies(v), ...frontRights(v), ...sandboxAdmissionPolicy(v),
    ...profiles(v), ...agent(v), ...fronts(v), ...placeholders(v), ...imagePuller(v),
  ];
}
