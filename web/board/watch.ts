/**
 * A read-only view of a learner's terminals on the board: one xterm per terminal,
 * `disableStdin` so nothing typed here is even produced, and the board socket has no
 * input path anyway (the server refuses binary frames from the board).
 */
import { FitAddon } from '@xterm/addon-fit';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { Terminal } from '@xterm/xterm';
import { h } from '../dom.ts';
import { getTheme, TERMINAL_THEMES } from '../theme.ts';

export class WatchView {
  readonly el: HTMLElement;
  private readonly tabs: HTMLElement;
  private readonly screens: HTMLElement;
  private readonly terms = new Map<number, { term: Terminal; fit: FitAddon; screen: HTMLElement; tab: HTMLButtonElement }>();
  private active = 0;
  private readonly onResize = () => this.fitActive();

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
    v = { term, fit, screen, tab };
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
  }

  private fitActive(): void {
    const v = this.terms.get(this.active);
    if (v) requestAnimationFrame(() => { try { v.fit.fit(); } catch { /* not laid out yet */ } });
  }

  data(n: number, bytes: Uint8Array): void { this.ensure(n).term.write(bytes); }
  opened(n: number): void { const v = this.ensure(n); v.term.reset(); v.tab.classList.remove('is-exited'); }
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
    for (const v of this.terms.values()) v.term.dispose();
    this.terms.clear();
    this.el.remove();
  }
}
