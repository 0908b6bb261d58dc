/**
 * The server's snapshot (lab-server/contract/namespace-map.ts) as the map's model
 * (model.ts) for one kind, with every word in the current language. Keys are chosen
 * so that what the learner would call "the same thing" keeps its key across
 * snapshots: a queue by its id, an interface by its name, a cgroup by its path and
 * limits (a new limit is news, a change of usage is not).
 */
import type { NsmapCgroup, NsmapContents, NsmapNamespace, NsmapProcess, NsmapSnapshot } from '../../lab-server/contract/namespace-map.ts';
import { getLang, t } from '../i18n.ts';
import type { MapGroup, MapKind, MapModel, MapNamespace, MapProcess } from './model.ts';

export function snapshotModel(snap: NsmapSnapshot, kind: MapKind): MapModel {
  const view = snap.kinds.find((k) => k.kind === kind);
  const procs = new Map<number, NsmapProcess>();
  for (const p of snap.processes.items) procs.set(p.pid, p);
  if (!view) return { kind, at: snap.at, roots: [], namespacesTruncated: false };

  const nodes = new Map<number, MapNamespace>();
  for (const ns of view.namespaces) nodes.set(ns.id, namespaceModel(snap, ns, procs));
  const roots: MapNamespace[] = [];
  for (const ns of view.namespaces) {
    const node = nodes.get(ns.id)!;
    const parent = ns.parent !== null && ns.parent !== ns.id ? nodes.get(ns.parent) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  return { kind, at: snap.at, roots, namespacesTruncated: view.truncated, namespacesTotal: view.total };
}

function namespaceModel(snap: NsmapSnapshot, ns: NsmapNamespace, procs: Map<number, NsmapProcess>): MapNamespace {
  const processes: MapProcess[] = [];
  for (const pid of ns.pids) {
    const p = procs.get(pid);
    // a pid whose process row the server cut off: still a process in this namespace
    processes.push({ key: String(pid), pid, comm: p?.comm ?? '?', terminals: p?.terminal ? [p.terminal] : [] });
  }
  // the shells first: "where is T1" is the question the map answers most
  processes.sort((a, b) => (a.terminals[0] ?? Infinity) - (b.terminals[0] ?? Infinity) || a.pid - b.pid);
  const node: MapNamespace = {
    key: String(ns.id),
    inode: ns.id,
    sandbox: ns.own,
    terminals: [...ns.terminals],
    processes,
    processesTruncated: ns.processCount > ns.pids.length,
    processesTotal: ns.processCount,
    groups: [],
    children: [],
  };
  if (ns.contents === null) {
    if (ns.error) node.error = ns.error;
  } else {
    const { summary, groups } = contents(snap, ns.contents);
    if (summary !== undefined) node.summary = summary;
    node.groups = groups;
  }
  return node;
}

function contents(snap: NsmapSnapshot, c: NsmapContents): { summary?: string; groups: MapGroup[] } {
  switch (c.kind) {
    case 'ipc':
      return {
        groups: [
          group('msg', t('map.g.msg'), c.queues, (q) => ({ key: `msg:${q.id}`, text: t('map.item.msg', { key: hexKey(q.key), id: q.id, messages: q.messages, bytes: formatBytes(q.bytes) }) })),
          group('sem', t('map.g.sem'), c.sems, (s) => ({ key: `sem:${s.id}`, text: t('map.item.sem', { key: hexKey(s.key), id: s.id, nsems: s.nsems }) })),
          group('shm', t('map.g.shm'), c.shm, (m) => ({ key: `shm:${m.id}`, text: t('map.item.shm', { key: hexKey(m.key), id: m.id, size: formatBytes(m.size), attached: m.attached }) })),
          group('mq', t('map.g.mq'), c.mqueues, (q) => ({ key: `mq:${q.name}`, text: t('map.item.mq', { name: `/${q.name}`, bytes: formatBytes(q.bytes) }) })),
        ],
      };
    case 'uts': {
      const domain = c.domainname && c.domainname !== '(none)' ? ` (${c.domainname})` : '';
      return { summary: t('map.hostname', { name: `${c.hostname}${domain}` }), groups: [] };
    }
    case 'net':
      return {
        groups: [group('if', t('map.g.ifaces'), c.interfaces, (i) => {
          const addrs = i.addresses.items.map((a) => `${a.address}/${a.prefix}`).join(', ') + (i.addresses.truncated ? ' …' : '');
          const state = i.state === 'up' ? 'UP' : 'DOWN';
          return { key: `if:${i.name}:${state}`, text: `${i.name} ${state}${addrs ? ` ${addrs}` : ` · ${t('map.noAddress')}`}` };
        })],
      };
    case 'mnt':
      return {
        summary: t('map.mountCount', { n: c.mountCount }),
        groups: [group('mounts', t('map.g.mounts'), c.differences, (m) => ({
          key: `${m.change}:${m.mountPoint}:${m.fsType}:${m.source}`,
          text: t(m.change === 'added' ? 'map.mountAdded' : 'map.mountRemoved', { mount: `${m.mountPoint} ${m.fsType} (${m.source})` }),
        }))],
      };
    case 'cgroup':
      return { summary: t('map.cgroupRoot', { path: c.root }), groups: [cgroupGroup(snap, c.root)] };
    case 'pid':
    case 'user':
      return { summary: c.level > 0 ? t('map.level', { n: c.level }) : undefined, groups: [] };
    case 'time':
      return { groups: [] };
  }
}

interface Bounded<T> { items: T[]; total: number; truncated: boolean }

function group<T>(key: string, title: string, list: Bounded<T>, item: (x: T) => { key: string; text: string }): MapGroup {
  return { key, title, items: list.items.map(item), truncated: list.truncated, total: list.total };
}

/** the part of the sandbox's cgroup tree at and below this namespace's root, with limits and usage */
function cgroupGroup(snap: NsmapSnapshot, root: string): MapGroup {
  const under = (path: string) => root === '/' || path === root || path.startsWith(`${root}/`);
  const depthOf = (path: string) => (path === root ? 0 : path.slice(root === '/' ? 0 : root.length).split('/').filter(Boolean).length);
  const items = snap.cgroups.groups.items.filter((g) => under(g.path)).map((g) => ({
    key: `cg:${g.path}:${g.memoryLimit}:${g.pidsLimit}`,
    // below the top, the indent says where a group sits: its own name is enough
    text: cgroupText(g, depthOf(g.path) > 0 ? g.path.slice(g.path.lastIndexOf('/') + 1) : g.path),
    depth: depthOf(g.path),
  }));
  const all = snap.cgroups.groups;
  return { key: 'cgroups', title: t('map.g.cgroups'), items, truncated: all.truncated, total: all.truncated ? all.total : undefined };
}

function cgroupText(g: NsmapCgroup, name: string): string {
  const parts = [name, t('map.cgProcs', { n: g.processCount })];
  const usage = g.memoryUsage === null ? '?' : formatBytes(g.memoryUsage);
  if (g.memoryLimit !== null) parts.push(t('map.cgMemory', { usage, limit: formatBytes(g.memoryLimit) }));
  else if (g.memoryUsage !== null) parts.push(t('map.cgMemoryNoLimit', { usage }));
  if (g.pidsLimit !== null) parts.push(g.pidsUsage !== undefined ? t('map.cgPidsOf', { used: g.pidsUsage, n: g.pidsLimit }) : t('map.cgPids', { n: g.pidsLimit }));
  if (g.oomKills > 0) parts.push(t('map.cgOom', { n: g.oomKills }));
  return parts.join(' · ');
}

/** System V keys the way ipcs prints them */
export function hexKey(key: number): string {
  return `0x${(key >>> 0).toString(16).padStart(8, '0')}`;
}

/** one formatter per language and precision: making one costs more than formatting a hundred numbers */
const formatters = new Map<string, Intl.NumberFormat>();

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const id = `${getLang()}:${i === 0 ? 0 : 1}`;
  let f = formatters.get(id);
  if (!f) formatters.set(id, (f = new Intl.NumberFormat(getLang(), { maximumFractionDigits: i === 0 ? 0 : 1 })));
  const num = f.format(v);
  return `${num} ${units[i]}`;
}
