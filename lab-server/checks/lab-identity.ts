/**
 * The IdentityLab half of createLab (lab.ts): the same per-round memo, keyed by the
 * namespace a probe really depends on where the round's process list knows it.
 */
import type { ProcessInfo, Probe } from '../sandbox/types.ts';
import type { IdentityLab } from './api-identity.ts';

type Once = <T>(key: string, f: () => Promise<T>) => Promise<T>;

export function identityLab(probe: Probe, once: Once, processes: () => Promise<ProcessInfo[]>): IdentityLab {
  /** a user namespace's maps are the same for all its members: one probe per namespace and credentials */
  const userKey = async (hostPid: number): Promise<string> => {
    const p = (await processes().catch(() => [])).find((x) => x.hostPid === hostPid);
    return p ? `userns:${p.ns.user}:${p.hostUid}` : `pid:${hostPid}`;
  };
  return {
    userNamespace: (hostPid) => userKey(hostPid).then((key) => once(`userns:${key}`, () => probe.userNamespace(hostPid))),
    namespaceOwners: (hostPid) => once(`owners:${hostPid}`, () => probe.namespaceOwners(hostPid)),
    capabilities: (hostPid) => once(`caps:${hostPid}`, () => probe.capabilities(hostPid)),
    timeOffsets: (hostPid) => once(`timens:${hostPid}`, () => probe.timeOffsets(hostPid)),
  };
}
