/**
 * The join link as a QR code, drawn as SVG by the qrcode library in the browser (no
 * network, no canvas), and a full-screen view of code, link and QR for projecting.
 */
import QRCode from 'qrcode';
import { h, icon } from '../dom.ts';
import { ct } from './strings.ts';

const svgs = new Map<string, Promise<string>>();

/** A box that receives the QR code of `url` as soon as it is drawn (the board repaints often; each URL is drawn once). */
export function joinQrSvg(url: string, label: string): HTMLElement {
  const box = h('div', { class: 'cr-qr', role: 'img', 'aria-label': label, 'data-qr': url });
  let svg = svgs.get(url);
  if (!svg) {
    // M: the link stays readable with a glare spot on a projector screen
    svg = QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2, color: { dark: '#000000', light: '#ffffff' } });
    svgs.set(url, svg);
  }
  svg.then((text) => {
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const el = doc.documentElement;
    if (el.nodeName !== 'svg') return;
    el.setAttribute('class', 'qr-code');
    el.setAttribute('aria-hidden', 'true');
    el.setAttribute('focusable', 'false');
    box.replaceChildren(document.importNode(el, true));
  }, () => { /* a link too long for a QR code: the text link is still there */ });
  return box;
}

/** Full screen: workshop title, join code, link and QR code, large enough to read from the back of the room. */
export function projectJoin(o: { title: string; code: string; url: string }): void {
  const back = document.activeElement as HTMLElement | null;
  const close = h('button', { type: 'button', class: 'button cr-project-close' }, icon('close'), ct('board.projectClose'));
  const dialog = h('dialog', { class: 'cr-project', 'aria-labelledby': 'cr-project-title' },
    h('h2', { id: 'cr-project-title' }, o.title),
    h('div', { class: 'cr-project-body' },
      joinQrSvg(o.url, ct('board.qrLabel', { url: o.url })),
      h('div', { class: 'cr-project-text' },
        h('div', { class: 'cr-project-label' }, ct('board.code')),
        h('div', { class: 'cr-project-code' }, o.code),
        h('div', { class: 'cr-project-label' }, ct('board.joinAt')),
        h('div', { class: 'cr-project-url' }, o.url))),
    close);
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => { dialog.remove(); back?.focus(); });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}
