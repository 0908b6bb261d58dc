/**
 * The sandbox's seccomp filter (OCI format; crun compiles it with libseccomp).
 *
 * Default allow, because the lessons need the very calls a container runtime
 * normally forbids (unshare, setns, mount, pivot_root, clone with CLONE_NEW*):
 * Docker's default profile, copied as it is, breaks every lesson. We deny what
 * no lesson needs and what has a history of turning a user-namespace root into a
 * host root (keyrings, bpf, perf, io_uring, nf_tables netlink, module autoload
 * through exotic socket families, vsock which no network namespace isolates).
 * Only the x86_64 ABI is allowed: 32-bit and x32 entry points would bypass the
 * argument filters below (socketcall), so libseccomp kills them.
 */
const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;

export const DENIED_SYSCALLS = [
  'keyctl', 'add_key', 'request_key',
  'bpf', 'perf_event_open', 'userfaultfd',
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module',
  'iopl', 'ioperm', 'swapon', 'swapoff', 'reboot', 'acct', 'quotactl', 'quotactl_fd',
  'open_by_handle_at', 'name_to_handle_at', 'syslog', 'kcmp', 'fanotify_init',
  'lookup_dcookie', 'uselib', 'ustat', 'sysfs', 'move_pages', 'migrate_pages',
  'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'vhangup',
] as const;

/**
 * ENOSYS, so programs fall back (glibc's POSIX aio uses threads, libaio users use
 * synchronous I/O). io_uring: the largest recent source of kernel escalations.
 * Legacy AIO (io_setup ...): its contexts come from ONE system-wide pool,
 * fs.aio-max-nr (65536 events by default); 16 io_setup(4096) calls in one sandbox
 * took all of it and the host's own io_setup failed with EAGAIN (test/security).
 */
export const ENOSYS_SYSCALLS = [
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  'io_setup', 'io_destroy', 'io_submit', 'io_cancel', 'io_getevents', 'io_pgetevents',
] as const;

/** Address families a learner may open: unix, inet, inet6, netlink, packet. */
export const ALLOWED_FAMILIES = [1, 2, 10, 16, 17] as const;
const AF_NETLINK = 16;
const NETLINK_NETFILTER = 12;
const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;

type Rule = {
  names: string[];
  action: 'SCMP_ACT_ERRNO';
  errnoRet: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
};

export function seccompProfile() {
  const syscalls: Rule[] = [
    { names: [...DENIED_SYSCALLS], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
    { names: [...ENOSYS_SYSCALLS], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
  ];
  // every family below the highest allowed one that is not allowed, then everything above it
  const maxAllowed = Math.max(...ALLOWED_FAMILIES);
  for (let af = 0; af < maxAllowed; af++) {
    if ((ALLOWED_FAMILIES as readonly number[]).includes(af)) continue;
    syscalls.push({ names: ['socket', 'socketpair'], action: 'SCMP_ACT_ERRNO', errnoRet: EAFNOSUPPORT, args: [{ index: 0, value: af, op: 'SCMP_CMP_EQ' }] });
  }
  syscalls.push({ names: ['socket', 'socketpair'], action: 'SCMP_ACT_ERRNO', errnoRet: EAFNOSUPPORT, args: [{ index: 0, value: maxAllowed, op: 'SCMP_CMP_GT' }] });
  syscalls.push({
    names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM,
    args: [{ index: 0, value: AF_NETLINK, op: 'SCMP_CMP_EQ' }, { index: 2, value: NETLINK_NETFILTER, op: 'SCMP_CMP_EQ' }],
  });
  for (const req of [TIOCSTI, TIOCLINUX]) {
    syscalls.push({ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 1, value: 0xffffffff, valueTwo: req, op: 'SCMP_CMP_MASKED_EQ' }] });
  }
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls };
}
