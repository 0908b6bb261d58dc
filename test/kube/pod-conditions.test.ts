/**
 * The sandbox pod's kernel conditions, reproduced with crun on this host
 * (docs/kubernetes-pod-conditions.md): what a learner's root can and cannot do in
 * the pod with and without procMount: Unmasked, and with and without CAP_SYS_ADMIN.
 * No cluster runs here; the container is set up as the kubelet and containerd
 * would set it up (user namespace, capability set, the runtime's masked paths,
 * no no_new_privs, read-only root with writable tmpfs directories).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalBackend } from '../../lab-server/sandbox/index.ts';
import { ALL_CAPS, RUNTIME_MASKED_PATHS } from '../../lab-server/sandbox/oci-spec.ts';
import type { PodConditions } from '../../lab-server/sandbox/oci-spec.ts';
import type { Sandbox } from '../../lab-server/sandbox/types.ts';
import { sh } from '../sandbox/helpers.ts';
import { capMask, POD_CAPABILITIES, podBackend, SANDBOX_POD } from './pod-conditions.ts';

const MASKED: PodConditions = { ...SANDBOX_POD, procMount: 'Default' };
const NO_SYS_ADMIN: PodConditions = { ...SANDBOX_POD, capabilities: POD_CAPABILITIES.filter((c) => c !== 'CAP_SYS_ADMIN') };

/** one sandbox under the given conditions for the whole describe block */
function inPod(pod: PodConditions) {
  let backend: LocalBackend;
  let sandbox: Sandbox;
  beforeAll(async () => {
    backend = await podBackend(pod);
    sandbox = await backend.create({ label: 'test/kube pod conditions' });
  });
  afterAll(async () => { await backend?.destroyAll(); });
  return { run: (script: string) => sh(sandbox, script) };
}

describe('procMount Default (the runtime masks /proc)', () => {
  const pod = inPod(MASKED);

  it('has the runtime\'s masks over /proc', async () => {
    const r = await pod.run('grep -c "" /proc/keys /proc/timer_list; awk \'$5 ~ "^/proc/" {print $5}\' /proc/self/mountinfo');
    expect(r.stdout).toContain('/proc/keys:0');
    expect(r.stdout).toContain('/proc/timer_list:0');
    for (const p of ['/proc/keys', '/proc/timer_list', '/proc/sys', '/proc/acpi']) expect(r.stdout.split('\n')).toContain(p);
    expect(RUNTIME_MASKED_PATHS).toContain('/proc/keys');
  });

  it('a new user namespace cannot mount a proc: "mount /proc failed: Operation not permitted" (mount_too_revealing)', async () => {
    const r = await pod.run('unshare --user --map-root-user --pid --fork --mount-proc true');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('unshare: mount /proc failed: Operation not permitted');
  });

  it('/proc/sys is read-only: no IPC sysctl in a child IPC namespace', async () => {
    const r = await pod.run('unshare --ipc sysctl -w kernel.msgmni=64; awk \'$5 == "/proc/sys" {print $6}\' /proc/self/mountinfo');
    expect(r.stderr).toContain('sysctl: permission denied on key "kernel.msgmni"');
    expect(r.stdout).toMatch(/^ro,/m);
  });

  it('in the pod\'s own user namespace the masks are not locked: `unshare --pid --fork --mount-proc` still works', async () => {
    const r = await pod.run('unshare --pid --fork --mount-proc sh -c \'echo pid=$$; cat /proc/1/comm\'');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('pid=1\nsh\n');
  });
});

describe('procMount Unmasked (the sandbox pod)', () => {
  const pod = inPod(SANDBOX_POD);

  it('shows /proc whole', async () => {
    const r = await pod.run('awk \'$5 ~ "^/proc/" {print $5}\' /proc/self/mountinfo; grep -c "" /proc/timer_list');
    expect(r.stdout.trim()).not.toBe('0');
    expect(r.stdout).not.toContain('/proc/keys');
  });

  it('mounts a proc in a new pid namespace, also from a new user namespace', async () => {
    for (const cmd of ['unshare --pid --fork --mount-proc', 'unshare --user --map-root-user --pid --fork --mount-proc']) {
      const r = await pod.run(`${cmd} sh -c 'echo pid=$$; cat /proc/1/comm'`);
      expect(r.stderr, cmd).toBe('');
      expect(r.stdout, cmd).toBe('pid=1\nsh\n');
    }
  });

  it('runs with exactly the pod\'s capabilities, in terminals too, and without no_new_privs', async () => {
    const r = await pod.run('grep -E "^(CapBnd|CapEff|CapPrm|NoNewPrivs)" /proc/self/status');
    const want = capMask(POD_CAPABILITIES, ALL_CAPS).toString(16).padStart(16, '0');
    for (const f of ['CapBnd', 'CapEff', 'CapPrm']) expect(r.stdout).toMatch(new RegExp(`^${f}:\\s+${want}$`, 'm'));
    expect(r.stdout).toMatch(/^NoNewPrivs:\s+0$/m);
  });

  it('has a read-only root and the writable directories the pod mounts', async () => {
    const r = await pod.run('touch /rootfile; for d in /root /tmp /home /run /var/tmp; do touch $d/x && echo ok $d; done');
    expect(r.stderr).toContain("touch: cannot touch '/rootfile': Read-only file system");
    expect(r.stdout.trim().split('\n')).toEqual(['ok /root', 'ok /tmp', 'ok /home', 'ok /run', 'ok /var/tmp']);
  });

  it('sets an IPC sysctl in a child IPC namespace', async () => {
    const r = await pod.run('unshare --ipc sh -c "sysctl -w kernel.msgmni=64 >/dev/null; sysctl -n kernel.msgmni"');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('64\n');
  });

  it('writes under /mnt and /srv (emptyDirs, as the mount-namespace lesson needs) but not elsewhere in the image', async () => {
    const r = await pod.run('mkdir /mnt/shared && mkdir /srv/www && echo made; mkdir /opt/x');
    expect(r.stdout).toBe('made\n');
    expect(r.stderr).toContain("mkdir: cannot create directory ‘/opt/x’: Read-only file system");
  });

  it('gives a new time namespace its offsets with CAP_SYS_TIME; the host clock stays out of reach (seccomp and the user namespace)', async () => {
    const r = await pod.run('unshare --time --fork --boottime 86400 cat /proc/self/timens_offsets; date -s @0');
    expect(r.stdout).toMatch(/^boottime\s+86400\s+0$/m);
    expect(r.stderr).toContain('date: cannot set date: Operation not permitted');
  });

  it('makes every kind of namespace with unshare', async () => {
    const r = await pod.run('unshare --ipc --uts --net --mount --cgroup --pid --fork true && echo made');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('made\n');
  });
});

describe('without CAP_SYS_TIME (the pod as first specified)', () => {
  const pod = inPod({ ...SANDBOX_POD, capabilities: POD_CAPABILITIES.filter((c) => c !== 'CAP_SYS_TIME') });

  it('cannot give a new time namespace clock offsets: why the pod adds CAP_SYS_TIME', async () => {
    const r = await pod.run('unshare --time --fork --boottime 86400 true');
    expect(r.stderr).toContain('unshare: failed to write to /proc/self/timens_offsets: Operation not permitted');
  });
});

describe('without CAP_SYS_ADMIN', () => {
  const pod = inPod(NO_SYS_ADMIN);

  it('unshare of every namespace kind fails', async () => {
    for (const ns of ['--ipc', '--uts', '--net', '--mount', '--cgroup', '--pid --fork']) {
      const r = await pod.run(`unshare ${ns} true`);
      expect(r.code, ns).not.toBe(0);
      expect(r.stderr, ns).toContain('unshare failed: Operation not permitted');
    }
  });

  it('a new user namespace gives the capabilities back (nslab\'s seccomp filter, unlike RuntimeDefault, allows it)', async () => {
    const r = await pod.run('unshare --user --map-root-user --ipc --uts --net --mount true && echo made');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('made\n');
  });
});
