/**
 * The shared probes of the checks API (lab.init, newNamespaces, shells, commandsRun)
 * on a real sandbox, and check messages as data: a check returns msg(key, params),
 * the engine turns it into text in the session's language and in every other one.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineChecks, fail, msg, pending } from '../../lab-server/checks/api.ts';
import { CheckEngine } from '../../lab-server/checks/engine.ts';
import { createLab } from '../../lab-server/checks/lab.ts';
import { loadMessages, renderAll, renderMessage } from '../../lab-server/checks/messages.ts';
import { terminal, testBackend } from '../sandbox/helpers.ts';

describe('shared probes', () => {
  it('find PID 1, the new namespaces of a kind, the shells and the commands run', async () => {
    const sandbox = await (await testBackend()).create({ label: 'check-api probes' });
    try {
      const sh = terminal(sandbox);
      await sh.ready();
      let lab = createLab(sandbox, { lang: 'en' });
      const root = await lab.rootNamespaces();
      const init = await lab.init();
      expect(init.pid).toBe(1);
      expect(init.ns.ipc).toBe(root.ipc);
      expect((await lab.newNamespaces('ipc')).size).toBe(0);
      expect((await lab.shells()).map((p) => p.comm)).toContain('bash');

      await sh.run('unshare --ipc sleep 1000 & unshare --ipc sleep 1001 & true');
      // the background `unshare`s may not have run yet when the shell reports back
      for (let i = 0; i < 200 && (await lab.newNamespaces('ipc')).size < 2; i++) {
        await new Promise((r) => setTimeout(r, 25));
        lab = createLab(sandbox, { lang: 'en' });
      }
      const ipc = await lab.newNamespaces('ipc');
      expect(ipc.size).toBe(2);
      for (const [ino, p] of ipc) {
        expect(p.ns.ipc).toBe(ino);
        expect(ino).not.toBe(root.ipc);
        expect(p.comm).toBe('sleep');
      }
      // nothing else was unshared
      expect((await lab.newNamespaces('uts')).size).toBe(0);
      // a check may change the map it got without changing the next check's
      (await lab.newNamespaces('ipc')).clear();
      expect((await lab.newNamespaces('ipc')).size).toBe(2);
      expect((await lab.shells()).every((p) => p.comm !== 'sleep')).toBe(true);

      const run = lab.commandsRun();
      expect(run.every((e) => e.kind === 'cmd')).toBe(true);
      expect(run.map((e) => e.command)).toContain('unshare --ipc sleep 1000 & unshare --ipc sleep 1001 & true');
      expect(sandbox.commands().some((e) => e.kind !== 'cmd')).toBe(true);
    } finally {
      await sandbox.destroy();
    }
  });
});

describe('check messages as data', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'nslab-msgs-'));
    await writeFile(path.join(dir, 'messages.en.json'), JSON.stringify({ 'queue.missing': 'Still missing: {kinds} (PID {pid}).', 'kind.shm': 'a segment', 'kind.sem': 'a semaphore set' }));
    await writeFile(path.join(dir, 'messages.ko.json'), JSON.stringify({ 'queue.missing': '아직 없습니다: {kinds} (PID {pid}).', 'kind.shm': '세그먼트', 'kind.sem': '세마포어 집합' }));
    // no zh file: Chinese viewers get the English text, not a key
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('fills parameters, nested messages and lists the way each language joins them', async () => {
    const catalog = await loadMessages(dir);
    const m = msg('queue.missing', { kinds: [msg('kind.shm'), msg('kind.sem')], pid: 42 });
    expect(renderMessage(catalog, 'ko', m)).toBe('아직 없습니다: 세그먼트, 세마포어 집합 (PID 42).');
    expect(renderAll(catalog, m)).toEqual({
      en: 'Still missing: a segment and a semaphore set (PID 42).',
      ko: '아직 없습니다: 세그먼트, 세마포어 집합 (PID 42).',
      zh: 'Still missing: a segment and a semaphore set (PID 42).',
    });
    // a key no file has shows itself (nslab lint reports it before a learner could see it)
    expect(renderMessage(catalog, 'en', msg('no.such.key'))).toBe('no.such.key');
    // inline text keeps working for prototypes and tests
    expect(renderMessage(catalog, 'ko', { en: 'x', ko: 'ㅋ' })).toBe('ㅋ');
    expect(renderAll(catalog, 'plain')).toBeUndefined();
  });

  it('the engine reports a message in the session language and in every other one', async () => {
    const sandbox = await (await testBackend()).create({ label: 'check-api messages' });
    try {
      const checks = defineChecks({
        a: async () => fail(msg('queue.missing', { kinds: [msg('kind.shm')], pid: 7 })),
        b: async () => pending('untranslated'),
        c: async () => { throw new Error('kaboom'); },
      });
      const engine = new CheckEngine({ sandbox, checks, steps: ['a', 'b', 'c'], lang: 'ko', messages: await loadMessages(dir), pollMs: 0, log: () => {} });
      await engine.evaluate();
      await engine.evaluate();
      await engine.idle();
      const [a, b, c] = engine.statuses();
      expect(a).toMatchObject({ status: 'fail', message: '아직 없습니다: 세그먼트 (PID 7).' });
      expect(a.messages).toEqual({ en: 'Still missing: a segment (PID 7).', ko: '아직 없습니다: 세그먼트 (PID 7).', zh: 'Still missing: a segment (PID 7).' });
      expect(b).toMatchObject({ status: 'pending', message: 'untranslated' });
      expect(b.messages).toBeUndefined();
      // the engine's own "could not run" is data too, in every language
      expect(c).toMatchObject({ status: 'fail', error: true, message: expect.stringContaining('이 단계의 검사를 실행하지 못했습니다(kaboom)') });
      expect(c.messages?.zh).toContain('这一步的检查无法运行（kaboom）');
      expect(c.messages?.en).toContain('This step\'s check could not run (kaboom)');
    } finally {
      await sandbox.destroy();
    }
  });
});
