/**
 * Who a process is, read from the host: its user namespace (uid_map, gid_map,
 * setgroups, parent, creator), which user namespace owns each of its other
 * namespaces, its capability sets, and the clock offsets of its time namespace.
 *
 * All of it comes from the host's procfs (user_namespaces(7), proc(5),
 * time_namespaces(7)) and from ioctl_ns(2) in the probe helper: the learner's root
 * can write a map once, but it cannot change what the kernel reports about it.
 *
 * Ids: the files under /proc/PID show the "outside" ids of a map in the reader's
 * user namespace, here the host's. Checks count ids the way the sandbox's own
 * shells do, so every outside id is given in the sandbox's count too (`outside`),
 * next to the host's (`hostOutside`).
 */
import type { NamespaceKind } from './types.ts';

/** one line of /proc/PID/uid_map or gid_map */
export interface IdMapRange {
  /** first id inside the namespace */
  inside: number;
  /** first id in the sandbox's own user namespace (65534 when the range lies outside the sandbox's ids) */
  outside: number;
  /** the same id as the host counts it */
  hostOutside: number;
  count: number;
}

export interface UserNamespaceInfo {
  /** inode of the process's user namespace */
  ns: number;
  /** inode of its parent user namespace (for the sandbox's own: the host's initial one) */
  parent: number;
  /** the uid that created it, in the sandbox's count (NS_GET_OWNER_UID) */
  ownerUid: number;
  /** empty until someone writes the map (and then it can never change) */
  uidMap: IdMapRange[];
  gidMap: IdMapRange[];
  /** /proc/PID/setgroups: 'deny' once written so, which an unprivileged gid_map writer needs */
  setgroups: 'allow' | 'deny';
  /** the process's effective uid and gid as its own user namespace counts them (65534, the overflow id, when unmapped) */
  uid: number;
  gid: number;
}

/** for each namespace of the process, the inode of the user namespace that owns it (for 'user': its parent) */
export type NamespaceOwners = Partial<Record<NamespaceKind | 'time_for_children', number>>;

/** capability names as capabilities(7) and `capsh` spell them, in bit order */
export const CAPABILITY_NAMES = [
  'cap_chown', 'cap_dac_override', 'cap_dac_read_search', 'cap_fowner', 'cap_fsetid', 'cap_kill', 'cap_setgid', 'cap_setuid',
  'cap_setpcap', 'cap_linux_immutable', 'cap_net_bind_service', 'cap_net_broadcast', 'cap_net_admin', 'cap_net_raw', 'cap_ipc_lock',
  'cap_ipc_owner', 'cap_sys_module', 'cap_sys_rawio', 'cap_sys_chroot', 'cap_sys_ptrace', 'cap_sys_pacct', 'cap_sys_admin',
  'cap_sys_boot', 'cap_sys_nice', 'cap_sys_resource', 'cap_sys_time', 'cap_sys_tty_config', 'cap_mknod', 'cap_lease',
  'cap_audit_write', 'cap_audit_control', 'cap_setfcap', 'cap_mac_override', 'cap_mac_admin', 'cap_syslog', 'cap_wake_alarm',
  'cap_block_suspend', 'cap_audit_read', 'cap_perfmon', 'cap_bpf', 'cap_checkpoint_restore',
] as const;
export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/** the five capability sets of /proc/PID/status; they count in the process's own user namespace only */
export interface Capabilities {
  effective: CapabilityName[];
  permitted: CapabilityName[];
  inheritable: CapabilityName[];
  bounding: CapabilityName[];
  ambient: CapabilityName[];
}

/** /proc/PID/timens_offsets: offsets of the time namespace the process's children get, in seconds */
export interface TimeOffsets { monotonic: number; boottime: number }

/** "0 635568128 65536" lines; `toSandbox` turns a host id into the sandbox's count */
export function parseIdMap(text: string, toSandbox: (hostId: number) => number): IdMapRange[] {
  const out: IdMapRange[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || !f.every((x) => /^\d+$/.test(x))) continue;
    const [inside, hostOutside, count] = f.map(Number);
    out.push({ inside, outside: toSandbox(hostOutside), hostOutside, count });
  }
  return out;
}

/** the id inside a namespace that a host id maps to; 65534 (the kernel's overflow id) when unmapped */
export function insideId(map: readonly IdMapRange[], hostId: number): number {
  for (const r of map) if (hostId >= r.hostOutside && hostId < r.hostOutside + r.count) return r.inside + (hostId - r.hostOutside);
  return 65534;
}

export function parseCapabilities(status: string): Capabilities {
  const set = (field: string): CapabilityName[] => {
    const hex = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1];
    if (!hex) throw new Error(`no ${field} line in /proc/PID/status`);
    const bits = BigInt(`0x${hex}`);
    return CAPABILITY_NAMES.filter((_, i) => ((bits >> BigInt(i)) & 1n) === 1n);
  };
  return { effective: set('CapEff'), permitted: set('CapPrm'), inheritable: set('CapInh'), bounding: set('CapBnd'), ambient: set('CapAmb') };
}

/** "monotonic 3600 0" / "boottime 86400 0" lines (older kernels write the clock ids 1 and 7) */
export function parseTimensOffsets(text: string): TimeOffsets {
  const out: TimeOffsets = { monotonic: 0, boottime: 0 };
  for (const line of text.split('\n')) {
    const m = /^\s*(monotonic|boottime|1|7)\s+(-?\d+)\s+(\d+)\s*$/.exec(line);
    if (!m) continue;
    const seconds = Number(m[2]) + Number(m[3]) / 1e9;
    if (m[1] === 'monotonic' || m[1] === '1') out.monotonic = seconds;
    else out.boottime = seconds;
  }
  return out;
}

/** the probe helper's `owners` answer: "KIND INODE" lines and "user-owner-uid UID" */
export function parseOwners(text: string): { owners: NamespaceOwners; ownerHostUid: number | null } {
  const owners: NamespaceOwners = {};
  let ownerHostUid: number | null = null;
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (!k || !/^\d+$/.test(v ?? '')) continue;
    if (k === 'user-owner-uid') ownerHostUid = Number(v);
    else owners[k as keyof NamespaceOwners] = Number(v);
  }
  return { owners, ownerHostUid };
}

/** what the probe reports about a process's identity (every back end implements it) */
export interface IdentityProbe {
  userNamespace(hostPid: number): Promise<UserNamespaceInfo>;
  namespaceOwners(hostPid: number): Promise<NamespaceOwners>;
  capabilities(hostPid: number): Promise<Capabilities>;
  /** the offsets of the process's time_for_children namespace (its own once it lives in it) */
  timeOffsets(hostPid: number): Promise<TimeOffsets>;
}
