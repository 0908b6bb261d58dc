/**
 * The drawing: one box per namespace, boxes of nested namespaces inside their parent's
 * (pid, user), side by side otherwise. Plain DOM and CSS (nested boxes need no edges or
 * force layout, and text in the DOM themes, translates, wraps and zooms for free); see
 * docs/namespace-map.md, "UI".
 *
 * Rendering is a full rebuild from the model: at 200 processes and 50 namespaces that is
 * a few hundred elements (bench/nsmap-render.ts measures it), and a rebuild cannot leave
 * a stale row behind. Nothing inside is focusable, so a rebuild never steals focus.
 */
import { h } from '../dom.ts';
import { t } from '../i18n.ts';
import { walk, type MapModel, type MapNamespace } from './model.ts';

export interface Rendered {
  el: HTMLElement;
  /** elements that are new since `previous` (empty on a first render) */
  fresh: HTMLElement[];
  /** short texts of what is new, for the live region */
  news: string[];
}

export function namespaceLabel(model: MapModel, ns: MapNamespace): string {
  const name = t('map.namespace', { kind: model.kind, inode: ns.inode });
  return ns.sandbox ? t('map.namespaceOwn', { name }) : name;
}

export function terminalLabel(n: number): string {
  return t('map.terminalShort', { n });
}

/** `previous`: the keys of the last model drawn (model.ts keysOf), null on the first draw */
export function renderMap(model: MapModel, previous: Set<string> | null): Rendered {
  const fresh: HTMLElement[] = [];
  const news: string[] = [];
  const isNew = (key: string) => previous !== null && !previous.has(key);

  const box = (ns: MapNamespace): HTMLElement => {
    const label = namespaceLabel(model, ns);
    const head = h('div', { class: 'nsmap-ns-head' },
      h('span', { class: 'nsmap-ns-kind' }, model.kind),
      h('span', { class: 'nsmap-ns-inode' }, String(ns.inode)),
      ns.sandbox ? h('span', { class: 'nsmap-badge nsmap-badge-sandbox' }, t('map.sandbox')) : null,
    );
    // the shells are named in the heading too: they stay in view when the process list is long or cut
    const heads = ns.terminals.map((n) => h('span', { class: 'nsmap-term', 'data-terminal': String(n), title: t('map.terminalLong', { n }) }, terminalLabel(n)));
    if (heads.length) head.append(h('span', { class: 'nsmap-ns-terms' }, heads));
    const section = h('section', { class: `nsmap-ns${ns.sandbox ? ' is-sandbox' : ''}`, 'data-ns': String(ns.inode), 'aria-label': label }, head);
    const sectionNew = isNew(`ns:${ns.key}`);
    if (sectionNew) {
      fresh.push(section);
      news.push(label);
    }
    for (const [i, n] of ns.terminals.entries()) {
      if (!sectionNew && isNew(`t:${ns.key}:${n}`)) {
        fresh.push(heads[i]);
        news.push(t('map.newShell', { terminals: terminalLabel(n), ns: label }));
      }
    }
    if (ns.error !== undefined) section.append(h('p', { class: 'nsmap-none' }, t('map.error', { why: ns.error })));
    if (ns.summary !== undefined) {
      const sum = h('div', { class: 'nsmap-summary' }, ns.summary);
      section.append(sum);
      if (!sectionNew && isNew(`sum:${ns.key}:${ns.summary}`)) {
        fresh.push(sum);
        news.push(`${label}: ${ns.summary}`);
      }
    }

    const procs = h('ul', { class: 'nsmap-procs', 'aria-label': t('map.processes') });
    for (const p of ns.processes) {
      const li = h('li', { class: `nsmap-proc${p.terminals.length ? ' is-terminal' : ''}`, 'data-pid': String(p.pid), 'data-terminals': p.terminals.join(' ') || null },
        p.terminals.map((n) => h('span', { class: 'nsmap-term', title: t('map.terminalLong', { n }) }, terminalLabel(n))),
        h('span', { class: 'nsmap-pid' }, String(p.pid)),
        h('span', { class: 'nsmap-comm' }, p.comm),
      );
      procs.append(li);
      if (!sectionNew && isNew(`p:${ns.key}:${p.key}:${p.terminals.join(',')}`)) {
        // said out loud: new shells (the heading, above); every `ps` would be noise
        fresh.push(li);
      }
    }
    if (ns.processes.length) section.append(procs);
    else section.append(h('p', { class: 'nsmap-none' }, t('map.noProcesses')));
    if (ns.processesTruncated) section.append(truncatedNote(ns.processes.length, ns.processesTotal));

    for (const g of ns.groups) {
      const list = h('ul', { class: 'nsmap-items' });
      for (const it of g.items) {
        const li = h('li', { class: 'nsmap-item', 'data-key': it.key, style: it.depth ? `--depth:${it.depth}` : null }, it.text);
        list.append(li);
        if (!sectionNew && isNew(`i:${ns.key}:${g.key}:${it.key}`)) {
          fresh.push(li);
          news.push(`${g.title}: ${it.text}`);
        }
      }
      section.append(h('div', { class: 'nsmap-group', 'data-group': g.key },
        h('div', { class: 'nsmap-group-title' }, g.title),
        g.items.length ? list : h('p', { class: 'nsmap-none' }, t('map.nothing')),
        g.truncated ? truncatedNote(g.items.length, g.total) : null,
      ));
    }

    if (ns.children.length) section.append(h('div', { class: 'nsmap-children' }, ns.children.map(box)));
    return section;
  };

  const el = h('div', { class: 'nsmap-canvas', 'data-kind': model.kind },
    model.namespacesTruncated ? h('p', { class: 'nsmap-truncated nsmap-truncated-all', role: 'note' }, nsTruncatedText(model)) : null,
    h('div', { class: 'nsmap-forest' }, model.roots.map(box)),
  );
  return { el, fresh, news };
}

export function truncatedNote(shown: number, total: number | undefined): HTMLElement {
  return h('p', { class: 'nsmap-truncated' }, truncatedText(shown, total));
}

export function truncatedText(shown: number, total: number | undefined): string {
  return total !== undefined && total > shown ? t('map.truncatedOf', { shown, total }) : t('map.truncated', { shown });
}

export function nsTruncatedText(model: MapModel): string {
  let shown = 0;
  for (const _ of walk(model.roots)) shown++;
  return model.namespacesTotal !== undefined && model.namespacesTotal > shown
    ? t('map.nsTruncatedOf', { shown, total: model.namespacesTotal })
    : t('map.nsTruncated', { shown });
}
