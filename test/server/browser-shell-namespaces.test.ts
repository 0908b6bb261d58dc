/**
 * A nested `unshare` shell has the same prompt as the outer one: the terminal tab
 * says which namespaces of its own the shell at the prompt is in, follows `exit`,
 * survives a reload (the welcome carries it) and the language switch.
 * Real server, sandbox and lesson engine, Debian's Chromium.
 */
import { type Browser, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { terminalRows } from '../browser.ts';
import { labInBrowser } from './lab-in-browser.ts';

/** generous: a sandbox start on a loaded 2-core box is slow; this is not a timing test */
const WAIT = 60_000;

const lab = labInBrowser('nslab-e2e-shell-ns-', { createBurst: undefined, createPerMinute: undefined });

async function waitForPrompt(page: Page, n: number, after = 0): Promise<void> {
  const deadline = Date.now() + WAIT;
  let rows: string[] = [];
  while (Date.now() < deadline) {
    rows = (await terminalRows(page, n)).filter((r) => r !== '');
    if (rows.length > after && /[#$] ?$/.test(rows[rows.length - 1])) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`no prompt in terminal ${n}:\n${rows.join('\n')}`);
}

async function typeLine(page: Page, n: number, text: string): Promise<void> {
  await page.click(`.term-tab[data-terminal="${n}"]`);
  await page.locator(`.term-panel[data-terminal="${n}"] .xterm-helper-textarea`).focus();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** what the tab says (its label and the namespace note; not the Alt key hint) */
const tabText = (page: Page, n: number) => page.evaluate((n) => {
  const tab = document.querySelector(`.term-tab[data-terminal="${n}"]`);
  if (!tab) return '';
  return [...tab.children].filter((c) => c.tagName !== 'KBD').map((c) => (c as HTMLElement).innerText).join(' ').replace(/\s+/g, ' ').trim();
}, n);

async function waitTab(page: Page, n: number, re: RegExp): Promise<void> {
  const deadline = Date.now() + WAIT;
  let text = '';
  while (Date.now() < deadline) {
    if (re.test(text = await tabText(page, n))) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`tab ${n} says "${text}", not ${re}`);
}

describe('terminal tabs name the namespaces of a nested shell', () => {
  it('shows "new ipc, uts" inside `unshare --ipc --uts bash`, and nothing after `exit`', async () => {
    const ctx = await lab.browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${lab.srv.base}/#/lessons/sample-hostname`);
    await page.waitForSelector('.conn-open', { timeout: WAIT });
    await waitForPrompt(page, 1);
    await page.waitForSelector('.term-tab[data-terminal="2"]', { timeout: WAIT });
    expect(await tabText(page, 1)).not.toMatch(/new/);

    await typeLine(page, 1, 'unshare --ipc --uts bash');
    await waitTab(page, 1, /Terminal 1 · new ipc, uts/);
    // the tooltip says what it means and how to leave
    expect(await page.getAttribute('.term-tab[data-terminal="1"] .term-tab-ns', 'title')).toMatch(/own ipc, uts namespace.*exit/);
    // the other terminal's shell is still in the sandbox's namespaces
    expect(await tabText(page, 2)).not.toMatch(/new/);
    // a command run inside keeps the label (the shell reports at every prompt)
    await typeLine(page, 1, 'hostname inner');
    await page.waitForTimeout(300);
    expect(await tabText(page, 1)).toMatch(/new ipc, uts/);

    // a reload: the label comes back with the session's welcome, without a new prompt
    await page.reload();
    await page.waitForSelector('.conn-open', { timeout: WAIT });
    await waitTab(page, 1, /Terminal 1 · new ipc, uts/);
    // in Korean and Chinese
    await page.selectOption('#lang-select', 'ko');
    await waitTab(page, 1, /터미널 1 · 새 ipc, uts/);
    await page.selectOption('#lang-select', 'zh');
    await waitTab(page, 1, /终端 1 · 新 ipc、uts/);
    await page.selectOption('#lang-select', 'en');

    // deeper: a third namespace on top
    await typeLine(page, 1, 'unshare --net bash');
    await waitTab(page, 1, /new ipc, net, uts/);
    await typeLine(page, 1, 'exit');
    await waitTab(page, 1, /new ipc, uts$/);
    await typeLine(page, 1, 'exit');
    await page.waitForFunction(() => (document.querySelector('.term-tab[data-terminal="1"] .term-tab-ns') as HTMLElement).hidden, null, { timeout: WAIT });
    expect(await tabText(page, 1)).toBe('Terminal 1');
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
