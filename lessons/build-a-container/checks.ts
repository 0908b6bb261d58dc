/**
 * Checks for the capstone: a container built by hand.
 *
 * "The container" is the process a runtime would call its init: a live PID 1 of a
 * PID namespace below the sandbox's. Every step reads state from outside: the
 * processes' namespace inodes, the user namespace's id map, the sandbox's cgroups
 * (v1 or v2 alike through `lab.cgroups()`) and its own group as it sees it from
 * inside its cgroup namespace (`lab.cgroupSeenInside()`), the init's hostname, its mount table
 * (mountinfo of a process of its mount namespace, compared with the sandbox's PID 1's),
 * and the network namespaces' links, addresses and neighbour tables over rtnetlink.
 * Only `ping` also asks the command log, as the network lesson does: the ping must
 * have succeeded *and* left the far end's MAC address in the pinging side's neighbour
 * table, which only an answer across the veth puts there. The last step, `container`,
 * asks everything again of one init at once: the properties a runtime gives (and the
 * learner's own sandbox has, docs/sandbox.md). The texts are in messages.<lang>.json.
 */
import {
  pingedAddresses,
  crossNamespaceVeths, defineChecks, fail, mountTable, mountedDir, msg, pass, pending, sameFsLocation,
  type CgroupInfo, type CheckResult, type Lab, type MessageRef, type MountInfo, type MountTable, type NamespaceKind,
  type NamespaceSet, type NetNamespace, type NetState, type ProcessInfo, type VethEnd,
} from '../../lab-server/checks/api.ts';

/** the namespace kinds the sandbox itself has (docs/sandbox.md), which a runtime gives a container too */
const KINDS = ['user', 'pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup'] as const satisfies readonly NamespaceKind[];
type Kind = (typeof KINDS)[number];

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(1).replace(/\.0$/, '')} MiB`;

// ---- the container's init ---------------------------------------------------------

/** PID 1 of a PID namespace below the sandbox's, still running */
const isNsInit = (p: ProcessInfo) => p.state !== 'Z' && p.nsPids.length >= 2 && p.nsPids[p.nsPids.length - 1] === 1;

const newKinds = (p: ProcessInfo, root: NamespaceSet): Kind[] => KINDS.filter((k) => p.ns[k] !== undefined && p.ns[k] !== root[k]);

/** the inits of new PID namespaces, those with the most new namespaces first */
async function inits(lab: Lab): Promise<ProcessInfo[]> {
  const root = await lab.rootNamespaces();
  return (await lab.processes()).filter(isNsInit).sort((a, b) => newKinds(b, root).length - newKinds(a, root).length);
}

// ---- cgroups -----------------------------------------------------------------------

/**
 * Groups the sandbox comes with: its root, and on v2 the `init` leaf its shells start
 * in (a v2 group that hands controllers down may not hold processes).
 */
const isSandboxOwn = (g: CgroupInfo) => g.path === '/' || (g.version === 2 && g.path === '/init');

/** groups the learner made with a memory limit below the sandbox's own */
function limitedGroups(groups: CgroupInfo[]): CgroupInfo[] {
  const own = groups.find((g) => g.path === '/')?.memoryLimit ?? null;
  return groups.filter((g) => !isSandboxOwn(g) && g.memoryLimit !== null && (own === null || g.memoryLimit < own));
}

const groupDir = (g: CgroupInfo) => (g.version === 2 ? `/sys/fs/cgroup${g.path}` : `/sys/fs/cgroup/memory${g.path}`);

// ---- the root filesystem -------------------------------------------------------------

const sameMount = (a: MountInfo | undefined, b: MountInfo | undefined) =>
  !!a && !!b && sameFsLocation(mountedDir(a), mountedDir(b));

async function sandboxTable(lab: Lab): Promise<MountTable> {
  const table = await mountTable(lab, (await lab.init()).hostPid);
  if (!table) throw new Error("cannot read the sandbox's own mount table");
  return table;
}

type RootVerdict =
  | { ok: true }
  | { ok: false; how: 'pending' | 'fail'; message: MessageRef };

/**
 * Is the init's root a new root filesystem, with the sandbox's detached and a proc
 * of its own mounted? Read from a process of its mount namespace whose root
 * directory is the namespace's '/' (a process's mountinfo shows only what is below its root).
 */
async function judgeRoot(lab: Lab, init: ProcessInfo, root: NamespaceSet, sandbox: MountTable): Promise<RootVerdict> {
  if (init.ns.mnt === root.mnt) return { ok: false, how: 'fail', message: msg('rootfs.shared-table', { pid: init.pid }) };
  // `chroot DIR sh` from the init leaves the init itself where it was: look at its namespace's processes
  const chrooted = (await lab.processes()).find((p) => p.ns.mnt === init.ns.mnt && p.state !== 'Z' && p.root !== '/' && p.root !== '');
  if (chrooted) return { ok: false, how: 'fail', message: msg('rootfs.chroot', { root: chrooted.root }) };
  const table = await mountTable(lab, init.hostPid);
  if (!table) return { ok: false, how: 'pending', message: msg('rootfs.not-yet') };
  const top = table.at('/');
  const old = table.mounts.filter((m) => sameMount(m, sandbox.at('/')));
  if (table.mounts.some((m) => m.mountPoint === '/' && sameMount(m, sandbox.at('/')))) {
    return { ok: false, how: 'pending', message: msg('rootfs.not-yet') };
  }
  if (old.length) return { ok: false, how: 'fail', message: msg('rootfs.old-root-mounted', { path: old[0].mountPoint }) };
  if (!top) return { ok: false, how: 'pending', message: msg('rootfs.not-yet') };
  if (!table.mounts.some((m) => m.fsType === 'proc' && m.mountPoint === '/proc')) {
    return { ok: false, how: 'pending', message: msg('rootfs.no-proc') };
  }
  return { ok: true };
}

// ---- the veth link -------------------------------------------------------------------

function ipv4Of(state: NetState, link: VethEnd['link']) {
  return state.addresses.filter((a) => a.link === link.index && a.family === 'inet' && a.scope !== 'host');
}

const toInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
function sameSubnet(a: { address: string; prefixLength: number }, b: { address: string; prefixLength: number }): boolean {
  if (a.prefixLength !== b.prefixLength || a.address === b.address) return false;
  const shift = 2 ** (32 - a.prefixLength);
  return Math.floor(toInt(a.address) / shift) === Math.floor(toInt(b.address) / shift);
}

type LinkVerdict =
  | { ok: true; home: VethEnd; away: VethEnd }
  | { ok: false; how: 'pending' | 'fail'; message: MessageRef };

/** a veth pair from the sandbox's own network namespace into the init's, both ends up, one subnet */
async function judgeLink(lab: Lab, init: ProcessInfo): Promise<LinkVerdict> {
  const states: { ns: NetNamespace; state: NetState }[] = [];
  for (const ns of await lab.netNamespaces()) {
    const state = await lab.net(ns);
    if (state) states.push({ ns, state });
  }
  const pairs = crossNamespaceVeths(states)
    .map(([a, b]) => (a.ns.own ? [a, b] : [b, a]) as [VethEnd, VethEnd])
    .filter(([home, away]) => home.ns.own && away.ns.inode === init.ns.net);
  let first: LinkVerdict | null = null;
  for (const [home, away] of pairs) {
    const v = judgePair(home, away, init);
    if (v.ok) return v;
    first ??= v;
  }
  if (first) return first;
  // both ends still side by side in the sandbox: the container's end was never moved
  const own = states.find((s) => s.ns.own);
  const unmoved = own?.state.links.find((l) => l.kind === 'veth' && l.peer && !l.peer.otherNamespace);
  if (unmoved) {
    const peer = own!.state.links.find((l) => l.index === unmoved.peer!.index);
    return { ok: false, how: 'pending', message: msg('veth.not-moved', { link: unmoved.name, peer: peer?.name ?? '?', pid: init.pid }) };
  }
  return { ok: false, how: 'pending', message: msg('veth.none', { pid: init.pid }) };
}

function judgePair(home: VethEnd, away: VethEnd, init: ProcessInfo): LinkVerdict {
  const where = (end: VethEnd) => (end === home ? msg('side.sandbox') : msg('side.container', { pid: init.pid }));
  for (const end of [home, away]) {
    if (!end.link.up) return { ok: false, how: 'pending', message: msg('veth.down', { link: end.link.name, side: where(end) }) };
  }
  const [ha, aa] = [ipv4Of(home.state, home.link), ipv4Of(away.state, away.link)];
  if (!ha.length) return { ok: false, how: 'pending', message: msg('veth.no-address', { link: home.link.name, side: where(home) }) };
  if (!aa.length) return { ok: false, how: 'pending', message: msg('veth.no-address', { link: away.link.name, side: where(away) }) };
  if (!ha.some((x) => aa.some((y) => sameSubnet(x, y)))) {
    return { ok: false, how: 'fail', message: msg('veth.different-subnets', { a: `${ha[0].address}/${ha[0].prefixLength}`, b: `${aa[0].address}/${aa[0].prefixLength}` }) };
  }
  return { ok: true, home, away };
}


/** `from`'s neighbour table holds one of `to`'s addresses with `to`'s MAC: only an ARP answer from `to` puts it there */
function answered(from: VethEnd, to: VethEnd): string | null {
  for (const a of ipv4Of(to.state, to.link)) {
    const n = from.state.neighbours.find((x) => x.address === a.address && x.lladdr === to.link.mac
      && !x.state.includes('incomplete') && !x.state.includes('failed'));
    if (n) return a.address;
  }
  return null;
}

function pingedAcross(lab: Lab, home: VethEnd, away: VethEnd): boolean {
  const pinged = pingedAddresses(lab);
  return [[home, away], [away, home]].some(([from, to]) => {
    const addr = answered(from, to);
    return addr !== null && pinged.has(addr);
  });
}

const verdict = (v: { how: 'pending' | 'fail'; message: MessageRef }): CheckResult => (v.how === 'fail' ? fail(v.message) : pending(v.message));

/**
 * Names that are not the container's own: the sandbox's hostname now, and the one its
 * image gives it (/etc/hostname), so that renaming the sandbox by mistake (the
 * container keeping the old name) is not taken for naming the container.
 */
async function sandboxNames(lab: Lab): Promise<Set<string>> {
  const init = await lab.init();
  const names = new Set([(await lab.hostname(init.hostPid)).trim()]);
  const image = (await lab.readFile(init.hostPid, '/etc/hostname'))?.trim();
  if (image) names.add(image);
  return names;
}

/** the init the later steps build on: the one with every namespace, else the one with the most */
async function container(lab: Lab): Promise<ProcessInfo | null> {
  return (await inits(lab))[0] ?? null;
}

export default defineChecks({
  'memory-cgroup': async (lab) => {
    const groups = await lab.cgroups();
    const good = limitedGroups(groups);
    if (good.some((g) => g.hostPids.length > 0)) return pass();
    const v2 = groups[0]?.version === 2;
    if (good.length) {
      const g = good[0];
      const crowded = groups.find((x) => !isSandboxOwn(x) && x.memoryLimit === null && x.hostPids.length > 0);
      if (crowded) return fail(msg('memory-cgroup.wrong-group', { limited: g.path, limit: mib(g.memoryLimit!), joined: crowded.path, dir: groupDir(g) }));
      return fail(msg('memory-cgroup.empty', { path: g.path, limit: mib(g.memoryLimit!), dir: groupDir(g) }));
    }
    const made = groups.filter((g) => !isSandboxOwn(g));
    if (made.length) {
      const params = { path: made[0].path, dir: groupDir(made[0]) };
      return fail(v2 ? msg('memory-cgroup.no-limit-v2', params) : msg('memory-cgroup.no-limit-v1', params));
    }
    return pending(v2 ? msg('memory-cgroup.not-yet-v2') : msg('memory-cgroup.not-yet-v1'));
  },

  namespaces: async (lab) => {
    const root = await lab.rootNamespaces();
    const candidates = await inits(lab);
    const best = candidates[0];
    if (best) {
      const missing = KINDS.filter((k) => !newKinds(best, root).includes(k));
      if (missing.length) return fail(msg('namespaces.missing', { pid: best.pid, kinds: missing.join(', ') }));
      const user = await lab.userNamespace(best.hostPid);
      if (user.uid !== 0) return fail(msg('namespaces.unmapped', { pid: best.pid, uid: user.uid }));
      // made before its shell moved into the group: the namespace is rooted at the old one
      const inside = await lab.cgroupSeenInside(best.hostPid);
      if (inside !== null && inside !== '/') return fail(msg('namespaces.cgroup-root', { pid: best.pid, inside }));
      return pass();
    }
    // `unshare --pid` without --fork: the shell made the namespace but stays outside it
    // (its pid_for_children link may be unreadable by then: the namespace died with its first child)
    const noFork = (await lab.shells()).find((p) => p.ns.pid_for_children !== p.ns.pid);
    if (noFork) return fail(msg('namespaces.no-fork', { pid: noFork.pid }));
    return pending(msg('namespaces.not-yet'));
  },

  hostname: async (lab) => {
    const init = await container(lab);
    if (!init) return pending(msg('container.no-init'));
    if (init.ns.uts === (await lab.rootNamespaces()).uts) return fail(msg('hostname.shared-uts', { pid: init.pid }));
    const name = (await lab.hostname(init.hostPid)).trim();
    if (!(await sandboxNames(lab)).has(name)) return pass();
    return pending(msg('hostname.not-yet', { name }));
  },

  veth: async (lab) => {
    const init = await container(lab);
    if (!init) return pending(msg('container.no-init'));
    if (init.ns.net === (await lab.rootNamespaces()).net) return fail(msg('veth.shared-net', { pid: init.pid }));
    const v = await judgeLink(lab, init);
    return v.ok ? pass() : verdict(v);
  },

  ping: async (lab) => {
    const init = await container(lab);
    if (!init) return pending(msg('container.no-init'));
    const v = await judgeLink(lab, init);
    if (!v.ok) return pending(msg('ping.link-first'));
    if (pingedAcross(lab, v.home, v.away)) return pass();
    return pending(msg('ping.not-yet', { address: ipv4Of(v.away.state, v.away.link)[0]?.address ?? '' }));
  },

  'root-filesystem': async (lab) => {
    const init = await container(lab);
    if (!init) return pending(msg('container.no-init'));
    const v = await judgeRoot(lab, init, await lab.rootNamespaces(), await sandboxTable(lab));
    return v.ok ? pass() : verdict(v);
  },

  container: async (lab) => {
    const candidates = await inits(lab);
    if (!candidates.length) return pending(msg('container.no-init'));
    const root = await lab.rootNamespaces();
    const sandbox = await sandboxTable(lab);
    const groups = await lab.cgroups();
    const names = await sandboxNames(lab);
    let best: { init: ProcessInfo; missing: MessageRef[] } | null = null;
    for (const init of candidates) {
      const missing: MessageRef[] = [];
      const shared = KINDS.filter((k) => !newKinds(init, root).includes(k));
      if (shared.length) missing.push(msg('container.lacks-namespaces', { kinds: shared.join(', ') }));
      else if ((await lab.userNamespace(init.hostPid)).uid !== 0) missing.push(msg('container.lacks-root'));
      const r = await judgeRoot(lab, init, root, sandbox);
      if (!r.ok) missing.push(msg('container.lacks-rootfs'));
      if (!limitedGroups(groups).some((g) => g.hostPids.includes(init.hostPid))) missing.push(msg('container.lacks-limit'));
      else if ((await lab.cgroupSeenInside(init.hostPid)) !== '/') missing.push(msg('container.lacks-cgroup-root'));
      if (init.ns.uts === root.uts || names.has((await lab.hostname(init.hostPid)).trim())) missing.push(msg('container.lacks-hostname'));
      const link = init.ns.net === root.net ? null : await judgeLink(lab, init);
      if (!link?.ok) missing.push(msg('container.lacks-link'));
      else if (!pingedAcross(lab, link.home, link.away)) missing.push(msg('container.lacks-ping'));
      if (!missing.length) return pass();
      if (!best || missing.length < best.missing.length) best = { init, missing };
    }
    // a to-do list while the container is being built, not a verdict on it
    return pending(msg('container.missing', { pid: best!.init.pid, missing: best!.missing }));
  },
});
