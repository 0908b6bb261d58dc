/**
 * The local back end's IdentityProbe: host procfs for maps, capabilities and clock
 * offsets, the probe helper's `owners` request for ioctl_ns(2). The caller has
 * checked that the pid is the sandbox's.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import {
  insideId, parseCapabilities, parseIdMap, parseOwners, parseTimensOffsets,
  type Capabilities, type IdentityProbe, type NamespaceOwners, type TimeOffsets, type UserNamespaceInfo,
} from './identity.ts';
import { probeHelper } from './probe-helper.ts';

const MAX_READ = 64 * 1024;

export class LocalIdentityProbe implements IdentityProbe {
  constructor(
    /** throws unless the pid is one of the sandbox's processes */
    private readonly own: (hostPid: number) => number,
    private readonly toSandboxUid: (hostId: number) => number,
    private readonly helperBin: string,
  ) {}

  private owners(hostPid: number) {
    return probeHelper(this.helperBin).request('owners', this.own(hostPid), MAX_READ).then((r) => {
      if (r.code !== 0) throw new Error(`cannot read the namespace owners of ${hostPid}: ${r.text.trim()}`);
      return parseOwners(r.text);
    });
  }

  async userNamespace(hostPid: number): Promise<UserNamespaceInfo> {
    const pid = this.own(hostPid);
    const { owners, ownerHostUid } = await this.owners(pid);
    const read = (f: string) => readFileSync(`/proc/${pid}/${f}`, 'utf8');
    const status = read('status');
    const uidMap = parseIdMap(read('uid_map'), this.toSandboxUid);
    const gidMap = parseIdMap(read('gid_map'), this.toSandboxUid);
    // Uid:/Gid: are real, effective, saved, fs, as the host counts them
    const hostEuid = Number(/^Uid:\s*\d+\s+(\d+)/m.exec(status)?.[1]);
    const hostEgid = Number(/^Gid:\s*\d+\s+(\d+)/m.exec(status)?.[1]);
    return {
      ns: Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/user`))?.[1] ?? 0),
      parent: owners.user ?? 0,
      ownerUid: ownerHostUid === null ? 65534 : this.toSandboxUid(ownerHostUid),
      uidMap,
      gidMap,
      setgroups: read('setgroups').trim() === 'deny' ? 'deny' : 'allow',
      uid: insideId(uidMap, hostEuid),
      gid: insideId(gidMap, hostEgid),
    };
  }

  async namespaceOwners(hostPid: number): Promise<NamespaceOwners> {
    return (await this.owners(hostPid)).owners;
  }

  async capabilities(hostPid: number): Promise<Capabilities> {
    return parseCapabilities(readFileSync(`/proc/${this.own(hostPid)}/status`, 'utf8'));
  }

  async timeOffsets(hostPid: number): Promise<TimeOffsets> {
    return parseTimensOffsets(readFileSync(`/proc/${this.own(hostPid)}/timens_offsets`, 'utf8'));
  }
}
