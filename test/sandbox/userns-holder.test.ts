/**
 * The user-namespace holder (helpers/nslab-userns.c, user-namespace.ts): runs as the
 * sandbox's host uid with no capability and no supplementary group, owns the namespace
 * it made, makes the command-log FIFO as the sandbox's, and ends when released.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDriverConfig } from '../../lab-server/sandbox/config.ts';
import { ensureHelper } from '../../lab-server/sandbox/host-helpers.ts';
import { createUserNamespace } from '../../lab-server/sandbox/user-namespace.ts';

const helper = ensureHelper(loadDriverConfig().dataDir, 'nslab-userns');
const dir = mkdtempSync('/run/nslab/userns-test-');
// far above every uid range the back ends claim
const UID = 4_000_000_000;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('user-namespace holder', () => {
  it('runs as the host uid with no capability or group, owns its namespace, maps 65536 ids, makes the FIFO, ends on release', async () => {
    const fifo = join(dir, 'cmdlog');
    const holder = await createUserNamespace(UID, { helper, fifo });
    const pid = Number(/^\/proc\/(\d+)\/ns\/user$/.exec(holder.path)![1]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)![1].trim().split(/\s+/);
    expect(field('Uid')).toEqual(Array(4).fill(String(UID)));
    expect(field('Gid')).toEqual(Array(4).fill(String(UID)));
    expect(/^Groups:\s*$/m.test(status)).toBe(true);
    // capabilities count in the namespace it made: the host sees none held in the host's
    for (const c of ['CapInh', 'CapAmb']) expect({ c, v: field(c)[0] }).toEqual({ c, v: '0000000000000000' });
    expect(readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/)).toEqual(['0', String(UID), '65536']);
    expect(readFileSync(`/proc/${pid}/gid_map`, 'utf8').trim().split(/\s+/)).toEqual(['0', String(UID), '65536']);
    const owner = execFileSync('python3', ['-c', `
import fcntl, os, struct
fd = os.open("${holder.path}", os.O_RDONLY)
buf = bytearray(4)
fcntl.ioctl(fd, 0xb704, buf)  # NS_GET_OWNER_UID
print(struct.unpack("I", buf)[0])`], { encoding: 'utf8' }).trim();
    expect(Number(owner)).toBe(UID);
    const st = statSync(fifo);
    expect({ fifo: st.isFIFO(), uid: st.uid, gid: st.gid, mode: (st.mode & 0o777).toString(8) }).toEqual({ fifo: true, uid: UID, gid: UID, mode: '620' });
    holder.release();
    for (let i = 0; i < 200 && existsPid(pid); i++) await new Promise((r) => setTimeout(r, 10));
    expect(existsPid(pid)).toBe(false);
  });

  it('refuses uid 0 and a bad uid with a message, and an existing FIFO path', async () => {
    await expect(createUserNamespace(0, { helper })).rejects.toThrow(/bad uid/);
    const fifo = join(dir, 'twice');
    (await createUserNamespace(UID, { helper, fifo })).release();
    await expect(createUserNamespace(UID, { helper, fifo })).rejects.toThrow(/mkfifo: File exists/);
  });
});

function existsPid(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch { return false; }
}
