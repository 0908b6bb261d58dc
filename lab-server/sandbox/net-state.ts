/**
 * A network namespace as the kernel keeps it: its devices, addresses, routes and
 * neighbour (ARP/NDP) entries, read over rtnetlink by the probe helper's `net` request
 * (helpers/nslab-probe.c, op_net) and named here. The numbers are the kernel's own
 * UAPI constants: <linux/if_arp.h> (ARPHRD_*), <linux/if.h> (IFF_*, IF_OPER_*),
 * <linux/rtnetlink.h> (RT_TABLE_*, RTN_*, RT_SCOPE_*, RTPROT_*) and
 * <linux/neighbour.h> (NUD_*); see rtnetlink(7).
 */

export type NetFamily = 'inet' | 'inet6';

/** RFC 2863 operational state (IF_OPER_*), as `ip link` prints it in lower case */
export type OperState = 'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up';

export interface NetLink {
  /** the interface index: unique within its namespace only */
  index: number;
  name: string;
  /** IFF_* flags */
  flags: number;
  /** IFF_UP: administratively up (`ip link set NAME up`) */
  up: boolean;
  /** IFF_LOWER_UP: the carrier is there (a veth has it only while its peer is up too) */
  lowerUp: boolean;
  operState: OperState;
  /** the hardware type: 'loopback', 'ether', or 'arphrd-N' for the others */
  type: string;
  /** the rtnetlink kind (`ip link add ... type KIND`): 'veth', 'bridge', ...; null for lo and real hardware */
  kind: string | null;
  /** the index (in this namespace) of the bridge or bond this link is a port of */
  master: number | null;
  /**
   * a veth's other end: its index, in this namespace or, when `otherNamespace`, in the
   * namespace the peer was moved to (indexes there are that namespace's own), and its
   * MAC address (null when the kernel could not say), which with the index names the
   * peer: an index alone is ambiguous across namespaces
   */
  peer: { index: number; otherNamespace: boolean; mac: string | null } | null;
  /** the link-layer address, lower-case hex with colons; null when the link has none */
  mac: string | null;
}

export type AddressScope = 'global' | 'site' | 'link' | 'host' | 'nowhere' | number;

export interface NetAddress {
  /** the link's index and name */
  link: number;
  dev: string;
  family: NetFamily;
  address: string;
  prefixLength: number;
  scope: AddressScope;
}

export interface NetRoute {
  family: NetFamily;
  /** 'main' (what `ip route` shows), 'local' (the kernel's own routes to local and broadcast addresses) or a number */
  table: 'main' | 'local' | 'default' | number;
  /** RTN_*: 'unicast', 'local', 'broadcast', 'multicast', 'blackhole', 'unreachable', 'prohibit', ... */
  type: string;
  scope: AddressScope;
  /** who made it: 'kernel' (a connected route, added with an address), 'boot' (`ip route add`), 'static', ... */
  protocol: string;
  /** the destination network; null for the default route */
  dst: string | null;
  dstLength: number;
  /** the outgoing link's index and name, null when the route has none (multipath, blackhole) */
  link: number | null;
  dev: string | null;
  gateway: string | null;
  prefSrc: string | null;
}

/** NUD_* state names of a neighbour entry */
export type NeighbourState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'failed' | 'noarp' | 'permanent';

export interface NetNeighbour {
  link: number;
  dev: string;
  family: NetFamily;
  address: string;
  /** the peer's link-layer address: learned from an ARP or NDP answer (or set by hand) */
  lladdr: string | null;
  state: NeighbourState[];
}

export interface NetState {
  /** the namespace's inode (what /proc/PID/ns/net points to) */
  inode: number;
  links: NetLink[];
  addresses: NetAddress[];
  routes: NetRoute[];
  neighbours: NetNeighbour[];
}

const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;
const OPER_STATES: readonly OperState[] = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];
const ARPHRD: Record<number, string> = { 1: 'ether', 772: 'loopback', 776: 'sit', 778: 'gre', 65534: 'none' };
const FAMILY: Record<number, NetFamily> = { 2: 'inet', 10: 'inet6' };
const SCOPE: Record<number, AddressScope> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
const TABLE: Record<number, NetRoute['table']> = { 253: 'default', 254: 'main', 255: 'local' };
const RTN = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];
const RTPROT: Record<number, string> = { 0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 16: 'dhcp', 186: 'bgp', 188: 'ospf' };
const NUD: [number, NeighbourState][] = [
  [0x01, 'incomplete'], [0x02, 'reachable'], [0x04, 'stale'], [0x08, 'delay'],
  [0x10, 'probe'], [0x20, 'failed'], [0x40, 'noarp'], [0x80, 'permanent'],
];

/** the helper's "-" for an absent value */
const opt = (s: string | undefined): string | null => (s === undefined || s === '-' ? null : s);

function int(s: string | undefined, line: string, radix = 10): number {
  const n = s !== undefined && (radix === 16 ? /^[0-9a-f]+$/i : /^-?\d+$/).test(s) ? parseInt(s, radix) : NaN;
  if (!Number.isSafeInteger(n)) throw new Error(`bad number ${JSON.stringify(s)} in probe line ${JSON.stringify(line)}`);
  return n;
}

function family(n: number): NetFamily | null {
  return FAMILY[n] ?? null;
}

/** parses the helper's `net` answer; records of families other than IPv4/IPv6 (bridge fdb, multicast) are left out */
export function parseNetState(text: string): NetState {
  let inode = 0;
  const links: NetLink[] = [];
  const rawAddresses: Omit<NetAddress, 'dev'>[] = [];
  const rawRoutes: Omit<NetRoute, 'dev'>[] = [];
  const rawNeighbours: Omit<NetNeighbour, 'dev'>[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split('\t');
    switch (f[0]) {
      case 'ns':
        inode = int(f[1], line);
        break;
      case 'link': {
        if (f.length !== 11) throw new Error(`bad link line from the probe: ${JSON.stringify(line)}`);
        const flags = int(f[3], line, 16);
        const kind = opt(f[6]);
        const linkTo = int(f[8], line);
        links.push({
          index: int(f[1], line), name: f[2], flags, up: (flags & IFF_UP) !== 0, lowerUp: (flags & IFF_LOWER_UP) !== 0,
          operState: OPER_STATES[int(f[4], line)] ?? 'unknown',
          type: ARPHRD[int(f[5], line)] ?? `arphrd-${f[5]}`,
          kind,
          master: int(f[7], line) || null,
          peer: kind === 'veth' && linkTo > 0 ? { index: linkTo, otherNamespace: int(f[9], line) >= 0, mac: null } : null,
          mac: opt(f[10]),
        });
        break;
      }
      case 'peer': {
        // the MAC of a peer in another namespace; it follows the link lines
        const link = links.find((l) => l.index === int(f[1], line));
        if (link?.peer) link.peer.mac = opt(f[2]);
        break;
      }
      case 'addr': {
        const fam = family(int(f[2], line));
        const address = opt(f[5]);
        if (!fam || !address) break;
        rawAddresses.push({ link: int(f[1], line), family: fam, prefixLength: int(f[3], line), scope: SCOPE[int(f[4], line)] ?? int(f[4], line), address });
        break;
      }
      case 'route': {
        const fam = family(int(f[1], line));
        if (!fam) break;
        const table = int(f[2], line);
        const oif = int(f[8], line);
        rawRoutes.push({
          family: fam, table: TABLE[table] ?? table, type: RTN[int(f[3], line)] ?? `rtn-${f[3]}`,
          scope: SCOPE[int(f[4], line)] ?? int(f[4], line), protocol: RTPROT[int(f[5], line)] ?? `proto-${f[5]}`,
          dst: opt(f[6]), dstLength: int(f[7], line), link: oif || null, gateway: opt(f[9]), prefSrc: opt(f[10]),
        });
        break;
      }
      case 'neigh': {
        const fam = family(int(f[2], line));
        const address = opt(f[4]);
        if (!fam || !address) break;
        const bits = int(f[3], line);
        rawNeighbours.push({ link: int(f[1], line), family: fam, address, lladdr: opt(f[5]), state: NUD.filter(([b]) => bits & b).map(([, s]) => s) });
        break;
      }
      default:
        throw new Error(`unknown record from the probe: ${JSON.stringify(line)}`);
    }
  }
  if (!inode) throw new Error('the probe did not say which network namespace it read');
  // a peer in this same namespace: its MAC is right here
  for (const l of links) {
    if (l.peer && !l.peer.otherNamespace) l.peer.mac = links.find((x) => x.index === l.peer!.index)?.mac ?? null;
  }
  const names = new Map(links.map((l) => [l.index, l.name]));
  const dev = (i: number) => names.get(i) ?? `if${i}`;
  return {
    inode,
    links,
    addresses: rawAddresses.map((a) => ({ ...a, dev: dev(a.link) })),
    routes: rawRoutes.map((r) => ({ ...r, dev: r.link === null ? null : dev(r.link) })),
    neighbours: rawNeighbours.map((n) => ({ ...n, dev: dev(n.link) })),
  };
}
