/**
 * The ValidatingAdmissionPolicy that pins a sandbox pod to exactly the spec of
 * sandbox-pod.ts. The fronts may create pods in the sandbox namespace (RBAC); this
 * policy is why a compromised front still cannot create a privileged pod, mount a
 * host path, join the host's namespaces or run another image there. Each rule is one
 * CEL expression with its own message, so a refusal names what was wrong, and the
 * tests evaluate every rule against the pod we make and against near misses.
 */
import { APPARMOR_PROFILE, SANDBOX_CAPABILITIES, SECCOMP_PROFILE } from './sandbox-pod.ts';
import type { IValidatingAdmissionPolicy, IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import type { ResolvedValues } from './values.ts';

export interface PolicyRule { expression: string; message: string }

const cel = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const celList = (xs: readonly string[]) => `[${xs.map(cel).join(', ')}]`;
/** every container of the pod, ephemeral ones too (kubectl debug adds those) */
const EACH = 'object.spec.containers.all(c,';

export function sandboxPolicyRules(v: ResolvedValues): PolicyRule[] {
  const sc = 'has(c.securityContext)';
  return [
    { expression: 'has(object.spec.hostUsers) && object.spec.hostUsers == false', message: 'sandbox pods run in their own user namespace (hostUsers: false)' },
    { expression: '!(has(object.spec.hostNetwork) && object.spec.hostNetwork) && !(has(object.spec.hostPID) && object.spec.hostPID) && !(has(object.spec.hostIPC) && object.spec.hostIPC)', message: "sandbox pods never share the node's network, PID or IPC namespace" },
    { expression: 'has(object.spec.automountServiceAccountToken) && object.spec.automountServiceAccountToken == false', message: 'sandbox pods get no service-account token' },
    { expression: "object.spec.restartPolicy == 'Never'", message: 'a sandbox is never restarted (restartPolicy: Never)' },
    { expression: `has(object.spec.activeDeadlineSeconds) && object.spec.activeDeadlineSeconds <= ${v.sandbox.lifetimeSeconds}`, message: `a sandbox lives at most ${v.sandbox.lifetimeSeconds} s (activeDeadlineSeconds)` },
    { expression: 'size(object.spec.containers) == 1 && !has(object.spec.initContainers) && !has(object.spec.ephemeralContainers)', message: 'a sandbox pod has exactly one container: no init or ephemeral containers' },
    { expression: `${EACH} c.image == ${cel(v.images.sandbox)})`, message: `sandbox pods run only ${v.images.sandbox}` },
    { expression: `${EACH} !has(c.ports))`, message: 'sandbox pods open no ports' },
    { expression: '!has(object.spec.volumes) || object.spec.volumes.all(vol, has(vol.emptyDir))', message: 'sandbox pods mount only emptyDir volumes (no host paths, secrets or claims)' },
    {
      expression: `has(object.spec.securityContext) && has(object.spec.securityContext.seccompProfile) && object.spec.securityContext.seccompProfile.type == 'Localhost' && object.spec.securityContext.seccompProfile.localhostProfile == ${cel(SECCOMP_PROFILE)} && ${EACH} !${sc} || !has(c.securityContext.seccompProfile))`,
      message: `sandbox pods run under nslab's seccomp filter (Localhost ${SECCOMP_PROFILE}), not overridden per container`,
    },
    {
      expression: `has(object.spec.securityContext) && has(object.spec.securityContext.appArmorProfile) && object.spec.securityContext.appArmorProfile.type == 'Localhost' && object.spec.securityContext.appArmorProfile.localhostProfile == ${cel(APPARMOR_PROFILE)} && ${EACH} !${sc} || !has(c.securityContext.appArmorProfile))`,
      message: `sandbox pods run under the AppArmor profile ${APPARMOR_PROFILE}, not overridden per container`,
    },
    { expression: `${EACH} ${sc} && !(has(c.securityContext.privileged) && c.securityContext.privileged))`, message: 'sandbox containers are never privileged' },
    {
      expression: `${EACH} ${sc} && has(c.securityContext.capabilities) && has(c.securityContext.capabilities.drop) && 'ALL' in c.securityContext.capabilities.drop && (!has(c.securityContext.capabilities.add) || c.securityContext.capabilities.add.all(x, x in ${celList(SANDBOX_CAPABILITIES)})))`,
      message: "sandbox containers drop ALL capabilities and add back only the lessons' set",
    },
    { expression: `${EACH} ${sc} && has(c.securityContext.procMount) && c.securityContext.procMount == 'Unmasked')`, message: 'sandbox containers see a full /proc (procMount: Unmasked; only valid with hostUsers: false)' },
    { expression: `${EACH} ${sc} && has(c.securityContext.readOnlyRootFilesystem) && c.securityContext.readOnlyRootFilesystem)`, message: "the sandbox image is read-only (readOnlyRootFilesystem)" },
    {
      expression: `${EACH} has(c.resources) && has(c.resources.limits) && ${celList(['cpu', 'memory', 'ephemeral-storage'])}.all(k, k in c.resources.limits) && c.resources.limits['cpu'] == ${cel(v.sandbox.cpu)} && c.resources.limits['memory'] == ${cel(v.sandbox.memory)} && c.resources.limits['ephemeral-storage'] == ${cel(v.sandbox.ephemeralStorage)})`,
      message: `sandbox containers are limited to cpu ${v.sandbox.cpu}, memory ${v.sandbox.memory}, ephemeral-storage ${v.sandbox.ephemeralStorage}`,
    },
  ];
}

export function sandboxAdmissionPolicy(v: ResolvedValues): [IValidatingAdmissionPolicy, IValidatingAdmissionPolicyBinding] {
  const name = 'nslab-sandbox-pods';
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods', 'pods/ephemeralcontainers'] }],
        },
        validations: sandboxPolicyRules(v),
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name },
      spec: {
        policyName: name,
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': v.sandboxNamespace } } },
      },
    },
  ];
}
