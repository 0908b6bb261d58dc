/**
 * Small per-browser preferences that are not the theme or the language.
 * Screen reader mode makes xterm keep an accessible copy of the screen (off by default:
 * it costs rendering time on floods of output).
 */
const SR_KEY = 'nslab.screenReader';
const listeners = new Set<(on: boolean) => void>();

export function screenReaderMode(): boolean {
  return localStorage.getItem(SR_KEY) === '1';
}

export function setScreenReaderMode(on: boolean): void {
  localStorage.setItem(SR_KEY, on ? '1' : '0');
  for (const fn of listeners) fn(on);
}

export function onScreenReaderModeChange(fn: (on: boolean) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
