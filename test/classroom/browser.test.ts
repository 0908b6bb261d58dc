/**
 * A workshop in a real browser: the instructor creates a workshop from the instructor
 * link, two learners join in two browser contexts, one completes a step in their
 * terminal, and the instructor's board shows it live (and can watch, read-only).
 * Real server, real sandboxes, real SQLite, Debian's Chromium.
 */
import path from 'node:path';
import { type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { SECRET, startClassroomServer } from './helpers.ts';
import { classroomInChromium, terminalRows } from '../browser.ts';

/** generous: sandboxes and checks on a loaded 2-core box are slow; this is not a timing test */
const WAIT = 60_000;

const env = classroomInChromium('nslab-e2e-classroom-');

async function waitForPrompt(page: Page): Promise<void> {
  const deadline = Date.now() + WAIT;
  let rows: string[] = [];
  while (Date.now() < deadline) {
    rows = await terminalRows(page, 1);
    if (rows.some((r) => /[#$] ?$/.test(r))) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`no prompt in terminal 1:\n${rows.join('\n')}`);
}

async function learnerJoins(code: string, name: string, base = env.srv.base, wait = true): Promise<Page> {
  const ctx = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/#/join/${code}`);
  await page.fill('#join-name', name);
  await page.click('form.cr-join button[type=submit]');
  await page.waitForSelector('.cr-lesson[data-lesson="sample-hostname"] a', { timeout: WAIT });
  if (process.env.NSLAB_E2E_SHOTS) await page.screenshot({ path: path.join(process.env.NSLAB_E2E_SHOTS, `workshop-${name}.png`) });
  await page.click('.cr-lesson[data-lesson="sample-hostname"] a');
  if (!wait) return page;
  await page.waitForSelector('.conn-open', { timeout: WAIT });
  await waitForPrompt(page);
  expect(errors).toEqual([]);
  return page;
}

describe('classroom in Chromium', () => {
  it('instructor creates a workshop, two learners join, one passes a step, the board shows it', async () => {
    const ins = await (await env.browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    const insErrors: string[] = [];
    ins.on('pageerror', (e) => insErrors.push(e.message));
    await ins.goto(`${env.srv.base}/#/instructor/${SECRET}`);
    // the secret leaves the address bar at once
    await ins.waitForSelector('form.cr-create');
    expect(ins.url()).not.toContain(SECRET);
    await ins.fill('#ws-title', 'Namespaces morning');
    await ins.check('#pick-sample-hostname');
    if (process.env.NSLAB_E2E_SHOTS) await ins.screenshot({ path: path.join(process.env.NSLAB_E2E_SHOTS, 'instructor.png') });
    await ins.click('form.cr-create button[type=submit]');
    const codeEl = await ins.waitForSelector('.cr-big-code', { timeout: WAIT });
    const code = (await codeEl.textContent())!.trim();
    expect(code).toMatch(/^[2-9A-HJ-NP-Z]{6}$/);

    const ada = await learnerJoins(code, 'Ada');
    const bob = await learnerJoins(code, 'Bob');
    await ins.waitForSelector('tr[data-learner-row="Ada"]', { timeout: WAIT });
    await ins.waitForSelector('tr[data-learner-row="Bob"]', { timeout: WAIT });

    // an impostor "Аda" (Cyrillic А) from a Korean browser: refused, told why in Korean, not on the board
    const impostorCtx = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'ko-KR' });
    const impostor = await impostorCtx.newPage();
    await impostor.goto(`${env.srv.base}/#/join/${code}`);
    await impostor.fill('#join-name', '\u0410da');
    await impostor.click('form.cr-join button[type=submit]');
    await impostor.waitForFunction(() => /똑같아 보이는 이름/.test(document.querySelector('form.cr-join')?.textContent ?? ''), null, { timeout: WAIT });
    expect(impostor.url()).toContain('/join/');
    await impostorCtx.close();
    expect(await ins.locator('tr[data-learner-row]').count()).toBe(2);

    // Ada does the first step in her terminal
    await ada.locator('.term-panel[data-terminal="1"] .xterm-helper-textarea').focus();
    await ada.keyboard.type('readlink /proc/$$/ns/uts');
    await ada.keyboard.press('Enter');

    await ins.waitForSelector('tr[data-learner-row="Ada"] td[data-step="sample-hostname/look"][data-status="pass"]', { timeout: WAIT });
    expect(await ins.getAttribute('tr[data-learner-row="Bob"] td[data-step="sample-hostname/look"]', 'data-status')).not.toBe('pass');
    expect((await ins.textContent('td[data-count="sample-hostname/look"]'))?.trim()).toBe('1');

    // watching Ada shows her terminal, read-only
    await ins.click('button.cr-name[data-learner]:has-text("Ada")');
    await ins.waitForFunction(() => [...document.querySelectorAll('.cr-watch .xterm-rows > div')].some((d) => (d.textContent ?? '').includes('readlink')), null, { timeout: WAIT });
    if (process.env.NSLAB_E2E_SHOTS) await ins.screenshot({ path: path.join(process.env.NSLAB_E2E_SHOTS, 'board.png') });
    // keys pressed in the watch view reach nobody
    await ins.click('.cr-watch .cr-watch-screen');
    await ins.keyboard.type('touch /tmp/typed-on-board');
    await ins.keyboard.press('Enter');
    await ada.locator('.term-panel[data-terminal="1"] .xterm-helper-textarea').focus();
    await ada.keyboard.type('ls /tmp/typed-on-board; echo checked-$((40+2))');
    await ada.keyboard.press('Enter');
    const deadline = Date.now() + WAIT;
    let rows: string[] = [];
    while (Date.now() < deadline && !(rows = await terminalRows(ada, 1)).some((r) => r.includes('checked-42'))) await ada.waitForTimeout(100);
    expect(rows.join('\n')).toMatch(/No such file or directory/);
    if (process.env.NSLAB_E2E_SHOTS) {
      await ada.screenshot({ path: path.join(process.env.NSLAB_E2E_SHOTS, 'learner.png') });
      await ins.screenshot({ path: path.join(process.env.NSLAB_E2E_SHOTS, 'board-watch.png') });
    }
    // an attached `nslab grade` report shows under the grid
    const report = { lesson: 'sample-hostname', steps: [], passed: 2, total: 3 };
    const posted = await fetch(`${env.srv.base}/api/classroom/workshops/${code}/grading-runs`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ report, learner: 'Bob', source: 'bob.txt' }) });
    expect(posted.status).toBe(201);
    await ins.reload();
    await ins.waitForSelector('.cr-runs-table td:has-text("bob.txt")', { timeout: WAIT });
    expect(await ins.textContent('.cr-runs-table tbody tr')).toMatch(/Bob.*sample-hostname.*bob\.txt.*2\/3/);
    expect(insErrors).toEqual([]);
    await bob.close();
    await ada.close();
  });

  it('beyond capacity a learner sees their place in line and gets in when a seat frees', async () => {
    const small = await startClassroomServer({ classroom: { capacity: 1 }, app: { webRoot: env.webRoot } });
    try {
      const w = await (await fetch(`${small.base}/api/classroom/workshops`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Small room', lessons: ['sample-hostname'] }) })).json() as { code: string };
      const first = await learnerJoins(w.code, 'First', small.base);
      const second = await learnerJoins(w.code, 'Second', small.base, false);
      await second.waitForSelector('.cr-strip-msg.is-warn', { timeout: WAIT });
      expect(await second.textContent('.cr-strip-msg')).toMatch(/number 1 in line/);
      // the first learner goes back to the workshop and frees their machine
      await first.click('.cr-strip a');
      await first.click('button[data-leave]', { timeout: WAIT });
      await second.waitForSelector('.conn-open', { timeout: WAIT });
      await waitForPrompt(second);
      expect(await second.$('.cr-strip-msg.is-warn')).toBeNull();
      // "all lessons" inside a workshop leads back to the workshop, not the public list
      await second.click('.back-link');
      await second.waitForSelector('.cr-lessons', { timeout: WAIT });
      expect(new URL(second.url()).hash).toBe('#/workshop');
      await first.close();
      await second.close();
    } finally {
      await small.close();
    }
  });

  it('after a server restart the learner gets a fresh machine, a notice, and their progress', async () => {
    let one = await startClassroomServer({ app: { webRoot: env.webRoot } });
    const port = Number(new URL(one.base).port);
    try {
      const w = await (await fetch(`${one.base}/api/classroom/workshops`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Restart', lessons: ['sample-hostname'] }) })).json() as { code: string };
      const page = await learnerJoins(w.code, 'Lin', one.base);
      await page.locator('.term-panel[data-terminal="1"] .xterm-helper-textarea').focus();
      await page.keyboard.type('readlink /proc/$$/ns/uts');
      await page.keyboard.press('Enter');
      const passedOnBoard = async (base: string) => (await (await fetch(`${base}/api/classroom/workshops/${w.code}`, { headers: { authorization: `Bearer ${SECRET}` } })).json()).counts[0] === 1;
      for (let i = 0; i < 400 && !(await passedOnBoard(one.base)); i++) await page.waitForTimeout(50);
      expect(await passedOnBoard(one.base)).toBe(true);

      await one.close();
      one = await startClassroomServer({ app: { webRoot: env.webRoot }, dataDir: one.dataDir, port });
      // the page notices its session is gone and offers a new one
      await page.waitForSelector('.banner-actions button', { timeout: WAIT });
      await page.click('.banner-actions button');
      await page.waitForSelector('.cr-strip-msg.is-info', { timeout: WAIT });
      expect(await page.textContent('.cr-strip-msg')).toMatch(/restarted.*1 steps? passed/);
      await page.waitForSelector('.conn-open', { timeout: WAIT });
      // the first step is green again in the step list of the fresh session
      await page.waitForFunction(() => /1 of 3/.test(document.body.textContent ?? ''), null, { timeout: WAIT });
      await page.close();
    } finally {
      await one.close();
    }
  });
});
