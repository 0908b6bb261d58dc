/**
 * The sandbox pod's kernel conditions on this host (docs/kubernetes-pod-conditions.md):
 * a local sandbox set up as Kubernetes would set up the sandbox pod's container
 * (lab-server/sandbox/oci-spec.ts, PodConditions). Shared by the tests in test/kube.
 */
import { createSandboxBackend, type LocalBackend } from '../../lab-server/sandbox/index.ts';
import { SANDBOX_CAPABILITIES } from '../../lab-server/kube/sandbox-pod.ts';
import type { PodConditions } from '../../lab-server/sandbox/oci-spec.ts';

/**
 * The sandbox pod's capabilities.add after drop: ALL (lab-server/kube/sandbox-pod.ts,
 * SANDBOX_CAPABILITIES), in the runtime's CAP_ spelling.
 */
export const POD_CAPABILITIES = SANDBOX_CAPABILITIES.map((c) => `CAP_${c}`);

/** the sandbox pod as specified: procMount Unmasked, its capabilities, a writable cgroupfs (see the docs) */
export const SANDBOX_POD: PodConditions = { procMount: 'Unmasked', capabilities: POD_CAPABILITIES, cgroupfs: 'rw' };

export async function podBackend(pod: PodConditions): Promise<LocalBackend> {
  const backend = createSandboxBackend({ pod });
  await backend.checkHost();
  await backend.images.ensureBuilt('default', (l) => console.log(l));
  return backend;
}

/** the bit of a CAP_ name in /proc/<pid>/status masks (capability.h order) */
export function capMask(caps: readonly string[], all: readonly string[]): bigint {
  return caps.reduce((m, c) => m | (1n << BigInt(all.indexOf(c))), 0n);
}
