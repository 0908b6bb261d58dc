/**
 * A hostile learner against the INSTRUCTOR's page (docs/security.md, threat model: cross-learner).
 * Everything a learner controls that reaches the board: their display name (grid
 * row, watch header, grading-run table), the check messages their sandbox produces
 * (a hostname full of HTML ends up in the failure message of sample-hostname's
 * second step: cell and "current step" tooltips), the commands they type and
 * everything their shell prints (the read-only watch view: HTML, an OSC title with
 * HTML, OSC 8 `javascript:`/`data:` hyperlinks, an OSC 52 clipboard write).
 *
 * Real Chromium, real lab server with the classroom wired in as `nslab serve` does,
 * real SQLite file, real sandboxes. Asserted on the instructor's page: no script
 * runs (marker unset, no dialog, no CSP violation report, no console complaint, no
 * injected element, no navigation or popup), the payloads appear as text, the CSP
 * forbids inline script, the clipboard keeps what it had, and the board keeps
 * working (rows there, progress still arrives live, watching again replays).
 */
import { type BrowserContext, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { call, createWorkshop, join, SECRET } from '../classroom/helpers.ts';
import { classroomInChromium } from '../browser.ts';
import { guardHost } from '../host-guard.ts';

// the host's /dev owners and modes and its cgroup counts are the same after this file
guardHost();

const WAIT = 60_000;

/** the hostile learner, who joins through the real join form (its input has maxlength 40) */
const HOSTILE = '<img src=x onerror="window.__pwned=1">';
/** more hostile names, joined over HTTP; every one of them is a legal name and must show as text */
const OTHER_NAMES = [
  '"><svg onload=window.__pwned=2>',
  'javascript:window.__pwned=3',
  '</script><script>__pwned=4</script>',
  '{name} {reason} '.padEnd(40, 'W'), // the longest name allowed, with placeholders of the board's strings
];
/** the learner's own hostname, which the second step's check quotes in its failure message (at most 64 bytes) */
const HOSTNAME = '<svg onload=window.__pwned=6>';
const CLIP_SENTINEL = 'nslab-clipboard-sentinel';

const env = classroomInChromium('nslab-sec-board-');

async function rowsOf(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (rows) => rows.map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()));
}

async function waitForRows(page: Page, selector: string, pred: (rows: string[]) => boolean, what: string): Promise<string[]> {
  const deadline = Date.now() + WAIT;
  let rows: string[] = [];
  while (Date.now() < deadline) {
    rows = await rowsOf(page, selector);
    if (pred(rows)) return rows;
    await page.waitForTimeout(100);
  }
  throw new Error(`${selector} never showed ${what}; screen:\n${rows.join('\n')}`);
}

const LEARNER_TERM = '.term-panel[data-terminal="1"] .xterm-rows > div';
const WATCH_TERM = '.cr-watch .cr-watch-screen:not([hidden]) .xterm-rows > div';

async function typeInto(page: Page, text: string): Promise<void> {
  await page.locator('.term-panel[data-terminal="1"] .xterm-helper-textarea').focus();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** what a script run by a payload would leave behind on the instructor's page */
async function injectionState(page: Page) {
  return page.evaluate(() => {
    const w = window as unknown as { __pwned?: unknown; __cspViolations?: string[] };
    return {
      pwned: w.__pwned ?? null,
      cspViolations: w.__cspViolations ?? ['(the init script did not run)'],
      // elements only markup could have made: the app builds none of these (its svgs are icons and the join link's QR code)
      injected: [...document.querySelectorAll('img, iframe, object, embed, [onerror], [onload], [onclick], svg:not(.icon):not(.qr-code)')].map((e) => e.outerHTML.slice(0, 120)),
      inlineScripts: [...document.scripts].filter((s) => !s.src).map((s) => s.textContent?.slice(0, 80)),
      jsLinks: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')!).filter((href) => !/^(#|https?:|blob:)/.test(href)),
    };
  });
}
const CLEAN = { pwned: null, cspViolations: [], injected: [], inlineScripts: [], jsLinks: [] };

/** one row per learner: the attributes and the text of the name button, exactly */
async function boardNames(page: Page) {
  return page.$$eval('tr[data-learner-row]', (rows) => rows.map((r) => {
    const b = r.querySelector('button.cr-name');
    return { row: r.getAttribute('data-learner-row'), text: b?.textContent ?? null, title: b?.getAttribute('title') ?? null, id: b?.getAttribute('data-learner') ?? null };
  }));
}

async function cellOf(page: Page, learnerId: string, step: string) {
  return page.evaluate(([id, s]) => {
    const row = document.querySelector(`button.cr-name[data-learner="${CSS.escape(id)}"]`)?.closest('tr');
    const cell = row?.querySelector(`td[data-step="${CSS.escape(s)}"]`);
    return cell ? { status: cell.getAttribute('data-status'), title: cell.getAttribute('title'), current: row!.querySelector('td.cr-current')?.getAttribute('title') ?? null } : null;
  }, [learnerId, step] as const);
}

async function waitForCell(page: Page, learnerId: string, step: string, pred: (c: { status: string | null; title: string | null; current: string | null }) => boolean, what: string) {
  const deadline = Date.now() + WAIT;
  let c: Awaited<ReturnType<typeof cellOf>> = null;
  while (Date.now() < deadline) {
    c = await cellOf(page, learnerId, step);
    if (c && pred(c)) return c;
    await page.waitForTimeout(100);
  }
  throw new Error(`board cell ${step} of ${learnerId} never showed ${what}: ${JSON.stringify(c)}`);
}

describe('a hostile learner against the instructor board', () => {
  it('display names: HTML is a legal name (shown as text); too long, control, bidi, zero-width and invisible names get a clear 400', async () => {
    const w = await createWorkshop(env.srv.base, ['sample-hostname'], 'Names');
    const tryJoin = (name: unknown) => call(env.srv.base, 'POST', '/api/classroom/join', { body: { code: w.code, name } });
    // the server stores what the learner typed, unchanged: escaping is the page's job
    for (const name of [HOSTILE, ...OTHER_NAMES]) {
      const r = await tryJoin(name);
      expect(r.status, name).toBe(201);
      expect(r.body.learner.name).toBe(name);
    }
    // whitespace is collapsed (a newline cannot break a CSV row or the board's layout)
    expect((await tryJoin('  Ann\n\tLee  ')).body.learner?.name).toBe('Ann Lee');
    const refused: [unknown, RegExp][] = [
      ['x'.repeat(41), /at most 40 characters/],
      ['<'.repeat(5000), /at most 40 characters/],
      ['', /enter your name/],
      ['   \n ', /enter your name/],
      [42, /expected string/],
      ['Ada\u202Eexe.txt', /cannot be shown/], // right-to-left override
      ['Ada\u2066\u2069', /cannot be shown/], // bidi isolates
      ['A\u200Bda', /cannot be shown/], // zero-width space
      ['A\u200Dda', /cannot be shown/], // zero-width joiner
      ['\u00ADAda', /cannot be shown/], // soft hyphen
      ['Ada\u0007', /cannot be shown/], // BEL
      ['\u001b[2J\u001b]0;x\u0007Ada', /cannot be shown/], // terminal escapes (the CLI prints names)
      ['Ada\u0000', /cannot be shown/],
      ['\uE000', /cannot be shown/], // private use
      // letters and symbols that render as nothing: an invisible learner, or a second "Ada"
      ['\u3164', /cannot be shown/], // Hangul filler
      ['Ada\u3164', /cannot be shown/],
      ['\u115F\u1160', /cannot be shown/],
      ['\uFFA0', /cannot be shown/],
      ['\u2800', /cannot be shown/], // braille blank
      ['Ad\u034Fa', /cannot be shown/], // combining grapheme joiner
      ['\u0301\u0301', /letter, digit or symbol/], // accents on nothing
      [`Z${'\u0301'.repeat(30)}`, /accent marks/], // "zalgo": marks stacked over the rows above and below
    ];
    for (const [name, msg] of refused) {
      const r = await tryJoin(name);
      const label = JSON.stringify(name).slice(0, 60);
      expect({ label, status: r.status, code: r.body.error?.code }).toEqual({ label, status: 400, code: 'bad-request' });
      expect(r.body.error.message, label).toMatch(msg);
    }
    // ordinary names of every script keep working, emoji with a variation selector too
    for (const name of ['Zoë', 'Nguyễn Thị Ánh', 'ที่ดี', 'محمد', 'יעל', '김민지', '王小明', 'श्रीनिवास', '❤️ Ann', "O'Brien-Smith"]) {
      const r = await tryJoin(name);
      expect(r.status, name).toBe(201);
      expect(r.body.learner.name).toBe(name.normalize('NFC'));
    }
  });

  it('names, check messages and terminal output of a hostile learner run no script on the board, which keeps working', async () => {
    const ws = await createWorkshop(env.srv.base, ['sample-hostname'], 'Hostile room');
    for (const name of OTHER_NAMES) await join(env.srv.base, ws.code, name);

    // ---------------------------------------------------------------- instructor
    const insCtx = await env.browser.newContext({ viewport: { width: 1500, height: 950 } });
    await insCtx.addInitScript(() => {
      const w = window as unknown as { __cspViolations: string[] };
      w.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => w.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
    });
    await insCtx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.srv.base });
    const ins = await insCtx.newPage();
    const errors: string[] = [];
    const consoleLines: string[] = [];
    const dialogs: string[] = [];
    const popups: Page[] = [];
    const navigations: string[] = [];
    ins.on('pageerror', (e) => errors.push(e.message));
    ins.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    ins.on('dialog', (d) => { dialogs.push(`${d.type()}: ${d.message()}`); void d.dismiss(); });
    ins.on('framenavigated', (f) => { if (f === ins.mainFrame()) navigations.push(f.url()); });
    insCtx.on('page', (p) => popups.push(p));
    let learnerCtx: BrowserContext | null = null;
    try {
      const doc = await ins.goto(`${env.srv.base}/#/instructor/${SECRET}`);
      // the page that hosts the board: scripts from the origin only, never inline or eval'd
      const csp = Object.fromEntries((doc!.headers()['content-security-policy'] ?? '').split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
      expect(csp['script-src']).toEqual(["'self'"]);
      expect(csp['object-src']).toEqual(["'none'"]);
      expect(csp['base-uri']).toEqual(["'none'"]);
      expect(csp['default-src']).toEqual(["'self'"]);
      await ins.waitForSelector('form.cr-create');
      await ins.evaluate((c) => { location.hash = `#/instructor/w/${c}`; }, ws.code);
      await ins.waitForSelector('.cr-big-code', { timeout: WAIT });
      const boardUrl = ins.url();
      const titleBefore = await ins.title();
      await ins.evaluate((s) => navigator.clipboard.writeText(s), CLIP_SENTINEL);
      expect(await ins.evaluate(() => navigator.clipboard.readText())).toBe(CLIP_SENTINEL);

      // ---------------------------------------------------------- the hostile learner
      learnerCtx = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
      const lp = await learnerCtx.newPage();
      await lp.goto(`${env.srv.base}/#/join/${ws.code}`);
      await lp.fill('#join-name', HOSTILE);
      await lp.click('form.cr-join button[type=submit]');
      await lp.click('.cr-lesson[data-lesson="sample-hostname"] a', { timeout: WAIT });
      await lp.waitForSelector('.conn-open', { timeout: WAIT });
      await waitForRows(lp, LEARNER_TERM, (r) => r.some((x) => /[#$] ?$/.test(x)), 'a prompt');

      // every name is in the grid, literally, as text and in attributes
      const all = [HOSTILE, ...OTHER_NAMES];
      const deadline = Date.now() + WAIT;
      while (Date.now() < deadline && (await boardNames(ins)).length < all.length) await ins.waitForTimeout(100);
      const names = await boardNames(ins);
      expect(names.map((n) => n.text).sort()).toEqual([...all].sort());
      for (const n of names) {
        expect(n.row).toBe(n.text);
        expect(n.title).toBe(`Watch ${n.text} (read-only)`);
      }
      const hostileId = names.find((n) => n.text === HOSTILE)!.id!;
      expect(await injectionState(ins)).toEqual(CLEAN);

      // the instructor watches the hostile learner before the attack: the payloads arrive live
      await ins.click(`button.cr-name[data-learner="${hostileId}"]`);
      expect(await ins.textContent('.cr-watch-head strong')).toBe(`Watch ${HOSTILE} (read-only)`);
      await waitForRows(ins, WATCH_TERM, (r) => r.some((x) => /[#$] ?$/.test(x)), 'the learner\'s prompt');

      // terminal output: HTML, an OSC title with HTML, OSC 8 javascript:/data: links, OSC 52
      // (through a file, so the typed command line is harmless and the output is the payload)
      await typeInto(lp, [
        "printf '%s\\n' '<img src=x onerror=window.__pwned=11>' '<script>window.__pwned=12</script>' '<a href=javascript:window.__pwned=13>link</a>' > /tmp/p",
        "printf '\\e]0;<img src=x onerror=window.__pwned=14>\\a\\e]2;<svg onload=window.__pwned=15>\\a' >> /tmp/p",
        "printf '\\e]8;;javascript:window.__pwned=16;document.title=\"PWNED\"\\e\\\\CLICKME\\e]8;;\\e\\\\\\n' >> /tmp/p",
        "printf '\\e]8;;data:text/html,<script>opener.__pwned=17</script>\\e\\\\CLICKDATA\\e]8;;\\e\\\\\\n' >> /tmp/p",
        "printf '\\e]52;c;cHduZWQ=\\a\\e]52;p;cHduZWQ=\\a' >> /tmp/p",
      ].join('; '));
      await typeInto(lp, 'cat /tmp/p; echo inj-$((6*7))');
      await waitForRows(lp, LEARNER_TERM, (r) => r.includes('inj-42'), 'the end of the payload');
      const watched = await waitForRows(ins, WATCH_TERM, (r) => r.includes('inj-42'), 'the end of the payload');
      expect(watched).toContain('<img src=x onerror=window.__pwned=11>');
      expect(watched).toContain('<script>window.__pwned=12</script>');
      expect(watched).toContain('<a href=javascript:window.__pwned=13>link</a>');

      // click the hyperlinks in the watch view (xterm 6 does not even make non-http(s) OSC 8 links clickable)
      for (const label of ['CLICKME', 'CLICKDATA']) {
        const box = await ins.$$eval(WATCH_TERM, (rows, l) => {
          const b = rows.find((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trim() === l)?.getBoundingClientRect();
          return b ? { x: b.left, y: b.top, h: b.height } : null;
        }, label);
        expect(box, label).not.toBeNull();
        await ins.mouse.move(box!.x + 10, box!.y + box!.h / 2);
        await ins.mouse.move(box!.x + 20, box!.y + box!.h / 2);
        await ins.mouse.click(box!.x + 20, box!.y + box!.h / 2);
        await ins.waitForTimeout(500);
      }

      // a command whose text is HTML, and which passes the first step: the board gets the pass live
      const cmd = 'readlink /proc/$$/ns/uts # <img src=x onerror=window.__pwned=5>';
      await typeInto(lp, cmd);
      await waitForCell(ins, hostileId, 'sample-hostname/look', (c) => c.status === 'pass', 'a pass');
      // (the watch view is narrower than the learner's terminal: compare with the wrapping and spacing taken out)
      const squeeze = (x: string) => x.replace(/\s+/g, '');
      expect(squeeze((await rowsOf(ins, WATCH_TERM)).join(''))).toContain(squeeze(cmd));

      // a hostname of HTML: the next step's check quotes it in its failure message (cell and "current step" tooltips)
      // (sethostname(2) itself: /proc/sys is read-only in the sandbox and hostname(1) refuses such names)
      await typeInto(lp, `python3 -c "import socket; socket.sethostname('${HOSTNAME}')"; hostname`);
      const failed = await waitForCell(ins, hostileId, 'sample-hostname/new-uts', (c) => c.status === 'fail', 'the failure');
      expect(failed.title).toContain(`"${HOSTNAME}"`);
      expect(failed.current).toContain(`"${HOSTNAME}"`);
      await waitForRows(ins, WATCH_TERM, (r) => r.includes(HOSTNAME), 'the new hostname');

      await ins.waitForTimeout(500);
      expect(await injectionState(ins)).toEqual(CLEAN);
      expect(await ins.title()).toBe(titleBefore);
      expect(ins.url()).toBe(boardUrl);

      // watching again replays the scrollback (the same bytes, in one go)
      await ins.click('.cr-watch-head button');
      await ins.click(`button.cr-name[data-learner="${hostileId}"]`);
      const replay = await waitForRows(ins, WATCH_TERM, (r) => r.includes(HOSTNAME) && r.includes('inj-42'), 'the replayed payload');
      expect(replay).toContain('<img src=x onerror=window.__pwned=11>');
      expect(await injectionState(ins)).toEqual(CLEAN);

      // the board still works: the learner finishes the second step, the board shows it live
      await typeInto(lp, 'hostname nslab; unshare --uts bash');
      await typeInto(lp, 'hostname box1; echo renamed-$((40+2))');
      await waitForCell(ins, hostileId, 'sample-hostname/new-uts', (c) => c.status === 'pass', 'the second step passed');
      await waitForRows(ins, WATCH_TERM, (r) => r.includes('renamed-42'), 'output after the attack');

      // an attached grading run shows the learner's name in its own table; the first paint comes over HTTP
      const posted = await call(env.srv.base, 'POST', `/api/classroom/workshops/${ws.code}/grading-runs`, { token: SECRET, body: { report: { lesson: 'sample-hostname', steps: [], passed: 1, total: 3 }, learner: HOSTILE, source: 'hostile.txt' } });
      expect(posted.status).toBe(201);
      await ins.reload();
      await ins.waitForSelector('.cr-runs-table td:has-text("hostile.txt")', { timeout: WAIT });
      expect(await ins.$$eval('.cr-runs-table tbody tr td:first-child', (tds) => tds.map((td) => td.textContent))).toEqual([HOSTILE]);
      expect((await boardNames(ins)).map((n) => n.text).sort()).toEqual([...all].sort());
      expect(await injectionState(ins)).toEqual(CLEAN);

      // nothing ran, nothing complained, nothing navigated, opened or asked
      expect(errors).toEqual([]);
      expect(consoleLines.filter((l) => /pwned|refused|content security policy|unsafe/i.test(l))).toEqual([]);
      expect(dialogs).toEqual([]);
      expect(popups.length).toBe(0);
      expect(navigations.filter((u) => !u.startsWith(`${env.srv.base}/`))).toEqual([]);
      expect(await ins.title()).toBe(titleBefore);
      // OSC 52 did not reach the clipboard (the watch view has no clipboard handler)
      expect(await ins.evaluate(() => navigator.clipboard.readText())).toBe(CLIP_SENTINEL);
    } finally {
      await learnerCtx?.close();
      await insCtx.close();
    }
  });
});
