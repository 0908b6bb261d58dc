/** What a sandbox must not see of the host or of other sandboxes (docs/sandbox.md, docs/security.md "What a sandbox promises"). */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSandbox } from '../../lab-server/sandbox/index.ts';
import { sh, terminal, testBackend } from './helpers.ts';

let a: LocalSandbox;
let b: LocalSandbox;
let hostQueue: number;
let server: Server;
let port: number;

beforeAll(async () => {
  const backend = await testBackend();
  [a, b] = await Promise.all([backend.create(), backend.create()]);
  hostQueue = Number(/(\d+)/.exec(execFileSync('ipcmk', ['-Q'], { encoding: 'utf8' }))?.[1]);
  server = createServer((c) => c.end('host-secret\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await Promise.all([a?.destroy(), b?.destroy()]);
  if (Number.isFinite(hostQueue)) execFileSync('ipcrm', ['-q', String(hostQueue)]);
  server?.close();
});

describe('isolation', () => {
  it('sees only its own processes', async () => {
    const r = await sh(a, 'ps -e -o pid=,comm=');
    const lines = r.stdout.trim().split('\n').map((l) => l.trim());
    expect(lines[0]).toMatch(/^1 nslab-init$/);
    expect(lines.length).toBeLessThan(8);
    expect(r.stdout).not.toMatch(/node|systemd|vitest/);
  });

  it('does not see the host IPC objects', async () => {
    const r = await sh(a, 'ipcs -q | grep -c 0x || true');
    expect(r.stdout.trim()).toBe('0');
  });

  it('does not see the host files', async () => {
    const r = await sh(a, 'ls /work /home/* /root 2>&1; cat /etc/hostname; test -e /run/nslab/sandboxes && echo leak');
    expect(r.stdout).toMatch(/ls: cannot access '\/work'/);
    expect(r.stdout).toContain('nslab');
    expect(r.stdout).not.toContain('leak');
  });

  it('has only a loopback interface and cannot reach host loopback services', async () => {
    const links = await sh(a, `ip -o link | awk -F': ' '{print $2}'`);
    expect(links.stdout.trim()).toBe('lo');
    const r = await sh(a, `timeout 3 bash -c 'echo > /dev/tcp/127.0.0.1/${port}' 2>/dev/null && echo reached || echo refused`);
    expect(r.stdout.trim()).toBe('refused');
    expect(r.stdout).not.toContain('reached');
  });

  it("does not see another sandbox's IPC objects or processes", async () => {
    await sh(b, 'ipcmk -Q -p 0600 >/dev/null; sleep 300 >/dev/null 2>&1 &');
    const r = await sh(a, 'ipcs -q | grep -c 0x || true; pgrep -x sleep || echo none');
    expect(r.stdout.trim().split('\n')).toEqual(['0', 'none']);
    const seen = await b.probe.sysvipc((await b.probe.processes())[0].hostPid);
    expect(seen.queues).toHaveLength(1);
  });

  it('the probe tells the root IPC namespace from a child one', async () => {
    const t = terminal(a, 1);
    await t.ready();
    const nested = await t.run('unshare --ipc bash');
    expect(nested.kind).toBe('ready');
    await t.run('ipcmk -Q');
    const procs = await a.probe.processes();
    const root = await a.probe.rootNamespaces();
    const child = procs.find((p) => p.ns.ipc !== root.ipc && p.comm === 'bash');
    const parent = procs.find((p) => p.ns.ipc === root.ipc && p.comm === 'bash');
    expect(child && parent).toBeTruthy();
    expect((await a.probe.sysvipc(child!.hostPid)).queues).toHaveLength(1);
    expect((await a.probe.sysvipc(parent!.hostPid)).queues).toHaveLength(0);
    // only ipc differs between the nested shell and its parent
    for (const kind of ['mnt', 'net', 'pid', 'uts', 'user', 'cgroup'] as const) expect(child!.ns[kind]).toBe(parent!.ns[kind]);
    t.term.kill();
  });
});
