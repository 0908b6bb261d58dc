/** The probe's rtnetlink records (helpers/nslab-probe.c, op_net) turned into named, typed state. */
import { describe, expect, it } from 'vitest';
import { parseNetState } from '../../lab-server/sandbox/net-state.ts';

// recorded from a namespace with lo up, one end of a veth pair whose peer was moved
// to another namespace, a bridge port, an address, and one answered ARP request
const SAMPLE = [
  'ns\t4026532318',
  'link\t1\tlo\t10049\t0\t772\t-\t0\t0\t-1\t00:00:00:00:00:00',
  'link\t2\tveth-r\t11043\t6\t1\tveth\t0\t3\t0\t9e:07:03:fa:f2:b2',
  'link\t4\tbr0\t1003\t2\t1\tbridge\t0\t0\t-1\t-',
  'link\t5\tport\t1002\t2\t1\tveth\t4\t6\t-1\t-',
  'peer\t2\t9e:07:03:fa:f2:b3',
  'addr\t1\t2\t8\t254\t127.0.0.1',
  'addr\t2\t2\t24\t0\t10.0.0.1',
  'addr\t2\t10\t64\t253\tfe80::9c07:3ff:fefa:f2b2',
  'addr\t2\t17\t0\t0\t-',
  'route\t2\t254\t1\t253\t2\t10.0.0.0\t24\t2\t-\t10.0.0.1',
  'route\t2\t254\t1\t0\t3\t-\t0\t2\t10.0.0.254\t-',
  'route\t2\t255\t2\t254\t2\t127.0.0.1\t32\t1\t-\t127.0.0.1',
  'route\t7\t254\t1\t0\t3\t-\t0\t2\t-\t-',
  'neigh\t2\t2\t2\t10.0.0.2\t9e:07:03:fa:f2:b3',
  'neigh\t1\t2\t64\t0.0.0.0\t00:00:00:00:00:00',
  '',
].join('\n');

describe('parseNetState', () => {
  const s = parseNetState(SAMPLE);

  it('names the namespace and its links: state, type, kind, bridge, veth peer', () => {
    expect(s.inode).toBe(4026532318);
    expect(s.links[0]).toEqual({
      index: 1, name: 'lo', flags: 0x10049, up: true, lowerUp: true, operState: 'unknown', type: 'loopback', kind: null, master: null, peer: null, mac: '00:00:00:00:00:00',
    });
    expect(s.links[1]).toMatchObject({ name: 'veth-r', up: true, lowerUp: true, operState: 'up', type: 'ether', kind: 'veth', peer: { index: 3, otherNamespace: true, mac: '9e:07:03:fa:f2:b3' } });
    expect(s.links[2]).toMatchObject({ name: 'br0', up: true, lowerUp: false, operState: 'down', kind: 'bridge', peer: null, mac: null });
    // a veth whose peer is in the same namespace, enslaved to br0, and down
    expect(s.links[3]).toMatchObject({ name: 'port', up: false, operState: 'down', master: 4, peer: { index: 6, otherNamespace: false, mac: null } });
  });

  it('gives addresses, routes and neighbours their link names and leaves out other families', () => {
    expect(s.addresses).toEqual([
      { link: 1, dev: 'lo', family: 'inet', address: '127.0.0.1', prefixLength: 8, scope: 'host' },
      { link: 2, dev: 'veth-r', family: 'inet', address: '10.0.0.1', prefixLength: 24, scope: 'global' },
      { link: 2, dev: 'veth-r', family: 'inet6', address: 'fe80::9c07:3ff:fefa:f2b2', prefixLength: 64, scope: 'link' },
    ]);
    expect(s.routes).toHaveLength(3);
    expect(s.routes[0]).toEqual({
      family: 'inet', table: 'main', type: 'unicast', scope: 'link', protocol: 'kernel', dst: '10.0.0.0', dstLength: 24, link: 2, dev: 'veth-r', gateway: null, prefSrc: '10.0.0.1',
    });
    expect(s.routes[1]).toMatchObject({ dst: null, dstLength: 0, gateway: '10.0.0.254', protocol: 'boot', scope: 'global' });
    expect(s.routes[2]).toMatchObject({ table: 'local', type: 'local', scope: 'host', dev: 'lo' });
    expect(s.neighbours).toEqual([
      { link: 2, dev: 'veth-r', family: 'inet', address: '10.0.0.2', lladdr: '9e:07:03:fa:f2:b3', state: ['reachable'] },
      { link: 1, dev: 'lo', family: 'inet', address: '0.0.0.0', lladdr: '00:00:00:00:00:00', state: ['noarp'] },
    ]);
  });

  it.each([
    ['no namespace line', 'link\t1\tlo\t10049\t0\t772\t-\t0\t0\t-1\t-\n'],
    ['an unknown record', 'ns\t1\nrule\t1\n'],
    ['a short link line', 'ns\t1\nlink\t1\tlo\t10049\n'],
    ['a bad number', 'ns\t1\nlink\tx\tlo\t10049\t0\t772\t-\t0\t0\t-1\t-\n'],
  ])('refuses %s', (_, text) => {
    expect(() => parseNetState(text)).toThrow();
  });
});
