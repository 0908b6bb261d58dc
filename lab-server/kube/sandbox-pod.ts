/**
 * One sandbox as one bare Pod (docs/kubernetes.md, "A sandbox"). No controller owns
 * it: a sandbox whose node dies is gone, and the learner gets a fresh one with a
 * notice, as after a server restart on one host; it is never silently recreated
 * somewhere else with half a lesson's state.
 *
 * The pod is what the local sandbox is (docs/sandbox.md), as far as a pod can be:
 * its own user namespace (hostUsers: false), so the capabilities the lessons need
 * count only inside it; a full /proc (procMount: Unmasked: without it
 * `unshare --pid --mount-proc` fails); nslab's own seccomp filter as a Localhost
 * profile; an AppArmor profile that allows mount; limits on CPU, memory and disk;
 * a hard deadline; no service-account token; no way out on the network.
 */
import { createHash } from 'node:crypto';
import type { IPod } from 'kubernetes-models/v1';
import type { ResolvedValues } from './values.ts';

/** where the node agent installs nslab's seccomp filter, relative to the kubelet's seccomp root */
export const SECCOMP_PROFILE = 'nslab/sandbox.json';
/** the AppArmor profile the node agent loads on every sandbox node */
export const APPARMOR_PROFILE = 'nslab-sandbox';

/**
 * Added to a pod's empty set (drop ALL first): the container runtime's usual set,
 * plus what the lessons use (docs/security.md, "Capabilities"): SYS_ADMIN for
 * unshare, mount, setns, pivot_root; NET_ADMIN for veth and ip netns; SYS_PTRACE for
 * nsenter; SYS_RESOURCE and IPC_OWNER/IPC_LOCK for the IPC lessons; SYS_TIME for the
 * offsets of a new time namespace (the wall clock needs it in the host's user
 * namespace, which the pod never has: `date -s` stays refused). In a pod with
 * hostUsers: false every one of them acts only on what the pod's user namespace owns.
 */
export const SANDBOX_CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'SETFCAP',
  'NET_BIND_SERVICE', 'NET_RAW', 'SYS_CHROOT', 'MKNOD', 'AUDIT_WRITE',
  'SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE', 'SYS_RESOURCE', 'IPC_OWNER', 'IPC_LOCK', 'SYS_TIME',
] as const;

/** the directories a learner writes; the image itself is read-only */
export const WRITABLE_DIRS = ['/root', '/tmp', '/run', '/var/tmp', '/home', '/mnt', '/srv'] as const;

export interface SandboxIdentity {
  /** nslab's sandbox id (lower-case letters and digits) */
  id: string;
  /** the workshop code or 'self-paced' */
  course: string;
  /** the learner's id; only a hash of it goes to the cluster */
  learner: string;
}

export const sandboxPodName = (id: string) => `nslab-sbx-${id}`;
const labelValue = (s: string) => s.toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '').slice(0, 63) || 'none';
/** a learner's name or token never reaches the cluster's etcd: a salted-free, short, stable hash */
export const learnerLabel = (learner: string) => createHash('sha256').update(learner).digest('hex').slice(0, 16);

export function sandboxPod(v: ResolvedValues, who: SandboxIdentity): IPod {
  if (!/^[a-z0-9]{1,40}$/.test(who.id)) throw new Error(`sandbox id ${JSON.stringify(who.id)}: lower-case letters and digits only`);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: sandboxPodName(who.id),
      namespace: v.sandboxNamespace,
      labels: {
        'app.kubernetes.io/name': 'nslab',
        'app.kubernetes.io/component': 'sandbox',
        'nslab.io/sandbox': who.id,
        'nslab.io/course': labelValue(who.course),
        'nslab.io/learner': learnerLabel(who.learner),
      },
    },
    spec: {
      hostUsers: false,
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      activeDeadlineSeconds: v.sandbox.lifetimeSeconds,
      terminationGracePeriodSeconds: 5,
      priorityClassName: 'nslab-sandbox',
      // the local sandbox's name, which lessons' checks compare against (sample-hostname, namespaces-tour)
      hostname: 'nslab',
      // the pod has no network but its own loopback (NetworkPolicy deny-all): no cluster DNS either
      dnsPolicy: 'None',
      dnsConfig: { nameservers: ['127.0.0.1'] },
      ...(v.nodePool.runtimeClassName ? { runtimeClassName: v.nodePool.runtimeClassName } : {}),
      nodeSelector: v.nodePool.nodeSelector,
      tolerations: [{ key: v.nodePool.taint.key, operator: 'Equal', value: v.nodePool.taint.value, effect: 'NoSchedule' }],
      securityContext: {
        seccompProfile: { type: 'Localhost', localhostProfile: SECCOMP_PROFILE },
        appArmorProfile: { type: 'Localhost', localhostProfile: APPARMOR_PROFILE },
      },
      containers: [{
        name: 'sandbox',
        image: v.images.sandbox,
        imagePullPolicy: 'IfNotPresent',
        command: ['/usr/local/sbin/nslab-init'],
        securityContext: {
          runAsUser: 0,
          runAsGroup: 0,
          runAsNonRoot: false,
          privileged: false,
          // Kubernetes refuses allowPrivilegeEscalation: false beside CAP_SYS_ADMIN, so
          // no_new_privs cannot be set as the local sandbox sets it: the image carries
          // no setuid or file-capability binary instead (docs/kubernetes.md)
          capabilities: { drop: ['ALL'], add: [...SANDBOX_CAPABILITIES] },
          procMount: 'Unmasked',
          readOnlyRootFilesystem: true,
        },
        resources: {
          limits: { cpu: v.sandbox.cpu, memory: v.sandbox.memory, 'ephemeral-storage': v.sandbox.ephemeralStorage },
          requests: { cpu: v.sandbox.cpuRequest, memory: v.sandbox.memoryRequest, 'ephemeral-storage': v.sandbox.ephemeralStorage },
        },
        volumeMounts: WRITABLE_DIRS.map((dir) => ({ name: 'writable', mountPath: dir, subPath: dir.slice(1).replace(/\//g, '-') })),
      }],
      volumes: [{ name: 'writable', emptyDir: { medium: 'Memory', sizeLimit: v.sandbox.writable } }],
    },
  };
}
