/**
 * Self-paced "Continue" in Chromium: progress and the machine follow the learner
 * (their browser's cookie), not the tab. Another tab gets the same machine; a closed
 * and reopened browser and a server restart keep the passed steps; the lesson list
 * says what the server has. Real server, sandboxes, SQLite.
 */
import { type BrowserContext, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startClassroomServer } from './helpers.ts';
import { classroomInChromium, terminalRows } from '../browser.ts';

const WAIT = 60_000;
const env = classroomInChromium('nslab-e2e-self-');

async function waitForRows(page: Page, pred: (rows: string[]) => boolean, what: string): Promise<string[]> {
  const deadline = Date.now() + WAIT;
  let rows: string[] = [];
  while (Date.now() < deadline) {
    rows = await terminalRows(page, 1);
    if (pred(rows)) return rows;
    await page.waitForTimeout(100);
  }
  throw new Error(`${what}; terminal 1:\n${rows.join('\n')}`);
}

async function openLesson(ctx: BrowserContext, base: string): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(`${base}/#/lessons/sample-hostname`);
  await page.waitForSelector('.conn-open', { timeout: WAIT });
  await waitForRows(page, (rows) => rows.some((r) => /[#$] ?$/.test(r)), 'no prompt');
  return page;
}

async function lessonCard(page: Page, base: string): Promise<string> {
  await page.goto(`${base}/#/`);
  const card = page.locator('.lesson-card', { has: page.locator('a[href="#/lessons/sample-hostname"]') });
  await card.waitFor({ timeout: WAIT });
  return (await card.textContent()) ?? '';
}

describe('self-paced progress in Chromium', () => {
  it('Continue continues: another tab, a reopened browser, a server restart', async () => {
    let srv = await startClassroomServer({ app: { webRoot: env.webRoot } });
    const port = Number(new URL(srv.base).port);
    try {
      const ctx = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
      const tab1 = await openLesson(ctx, srv.base);
      await tab1.locator('.term-panel[data-terminal="1"] .xterm-helper-textarea').focus();
      await tab1.keyboard.type('echo marker-$((6*7)) > /tmp/mine; readlink /proc/$$/ns/uts');
      await tab1.keyboard.press('Enter');
      await tab1.waitForFunction(() => /1 of 3/.test(document.body.textContent ?? ''), null, { timeout: WAIT });

      // a second tab of the same browser: the same machine (the file is there), not a new one
      const tab2 = await openLesson(ctx, srv.base);
      await tab2.locator('.term-panel[data-terminal="1"] .xterm-helper-textarea').focus();
      await tab2.keyboard.type('cat /tmp/mine');
      await tab2.keyboard.press('Enter');
      await waitForRows(tab2, (rows) => rows.some((r) => r.trim() === 'marker-42'), 'the second tab is not on the same machine');
      await tab1.close();

      // the list says what the server keeps
      expect(await lessonCard(tab2, srv.base)).toMatch(/1 of 3 steps done[\s\S]*Continue/);
      const saved = await ctx.storageState();
      await ctx.close();

      // the browser is closed and opened again (its cookies persist; sessionStorage does not)
      const reopened = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, storageState: { cookies: saved.cookies, origins: [] } });
      const home = await reopened.newPage();
      expect(await lessonCard(home, srv.base)).toMatch(/1 of 3 steps done[\s\S]*Continue/);
      await home.close();

      // a server restart: the machine is gone, the passed step is not
      await srv.close();
      srv = await startClassroomServer({ app: { webRoot: env.webRoot }, dataDir: srv.dataDir, port });
      const page = await reopened.newPage();
      expect(await lessonCard(page, srv.base)).toMatch(/1 of 3 steps done[\s\S]*Continue/);
      await page.click('a[href="#/lessons/sample-hostname"]');
      await page.waitForSelector('.conn-open', { timeout: WAIT });
      await page.waitForFunction(() => /1 of 3/.test(document.querySelector('.lesson-layout')?.textContent ?? ''), null, { timeout: WAIT });
      await page.waitForFunction(() => /fresh machine/.test(document.querySelector('.notice')?.textContent ?? ''), null, { timeout: WAIT });
      const rows = await waitForRows(page, (r) => r.some((x) => /[#$] ?$/.test(x)), 'no prompt after the restart');
      expect(rows.join('\n')).not.toContain('marker-42');
      await reopened.close();

      // a different browser has nothing of this
      const other = await env.browser.newContext();
      const otherPage = await other.newPage();
      const text = await lessonCard(otherPage, srv.base);
      expect(text).not.toMatch(/steps done/);
      expect(text).toMatch(/Start/);
      await other.close();
    } finally {
      await srv.close();
    }
  });
  it('the home page is a learning path: its total time, and on each card the lessons to take first', async () => {
    const srv = await startClassroomServer({ app: { webRoot: env.webRoot } });
    try {
      const lessons = await (await fetch(`${srv.base}/api/lessons?lang=en`)).json() as { id: string; title: string; minutes: number; requires: string[] }[];
      const total = lessons.reduce((n, l) => n + l.minutes, 0);
      const needing = lessons.filter((l) => l.requires.length);
      expect(needing.length).toBeGreaterThan(0);
      const ctx = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      await page.goto(`${srv.base}/#/`);
      await page.locator('.lesson-card').first().waitFor({ timeout: WAIT });
      expect(await page.locator('.hero-intro').textContent()).toContain(`A path of ${lessons.length} lessons, about ${Math.floor(total / 60)} h ${total % 60} min in all.`);
      for (const l of lessons) {
        const card = page.locator('.lesson-card', { has: page.locator(`a[href="#/lessons/${l.id}"]`) });
        const requires = card.locator('.lesson-card-requires');
        if (!l.requires.length) {
          expect(await requires.count(), l.id).toBe(0);
          continue;
        }
        const titles = l.requires.map((id) => lessons.find((o) => o.id === id)!.title);
        expect(await requires.textContent(), l.id).toBe(`After: ${titles.join(', ')}`);
      }
      await ctx.close();
    } finally {
      await srv.close();
    }
  }, 120_000);
});
