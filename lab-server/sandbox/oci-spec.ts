/** The OCI runtime config crun gets for one sandbox. */
import { seccompProfile } from './seccomp.ts';
import type { SandboxLimits } from './types.ts';

/** Every capability; inside a user namespace they only act on what that namespace owns. */
export const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const SHM_BYTES = 64 * 1024 * 1024;
/** socket buffer memory a sandbox may hold on cgroup v1 hosts */
export const TCP_BYTES = 64 * 1024 * 1024;

export interface SpecInput {
  rootfs: string;
  imageRoot: string;
  cmdlogFifo: string;
  hostname: string;
  hostUid: number;
  limits: SandboxLimits;
  cgroupsPath: string;
  /**
   * an existing user namespace to join (owned by hostUid, maps already written;
   * see user-namespace.ts). Without it crun makes one, owned by host root.
   */
  userNsPath?: string;
  /** v1 or hybrid cgroups (kmem.tcp must be limited explicitly) */
  cgroupV1?: boolean;
  /** set up as a Kubernetes pod's container would be, instead of as nslab's own sandbox (tests only) */
  pod?: PodConditions;
}

/**
 * What a sandbox looks like when a Kubernetes node runs it as the sandbox pod
 * (lab-server/kube, docs/kubernetes-pod-conditions.md), as far as one crun
 * container on this host can show it. Only the tests use it: they prove the
 * lessons work under the pod's kernel conditions without a cluster.
 */
export interface PodConditions {
  /**
   * 'Default': the runtime masks parts of /proc and /sys (maskedPaths,
   * readonlyPaths below); 'Unmasked': securityContext.procMount: Unmasked, none.
   */
  procMount: 'Default' | 'Unmasked';
  /** the container's capability set (bounding = effective = permitted), CAP_ names */
  capabilities: readonly string[];
  /**
   * /sys/fs/cgroup: 'ro' is what containerd and CRI-O give every unprivileged
   * container; 'rw' is containerd >= 2.1 with `cgroup_writable = true` on the
   * runtime handler (containerd/containerd#11131) or CRI-O's writable-cgroups annotation.
   */
  cgroupfs: 'ro' | 'rw';
}

/** containerd's defaults for a container without procMount: Unmasked (oci/spec.go, populateDefaultUnixSpec) */
export const RUNTIME_MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
] as const;
export const RUNTIME_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'] as const;

/** the directories the sandbox pod mounts writable emptyDirs on (readOnlyRootFilesystem: true) */
export const POD_WRITABLE_DIRS = [
  { dir: '/root', mode: '700' }, { dir: '/tmp', mode: '1777' }, { dir: '/home', mode: '755' },
  { dir: '/run', mode: '755' }, { dir: '/var/tmp', mode: '1777' }, { dir: '/mnt', mode: '755' }, { dir: '/srv', mode: '755' },
] as const;

export function ociSpec(i: SpecInput) {
  const imageBind = (dir: string) => ({
    destination: dir, type: 'bind', source: `${i.imageRoot}${dir}`, options: ['rbind', 'ro', 'nosuid', 'nodev', 'idmap'],
  });
  const capSet = i.pod ? [...i.pod.capabilities] : ALL_CAPS;
  const caps = { bounding: capSet, effective: capSet, permitted: capSet };
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['/usr/local/sbin/nslab-init'],
      env: [`PATH=${SANDBOX_PATH}`, 'HOME=/root', 'TERM=xterm-256color', 'LANG=C.UTF-8'],
      cwd: '/',
      capabilities: caps,
      // a pod cannot have it: Kubernetes refuses allowPrivilegeEscalation: false beside SYS_ADMIN
      noNewPrivileges: !i.pod,
      // Neutral, not positive: when the sandbox overruns its memory cgroup the
      // OOM killer must take the learner's biggest process, never PID 1 (whose
      // death ends the sandbox). With 800, four 150 MB processes in a 512 MB
      // sandbox got init killed instead of one of them (test/security). Learner
      // processes enter through `crun exec` and never inherit this value.
      oomScoreAdj: 0,
      rlimits: [
        { type: 'RLIMIT_NOFILE', hard: 8192, soft: 4096 },
        { type: 'RLIMIT_CORE', hard: 0, soft: 0 },
      ],
    },
    root: { path: i.rootfs, readonly: Boolean(i.pod) },
    hostname: i.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'nodev', 'noexec'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=1m', 'nr_inodes=4096'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5', `max=${i.limits.ptys}`] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'nodev', 'noexec', 'mode=1777', `size=${SHM_BYTES}`] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', i.pod?.cgroupfs ?? 'rw'] },
      imageBind('/usr'),
      imageBind('/etc'),
      imageBind('/opt'),
      imageBind('/var'),
      ...(i.pod ? podWritableMounts() : [
        { destination: '/var/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=64m'] },
        { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755', 'size=16m'] },
      ]),
      { destination: '/run/nslab/cmdlog', type: 'bind', source: i.cmdlogFifo, options: ['bind', 'rw', 'nosuid', 'nodev', 'noexec'] },
    ],
    linux: {
      uidMappings: [{ containerID: 0, hostID: i.hostUid, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: i.hostUid, size: 65536 }],
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network', 'user', 'cgroup'].map((type) =>
        (type === 'user' && i.userNsPath ? { type, path: i.userNsPath } : { type })),
      cgroupsPath: i.cgroupsPath,
      resources: {
        // cgroup v1 does not charge socket buffers to the memory limit unless
        // kmem.tcp accounting is switched on for the group (v2 always charges them)
        memory: { limit: i.limits.memoryBytes, swap: i.limits.memoryBytes, ...(i.cgroupV1 ? { kernelTCP: Math.min(TCP_BYTES, i.limits.memoryBytes) } : {}) },
        pids: { limit: i.limits.pids },
        cpu: { quota: Math.round(i.limits.cpus * 100_000), period: 100_000 },
      },
      rootfsPropagation: 'private',
      seccomp: seccompProfile(),
      ...(i.pod?.procMount === 'Default' ? { maskedPaths: [...RUNTIME_MASKED_PATHS], readonlyPaths: [...RUNTIME_READONLY_PATHS] } : {}),
    },
  };
}

/** the pod's memory emptyDirs; containerd also mounts an mqueue on /dev/mqueue in every container */
function podWritableMounts() {
  return [
    ...POD_WRITABLE_DIRS.map(({ dir, mode }) => ({ destination: dir, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', `mode=${mode}`, 'size=64m'] })),
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
}
