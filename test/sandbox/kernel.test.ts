/**
 * The kernel floor and the AppArmor user-namespace switch, both ways, from the
 * strings the host would give (uname -r, the sysctl's content): nslab doctor and
 * `nslab serve` act on exactly these verdicts (host.ts, cli/doctor.ts).
 */
import { release } from 'node:os';
import { describe, expect, it } from 'vitest';
import { hostRequirements } from '../../lab-server/sandbox/host.ts';
import { checkAppArmorUserns, checkKernelRelease, KERNEL_FLOOR_TEXT, parseKernelRelease } from '../../lab-server/sandbox/kernel.ts';

describe('kernel floor', () => {
  it('reads distribution release strings', () => {
    expect(parseKernelRelease('6.1.0-28-amd64')).toEqual([6, 1]);
    expect(parseKernelRelease('5.15.0-119-generic')).toEqual([5, 15]);
    expect(parseKernelRelease('5.14.0-427.13.1.el9_4.x86_64')).toEqual([5, 14]);
    expect(parseKernelRelease('6.18.44-fc-v1272')).toEqual([6, 18]);
    expect(parseKernelRelease('6.10')).toEqual([6, 10]);
    expect(parseKernelRelease('6.1+deb12')).toEqual([6, 1]);
    expect(parseKernelRelease('linux')).toBeNull();
    expect(parseKernelRelease('6')).toBeNull();
  });

  it('accepts Debian 12\'s 6.1 and anything newer', () => {
    for (const r of ['6.1.0-28-amd64', '6.8.0-45-generic', '6.10.3', '7.0.0']) {
      expect(checkKernelRelease(r), r).toMatchObject({ ok: true, fix: '' });
    }
    expect(checkKernelRelease('6.1.0-28-amd64').detail).toBe(`Linux 6.1.0-28-amd64 (nslab needs ${KERNEL_FLOOR_TEXT} or newer)`);
  });

  it('refuses older kernels, saying what is missing and how to get a newer one', () => {
    for (const r of ['6.0.19', '5.19.0-50-generic', '5.15.0-119-generic', '4.19.0-27-amd64']) {
      const v = checkKernelRelease(r);
      expect(v.ok, r).toBe(false);
      expect(v.detail).toBe(`Linux ${r} is older than 6.1, the oldest nslab supports: the sandbox image needs idmapped erofs mounts (5.19) and erofs's compressed fragments (6.1)`);
      expect(v.fix).toMatch(/^boot a kernel 6\.1 or newer \(Debian 12: linux-image-amd64; Ubuntu 22\.04: linux-generic-hwe-22\.04\)$/);
    }
    expect(checkKernelRelease('garbage')).toMatchObject({ ok: false, detail: 'cannot read the kernel version from "garbage" (uname -r)' });
  });

  it('is a host requirement (so `nslab serve` refuses what doctor reports as an error), first after root', () => {
    const rows = hostRequirements();
    expect(rows.map((r) => r.name).slice(0, 2)).toEqual(['root', 'kernel']);
    expect(rows[1]).toEqual({ name: 'kernel', ...checkKernelRelease(release()) });
  });
});

describe('Ubuntu\'s AppArmor restriction of unprivileged user namespaces', () => {
  it('restricted (Ubuntu 24.04\'s default): says what breaks and how to allow it', () => {
    const v = checkAppArmorUserns('1\n');
    expect(v.restricted).toBe(true);
    expect(v.detail).toMatch(/^kernel\.apparmor_restrict_unprivileged_userns = 1: AppArmor strips the capabilities .* `unshare -U`/);
    expect(v.fix).toBe('sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, and keep it with a line "kernel.apparmor_restrict_unprivileged_userns = 0" in /etc/sysctl.d/90-nslab.conf (docs/security.md, "Ubuntu\'s AppArmor restriction")');
  });

  it('allowed, or no such switch: nothing to fix', () => {
    expect(checkAppArmorUserns('0\n')).toMatchObject({ restricted: false, fix: '' });
    expect(checkAppArmorUserns(null)).toMatchObject({ restricted: null, fix: '' });
  });
});
