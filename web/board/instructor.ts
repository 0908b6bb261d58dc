/**
 * Instructor pages: the link with the secret, the workshop list and creation form,
 * and the live board (learners × steps, counts, time on step, stuck learners,
 * read-only watch, exports, close).
 */
import { ApiError } from '../api.ts';
import { h, icon, setChildren } from '../dom.ts';
import { getLang, onLangChange, t } from '../i18n.ts';
import { snapshotModel } from '../nsmap/adapt.ts';
import { NamespaceMapPanel } from '../nsmap/panel.ts';
import type { PageFactory } from '../router.ts';
import type { BoardCell, BoardClientMessage, BoardData, BoardServerMessage } from '../../lab-server/contract/board-protocol.ts';
import { confirmDialog } from '../confirm.ts';
import { classroomApi, classroomHref } from './client.ts';
import { joinQrSvg, projectJoin } from './join-qr.ts';
import { ct, locale } from './strings.ts';
import { localizeBoard, localTitles, type LessonTitles } from './titles.ts';
import { WatchView } from './watch.ts';

const errorText = (e: unknown) => (e instanceof ApiError ? e.message : String(e));

/**
 * A check message in the instructor's language: the board carries it in every
 * language the lesson has; rows from before that (or untranslated text) have only
 * the learner's language.
 */
const inMyLanguage = (m: { message: string | null; messages: Record<string, string> | null }) => m.messages?.[getLang()] ?? m.message;

/** a cell's hover text: the check's message, or for a passed step whose state is gone, that and what is missing now */
function cellNote(c: BoardCell): string | null {
  if (!c.stale) return inMyLanguage(c);
  const missing = inMyLanguage(c.stale);
  return missing ? `${ct('board.stateGone')}: ${missing}` : ct('board.stateGone');
}

/**
 * #/instructor/SECRET: the secret leaves the address bar and history at once, and is
 * traded for this browser's sign-in cookie; then on to the instructor page.
 */
export const instructorLinkPage: PageFactory = (root, params) => {
  history.replaceState(null, '', `${location.pathname}${location.search}${classroomHref.instructor()}`);
  let disposed = false;
  root.append(h('section', { class: 'page cr-page' }, h('div', { class: 'cr-card' }, h('p', { class: 'muted', role: 'status' }, ct('ins.signingIn')))));
  classroomApi.signIn(params.secret).then(() => {
    if (!disposed) dispatchEvent(new HashChangeEvent('hashchange'));
  }, (e: unknown) => {
    if (disposed) return;
    root.replaceChildren();
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) needSecret(root, true);
    else root.append(h('section', { class: 'page cr-page' }, h('div', { class: 'callout callout-error', role: 'alert' }, ct('common.error', { msg: errorText(e) }))));
  });
  return { unmount() { disposed = true; } };
};

const notSignedIn = (e: unknown) => e instanceof ApiError && (e.status === 401 || e.status === 403);

function needSecret(root: HTMLElement, bad: boolean): void {
  root.append(h('section', { class: 'page cr-page' }, h('div', { class: 'cr-card' },
    h('h1', null, ct('ins.title')), h('p', null, ct(bad ? 'ins.badSecret' : 'ins.noSecret')))));
}

/** "Sign out" (this browser) and "Sign out everywhere" (every browser signed in as the instructor) */
function signOutControls(root: HTMLElement): HTMLElement {
  const out = h('button', { type: 'button', class: 'button button-ghost', 'data-sign-out': '' }, ct('ins.signOut'));
  const all = h('button', { type: 'button', class: 'button button-ghost', 'data-sign-out-all': '' }, ct('ins.signOutAll'));
  const go = (everywhere: boolean) => classroomApi.signOut(everywhere).then(() => {
    root.replaceChildren();
    needSecret(root, false);
  }, (e: unknown) => alert(errorText(e)));
  out.addEventListener('click', () => void go(false));
  all.addEventListener('click', () => {
    void confirmDialog(ct('ins.signOutAllConfirm'), ct('ins.signOutAll')).then((yes) => { if (yes) void go(true); });
  });
  return h('div', { class: 'cr-sign-out' }, out, all);
}

/**
 * Lessons checked for the next workshop, in the order they were checked (that is the
 * workshop's order). Outside the page so that a language switch, which rebuilds the
 * page, keeps them.
 */
const draftPicks: string[] = [];

export const instructorPage: PageFactory = (root) => {
  document.title = `${ct('ins.title')} · nslab`;
  const list = h('div', { class: 'cr-ws-list' }, h('p', { class: 'muted' }, '…'));
  const title = h('input', { id: 'ws-title', class: 'cr-input', maxlength: 120, required: true });
  const ends = h('input', { id: 'ws-ends', class: 'cr-input', type: 'datetime-local' });
  const lessonBox = h('div', { class: 'cr-lesson-picks' });
  const error = h('p', { class: 'cr-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, ct('ins.createBtn'));
  const form = h('form', { class: 'cr-card cr-create' },
    h('h2', null, ct('ins.create')),
    h('label', { for: 'ws-title' }, ct('ins.wsTitle')), title,
    h('fieldset', null, h('legend', null, ct('ins.wsLessons')), lessonBox),
    h('label', { for: 'ws-ends' }, ct('ins.wsEnds')), ends,
    error, h('div', { class: 'cr-actions' }, submit));
  const page = h('section', { class: 'page cr-page cr-wide' },
    h('div', { class: 'cr-ins-head' }, h('h1', { tabindex: '-1', 'data-skip-target': '' }, ct('ins.title')), signOutControls(root)),
    h('div', { class: 'cr-two' }, h('div', null, h('h2', null, ct('ins.workshops')), list), form));
  root.append(page);

  const picked = draftPicks;
  const paintOrder = () => {
    for (const el of lessonBox.querySelectorAll<HTMLElement>('[data-order]')) {
      const i = picked.indexOf(el.dataset.order!);
      el.textContent = i >= 0 ? String(i + 1) : '';
    }
  };
  fetch(`/api/lessons?lang=${getLang()}`).then((r) => r.json()).then((lessons: { id: string; title: string; order: number; minutes: number }[]) => {
    lessons.sort((a, b) => a.order - b.order);
    setChildren(lessonBox, lessons.map((l) => {
      const cb = h('input', { type: 'checkbox', value: l.id, id: `pick-${l.id}`, name: 'lesson' });
      cb.checked = picked.includes(l.id);
      cb.addEventListener('change', () => {
        const i = picked.indexOf(l.id);
        if (cb.checked && i < 0) picked.push(l.id);
        if (!cb.checked && i >= 0) picked.splice(i, 1);
        paintOrder();
      });
      queueMicrotask(paintOrder);
      return h('label', { class: 'cr-pick', for: `pick-${l.id}` }, cb, h('span', { class: 'cr-pick-order', 'data-order': l.id }), h('span', null, l.title), h('span', { class: 'muted small' }, ct('common.minutes', { n: l.minutes })));
    }));
  }, (e: unknown) => { error.textContent = errorText(e); });

  const loadList = () => classroomApi.workshops().then((ws) => {
    setChildren(list, ws.length ? h('ul', { class: 'cr-ws-items' }, ws.map((w) => h('li', null,
      h('a', { href: classroomHref.board(w.code), class: 'cr-ws-link' },
        h('span', { class: 'cr-code' }, w.code), h('span', null, w.title),
        w.closedAt ? h('span', { class: 'cr-badge' }, ct('ins.closed')) : null)))) : h('p', { class: 'muted' }, ct('ins.none')));
  }, (e: unknown) => {
    if (notSignedIn(e)) { root.replaceChildren(); needSecret(root, false); return; }
    setChildren(list, h('p', { class: 'cr-error' }, errorText(e)));
  });
  void loadList();

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    const endsAt = ends.value ? new Date(ends.value).toISOString() : null;
    classroomApi.createWorkshop({ title: title.value, lessons: picked.slice(), endsAt }).then((w) => {
      draftPicks.length = 0;
      location.hash = classroomHref.board(w.code);
    }, (err: unknown) => { error.textContent = errorText(err); submit.disabled = false; });
  });
  return { unmount() {} };
};

const minutes = (m: number) => (m < 1 ? '<1' : String(Math.floor(m)));

export const boardPage: PageFactory = (root, params) => {
  const code = params.code.toUpperCase();
  let disposed = false;
  let board: BoardData | null = null;
  let ws: WebSocket | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;
  let watching: { id: string; view: WatchView } | null = null;
  /** lesson and step titles in the interface language, by lesson id */
  let titles = new Map<string, LessonTitles>();
  let titlesFor = '';
  /** (re)load the titles when the workshop's lessons or the language changed, then repaint */
  const retitle = () => {
    if (!board) return;
    const key = `${getLang()}:${board.workshop.lessons.join(',')}`;
    if (key === titlesFor) return;
    titlesFor = key;
    void localTitles(board.workshop.lessons).then((t) => {
      if (disposed || titlesFor !== key) return;
      titles = t;
      paintGrid();
    });
  };

  const head = h('div', { class: 'cr-board-head' });
  // the instructor's own "stuck" threshold, kept in this browser; the server's is the default
  const STUCK_KEY = 'nslab.stuckMinutes';
  const savedStuck = Number(localStorage.getItem(STUCK_KEY));
  let stuckMinutes: number | undefined = localStorage.getItem(STUCK_KEY) !== null && Number.isFinite(savedStuck) ? savedStuck : undefined;
  const stuckInput = h('input', { id: 'stuck-minutes', class: 'cr-input cr-stuck-input', type: 'number', min: 1, max: 600, step: 1 });
  stuckInput.addEventListener('change', () => {
    const v = Number(stuckInput.value);
    if (!Number.isFinite(v) || v < 1 || v > 600) return;
    stuckMinutes = v;
    localStorage.setItem(STUCK_KEY, String(v));
    send({ type: 'subscribe', workshop: code, stuckMinutes: v });
  });
  const stuckBefore = h('span');
  const stuckAfter = h('span');
  const stuckCtl = h('label', { class: 'cr-stuck-ctl small', for: 'stuck-minutes' }, stuckBefore, ' ', stuckInput, ' ', stuckAfter);
  const paintStuckLabel = () => { stuckBefore.textContent = ct('board.stuckLabel'); stuckAfter.textContent = ct('board.minutesUnit'); };
  paintStuckLabel();
  const grid = h('div', { class: 'cr-grid-wrap' });
  const conn = h('span', { class: 'cr-conn', role: 'status' });
  const watchPanel = h('aside', { class: 'cr-watch', 'aria-live': 'polite' }, h('p', { class: 'muted small' }, ct('board.watchHint')));
  // the watched learner's namespace map: outside the live region above (it has its own)
  const MAP_KEY = 'nslab.board.map';
  let mapPanel: NamespaceMapPanel | null = null;
  let mapShown = localStorage.getItem(MAP_KEY) === '1';
  const mapSlot = h('div', { class: 'cr-watch-map', id: 'cr-watch-map', hidden: true });
  const watchCol = h('div', { class: 'cr-watch-col' }, watchPanel, mapSlot);
  const runs = h('div', { class: 'cr-runs' });
  root.append(h('section', { class: 'page cr-board' }, head, h('div', { class: 'cr-board-main' }, h('div', null, grid, runs), watchCol)));

  /** `nslab grade` reports attached to the workshop (nslab attach, or POST grading-runs) */
  const loadRuns = () => classroomApi.gradingRuns(code).then((list) => {
    if (disposed) return;
    const names = new Map((board?.learners ?? []).map((l) => [l.id, l.name]));
    setChildren(runs, list.length ? [
      h('h2', null, ct('board.runs')),
      h('table', { class: 'cr-runs-table' },
        h('thead', null, h('tr', null, h('th', null, ct('board.learner')), h('th', null, ct('board.runLesson')), h('th', null, ct('board.runSource')), h('th', null, ct('board.passedBy')), h('th', null, ct('board.runAt')))),
        h('tbody', null, list.slice().reverse().map((r) => h('tr', null,
          h('td', null, r.learnerId ? names.get(r.learnerId) ?? '?' : '—'), h('td', null, r.lessonId), h('td', null, r.source),
          h('td', { class: r.passed === r.total ? 'cr-pass' : '' }, `${r.passed}/${r.total}`), h('td', null, new Date(r.createdAt).toLocaleString(locale())))))),
    ] : null);
  }, () => { /* the grid shows connection problems already */ });
  const runsTimer = setInterval(() => void loadRuns(), 30_000);

  const send = (m: BoardClientMessage) => { if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };

  const download = async (format: 'csv' | 'json' | 'junit') => {
    try {
      const blob = await classroomApi.exportFile(code, format);
      const a = h('a', { href: URL.createObjectURL(blob), download: `nslab-${code}.${format === 'junit' ? 'xml' : format}` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (e) { alert(errorText(e)); }
  };

  const projectBtn = (title: string, wcode: string, url: string) => {
    const b = h('button', { type: 'button', class: 'button button-primary cr-project-btn', 'data-project': '' }, ct('board.project'));
    b.addEventListener('click', () => projectJoin({ title, code: wcode, url }));
    return b;
  };

  const paintHead = () => {
    if (!board) return;
    if (document.activeElement !== stuckInput) stuckInput.value = String(board.stuckMinutes);
    // moving a focused element out and back in would blur it mid-typing
    if (head.contains(stuckInput) && document.activeElement === stuckInput) return;
    const w = board.workshop;
    document.title = `${w.title} · ${w.code} · nslab`;
    const joinUrl = `${location.origin}/${classroomHref.join(w.code)}`;
    const closeBtn = h('button', { type: 'button', class: 'button button-danger', disabled: w.closedAt !== null }, ct('board.close'));
    closeBtn.addEventListener('click', async () => {
      if (!(await confirmDialog(ct('board.closeConfirm'), ct('board.close')))) return;
      closeBtn.disabled = true;
      classroomApi.close(code).catch((e: unknown) => { alert(errorText(e)); closeBtn.disabled = false; });
    });
    const exp = (f: 'csv' | 'json' | 'junit', label: string) => {
      const b = h('button', { type: 'button', class: 'button', 'data-export': f }, label);
      b.addEventListener('click', () => void download(f));
      return b;
    };
    setChildren(head,
      h('div', { class: 'cr-board-title' },
        h('h1', { tabindex: '-1', 'data-skip-target': '' }, w.title),
        h('div', { class: 'muted small' },
          ct('board.learners', { n: board.learners.length }), ' · ',
          ct('board.capacity', { active: board.capacity.active, limit: board.capacity.limit, queued: board.capacity.queued }), ' · ',
          w.endsAt ? [ct('board.ends', { time: new Date(w.endsAt).toLocaleString(locale()) }), ' · '] : null, conn)),
      h('div', { class: 'cr-join-box' },
        h('div', null,
          h('div', { class: 'muted small' }, ct('board.code')),
          h('div', { class: 'cr-big-code', 'data-code': w.code }, w.code),
          h('div', { class: 'muted small' }, ct('board.joinAt')),
          h('a', { class: 'cr-join-url', href: joinUrl }, joinUrl),
          w.closedAt === null ? projectBtn(w.title, w.code, joinUrl) : null),
        w.closedAt === null ? joinQrSvg(joinUrl, ct('board.qrLabel', { url: joinUrl })) : null),
      h('div', { class: 'cr-board-actions' },
        h('span', { class: 'muted small' }, ct('board.export')), exp('csv', 'CSV'), exp('json', 'JSON'), exp('junit', 'JUnit'), closeBtn, stuckCtl),
      w.closedAt ? h('div', { class: 'callout', role: 'status' }, ct('board.isClosed')) : null,
    );
  };

  const paintGrid = () => {
    if (!board) return;
    const b = localizeBoard(board, titles);
    if (!b.learners.length) { setChildren(grid, h('p', { class: 'muted cr-empty' }, ct('board.empty'))); return; }
    const lessonRow = h('tr', null, h('th', { rowspan: 2, scope: 'col', class: 'cr-name-col' }, ct('board.learner')),
      b.lessons.map((l) => h('th', { colspan: Math.max(1, l.steps.length), scope: 'colgroup', class: 'cr-lesson-th' }, l.title)),
      h('th', { rowspan: 2, scope: 'col' }, ct('board.current')), h('th', { rowspan: 2, scope: 'col' }, ct('board.time')));
    const stepRow = h('tr', null, b.columns.map((c, i) => h('th', { scope: 'col', class: 'cr-step-th', title: `${c.lesson} / ${c.step}: ${c.title}` }, String(b.lessons.find((l) => l.id === c.lesson)!.steps.findIndex((s) => s.id === c.step) + 1), b.onStep[i] ? h('span', { class: 'cr-onstep' }, String(b.onStep[i])) : null)));
    const rows = b.learners.map((l) => {
      const nameBtn = h('button', { type: 'button', class: 'cr-name', 'data-learner': l.id, title: ct('board.watch', { name: l.name }) }, l.name);
      nameBtn.addEventListener('click', () => watch(l.id));
      const status = l.complete ? h('span', { class: 'cr-badge cr-badge-ok' }, ct('board.complete'))
        : l.stuck ? h('span', { class: 'cr-badge cr-badge-stuck' }, icon('alert'), ct('board.stuck'))
        : l.admission === 'queued' ? h('span', { class: 'cr-badge cr-badge-warn' }, ct('board.queued', { n: l.queuePosition ?? 0 }))
        : l.admission === 'offline' ? h('span', { class: 'cr-badge' }, ct('board.offline')) : null;
      const cur = l.current ? b.columns.find((c) => c.lesson === l.current!.lesson && c.step === l.current!.step) : null;
      return h('tr', { class: `${l.stuck ? 'is-stuck' : ''}${watching?.id === l.id ? ' is-watched' : ''}`, 'data-learner-row': l.name },
        h('th', { scope: 'row', class: 'cr-name-col' }, nameBtn, ' ', status),
        l.cells.map((c, i) => h('td', {
          class: `cr-cell cr-${c.status ?? 'none'}${c.stale ? ' is-stale' : ''}`, 'data-step': `${b.columns[i].lesson}/${b.columns[i].step}`, 'data-status': c.status ?? 'none',
          'data-stale': c.stale ? 'true' : null,
          title: `${b.columns[i].title}${c.passedAt ? ` — ${new Date(c.passedAt).toLocaleTimeString(locale())}` : ''}${cellNote(c) ? ` — ${cellNote(c)}` : ''}`,
        }, c.status === 'pass' ? icon('check') : c.status === 'fail' ? icon('cross') : '')),
        h('td', { class: 'cr-current', title: (l.current && inMyLanguage(l.current)) ?? '' }, cur ? cur.title : '—'),
        h('td', { class: `cr-time${l.stuck ? ' is-stuck' : ''}` }, l.current ? ct('board.minutes', { n: minutes(l.current.minutes) }) : ''),
      );
    });
    const countRow = h('tr', { class: 'cr-counts' }, h('th', { scope: 'row' }, ct('board.passedBy')),
      b.counts.map((n, i) => h('td', { 'data-count': `${b.columns[i].lesson}/${b.columns[i].step}` }, String(n))), h('td', null), h('td', null));
    setChildren(grid, h('table', { class: 'cr-grid' }, h('thead', null, lessonRow, stepRow), h('tbody', null, rows), h('tfoot', null, countRow)));
  };

  /** the map beside the watched terminal: subscribed while shown, for the learner being watched */
  const paintMap = () => {
    const on = mapShown && mapPanel !== null;
    mapSlot.hidden = !on;
    watchCol.classList.toggle('has-map', on);
    const btn = watchPanel.querySelector<HTMLButtonElement>('.cr-map-toggle');
    if (btn) {
      btn.setAttribute('aria-expanded', String(on));
      btn.replaceChildren(icon('map'), h('span', null, t('map.open')));
      btn.title = t('map.openTitle');
    }
    mapPanel?.setVisible(on && document.visibilityState === 'visible');
  };
  const setMapShown = (on: boolean, focus = false) => {
    mapShown = on;
    localStorage.setItem(MAP_KEY, on ? '1' : '0');
    paintMap();
    if (on && focus) mapPanel?.focusPicker();
    if (!on && focus) watchPanel.querySelector<HTMLButtonElement>('.cr-map-toggle')?.focus();
  };
  const dropMap = () => {
    mapPanel?.dispose();
    mapPanel = null;
    mapSlot.replaceChildren();
    paintMap();
  };
  const onVisibility = () => paintMap();
  document.addEventListener('visibilitychange', onVisibility);

  const stopWatch = () => {
    dropMap();
    send({ type: 'unwatch' });
    watching?.view.dispose();
    watching = null;
    setChildren(watchPanel, h('p', { class: 'muted small' }, ct('board.watchHint')));
    paintGrid();
  };

  const watch = (learnerId: string) => {
    watching?.view.dispose();
    // the previous learner's map ends with their watch
    dropMap();
    const view = new WatchView();
    watching = { id: learnerId, view };
    const name = board?.learners.find((l) => l.id === learnerId)?.name ?? '';
    const stop = h('button', { type: 'button', class: 'button button-ghost' }, icon('close'), ct('board.stopWatch'));
    stop.addEventListener('click', stopWatch);
    const mapBtn = h('button', { type: 'button', class: 'button button-ghost cr-map-toggle nsmap-toggle', 'aria-controls': 'cr-watch-map', 'aria-expanded': 'false' });
    mapBtn.addEventListener('click', () => setMapShown(!mapShown, true));
    setChildren(watchPanel, h('div', { class: 'cr-watch-head' }, h('strong', null, ct('board.watch', { name })), h('span', { class: 'cr-watch-actions' }, mapBtn, stop)), view.el);
    send({ type: 'watch', learner: learnerId });
    // after `watch`: the server takes the map subscription for the learner being watched
    mapPanel = new NamespaceMapPanel({ subscribe: (on) => send({ type: on ? 'watch-map-subscribe' : 'watch-map-unsubscribe' }) }, { onClose: () => setMapShown(false, true) });
    mapSlot.replaceChildren(mapPanel.el);
    paintMap();
    paintGrid();
  };

  const connect = () => {
    if (disposed) return;
    conn.textContent = ct('board.reconnecting');
    const sock = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/classroom/socket`);
    sock.binaryType = 'arraybuffer';
    ws = sock;
    // the socket's upgrade request carries the sign-in cookie; the hello names no secret
    sock.onopen = () => { sock.send(JSON.stringify({ type: 'hello' })); sock.send(JSON.stringify({ type: 'subscribe', workshop: code, ...(stuckMinutes !== undefined ? { stuckMinutes } : {}) })); };
    sock.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) {
        const bytes = new Uint8Array(ev.data);
        watching?.view.data(bytes[0], bytes.subarray(1));
        return;
      }
      const m = JSON.parse(String(ev.data)) as BoardServerMessage;
      if (m.type === 'welcome') { conn.textContent = ct('board.live'); conn.className = 'cr-conn is-live'; }
      else if (m.type === 'board') { board = m.board as BoardData; retitle(); paintHead(); paintGrid(); conn.textContent = ct('board.live'); }
      else if (m.type === 'watch-size') watching?.view.size(m.terminal, m.cols, m.rows);
      else if (m.type === 'watch-terminal') { if (m.state === 'opened') watching?.view.opened(m.terminal); else watching?.view.exited(m.terminal); }
      else if (m.type === 'watch-map') { const snapshot = m.snapshot; mapPanel?.show((kind) => snapshotModel(snapshot, kind)); }
      else if (m.type === 'error' && m.code === 'no-map') mapPanel?.setUnavailable();
      else if (m.type === 'watch-ended') { if (watching) setChildren(watchPanel, h('p', { class: 'muted' }, ct('board.watchEnded', { reason: m.reason }))); watching?.view.dispose(); watching = null; dropMap(); paintGrid(); }
      else if (m.type === 'error' && m.code === 'no-session') { if (watching) setChildren(watchPanel, h('p', { class: 'muted' }, m.message)); watching = null; dropMap(); }
      else if (m.type === 'error' && m.code === 'unknown-workshop') { setChildren(grid, h('p', { class: 'cr-error' }, m.message)); }
    };
    sock.onclose = (ev) => {
      if (disposed) return;
      conn.className = 'cr-conn';
      if (ev.code === 4001) { root.replaceChildren(); needSecret(root, false); return; }
      conn.textContent = ct('board.reconnecting');
      retry = setTimeout(connect, 2000);
    };
  };
  // the first paint comes over HTTP (fast, and a clear error for a wrong code), then live
  classroomApi.board(code, stuckMinutes).then((b) => { if (!disposed && !board) { board = b; retitle(); paintHead(); paintGrid(); } void loadRuns(); }, (e: unknown) => {
    if (notSignedIn(e)) { root.replaceChildren(); needSecret(root, false); disposed = true; ws?.close(); return; }
    setChildren(grid, h('p', { class: 'cr-error' }, errorText(e)));
  });
  connect();
  const off = onLangChange(() => {
    paintStuckLabel();
    if (!watching) setChildren(watchPanel, h('p', { class: 'muted small' }, ct('board.watchHint')));
    mapPanel?.relabel();
    paintMap();
    retitle();
    paintHead();
    paintGrid();
    void loadRuns();
  });
  return {
    unmount() {
      disposed = true;
      off();
      clearInterval(runsTimer);
      if (retry) clearTimeout(retry);
      watching?.view.dispose();
      mapPanel?.dispose();
      document.removeEventListener('visibilitychange', onVisibility);
      ws?.close(1000);
    },
  };
};
