/**
 * A read-only view of a learner's terminals on the board: one xterm per terminal,
 * `disableStdin` so nothing typed here is even produced, and the board socket has no
 * input path anyway (the server refuses binary frames from the board).
 *
 * Each terminal takes the learner's size (the server sends it before the replay and
 * on every change): full-screen programs and long lines look as the learner sees
 * them instead of re-wrapped at the panel's width; a wider terminal scrolls inside
 * its box. The colours follow the page's light/dark switch.
 */
import { FitAddon } from '@xterm/addon-fit';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { Terminal } from '@xterm/xterm';
import { h } from '../dom.ts';
import { getTheme, onThemeChange, TERMINAL_THEMES } from '../theme.ts';

export class WatchView {
  readonly el: HTMLElement;
  private readonly tabs: HTMLElement;
  private readonly screens: HTMLElement;
  private readonly terms = new Map<number, { term: Terminal; fit: FitAddon; screen: HTMLElement; tab: HTMLButtonElement; sized: boolean }>();
  private active = 0;
  private readonly onResize = () => { this.fitActive(); for (const v of this.terms.values()) this.fitFont(v); };
  private readonly offTheme = onThemeChange((t) => {
    for (const v of this.terms.values()) v.term.options.theme = { ...TERMINAL_THEMES[t] };
  });

  constructor() {
    this.tabs = h('div', { class: 'cr-watch-tabs', role: 'tablist' });
    this.screens = h('div', { class: 'cr-watch-screens' });
    this.el = h('div', { class: 'cr-watch-view' }, this.tabs, this.screens);
    window.addEventListener('resize', this.onResize);
  }

  private ensure(n: number) {
    let v = this.terms.get(n);
    if (v) return v;
    const term = new Terminal({ disableStdin: true, cursorBlink: false, allowProposedApi: true, fontSize: 13, scrollback: 3000, theme: { ...TERMINAL_THEMES[getTheme()] } });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.loadAddon(new Unicode11Addon());
    term.unicode.activeVersion = '11';
    const screen = h('div', { class: 'cr-watch-screen', 'data-terminal': n });
    const tab = h('button', { type: 'button', class: 'cr-watch-tab', role: 'tab' }, `${n}`);
    tab.addEventListener('click', () => this.show(n));
    this.tabs.append(tab);
    this.screens.append(screen);
    term.open(screen);
    v = { term, fit, screen, tab, sized: false };
    this.terms.set(n, v);
    if (!this.active) this.show(n);
    else { screen.hidden = true; tab.setAttribute('aria-selected', 'false'); }
    return v;
  }

  private show(n: number): void {
    this.active = n;
    for (const [k, v] of this.terms) {
      v.screen.hidden = k !== n;
      v.tab.setAttribute('aria-selected', String(k === n));
    }
    this.fitActive();
    const v = this.terms.get(n);
    if (v) this.fitFont(v);
  }

  /** until the learner's size is known (an older server never sends it), fill the panel */
  private fitActive(): void {
    const v = this.terms.get(this.active);
    // checked again in the frame: the learner's size may have come in meanwhile
    if (v && !v.sized) requestAnimationFrame(() => { if (!v.sized) try { v.fit.fit(); } catch { /* not laid out yet */ } });
  }

  data(n: number, bytes: Uint8Array): void { this.ensure(n).term.write(bytes); }
  opened(n: number): void { const v = this.ensure(n); v.term.reset(); v.tab.classList.remove('is-exited'); }
  /** the learner's terminal size */
  size(n: number, cols: number, rows: number): void {
    const v = this.ensure(n);
    v.sized = true;
    v.screen.classList.add('is-sized');
    if (v.term.cols !== cols || v.term.rows !== rows) v.term.resize(cols, rows);
    this.fitFont(v);
  }

  /** a smaller font (down to 8 px) rather than a sideways scroll when the learner's terminal is wider than the panel */
  private fitFont(v: { term: Terminal; screen: HTMLElement; sized: boolean }): void {
    requestAnimationFrame(() => {
      const drawn = v.screen.querySelector<HTMLElement>('.xterm-screen');
      const room = v.screen.clientWidth - 8;
      if (!v.sized || !drawn || !drawn.offsetWidth || room <= 0) return;
      const now = v.term.options.fontSize ?? 13;
      const want = Math.max(8, Math.min(13, Math.floor((now * room) / drawn.offsetWidth)));
      if (want !== now) v.term.options.fontSize = want;
    });
  }
  exited(n: number): void { this.terms.get(n)?.tab.classList.add('is-exited'); }
  /** text of terminal n's buffer (tests read it through the DOM too) */
  text(n: number): string {
    const b = this.terms.get(n)?.term.buffer.active;
    if (!b) return '';
    const out: string[] = [];
    for (let i = 0; i < b.length; i++) out.push(b.getLine(i)?.translateToString(true) ?? '');
    return out.join('\n');
  }

  dispose(): void {
    window.removeEventListener('resize', this.onResize);
    this.offTheme();
    for (const v of this.terms.values()) v.term.dispose();
    this.terms.clear();
    this.el.remove();
  }
}
