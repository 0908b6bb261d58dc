/**
 * The oldest kernel nslab runs on, and the Ubuntu AppArmor switch that breaks nested
 * user namespaces. Pure functions of what they are given (a release string, a sysctl
 * value), so both ways of each are unit-tested without another kernel.
 *
 * Why 6.1 (docs/sandbox.md, "Kernel floor", has the table):
 * - the image is bound into the sandbox with idmapped mounts (crun's `idmap` option:
 *   mount_setattr, Linux 5.12), and erofs accepts idmapped mounts since 5.19
 *   (commit 6c459b78d479 "erofs: support idmapped mounts");
 * - the image is built with `mkfs.erofs -Eall-fragments`, an on-disk format the
 *   kernel reads since 6.1 (commit b15b2e307c3a "erofs: support on-disk compressed
 *   fragments data"); an older kernel refuses to mount it;
 * - the writable layer is a plain tmpfs whose skeleton is chowned to the sandbox's
 *   uid (helpers/nslab-rootfs.c), NOT an idmapped tmpfs, so tmpfs idmapping (6.3) is
 *   not needed: that is how Debian 12's 6.1 works;
 * - per-user quotas as ucounts (5.14) and release_agent needing init-namespace
 *   CAP_SYS_ADMIN (5.17) are what docs/security.md's promises rest on.
 * Debian 12 (6.1) is the floor we test in the VM guest; Ubuntu 22.04's GA 5.15 is
 * below it (its HWE kernel, 6.8, is fine).
 */

export const KERNEL_FLOOR = { major: 6, minor: 1 } as const;
export const KERNEL_FLOOR_TEXT = `${KERNEL_FLOOR.major}.${KERNEL_FLOOR.minor}`;

export interface KernelVerdict {
  ok: boolean;
  detail: string;
  /** how to get a supported kernel; empty when ok */
  fix: string;
}

/** `6.1.0-28-amd64` → [6, 1]; null when the string does not start with a version. */
export function parseKernelRelease(release: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)(?:[.\-+_~].*)?$/.exec(release.trim());
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** `release` is `uname -r` (os.release()). */
export function checkKernelRelease(release: string): KernelVerdict {
  const v = parseKernelRelease(release);
  if (!v) {
    return { ok: false, detail: `cannot read the kernel version from "${release}" (uname -r)`, fix: `nslab needs Linux ${KERNEL_FLOOR_TEXT} or newer; check that /proc/sys/kernel/osrelease is readable` };
  }
  const [major, minor] = v;
  if (major > KERNEL_FLOOR.major || (major === KERNEL_FLOOR.major && minor >= KERNEL_FLOOR.minor)) {
    return { ok: true, detail: `Linux ${release} (nslab needs ${KERNEL_FLOOR_TEXT} or newer)`, fix: '' };
  }
  return {
    ok: false,
    detail: `Linux ${release} is older than ${KERNEL_FLOOR_TEXT}, the oldest nslab supports: the sandbox image needs idmapped erofs mounts (5.19) and erofs's compressed fragments (6.1)`,
    fix: `boot a kernel ${KERNEL_FLOOR_TEXT} or newer (Debian 12: linux-image-amd64; Ubuntu 22.04: linux-generic-hwe-22.04)`,
  };
}

export interface AppArmorUsernsVerdict {
  /** true: restricted (learners' `unshare -U` loses its capabilities); false: not; null: no such switch on this kernel */
  restricted: boolean | null;
  detail: string;
  fix: string;
}

export const APPARMOR_USERNS_SYSCTL = 'kernel.apparmor_restrict_unprivileged_userns';

/**
 * Ubuntu 23.10+ (on by default in 24.04): a process without CAP_SYS_ADMIN that makes a
 * user namespace is moved to the `unprivileged_userns` AppArmor profile, which denies
 * every capability in it. The learner's root is not CAP_SYS_ADMIN in the host's
 * namespace, so the lessons' `unshare -U ...` then mount, set hostnames etc. would
 * fail with "Permission denied" (docs/security.md, "Ubuntu's AppArmor restriction").
 * `value` is the sysctl's content, null when the file does not exist.
 */
export function checkAppArmorUserns(value: string | null): AppArmorUsernsVerdict {
  if (value === null) return { restricted: null, detail: `no ${APPARMOR_USERNS_SYSCTL} on this kernel: user namespaces are not mediated by AppArmor`, fix: '' };
  const v = value.trim();
  if (v === '0') return { restricted: false, detail: `${APPARMOR_USERNS_SYSCTL} = 0: learners can make user namespaces inside the sandbox`, fix: '' };
  return {
    restricted: true,
    detail: `${APPARMOR_USERNS_SYSCTL} = ${v}: AppArmor strips the capabilities of user namespaces made by processes that are not host root, so lessons' \`unshare -U\` steps (and any mount or hostname inside them) fail for learners`,
    fix: `sysctl -w ${APPARMOR_USERNS_SYSCTL}=0, and keep it with a line "${APPARMOR_USERNS_SYSCTL} = 0" in /etc/sysctl.d/90-nslab.conf (docs/security.md, "Ubuntu's AppArmor restriction")`,
  };
}
