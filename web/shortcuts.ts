/**
 * The keyboard shortcut list, in a modal <dialog> (focus trap and Escape for free), and
 * the terminal accessibility preference next to it, where keyboard users will look.
 * Shortcuts use Alt so that they reach the page even while a terminal has focus;
 * the terminal lets exactly these combinations through (see term/tabs.ts).
 */
import { h } from './dom.ts';
import { t, type MessageKey } from './i18n.ts';
import { screenReaderMode, setScreenReaderMode } from './prefs.ts';

/** a Mac's clipboard keys use Cmd; elsewhere Ctrl, with Shift for copy so Ctrl+C stays interrupt */
const IS_MAC = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform);

export const SHORTCUTS: { keys: string[]; label: MessageKey }[] = [
  { keys: ['Alt', '1…9'], label: 'shortcuts.term' },
  { keys: ['Alt', '[', ']'], label: 'shortcuts.nextTerm' },
  { keys: ['Alt', 'Shift', 'N'], label: 'shortcuts.new' },
  { keys: ['Alt', 'L'], label: 'shortcuts.lesson' },
  { keys: ['Alt', 'S'], label: 'shortcuts.step' },
  { keys: ['Alt', 'F'], label: 'shortcuts.search' },
  { keys: ['Alt', 'M'], label: 'map.shortcut' },
  { keys: IS_MAC ? ['⌘', 'V'] : ['Ctrl', 'V'], label: 'shortcuts.paste' },
  { keys: IS_MAC ? ['⌘', 'C'] : ['Ctrl', 'Shift', 'C'], label: 'shortcuts.copy' },
  { keys: ['Delete'], label: 'shortcuts.closeTab' },
  { keys: ['Alt', '/'], label: 'shortcuts.help' },
];

let dialog: HTMLDialogElement | null = null;

export function openShortcuts(): void {
  const back = document.activeElement as HTMLElement | null;
  dialog?.remove();
  const close = h('button', { type: 'button', class: 'button' }, t('shortcuts.close'));
  const sr = h('input', { type: 'checkbox' });
  sr.checked = screenReaderMode();
  sr.addEventListener('change', () => setScreenReaderMode(sr.checked));
  dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'shortcuts-title' },
    h('h2', { id: 'shortcuts-title' }, t('shortcuts.title')),
    h('dl', { class: 'shortcut-list' },
      SHORTCUTS.map((s) => [
        h('dt', null, s.keys.map((k, i) => [i > 0 ? ' ' : null, h('kbd', null, k)])),
        h('dd', null, t(s.label)),
      ]),
    ),
    h('label', { class: 'pref-toggle' }, sr, h('span', null, t('prefs.screenReader'))),
    h('div', { class: 'dialog-actions' }, close),
  );
  close.addEventListener('click', () => dialog?.close());
  dialog.addEventListener('close', () => {
    dialog?.remove();
    dialog = null;
    back?.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}
