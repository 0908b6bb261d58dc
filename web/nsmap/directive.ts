/**
 * A lesson step can focus the map on a namespace kind (the lesson directive, see
 * docs/namespace-map.md): the server renders it as an element carrying the kind.
 * Here: which kind a step's section asks for, and a button in its place that opens
 * the map on that kind, for whoever wants to look again.
 */
import { h, icon } from '../dom.ts';
import { t } from '../i18n.ts';
import { isMapKind, type MapKind } from './model.ts';

const SELECTOR = '.nslab-map[data-map-kind]';

/** the kind the step's directive asks for; null when it has none */
export function mapFocusOf(section: Element): MapKind | null {
  const el = section.querySelector<HTMLElement>(SELECTOR);
  const kind = el?.dataset.mapKind;
  return isMapKind(kind) ? kind : null;
}

/** puts an "open the map" button into every directive of the rendered lesson */
export function enhanceMapDirectives(root: Element, open: (kind: MapKind) => void): void {
  for (const el of root.querySelectorAll<HTMLElement>(SELECTOR)) {
    const kind = el.dataset.mapKind;
    if (!isMapKind(kind)) continue;
    const b = h('button', { type: 'button', class: 'button nsmap-directive-button', 'data-kind': kind }, icon('map'), h('span', null, t('map.showKind', { kind })));
    b.addEventListener('click', () => open(kind));
    el.querySelector('.nsmap-directive-button')?.remove();
    el.append(b);
  }
}
