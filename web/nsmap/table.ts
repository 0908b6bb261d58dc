/**
 * The map's text alternative: one table row per namespace, read by a screen reader as
 * "namespace, nested in, processes, holds" with the namespace as the row header. The
 * nesting the drawing shows by boxes is a column here ("inside pid namespace N").
 */
import { h } from '../dom.ts';
import { t } from '../i18n.ts';
import { walk, type MapModel } from './model.ts';
import { namespaceLabel, nsTruncatedText, terminalLabel, truncatedText } from './render.ts';

export function renderTable(model: MapModel): HTMLElement {
  const rows = [...walk(model.roots)].map(({ ns, parent }) => {
    const procs = ns.processes.map((p) => {
      const who = p.terminals.length ? `${p.terminals.map((n) => t('map.terminalLong', { n })).join(', ')}: ` : '';
      return h('li', { 'data-pid': String(p.pid), 'data-terminals': p.terminals.join(' ') || null },
        p.terminals.length ? h('span', { class: 'nsmap-term', 'aria-hidden': 'true' }, p.terminals.map(terminalLabel).join(' ')) : null,
        h('span', { class: p.terminals.length ? 'visually-hidden' : null }, who),
        `${p.pid} ${p.comm}`,
      );
    });
    const unlisted = ns.terminals.filter((n) => !ns.processes.some((p) => p.terminals.includes(n)));
    const holds = [
      ns.error !== undefined ? h('p', null, t('map.error', { why: ns.error })) : null,
      ns.summary !== undefined ? h('p', null, ns.summary) : null,
      ...ns.groups.map((g) => h('div', { class: 'nsmap-table-group', 'data-group': g.key },
        h('span', { class: 'nsmap-group-title' }, `${g.title}: `),
        g.items.length ? h('ul', null, g.items.map((it) => h('li', { 'data-key': it.key }, it.text))) : h('span', null, t('map.nothing')),
        g.truncated ? h('span', { class: 'nsmap-truncated' }, truncatedText(g.items.length, g.total)) : null,
      )),
    ];
    return h('tr', { 'data-ns': String(ns.inode) },
      h('th', { scope: 'row' }, namespaceLabel(model, ns)),
      h('td', null, parent ? namespaceLabel(model, parent) : '—'),
      h('td', null,
        // a shell whose process row was cut off (a long list) is still named
        unlisted.length ? h('p', { class: 'nsmap-table-terms' }, unlisted.map((n) => t('map.terminalLong', { n })).join(', ')) : null,
        procs.length ? h('ul', null, procs) : t('map.noProcesses'),
        ns.processesTruncated ? h('span', { class: 'nsmap-truncated' }, truncatedText(ns.processes.length, ns.processesTotal)) : null),
      h('td', null, holds),
    );
  });
  return h('div', { class: 'nsmap-table-wrap' },
    model.namespacesTruncated ? h('p', { class: 'nsmap-truncated nsmap-truncated-all' }, nsTruncatedText(model)) : null,
    h('table', { class: 'nsmap-table' },
      h('caption', null, t('map.tableCaption', { kind: model.kind, n: rows.length })),
      h('colgroup', null, h('col', { class: 'nsmap-col-ns' }), h('col', { class: 'nsmap-col-parent' }), h('col', { class: 'nsmap-col-procs' }), h('col', null)),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('map.col.namespace')),
        h('th', { scope: 'col' }, t('map.col.parent')),
        h('th', { scope: 'col' }, t('map.col.processes')),
        h('th', { scope: 'col' }, t('map.col.holds')),
      )),
      h('tbody', null, rows),
    ),
  );
}
