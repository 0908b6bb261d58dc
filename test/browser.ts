/** What every browser test needs: a private web build, Debian's Chromium, and terminal text. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll } from 'vitest';
import { startClassroomServer, type ClassroomServer } from './classroom/helpers.ts';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * A private build of web/: dist/web may be mid-rebuild by someone running
 * `npm run dev` or `build`. Returns its directory; removeWebBuild deletes it.
 */
export async function buildWeb(prefix: string): Promise<string> {
  const webRoot = await mkdtemp(path.join(tmpdir(), prefix));
  await build({ configFile: path.join(ROOT, 'vite.config.ts'), logLevel: 'warn', build: { outDir: webRoot, emptyOutDir: true } });
  return webRoot;
}

export async function removeWebBuild(webRoot: string | undefined): Promise<void> {
  if (webRoot) await rm(webRoot, { recursive: true, force: true });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** the visible text of terminal n, one string per screen row */
export function terminalRows(page: Page, n: number): Promise<string[]> {
  return page.$$eval(`.term-panel[data-terminal="${n}"] .xterm-rows > div`, (rows) => rows.map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()));
}

/**
 * For one test file: a classroom server serving a private web build, and Chromium.
 * The fields are set once the file's beforeAll has run.
 */
export function classroomInChromium(prefix: string): { webRoot: string; srv: ClassroomServer; browser: Browser } {
  const env = {} as { webRoot: string; srv: ClassroomServer; browser: Browser };
  beforeAll(async () => {
    env.webRoot = await buildWeb(prefix);
    env.srv = await startClassroomServer({ app: { webRoot: env.webRoot } });
    env.browser = await launchChromium();
  });
  afterAll(async () => {
    await env.browser?.close();
    await env.srv?.close();
    await removeWebBuild(env.webRoot);
  });
  return env;
}
