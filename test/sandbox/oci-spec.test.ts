/**
 * The sandbox's OCI config on both kinds of cgroup host. This machine runs only the
 * hybrid branch for real (test/sandbox); here the v2 branch is held to the same
 * promises as a document: limits, namespaces, and nothing of the host mounted.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, limitsSchema } from '../../lab-server/sandbox/config.ts';
import { ALL_CAPS, ociSpec, POD_WRITABLE_DIRS, RUNTIME_MASKED_PATHS, RUNTIME_READONLY_PATHS, TCP_BYTES } from '../../lab-server/sandbox/oci-spec.ts';

const limits = limitsSchema.parse({ ...DEFAULT_LIMITS, memoryBytes: 512 * 1048576, pids: 300, cpus: 0.5 });
const input = {
  rootfs: '/run/nslab/sandboxes/abc/rootfs', imageRoot: '/var/lib/nslab/images/default/root', cmdlogFifo: '/run/nslab/sandboxes/abc/cmdlog',
  hostname: 'nslab', hostUid: 200_000_000, limits, cgroupsPath: '/nslab/abc', userNsPath: '/proc/42/ns/user',
};

describe.each([
  ['cgroup v2', false],
  ['cgroup v1 / hybrid', true],
])('OCI config on %s', (_name, cgroupV1) => {
  const spec = ociSpec({ ...input, cgroupV1 });

  it('writes the limits', () => {
    expect(spec.linux.resources.memory).toMatchObject({ limit: limits.memoryBytes, swap: limits.memoryBytes });
    expect(spec.linux.resources.pids).toEqual({ limit: 300 });
    expect(spec.linux.resources.cpu).toEqual({ quota: 50_000, period: 100_000 });
    expect(spec.linux.cgroupsPath).toBe('/nslab/abc');
  });

  it(cgroupV1 ? 'caps socket buffers with kmem.tcp (v1 does not charge them otherwise)' : 'leaves socket buffers to memory.max (v2 charges them)', () => {
    const memory = spec.linux.resources.memory as { kernelTCP?: number };
    if (cgroupV1) expect(memory.kernelTCP).toBe(TCP_BYTES);
    else expect(memory.kernelTCP).toBeUndefined();
  });

  it('joins the user namespace made for the sandbox and makes every other kind', () => {
    expect(spec.linux.namespaces).toContainEqual({ type: 'user', path: '/proc/42/ns/user' });
    for (const type of ['pid', 'ipc', 'uts', 'mount', 'network', 'cgroup']) expect(spec.linux.namespaces).toContainEqual({ type });
    expect(spec.linux.uidMappings).toEqual([{ containerID: 0, hostID: 200_000_000, size: 65536 }]);
  });

  it('mounts nothing of the host but the image (read-only) and the command-log FIFO', () => {
    for (const m of spec.mounts.filter((x) => x.type === 'bind')) {
      if (m.destination === '/run/nslab/cmdlog') expect(m.source).toBe(input.cmdlogFifo);
      else {
        expect(m.source.startsWith(`${input.imageRoot}/`)).toBe(true);
        expect(m.options).toContain('ro');
      }
    }
    expect(spec.process.noNewPrivileges).toBe(true);
    expect(spec.process.rlimits).toContainEqual({ type: 'RLIMIT_CORE', hard: 0, soft: 0 });
  });
});

describe('the test-only pod profile (docs/kubernetes-pod-conditions.md)', () => {
  const caps = ['CAP_CHOWN', 'CAP_SYS_ADMIN'];
  const mount = (spec: ReturnType<typeof ociSpec>, dest: string) => spec.mounts.find((m) => m.destination === dest);

  it('leaves the default sandbox as it is: every capability, no_new_privs, a writable root, nothing masked', () => {
    const spec = ociSpec(input);
    expect(spec.process.capabilities.bounding).toEqual(ALL_CAPS);
    expect(spec.process.noNewPrivileges).toBe(true);
    expect(spec.root.readonly).toBe(false);
    expect(spec.linux).not.toHaveProperty('maskedPaths');
    expect(mount(spec, '/sys/fs/cgroup')!.options).toContain('rw');
    expect(mount(spec, '/root')).toBeUndefined();
    expect(mount(spec, '/dev/mqueue')).toBeUndefined();
  });

  it('sets up the container as the pod would be: its capabilities, no no_new_privs, read-only root, writable dirs', () => {
    const spec = ociSpec({ ...input, pod: { procMount: 'Unmasked', capabilities: caps, cgroupfs: 'ro' } });
    for (const set of ['bounding', 'effective', 'permitted'] as const) expect(spec.process.capabilities[set]).toEqual(caps);
    expect(spec.process.noNewPrivileges).toBe(false);
    expect(spec.root.readonly).toBe(true);
    for (const { dir } of POD_WRITABLE_DIRS) expect(mount(spec, dir)?.type, dir).toBe('tmpfs');
    expect(mount(spec, '/dev/mqueue')?.type).toBe('mqueue');
    expect(mount(spec, '/sys/fs/cgroup')!.options).toContain('ro');
    expect(spec.linux).not.toHaveProperty('maskedPaths');
    // the command-log FIFO is bound under /run: after /run's tmpfs, or the tmpfs would hide it
    const at = (d: string) => spec.mounts.findIndex((m) => m.destination === d);
    expect(at('/run')).toBeLessThan(at('/run/nslab/cmdlog'));
  });

  it('masks what the runtime masks only for procMount Default', () => {
    const spec = ociSpec({ ...input, pod: { procMount: 'Default', capabilities: caps, cgroupfs: 'rw' } });
    expect(spec.linux).toMatchObject({ maskedPaths: [...RUNTIME_MASKED_PATHS], readonlyPaths: [...RUNTIME_READONLY_PATHS] });
    expect(mount(spec, '/sys/fs/cgroup')!.options).toContain('rw');
  });
});
