/**
 * Script injection through terminal output (docs/security.md, threat model: cross-learner and browser):
 * the learner's shell prints HTML, an OSC title with HTML, an OSC 8 hyperlink to a
 * `javascript:` URL and an OSC 52 clipboard write. In real Chromium against the
 * real lab server, none of it may run script in the lab's origin: the page shows it
 * as text, and the CSP (script-src 'self') stops `javascript:` navigations.
 */
import { type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { labInBrowser, WAIT, typeInto, waitForRow } from '../server/lab-in-browser.ts';
import { guardHost } from '../host-guard.ts';

// the host's /dev owners and modes and its cgroup counts are the same after this file
guardHost();

const LESSON = 'sample-hostname';

const lab = labInBrowser('nslab-sec-web-');

describe('script injection through terminal output', () => {
  it('HTML, an OSC title, an OSC 8 javascript: link and OSC 52 printed by the shell run no script in the page', async () => {
    const ctx = await lab.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    const dialogs: string[] = [];
    const popups: Page[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.accept(); });
    ctx.on('page', (p) => popups.push(p));
    try {
      await page.goto(`${lab.srv.base}/#/lessons/${LESSON}`);
      await page.waitForSelector('.conn-open', { timeout: WAIT });
      await waitForRow(page, 1, (r) => /[#$] ?$/.test(r), 'a prompt');
      const titleBefore = await page.title();
      // the payloads go through a file, so the command line itself is harmless to type
      await typeInto(page, 1, [
        "printf '%s\\n' '<img src=x onerror=window.__nslabPwned=1>' '<script>window.__nslabPwned=2</script>' > /tmp/p",
        "printf '\\e]0;<img src=x onerror=window.__nslabPwned=3>\\a' >> /tmp/p",
        "printf '\\e]8;;javascript:window.opener&&(window.opener.__nslabPwned=4);document.title=\"PWNED\"\\e\\\\CLICKME\\e]8;;\\e\\\\\\n' >> /tmp/p",
        "printf '\\e]52;c;cHduZWQ=\\a' >> /tmp/p",
      ].join('; '));
      await typeInto(page, 1, 'cat /tmp/p; echo inj-$((6*7))');
      await waitForRow(page, 1, (r) => r === 'inj-42', 'the end of the payload');
      // the HTML is shown as text
      await waitForRow(page, 1, (r) => r.includes('<img src=x onerror=window.__nslabPwned=1>'), 'the HTML as text');

      // click the OSC 8 link (xterm's default handler asks confirm(); we say yes). In
      // headless Chromium the click has not activated the link so far (no dialog, no
      // popup): this part proves only that clicking does no harm; the CSP below is
      // what stops a javascript: URI if it ever opens.
      const box = await page.$$eval(`.term-panel[data-terminal="1"] .xterm-rows > div`, (rows) => {
        const row = rows.find((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trim() === 'CLICKME');
        const b = row?.getBoundingClientRect();
        return b ? { x: b.left, y: b.top, h: b.height } : null;
      });
      expect(box).not.toBeNull();
      await page.mouse.move(box!.x + 15, box!.y + box!.h / 2);
      await page.mouse.move(box!.x + 20, box!.y + box!.h / 2);
      await page.mouse.click(box!.x + 20, box!.y + box!.h / 2);
      await page.waitForTimeout(1000);

      const state = await page.evaluate(() => ({
        pwned: (window as unknown as { __nslabPwned?: number }).__nslabPwned ?? null,
        injectedImages: document.querySelectorAll('img[src="x"], [onerror]').length,
        inlineScripts: [...document.scripts].filter((s) => !s.src).map((s) => s.textContent?.slice(0, 80)),
        title: document.title,
      }));
      expect(state).toEqual({ pwned: null, injectedImages: 0, inlineScripts: [], title: titleBefore });
      for (const p of popups) {
        const popupState = await p.evaluate(() => ({ title: document.title, url: location.href })).catch(() => ({ title: 'closed', url: '' }));
        expect(popupState.title).not.toBe('PWNED');
      }
      expect(errors).toEqual([]);
      // the clipboard was not written by the terminal (no OSC 52 handler)
      await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: lab.srv.base });
      expect(await page.evaluate(() => navigator.clipboard.readText().catch(() => ''))).not.toBe('pwned');
      // a javascript: link that did open could not have run: the page's CSP has no 'unsafe-inline' for scripts
      const csp = (await page.request.get(`${lab.srv.base}/`)).headers()['content-security-policy'] ?? '';
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      if (dialogs.length || popups.length) console.log(`browser-injection: dialogs ${JSON.stringify(dialogs)}, popups ${popups.length}`);
    } finally {
      await ctx.close();
    }
  });
});
