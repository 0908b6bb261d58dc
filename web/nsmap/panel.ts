/**
 * The namespace map panel: kind picker, drawing or table, change highlighting, and the
 * subscription. It asks its source for snapshots only while it is visible (a hidden
 * map costs the server nothing) and draws at most once per animation frame, whatever
 * the rate at which snapshots come in.
 *
 * Keyboard: the kind picker is one tab stop (a radio group: arrows move and pick, as
 * WAI-ARIA's radio group pattern says), then the table toggle, then the map itself,
 * a scrollable region; Escape closes a closable panel.
 */
import './nsmap.css';
import { h, icon, setChildren } from '../dom.ts';
import { getLang, t, type MessageKey } from '../i18n.ts';
import { keysOf, MAP_KINDS, type MapKind, type MapModel } from './model.ts';
import { renderMap } from './render.ts';
import { renderTable } from './table.ts';

export interface MapSource {
  /** send snapshots from now on (true) or stop (false); a snapshot has every kind */
  subscribe(on: boolean): void;
}

export interface PanelOptions {
  /** shows a close button that calls this */
  onClose?: () => void;
  /** remembers the table/drawing choice and the kind under this name (localStorage) */
  storageKey?: string;
  kind?: MapKind;
}

/** how long something new stays highlighted */
const HIGHLIGHT_MS = 2500;
const TABLE_KEY = 'nslab.nsmap.table';

export class NamespaceMapPanel {
  readonly el: HTMLElement;
  private readonly picker: HTMLElement;
  private readonly radios = new Map<MapKind, HTMLButtonElement>();
  private readonly tableBtn: HTMLButtonElement;
  private readonly closeBtn: HTMLButtonElement | null;
  private readonly title: HTMLElement;
  private readonly status: HTMLElement;
  private readonly live: HTMLElement;
  private readonly body: HTMLElement;
  private currentKind: MapKind;
  private asTable: boolean;
  private visible = false;
  private subscribed = false;
  /** builds the latest snapshot's model of a kind in the current language */
  private latest: ((kind: MapKind) => MapModel) | null = null;
  private drawnKeys: Set<string> | null = null;
  private drawnKind: MapKind | null = null;
  private frame = 0;
  private highlightTimer: ReturnType<typeof setTimeout> | null = null;
  private unavailable = false;
  /** time the last draw took (ms): for the bench and the browser tests */
  lastRenderMs = 0;

  constructor(private readonly source: MapSource, private readonly opts: PanelOptions = {}) {
    this.currentKind = opts.kind ?? 'ipc';
    this.asTable = localStorage.getItem(TABLE_KEY) === '1';
    this.title = h('h2', { class: 'nsmap-title', id: uniqueId('nsmap-title') });
    this.picker = h('div', { class: 'nsmap-kinds', role: 'radiogroup' });
    for (const kind of MAP_KINDS) {
      const b = h('button', { type: 'button', role: 'radio', class: 'nsmap-kind', 'data-kind': kind }, kind);
      b.addEventListener('click', () => this.setKind(kind));
      this.radios.set(kind, b);
      this.picker.append(b);
    }
    this.picker.addEventListener('keydown', (e) => this.onPickerKey(e));
    this.tableBtn = h('button', { type: 'button', class: 'button button-ghost nsmap-table-toggle' });
    this.tableBtn.addEventListener('click', () => this.setTable(!this.asTable));
    this.closeBtn = opts.onClose ? h('button', { type: 'button', class: 'icon-button nsmap-close' }, icon('close')) : null;
    this.closeBtn?.addEventListener('click', () => opts.onClose?.());
    this.status = h('p', { class: 'nsmap-status' });
    this.live = h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
    this.body = h('div', { class: 'nsmap-body', tabindex: '0', role: 'region' });
    this.el = h('section', { class: 'nsmap', 'aria-labelledby': this.title.id },
      h('div', { class: 'nsmap-head' }, this.title, this.closeBtn),
      h('div', { class: 'nsmap-controls' }, this.picker, this.tableBtn),
      this.status,
      this.body,
      this.live,
    );
    // a drawer closes with Escape, and focus goes back to what opened it (the page's onClose)
    if (opts.onClose) {
      this.el.addEventListener('keydown', (e) => {
        if (e.key !== 'Escape' || e.defaultPrevented) return;
        e.preventDefault();
        opts.onClose?.();
      });
    }
    this.paintKinds();
    this.relabel();
  }

  get kind(): MapKind {
    return this.currentKind;
  }

  get isVisible(): boolean {
    return this.visible;
  }

  /** shown or hidden by the page (drawer open, narrow view, tab in the background) */
  setVisible(on: boolean): void {
    if (on === this.visible) return;
    this.visible = on;
    this.syncSubscription();
    if (on) this.schedule();
  }

  setKind(kind: MapKind, focus = false): void {
    if (kind !== this.currentKind) {
      this.currentKind = kind;
      this.paintKinds();
      // another kind is another picture: nothing in it is "new" (paintBody compares kinds)
      this.paintBody();
    }
    if (focus) this.radios.get(kind)?.focus();
  }

  /** a new snapshot; `build` makes its model of a kind in the current language (called again after a language or kind switch) */
  show(build: (kind: MapKind) => MapModel): void {
    this.unavailable = false;
    this.latest = build;
    if (this.visible) this.schedule();
  }

  /** the server has no map for this session (an older server, or the map is off) */
  setUnavailable(): void {
    this.unavailable = true;
    this.latest = null;
    this.paintBody();
  }

  /** the connection came back: subscriptions are per socket, ask again */
  resubscribe(): void {
    this.subscribed = false;
    this.syncSubscription();
  }

  /** a fresh machine: what was there before is not "the previous snapshot" */
  forget(): void {
    this.latest = null;
    this.drawnKeys = null;
    this.paintBody();
  }

  focusPicker(): void {
    this.radios.get(this.currentKind)?.focus();
  }

  relabel(): void {
    this.title.textContent = t('map.title');
    this.picker.setAttribute('aria-label', t('map.kinds'));
    for (const [kind, b] of this.radios) b.title = t(`map.kindHint.${kind}` as MessageKey);
    this.tableBtn.replaceChildren(icon('table'), h('span', null, t('map.asTable')));
    this.tableBtn.setAttribute('aria-pressed', String(this.asTable));
    if (this.closeBtn) {
      this.closeBtn.setAttribute('aria-label', t('map.close'));
      this.closeBtn.title = t('map.close');
    }
    this.body.setAttribute('aria-label', t('map.bodyLabel', { kind: this.currentKind }));
    // the drawing's words are the model's: rebuild it in the new language, without highlighting
    this.drawnKeys = null;
    this.paintBody();
  }

  dispose(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    if (this.highlightTimer) clearTimeout(this.highlightTimer);
    if (this.subscribed) this.source.subscribe(false);
    this.subscribed = false;
    this.visible = false;
  }

  // ---- internals

  private syncSubscription(): void {
    if (this.visible === this.subscribed) return;
    this.subscribed = this.visible;
    this.source.subscribe(this.visible);
    if (this.visible) this.paintStatus();
  }

  private setTable(on: boolean): void {
    this.asTable = on;
    localStorage.setItem(TABLE_KEY, on ? '1' : '0');
    this.tableBtn.setAttribute('aria-pressed', String(on));
    this.paintBody();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.paintBody();
    });
  }

  private paintKinds(): void {
    for (const [kind, b] of this.radios) {
      const on = kind === this.currentKind;
      b.setAttribute('aria-checked', String(on));
      b.tabIndex = on ? 0 : -1;
    }
    this.el.dataset.kind = this.currentKind;
    this.body?.setAttribute('aria-label', t('map.bodyLabel', { kind: this.currentKind }));
  }

  private paintStatus(model?: MapModel): void {
    if (this.unavailable) this.status.textContent = t('map.unavailable');
    else if (!model) this.status.textContent = t('map.waiting');
    else {
      const time = new Date(model.at).toLocaleTimeString(getLang(), { hour: '2-digit', minute: '2-digit', second: '2-digit' });
      this.status.textContent = t('map.updated', { time });
    }
  }

  private paintBody(): void {
    if (!this.body) return;
    const model = this.latest?.(this.currentKind) ?? null;
    if (!model) {
      this.paintStatus();
      setChildren(this.body, h('p', { class: 'nsmap-placeholder' }, this.unavailable ? t('map.unavailableLong') : t('map.waiting')));
      this.drawnKeys = null;
      return;
    }
    const t0 = performance.now();
    const previous = this.drawnKind === model.kind ? this.drawnKeys : null;
    const keys = keysOf(model);
    const drawing = renderMap(model, previous);
    // the drawing is built either way: its `news` feed the live region in both views
    this.body.replaceChildren(this.asTable ? renderTable(model) : drawing.el);
    this.lastRenderMs = performance.now() - t0;
    this.drawnKeys = keys;
    this.drawnKind = model.kind;
    this.paintStatus(model);
    this.el.dataset.renderMs = this.lastRenderMs.toFixed(2);
    if (drawing.fresh.length) {
      for (const el of drawing.fresh) el.classList.add('is-new');
      if (this.highlightTimer) clearTimeout(this.highlightTimer);
      this.highlightTimer = setTimeout(() => {
        for (const el of this.body.querySelectorAll('.is-new')) el.classList.remove('is-new');
      }, HIGHLIGHT_MS);
    }
    if (drawing.news.length && this.visible) {
      const list = drawing.news.slice(0, 3).join(getLang() === 'zh' ? '；' : '; ');
      this.live.textContent = t('map.news', { list: drawing.news.length > 3 ? `${list} …` : list });
    }
  }

  private onPickerKey(e: KeyboardEvent): void {
    const i = MAP_KINDS.indexOf(this.currentKind);
    let next: number | null = null;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') next = (i + 1) % MAP_KINDS.length;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') next = (i - 1 + MAP_KINDS.length) % MAP_KINDS.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = MAP_KINDS.length - 1;
    if (next === null) return;
    e.preventDefault();
    this.setKind(MAP_KINDS[next], true);
  }
}

let idCounter = 0;
function uniqueId(prefix: string): string {
  return `${prefix}-${++idCounter}`;
}
