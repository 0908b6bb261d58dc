/**
 * The network part of the checks API on a real sandbox: the namespaces a learner
 * makes with `ip netns add` (held by a mount only) and with `unshare --net` (held by a
 * process), what is in each, read from outside over rtnetlink, and the veth pairs
 * that join them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab } from '../../lab-server/checks/lab.ts';
import { crossNamespaceVeths, MAX_NET_NAMESPACES, type Lab, type NetNamespace } from '../../lab-server/checks/api.ts';
import type { Sandbox } from '../../lab-server/sandbox/types.ts';
import { sh, testBackend } from '../sandbox/helpers.ts';

describe('network namespaces through the checks API', () => {
  let sandbox: Sandbox;
  const lab = (): Lab => createLab(sandbox, { lang: 'en' });
  const byName = async (l: Lab, name: string): Promise<NetNamespace> => {
    const ns = (await l.netNamespaces()).find((n) => n.names.includes(name));
    if (!ns) throw new Error(`no namespace named ${name}`);
    return ns;
  };

  beforeAll(async () => {
    sandbox = await (await testBackend()).create({ label: 'check-api net' });
  });
  afterAll(async () => { await sandbox?.destroy(); });

  it("a fresh sandbox has one network namespace, its own, with lo up and nothing else", async () => {
    const l = lab();
    const all = await l.netNamespaces();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ own: true, pins: [], names: [] });
    expect(all[0].inode).toBe((await l.rootNamespaces()).net);
    const state = (await l.net(all[0]))!;
    expect(state.inode).toBe(all[0].inode);
    expect(state.links.map((k) => [k.name, k.type, k.up])).toEqual([['lo', 'loopback', true]]);
    expect(state.addresses.map((a) => a.address).sort()).toEqual(['127.0.0.1', '::1']);
    expect(state.routes.filter((r) => r.table === 'main')).toEqual([]);
  });

  it('reads pinned and process-held namespaces, their links, addresses, routes and neighbours, and pairs veths', async () => {
    const r = await sh(sandbox, [
      'set -e',
      'ip netns add red; ip netns add blue',
      'ip link add veth-r type veth peer name veth-b',
      'ip link set veth-r netns red; ip link set veth-b netns blue',
      'ip -n red addr add 10.0.0.1/24 dev veth-r; ip -n blue addr add 10.0.0.2/24 dev veth-b',
      'ip -n red link set veth-r up; ip -n blue link set veth-b up',
      'ip netns exec red ping -c1 -W5 10.0.0.2 >/dev/null',
      // a namespace held only by a process, with a bridge and a port on it
      'unshare --net sh -c "ip link add br0 type bridge; ip link add p0 type veth peer name p1; ip link set p0 master br0; ip link set br0 up; exec sleep 1000" >/dev/null 2>&1 &',
      'for i in $(seq 100); do [ -n "$(pgrep -x sleep)" ] && break; sleep 0.05; done',
      'sleep 0.2',
    ].join('\n'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const l = lab();
    const all = await l.netNamespaces();
    expect(all).toHaveLength(4);
    const red = await byName(l, 'red');
    expect(red).toMatchObject({ own: false, processes: [], pins: ['/run/netns/red'] });
    const redState = (await l.net(red))!;
    expect(redState.inode).toBe(red.inode);
    const lo = redState.links.find((k) => k.name === 'lo')!;
    // a new namespace's lo is there, but down and without an address
    expect(lo).toMatchObject({ up: false, operState: 'down' });
    expect(redState.addresses.filter((a) => a.dev === 'lo')).toEqual([]);
    expect(redState.links.find((k) => k.name === 'veth-r')).toMatchObject({ kind: 'veth', up: true, lowerUp: true, operState: 'up', peer: { otherNamespace: true } });
    expect(redState.addresses).toContainEqual(expect.objectContaining({ dev: 'veth-r', family: 'inet', address: '10.0.0.1', prefixLength: 24 }));
    expect(redState.routes).toContainEqual(expect.objectContaining({ table: 'main', dst: '10.0.0.0', dstLength: 24, dev: 'veth-r', protocol: 'kernel' }));
    // the ping's ARP request was answered: red learned blue's MAC
    const blueState = (await l.net(await byName(l, 'blue')))!;
    const vethB = blueState.links.find((k) => k.name === 'veth-b')!;
    expect(redState.neighbours).toContainEqual(expect.objectContaining({ address: '10.0.0.2', lladdr: vethB.mac }));

    const held = all.find((n) => !n.own && n.processes.length > 0)!;
    expect(held.pins).toEqual([]);
    expect(held.processes.map((p) => p.comm)).toEqual(['sleep']);
    const heldState = (await l.net(held))!;
    const br0 = heldState.links.find((k) => k.name === 'br0')!;
    expect(br0).toMatchObject({ kind: 'bridge', up: true });
    expect(heldState.links.find((k) => k.name === 'p0')).toMatchObject({ master: br0.index, peer: { otherNamespace: false } });

    const states = await Promise.all(all.map(async (ns) => ({ ns, state: (await l.net(ns))! })));
    const pairs = crossNamespaceVeths(states);
    expect(pairs.map(([a, b]) => [a.link.name, b.link.name].sort())).toEqual([['veth-b', 'veth-r']]);
  });

  it('pairs veth ends by index and MAC: two pairs with the same indexes are not mixed up', async () => {
    // `ip link add` makes the peer first: a.x (index 3) names its peer b.y as index 2,
    // and c.x2 (index 2) names its peer d.y2 as index 3, so by index alone a.x would
    // pair with c.x2, which is usually listed before b.y (namespaces are listed by
    // inode; made in the order a, c, d, b, they mostly get increasing ones)
    const r = await sh(sandbox, [
      'set -e',
      'ip netns add a; ip netns add c; ip netns add d; ip netns add b',
      'ip -n a link add x type veth peer name y; ip -n a link set y netns b',
      'ip -n c link add y2 type veth peer name x2; ip -n c link set y2 netns d',
    ].join('\n'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const l = lab();
    const states = await Promise.all((await l.netNamespaces()).map(async (ns) => ({ ns, state: (await l.net(ns))! })));
    const end = (ns: string, name: string) => {
      const s = states.find((x) => x.ns.names.includes(ns))!;
      return s.state.links.find((k) => k.name === name)!;
    };
    expect([end('a', 'x').index, end('b', 'y').index, end('c', 'x2').index, end('d', 'y2').index]).toEqual([3, 2, 2, 3]);
    expect(end('a', 'x').peer).toEqual({ index: 2, otherNamespace: true, mac: end('b', 'y').mac });
    const pairs = crossNamespaceVeths(states)
      .map(([p, q]) => [`${p.ns.names[0]}:${p.link.name}`, `${q.ns.names[0]}:${q.link.name}`].sort().join(' '));
    expect(pairs.filter((p) => /^[abcd]:/.test(p)).sort()).toEqual(['a:x b:y', 'c:x2 d:y2']);
  });

  it(`lists at most ${MAX_NET_NAMESPACES} namespaces, the sandbox's own first`, async () => {
    const made = MAX_NET_NAMESPACES + 6;
    try {
      const r = await sh(sandbox, `for i in $(seq ${made}); do ip netns add many$i || exit 1; done`);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const all = await lab().netNamespaces();
      expect(all).toHaveLength(MAX_NET_NAMESPACES);
      expect(all[0].own).toBe(true);
      expect(new Set(all.map((n) => n.inode)).size).toBe(MAX_NET_NAMESPACES);
    } finally {
      await sh(sandbox, `for i in $(seq ${made}); do ip netns delete many$i 2>/dev/null; done; true`);
    }
    expect((await lab().netNamespaces()).length).toBeLessThan(MAX_NET_NAMESPACES);
  });

  it('a pin that is no longer a network namespace reads as gone, and the probe refuses other files', async () => {
    const l = lab();
    const red = await byName(l, 'red');
    const init = await l.init();
    expect(await sandbox.probe.net(init.hostPid, '/etc/hostname')).toBeNull();
    expect(await sandbox.probe.net(init.hostPid, '/run/netns/none')).toBeNull();
    // the learner swaps the pin for another namespace between listing and reading: not the one listed
    await sh(sandbox, 'umount /run/netns/red && mount --bind /run/netns/blue /run/netns/red');
    expect(await l.net(red)).toBeNull();
  });
});
