/**
 * The warm pool: sandboxes kept ready with terminal 1 already at a prompt. A
 * learner (or the grader) taking one must see exactly what a cold sandbox shows
 * — the prompt on the terminal, one 'ready' event, the size it asked for —
 * and nothing of the pool may leak into what it gets or outlive destroy.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TranscriptRunner } from '../../lab-server/grade/runner.ts';
import { parseTranscript } from '../../lab-server/grade/transcript.ts';
import { createSandboxBackend, type LocalBackend, type LocalSandbox } from '../../lab-server/sandbox/index.ts';
import type { CommandEvent } from '../../lab-server/sandbox/types.ts';

let backend: LocalBackend;

beforeAll(async () => {
  backend = createSandboxBackend();
  await backend.checkHost();
  await backend.images.ensureBuilt('default', (l) => console.log(l));
  backend.setPoolSize(2);
  await backend.poolReady();
});

afterAll(async () => {
  backend.setPoolSize(0);
  await backend.destroyAll();
});

const bashCount = async (s: LocalSandbox) => (await s.probe.processes()).filter((p) => p.comm === 'bash').length;

/** the command log can report a command before its output has reached the pty reader */
async function waitScreen(screen: () => string, text: string): Promise<void> {
  for (let i = 0; i < 500 && !screen().includes(text); i++) await new Promise((r) => setTimeout(r, 10));
}

function waitEvent(s: LocalSandbox, pred: (e: CommandEvent) => boolean, what: string): Promise<CommandEvent> {
  return new Promise((resolve, reject) => {
    const hit = s.commands().find(pred);
    if (hit) return resolve(hit);
    const timer = setTimeout(() => { off(); reject(new Error(`no event: ${what}`)); }, 10_000);
    const off = s.onCommand((e) => { if (pred(e)) { clearTimeout(timer); off(); resolve(e); } });
  });
}

it('hands out a pooled sandbox whose terminal 1 shows its prompt and reports ready once, at the asked size', async () => {
  expect(backend.pooled).toBe(2);
  const before = Date.now();
  const s = await backend.create({ label: 'pool test' });
  expect(s.label).toBe('pool test');
  expect(s.createdAt.getTime()).toBeGreaterThanOrEqual(before);
  // the hidden shell is there, and nothing has been published for it yet
  expect(await bashCount(s)).toBe(1);
  expect(s.commands()).toEqual([]);

  const seen: CommandEvent[] = [];
  const term = s.spawnPty({ terminal: 1, cols: 133, rows: 37 });
  s.onCommand((e) => seen.push(e)); // subscribing right after spawnPty is in time
  let screen = '';
  term.onData((d) => { screen += d; });
  await waitEvent(s, (e) => e.kind === 'ready' && e.terminal === 1, 'ready');
  // eslint-disable-next-line no-control-regex
  const plain = () => screen.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
  for (let i = 0; i < 200 && !/root@nslab:~# $/.test(plain()); i++) await new Promise((r) => setTimeout(r, 10));
  expect(plain()).toMatch(/^(\r*root@nslab:~# )+$/); // the prompt (redrawn after the resize), nothing else
  expect(seen.map((e) => `${e.kind}:${e.terminal}`)).toEqual(['ready:1']);
  expect(seen[0].at).toBeGreaterThanOrEqual(before);
  expect((await s.probe.processes()).find((p) => p.hostPid === seen[0].hostPid)?.comm).toBe('bash');

  term.write('stty size; echo $NSLAB_TERM $HOME $PWD\r');
  const done = await waitEvent(s, (e) => e.kind === 'cmd' && e.command.startsWith('stty size'), 'stty');
  expect(done.status).toBe(0);
  await waitScreen(() => screen, '1 /root /root');
  expect(screen).toContain('37 133');
  expect(screen).toContain('1 /root /root');
  // still one shell, one ready event
  expect(await bashCount(s)).toBe(1);
  expect(s.commands().filter((e) => e.kind === 'ready')).toHaveLength(1);
  // the pool refills behind it
  await backend.poolReady();
  expect(backend.pooled).toBe(2);
  expect(backend.list()).toContain(s);
  await s.destroy();
});

it('a pooled sandbox asked for something else in terminal 1 drops the hidden shell', async () => {
  await backend.poolReady();
  const s = await backend.create();
  const term = s.spawnPty({ terminal: 1, command: ['/bin/sh', '-c', 'echo custom; sleep 30'] });
  let screen = '';
  term.onData((d) => { screen += d; });
  for (let i = 0; i < 200 && !screen.includes('custom'); i++) await new Promise((r) => setTimeout(r, 10));
  expect(screen).toContain('custom');
  for (let i = 0; i < 100 && (await bashCount(s)) > 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(await bashCount(s)).toBe(0);
  expect(s.commands()).toEqual([]);
  // terminal 2 is an ordinary cold shell
  const t2 = s.spawnPty({ terminal: 2 });
  await waitEvent(s, (e) => e.kind === 'ready' && e.terminal === 2, 'terminal 2 ready');
  t2.kill('SIGKILL');
  await s.destroy();
});

it.each([
  ['asks for terminal 1 at once, while the shell is still starting', 0],
  ['asks for terminal 1 after the shell is at its prompt', 1500],
])('a cold sandbox created with startTerminal %s: one shell, one ready event, the prompt', async (_what, delay) => {
  const s = await backend.create({ hostname: 'prestarted', startTerminal: true });
  if (delay) {
    await new Promise((r) => setTimeout(r, delay));
    expect(s.commands()).toEqual([]); // held back until someone takes terminal 1
    expect(await bashCount(s)).toBe(1);
  }
  const term = s.spawnPty({ terminal: 1, cols: 100, rows: 30 });
  let screen = '';
  term.onData((d) => { screen += d; });
  await waitEvent(s, (e) => e.kind === 'ready' && e.terminal === 1, 'ready');
  term.write('hostname; stty size\r');
  await waitEvent(s, (e) => e.kind === 'cmd' && e.command.startsWith('hostname'), 'hostname');
  await waitScreen(() => screen, '30 100');
  expect(screen).toContain('prestarted');
  expect(screen).toContain('30 100');
  expect(s.commands().filter((e) => e.kind === 'ready')).toHaveLength(1);
  expect(await bashCount(s)).toBe(1);
  await s.destroy();
});

it('sandboxes with their own limits or hostname never come from the pool', async () => {
  await backend.poolReady();
  const same = await backend.create({ limits: { ...backend.cfg.limits } });
  expect(await bashCount(same)).toBe(1); // default limits spelled out: pooled
  const own = await backend.create({ limits: { pids: 100 } });
  expect(own.limits.pids).toBe(100);
  expect(await bashCount(own)).toBe(0);
  const named = await backend.create({ hostname: 'elsewhere' });
  expect(await bashCount(named)).toBe(0);
  await Promise.all([same.destroy(), own.destroy(), named.destroy()]);
});

it('the grader runs a transcript on a pooled sandbox as on a cold one', async () => {
  await backend.poolReady();
  const s = await backend.create({ label: 'pool grader' });
  const runner = new TranscriptRunner(s, { quietMs: 500 });
  const { transcript } = parseTranscript('hostname pooled\necho $(hostname) > /tmp/out\n', 'inline');
  try {
    await runner.run(transcript);
    expect((await s.exec(['cat', '/tmp/out'])).stdout).toBe('pooled\n');
    expect(s.commands().filter((e) => e.kind === 'ready' && e.terminal === 1)).toHaveLength(1);
  } finally {
    runner.close();
    await s.destroy();
  }
});

it('turning the pool off destroys the kept sandboxes and leaves nothing', async () => {
  await backend.poolReady();
  const kept = backend.pooledSandboxes().map((s) => s.id);
  expect(kept).toHaveLength(2);
  backend.setPoolSize(0);
  expect(backend.pooled).toBe(0);
  await backend.destroyAll();
  for (const id of kept) {
    expect(backend.get(id)).toBeUndefined();
    expect(backend.leftoverCgroups(id)).toEqual([]);
  }
  expect(backend.list()).toEqual([]);
});
