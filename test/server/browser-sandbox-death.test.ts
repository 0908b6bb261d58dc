/**
 * A learner wrecks their own machine mid-lesson, in a real browser against the real
 * lab server: the page says what happened, one click on the banner's reset gives a
 * fresh sandbox with a prompt in the terminal, and the green step stays green.
 *
 * - `kill -9 -1` (every process but the sandbox's init is killed: `sandbox-emptied`);
 * - PID 1 itself killed from inside with a ptrace exit-kill (`sandbox-died`).
 */
import { type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { terminalRows } from '../browser.ts';
import { expectOnlyFreshPrompt, labInBrowser, WAIT, pageState, typeInto, waitForRow } from './lab-in-browser.ts';

const LESSON = 'sample-hostname';

const lab = labInBrowser('nslab-e2e-death-web-');

const CASES = [
  { what: 'kill -9 -1', command: 'kill -9 -1', banner: /Every program on your machine was killed/ },
  {
    what: 'PID 1 killed from inside',
    command: `python3 -c 'import ctypes; ctypes.CDLL(None).ptrace(0x4206, 1, 0, 0x100000)'`,
    banner: /Your machine stopped/,
  },
];

describe('a sandbox that dies mid-lesson, in Chromium', () => {
  for (const c of CASES) {
    it(`${c.what}: a banner says so; its reset button gives a fresh prompt and the passed step stays green`, async () => {
      const ctx = await lab.browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      try {
        await page.goto(`${lab.srv.base}/#/lessons/${LESSON}`);
        await page.waitForSelector('.conn-open', { timeout: WAIT });
        await waitForRow(page, 1, (r) => /[#$] ?$/.test(r), 'a prompt');
        // mid-lesson: the first step green, a file on the machine
        await typeInto(page, 1, 'readlink /proc/$$/ns/uts; touch /root/old-machine');
        await page.waitForSelector('section.nslab-step[data-step="look"][data-state="pass"]', { timeout: WAIT });
        const id = JSON.parse((await page.evaluate((l) => sessionStorage.getItem(`nslab.session.${l}`), LESSON))!).id as string;
        const oldSandbox = lab.srv.lab.sessions.get(id)!.sandbox;

        await typeInto(page, 1, c.command);
        const banner = page.locator('.banner-error');
        await banner.waitFor({ timeout: WAIT });
        expect(await banner.innerText()).toMatch(c.banner);
        // the reset is the banner's first (primary) action, and it has the focus
        const button = banner.locator('button.button-primary');
        expect(await button.innerText()).toBe('Reset now');
        expect(await button.evaluate((b) => b === document.activeElement)).toBe(true);
        await button.click();
        await expectOnlyFreshPrompt(page);
        await typeInto(page, 1, 'ls /root; echo fresh-$((2+2))');
        await waitForRow(page, 1, (r) => r === 'fresh-4', 'the fresh shell answering');
        expect((await terminalRows(page, 1)).join('\n')).not.toContain('old-machine');
        expect(lab.srv.lab.sessions.get(id)!.sandbox.id).not.toBe(oldSandbox.id);
        // progress kept: the step is still green on the page
        expect(await page.locator('section.nslab-step[data-step="look"]').getAttribute('data-state')).toBe('pass');
        expect(errors).toEqual([]);
      } finally {
        await ctx.close();
      }
    });
  }

  it('kill -9 -1, then "New shells here": a prompt on the same machine', async () => {
    const ctx = await lab.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    try {
      await page.goto(`${lab.srv.base}/#/lessons/${LESSON}`);
      await page.waitForSelector('.conn-open', { timeout: WAIT });
      await waitForRow(page, 1, (r) => /[#$] ?$/.test(r), 'a prompt');
      await typeInto(page, 1, 'touch /root/same-machine; kill -9 -1');
      const banner = page.locator('.banner-error');
      await banner.waitFor({ timeout: WAIT });
      await banner.locator('button', { hasText: 'New shells here' }).click();
      await page.locator('.banner').waitFor({ state: 'detached', timeout: WAIT });
      await waitForRow(page, 1, (r) => /[#$] ?$/.test(r) && !/kill/.test(r), 'a new prompt');
      await typeInto(page, 1, 'ls /root');
      await waitForRow(page, 1, (r) => r === 'same-machine', 'the file of the same machine');
    } finally {
      await ctx.close();
    }
  });
});
