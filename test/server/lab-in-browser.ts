/**
 * The fixture every learner-side browser test shares: a private build of the web app,
 * the real lab server on a loopback port (real sandboxes, the real lesson engine) and
 * Debian's Chromium, set up once per file and torn down after it.
 */
import { createServer as createTcpServer, connect, type AddressInfo, type Socket } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { createLessonsPlugin } from '../../lab-server/checks/plugin.ts';
import type { AppOptions } from '../../lab-server/http/app.ts';
import { buildWeb, launchChromium, removeWebBuild, terminalRows } from '../browser.ts';
import { startServer, type TestServer } from './client.ts';

export interface LabInBrowser { readonly srv: TestServer; readonly browser: Browser; /** the private build, for a second server in the same file */ readonly webRoot: string }

/**
 * Registers the set-up and tear-down in the calling file; the fields are there once
 * its beforeAll ran. `buildPrefix` names the private build's temp directory (a build
 * of its own: web/dist may be mid-rebuild by someone running `npm run dev`).
 */
export function labInBrowser(buildPrefix: string, server: Partial<AppOptions> = {}): LabInBrowser {
  let webRoot = '';
  let srv: TestServer | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    webRoot = await buildWeb(buildPrefix);
    // every test opens sessions from 127.0.0.1: the per-address creation limit is not
    // what these tests are about (a file that tests it passes its own limits)
    srv = await startServer({ lessons: createLessonsPlugin({ log: () => {} }), webRoot, createBurst: 100, createPerMinute: 600, ...server });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    if (webRoot) await removeWebBuild(webRoot);
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is not up: use it inside tests, after labInBrowser's beforeAll`);
    return v;
  };
  return {
    get srv() { return need(srv, 'the lab server'); },
    get browser() { return need(browser, 'Chromium'); },
    get webRoot() { return need(webRoot || undefined, 'the web build'); },
  };
}

/** generous: a sandbox start or a check on a loaded 2-core box is slow, and these are not timing tests */
export const WAIT = 60_000;

/** what the learner would see besides the terminal: for failure messages */
export async function pageState(page: Page): Promise<string> {
  return page.evaluate(() => {
    const banner = document.querySelector('.banner')?.textContent ?? 'none';
    const conn = document.querySelector('.conn')?.className ?? '?';
    const notice = document.querySelector('.notice.is-visible')?.textContent ?? 'none';
    return `banner: ${banner}; connection: ${conn}; notice: ${notice}`;
  }).catch((e: Error) => `page state unavailable: ${e.message}`);
}

/** until a row of terminal n's screen satisfies `pred`; the rows then */
export async function waitForRow(page: Page, n: number, pred: (row: string) => boolean, what: string): Promise<string[]> {
  const deadline = Date.now() + WAIT;
  let rows: string[] = [];
  while (Date.now() < deadline) {
    rows = await terminalRows(page, n);
    if (rows.some(pred)) return rows;
    await page.waitForTimeout(100);
  }
  throw new Error(`terminal ${n} never showed ${what}; ${await pageState(page)}; screen:\n${rows.join('\n')}`);
}

/**
 * The sessions this page started (one per lesson it opened): ended now, not at their idle
 * timeout, so that later tests find room and the machine is not kept busy.
 */
export async function endSessions(page: Page, base: string): Promise<void> {
  const stored = await page.evaluate(() => Object.keys(sessionStorage)
    .filter((k) => k.startsWith('nslab.session.'))
    .map((k) => JSON.parse(sessionStorage.getItem(k)!) as { id: string; token: string })).catch(() => []);
  for (const s of stored) {
    await fetch(`${base}/api/sessions/${s.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } }).catch(() => {});
  }
}

/** a line typed into terminal n as a learner would: its tab, its input, Enter */
export async function typeInto(page: Page, n: number, text: string): Promise<void> {
  await page.click(`.term-tab[data-terminal="${n}"]`);
  await page.locator(`.term-panel[data-terminal="${n}"] .xterm-helper-textarea`).focus();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/**
 * After the learner's click on Reset: the banner goes, the terminal is uncovered,
 * and it holds nothing but the fresh shell's first prompt.
 */
export async function expectOnlyFreshPrompt(page: Page): Promise<void> {
  await page.locator('.banner').waitFor({ state: 'detached', timeout: WAIT }).catch(async (e: Error) => {
    throw new Error(`${e.message}; ${await pageState(page)}`);
  });
  await page.locator('.term-cover').waitFor({ state: 'hidden', timeout: WAIT });
  const deadline = Date.now() + WAIT;
  let rows: string[] = [];
  while (Date.now() < deadline) {
    rows = (await terminalRows(page, 1)).filter((r) => r !== '');
    if (rows.length === 1 && /[#$] ?$/.test(rows[0]!)) break;
    await page.waitForTimeout(100);
  }
  expect(rows, await pageState(page)).toHaveLength(1);
}

/**
 * A TCP relay in front of the lab server, for real network trouble: `cut()` drops
 * every connection through it (a blip), `down()` also stops listening (an outage),
 * `up()` listens again on the same port.
 */
export async function tcpRelay(target: string): Promise<{ base: string; cut(): void; down(): Promise<void>; up(): Promise<void>; close(): void }> {
  const conns = new Set<Socket>();
  const relay = createTcpServer((client) => {
    const upstream = connect(Number(new URL(target).port), '127.0.0.1');
    client.pipe(upstream).pipe(client);
    for (const s of [client, upstream]) {
      conns.add(s);
      s.on('error', () => {});
      s.on('close', () => conns.delete(s));
    }
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const port = (relay.address() as AddressInfo).port;
  const cut = () => { for (const c of conns) c.destroy(); };
  return {
    base: `http://127.0.0.1:${port}`,
    cut,
    down: () => new Promise<void>((r) => { relay.close(() => r()); cut(); }),
    up: () => new Promise<void>((r) => relay.listen(port, '127.0.0.1', r)),
    close: () => { relay.close(); },
  };
}
