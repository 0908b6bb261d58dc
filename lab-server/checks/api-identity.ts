/**
 * The part of the checks API about who a process is: its user namespace and id
 * maps, the owners of its namespaces, its capabilities, its clock offsets.
 * `Lab` (api.ts) includes these; lessons import them from api.ts like the rest.
 */
import type {
  Capabilities, CapabilityName, IdMapRange, NamespaceOwners, TimeOffsets, UserNamespaceInfo,
} from '../sandbox/identity.ts';

export type { Capabilities, CapabilityName, IdMapRange, NamespaceOwners, TimeOffsets, UserNamespaceInfo };

export interface IdentityLab {
  /** the process's user namespace: uid_map, gid_map, setgroups, parent, creator, and its uid/gid inside */
  userNamespace(hostPid: number): Promise<UserNamespaceInfo>;
  /** for each namespace of the process, the user namespace (inode) that owns it; for 'user', its parent */
  namespaceOwners(hostPid: number): Promise<NamespaceOwners>;
  /** the capability sets of /proc/PID/status (valid only in the process's own user namespace) */
  capabilities(hostPid: number): Promise<Capabilities>;
  /** /proc/PID/timens_offsets: offsets of the time namespace the process's children get (its own once it is in it) */
  timeOffsets(hostPid: number): Promise<TimeOffsets>;
}

/** does a map give the namespace this id inside? */
export function mapsInside(map: readonly IdMapRange[], id: number): boolean {
  return map.some((r) => id >= r.inside && id < r.inside + r.count);
}
