/**
 * The language belongs to the viewer, not the session: a lesson started in Korean and
 * switched to Chinese, then English, shows its check messages in the new language,
 * both the results that came before the switch and those that come after it.
 */
import { type Browser, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { terminalRows } from '../browser.ts';
import { labInBrowser } from './lab-in-browser.ts';

const LESSON = 'sample-hostname';
/** generous: a sandbox start or a check on a loaded 2-core box is slow, and this is not a timing test */
const WAIT = 60_000;

const lab = labInBrowser('nslab-e2e-lang-');

async function waitForPrompt(page: Page): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    if ((await terminalRows(page, 1)).some((r) => /[#$] ?$/.test(r))) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`terminal 1 never showed a prompt:\n${(await terminalRows(page, 1)).join('\n')}`);
}

const messageOf = (page: Page, step: string) => page.locator(`section.nslab-step[data-step="${step}"] .step-status-message`).textContent({ timeout: WAIT });

describe('switching the language in Chromium', () => {
  it('re-renders check messages that came before and after the switch in the new language', async () => {
    const ctx = await lab.browser.newContext({ viewport: { width: 1280, height: 800 } });
    // the learner chose Korean before starting the lesson: the session is created in Korean
    await ctx.addInitScript(() => { if (!sessionStorage.getItem('lang-set')) { localStorage.setItem('nslab.lang', 'ko'); sessionStorage.setItem('lang-set', '1'); } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${lab.srv.base}/#/lessons/${LESSON}`);
      await page.waitForSelector('.conn-open', { timeout: WAIT });
      await waitForPrompt(page);
      // a result from before the switch, in Korean
      await expect.poll(() => messageOf(page, 'look'), { timeout: WAIT }).toContain('셸이 속한 UTS 네임스페이스를 확인하세요');

      await page.selectOption('#lang-select', 'zh');
      await expect.poll(() => messageOf(page, 'look'), { timeout: WAIT }).toContain('查看 shell 所在的 UTS 命名空间');
      expect(await messageOf(page, 'new-uts')).toContain('还没有进程处于新的 UTS 命名空间中');

      // a result after the switch: renaming the whole machine fails `new-uts`, said in Chinese
      await page.click('.term-tab[data-terminal="1"]');
      await page.locator('.term-panel[data-terminal="1"] .xterm-helper-textarea').focus();
      await page.keyboard.type('hostname box9');
      await page.keyboard.press('Enter');
      await page.waitForSelector('section.nslab-step[data-step="new-uts"][data-state="fail"]', { timeout: WAIT });
      await expect.poll(() => messageOf(page, 'new-uts'), { timeout: WAIT }).toContain('沙箱自身的主机名变成了“box9”');

      // and both again in English
      await page.selectOption('#lang-select', 'en');
      await expect.poll(() => messageOf(page, 'new-uts'), { timeout: WAIT }).toContain('The sandbox\'s own hostname is now "box9"');
      expect(await messageOf(page, 'look')).toContain('to see which UTS namespace your shell is in');
      // the step list's failure line follows the language too
      expect(await page.locator('.step-item-fail .step-link-message').textContent()).toContain('The sandbox\'s own hostname is now "box9"');
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
