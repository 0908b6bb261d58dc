/**
 * The namespace map beside the terminals, as a learner uses it, in Debian's Chromium
 * against the real lab server, sandbox and probe: after the ipc-namespace lesson's
 * commands the map shows terminal 1 in a new IPC namespace with the queue in it (and
 * not before), terminal 2 still in the sandbox's; the keyboard reaches all of it; the
 * table says the same; it fits a phone; and it asks the server for snapshots only
 * while someone can see it.
 */
import path from 'node:path';
import { type BrowserContext, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { endSessions, labInBrowser, pageState, typeInto, WAIT, waitForRow } from './lab-in-browser.ts';

const lab = labInBrowser('nslab-e2e-nsmap-');

const PROMPT = (r: string) => /[#$] ?$/.test(r);

/** what the drawing shows, read from the DOM the learner sees */
interface DrawnNamespace { inode: string; own: boolean; terminals: number[]; queues: string[]; processes: number }

function drawn(page: Page): Promise<{ kind: string; namespaces: DrawnNamespace[] }> {
  return page.evaluate(() => {
    const canvas = document.querySelector('.nsmap-canvas');
    const namespaces = [...document.querySelectorAll<HTMLElement>('.nsmap-canvas .nsmap-ns')].map((ns) => {
      const own = (sel: string) => [...ns.querySelectorAll<HTMLElement>(sel)].filter((e) => e.closest('.nsmap-ns') === ns);
      return {
        inode: ns.dataset.ns ?? '',
        own: ns.classList.contains('is-sandbox'),
        terminals: own('.nsmap-ns-terms [data-terminal]').map((e) => Number(e.dataset.terminal)),
        queues: own('.nsmap-group[data-group="msg"] .nsmap-item').map((e) => e.textContent ?? ''),
        processes: own('.nsmap-proc').length,
      };
    });
    return { kind: canvas?.getAttribute('data-kind') ?? '', namespaces };
  });
}

async function waitDrawn(page: Page, what: string, pred: (d: { kind: string; namespaces: DrawnNamespace[] }) => boolean): Promise<{ kind: string; namespaces: DrawnNamespace[] }> {
  const deadline = Date.now() + WAIT;
  let d = await drawn(page);
  while (Date.now() < deadline) {
    if (pred(d)) return d;
    await page.waitForTimeout(100);
    d = await drawn(page);
  }
  const status = await page.locator('.nsmap-status').textContent().catch(() => '?');
  throw new Error(`the map never showed ${what}; map status: ${status}; ${await pageState(page)}; drawn: ${JSON.stringify(d)}`);
}

/** the socket's map messages, both ways, as the page sent and got them */
function recordMapTraffic(page: Page): { sent: string[]; received: number } {
  const log = { sent: [] as string[], received: 0 };
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => {
      if (typeof f.payload === 'string' && f.payload.includes('"map-')) log.sent.push((JSON.parse(f.payload) as { type: string }).type);
    });
    ws.on('framereceived', (f) => {
      if (typeof f.payload === 'string' && f.payload.startsWith('{"type":"map"')) log.received++;
    });
  });
  return log;
}

async function withLesson<T>(opts: { width?: number; height?: number; mapOpen?: boolean }, fn: (page: Page, ctx: BrowserContext) => Promise<T>): Promise<T> {
  const ctx = await lab.browser.newContext({ viewport: { width: opts.width ?? 1440, height: opts.height ?? 900 } });
  // the drawer's open state is remembered; each test says where it starts
  await ctx.addInitScript((open) => localStorage.setItem('nslab.nsmap.open', open ? '1' : '0'), opts.mapOpen ?? false);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    return await fn(page, ctx);
  } finally {
    await endSessions(page, lab.srv.base);
    await ctx.close();
    expect(errors).toEqual([]);
  }
}

async function openIpcLesson(page: Page): Promise<void> {
  await page.goto(`${lab.srv.base}/#/lessons/ipc-namespace`);
  await page.waitForSelector('.conn-open', { timeout: WAIT });
  await waitForRow(page, 1, PROMPT, 'a prompt in terminal 1');
  // terminal 2 is a background tab (not drawn): its shell shows up on the map instead
  await page.waitForSelector('.term-tab[data-terminal="2"]', { timeout: WAIT });
}

describe('the namespace map on the lesson page', () => {
  it('shows terminal 1 in a new IPC namespace with the queue after the lesson\'s commands, and not before', async () => {
    await withLesson({ mapOpen: true }, async (page) => {
      // what the panel marks as new, whenever it does (the mark only lasts a moment)
      await page.addInitScript(() => {
        const marked: string[] = [];
        (window as unknown as { nsmapMarked: string[] }).nsmapMarked = marked;
        new MutationObserver((records) => {
          for (const r of records) {
            const el = r.target as HTMLElement;
            if (r.attributeName === 'class' && el.classList?.contains('is-new')) marked.push(el.dataset.key ?? (el.dataset.ns ? `ns:${el.dataset.ns}` : el.dataset.terminal ? `T${el.dataset.terminal}` : el.className));
          }
        }).observe(document, { subtree: true, attributes: true, attributeFilter: ['class'] });
      });
      await openIpcLesson(page);
      expect(await page.getAttribute('.nsmap-toggle', 'aria-expanded')).toBe('true');
      expect(await page.getAttribute('.nsmap-kind[aria-checked="true"]', 'data-kind')).toBe('ipc');

      // before: one IPC namespace, the sandbox's own, both shells in it, no queue
      const before = await waitDrawn(page, 'both shells in the sandbox\'s IPC namespace', (d) =>
        d.kind === 'ipc' && d.namespaces.length === 1 && d.namespaces[0]!.terminals.join() === '1,2');
      expect(before.namespaces[0]).toMatchObject({ own: true, queues: [] });
      expect(await page.locator('.nsmap-ns.is-sandbox .nsmap-badge-sandbox').textContent()).toBe('the sandbox\'s own');
      const sandboxNs = before.namespaces[0]!.inode;

      await typeInto(page, 1, 'unshare --ipc bash');
      await typeInto(page, 1, 'ipcmk --queue');
      const rows = await waitForRow(page, 1, (r) => /Message queue id: \d+/.test(r), 'ipcmk\'s answer');
      const qid = /Message queue id: (\d+)/.exec(rows.find((r) => /Message queue id/.test(r))!)![1]!;

      const after = await waitDrawn(page, 'T1 in a new IPC namespace holding the queue', (d) =>
        d.namespaces.some((ns) => !ns.own && ns.terminals.includes(1) && ns.queues.length === 1));
      const fresh = after.namespaces.find((ns) => !ns.own)!;
      const sandbox = after.namespaces.find((ns) => ns.own)!;
      expect(fresh.inode).not.toBe(sandboxNs);
      expect(fresh.queues[0]).toMatch(new RegExp(`id ${qid}\\b`));
      // terminal 2 stayed behind, and the sandbox's namespace does not see the queue
      expect(sandbox).toMatchObject({ inode: sandboxNs, terminals: [2], queues: [] });
      expect(after.namespaces).toHaveLength(2);
      // the change was highlighted: the new namespace (or, had it come first, the queue in it)
      const marked = await page.evaluate(() => (window as unknown as { nsmapMarked: string[] }).nsmapMarked);
      expect(marked.some((k) => k === `ns:${fresh.inode}` || k === `msg:${qid}`), JSON.stringify(marked)).toBe(true);
      if (process.env.NSLAB_E2E_SHOTS) {
        await page.screenshot({ path: path.join(process.env.NSLAB_E2E_SHOTS, 'nsmap-ipc-light.png') });
        await page.emulateMedia({ colorScheme: 'dark' });
        await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
        await page.screenshot({ path: path.join(process.env.NSLAB_E2E_SHOTS, 'nsmap-ipc-dark.png') });
        await page.emulateMedia({ colorScheme: 'light' });
      }
      // and the highlight goes again
      await page.waitForFunction(() => !document.querySelector('.nsmap .is-new'), null, { timeout: WAIT });

      // the table says the same, row by row, in words
      await page.click('.nsmap-table-toggle');
      expect(await page.getAttribute('.nsmap-table-toggle', 'aria-pressed')).toBe('true');
      const table = page.getByRole('table');
      await expect.poll(() => table.locator('caption').textContent()).toMatch(/^ipc namespaces \(2\)/);
      const freshRow = table.getByRole('row', { name: new RegExp(`ipc namespace ${fresh.inode}\\b`) });
      await expect.poll(() => freshRow.textContent()).toMatch(/terminal 1's shell/);
      expect(await freshRow.textContent()).toMatch(new RegExp(`System V message queues: .*id ${qid}\\b`));
      expect(await freshRow.textContent()).not.toMatch(/terminal 2's shell/);
      const ownRow = table.getByRole('row', { name: /\(the sandbox's own\)/ });
      expect(await ownRow.getByRole('rowheader').textContent()).toBe(`ipc namespace ${sandboxNs} (the sandbox's own)`);
      expect(await ownRow.textContent()).toMatch(/terminal 2's shell/);
      expect(await ownRow.textContent()).toMatch(/System V message queues: none/);
      await page.click('.nsmap-table-toggle');

      // the uts view: both namespaces are the sandbox's, so both shells are in one box
      await page.click('.nsmap-kind[data-kind="uts"]');
      const uts = await waitDrawn(page, 'one UTS namespace with both shells', (d) => d.kind === 'uts' && d.namespaces.length === 1);
      expect(uts.namespaces[0]!.terminals).toEqual([1, 2]);
    });
  });

  it('opens on the kind a step\'s `::: map` names when that step becomes current, and not earlier', async () => {
    await withLesson({}, async (page) => {
      await openIpcLesson(page);
      const drawerShown = () => page.locator('.nsmap-drawer').isVisible();
      // the directive's figure in the step's text has a button that opens the map on its kind
      const button = page.locator('section.nslab-step[data-step="check-from-parent"] .nslab-map .nsmap-directive-button');
      expect(await button.getAttribute('data-kind')).toBe('ipc');
      expect(await button.textContent()).toBe('Show the ipc namespaces on the map');
      expect(await drawerShown()).toBe(false);

      // through the steps before it: the map stays closed
      for (const line of ['echo $$', 'ls -l /proc/$$/ns', 'ipcs', 'unshare --ipc bash', 'echo $$; ps -o pid,ppid,comm']) await typeInto(page, 1, line);
      await page.waitForSelector('section.nslab-step[data-step="unshare-ipc"][data-state="pass"]', { timeout: WAIT });
      expect(await drawerShown()).toBe(false);
      // the learner looks at another kind meanwhile (opened and closed by hand)
      await page.click('.nsmap-toggle');
      await page.click('.nsmap-kind[data-kind="pid"]');
      await page.click('.nsmap-close');
      expect(await drawerShown()).toBe(false);

      // the queue passes create-queue: check-from-parent, the step with `::: map ipc`, is current
      await typeInto(page, 1, 'ipcmk --queue');
      await page.waitForSelector('section.nslab-step[data-step="check-from-parent"].is-current', { timeout: WAIT });
      await page.waitForSelector('.nsmap-drawer:not([hidden])', { timeout: WAIT });
      expect(await page.getAttribute('.nsmap-kind[aria-checked="true"]', 'data-kind')).toBe('ipc');
      // focus stayed in the terminal, where the learner types the step's commands
      expect(await page.evaluate(() => document.activeElement?.classList.contains('xterm-helper-textarea'))).toBe(true);
      await waitDrawn(page, 'T1 and its queue in a new IPC namespace', (d) => d.kind === 'ipc' && d.namespaces.some((ns) => !ns.own && ns.terminals.includes(1) && ns.queues.length === 1));

      // closed again, the button in the step brings it back, focused on the picker
      await page.click('.nsmap-close');
      await button.click();
      await page.waitForSelector('.nsmap-drawer:not([hidden])');
      expect(await page.evaluate(() => document.activeElement?.getAttribute('data-kind'))).toBe('ipc');
    });
  });

  it('stays bounded and says so when the learner floods the machine with IPC namespaces', async () => {
    await withLesson({ mapOpen: true }, async (page) => {
      await openIpcLesson(page);
      await waitDrawn(page, 'the sandbox\'s IPC namespace', (d) => d.namespaces.some((ns) => ns.own && ns.terminals.includes(1)));
      expect(await page.locator('.nsmap-truncated-all').count()).toBe(0);
      // 80 more IPC namespaces, each held by a sleeping process
      await typeInto(page, 1, 'for i in $(seq 80); do unshare --ipc sleep 1000 </dev/null >/dev/null 2>&1 & done; sleep 1; echo flooded');
      await waitForRow(page, 1, (r) => r === 'flooded', 'the end of the flood');
      await page.waitForSelector('.nsmap-truncated-all', { timeout: WAIT });
      const note = await page.locator('.nsmap-truncated-all').textContent();
      const m = /^Only (\d+) of (\d+) namespaces are shown/.exec(note ?? '');
      expect(m, note ?? '').not.toBeNull();
      const [shown, total] = [Number(m![1]), Number(m![2])];
      expect(total).toBeGreaterThanOrEqual(81);
      expect(shown).toBeLessThan(total);
      const d = await drawn(page);
      expect(d.namespaces).toHaveLength(shown);
      // the sandbox's own namespace, with both shells, is among those shown
      expect(d.namespaces.find((ns) => ns.own)?.terminals).toEqual([1, 2]);
      // how long drawing the capped map took in this browser (printed, not asserted)
      console.log(`namespace map with ${shown} of ${total} IPC namespaces drawn in ${await page.getAttribute('.nsmap', 'data-render-ms')} ms`);
    });
  });

  it('is reached and worked with the keyboard alone, and asks for snapshots only while it is shown', async () => {
    await withLesson({}, async (page) => {
      const traffic = recordMapTraffic(page);
      await openIpcLesson(page);
      // closed: the server is not asked for maps, and sends none
      await page.waitForTimeout(1500);
      expect(traffic.sent).toEqual([]);
      expect(traffic.received).toBe(0);

      // Alt+M from the terminal opens it and puts focus on the chosen kind
      await page.locator('.term-panel[data-terminal="1"] .xterm-helper-textarea').focus();
      await page.keyboard.press('Alt+KeyM');
      await page.waitForSelector('.nsmap-drawer:not([hidden])');
      await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-kind'))).toBe('ipc');
      await expect.poll(() => traffic.sent).toEqual(['map-subscribe']);
      await waitDrawn(page, 'the IPC namespace', (d) => d.kind === 'ipc' && d.namespaces.length >= 1);
      expect(traffic.received).toBeGreaterThan(0);

      // the kind picker: one tab stop, arrows move and choose
      const focusedKind = () => page.evaluate(() => document.activeElement?.getAttribute('data-kind'));
      const checkedKind = () => page.getAttribute('.nsmap-kind[aria-checked="true"]', 'data-kind');
      await page.keyboard.press('ArrowRight');
      expect([await focusedKind(), await checkedKind()]).toEqual(['pid', 'pid']);
      await waitDrawn(page, 'the pid view', (d) => d.kind === 'pid' && d.namespaces.some((ns) => ns.own && ns.terminals.includes(1)));
      await page.keyboard.press('End');
      expect([await focusedKind(), await checkedKind()]).toEqual(['time', 'time']);
      await page.keyboard.press('ArrowRight');
      expect(await checkedKind()).toBe('ipc');
      await page.keyboard.press('ArrowLeft');
      expect(await checkedKind()).toBe('time');
      await page.keyboard.press('Home');
      expect([await focusedKind(), await checkedKind()]).toEqual(['ipc', 'ipc']);
      expect(await page.locator('.nsmap-kind[tabindex="0"]').count()).toBe(1);

      // Tab: the table toggle (Space switches it), then the map itself (a scrollable region)
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.classList.contains('nsmap-table-toggle'))).toBe(true);
      await page.keyboard.press('Space');
      await page.waitForSelector('.nsmap-table');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('region');
      expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Namespace map: ipc');
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Space');
      await page.waitForSelector('.nsmap-canvas');

      // Escape closes it; focus goes back to the button that opens it; the server stops sending
      await page.keyboard.press('Escape');
      await page.waitForSelector('.nsmap-drawer[hidden]', { state: 'attached' });
      expect(await page.evaluate(() => document.activeElement?.classList.contains('nsmap-toggle'))).toBe(true);
      expect(await page.getAttribute('.nsmap-toggle', 'aria-expanded')).toBe('false');
      await expect.poll(() => traffic.sent).toEqual(['map-subscribe', 'map-unsubscribe']);
      // Enter on the button opens it again
      await page.keyboard.press('Enter');
      await page.waitForSelector('.nsmap-drawer:not([hidden])');
      await expect.poll(() => traffic.sent).toEqual(['map-subscribe', 'map-unsubscribe', 'map-subscribe']);
      // the shortcut list names the key
      await page.keyboard.press('Alt+Slash');
      await expect.poll(() => page.locator('dialog .shortcut-list').textContent()).toMatch(/Alt ?M.*namespace map/i);
    });
  });

  it('is a view of its own on a phone, fits the screen and goes back to the terminal', async () => {
    await withLesson({ width: 390, height: 844 }, async (page) => {
      await page.goto(`${lab.srv.base}/#/lessons/ipc-namespace`);
      // the status dot sits in the terminal view, hidden while the lesson is shown
      await page.waitForSelector('.conn-open', { timeout: WAIT, state: 'attached' });
      const mapTab = page.locator('.view-tab[data-view="map"]');
      expect(await mapTab.isVisible()).toBe(true);
      await mapTab.click();
      expect(await mapTab.getAttribute('aria-selected')).toBe('true');
      await waitDrawn(page, 'the sandbox\'s IPC namespace', (d) => d.namespaces.some((ns) => ns.own && ns.terminals.includes(1)));
      // the map covers the view; the lesson is out of the way
      const box = (await page.locator('.nsmap-drawer').boundingBox())!;
      expect(box.width).toBeGreaterThan(380);
      expect(await page.locator('.split-left').evaluate((e) => getComputedStyle(e).visibility)).toBe('hidden');
      // nothing sticks out sideways, and the kinds are big enough to tap
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
      const drawerRight = box.x + box.width;
      for (const b of await page.locator('.nsmap-kind').all()) {
        const r = (await b.boundingBox())!;
        expect(r.height).toBeGreaterThanOrEqual(36);
        expect(r.x + r.width).toBeLessThanOrEqual(drawerRight + 0.5);
      }
      for (const ns of await page.locator('.nsmap-ns').all()) {
        const r = (await ns.boundingBox())!;
        expect(r.x + r.width).toBeLessThanOrEqual(drawerRight + 0.5);
      }
      // in Korean and Chinese, the map's own words and the ones it builds from the snapshot
      const words = () => page.evaluate(() => [
        document.querySelector('.nsmap-title')?.textContent,
        document.querySelector('.nsmap-kinds')?.getAttribute('aria-label'),
        document.querySelector('.nsmap-ns.is-sandbox .nsmap-badge-sandbox')?.textContent,
        document.querySelector('.nsmap-ns.is-sandbox')?.getAttribute('aria-label'),
        document.querySelector('.view-tab[data-view="map"]')?.textContent,
      ]);
      await page.selectOption('#lang-select', 'ko');
      await expect.poll(words).toEqual(['네임스페이스 지도', '네임스페이스 종류', '샌드박스 자체', expect.stringMatching(/^ipc 네임스페이스 \d+\(샌드박스 자체\)$/), '지도']);
      await page.selectOption('#lang-select', 'zh');
      await expect.poll(words).toEqual(['命名空间地图', '命名空间类型', '沙箱自身的', expect.stringMatching(/^ipc 命名空间 \d+（沙箱自身的）$/), '地图']);
      await page.selectOption('#lang-select', 'en');

      // light and dark follow the page's theme (the palettes of styles.css)
      const boxColour = () => page.$eval('.nsmap-ns.is-sandbox', (e) => getComputedStyle(e).backgroundColor);
      await page.emulateMedia({ colorScheme: 'light' });
      await expect.poll(boxColour).toBe('rgb(236, 239, 246)');
      await page.emulateMedia({ colorScheme: 'dark' });
      await expect.poll(boxColour).toBe('rgb(15, 19, 32)');
      await page.emulateMedia({ colorScheme: 'light' });

      // its close button leads to the terminal
      await page.click('.nsmap-close');
      expect(await page.locator('.view-tab[data-view="terminal"]').getAttribute('aria-selected')).toBe('true');
      expect(await page.locator('.nsmap-drawer').isHidden()).toBe(true);

      // a step with `::: map ipc` becoming current does not cover the terminal on a phone: the map tab gets a mark
      await page.click('.nsmap-toggle');
      await page.click('.nsmap-kind[data-kind="net"]');
      await page.click('.nsmap-close');
      for (const line of ['echo $$', 'ls -l /proc/$$/ns', 'ipcs', 'unshare --ipc bash', 'echo $$; ps -o pid,ppid,comm', 'ipcmk --queue']) await typeInto(page, 1, line);
      await page.waitForSelector('.view-tab[data-view="map"].has-news', { timeout: WAIT });
      expect(await mapTab.getAttribute('aria-description')).toBe('This step shows the ipc namespaces on the map');
      expect(await page.locator('.view-tab[data-view="terminal"]').getAttribute('aria-selected')).toBe('true');
      expect(await page.locator('.nsmap-drawer').isHidden()).toBe(true);
      await mapTab.click();
      expect(await page.getAttribute('.nsmap-kind[aria-checked="true"]', 'data-kind')).toBe('ipc');
      expect(await mapTab.getAttribute('class')).not.toMatch(/has-news/);
    });
  });
});
