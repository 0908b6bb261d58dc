/**
 * A confirm() that matches the app and can be read in the interface language.
 * Resolves true only for the explicit confirm button; Escape or Cancel is false.
 */
import { h } from './dom.ts';
import { t } from './i18n.ts';

export function confirmDialog(message: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const back = document.activeElement as HTMLElement | null;
    const ok = h('button', { type: 'button', class: 'button button-danger' }, confirmLabel);
    const cancel = h('button', { type: 'button', class: 'button' }, t('cancel'));
    const dialog = h('dialog', { class: 'dialog', 'aria-describedby': 'confirm-msg' },
      h('p', { id: 'confirm-msg', class: 'dialog-message' }, message),
      h('div', { class: 'dialog-actions' }, cancel, ok),
    );
    let result = false;
    ok.addEventListener('click', () => { result = true; dialog.close(); });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      back?.focus();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
