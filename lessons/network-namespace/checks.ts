/**
 * Checks for the network namespace lesson.
 *
 * Every state step reads the namespaces' links, addresses, routes and neighbour
 * tables from outside over rtnetlink (lab.netNamespaces, lab.net): namespaces held
 * by a process (`unshare --net`) and those pinned by `ip netns add` alike. Steps that
 * change nothing use the command log: `inspect-net` (the sandbox's own links were
 * listed) and `new-netns` (a new namespace's links were listed). The pings must have
 * succeeded (exit status 0) *and* left their mark in the state: the pinging side's
 * neighbour table holds the far end's MAC address, which only an answer across the
 * veth (or the bridge) can put there. The texts are in messages.<lang>.json.
 */
import {
  pingedAddresses,
  crossNamespaceVeths, defineChecks, fail, msg, pass, pending,
  type CommandEvent, type Lab, type MessageRef, type NetLink, type NetNamespace, type NetState, type VethEnd,
} from '../../lab-server/checks/api.ts';

// ---- reading commands --------------------------------------------------------

/**
 * where an `ip link`/`ip addr` listing looked: its shell's own namespace, a named one
 * (`ip -n NAME`, `ip netns exec NAME`, `nsenter --net=/run/netns/NAME`), a process's
 * (`nsenter -t PID -n`, `--net=/proc/PID/ns/net`), or one the text does not say
 * (`nsenter -t $(cat red.pid) -n`)
 */
type ListingTarget = { kind: 'shell' } | { kind: 'named'; name: string } | { kind: 'pid'; pid: number } | { kind: 'unknown' };

/** nsenter's network target, or null when it does not enter a network namespace */
function nsenterTarget(opts: string[]): ListingTarget | null {
  let pid: string | null = null;
  let net: string | null | undefined; // undefined: no -n at all; null: -n without a file (the -t process's)
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i];
    let m: RegExpExecArray | null;
    if ((m = /^--net=(.+)$/.exec(o)) || (m = /^-n(\/.+)$/.exec(o))) net = m[1];
    else if (o === '--net' || o === '-n') net ??= null;
    else if (o === '-t' || o === '--target') pid = opts[++i] ?? null;
    else if ((m = /^(?:--target=|-t)(.+)$/.exec(o))) pid = m[1];
    else if (/^-[a-zA-Z]+$/.test(o) && o.includes('n')) {
      net ??= null;
      if (o.endsWith('t')) pid = opts[++i] ?? null;
    }
  }
  if (net === undefined) return null;
  const file = net ?? (pid !== null ? `/proc/${pid}/ns/net` : null);
  let m: RegExpExecArray | null;
  if (file && (m = /^\/run\/netns\/([^/]+)$/.exec(file))) return { kind: 'named', name: m[1] };
  if (file && (m = /^\/proc\/(\d+)\/ns\/net$/.exec(file))) return { kind: 'pid', pid: Number(m[1]) };
  if (file && /^\/proc\/(\$\$|\$BASHPID|self|thread-self)\/ns\/net$/.test(file)) return { kind: 'shell' };
  return { kind: 'unknown' };
}

const LINK_OR_ADDR = /^(l|li|lin|link|a|ad|add|addr|addre|addres|address)$/;
const SHOW = /^(show|sh|s|list|lst|ls|l)$/;

/** `ip [-n NAME] link|addr [show ...]` in one simple command's words; null when it is not such a listing */
function ipListing(words: string[], target: ListingTarget): ListingTarget | null {
  if (words[0] === 'sudo') words = words.slice(1);
  if (words[0] === 'ip' && words[1] === 'netns' && words[2] === 'exec' && words[3]) return ipListing(words.slice(4), { kind: 'named', name: words[3] });
  if (words[0] === 'nsenter') {
    const at = words.indexOf('ip');
    const t = at < 0 ? null : nsenterTarget(words.slice(1, at));
    return t && ipListing(words.slice(at), t);
  }
  if (words[0] !== 'ip') return null;
  let i = 1;
  for (; i < words.length && words[i].startsWith('-'); i++) {
    if (/^--?(n|netns)$/.test(words[i])) target = { kind: 'named', name: words[++i] ?? '' };
    else if (/^--?(b|batch|force)$/.test(words[i])) return null;
  }
  if (!LINK_OR_ADDR.test(words[i] ?? '')) return null;
  const sub = words[i + 1];
  return sub === undefined || SHOW.test(sub) || sub === 'dev' ? target : null;
}

/** every link or address listing in a command line */
function listings(command: string): ListingTarget[] {
  const out: ListingTarget[] = [];
  // a command substitution is one opaque word: `nsenter -t $(cat red.pid) -n ip link`
  const flat = command.replace(/\$\([^()]*\)|`[^`]*`/g, '$SUB');
  for (const part of flat.split(/[;&|()]+/)) {
    const words = part.trim().split(/\s+/).filter(Boolean);
    const t = ipListing(words, { kind: 'shell' });
    if (t) out.push(t);
    else if (words[0] === 'cat' && words.includes('/proc/net/dev')) out.push({ kind: 'shell' });
  }
  return out;
}


// ---- reading state -------------------------------------------------------------

interface NsState { ns: NetNamespace; state: NetState }

async function allStates(lab: Lab): Promise<NsState[]> {
  const out: NsState[] = [];
  for (const ns of await lab.netNamespaces()) {
    const state = await lab.net(ns);
    if (state) out.push({ ns, state });
  }
  return out;
}

/** how a message names a namespace: its `ip netns` name, "the sandbox's own", or its inode */
function nsLabel(ns: NetNamespace): MessageRef {
  if (ns.own) return msg('ns.own');
  if (ns.names.length) return msg('ns.named', { name: ns.names[0] });
  const p = ns.processes[0];
  return p ? msg('ns.process', { inode: ns.inode, pid: p.pid }) : msg('ns.inode', { inode: ns.inode });
}

/** an `ip` command to run inside a namespace: `ip -n red link` or, for one without a name, through nsenter */
function ipIn(ns: NetNamespace, args: string): string {
  if (ns.own) return `ip ${args}`;
  if (ns.names.length) return `ip -n ${ns.names[0]} ${args}`;
  if (ns.processes.length) return `nsenter -t ${ns.processes[0].pid} -n ip ${args}`;
  return `nsenter --net=${ns.pins[0] ?? '?'} ip ${args}`;
}

function pingIn(ns: NetNamespace, address: string): string {
  if (ns.own) return `ping -c 3 ${address}`;
  if (ns.names.length) return `ip netns exec ${ns.names[0]} ping -c 3 ${address}`;
  if (ns.processes.length) return `nsenter -t ${ns.processes[0].pid} -n ping -c 3 ${address}`;
  return `nsenter --net=${ns.pins[0] ?? '?'} ping -c 3 ${address}`;
}

function ipv4Of(state: NetState, link: NetLink) {
  return state.addresses.filter((a) => a.link === link.index && a.family === 'inet' && a.scope !== 'host');
}

const toInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
/** both in one IPv4 subnet, as each side's prefix length sees it */
function sameSubnet(a: { address: string; prefixLength: number }, b: { address: string; prefixLength: number }): boolean {
  if (a.prefixLength !== b.prefixLength) return false;
  const shift = 2 ** (32 - a.prefixLength);
  return Math.floor(toInt(a.address) / shift) === Math.floor(toInt(b.address) / shift) && a.address !== b.address;
}

const linkUp = (l: NetLink) => l.up && l.operState === 'up';

/** the far end answered: `from`'s neighbour table holds `to`'s address with `to`'s MAC, which only an ARP reply from `to` puts there */
function answered(from: VethEnd, to: VethEnd): string | null {
  for (const a of ipv4Of(to.state, to.link)) {
    const n = from.state.neighbours.find((x) => x.address === a.address && x.lladdr === to.link.mac
      && !x.state.includes('incomplete') && !x.state.includes('failed'));
    if (n) return a.address;
  }
  return null;
}

// ---- the veth pair ---------------------------------------------------------------

type PairVerdict =
  | { ok: true; pair: [VethEnd, VethEnd] }
  | { ok: false; how: 'pending' | 'fail'; message: MessageRef };

/** pairs that join two namespaces the learner made (a bridge's ports in the sandbox's own namespace are not) */
const betweenNew = (pairs: [VethEnd, VethEnd][]) => pairs.filter(([a, b]) => !a.ns.own && !b.ns.own);

/** the best veth pair across namespaces: both ends up, each with an IPv4 address of one subnet */
function judgePairs(pairs: [VethEnd, VethEnd][]): PairVerdict | null {
  let first: PairVerdict | null = null;
  for (const pair of pairs) {
    const v = judgePair(pair);
    if (v.ok) return v;
    first ??= v;
  }
  return first;
}

const linkDown = (end: VethEnd) => msg('addresses-up.link-down', { link: end.link.name, ns: nsLabel(end.ns), command: ipIn(end.ns, `link set ${end.link.name} up`) });

function judgePair([a, b]: [VethEnd, VethEnd]): PairVerdict {
  for (const end of [a, b]) {
    if (!end.link.up) return { ok: false, how: 'pending', message: linkDown(end) };
  }
  const [aa, ba] = [ipv4Of(a.state, a.link), ipv4Of(b.state, b.link)];
  for (const [end, mine, other] of [[a, aa, ba], [b, ba, aa]] as const) {
    if (mine.length === 0) {
      // both addresses on one end: "the wrong side"
      if (other.length >= 2) {
        const far = end === a ? b : a;
        return { ok: false, how: 'fail', message: msg('addresses-up.both-on-one-end', { link: far.link.name, ns: nsLabel(far.ns), other: end.link.name, otherNs: nsLabel(end.ns) }) };
      }
      // suggest the lesson's address that the other end does not have yet
      const taken = other[0]?.address;
      const mineSuggested = taken === '10.0.0.1' ? '10.0.0.2' : taken === '10.0.0.2' ? '10.0.0.1' : end === a ? '10.0.0.1' : '10.0.0.2';
      return { ok: false, how: 'pending', message: msg('addresses-up.no-address', { link: end.link.name, ns: nsLabel(end.ns), command: ipIn(end.ns, `addr add ${mineSuggested}/24 dev ${end.link.name}`) }) };
    }
  }
  if (!aa.some((x) => ba.some((y) => sameSubnet(x, y)))) {
    return { ok: false, how: 'fail', message: msg('addresses-up.different-subnets', { a: `${aa[0].address}/${aa[0].prefixLength}`, b: `${ba[0].address}/${ba[0].prefixLength}` }) };
  }
  // IFF_UP on both ends, yet no carrier: cannot happen for a veth; kept for a clear message if it does
  for (const end of [a, b]) {
    if (!linkUp(end.link)) return { ok: false, how: 'pending', message: linkDown(end) };
  }
  return { ok: true, pair: [a, b] };
}

// ---- the bridge ------------------------------------------------------------------

interface BridgeView {
  host: NsState;
  bridge: NetLink;
  /** the far ends of its veth ports, one per namespace */
  joined: { port: NetLink; far: VethEnd }[];
}

/** every bridge and the namespaces its veth ports lead to */
function bridges(states: NsState[], pairs: [VethEnd, VethEnd][]): BridgeView[] {
  const out: BridgeView[] = [];
  for (const host of states) {
    for (const bridge of host.state.links.filter((l) => l.kind === 'bridge')) {
      const joined: BridgeView['joined'] = [];
      for (const port of host.state.links.filter((l) => l.master === bridge.index)) {
        const pair = pairs.find(([x, y]) => (x.ns.inode === host.ns.inode && x.link.index === port.index) || (y.ns.inode === host.ns.inode && y.link.index === port.index));
        if (!pair) continue;
        const far = pair[0].ns.inode === host.ns.inode && pair[0].link.index === port.index ? pair[1] : pair[0];
        if (!joined.some((j) => j.far.ns.inode === far.ns.inode)) joined.push({ port, far });
      }
      out.push({ host, bridge, joined });
    }
  }
  return out.sort((x, y) => y.joined.length - x.joined.length);
}

type BridgeVerdict = { ok: true; view: BridgeView; members: VethEnd[] } | { ok: false; how: 'pending' | 'fail'; message: MessageRef };

function judgeBridge(view: BridgeView): BridgeVerdict {
  const { bridge, host, joined } = view;
  if (joined.length < 3) return { ok: false, how: 'pending', message: msg('bridge-three.too-few', { bridge: bridge.name, ns: nsLabel(host.ns), count: joined.length, command: ipIn(host.ns, `link set h3-br master ${bridge.name}`) }) };
  if (!bridge.up) return { ok: false, how: 'pending', message: msg('bridge-three.bridge-down', { bridge: bridge.name, ns: nsLabel(host.ns), command: ipIn(host.ns, `link set ${bridge.name} up`) }) };
  for (const { port, far } of joined) {
    if (!port.up) return { ok: false, how: 'pending', message: msg('bridge-three.link-down', { link: port.name, ns: nsLabel(host.ns), command: ipIn(host.ns, `link set ${port.name} up`) }) };
    if (!far.link.up) return { ok: false, how: 'pending', message: msg('bridge-three.link-down', { link: far.link.name, ns: nsLabel(far.ns), command: ipIn(far.ns, `link set ${far.link.name} up`) }) };
  }
  const addressed = joined.filter((j) => ipv4Of(j.far.state, j.far.link).length);
  if (addressed.length < 3) {
    const missing = joined.find((j) => !ipv4Of(j.far.state, j.far.link).length)!;
    return { ok: false, how: 'pending', message: msg('bridge-three.no-address', { link: missing.far.link.name, ns: nsLabel(missing.far.ns), command: ipIn(missing.far.ns, `addr add 10.0.1.3/24 dev ${missing.far.link.name}`) }) };
  }
  // three members whose addresses share one subnet
  for (const seed of addressed) {
    const a = ipv4Of(seed.far.state, seed.far.link);
    const members = addressed.filter((j) => ipv4Of(j.far.state, j.far.link).some((x) => a.some((y) => x.address === y.address || sameSubnet(x, y))));
    if (members.length >= 3) return { ok: true, view, members: members.map((m) => m.far) };
  }
  return { ok: false, how: 'fail', message: msg('bridge-three.different-subnets', { bridge: bridge.name }) };
}

function bestBridge(views: BridgeView[]): BridgeVerdict | null {
  let first: BridgeVerdict | null = null;
  for (const v of views) {
    const r = judgeBridge(v);
    if (r.ok) return r;
    first ??= r;
  }
  return first;
}

const verdict = (v: { how: 'pending' | 'fail'; message: MessageRef }) => (v.how === 'fail' ? fail(v.message) : pending(v.message));

export default defineChecks({
  'inspect-net': async (lab) => {
    const own = (await lab.rootNamespaces()).net;
    const looked = lab.commandsRun().some((e) => e.status === 0 && e.ns.net === own && listings(e.command).some((t) => t.kind === 'shell'));
    return looked ? pass() : pending(msg('inspect-net.not-yet'));
  },

  'new-netns': async (lab) => {
    const created = (await lab.netNamespaces()).filter((n) => !n.own);
    if (!created.length) return pending(msg('new-netns.none'));
    const names = new Set(created.flatMap((n) => n.names));
    const inodes = new Set(created.map((n) => n.inode));
    const procs = await lab.processes();
    const isNew = (t: ListingTarget, e: CommandEvent): boolean => {
      switch (t.kind) {
        case 'named': return names.has(t.name);
        case 'pid': { const p = procs.find((x) => x.pid === t.pid); return !!p && inodes.has(p.ns.net); }
        case 'unknown': return true; // `nsenter -t $(cat red.pid) -n`: the exit status says it got somewhere
        case 'shell': return e.ns.net !== undefined && inodes.has(e.ns.net);
      }
    };
    const inside = (e: CommandEvent) => e.status === 0 && listings(e.command).some((t) => isNew(t, e));
    if (lab.commandsRun().some(inside)) return pass();
    return pending(msg('new-netns.look-inside', { ns: nsLabel(created[0]), command: ipIn(created[0], 'link') }));
  },

  'lo-up': async (lab) => {
    const states = (await allStates(lab)).filter((s) => !s.ns.own);
    if (!states.length) return pending(msg('new-netns.none'));
    if (states.some((s) => s.state.links.some((l) => l.type === 'loopback' && l.up))) return pass();
    return pending(msg('lo-up.still-down', { ns: nsLabel(states[0].ns), command: ipIn(states[0].ns, 'link set lo up') }));
  },

  'veth-pair': async (lab) => {
    const states = await allStates(lab);
    const cross = crossNamespaceVeths(states);
    if (betweenNew(cross).length) return pass();
    // a bridge's port is meant to stay home: only a pair with neither end on a bridge is half moved
    const half = cross.find(([a, b]) => a.ns.own !== b.ns.own && a.link.master === null && b.link.master === null);
    if (half) {
      const [home, away] = half[0].ns.own ? half : [half[1], half[0]];
      return pending(msg('veth-pair.one-end-home', { link: home.link.name, other: away.link.name, ns: nsLabel(away.ns) }));
    }
    // pairs whose two ends are still side by side (a bridge's ports lead elsewhere: not these)
    const veths = states.flatMap((s) => s.state.links.filter((l) => l.kind === 'veth' && l.peer && !l.peer.otherNamespace).map((link) => ({ s, link })));
    if (!veths.length) return pending(msg('veth-pair.none'));
    const { s, link } = veths[0];
    const peer = s.state.links.find((l) => l.index === link.peer?.index);
    return pending(msg('veth-pair.same-namespace', { link: link.name, peer: peer?.name ?? '?', ns: nsLabel(s.ns) }));
  },

  'addresses-up': async (lab) => {
    const pairs = betweenNew(crossNamespaceVeths(await allStates(lab)));
    if (!pairs.length) return pending(msg('addresses-up.no-pair'));
    const v = judgePairs(pairs)!;
    return v.ok ? pass() : verdict(v);
  },

  'ping-across': async (lab) => {
    const states = await allStates(lab);
    const v = judgePairs(betweenNew(crossNamespaceVeths(states)));
    if (!v) return pending(msg('addresses-up.no-pair'));
    if (!v.ok) return pending(msg('ping-across.configure-first'));
    const pinged = pingedAddresses(lab);
    const [a, b] = v.pair;
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const addr = answered(from, to);
      if (addr && pinged.has(addr)) return pass();
    }
    const far = ipv4Of(b.state, b.link)[0]?.address ?? '';
    const near = ipv4Of(a.state, a.link)[0]?.address ?? '';
    if (pinged.has(near) || pinged.has(far)) {
      // the ping "worked" but nothing crossed: it was answered by the pinging namespace itself
      return pending(msg('ping-across.answered-locally', { address: pinged.has(far) ? far : near }));
    }
    return pending(msg('ping-across.not-yet', { from: nsLabel(a.ns), command: pingIn(a.ns, far) }));
  },

  'bridge-three': async (lab) => {
    const states = await allStates(lab);
    const best = bestBridge(bridges(states, crossNamespaceVeths(states)));
    if (!best) return pending(msg('bridge-three.no-bridge'));
    return best.ok ? pass() : verdict(best);
  },

  'bridge-ping': async (lab) => {
    const states = await allStates(lab);
    const best = bestBridge(bridges(states, crossNamespaceVeths(states)));
    if (!best?.ok) return pending(msg('bridge-ping.bridge-first'));
    const pinged = pingedAddresses(lab);
    for (const from of best.members) {
      for (const to of best.members) {
        if (from === to) continue;
        const addr = answered(from, to);
        if (addr && pinged.has(addr)) return pass();
      }
    }
    const target = best.members[1];
    const to = ipv4Of(target.state, target.link)[0]?.address ?? '';
    return pending(msg('bridge-ping.not-yet', { from: nsLabel(best.members[0].ns), to, command: pingIn(best.members[0].ns, to) }));
  },
});
