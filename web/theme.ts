/**
 * Light/dark theme. Without a stored choice the page follows the OS; an explicit
 * choice sticks. Terminals and shiki code both read the same data-theme attribute,
 * so switching never re-renders the lesson.
 */
export type Theme = 'light' | 'dark';
const KEY = 'nslab.theme';
const media = window.matchMedia('(prefers-color-scheme: dark)');
const listeners = new Set<(t: Theme) => void>();

function stored(): Theme | null {
  const v = localStorage.getItem(KEY);
  return v === 'light' || v === 'dark' ? v : null;
}

export function getTheme(): Theme {
  return stored() ?? (media.matches ? 'dark' : 'light');
}

function apply(): void {
  const theme = getTheme();
  document.documentElement.dataset.theme = theme;
  document.documentElement.style.colorScheme = theme;
  for (const fn of listeners) fn(theme);
}

export function setTheme(theme: Theme): void {
  localStorage.setItem(KEY, theme);
  apply();
}

export function onThemeChange(fn: (t: Theme) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function initTheme(): void {
  media.addEventListener('change', () => {
    if (!stored()) apply();
  });
  apply();
}

/** xterm colours that match the page palettes in styles.css; the light set is dark enough
 *  for 4.5:1 contrast on the light background (bold green prompts included) */
export const TERMINAL_THEMES = {
  dark: {
    background: '#0f1320', foreground: '#dfe3ee', cursor: '#7aa2ff', cursorAccent: '#0f1320',
    selectionBackground: '#33467a', selectionInactiveBackground: '#2a3350',
    black: '#1b2030', red: '#f27878', green: '#7bd88f', yellow: '#e6c36a', blue: '#7aa2ff', magenta: '#c792ea', cyan: '#67d4e0', white: '#cdd3e1',
    brightBlack: '#5c6680', brightRed: '#ff9a9a', brightGreen: '#9eeaae', brightYellow: '#f2d78e', brightBlue: '#a0beff', brightMagenta: '#dcb2ff', brightCyan: '#94e6ef', brightWhite: '#ffffff',
  },
  light: {
    background: '#fbfcfe', foreground: '#1d2433', cursor: '#3a5ccc', cursorAccent: '#fbfcfe',
    selectionBackground: '#c9d6fb', selectionInactiveBackground: '#dde4f7',
    black: '#1d2433', red: '#c4314b', green: '#21763a', yellow: '#8a5d00', blue: '#3a5ccc', magenta: '#8a3fb8', cyan: '#0d6f7c', white: '#677086',
    brightBlack: '#5c6680', brightRed: '#b8283f', brightGreen: '#1f7a37', brightYellow: '#7f5700', brightBlue: '#3553c2', brightMagenta: '#8f3dbf', brightCyan: '#0c6b78', brightWhite: '#5c6680',
  },
} as const;
