/**
 * The lessons plug-in: its routes on a real express server, and live checks on a
 * real sandbox pushing step statuses as the learner types.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLessonsPlugin } from '../../lab-server/checks/plugin.ts';
import type { StepStatus } from '../../lab-server/contract/steps.ts';
import { createSandboxBackend, type LocalBackend } from '../../lab-server/sandbox/index.ts';
import type { CommandEvent } from '../../lab-server/sandbox/types.ts';

const plugin = createLessonsPlugin({ log: () => {} });
let base = '';
let server: ReturnType<ReturnType<typeof express>['listen']>;
let backend: LocalBackend;

beforeAll(async () => {
  const app = express();
  app.use('/api', plugin.router);
  await new Promise<void>((r) => { server = app.listen(0, '127.0.0.1', () => r()); });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  backend = createSandboxBackend();
  await backend.checkHost();
  await backend.images.ensureBuilt('default', (l) => console.log(l));
});
afterAll(async () => {
  server?.close();
  await backend?.destroyAll();
});

const get = async (path: string) => {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: await res.json() as any };
};

describe('lesson routes', () => {
  it('lists lessons and serves one in the asked language, falling back to English', async () => {
    const list = await get('/lessons?lang=ko');
    expect(list.status).toBe(200);
    expect(list.body).toContainEqual({ id: 'sample-hostname', title: '나만의 호스트 이름', summary: expect.any(String), order: 900, minutes: 5, requires: [] });
    const zh = await get('/lessons/sample-hostname?lang=zh');
    expect(zh.body).toMatchObject({ id: 'sample-hostname', lang: 'zh', terminals: 2, steps: [{ id: 'look' }, { id: 'new-uts' }, { id: 'check-outside' }] });
    expect(zh.body.fallback).toBeUndefined();
    expect(zh.body.html).toContain('class="nslab-run" data-terminal="2"');
    const en = await get('/lessons/sample-hostname');
    expect(en.body.lang).toBe('en');
  });

  it('answers bad input with clear errors', async () => {
    expect(await get('/lessons/no-such-lesson')).toEqual({ status: 404, body: { error: { code: 'unknown-lesson', message: 'unknown lesson "no-such-lesson"' } } });
    expect(await get('/lessons/..%2F..%2Fetc')).toMatchObject({ status: 404 });
    expect(await get('/lessons?lang=fr')).toEqual({ status: 400, body: { error: { code: 'bad-lang', message: 'lang must be en, ko or zh, not "fr"' } } });
  });

  it('resolves lessons for new sessions', async () => {
    expect(await plugin.resolve('sample-hostname', 'en')).toEqual({ id: 'sample-hostname', terminals: 2, image: 'default' });
    expect(await plugin.resolve('nope', 'en')).toBeNull();
  });
});

describe('live checks', () => {
  it('pushes the step list at once and each step as it passes; progress survives a sandbox reset', async () => {
    const pushes: { steps: StepStatus[]; changed: string[] }[] = [];
    let sandbox = await backend.create({ label: 'plugin test' });
    const session = {
      id: 's1', lesson: 'sample-hostname', lang: 'en' as const,
      get sandbox() { return sandbox; },
      terminalText: () => '',
      pushSteps: (e: { lesson: string; steps: StepStatus[]; changed: string[] }) => { pushes.push(e); },
    };
    const detach = await plugin.attach(session);
    expect(pushes[0]).toEqual({ lesson: 'sample-hostname', changed: [], steps: [
      { id: 'look', status: 'pending', message: null, passedAt: null },
      { id: 'new-uts', status: 'pending', message: null, passedAt: null },
      { id: 'check-outside', status: 'pending', message: null, passedAt: null },
    ] });

    const pty = sandbox.spawnPty({ terminal: 1 });
    const next = (pred: (e: CommandEvent) => boolean) => new Promise<CommandEvent>((resolve) => {
      const off = sandbox.onCommand((e) => { if (pred(e)) { off(); resolve(e); } });
    });
    await next((e) => e.kind === 'ready');
    const passedLook = new Promise<number>((resolve) => {
      const t = setInterval(() => {
        if (pushes.some((p) => p.changed.includes('look') && p.steps[0].status === 'pass')) { clearInterval(t); resolve(Date.now()); }
      }, 5);
    });
    const typed = next((e) => e.kind === 'cmd');
    pty.write('readlink /proc/$$/ns/uts\r');
    const event = await typed;
    const at = await passedLook;
    console.log(`step turned green ${at - event.at} ms after the command-log event`);
    expect(pushes.at(-1)!.steps.map((s) => s.status)).toEqual(['pass', 'pending', 'pending']);

    const firstPassedAt = pushes.at(-1)!.steps[0].passedAt;
    // the sandbox is replaced (reset): progress is kept, checks run on the new one
    detach();
    await sandbox.destroy();
    sandbox = await backend.create({ label: 'plugin test 2' });
    pushes.length = 0;
    const detach2 = await plugin.attach(session);
    expect(pushes[0].steps.map((s) => s.status)).toEqual(['pass', 'pending', 'pending']);
    expect(pushes[0].steps[0].passedAt).toBe(firstPassedAt);
    detach2();
    await sandbox.destroy();
  });
});
