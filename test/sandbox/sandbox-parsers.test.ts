/** Parsers and validation of the sandbox driver: hostile or malformed input is dropped, never trusted. */
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../lab-server/sandbox/command-log.ts';
import { loadDriverConfig } from '../../lab-server/sandbox/config.ts';
import { parseMountinfo, parseSysvipc } from '../../lab-server/sandbox/probe.ts';
import { ALLOWED_FAMILIES, DENIED_SYSCALLS, seccompProfile } from '../../lab-server/sandbox/seccomp.ts';

describe('command log lines', () => {
  const ns = 'ipc:[4026532181] pid:[4026532182] uts:[4026532180]';
  it('parses a finished command with escapes', () => {
    const e = parseCommandLine(`nslab1\tcmd\t2\t13\t1\t7\t${ns}\techo "a\\tb" \\\\ x\\nsecond line`);
    expect(e).toEqual({
      kind: 'cmd', terminal: 2, pid: 13, status: 1, historyNumber: 7,
      ns: { ipc: 4026532181, pid: 4026532182, uts: 4026532180 },
      command: 'echo "a\tb" \\ x\nsecond line',
    });
  });
  it.each([
    ['wrong version', `nslab2\tcmd\t1\t13\t0\t1\t${ns}\tls`],
    ['unknown kind', `nslab1\towned\t1\t13\t0\t1\t${ns}\tls`],
    ['non-numeric pid', `nslab1\tcmd\t1\tabc\t0\t1\t${ns}\tls`],
    ['status out of range', `nslab1\tcmd\t1\t13\t999\t1\t${ns}\tls`],
    ['missing fields', 'nslab1\tcmd\t1'],
    ['extra fields', `nslab1\tcmd\t1\t13\t0\t1\t${ns}\tls\textra`],
    ['garbage', '\u0000\u0001 rm -rf /'],
  ])('drops %s', (_, line) => {
    expect(parseCommandLine(line)).toBeNull();
  });
  it('ignores namespace kinds it does not know', () => {
    expect(parseCommandLine(`nslab1\tready\t1\t5\t0\t0\tbogus:[1] net:[9]\t`)?.ns).toEqual({ net: 9 });
  });
});

describe('procfs parsers', () => {
  it('parses /proc/sysvipc tables and maps host uids into the sandbox', () => {
    const text = [
      '       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime',
      '  12345678          0   644           5          1    42     0 134217728 134217728 134217728 134217728 0 0 1',
      '       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap',
      '         0          1   600                  8192    10    10      0 134217729 0 0 0 0 0 0 0 0',
      '       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime',
      '       255          2   600          3 99 0 0 0 0 0',
    ].join('\n');
    const ipc = parseSysvipc(text, (u) => (u >= 134217728 && u < 134217728 + 65536 ? u - 134217728 : 65534));
    expect(ipc.queues).toEqual([{ key: 12345678, id: 0, perms: 0o644, cbytes: 5, qnum: 1, lspid: 42, lrpid: 0, uid: 0 }]);
    expect(ipc.shm[0]).toMatchObject({ id: 1, size: 8192, uid: 1 });
    expect(ipc.sems[0]).toMatchObject({ key: 255, nsems: 3, uid: 65534 });
  });
  it('parses mountinfo with escaped paths and optional fields', () => {
    const m = parseMountinfo('36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n');
    expect(m).toEqual([{
      mountId: 36, parentId: 35, device: '98:0', root: '/mnt1', mountPoint: '/mnt two', options: ['rw', 'noatime'],
      propagation: { shared: null, master: 1, propagateFrom: null, unbindable: false },
      fsType: 'ext3', source: '/dev/root', superOptions: ['rw', 'errors=continue'],
    }]);
  });
  it('reads every propagation field of mountinfo, and none on a private mount', () => {
    const m = parseMountinfo([
      '263 262 0:61 / /mnt/shared/inner rw,relatime shared:2 - tmpfs inner rw',
      '40 30 0:62 / /slave rw shared:5 master:2 propagate_from:1 - tmpfs a rw',
      '41 30 0:63 /sub /u rw unbindable - tmpfs b rw',
      '42 30 0:64 / /p rw - tmpfs c rw',
    ].join('\n'));
    expect(m.map((x) => x.propagation)).toEqual([
      { shared: 2, master: null, propagateFrom: null, unbindable: false },
      { shared: 5, master: 2, propagateFrom: 1, unbindable: false },
      { shared: null, master: null, propagateFrom: null, unbindable: true },
      { shared: null, master: null, propagateFrom: null, unbindable: false },
    ]);
    expect(m[2]).toMatchObject({ device: '0:63', root: '/sub', mountPoint: '/u', fsType: 'tmpfs', source: 'b' });
  });
});

describe('seccomp profile', () => {
  const p = seccompProfile();
  it('allows by default and only the x86_64 ABI', () => {
    expect(p.defaultAction).toBe('SCMP_ACT_ALLOW');
    expect(p.architectures).toEqual(['SCMP_ARCH_X86_64']);
  });
  it('denies the dangerous calls and none the lessons need', () => {
    const denied = p.syscalls.filter((r) => !r.args).flatMap((r) => r.names);
    for (const name of ['keyctl', 'bpf', 'perf_event_open', 'init_module', 'kexec_load', 'open_by_handle_at', 'io_uring_setup']) expect(denied).toContain(name);
    for (const needed of ['unshare', 'setns', 'mount', 'umount2', 'pivot_root', 'clone', 'clone3', 'msgget', 'shmget', 'semget', 'mq_open', 'sethostname']) {
      expect(denied).not.toContain(needed);
    }
    expect(DENIED_SYSCALLS.length).toBeGreaterThan(20);
  });
  it('refuses every socket family but unix, inet, inet6, netlink and packet', () => {
    const socketRules = p.syscalls.filter((r) => r.names.includes('socket') && r.args?.length === 1);
    const refused = new Set(socketRules.filter((r) => r.args![0].op === 'SCMP_CMP_EQ').map((r) => r.args![0].value));
    for (let af = 0; af <= 17; af++) expect(refused.has(af)).toBe(!(ALLOWED_FAMILIES as readonly number[]).includes(af));
    expect(socketRules.some((r) => r.args![0].op === 'SCMP_CMP_GT' && r.args![0].value === 17)).toBe(true);
  });
});

describe('driver configuration', () => {
  it('takes limits from the environment', () => {
    const c = loadDriverConfig({ NSLAB_MEMORY_MB: '256', NSLAB_PIDS: '100', NSLAB_POOL: '3' });
    expect(c.limits.memoryBytes).toBe(256 * 1024 * 1024);
    expect(c.limits.pids).toBe(100);
    expect(c.poolSize).toBe(3);
  });
  it('rejects a bad value with a clear message instead of falling back', () => {
    expect(() => loadDriverConfig({ NSLAB_MEMORY_MB: 'lots' })).toThrow(/NSLAB_MEMORY_MB/);
    expect(() => loadDriverConfig({ NSLAB_INSTANCE: '../x' })).toThrow(/NSLAB_INSTANCE/);
  });
});
