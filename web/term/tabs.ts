/**
 * Terminal tabs: one xterm.js per terminal number, a WAI-ARIA tablist to switch
 * between them, "+" to open another. Bytes go in and out through the Wire given by
 * the page, so this file has no idea about sockets, and the flow-control acks are
 * computed here, where xterm tells us what it has actually processed.
 */
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { confirmDialog } from '../confirm.ts';
import { h, icon } from '../dom.ts';
import { getLang, t } from '../i18n.ts';
import type { ShellNamespaceKind } from '../../lab-server/contract/session-protocol.ts';
import { getTheme, onThemeChange, TERMINAL_THEMES } from '../theme.ts';
import { SIZE_BOUNDS } from './connection.ts';
import { onScreenReaderModeChange, screenReaderMode } from '../prefs.ts';

export interface Wire {
  /** false when nothing could be sent (not connected) */
  input(terminal: number, data: string): boolean;
  open(terminal: number, cols: number, rows: number): void;
  resize(terminal: number, cols: number, rows: number): void;
  close(terminal: number): void;
  ack(terminal: number, bytes: number): void;
}

interface TermView {
  n: number;
  term: Terminal;
  fit: FitAddon;
  search: SearchAddon;
  tab: HTMLButtonElement;
  tabItem: HTMLElement;
  panel: HTMLElement;
  exited: boolean;
  /** bytes written to xterm and processed, not yet acked */
  unacked: number;
  ackTimer: ReturnType<typeof setTimeout> | null;
  sentSize: { cols: number; rows: number } | null;
  /** opened on the server (an `opened` event arrived since the last connect) */
  live: boolean;
  /** between replay-start and replay-end: old output, not news */
  replaying: boolean;
  /** when the shell (re)started: its first prompt is not news either */
  openedAt: number;
  /** the shell has shown a prompt (command log); typing earlier races bash's start-up */
  ready: boolean;
  /** run-button text waiting for `ready` */
  pending: string;
  /** asked to open while the previous shell of this number was still closing */
  openDeferred: boolean;
  readyTimer: ReturnType<typeof setTimeout> | null;
  /** where the shell at the prompt differs from the sandbox's namespaces (a nested `unshare` shell) */
  namespaces: ShellNamespaceKind[];
}

/** Acks are coalesced: at most one per ACK_DELAY_MS unless this many bytes piled up. */
const ACK_DELAY_MS = 15;
/**
 * "Noto Sans KR" / "Noto Sans SC" are the shipped web fonts (cjk-fonts.css), after the generic
 * monospace: they have Latin letters too, which must not replace a monospace font's.
 */
const FONT = '"JetBrains Mono", "Cascadia Code", "Fira Code", ui-monospace, SFMono-Regular, Menlo, Consolas, "Noto Sans Mono CJK KR", "Noto Sans Mono CJK SC", monospace, "Noto Sans KR", "Noto Sans SC"';

export class TerminalTabs {
  readonly el: HTMLElement;
  /** end of the tab bar, for the page's own controls (status, reset) */
  readonly toolbarEnd: HTMLElement;
  private readonly tablist: HTMLElement;
  private readonly panels: HTMLElement;
  private readonly addBtn: HTMLButtonElement;
  private readonly searchBar: HTMLElement;
  private readonly searchInput: HTMLInputElement;
  private readonly views = new Map<number, TermView>();
  private active = 0;
  private maxTerminals: number;
  private ackEvery = 32 * 1024;
  private readonly resizeObserver: ResizeObserver;
  private readonly offTheme: () => void;
  private readonly offScreenReader: () => void;
  private resizeTimer: ReturnType<typeof setTimeout> | null = null;
  /** bumped on every (re)connect: xterm may still be parsing bytes of the previous socket,
   *  and the new socket's flow counter must not be credited for them */
  private generation = 0;
  /**
   * Terminals whose shell was told to close and has not reported its exit yet. Until it
   * has, the server still holds that number: an `open` would only resize the dying shell,
   * whose exit would then land on the new tab, and its last output with it.
   */
  private readonly closing = new Map<number, ReturnType<typeof setTimeout>>();
  private lastNotSentNotice = 0;
  /** called when the learner asked for something the UI refuses (e.g. too many terminals) */
  onNotice: (text: string) => void = () => {};

  constructor(private readonly wire: Wire, maxTerminals: number) {
    this.maxTerminals = maxTerminals;
    this.tablist = h('div', { class: 'term-tablist', role: 'tablist' });
    this.tablist.addEventListener('keydown', (e) => this.onTablistKey(e));
    this.addBtn = h('button', { type: 'button', class: 'icon-button term-add' }, icon('plus'));
    this.addBtn.addEventListener('click', () => this.openNext());
    this.searchInput = h('input', { type: 'search', class: 'term-search-input' });
    const prev = h('button', { type: 'button', class: 'icon-button', 'data-i18n-label': 'terms.searchPrev' }, '↑');
    const next = h('button', { type: 'button', class: 'icon-button', 'data-i18n-label': 'terms.searchNext' }, '↓');
    const close = h('button', { type: 'button', class: 'icon-button', 'data-i18n-label': 'terms.searchClose' }, icon('close'));
    prev.addEventListener('click', () => this.findPrev());
    next.addEventListener('click', () => this.findNext());
    close.addEventListener('click', () => this.hideSearch());
    this.searchInput.addEventListener('input', () => this.findNext(true));
    this.searchInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        if (e.shiftKey) this.findPrev();
        else this.findNext();
      } else if (e.key === 'Escape') {
        e.preventDefault();
        this.hideSearch();
      }
    });
    this.searchBar = h('div', { class: 'term-search', role: 'search', hidden: true }, icon('search'), this.searchInput, prev, next, close);
    this.panels = h('div', { class: 'term-panels' });
    this.toolbarEnd = h('div', { class: 'term-toolbar-end' });
    this.el = h('div', { class: 'terms' },
      h('div', { class: 'term-tabbar' }, this.tablist, this.addBtn, this.toolbarEnd),
      this.searchBar,
      this.panels,
    );
    this.resizeObserver = new ResizeObserver(() => {
      if (this.resizeTimer) clearTimeout(this.resizeTimer);
      this.resizeTimer = setTimeout(() => this.fitActive(), 40);
    });
    this.resizeObserver.observe(this.panels);
    this.offTheme = onThemeChange((theme) => {
      for (const v of this.views.values()) v.term.options.theme = { ...TERMINAL_THEMES[theme] };
    });
    this.offScreenReader = onScreenReaderModeChange((on) => {
      for (const v of this.views.values()) v.term.options.screenReaderMode = on;
    });
    this.relabel();
  }

  setLimits(maxTerminals: number, ackEveryBytes: number): void {
    this.maxTerminals = maxTerminals;
    // ack well before the server's threshold so output never stalls waiting for us
    this.ackEvery = Math.max(1024, Math.floor(ackEveryBytes / 2));
    this.updateAddButton();
  }

  get numbers(): number[] {
    return [...this.views.keys()].sort((a, b) => a - b);
  }

  get activeTerminal(): number {
    return this.active;
  }

  has(n: number): boolean {
    return this.views.has(n);
  }

  /** Creates the tab and xterm for terminal n (idempotent); asks the server to open it if connected. */
  ensure(n: number, opts: { focus?: boolean; openOnServer?: boolean } = {}): void {
    let v = this.views.get(n);
    if (!v) {
      v = this.create(n);
      this.views.set(n, v);
      this.sortTabs();
      this.updateAddButton();
      if (!this.active) this.select(n, false);
    }
    if (opts.openOnServer) this.openOnServer(v);
    if (opts.focus) this.select(n, true);
  }

  /** "+": the lowest free terminal number */
  openNext(): void {
    for (let n = 1; n <= this.maxTerminals; n++) {
      if (!this.views.has(n)) {
        this.ensure(n, { focus: true, openOnServer: true });
        return;
      }
    }
    this.onNotice(t('terms.limit', { n: this.maxTerminals }));
  }

  select(n: number, focus: boolean): void {
    const v = this.views.get(n);
    if (!v) return;
    this.active = n;
    for (const o of this.views.values()) {
      const on = o.n === n;
      o.tab.setAttribute('aria-selected', String(on));
      o.tab.tabIndex = on ? 0 : -1;
      o.tabItem.classList.toggle('is-active', on);
      if (on) o.tabItem.classList.remove('has-activity');
      o.panel.hidden = !on;
    }
    // a hidden terminal has no size; fit it now that it is visible
    requestAnimationFrame(() => {
      this.fitActive();
      if (focus) v.term.focus();
    });
  }

  focusActive(): void {
    this.views.get(this.active)?.term.focus();
  }

  cycle(delta: number): void {
    const ns = this.numbers;
    if (ns.length === 0) return;
    const i = ns.indexOf(this.active);
    this.select(ns[(i + delta + ns.length) % ns.length], true);
  }

  /** Types text into terminal n as if the learner had (run buttons). */
  type(n: number, text: string, focus = true): void {
    this.ensure(n);
    const v = this.views.get(n)!;
    if (!v.live) this.openOnServer(v);
    this.select(n, focus);
    // before bash has set up its line editor, typed bytes are echoed by the tty and
    // partly lost ("ch: command not found"); hold them until the first prompt. A second
    // click on the same button while waiting is impatience, not a request to run it twice.
    // While disconnected it waits too: the re-attached shell sends it on.
    if (v.ready && this.wire.input(n, text)) return;
    if (!v.pending.endsWith(text)) v.pending += text;
  }

  // ---- events from the socket

  /** The socket (re)connected: every terminal must be opened (a no-op for running ones). */
  onConnected(): void {
    this.generation++;
    // a new socket: the welcome lists the shells the server still has
    this.forgetClosing();
    for (const v of this.views.values()) {
      v.live = false;
      v.sentSize = null;
      v.unacked = 0;
    }
  }

  openAllOnServer(): void {
    for (const v of this.views.values()) this.openOnServer(v);
  }

  onOpened(n: number, reattached: boolean): void {
    this.ensure(n);
    const v = this.views.get(n)!;
    v.live = true;
    v.openedAt = Date.now();
    v.exited = false;
    v.tabItem.classList.remove('is-exited');
    if (reattached) this.onShellReady(n);
    else {
      v.ready = false;
      // an image without a command log never says "ready"; do not hold input forever
      if (v.readyTimer) clearTimeout(v.readyTimer);
      v.readyTimer = setTimeout(() => this.onShellReady(n), 3000);
    }
  }

  /** the shell in terminal n printed a prompt: held run-button input can go */
  onShellReady(n: number): void {
    const v = this.views.get(n);
    if (!v || !v.live) return;
    if (v.readyTimer) clearTimeout(v.readyTimer);
    v.readyTimer = null;
    v.ready = true;
    if (v.pending && this.wire.input(n, v.pending)) v.pending = '';
  }

  onReplayStart(n: number): void {
    this.ensure(n);
    // the replay is everything the server still has; start from a clean screen
    const v = this.views.get(n)!;
    v.term.reset();
    v.replaying = true;
  }

  onReplayEnd(n: number): void {
    const v = this.views.get(n);
    if (v) v.replaying = false;
  }

  onExited(n: number): void {
    const v = this.views.get(n);
    if (this.closing.has(n)) {
      // the shell the learner closed is gone; a tab reopened meanwhile can have its own now
      this.closingDone(n);
      return;
    }
    if (!v) return;
    v.exited = true;
    v.live = false;
    v.ready = false;
    v.namespaces = [];
    this.labelTab(v);
    v.tabItem.classList.add('is-exited');
    v.term.write(`\r\n\x1b[2m${t('terms.exited')}\x1b[0m\r\n`);
  }

  /** A reset or a dead sandbox: the shells are gone; keep the tabs, clear the screens. */
  clearAll(): void {
    this.generation++;
    this.forgetClosing();
    for (const v of this.views.values()) {
      v.ready = false;
      v.term.reset();
      v.live = false;
      v.exited = false;
      v.unacked = 0;
      v.sentSize = null;
      v.namespaces = [];
      this.labelTab(v);
      v.tabItem.classList.remove('is-exited');
    }
  }

  write(n: number, data: Uint8Array): void {
    const v = this.views.get(n);
    const len = data.byteLength;
    if (!v || this.closing.has(n)) {
      // the last output of a terminal the learner just closed; the server always sends
      // `opened` before a terminal's first bytes, so this must not re-create a tab
      this.wire.ack(n, len);
      return;
    }
    // xterm may keep the buffer until it parses it, and the socket reuses nothing, but
    // copy anyway: subarray views into a frame must not outlive our control of it
    // a dot on a background tab: something happened there (e.g. the other shell answered)
    if (n !== this.active && !v.replaying && Date.now() - v.openedAt > 1500) v.tabItem.classList.add('has-activity');
    const gen = this.generation;
    v.term.write(data.slice(), () => {
      if (gen !== this.generation) return;
      v.unacked += len;
      if (v.unacked >= this.ackEvery) this.flushAck(v);
      else v.ackTimer ??= setTimeout(() => this.flushAck(v), ACK_DELAY_MS);
    });
  }

  showSearch(): void {
    this.searchBar.hidden = false;
    this.searchInput.focus();
    this.searchInput.select();
  }

  relabel(): void {
    this.tablist.setAttribute('aria-label', t('terms.label'));
    this.addBtn.setAttribute('aria-label', t('terms.new'));
    this.addBtn.title = `${t('terms.new')} (Alt+Shift+N)`;
    this.searchBar.setAttribute('aria-label', t('terms.search'));
    this.searchInput.placeholder = t('terms.searchPlaceholder');
    this.searchInput.setAttribute('aria-label', t('terms.searchPlaceholder'));
    for (const b of this.searchBar.querySelectorAll<HTMLElement>('[data-i18n-label]')) {
      const label = t(b.dataset.i18nLabel as Parameters<typeof t>[0]);
      b.setAttribute('aria-label', label);
      b.title = label;
    }
    for (const v of this.views.values()) this.labelTab(v);
  }

  dispose(): void {
    this.resizeObserver.disconnect();
    this.forgetClosing();
    this.offTheme();
    this.offScreenReader();
    for (const v of this.views.values()) {
      if (v.ackTimer) clearTimeout(v.ackTimer);
      if (v.readyTimer) clearTimeout(v.readyTimer);
      v.term.dispose();
    }
    this.views.clear();
  }

  // ---- internals

  private create(n: number): TermView {
    const term = new Terminal({
      allowProposedApi: true, // unicode11 needs it
      cursorBlink: true,
      fontFamily: FONT,
      fontSize: 14,
      lineHeight: 1.15,
      scrollback: 5000,
      theme: { ...TERMINAL_THEMES[getTheme()] },
      screenReaderMode: screenReaderMode(),
    });
    const fit = new FitAddon();
    const search = new SearchAddon();
    term.loadAddon(fit);
    term.loadAddon(search);
    term.loadAddon(new WebLinksAddon((_e, uri) => window.open(uri, '_blank', 'noopener,noreferrer')));
    const unicode = new Unicode11Addon();
    term.loadAddon(unicode);
    term.unicode.activeVersion = '11';

    const panelId = `term-panel-${n}`;
    const tabId = `term-tab-${n}`;
    const tab = h('button', { type: 'button', role: 'tab', id: tabId, 'aria-controls': panelId, 'aria-selected': 'false', tabindex: '-1', class: 'term-tab', 'data-terminal': String(n) },
      icon('terminal'), h('span', { class: 'term-tab-label' }), h('span', { class: 'term-tab-ns', hidden: true }), h('kbd', { class: 'term-tab-key', 'aria-hidden': 'true' }, `Alt ${n}`));
    tab.addEventListener('click', () => this.select(n, true));
    // a tablist may only contain tabs: the mouse's close button is hidden from assistive
    // technology, which closes the focused tab with Delete instead (listed in the shortcuts)
    const closeBtn = h('button', { type: 'button', class: 'term-tab-close', tabindex: '-1', 'aria-hidden': 'true' }, icon('close'));
    closeBtn.addEventListener('click', () => this.closeTerminal(n));
    const tabItem = h('div', { class: 'term-tab-item', role: 'presentation' }, tab, closeBtn);
    const panel = h('div', { class: 'term-panel', role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, hidden: true, 'data-terminal': String(n) });

    const v: TermView = { n, term, fit, search, tab, tabItem, panel, exited: false, unacked: 0, ackTimer: null, sentSize: null, live: false, replaying: false, openedAt: 0, ready: false, pending: '', openDeferred: false, readyTimer: null, namespaces: [] };
    this.labelTab(v);
    this.tablist.append(tabItem);
    this.panels.append(panel);
    term.open(panel);
    this.labelTab(v);

    // the page's Alt shortcuts must work while typing in a shell; xterm ignores exactly these
    term.attachCustomKeyEventHandler((e) => {
      if (isAppShortcut(e)) return false;
      // paste keys go to the browser, whose paste event xterm turns into (bracketed) input
      if (isPasteKey(e)) return false;
      // Ctrl+C must stay the shell's interrupt, so copying a selection is Ctrl+Shift+C, as in
      // desktop terminals
      if (e.type === 'keydown' && e.ctrlKey && e.shiftKey && e.code === 'KeyC' && term.hasSelection()) {
        void navigator.clipboard?.writeText(term.getSelection()).catch(() => {});
        e.preventDefault();
        return false;
      }
      return true;
    });
    term.onData((data) => {
      if (v.exited) {
        // the shell is gone: Enter starts a fresh one instead of typing into nothing
        if (data === '\r') this.openOnServer(v);
        return;
      }
      if (!this.wire.input(n, data)) this.notSent();
    });
    term.onBinary((data) => {
      if (!this.wire.input(n, data)) this.notSent();
    });
    return v;
  }

  /**
   * Keys typed while the connection is down are not queued: typed blind, without the
   * shell's echo, they could run something unintended once it is back. Say so instead.
   */
  private notSent(): void {
    const now = Date.now();
    if (now - this.lastNotSentNotice < 3000) return;
    this.lastNotSentNotice = now;
    this.onNotice(t('terms.notSent'));
  }

  /** the shell at terminal n's prompt is in these namespaces of its own (none: the sandbox's) */
  setNamespaces(n: number, kinds: ShellNamespaceKind[]): void {
    const v = this.views.get(n);
    if (!v) return;
    v.namespaces = kinds;
    this.labelTab(v);
  }

  private labelTab(v: TermView): void {
    (v.tab.querySelector('.term-tab-label') as HTMLElement).textContent = t('terms.tab', { n: v.n });
    // xterm names its input "Terminal input" in English, once, when it opens
    v.term.textarea?.setAttribute('aria-label', t('terms.input', { n: v.n }));
    // part of the tab's text, so a screen reader says it with the tab's name
    const ns = v.tab.querySelector('.term-tab-ns') as HTMLElement;
    const kinds = v.namespaces.join(getLang() === 'zh' ? '、' : ', ');
    ns.hidden = !v.namespaces.length;
    ns.textContent = v.namespaces.length ? t('terms.ns', { kinds }) : '';
    ns.title = v.namespaces.length ? t('terms.nsTitle', { kinds }) : '';
    const close = v.tabItem.querySelector('.term-tab-close') as HTMLElement;
    close.setAttribute('aria-label', t('terms.closeTab', { n: v.n }));
    close.title = t('terms.closeTab', { n: v.n });
  }

  private closeTerminal(n: number): void {
    const v = this.views.get(n);
    if (!v || this.views.size <= 1) return;
    // an exited shell is already gone on the server
    if (!v.exited) {
      this.wire.close(n);
      if (this.closing.has(n)) clearTimeout(this.closing.get(n));
      // should the exit never be reported (socket gone), do not hold the number forever
      this.closing.set(n, setTimeout(() => this.closingDone(n), 5000));
    }
    if (v.readyTimer) clearTimeout(v.readyTimer);
    if (v.ackTimer) clearTimeout(v.ackTimer);
    v.term.dispose();
    v.tabItem.remove();
    v.panel.remove();
    this.views.delete(n);
    this.updateAddButton();
    if (this.active === n) this.select(this.numbers[0], true);
  }

  /** Delete on a tab is one key away from the shell's own use of it: ask before a live shell goes. */
  private async closeAfterAsking(n: number): Promise<void> {
    const v = this.views.get(n);
    if (!v || this.views.size <= 1) return;
    if (!v.exited && !(await confirmDialog(t('terms.closeConfirm', { n }), t('terms.closeButton')))) return;
    this.closeTerminal(n);
  }

  private openOnServer(v: TermView): void {
    v.exited = false;
    if (this.closing.has(v.n)) {
      v.openDeferred = true;
      return;
    }
    v.openDeferred = false;
    const { cols, rows } = this.sizeOf(v);
    v.sentSize = { cols, rows };
    this.wire.open(v.n, cols, rows);
  }

  private closingDone(n: number): void {
    clearTimeout(this.closing.get(n));
    this.closing.delete(n);
    const v = this.views.get(n);
    if (v?.openDeferred) this.openOnServer(v);
  }

  private forgetClosing(): void {
    for (const timer of this.closing.values()) clearTimeout(timer);
    this.closing.clear();
    for (const v of this.views.values()) v.openDeferred = false;
  }

  private sizeOf(v: TermView): { cols: number; rows: number } {
    // a hidden panel cannot be measured; reuse the active terminal's size (same panel box)
    let dims = v.panel.hidden ? undefined : v.fit.proposeDimensions();
    if (!dims || !Number.isFinite(dims.cols)) {
      const a = this.views.get(this.active);
      dims = a ? { cols: a.term.cols, rows: a.term.rows } : { cols: 80, rows: 24 };
    }
    const cols = Math.min(SIZE_BOUNDS.maxCols, Math.max(SIZE_BOUNDS.minCols, Math.floor(dims.cols)));
    const rows = Math.min(SIZE_BOUNDS.maxRows, Math.max(SIZE_BOUNDS.minRows, Math.floor(dims.rows)));
    if (v.term.cols !== cols || v.term.rows !== rows) v.term.resize(cols, rows);
    return { cols, rows };
  }

  private fitActive(): void {
    const v = this.views.get(this.active);
    if (!v || v.panel.hidden || v.panel.clientWidth === 0) return;
    const { cols, rows } = this.sizeOf(v);
    if (v.live && (!v.sentSize || v.sentSize.cols !== cols || v.sentSize.rows !== rows)) {
      v.sentSize = { cols, rows };
      this.wire.resize(v.n, cols, rows);
    }
  }

  private flushAck(v: TermView): void {
    if (v.ackTimer) clearTimeout(v.ackTimer);
    v.ackTimer = null;
    if (v.unacked > 0) {
      this.wire.ack(v.n, v.unacked);
      v.unacked = 0;
    }
  }

  private sortTabs(): void {
    for (const n of this.numbers) {
      const v = this.views.get(n)!;
      this.tablist.append(v.tabItem);
      this.panels.append(v.panel);
    }
  }

  private updateAddButton(): void {
    this.addBtn.disabled = this.views.size >= this.maxTerminals;
    this.el.classList.toggle('single-terminal', this.views.size <= 1);
  }

  private onTablistKey(e: KeyboardEvent): void {
    const ns = this.numbers;
    const i = ns.indexOf(this.active);
    let target: number | undefined;
    if (e.key === 'ArrowRight') target = ns[(i + 1) % ns.length];
    else if (e.key === 'ArrowLeft') target = ns[(i - 1 + ns.length) % ns.length];
    else if (e.key === 'Home') target = ns[0];
    else if (e.key === 'End') target = ns[ns.length - 1];
    else if (e.key === 'Delete') {
      e.preventDefault();
      void this.closeAfterAsking(this.active);
      return;
    }
    if (target === undefined) return;
    e.preventDefault();
    this.select(target, false);
    this.views.get(target)!.tab.focus();
  }

  private findNext(incremental = false): void {
    const v = this.views.get(this.active);
    if (v) v.search.findNext(this.searchInput.value, { incremental, decorations: searchDecorations() });
  }

  private findPrev(): void {
    const v = this.views.get(this.active);
    if (v) v.search.findPrevious(this.searchInput.value, { decorations: searchDecorations() });
  }

  private hideSearch(): void {
    this.searchBar.hidden = true;
    this.views.get(this.active)?.search.clearDecorations();
    this.focusActive();
  }
}

function searchDecorations() {
  return getTheme() === 'dark'
    ? { matchBackground: '#3d4a73', activeMatchBackground: '#c9a23a', matchOverviewRuler: '#7aa2ff', activeMatchColorOverviewRuler: '#e6c36a' }
    : { matchBackground: '#dce4fb', activeMatchBackground: '#f5cf5b', matchOverviewRuler: '#3a5ccc', activeMatchColorOverviewRuler: '#b07a00' };
}

const IS_MAC = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform);

/**
 * Ctrl+V and Ctrl+Shift+V, as in Windows Terminal and GNOME Terminal. Left to xterm,
 * Ctrl+V sends ^V (bash's quoted-insert, which swallows the next key) and cancels the
 * browser's paste. On a Mac, Cmd+V pastes and Ctrl+V keeps its terminal meaning.
 */
export function isPasteKey(e: KeyboardEvent): boolean {
  return !IS_MAC && e.ctrlKey && !e.altKey && !e.metaKey && e.code === 'KeyV';
}

/** Alt+digit, Alt+[ / ], Alt+Shift+N, Alt+L, Alt+S, Alt+F, Alt+M, Alt+/ (see shortcuts.ts) */
export function isAppShortcut(e: KeyboardEvent): boolean {
  if (!e.altKey || e.ctrlKey || e.metaKey) return false;
  const c = e.code;
  if (/^Digit[1-9]$/.test(c) && !e.shiftKey) return true;
  if (c === 'BracketLeft' || c === 'BracketRight') return true;
  if (c === 'KeyN' && e.shiftKey) return true;
  if ((c === 'KeyL' || c === 'KeyS' || c === 'KeyF' || c === 'KeyM' || c === 'Slash') && !e.shiftKey) return true;
  return false;
}
