/**
 * The instructor's board as it reads a learner who works in another language and
 * at another screen size, in Chromium: check messages come in the instructor's
 * language (the learner's is the fallback), and the watch view draws the learner's
 * terminal at the learner's size (following a resize) and in the board's theme.
 * And a learner's passed step whose state is gone (they left the shell that held it)
 * is marked on the board, still counted as passed.
 * Real server, sandboxes, SQLite.
 */
import path from 'node:path';
import { type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { call, SECRET } from './helpers.ts';
import { classroomInChromium, terminalRows } from '../browser.ts';

/** generous: sandboxes and checks on a loaded 2-core box are slow; this is not a timing test */
const WAIT = 60_000;
const env = classroomInChromium('nslab-e2e-classroom-board-');

async function typeLine(page: Page, text: string): Promise<void> {
  await page.locator('.term-panel[data-terminal="1"] .xterm-helper-textarea').focus();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** the first row of terminal 1 that matches, once it is there */
async function waitRow(page: Page, re: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + WAIT;
  let rows: string[] = [];
  while (Date.now() < deadline) {
    rows = await terminalRows(page, 1);
    for (const r of rows) { const m = re.exec(r); if (m) return m; }
    await page.waitForTimeout(100);
  }
  throw new Error(`no row matching ${re} in terminal 1:\n${rows.join('\n')}`);
}

/** the learner's terminal size, as the shell in it sees it */
async function sttySize(page: Page, tag: string): Promise<{ rows: number; cols: number }> {
  await typeLine(page, `echo ${tag}=$(stty size)`);
  const m = await waitRow(page, new RegExp(`^${tag}=(\\d+) (\\d+)$`));
  return { rows: Number(m[1]), cols: Number(m[2]) };
}

const watchRows = (ins: Page) => ins.$$eval('.cr-watch .cr-watch-screen:not([hidden]) .xterm-rows > div', (rows) => rows.map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()));

describe('the board reads a learner in another language and at another size', () => {
  it('messages in the instructor\'s language; the watch view at the learner\'s size and in the board\'s theme', async () => {
    const created = await call(env.srv.base, 'POST', '/api/classroom/workshops', { token: SECRET, body: { title: 'Sizes and languages', lessons: ['sample-hostname'] } });
    const code = (created.body as { code: string }).code;

    // the learner works in Korean on a wide screen
    const lctx = await env.browser.newContext({ viewport: { width: 1680, height: 1000 }, locale: 'en-US' });
    const learner = await lctx.newPage();
    const learnerErrors: string[] = [];
    learner.on('pageerror', (e) => learnerErrors.push(e.message));
    await learner.goto(`${env.srv.base}/#/join/${code}`);
    await learner.waitForSelector('form.cr-join');
    await learner.selectOption('#lang-select', 'ko');
    await learner.fill('#join-name', '민지');
    await learner.click('form.cr-join button[type=submit]');
    await learner.waitForSelector('.cr-lesson[data-lesson="sample-hostname"] a', { timeout: WAIT });
    await learner.click('.cr-lesson[data-lesson="sample-hostname"] a');
    await learner.waitForSelector('.conn-open', { timeout: WAIT });
    await waitRow(learner, /[#$] ?$/);

    // the instructor, in English, on a laptop
    const ictx = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', colorScheme: 'light' });
    const ins = await ictx.newPage();
    const insErrors: string[] = [];
    ins.on('pageerror', (e) => insErrors.push(e.message));
    await ins.goto(`${env.srv.base}/#/instructor/${SECRET}`);
    await ins.waitForSelector('form.cr-create', { timeout: WAIT });
    await ins.goto(`${env.srv.base}/#/instructor/w/${code}`);
    await ins.waitForSelector('tr[data-learner-row="민지"]', { timeout: WAIT });

    // the first step's hint, checked in the learner's Korean session, reads in English on the board
    const look = 'tr[data-learner-row="민지"] td[data-step="sample-hostname/look"]';
    await ins.waitForFunction((sel) => /Run `readlink/.test(document.querySelector(sel)?.getAttribute('title') ?? ''), look, { timeout: WAIT });
    expect(await ins.getAttribute(look, 'title')).not.toMatch(/[가-힣]/);
    // and in Chinese once the instructor switches
    await ins.selectOption('#lang-select', 'zh');
    await ins.waitForFunction((sel) => /readlink/.test(document.querySelector(sel)?.getAttribute('title') ?? '') && /[\u4e00-\u9fff]/.test(document.querySelector(sel)?.getAttribute('title') ?? ''), look, { timeout: WAIT });
    expect(await ins.getAttribute(look, 'title')).not.toMatch(/[가-힣]/);
    await ins.selectOption('#lang-select', 'en');

    // a line exactly as wide as the learner's terminal
    const size = await sttySize(learner, 'SIZE');
    expect(size.cols).toBeGreaterThan(90);
    await typeLine(learner, `printf '%*s\\n' ${size.cols} '' | tr ' ' x`);
    await waitRow(learner, /^x+$/);

    await ins.click('button.cr-name[data-learner]');
    const fullLine = 'x'.repeat(size.cols);
    await ins.waitForFunction((line) => [...document.querySelectorAll('.cr-watch .xterm-rows > div')].some((d) => (d.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd() === line), fullLine, { timeout: WAIT });
    // as many rows as the learner has, and the wide line on one of them, not re-wrapped
    expect(await watchRows(ins)).toHaveLength(size.rows);
    expect((await watchRows(ins)).filter((r) => /^x+$/.test(r))).toEqual([fullLine]);
    if (process.env.NSLAB_E2E_SHOTS) await ins.screenshot({ path: path.join(process.env.NSLAB_E2E_SHOTS, 'board-watch-learner-size.png'), fullPage: true });

    // the learner's window shrinks: the watch view follows
    await learner.setViewportSize({ width: 1100, height: 700 });
    // the page refits its terminal a moment after the window changed: ask the shell until it knows
    let smaller = size;
    for (let i = 0; i < 50 && smaller.cols >= size.cols; i++) smaller = await sttySize(learner, `SMALLER${i}`);
    expect(smaller.cols).toBeLessThan(size.cols);
    await ins.waitForFunction((n) => document.querySelectorAll('.cr-watch .cr-watch-screen:not([hidden]) .xterm-rows > div').length === n, smaller.rows, { timeout: WAIT });
    await typeLine(learner, `printf '%*s\\n' ${smaller.cols} '' | tr ' ' y`);
    const yLine = 'y'.repeat(smaller.cols);
    await ins.waitForFunction((line) => [...document.querySelectorAll('.cr-watch .xterm-rows > div')].some((d) => (d.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd() === line), yLine, { timeout: WAIT });

    // the board's theme switch reaches the watched terminal
    // (the text colour of the terminal theme: light #1d2433, dark #dfe3ee)
    const textColour = () => ins.$eval('.cr-watch .cr-watch-screen:not([hidden]) .xterm-rows', (el) => getComputedStyle(el).color);
    expect(await textColour()).toBe('rgb(29, 36, 51)');
    await ins.emulateMedia({ colorScheme: 'dark' });
    await ins.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
    await ins.waitForFunction(() => getComputedStyle(document.querySelector('.cr-watch .cr-watch-screen:not([hidden]) .xterm-rows')!).color === 'rgb(223, 227, 238)', null, { timeout: WAIT });

    expect(learnerErrors).toEqual([]);
    expect(insErrors).toEqual([]);
    await lctx.close();
    await ictx.close();
  });
});

describe('the board shows a passed step whose state is gone', () => {
  it('after the learner leaves the shell that held it: still passed and counted, marked, with what is missing in the instructor\'s language', async () => {
    const created = await call(env.srv.base, 'POST', '/api/classroom/workshops', { token: SECRET, body: { title: 'State gone', lessons: ['ipc-namespace'] } });
    const code = (created.body as { code: string }).code;
    const lctx = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const learner = await lctx.newPage();
    await learner.goto(`${env.srv.base}/#/join/${code}`);
    await learner.waitForSelector('form.cr-join');
    await learner.fill('#join-name', 'Ana');
    await learner.click('form.cr-join button[type=submit]');
    await learner.waitForSelector('.cr-lesson[data-lesson="ipc-namespace"] a', { timeout: WAIT });
    await learner.click('.cr-lesson[data-lesson="ipc-namespace"] a');
    await learner.waitForSelector('.conn-open', { timeout: WAIT });
    await waitRow(learner, /[#$] ?$/);
    const passed = (step: string) => learner.waitForSelector(`section.nslab-step[data-step="${step}"][data-state="pass"]`, { timeout: WAIT });
    await typeLine(learner, 'echo $$; ls -l /proc/$$/ns');
    await passed('inspect-shell');
    await typeLine(learner, 'unshare --ipc bash');
    await passed('unshare-ipc');
    await typeLine(learner, 'ipcmk --queue');
    await passed('create-queue');

    const ictx = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const ins = await ictx.newPage();
    const insErrors: string[] = [];
    ins.on('pageerror', (e) => insErrors.push(e.message));
    await ins.goto(`${env.srv.base}/#/instructor/${SECRET}`);
    await ins.waitForSelector('form.cr-create', { timeout: WAIT });
    await ins.goto(`${env.srv.base}/#/instructor/w/${code}`);
    const cell = 'tr[data-learner-row="Ana"] td[data-step="ipc-namespace/create-queue"]';
    await ins.waitForSelector(`${cell}[data-status="pass"]`, { timeout: WAIT });
    // the near miss: the queue is there, so the pass is a plain one
    expect(await ins.getAttribute(cell, 'data-stale')).toBeNull();

    await typeLine(learner, 'exit');
    await ins.waitForSelector(`${cell}[data-stale="true"]`, { timeout: WAIT });
    expect(await ins.getAttribute(cell, 'data-status')).toBe('pass');
    expect(await ins.getAttribute(cell, 'title')).toMatch(/passed earlier; its state is gone: No process is in a new IPC namespace/);
    // each step's check reports on its own (a slow one after the round's first push)
    await ins.waitForSelector('tr[data-learner-row="Ana"] td[data-step="ipc-namespace/unshare-ipc"][data-stale="true"]', { timeout: WAIT });
    expect(await ins.getAttribute('tr[data-learner-row="Ana"] td[data-step="ipc-namespace/inspect-shell"]', 'data-stale')).toBeNull();
    // still counted as passed
    expect(await ins.textContent('td[data-count="ipc-namespace/create-queue"]')).toBe('1');
    await ins.selectOption('#lang-select', 'ko');
    await ins.waitForFunction((sel) => /이전에 통과함 · 만든 것은 사라짐: 새 IPC 네임스페이스에 있는 프로세스가 없습니다/.test(document.querySelector(sel)?.getAttribute('title') ?? ''), cell, { timeout: WAIT });

    // redone: the mark goes
    await typeLine(learner, 'unshare --ipc bash');
    await typeLine(learner, 'ipcmk --queue');
    await ins.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-stale') === null, cell, { timeout: WAIT });
    expect(insErrors).toEqual([]);
    await lctx.close();
    await ictx.close();
  });
});

describe('the watch view shows the learner\'s namespace map', () => {
  it('beside the terminal, live, on the instructor\'s own kind, and only while it is shown', async () => {
    const created = await call(env.srv.base, 'POST', '/api/classroom/workshops', { token: SECRET, body: { title: 'Maps', lessons: ['ipc-namespace'] } });
    const code = (created.body as { code: string }).code;
    const lctx = await env.browser.newContext({ viewport: { width: 1440, height: 900 } });
    // the learner keeps the map closed: the board's look must not depend on theirs
    await lctx.addInitScript(() => localStorage.setItem('nslab.nsmap.open', '0'));
    const learner = await lctx.newPage();
    const errors: string[] = [];
    learner.on('pageerror', (e) => errors.push(e.message));
    await learner.goto(`${env.srv.base}/#/join/${code}`);
    await learner.fill('#join-name', 'Ada');
    await learner.click('form.cr-join button[type=submit]');
    await learner.waitForSelector('.cr-lesson[data-lesson="ipc-namespace"] a', { timeout: WAIT });
    await learner.click('.cr-lesson[data-lesson="ipc-namespace"] a');
    await learner.waitForSelector('.conn-open', { timeout: WAIT });
    await waitRow(learner, /[#$] ?$/);

    const ictx = await env.browser.newContext({ viewport: { width: 1600, height: 1000 } });
    await ictx.addInitScript(() => localStorage.setItem('nslab.board.map', '0'));
    const ins = await ictx.newPage();
    ins.on('pageerror', (e) => errors.push(e.message));
    const sent: string[] = [];
    ins.on('websocket', (ws) => ws.on('framesent', (f) => { if (typeof f.payload === 'string' && f.payload.includes('"watch-map')) sent.push((JSON.parse(f.payload) as { type: string }).type); }));
    await ins.goto(`${env.srv.base}/#/instructor/${SECRET}`);
    await ins.waitForSelector('form.cr-create', { timeout: WAIT });
    await ins.goto(`${env.srv.base}/#/instructor/w/${code}`);
    await ins.waitForSelector('tr[data-learner-row="Ada"]', { timeout: WAIT });
    await ins.click('button.cr-name[data-learner]');
    await ins.waitForSelector('.cr-map-toggle');
    expect(await ins.getAttribute('.cr-map-toggle', 'aria-expanded')).toBe('false');
    await ins.waitForTimeout(500);
    expect(sent).toEqual([]);

    // the map opens beside the watched terminal
    await ins.click('.cr-map-toggle');
    await ins.waitForSelector('#cr-watch-map:not([hidden]) .nsmap-ns.is-sandbox', { timeout: WAIT });
    expect(sent).toEqual(['watch-map-subscribe']);
    const term = (await ins.locator('.cr-watch').boundingBox())!;
    const map = (await ins.locator('#cr-watch-map').boundingBox())!;
    expect(map.x).toBeGreaterThanOrEqual(term.x + term.width - 1);

    // the learner moves terminal 1 into a new IPC namespace and makes a queue there
    await typeLine(learner, 'unshare --ipc bash');
    await typeLine(learner, 'ipcmk --queue');
    const m = await waitRow(learner, /Message queue id: (\d+)/);
    await ins.waitForFunction((qid) => [...document.querySelectorAll<HTMLElement>('#cr-watch-map .nsmap-ns:not(.is-sandbox)')].some((ns) =>
      ns.querySelector('.nsmap-ns-terms [data-terminal="1"]') && [...ns.querySelectorAll('.nsmap-group[data-group="msg"] .nsmap-item')].some((i) => i.getAttribute('data-key') === `msg:${qid}`)), m[1], { timeout: WAIT });
    // the learner's own map stayed closed: the board's subscription did not open it
    expect(await learner.locator('.nsmap-drawer').isHidden()).toBe(true);

    // the instructor's own kind, picked on the board
    await ins.click('#cr-watch-map .nsmap-kind[data-kind="uts"]');
    await ins.waitForSelector('#cr-watch-map .nsmap-canvas[data-kind="uts"] .nsmap-ns.is-sandbox');

    // closed: the board stops asking
    await ins.click('#cr-watch-map .nsmap-close');
    expect(await ins.locator('#cr-watch-map').isHidden()).toBe(true);
    await expect.poll(() => sent).toEqual(['watch-map-subscribe', 'watch-map-unsubscribe']);
    expect(await ins.evaluate(() => document.activeElement?.classList.contains('cr-map-toggle'))).toBe(true);

    expect(errors).toEqual([]);
    await lctx.close();
    await ictx.close();
  });
});
