/** The parsers behind the identity probes, on the exact text the kernel writes. */
import { describe, expect, it } from 'vitest';
import { insideId, parseCapabilities, parseIdMap, parseOwners, parseTimensOffsets } from '../../lab-server/sandbox/identity.ts';

const BASE = 635568128;
const toSandbox = (h: number) => (h >= BASE && h < BASE + 65536 ? h - BASE : 65534);

describe('identity parsers', () => {
  it('id maps: each line, outside ids in the sandbox\'s count and the host\'s, and the id a host uid has inside', () => {
    const map = parseIdMap(`         0  ${BASE + 1000}          1\n      1000  ${BASE + 100000 - 65536}       10\n`, toSandbox);
    expect(map).toEqual([
      { inside: 0, outside: 1000, hostOutside: BASE + 1000, count: 1 },
      { inside: 1000, outside: 34464, hostOutside: BASE + 34464, count: 10 },
    ]);
    expect(parseIdMap('', toSandbox)).toEqual([]);
    expect(insideId(map, BASE + 1000)).toBe(0);
    expect(insideId(map, BASE + 34464 + 9)).toBe(1009);
    expect(insideId(map, BASE)).toBe(65534);
    expect(insideId([], BASE)).toBe(65534);
  });

  it('capability sets by name, in bit order', () => {
    const caps = parseCapabilities('Name:\tbash\nCapInh:\t0000000000000000\nCapPrm:\t0000000000200000\nCapEff:\t0000000002200000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n');
    expect(caps.effective).toEqual(['cap_sys_admin', 'cap_sys_time']);
    expect(caps.permitted).toEqual(['cap_sys_admin']);
    expect(caps.inheritable).toEqual([]);
    expect(caps.bounding).toHaveLength(41);
    expect(caps.bounding.at(-1)).toBe('cap_checkpoint_restore');
    expect(() => parseCapabilities('Name:\tbash\n')).toThrow(/CapEff/);
  });

  it('clock offsets by name, or by clock id as older kernels wrote them', () => {
    expect(parseTimensOffsets('monotonic        3600         0\nboottime        86400 500000000\n')).toEqual({ monotonic: 3600, boottime: 86400.5 });
    expect(parseTimensOffsets('1 -20 0\n7 5 0\n')).toEqual({ monotonic: -20, boottime: 5 });
    expect(parseTimensOffsets('')).toEqual({ monotonic: 0, boottime: 0 });
  });

  it('the helper\'s owners answer', () => {
    expect(parseOwners('mnt 4026532246\ntime 4026531837\nuser 4026531837\nuser-owner-uid 635569128\n')).toEqual({
      owners: { mnt: 4026532246, time: 4026531837, user: 4026531837 }, ownerHostUid: 635569128,
    });
  });
});
