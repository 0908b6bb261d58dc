/**
 * The learner's terminal and lesson pane as a person uses them, in Debian's Chromium
 * against the real lab server: clipboard keys, run buttons for a closed terminal,
 * wide lesson blocks, the completion card, and the phone layout.
 */
import path from 'node:path';
import { type BrowserContext, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { terminalRows } from '../browser.ts';
import { endSessions, labInBrowser, tcpRelay, typeInto, WAIT, waitForRow } from './lab-in-browser.ts';


const lab = labInBrowser('nslab-e2e-learner-');

const PROMPT = (r: string) => /[#$] ?$/.test(r);

async function openLesson(page: Page, lesson: string): Promise<void> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${lab.srv.base}/#/lessons/${lesson}`);
  await page.waitForSelector('.conn-open', { timeout: WAIT });
  await waitForRow(page, 1, PROMPT, 'a prompt');
  expect(errors).toEqual([]);
}

async function withPage<T>(opts: { width?: number; height?: number; clipboard?: boolean; lang?: string }, fn: (page: Page, ctx: BrowserContext) => Promise<T>): Promise<T> {
  const ctx = await lab.browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 } });
  if (opts.clipboard) await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: lab.srv.base });
  if (opts.lang) await ctx.addInitScript((l) => localStorage.setItem('nslab.lang', l), opts.lang);
  const page = await ctx.newPage();
  try {
    return await fn(page, ctx);
  } finally {
    await endSessions(page, lab.srv.base);
    await ctx.close();
  }
}

function focusTerminal(page: Page, n: number): Promise<void> {
  return page.locator(`.term-panel[data-terminal="${n}"] .xterm-helper-textarea`).focus();
}

describe('the terminal clipboard', () => {
  it('Ctrl+V and Ctrl+Shift+V paste, Ctrl+Shift+C copies the selection', async () => {
    await withPage({ clipboard: true }, async (page) => {
      await openLesson(page, 'sample-hostname');
      await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((5*5))'));
      await focusTerminal(page, 1);
      await page.keyboard.press('Control+KeyV');
      await page.keyboard.press('Enter');
      await waitForRow(page, 1, (r) => r === 'pasted-25', 'the output of the text pasted with Ctrl+V');

      await page.evaluate(() => navigator.clipboard.writeText('echo shift-pasted-$((6*6))'));
      await page.keyboard.press('Control+Shift+KeyV');
      await page.keyboard.press('Enter');
      await waitForRow(page, 1, (r) => r === 'shift-pasted-36', 'the output of the text pasted with Ctrl+Shift+V');

      // copy: a double click selects a word of the output, Ctrl+Shift+C puts it on the clipboard
      await page.keyboard.type('echo copy-me-$((3+4))');
      await page.keyboard.press('Enter');
      const rows = await waitForRow(page, 1, (r) => r === 'copy-me-7', 'the word to copy');
      const rowIndex = rows.lastIndexOf('copy-me-7');
      const row = page.locator(`.term-panel[data-terminal="1"] .xterm-rows > div`).nth(rowIndex);
      const box = (await row.boundingBox())!;
      await page.mouse.dblclick(box.x + 20, box.y + box.height / 2);
      await page.keyboard.press('Control+Shift+KeyC');
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe('copy-me-7');
    });
  });

  it('a right click opens the browser\'s own menu on the terminal\'s input, so its Paste types into the shell', async () => {
    await withPage({}, async (page) => {
      await openLesson(page, 'sample-hostname');
      const screen = (await page.locator('.term-panel[data-terminal="1"] .xterm-screen').boundingBox())!;
      const x = screen.x + screen.width / 2;
      const y = screen.y + screen.height / 2;
      // Chromium builds its menu from a hit test after the handlers ran: xterm moves its
      // input under the pointer so that the menu is an editable one, with Paste
      await page.evaluate(([px, py]) => {
        window.addEventListener('contextmenu', (e) => setTimeout(() => {
          (window as unknown as { menuSeen: unknown }).menuSeen = { target: document.elementFromPoint(px, py)?.className ?? '', prevented: e.defaultPrevented };
        }), { once: true });
      }, [x, y] as const);
      await page.mouse.click(x, y, { button: 'right' });
      await page.waitForFunction(() => 'menuSeen' in window);
      const menu = await page.evaluate(() => (window as unknown as { menuSeen: { target: string; prevented: boolean } }).menuSeen);
      expect(menu.prevented).toBe(false);
      expect(menu.target).toContain('xterm-helper-textarea');
      // the menu's Paste fires a paste event on that element
      await page.evaluate(() => {
        const data = new DataTransfer();
        data.setData('text/plain', 'echo menu-pasted-$((2*4))');
        document.querySelector('.term-panel[data-terminal="1"] .xterm-helper-textarea')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      });
      await page.keyboard.press('Enter');
      await waitForRow(page, 1, (r) => r === 'menu-pasted-8', 'the output of the text pasted from the menu');
    });
  });

  it('the shortcuts dialog lists paste and copy in every language', async () => {
    for (const [lang, paste] of [['en', 'Paste'], ['ko', '붙여'], ['zh', '粘贴']] as const) {
      await withPage({ lang }, async (page) => {
        await page.goto(`${lab.srv.base}/#/lessons/sample-hostname`);
        await page.waitForSelector('.lesson-title');
        await page.keyboard.press('Alt+Slash');
        const list = page.locator('dialog .shortcut-list');
        await list.waitFor();
        const text = await list.innerText();
        expect(text).toContain('V');
        expect(text).toContain(paste);
      });
    }
  });
});

describe('run buttons', () => {
  it('Run ▸ 2 after terminal 2 was closed reopens it, waits for the prompt and runs the command once', async () => {
    await withPage({}, async (page) => {
      await openLesson(page, 'containers-ipc');
      await page.click('.term-tab[data-terminal="2"]');
      await waitForRow(page, 2, PROMPT, 'a prompt in terminal 2');
      await page.hover('.term-tab[data-terminal="2"]');
      await page.click('.term-tab-item:has(.term-tab[data-terminal="2"]) .term-tab-close');
      await page.locator('.term-tab[data-terminal="2"]').waitFor({ state: 'detached' });

      await page.locator('.lesson-content button.nslab-run[data-terminal="2"]').first().click();
      await page.waitForSelector('.term-tab[data-terminal="2"][aria-selected="true"]');
      const rows = await waitForRow(page, 2, (r) => /Message Queues/.test(r), 'the output of ipcs -q');
      // give a second run every chance to show up before counting
      await page.waitForTimeout(1500);
      const after = await terminalRows(page, 2);
      expect(after.filter((r) => /Message Queues/.test(r)), after.join('\n')).toHaveLength(1);
      expect(after.filter((r) => /exited/.test(r))).toEqual([]);
      expect(rows.filter((r) => /[#$] ipcs -q$/.test(r))).toHaveLength(1);
    });
  });
});

describe('the lesson column', () => {
  it('wide tables scroll in their own box, option names stay whole, and the pane never scrolls sideways', async () => {
    await withPage({ width: 1280, height: 720 }, async (page) => {
      await page.goto(`${lab.srv.base}/#/lessons/namespaces-tour`);
      await page.waitForSelector('.lesson-content table');
      const m = await page.evaluate(() => {
        const pane = document.querySelector<HTMLElement>('.split-left')!;
        const table = document.querySelector<HTMLElement>('.lesson-content table')!;
        const box = table.parentElement!;
        // code with no space in it, short enough to fit a column: one piece on one line
        const broken = [...document.querySelectorAll<HTMLElement>('.lesson-content :not(pre) > code')]
          .filter((c) => !/\s/.test(c.textContent!) && c.textContent!.length <= 32 && c.getClientRects().length > 1)
          .map((c) => c.textContent);
        return { paneWide: pane.scrollWidth - pane.clientWidth, boxScrolls: box.scrollWidth > box.clientWidth, tableWider: table.scrollWidth > pane.clientWidth, broken };
      });
      expect(m.tableWider).toBe(true);
      expect(m.boxScrolls).toBe(true);
      expect(m.paneWide).toBeLessThanOrEqual(0);
      expect(m.broken).toEqual([]);
    });
  });

  it('a long command is readable in full beside its Run button, and Copy puts it on the clipboard', async () => {
    await withPage({ width: 1280, height: 720, clipboard: true }, async (page) => {
      await page.goto(`${lab.srv.base}/#/lessons/containers-ipc`);
      await page.waitForSelector('.lesson-content button.nslab-run');
      const problems = await page.evaluate(() => {
        const out: string[] = [];
        for (const block of document.querySelectorAll<HTMLElement>('.lesson-content .nslab-code-run')) {
          const pre = block.querySelector('pre')!;
          const command = block.querySelector<HTMLElement>('button.nslab-run')!.dataset.command!;
          if (pre.scrollWidth > pre.clientWidth + 1) out.push(`hidden past the edge: ${command}`);
          const buttons = [...block.querySelectorAll('button')].map((b) => b.getBoundingClientRect());
          if (!block.querySelector('button.nslab-copy')) out.push(`no copy button: ${command}`);
          // a wrapped command breaks between words, never inside an option or a path
          const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
          while (walker.nextNode()) {
            const node = walker.currentNode as Text;
            for (const m of node.data.matchAll(/[^\s]*[-/][^\s]*/g)) {
              const word = document.createRange();
              word.setStart(node, m.index);
              word.setEnd(node, m.index + m[0].length);
              const lines = new Set([...word.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
              if (lines.size > 1) out.push(`"${m[0]}" split across lines: ${command}`);
            }
          }
          const range = document.createRange();
          range.selectNodeContents(pre);
          for (const r of range.getClientRects()) {
            if (r.width === 0) continue;
            if (buttons.some((b) => r.left < b.right && r.right > b.left && r.top < b.bottom && r.bottom > b.top)) {
              out.push(`text under a button: ${command}`);
              break;
            }
          }
        }
        return out;
      });
      expect(problems).toEqual([]);
      const block = page.locator('.lesson-content .nslab-code-run').first();
      const command = await block.locator('button.nslab-run').getAttribute('data-command');
      await block.locator('button.nslab-copy').click();
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(command);
    });
  });
});

describe('lesson completion', () => {
  it('the card shows up where the learner is looking, and its buttons fit in it', async () => {
    await withPage({ width: 1280, height: 720 }, async (page, ctx) => {
      // a narrow lesson column: the next lesson's title is longer than the card is wide
      await ctx.addInitScript(() => localStorage.setItem('nslab.split', '25'));
      await openLesson(page, 'namespaces-tour');
      const buttons = page.locator('.lesson-content button.nslab-run');
      const n = await buttons.count();
      for (let i = 0; i < n; i++) {
        await buttons.nth(i).click();
        await page.waitForTimeout(700);
      }
      await page.waitForSelector('.complete-card .button-primary', { timeout: WAIT });
      await expect.poll(async () => page.evaluate(() => {
        const pane = document.querySelector('.split-left')!.getBoundingClientRect();
        const card = document.querySelector('.complete-card')!.getBoundingClientRect();
        return card.top >= pane.top && card.bottom <= pane.bottom ? 'in view' : `card ${Math.round(card.top)}..${Math.round(card.bottom)}, pane ${Math.round(pane.top)}..${Math.round(pane.bottom)}`;
      }), { timeout: 5000 }).toBe('in view');
      const overflow = await page.evaluate(() => {
        const card = document.querySelector('.complete-card')!.getBoundingClientRect();
        return [...document.querySelectorAll<HTMLElement>('.complete-card .button')]
          .filter((b) => { const r = b.getBoundingClientRect(); return r.left < card.left || r.right > card.right || b.scrollWidth > b.clientWidth; })
          .map((b) => `${b.textContent} (${Math.round(b.getBoundingClientRect().width)} px in ${Math.round(card.width)} px)`);
      });
      expect(overflow).toEqual([]);
      // the learner kept the keyboard: the last command was typed into a terminal
      expect(await page.evaluate(() => !!document.activeElement?.closest('.term-panel'))).toBe(true);
    });
  });
});

describe('on a phone', () => {
  it('lesson and terminal are two views in the same place, and Run jumps to the output', async () => {
    await withPage({ width: 390, height: 844 }, async (page) => {
      await page.goto(`${lab.srv.base}/#/lessons/sample-hostname`);
      // attached, not visible: the lesson is in front
      await page.waitForSelector('.conn-open', { state: 'attached', timeout: WAIT });
      const inView = (sel: string) => page.evaluate((s) => {
        const el = document.querySelector(s)!;
        const r = el.getBoundingClientRect();
        const visible = getComputedStyle(el).visibility === 'visible';
        return visible && r.top >= 0 && r.top < window.innerHeight && r.bottom <= window.innerHeight + 1 && r.height > 200;
      }, sel);
      expect(await page.evaluate(() => document.scrollingElement!.scrollWidth <= window.innerWidth)).toBe(true);

      await page.getByRole('tab', { name: 'Terminal', exact: true }).click();
      await expect.poll(() => inView('.term-panel[data-terminal="1"]')).toBe(true);
      await waitForRow(page, 1, PROMPT, 'a prompt');

      await page.getByRole('tab', { name: /^Lesson/ }).click();
      await expect.poll(() => inView('.split-left')).toBe(true);
      const run = page.locator('section.nslab-step[data-step="look"] button.nslab-run');
      await run.scrollIntoViewIfNeeded();
      await run.click();
      // the output is on screen without the learner looking for it
      await expect.poll(() => inView('.term-panel[data-terminal="1"]')).toBe(true);
      await waitForRow(page, 1, (r) => /^uts:\[\d+\]$/.test(r), 'the command\'s output');
      const row = await page.evaluate(() => {
        const rows = [...document.querySelectorAll('.term-panel[data-terminal="1"] .xterm-rows > div')];
        const r = rows.find((d) => /^uts:\[\d+\]/.test(d.textContent ?? ''))!.getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight;
      });
      expect(row).toBe(true);
      // the step's progress shows on the lesson tab while the terminal is in front
      await expect.poll(() => page.getByRole('tab', { name: /^Lesson/ }).innerText()).toContain('1/3');
    });
  });
});

describe('terminal tabs', () => {
  it('Delete on a tab asks in a styled dialog before it ends a live shell', async () => {
    await withPage({ lang: 'ko' }, async (page) => {
      await openLesson(page, 'sample-hostname');
      await page.click('.term-tab[data-terminal="2"]');
      // a click on a tab sends focus on into its terminal; take it back to the tab after that
      await expect.poll(() => page.evaluate(() => !!document.activeElement?.closest('.term-panel[data-terminal="2"]'))).toBe(true);
      await page.locator('.term-tab[data-terminal="2"]').focus();
      await page.keyboard.press('Delete');
      const dialog = page.locator('dialog[open]');
      await dialog.waitFor();
      expect(await dialog.innerText()).toContain('터미널 2');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      expect(await page.locator('.term-tab[data-terminal="2"]').count()).toBe(1);

      await page.locator('.term-tab[data-terminal="2"]').focus();
      await page.keyboard.press('Delete');
      await page.locator('dialog[open] .button-danger').click();
      await page.locator('.term-tab[data-terminal="2"]').waitFor({ state: 'detached' });
    });
  });

  it('the terminal input is named in the interface language', async () => {
    await withPage({ lang: 'zh' }, async (page) => {
      await openLesson(page, 'sample-hostname');
      expect(await page.locator('.term-panel[data-terminal="1"] .xterm-helper-textarea').getAttribute('aria-label')).toBe('终端 1 输入');
      await page.selectOption('#lang-select', 'ko');
      await expect.poll(() => page.locator('.term-panel[data-terminal="1"] .xterm-helper-textarea').getAttribute('aria-label')).toBe('터미널 1 입력');
    });
  });
});

/** the fonts Chromium really drew a node's text with (CDP CSS.getPlatformFontsForNode) */
async function fontsOf(page: Page, selector: string): Promise<{ familyName: string; isCustomFont: boolean; glyphCount: number }[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });
    return fonts;
  } finally {
    await cdp.detach();
  }
}

describe('Korean and Chinese text', () => {
  // this machine has no CJK fonts (Debian's fonts-noto-cjk is not installed), like many a learner's
  it('is drawn with the shipped web fonts, not as boxes, in the lesson and in the terminal', async () => {
    for (const [lang, family, text] of [['ko', 'Noto Sans KR', '안녕하세요'], ['zh', 'Noto Sans SC', '你好世界']] as const) {
      await withPage({ lang }, async (page) => {
        await openLesson(page, 'sample-hostname');
        await page.evaluate(() => document.fonts.ready);
        // drawn at start, before the font arrived (top bar, toolbar, progress), and after it
        for (const selector of ['.brand-tagline', '.reset-button span', '.progress-text', '.lesson-title']) {
          await expect.poll(async () => {
            const fonts = await fontsOf(page, selector);
            // the web font's own name inside the file may add a style ("Noto Sans KR Thin")
            return fonts.some((f) => f.isCustomFont && f.familyName.startsWith(family)) ? 'web font' : `${selector}: ${JSON.stringify(fonts)}`;
          }).toBe('web font');
        }
        await focusTerminal(page, 1);
        await page.keyboard.type(`echo ${text}-$((1+1))`);
        await page.keyboard.press('Enter');
        const rows = await waitForRow(page, 1, (r) => r.replace(/\s/g, '') === `${text}-2`, 'the CJK output');
        const i = rows.findIndex((r) => r.replace(/\s/g, '') === `${text}-2`);
        await expect.poll(async () => (await fontsOf(page, `.term-panel[data-terminal="1"] .xterm-rows > div:nth-child(${i + 1})`)).some((f) => f.isCustomFont && f.familyName.startsWith(family))).toBe(true);
      });
    }
  });
});

describe('while the connection is down', () => {
  it('typing says it is not sent, and a run button\'s command waits and runs once the shell is back', async () => {
    // a TCP relay in front of the server: closing it is a real outage
    const relay = await tcpRelay(lab.srv.base);
    const base = relay.base;
    const ctx = await lab.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    try {
      await page.goto(`${base}/#/lessons/sample-hostname`);
      await page.waitForSelector('.conn-open', { timeout: WAIT });
      await waitForRow(page, 1, PROMPT, 'a prompt');
      await relay.down();
      await page.waitForSelector('.conn-waiting, .conn-connecting, .conn-closed', { timeout: WAIT });
      await focusTerminal(page, 1);
      await page.keyboard.type('echo lost');
      await expect.poll(() => page.locator('.notice.is-visible').textContent()).toContain('not sent');

      await page.locator('section.nslab-step[data-step="look"] button.nslab-run').click();
      await relay.up();
      // the page's own back-off retry finds the server again
      await page.waitForSelector('.conn-open', { timeout: WAIT });
      const rows = await waitForRow(page, 1, (r) => /^uts:\[\d+\]$/.test(r), 'the output of the held command');
      await page.waitForTimeout(1000);
      expect((await terminalRows(page, 1)).filter((r) => /^uts:\[\d+\]$/.test(r)), rows.join('\n')).toHaveLength(1);
      expect(rows.some((r) => /lost/.test(r))).toBe(false);
    } finally {
      await endSessions(page, lab.srv.base);
      await ctx.close();
      relay.close();
    }
  });
});

describe('the first screen of a lesson', () => {
  it('shows the goal and step 1 without scrolling; the introduction folds and unfolds', async () => {
    await withPage({ width: 1280, height: 720 }, async (page) => {
      const seen: string[] = [];
      for (const lesson of ['namespaces-tour', 'process-isolation', 'ipc-namespace', 'ipc-deep-dive', 'containers-ipc', 'network-namespace', 'mount-namespace', 'sample-hostname']) {
        await page.goto(`${lab.srv.base}/#/lessons/${lesson}`);
        await page.waitForSelector('.lesson-content section.nslab-step');
        await page.waitForTimeout(300);
        const m = await page.evaluate(() => {
          const pane = document.querySelector('.split-left')!.getBoundingClientRect();
          const step = document.querySelector('.lesson-content section.nslab-step .nslab-step-title')!.getBoundingClientRect();
          const goal = document.querySelector('.lesson-goal')?.getBoundingClientRect();
          return { stepBottom: Math.round(step.bottom), goal: !!goal && goal.bottom <= pane.bottom, paneBottom: Math.round(pane.bottom) };
        });
        if (!(m.goal && m.stepBottom <= m.paneBottom)) seen.push(`${lesson}: goal shown ${m.goal}, step 1 ends at ${m.stepBottom} px, pane at ${m.paneBottom} px`);
      }
      expect(seen).toEqual([]);
      // the folded introduction is one click from being read in full
      await page.goto(`${lab.srv.base}/#/lessons/namespaces-tour`);
      const more = page.locator('.intro-toggle');
      await more.click();
      await expect.poll(() => more.getAttribute('aria-expanded')).toBe('true');
      expect(await page.evaluate(() => { const i = document.querySelector<HTMLElement>('.lesson-intro')!; return i.scrollHeight <= i.clientHeight + 1; })).toBe(true);
    });
  });
});

describe('after a reset', () => {
  it('a step passed before it says its state is gone and what to do', async () => {
    await withPage({}, async (page) => {
      await openLesson(page, 'sample-hostname');
      await page.locator('section.nslab-step[data-step="look"] button.nslab-run').click();
      await page.waitForSelector('section.nslab-step[data-step="look"][data-state="pass"]', { timeout: WAIT });
      const status = page.locator('section.nslab-step[data-step="look"] .step-status');
      expect(await status.innerText()).not.toContain('earlier');
      await page.locator('.reset-button').click();
      await page.locator('dialog[open] .button-danger').click();
      await expect.poll(() => status.innerText(), { timeout: WAIT }).toContain('Passed earlier');
      expect(await status.innerText()).toContain('Run it again');
      // still passed: progress is kept
      expect(await page.locator('section.nslab-step[data-step="look"]').getAttribute('data-state')).toBe('pass');
    });
  });
});

describe('after `exit` of the shell that held a step\'s state', () => {
  it('a passed step whose state is gone says so and what to redo, in every language; one whose state is there stays plain', async () => {
    await withPage({}, async (page) => {
      await openLesson(page, 'ipc-namespace');
      const section = (step: string) => page.locator(`section.nslab-step[data-step="${step}"]`);
      const status = (step: string) => section(step).locator('.step-status');
      const passed = (step: string) => page.waitForSelector(`section.nslab-step[data-step="${step}"][data-state="pass"]`, { timeout: WAIT });
      await typeInto(page, 1, 'echo $$; ls -l /proc/$$/ns');
      await passed('inspect-shell');
      await typeInto(page, 1, 'unshare --ipc bash');
      await passed('unshare-ipc');
      await typeInto(page, 1, 'ipcmk --queue');
      await passed('create-queue');

      // the near miss: the shell and its queue are still there. Listing the queues inside
      // is a round the next step answers ("you listed them inside"), with the passed
      // steps checked again in it: they stay plainly done
      await typeInto(page, 1, 'ipcs -q');
      await expect.poll(() => status('check-from-parent').innerText(), { timeout: WAIT }).toContain('inside the child namespace');
      for (const step of ['unshare-ipc', 'create-queue']) {
        expect(await status(step).getAttribute('class')).not.toContain('is-state-gone');
        expect(await status(step).innerText()).toContain('Done');
      }

      await typeInto(page, 1, 'exit');
      for (const step of ['unshare-ipc', 'create-queue']) {
        // each step's check reports on its own (a slow one after the round's first push)
        await expect.poll(() => status(step).innerText(), { timeout: WAIT }).toContain('Passed earlier; its state is gone');
        const text = await status(step).innerText();
        expect(text, step).toContain('the shell that held it has exited');
        // what to redo: the check's own words about what is missing now
        expect(text, step).toMatch(/To redo:\s+No (shell|process) is in a new IPC namespace/);
        expect(text, step).toContain('unshare --ipc bash');
        // still passed: the record and the progress keep it
        expect(await section(step).getAttribute('data-state')).toBe('pass');
        expect(await status(step).getAttribute('class')).toContain('is-state-gone');
        expect(await section(step).getAttribute('class')).toContain('is-state-gone');
      }
      // a step that changes nothing has no state to lose
      expect(await status('inspect-shell').innerText()).not.toContain('state is gone');
      expect(await page.locator('.progress-text').innerText()).toBe('3 of 5 steps done');
      expect(await page.locator('.step-item.is-state-gone').count()).toBe(2);
      if (process.env.NSLAB_E2E_SHOTS) {
        await section('create-queue').scrollIntoViewIfNeeded();
        await page.screenshot({ path: path.join(process.env.NSLAB_E2E_SHOTS, 'step-state-gone.png') });
      }

      await page.selectOption('#lang-select', 'ko');
      await expect.poll(() => status('create-queue').innerText(), { timeout: WAIT }).toContain('이전에 통과함 · 만든 것은 사라짐');
      expect(await status('create-queue').innerText()).toContain('다시 할 일:');
      expect(await status('create-queue').innerText()).toContain('새 IPC 네임스페이스에 있는 프로세스가 없습니다');
      await page.selectOption('#lang-select', 'zh');
      await expect.poll(() => status('create-queue').innerText(), { timeout: WAIT }).toContain('之前已通过 · 创建的东西已不在');
      expect(await status('create-queue').innerText()).toContain('没有进程处于新的 IPC 命名空间中');
      await page.selectOption('#lang-select', 'en');

      // redone: the notes go
      await typeInto(page, 1, 'unshare --ipc bash');
      await typeInto(page, 1, 'ipcmk --queue');
      await expect.poll(() => page.locator('.step-status.is-state-gone').count(), { timeout: WAIT }).toBe(0);
      expect(await status('create-queue').innerText()).toContain('Done');
    });
  });
});
