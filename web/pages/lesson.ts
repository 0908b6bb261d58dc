/**
 * The lesson page: lesson pane on the left, terminals on the right, and the session
 * that ties them to a sandbox. This module owns the session lifecycle (create or
 * re-attach, reconnect, reset, a dead sandbox, a full lab) and turns every server
 * condition into something the learner can read and act on.
 */
import { api, ApiError, SessionEnding, storedSession, storeSession, type LessonSummary, type LessonView } from '../api.ts';
import { h, icon, setChildren } from '../dom.ts';
import { getLang, onLangChange, t } from '../i18n.ts';
import { LessonPane } from '../lesson/pane.ts';
import { rememberProgress } from '../progress.ts';
import { href, type PageFactory } from '../router.ts';
import { openShortcuts } from '../shortcuts.ts';
import { CLOSE, DEFAULT_MAX_TERMINALS, LabSocket, type ConnectionState, type ServerEvent } from '../term/connection.ts';
import { TerminalTabs } from '../term/tabs.ts';
import { confirmDialog } from '../confirm.ts';
import { snapshotModel } from '../nsmap/adapt.ts';
import { enhanceMapDirectives, mapFocusOf } from '../nsmap/directive.ts';
import type { MapKind } from '../nsmap/model.ts';
import { NamespaceMapPanel } from '../nsmap/panel.ts';

/** Terminals shown from the start: the lessons need "another shell on the same machine". */
const MIN_TERMINALS = 2;
const SPLIT_KEY = 'nslab.split';
/** the map drawer stays open across visits once the learner opened it */
const MAP_OPEN_KEY = 'nslab.nsmap.open';

type View = 'lesson' | 'terminal' | 'map';
const VIEWS: View[] = ['lesson', 'terminal', 'map'];

export const lessonPage: PageFactory = (root, params) => {
  const lessonId = params.id;
  let disposed = false;
  let lesson: LessonView | null = null;
  let session: { id: string; token: string } | null = null;
  let socket: LabSocket | null = null;
  let lessonTerminals = MIN_TERMINALS;
  let bannerTimer: ReturnType<typeof setInterval> | null = null;
  let noticeTimer: ReturnType<typeof setTimeout> | null = null;
  let connState: ConnectionState | null = null;
  let starting = true;
  let allLessons: Promise<LessonSummary[]> | null = null;
  /** a reset destroys the old sandbox first, which the server reports as a death; that one is expected */
  let resetting = false;

  // ---------------------------------------------------------------- layout

  const pane = new LessonPane({
    run: (n, command) => {
      // on a narrow screen the output is in the other view: go there, but leave the
      // on-screen keyboard down so that the output is not hidden behind it
      showView('terminal');
      // a multi-line block is typed line by line, like a learner pasting it
      tabs.type(n, command.replace(/\r?\n/g, '\r') + '\r', !isNarrow());
    },
    nextLesson: async () => {
      allLessons ??= api.lessons(getLang());
      const list = (await allLessons.catch(() => [])).slice().sort((a, b) => a.order - b.order);
      const i = list.findIndex((l) => l.id === lessonId);
      return i >= 0 && i + 1 < list.length ? list[i + 1] : null;
    },
    // a step whose text focuses the map on a kind brings the map up when it becomes current
    currentStep: (_id, section) => {
      const kind = section ? mapFocusOf(section) : null;
      if (kind) showMapFor(kind);
    },
  });

  const tabs = new TerminalTabs({
    input: (n, data) => {
      // the server postpones the idle end on any keystroke; the warning goes with it
      if (bannerId === 'expiring-idle') clearBanner();
      if (!socket?.isOpen) return false;
      socket.input(n, data);
      return true;
    },
    open: (n, cols, rows) => socket?.send({ type: 'open', terminal: n, cols, rows }),
    resize: (n, cols, rows) => socket?.send({ type: 'resize', terminal: n, cols, rows }),
    close: (n) => socket?.send({ type: 'close', terminal: n }),
    ack: (n, bytes) => socket?.send({ type: 'ack', terminal: n, bytes }),
  }, DEFAULT_MAX_TERMINALS);
  tabs.onNotice = (text) => notice(text);

  const status = h('span', { class: 'conn', role: 'status' });
  const resetBtn = h('button', { type: 'button', class: 'button button-ghost reset-button' });
  resetBtn.addEventListener('click', () => void reset(true));

  // the namespace map: a drawer beside the terminals (a view of its own on a phone)
  let mapOpen = localStorage.getItem(MAP_OPEN_KEY) === '1';
  const mapPanel = new NamespaceMapPanel({
    subscribe: (on) => socket?.send({ type: on ? 'map-subscribe' : 'map-unsubscribe' }),
  }, { onClose: () => closeMap() });
  const mapToggle = h('button', { type: 'button', class: 'button button-ghost nsmap-toggle', 'aria-controls': 'nsmap-drawer', 'aria-expanded': 'false' });
  mapToggle.addEventListener('click', () => (mapShown() ? closeMap() : openMap(true)));
  const mapDrawer = h('aside', { class: 'nsmap-drawer', id: 'nsmap-drawer', hidden: true }, mapPanel.el);
  tabs.toolbarEnd.append(mapToggle, status, resetBtn);

  const banner = h('div', { class: 'banner-slot' });
  const noticeEl = h('div', { class: 'notice', role: 'status', 'aria-live': 'polite' });
  const cover = h('div', { class: 'term-cover', hidden: true });
  const workbench = h('section', { class: 'workbench', id: 'workbench' }, banner, h('div', { class: 'workbench-row' }, tabs.el, mapDrawer), cover, noticeEl);

  // narrow screens show the lesson or the terminals, switched here (styles.css hides this bar on wide ones)
  const lessonViewTab = h('button', { type: 'button', role: 'tab', class: 'view-tab', 'aria-controls': 'lesson-pane', 'data-view': 'lesson' });
  const termViewTab = h('button', { type: 'button', role: 'tab', class: 'view-tab', 'aria-controls': 'workbench', 'data-view': 'terminal' });
  const mapViewTab = h('button', { type: 'button', role: 'tab', class: 'view-tab', 'aria-controls': 'nsmap-drawer', 'data-view': 'map' });
  const viewTabs: Record<View, HTMLButtonElement> = { lesson: lessonViewTab, terminal: termViewTab, map: mapViewTab };
  const viewSwitch = h('div', { class: 'view-switch', role: 'tablist' }, lessonViewTab, termViewTab, mapViewTab);
  lessonViewTab.addEventListener('click', () => showView('lesson'));
  termViewTab.addEventListener('click', () => {
    showView('terminal');
    tabs.focusActive();
  });
  mapViewTab.addEventListener('click', () => showView('map'));
  viewSwitch.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    e.preventDefault();
    const i = VIEWS.indexOf(layout.dataset.view as View);
    const next = VIEWS[(i + (e.key === 'ArrowRight' ? 1 : VIEWS.length - 1)) % VIEWS.length];
    showView(next);
    viewTabs[next].focus();
  });

  const divider = h('div', { class: 'split-divider', role: 'separator', tabindex: '0', 'aria-orientation': 'vertical', 'aria-valuemin': '25', 'aria-valuemax': '75', 'aria-controls': 'lesson-pane' });
  const left = h('div', { class: 'split-left', id: 'lesson-pane' }, pane.el);
  const layout = h('div', { class: 'lesson-layout' }, viewSwitch, left, divider, workbench);
  root.append(layout);
  setupSplit();
  showView('lesson');

  function isNarrow(): boolean {
    return window.matchMedia('(max-width: 900px)').matches;
  }

  function showView(view: View): void {
    layout.dataset.view = view;
    if (view === 'map') {
      mapViewTab.classList.remove('has-news');
      mapViewTab.removeAttribute('aria-description');
    }
    for (const tab of Object.values(viewTabs)) {
      const on = tab.dataset.view === view;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    paintMap();
  }

  // ---------------------------------------------------------------- namespace map

  /** wide: the drawer beside the terminals, open or not; narrow: the map view */
  function mapShown(): boolean {
    return isNarrow() ? layout.dataset.view === 'map' : mapOpen;
  }

  function paintMap(): void {
    const shown = mapShown();
    mapDrawer.hidden = !shown;
    mapToggle.setAttribute('aria-expanded', String(shown));
    // only a map someone can see is worth the server's work
    mapPanel.setVisible(shown && document.visibilityState === 'visible');
  }

  /**
   * A lesson step's map focus: the kind is picked and, on a wide screen, the drawer
   * opens beside the terminals; focus stays where the learner is typing. On a phone
   * the map is a view of its own and would hide the terminal: its tab gets a mark.
   */
  function showMapFor(kind: MapKind): void {
    mapPanel.setKind(kind);
    if (isNarrow()) {
      if (layout.dataset.view !== 'map') {
        mapViewTab.classList.add('has-news');
        // the dot in words, for screen readers
        mapViewTab.setAttribute('aria-description', t('map.focused', { kind }));
      }
    } else if (!mapOpen) {
      mapOpen = true;
      paintMap();
    }
  }

  function openMap(focus: boolean): void {
    if (isNarrow()) showView('map');
    else {
      mapOpen = true;
      localStorage.setItem(MAP_OPEN_KEY, '1');
      paintMap();
    }
    if (focus) mapPanel.focusPicker();
  }

  function closeMap(): void {
    if (isNarrow()) showView('terminal');
    else {
      mapOpen = false;
      localStorage.setItem(MAP_OPEN_KEY, '0');
      paintMap();
    }
    mapToggle.focus();
  }

  const onVisibility = () => paintMap();
  document.addEventListener('visibilitychange', onVisibility);
  const narrowQuery = window.matchMedia('(max-width: 900px)');
  const onNarrowChange = () => paintMap();
  narrowQuery.addEventListener('change', onNarrowChange);

  function paintViewSwitch(): void {
    const { done, total } = pane.progress;
    viewSwitch.setAttribute('aria-label', t('view.label'));
    setChildren(lessonViewTab, h('span', null, t('view.lesson')), total ? h('span', { class: 'view-tab-count' }, t('view.progress', { done, total })) : null);
    termViewTab.replaceChildren(icon('terminal'), h('span', null, t('view.terminal')));
    mapViewTab.replaceChildren(icon('map'), h('span', null, t('map.open')));
    mapViewTab.title = t('map.openTitle');
  }

  function setSplit(pct: number): void {
    const v = Math.min(75, Math.max(25, Math.round(pct)));
    layout.style.setProperty('--split', `${v}%`);
    divider.setAttribute('aria-valuenow', String(v));
    localStorage.setItem(SPLIT_KEY, String(v));
  }

  function setupSplit(): void {
    setSplit(Number(localStorage.getItem(SPLIT_KEY)) || 42);
    divider.addEventListener('pointerdown', (e) => {
      divider.setPointerCapture(e.pointerId);
      layout.classList.add('is-resizing');
      const move = (ev: PointerEvent) => {
        const r = layout.getBoundingClientRect();
        setSplit(((ev.clientX - r.left) / r.width) * 100);
      };
      const up = () => {
        layout.classList.remove('is-resizing');
        divider.removeEventListener('pointermove', move);
        divider.removeEventListener('pointerup', up);
      };
      divider.addEventListener('pointermove', move);
      divider.addEventListener('pointerup', up);
    });
    divider.addEventListener('keydown', (e) => {
      const now = Number(divider.getAttribute('aria-valuenow'));
      const step = e.shiftKey ? 10 : 2;
      if (e.key === 'ArrowLeft') setSplit(now - step);
      else if (e.key === 'ArrowRight') setSplit(now + step);
      else if (e.key === 'Home') setSplit(25);
      else if (e.key === 'End') setSplit(75);
      else return;
      e.preventDefault();
    });
  }

  function paintChrome(): void {
    resetBtn.replaceChildren(icon('reset'), h('span', null, t('reset.button')));
    resetBtn.title = t('reset.title');
    divider.setAttribute('aria-label', t('split.label'));
    mapToggle.replaceChildren(icon('map'), h('span', null, t('map.open')));
    mapToggle.title = t('map.openTitle');
    mapPanel.relabel();
    tabs.relabel();
    paintStatus();
    paintViewSwitch();
  }

  // ---------------------------------------------------------------- status, banners, notices

  function paintStatus(): void {
    let kind = 'connecting';
    let label: string;
    if (starting) label = t('conn.starting');
    else if (!connState || connState.kind === 'connecting') label = connState && connState.attempt > 1 ? t('conn.reconnecting') : t('conn.connecting');
    else if (connState.kind === 'open') { kind = 'open'; label = t('conn.connected'); }
    else if (connState.kind === 'waiting') { kind = 'waiting'; label = t('conn.reconnecting'); }
    else { kind = 'closed'; label = t('conn.offline'); }
    status.className = `conn conn-${kind}`;
    status.replaceChildren(h('span', { class: 'conn-dot', 'aria-hidden': 'true' }), h('span', { class: 'conn-label' }, label));
    status.title = connState && (connState.kind === 'waiting' || connState.kind === 'closed') && connState.reason ? connState.reason : label;
  }

  /** which banner is up, so that e.g. typing can clear exactly the idle warning */
  let bannerId: string | null = null;

  /**
   * `focus` moves focus to the first action: only for states where the terminals are
   * useless until the learner acts (dead sandbox, ended session). A reconnect notice must
   * never take the keyboard away from someone typing.
   */
  function showBanner(kind: 'error' | 'warning' | 'info', title: string, body: string | null, actions: { label: string; run: () => void; primary?: boolean }[] = [], opts: { focus?: boolean; id?: string } = {}): void {
    bannerId = opts.id ?? kind;
    // a countdown belongs to the banner it was started for
    if (bannerTimer) clearInterval(bannerTimer);
    bannerTimer = null;
    const buttons = actions.map((a) => {
      const b = h('button', { type: 'button', class: `button${a.primary ? ' button-primary' : ''}` }, a.label);
      b.addEventListener('click', a.run);
      return b;
    });
    banner.replaceChildren(h('div', { class: `banner banner-${kind}`, role: kind === 'info' ? 'status' : 'alert' },
      icon(kind === 'info' ? 'clock' : 'alert', 'icon banner-icon'),
      h('div', { class: 'banner-text' }, h('strong', null, title), body ? h('span', null, body) : null),
      buttons.length ? h('div', { class: 'banner-actions' }, buttons) : null,
    ));
    if (opts.focus) buttons[0]?.focus({ preventScroll: true });
  }

  function clearBanner(): void {
    bannerId = null;
    banner.replaceChildren();
    if (bannerTimer) clearInterval(bannerTimer);
    bannerTimer = null;
  }

  function notice(text: string): void {
    noticeEl.textContent = text;
    noticeEl.classList.add('is-visible');
    if (noticeTimer) clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => noticeEl.classList.remove('is-visible'), 4000);
  }

  function setCover(text: string | null): void {
    cover.hidden = text === null;
    cover.replaceChildren(text ? h('div', { class: 'term-cover-inner' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', null, text)) : '');
  }

  // ---------------------------------------------------------------- lesson

  async function loadLesson(): Promise<boolean> {
    pane.el.classList.add('is-loading');
    try {
      const l = await api.lesson(lessonId, getLang());
      if (disposed) return false;
      lesson = l;
      lessonTerminals = Math.max(MIN_TERMINALS, l.terminals ?? 0);
      pane.show(l);
      enhanceMapDirectives(pane.el, (kind) => {
        mapPanel.setKind(kind);
        openMap(true);
      });
      paintViewSwitch();
      return true;
    } catch (e) {
      if (disposed) return false;
      const notFound = e instanceof ApiError && e.status === 404;
      const retry = h('button', { type: 'button', class: 'button' }, t('retry'));
      retry.addEventListener('click', () => void start());
      root.replaceChildren(h('section', { class: 'page-message' },
        h('h1', null, notFound ? t('lesson.notFound', { id: lessonId }) : t('lesson.error', { msg: e instanceof Error ? e.message : String(e) })),
        h('div', { class: 'page-message-actions' }, notFound ? null : retry, h('a', { class: 'button button-primary', href: href.lessons() }, t('lesson.back'))),
      ));
      return false;
    } finally {
      pane.el.classList.remove('is-loading');
    }
  }

  // ---------------------------------------------------------------- session

  async function attachOrCreate(): Promise<void> {
    starting = true;
    paintStatus();
    setCover(t('conn.starting'));
    const stored = storedSession(lessonId);
    if (stored) {
      try {
        const info = await api.session(stored.id, stored.token);
        if (disposed) return;
        session = stored;
        if (info.steps) pane.setStatuses(info.steps.steps);
        paintViewSwitch();
        lessonTerminals = Math.max(lessonTerminals, info.lessonTerminals ?? 0);
        for (const term of info.terminals ?? []) tabs.ensure(term.terminal);
        if (info.state === 'dead') showDied(null);
        connect();
        return;
      } catch (e) {
        if (disposed) return;
        // gone or not ours any more: start over; anything else (network) is worth a retry
        if (!(e instanceof ApiError && (e.status === 404 || e.status === 401 || e.status === 403))) {
          return sessionError(e);
        }
        storeSession(lessonId, null);
      }
    }
    try {
      const created = await api.createSession(lessonId, getLang());
      if (disposed) {
        void api.endSession(created.id, created.token).catch(() => {});
        return;
      }
      session = { id: created.id, token: created.token };
      storeSession(lessonId, session);
      lessonTerminals = Math.max(lessonTerminals, created.lessonTerminals ?? 0);
      if (created.steps) pane.setStatuses(created.steps.steps);
      paintViewSwitch();
      clearBanner();
      if (created.restoredSteps) notice(t('session.restored'));
      connect();
    } catch (e) {
      if (disposed) return;
      if (e instanceof ApiError && e.status === 503) return labFull(e, t('full.title'));
      // too many new sessions from this address: the same wait-and-retry
      if (e instanceof ApiError && e.status === 429 && e.retryAfter) return labFull(e, t('session.wait'));
      sessionError(e);
    }
  }

  function labFull(e: ApiError, title: string): void {
    starting = true;
    setCover(null);
    let left = Math.max(1, Math.round(e.retryAfter ?? 15));
    // the countdown below says when; the server's own "Retry in N s." would go stale
    const why = e.message.replace(/\s*Retry in \d+ ?s\.?/i, '');
    const paint = () => showBanner('warning', title, `${why} ${t('full.body', { n: left })}`, [{ label: t('full.retryNow'), run: () => { clearBanner(); void attachOrCreate(); } }]);
    paint();
    if (bannerTimer) clearInterval(bannerTimer);
    bannerTimer = setInterval(() => {
      left--;
      if (left <= 0) {
        clearBanner();
        void attachOrCreate();
      } else {
        // update the text only: re-rendering the banner would steal focus every second
        const span = banner.querySelector('.banner-text span');
        if (span) span.textContent = `${why} ${t('full.body', { n: left })}`;
      }
    }, 1000);
  }

  function sessionError(e: unknown): void {
    starting = false;
    setCover(null);
    if (e instanceof SessionEnding) {
      connState = { kind: 'closed', code: 0, reason: '', retryable: false };
      paintStatus();
      showBanner('info', e.title, e.body, [{ label: e.next.label, primary: true, run: () => { location.hash = e.next.href; } }], { focus: true, id: 'ending' });
      return;
    }
    connState = { kind: 'closed', code: 0, reason: '', retryable: true };
    paintStatus();
    showBanner('error', t('session.error', { msg: e instanceof Error ? e.message : String(e) }), null, [
      { label: t('retry'), primary: true, run: () => { clearBanner(); void attachOrCreate(); } },
    ]);
  }

  function connect(): void {
    if (!session) return;
    socket?.dispose();
    const s = new LabSocket(session.id, session.token, {
      onState: (st) => onState(st),
      onEvent: (ev) => onEvent(ev),
      onData: (n, data) => tabs.write(n, data),
    });
    socket = s;
    s.connect();
  }

  function onState(st: ConnectionState): void {
    connState = st;
    if (st.kind === 'open') starting = false;
    paintStatus();
    if (st.kind === 'closed') {
      starting = false;
      setCover(null);
      if (st.code === CLOSE.replaced) {
        showBanner('warning', t('conn.replaced'), st.reason || null, [{ label: t('conn.useHere'), primary: true, run: () => { clearBanner(); socket?.reconnect(); } }], { focus: true });
      } else if (st.code === CLOSE.unknownSession || st.code === CLOSE.sessionEnded || st.code === CLOSE.unauthorized || st.code === CLOSE.normal) {
        // a session that ended cannot come back; the next visit must not try to re-attach
        storeSession(lessonId, null);
        // 4004 carries the server's "no such session", which says nothing to a learner
        const why = st.code === CLOSE.unknownSession ? t('session.goneWhy') : st.reason || t('close.generic', { code: st.code });
        showBanner('error', t('session.gone'), why, [
          { label: t('session.new'), primary: true, run: () => { clearBanner(); tabs.clearAll(); void attachOrCreate(); } },
        ], { focus: true });
      } else {
        showBanner('error', t('conn.offline'), st.reason || t('close.generic', { code: st.code }), [
          { label: t('conn.retryNow'), primary: true, run: () => { clearBanner(); socket?.reconnect(); } },
        ]);
      }
    } else if (st.kind === 'waiting') {
      const secs = Math.ceil(st.retryInMs / 1000);
      // 1006 is every network failure the browser will not describe; say it plainly
      const why = st.reason || (st.code === 1006 ? t('conn.lost') : t('close.generic', { code: st.code }));
      showBanner('warning', t('conn.reconnecting'), `${why} · ${secs} s`, [
        { label: t('conn.retryNow'), run: () => { clearBanner(); socket?.reconnect(); } },
      ]);
      let left = secs;
      bannerTimer = setInterval(() => {
        left = Math.max(0, left - 1);
        const span = banner.querySelector('.banner-text span');
        if (span) span.textContent = left > 0 ? `${why} · ${left} s` : `${why} · …`;
      }, 1000);
    }
  }

  function onEvent(ev: ServerEvent): void {
    switch (ev.type) {
      case 'welcome': {
        clearBanner();
        setCover(null);
        tabs.setLimits(ev.maxTerminals, ev.flow.ackEveryBytes);
        tabs.onConnected();
        lessonTerminals = Math.max(lessonTerminals, Math.min(ev.lessonTerminals, ev.maxTerminals));
        for (const term of ev.terminals) {
          tabs.ensure(term.terminal);
          if (term.namespaces) tabs.setNamespaces(term.terminal, term.namespaces);
        }
        for (let n = 1; n <= Math.min(lessonTerminals, ev.maxTerminals); n++) tabs.ensure(n);
        // `open` is a no-op for shells that survived; it (re)starts the others at our size
        tabs.openAllOnServer();
        if (!tabs.activeTerminal) tabs.select(1, false);
        // subscriptions belong to a socket: a new one asks again
        mapPanel.resubscribe();
        break;
      }
      case 'map': {
        const snapshot = ev.snapshot;
        mapPanel.show((kind) => snapshotModel(snapshot, kind));
        break;
      }
      case 'opened':
        tabs.onOpened(ev.terminal, ev.reattached);
        break;
      case 'command':
        // the command log says a shell is at a prompt (first one, or after a command)
        tabs.onShellReady(ev.terminal);
        break;
      case 'shell':
        tabs.setNamespaces(ev.terminal, ev.namespaces);
        break;
      case 'replay-start':
        tabs.onReplayStart(ev.terminal);
        break;
      case 'replay-end':
        tabs.onReplayEnd(ev.terminal);
        break;
      case 'exited':
        tabs.onExited(ev.terminal);
        break;
      case 'steps':
        pane.setStatuses(ev.steps, ev.changed);
        rememberProgress(lessonId, pane.progress.done, pane.progress.total);
        paintViewSwitch();
        break;
      case 'sandbox-died':
        // the map showed a machine that is gone
        mapPanel.forget();
        if (!resetting) showDied(ev.reason);
        break;
      case 'sandbox-emptied':
        // the machine still runs, but nothing of the learner's is left in it
        if (!resetting) showEmptied();
        break;
      case 'session-reset':
        mapPanel.forget();
        pane.machineReset();
        clearBanner();
        tabs.clearAll();
        tabs.openAllOnServer();
        notice(t('reset.done'));
        break;
      case 'expiring': {
        const mins = Math.max(1, Math.round(ev.inMs / 60_000));
        if (ev.reason === 'idle') {
          showBanner('info', t('expiring.idle', { n: mins }), null, [{ label: t('dismiss'), run: () => clearBanner() }], { id: 'expiring-idle' });
        } else {
          // the sandbox's lifetime cannot be extended, but a reset starts a fresh one
          showBanner('info', t('expiring.lifetime', { n: mins }), null, [
            { label: t('reset.button'), run: () => void reset(true) },
            { label: t('dismiss'), run: () => clearBanner() },
          ], { id: 'expiring-lifetime' });
        }
        break;
      }
      case 'error':
        if (ev.code === 'sandbox-dead') showDied(ev.message);
        else notice(ev.message);
        break;
      default:
        break;
    }
  }

  function showDied(reason: string | null): void {
    showBanner('error', t('died.title'), t('died.body', { reason: reason || t('died.unknown') }), [
      { label: t('died.reset'), primary: true, run: () => void reset(false) },
    ], { focus: true });
  }

  function showEmptied(): void {
    showBanner('error', t('emptied.title'), t('emptied.body'), [
      { label: t('died.reset'), primary: true, run: () => void reset(false) },
      { label: t('emptied.newShells'), run: () => { clearBanner(); tabs.openAllOnServer(); tabs.focusActive(); } },
    ], { focus: true, id: 'emptied' });
  }

  async function reset(ask: boolean): Promise<void> {
    if (!session) return;
    if (ask && !(await confirmDialog(t('reset.confirm'), t('reset.button')))) return;
    resetBtn.disabled = true;
    resetting = true;
    clearBanner();
    setCover(t('reset.running'));
    try {
      await api.reset(session.id, session.token);
      if (disposed) return;
      pane.machineReset();
      // with the socket up, the server's session-reset event has already cleared and reopened
      // the terminals (clearing again here would wipe the fresh prompts); without it,
      // reconnecting opens the fresh shells
      if (!socket?.isOpen) {
        tabs.clearAll();
        socket?.reconnect();
      }
      tabs.focusActive();
    } catch (e) {
      if (disposed) return;
      if (e instanceof ApiError && e.status === 503) labFull(e, t('full.title'));
      else if (e instanceof ApiError && (e.status === 404 || e.status === 401)) {
        storeSession(lessonId, null);
        void attachOrCreate();
      } else showBanner('error', t('session.error', { msg: e instanceof Error ? e.message : String(e) }), null, [{ label: t('retry'), primary: true, run: () => void reset(false) }]);
    } finally {
      resetting = false;
      resetBtn.disabled = false;
      setCover(null);
    }
  }

  // ---------------------------------------------------------------- keyboard

  function onKey(e: KeyboardEvent): void {
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    const c = e.code;
    let handled = true;
    if (/^Digit[1-9]$/.test(c) && !e.shiftKey) {
      const n = Number(c.slice(5));
      if (tabs.has(n)) { showView('terminal'); tabs.select(n, true); }
    } else if (c === 'BracketRight') { showView('terminal'); tabs.cycle(1); }
    else if (c === 'BracketLeft') { showView('terminal'); tabs.cycle(-1); }
    else if (c === 'KeyN' && e.shiftKey) { showView('terminal'); tabs.openNext(); }
    else if (c === 'KeyL' && !e.shiftKey) { showView('lesson'); pane.focus(); }
    else if (c === 'KeyS' && !e.shiftKey) { showView('lesson'); pane.focusCurrentStep(); }
    else if (c === 'KeyF' && !e.shiftKey) { showView('terminal'); tabs.showSearch(); }
    else if (c === 'KeyM' && !e.shiftKey) { if (mapShown()) closeMap(); else openMap(true); }
    else if (c === 'Slash') openShortcuts();
    else handled = false;
    if (handled) e.preventDefault();
  }
  document.addEventListener('keydown', onKey);

  // ---------------------------------------------------------------- language

  const offLang = onLangChange(async () => {
    allLessons = null;
    paintChrome();
    await loadLesson();
  });

  // ---------------------------------------------------------------- start

  async function start(): Promise<void> {
    if (!root.contains(layout)) root.replaceChildren(layout);
    paintChrome();
    if (!(await loadLesson())) return;
    // a new page: screen readers start at its title, and Tab continues from there
    pane.focusTitle();
    for (let n = 1; n <= lessonTerminals; n++) tabs.ensure(n);
    tabs.select(1, false);
    await attachOrCreate();
  }
  void start();

  return {
    unmount() {
      disposed = true;
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('visibilitychange', onVisibility);
      narrowQuery.removeEventListener('change', onNarrowChange);
      mapPanel.dispose();
      offLang();
      clearBanner();
      if (noticeTimer) clearTimeout(noticeTimer);
      socket?.dispose();
      tabs.dispose();
      // the session lives on (sessionStorage), so coming back re-attaches to the same shells
    },
  };
};

