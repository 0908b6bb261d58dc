/**
 * The classroom as an instructor and a learner meet it, in Chromium: the instructor
 * stays signed in across tabs and signs out; the board shows the join link and a QR
 * code, large for projecting; closing asks in the app's own dialog; the learner's
 * "start again" after the close says what happened and leads somewhere; the
 * classroom pages follow the language switch (titles, minutes, times, plurals); a
 * workshop learner at the site root is offered their workshop.
 * Real server, sandboxes, SQLite.
 */
import path from 'node:path';
import { type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { SECRET } from './helpers.ts';
import { classroomInChromium } from '../browser.ts';

const WAIT = 60_000;
const env = classroomInChromium('nslab-e2e-classroom-ux-');

function noNativeDialogs(page: Page): string[] {
  const seen: string[] = [];
  page.on('dialog', (d) => { seen.push(`${d.type()}: ${d.message()}`); void d.dismiss(); });
  page.on('pageerror', (e) => seen.push(`pageerror: ${e.message}`));
  return seen;
}

describe('classroom experience in Chromium', () => {
  it('the instructor stays signed in across tabs, projects the join link, and signs out', async () => {
    const ctx = await env.browser.newContext({ viewport: { width: 1440, height: 900 } });
    const ins = await ctx.newPage();
    const problems = noNativeDialogs(ins);
    await ins.goto(`${env.srv.base}/#/instructor/${SECRET}`);
    await ins.waitForSelector('form.cr-create', { timeout: WAIT });
    expect(ins.url()).not.toContain(SECRET);
    // the secret is kept nowhere a script can read it
    expect(await ins.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }) + document.cookie)).not.toContain(SECRET);
    expect(await ins.evaluate(() => document.cookie)).not.toContain('nslab_instructor');

    await ins.fill('#ws-title', 'Projected');
    await ins.check('#pick-sample-hostname');
    await ins.click('form.cr-create button[type=submit]');
    const code = (await (await ins.waitForSelector('.cr-big-code', { timeout: WAIT })).textContent())!.trim();
    const joinUrl = `${env.srv.base}/#/join/${code}`;
    expect(await ins.textContent('.cr-join-url')).toBe(joinUrl);
    await ins.waitForSelector('.cr-join-box .cr-qr svg', { timeout: WAIT });
    expect(await ins.getAttribute('.cr-join-box .cr-qr', 'aria-label')).toContain(joinUrl);
    // a QR code is a square grid of dark modules on white: the library drew one, as SVG
    const qr = await ins.$eval('.cr-join-box .cr-qr svg', (svg) => ({ viewBox: svg.getAttribute('viewBox'), paths: svg.querySelectorAll('path').length }));
    expect(qr.viewBox).toMatch(/^0 0 (\d+) \1$/);
    expect(qr.paths).toBeGreaterThan(0);

    const shot = (p: Page, name: string) => (process.env.NSLAB_E2E_SHOTS ? p.screenshot({ path: path.join(process.env.NSLAB_E2E_SHOTS, name) }) : null);
    await shot(ins, 'board-join-qr.png');
    // the Close button is readable in the dark theme too (WCAG AA: 4.5:1 for its 14 px text)
    await ins.emulateMedia({ colorScheme: 'dark' });
    await ins.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
    const ratio = await ins.$eval('.cr-board-actions .button-danger', (el) => {
      const rgb = (c: string) => c.match(/\d+(\.\d+)?/g)!.slice(0, 3).map(Number);
      const lum = (c: number[]) => {
        const [r, g, b] = c.map((v) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const st = getComputedStyle(el);
      const [a, b] = [lum(rgb(st.color)), lum(rgb(st.backgroundColor))];
      return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    });
    expect(ratio).toBeGreaterThanOrEqual(4.5);
    await ins.emulateMedia({ colorScheme: 'light' });

    // large for projecting
    await ins.click('button[data-project]');
    const dialog = ins.locator('dialog.cr-project');
    await dialog.waitFor({ timeout: WAIT });
    expect(await dialog.locator('.cr-project-code').textContent()).toBe(code);
    expect(await dialog.locator('.cr-project-url').textContent()).toBe(joinUrl);
    await dialog.locator('.cr-qr svg').waitFor({ timeout: WAIT });
    await shot(ins, 'board-projected.png');
    const size = await dialog.locator('.cr-qr').boundingBox();
    expect(size!.width).toBeGreaterThan(400);
    await ins.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached', timeout: WAIT });

    // a second tab of the same browser opens the board without the link
    const tab2 = await ctx.newPage();
    await tab2.goto(`${env.srv.base}/#/instructor/w/${code}`);
    await tab2.waitForSelector('.cr-big-code', { timeout: WAIT });
    await tab2.goto(`${env.srv.base}/#/instructor`);
    await tab2.waitForSelector(`.cr-ws-link:has-text("${code}")`, { timeout: WAIT });

    // the browser closed and opened again: still signed in (the cookie persists)
    const again = await env.browser.newContext({ storageState: { cookies: (await ctx.storageState()).cookies, origins: [] } });
    const reopened = await again.newPage();
    await reopened.goto(`${env.srv.base}/#/instructor`);
    await reopened.waitForSelector(`.cr-ws-link:has-text("${code}")`, { timeout: WAIT });

    // sign out: this browser (every tab, and after a reopen) needs the link again
    await tab2.click('button[data-sign-out]');
    await tab2.waitForFunction(() => /instructor link/.test(document.body.textContent ?? ''), null, { timeout: WAIT });
    for (const p of [ins, reopened]) {
      await p.reload();
      await p.waitForFunction(() => /instructor link/.test(document.querySelector('main')?.textContent ?? ''), null, { timeout: WAIT });
    }

    // two other browsers sign in; one signs out everywhere, after the app's own confirmation
    const signedIn = async () => {
      const c = await env.browser.newContext();
      const p = await c.newPage();
      await p.goto(`${env.srv.base}/#/instructor/${SECRET}`);
      await p.waitForSelector(`.cr-ws-link:has-text("${code}")`, { timeout: WAIT });
      return { c, p };
    };
    const b = await signedIn();
    const c = await signedIn();
    await b.p.click('button[data-sign-out-all]');
    await b.p.locator('dialog.dialog button.button-danger').click();
    await b.p.waitForFunction(() => /instructor link/.test(document.body.textContent ?? ''), null, { timeout: WAIT });
    await c.p.reload();
    await c.p.waitForFunction(() => /instructor link/.test(document.querySelector('main')?.textContent ?? ''), null, { timeout: WAIT });
    const res = await fetch(`${env.srv.base}/api/classroom/instructor`, { headers: { cookie: (await c.c.cookies()).map((x) => `${x.name}=${x.value}`).join('; ') } });
    expect(res.status).toBe(401);
    await b.c.close();
    await c.c.close();
    expect(problems).toEqual([]);
    await again.close();
    await ctx.close();
  });

  it('closing uses the app dialog; the learner is told plainly and led to their progress; pages follow the language', async () => {
    const ends = Date.now() + 3 * 3600_000;
    const w = await (await fetch(`${env.srv.base}/api/classroom/workshops`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Closing time', lessons: ['sample-hostname'], endsAt: ends }) })).json() as { code: string };

    // the learner joins from a Korean-speaking colleague's link, in an English browser
    const lctx = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const learner = await lctx.newPage();
    const learnerProblems = noNativeDialogs(learner);
    await learner.goto(`${env.srv.base}/#/join/${w.code}`);
    await learner.waitForSelector('form.cr-join');
    await learner.fill('#join-name', '민지');
    await learner.selectOption('#lang-select', 'ko');
    // the join page follows the switch and keeps what was typed
    await learner.waitForFunction(() => document.querySelector('form.cr-join button[type=submit]')?.textContent === '참가', null, { timeout: WAIT });
    expect(await learner.inputValue('#join-name')).toBe('민지');
    expect(await learner.inputValue('#join-code')).toBe(w.code);
    await learner.click('form.cr-join button[type=submit]');
    const lessonRow = learner.locator('.cr-lesson[data-lesson="sample-hostname"]');
    await lessonRow.waitFor({ timeout: WAIT });
    // the lesson title in Korean, and the end time in the Korean way of writing times
    await learner.waitForFunction(() => /나만의 호스트 이름/.test(document.querySelector('.cr-lesson')?.textContent ?? ''), null, { timeout: WAIT });
    expect(await learner.textContent('.cr-ws-head')).toMatch(/종료 시각 \d{4}\. \d{1,2}\. \d{1,2}\. (오전|오후)/);
    // back to English: "1 step", not "1 steps"
    await learner.selectOption('#lang-select', 'en');
    await learner.waitForFunction(() => /A hostname of your own/.test(document.querySelector('.cr-lesson')?.textContent ?? ''), null, { timeout: WAIT });
    expect(await lessonRow.textContent()).toMatch(/0 of 3 steps/);

    // the site root offers the workshop to someone who joined one
    await learner.goto(`${env.srv.base}/#/`);
    await learner.waitForSelector('.workshop-offer a', { timeout: WAIT });
    expect(await learner.textContent('.workshop-offer')).toContain('Closing time');
    await learner.click('.workshop-offer a');
    await learner.waitForSelector('.cr-lesson[data-lesson="sample-hostname"] a', { timeout: WAIT });
    await learner.click('.cr-lesson[data-lesson="sample-hostname"] a');
    await learner.waitForSelector('.conn-open', { timeout: WAIT });

    // the instructor, in Chinese, on the board
    const ictx = await env.browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    const ins = await ictx.newPage();
    const insProblems = noNativeDialogs(ins);
    await ins.goto(`${env.srv.base}/#/instructor/${SECRET}`);
    await ins.waitForSelector('form.cr-create', { timeout: WAIT });
    await ins.selectOption('#lang-select', 'zh');
    // the instructor page is rebuilt in Chinese, minutes included
    await ins.waitForFunction(() => /创建工作坊/.test(document.querySelector('form.cr-create')?.textContent ?? ''), null, { timeout: WAIT });
    await ins.waitForFunction(() => /5 分钟/.test(document.querySelector('.cr-lesson-picks')?.textContent ?? ''), null, { timeout: WAIT });
    expect(await ins.textContent('.cr-lesson-picks')).not.toMatch(/\bmin\b/);
    await ins.goto(`${env.srv.base}/#/instructor/w/${w.code}`);
    await ins.waitForSelector('tr[data-learner-row="민지"]', { timeout: WAIT });
    await ins.waitForFunction(() => /属于你的主机名/.test(document.querySelector('.cr-grid')?.textContent ?? ''), null, { timeout: WAIT });
    expect(await ins.getAttribute('th.cr-step-th >> nth=0', 'title')).toBe('sample-hostname / look: 查看你的 UTS 命名空间');
    expect(await ins.textContent('.cr-board-title')).toMatch(/1 名学员/);
    await ins.selectOption('#lang-select', 'en');
    await ins.waitForFunction(() => /1 learner\b/.test(document.querySelector('.cr-board-title')?.textContent ?? ''), null, { timeout: WAIT });

    // close: the app's dialog (no native confirm), then the learner's page
    await ins.click('.cr-board-actions .button-danger');
    const confirm = ins.locator('dialog.dialog');
    await confirm.waitFor({ timeout: WAIT });
    expect(await confirm.textContent()).toMatch(/Close this workshop\?/);
    await confirm.locator('button.button-danger').click();
    await ins.waitForFunction(() => /This workshop is closed/.test(document.body.textContent ?? ''), null, { timeout: WAIT });

    // the learner's machine is gone; starting again explains the close instead of failing
    const banner = learner.locator('.banner-slot .banner');
    await banner.locator('button.button-primary').waitFor({ timeout: WAIT });
    await banner.locator('button.button-primary').click();
    await learner.waitForFunction(() => /Your instructor closed this workshop/.test(document.querySelector('.banner-slot')?.textContent ?? ''), null, { timeout: WAIT });
    const text = await learner.textContent('.banner-slot');
    expect(text).not.toMatch(/Could not start|Try again|Retry/);
    expect(text).toMatch(/progress is saved/);
    await learner.locator('.banner-slot button.button-primary').click();
    await learner.waitForSelector('.cr-ws-head', { timeout: WAIT });
    expect(await learner.textContent('main')).toMatch(/This workshop is closed/);
    // someone arriving late with the join link is told the workshop is over, and where to go instead
    const late = await (await env.browser.newContext()).newPage();
    await late.goto(`${env.srv.base}/#/join/${w.code}`);
    await late.fill('#join-name', 'Late');
    await late.click('form.cr-join button[type=submit]');
    await late.waitForFunction(() => /workshop is over/.test(document.querySelector('.cr-error')?.textContent ?? ''), null, { timeout: WAIT });
    expect(await late.getAttribute('.cr-error a', 'href')).toBe('#/');
    await late.context().close();
    expect(learnerProblems).toEqual([]);
    expect(insProblems).toEqual([]);
    await lctx.close();
    await ictx.close();
  });
});
