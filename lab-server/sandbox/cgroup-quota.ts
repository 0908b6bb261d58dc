/**
 * How many cgroups a sandbox may make, and the guard that holds it to that.
 *
 * Why: every memory cgroup takes one id from a host-wide space of 65535
 * (MEM_CGROUP_ID_MAX), shared by every sandbox and every systemd unit. The learner
 * may mkdir in its delegated groups (the lessons need it), and nothing else bounds
 * how many: one 512 MiB sandbox could hold ~49,000 (docs/security.md, known gap 8).
 * Removed groups count too while they are "dying": a group whose memory still
 * holds pages (page cache, a tmpfs file written from inside it) stays in the
 * kernel after rmdir, so a mkdir/charge/rmdir loop fills the pool as surely as
 * mkdir alone (known gap 9). Hence two budgets: groups alive at once, and groups
 * made over the sandbox's life.
 *
 * v2: the kernel holds the live budget (cgroup.max.descendants and
 * cgroup.max.depth on the sandbox's root, which only host root may write). The
 * lifetime budget is this guard's, and the kernel helps: after each look the guard
 * lowers max.descendants to the groups alive now plus what is left of the budget,
 * so a burst of mkdirs stops in the kernel at the budget however far the guard
 * lags; once the budget is spent it drops to 0 (mkdir fails with EAGAIN from then
 * on; rmdir still works). Only a mkdir/rmdir churn can pass between two looks
 * (rmdir frees its place): one cycle per event the guard has not read yet.
 *
 * v1/hybrid: no such knob exists. The only synchronous gate the kernel offers a
 * user namespace is ownership: mkdir and rmdir in a cgroup directory need write
 * access to it, and the sandbox's root has no capability over a directory owned by
 * a host uid outside its map. So the guard watches every delegated tree (inotify,
 * which cgroupfs feeds from mkdir/rmdir like any filesystem), and once a budget is
 * spent it hands every directory of the tree back to host root (the files stay the
 * learner's: limits, cgroup.procs) and removes the groups beyond the live budget.
 * Between a burst of mkdirs and the guard's answer the learner can get ahead by
 * what it makes in that time (measured: tens); those extras are empty and free at
 * once when removed.
 */
import { chownSync, existsSync, lstatSync, readFileSync, readdirSync, rmdirSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, join } from 'node:path';

export interface CgroupQuota {
  /** groups that may exist at once below the sandbox's root (v2: the /init leaf is one of them) */
  live: number;
  /** groups the sandbox may make over its whole life */
  created: number;
  /** how deep below the sandbox's root */
  depth: number;
}

export const CGROUP_QUOTA: CgroupQuota = { live: 16, created: 64, depth: 4 };

/** the kernel's own bounds for a v2 sandbox root (written by host root at create) */
export function applyV2Limits(dir: string, quota: CgroupQuota = CGROUP_QUOTA): void {
  writeFileSync(join(dir, 'cgroup.max.descendants'), String(quota.live));
  writeFileSync(join(dir, 'cgroup.max.depth'), String(quota.depth));
}

interface Tree {
  root: string;
  watchers: Map<string, FSWatcher>;
  /** inode of every directory seen, by path */
  seen: Map<string, number>;
  /** what this guard last wrote to cgroup.max.descendants (v2) */
  maxDescendants?: number;
}

export type QuotaEvent = { kind: 'locked'; reason: string };

/**
 * Watches the trees a sandbox may write. `roots` are the sandbox's group in each
 * delegated hierarchy (v2: one). `mode` picks the lock.
 */
export class CgroupGuard {
  /** groups made since the guard started (conservative: never fewer than the truth) */
  created = 0;
  locked: string | null = null;
  /** how many times the guard has looked at its trees (each look walks them) */
  looks = 0;
  private trees: Tree[];
  private pending: NodeJS.Immediate | null = null;
  private stopped = false;
  private readonly activity = new Set<() => void>();

  constructor(
    roots: string[],
    private readonly mode: 'v2' | 'v1',
    private readonly quota: CgroupQuota = CGROUP_QUOTA,
    private readonly onLock: (e: QuotaEvent) => void = () => {},
  ) {
    this.trees = roots.filter(existsSync).map((root) => ({ root, watchers: new Map(), seen: new Map() }));
  }

  start(): void {
    for (const t of this.trees) {
      for (const d of walk(t.root)) this.track(t, d);
    }
    this.check();
  }

  stop(): void {
    this.stopped = true;
    if (this.pending) clearImmediate(this.pending);
    if (this.lookAgain) clearTimeout(this.lookAgain);
    for (const t of this.trees) {
      for (const w of t.watchers.values()) w.close();
      t.watchers.clear();
    }
  }

  private track(t: Tree, dir: string): void {
    if (t.watchers.has(dir)) return;
    try { t.seen.set(dir, lstatSync(dir).ino); } catch { return; }
    try {
      const w = watch(dir, { persistent: false }, (type, file) => {
        // 'rename' is a child directory made, removed or renamed (cgroupfs makes the
        // interface files itself, without events), or a child directory's owner or
        // mode changed (libuv reports IN_ATTRIB|IN_ISDIR as a rename), or the watched
        // directory itself removed: that one is the parent's event already
        const self = file === basename(dir) && !existsSync(dir);
        if (type === 'rename' && !self) this.events++;
        // cgroup v2 signals changes of its *.events files (pids.events, memory.events,
        // cgroup.events) as modifications: a fork refused, an OOM kill, a group emptied
        if (type === 'rename' || (file && String(file).endsWith('.events'))) this.notify();
        this.schedule();
      });
      w.on('error', () => { w.close(); t.watchers.delete(dir); });
      t.watchers.set(dir, w);
    } catch (err) {
      // out of inotify watches: a tree we cannot watch is a tree we must lock
      this.lock(`cannot watch ${dir}: ${(err as Error).message}`);
    }
  }

  private events = 0;

  /**
   * Something happened in the watched trees: a group made or removed, or an event
   * file changed (cgroup v2 only: v1's pids.events changes silently, measured on a
   * 6.18 kernel, and v1 memory OOMs need an eventfd, so on v1 only groups made or
   * removed are seen here). Uses the guard's watches: no more inotify watches per sandbox.
   */
  onActivity(listener: () => void): () => void {
    this.activity.add(listener);
    return () => this.activity.delete(listener);
  }

  private notify(): void {
    for (const l of this.activity) {
      try { l(); } catch (err) { console.error('nslab: cgroup activity listener failed', err); }
    }
  }

  private schedule(): void {
    if (this.pending || this.stopped) return;
    this.pending = setImmediate(() => { this.pending = null; this.check(); });
  }

  /** count what changed since the last look, and lock once a budget is spent */
  check(): void {
    if (this.stopped) return;
    this.looks++;
    let removed = 0;
    let live = 0;
    let tooDeep: string[] = [];
    const perTree: { t: Tree; dirs: string[] }[] = [];
    for (const t of this.trees) {
      const dirs = walk(t.root);
      const now = new Map<string, number>();
      for (const d of dirs) {
        try { now.set(d, lstatSync(d).ino); } catch { /* removed meanwhile */ }
      }
      const inos = new Set(now.values());
      for (const [d, ino] of t.seen) {
        if (!inos.has(ino)) {
          removed++;
          t.watchers.get(d)?.close();
          t.watchers.delete(d);
        }
      }
      t.seen = new Map([...t.seen].filter(([, ino]) => inos.has(ino)));
      for (const d of dirs) if (d !== t.root) this.track(t, d);
      live = Math.max(live, dirs.length - 1);
      tooDeep = tooDeep.concat(dirs.filter((d) => d.slice(t.root.length).split('/').length - 1 > this.quota.depth));
      perTree.push({ t, dirs });
    }
    // every mkdir and rmdir is one event; an rmdir we saw the result of is not a creation.
    // mkdir+rmdir between two looks counts as two: erring high is the safe side.
    this.created += Math.max(0, this.events - removed);
    this.events = 0;
    if (!this.locked) {
      // the budget is spent at the last group it allows: lock then, so the next mkdir already fails
      if (this.created >= this.quota.created) this.lock(`made ${this.quota.created} cgroups, its lifetime budget`);
      else if (live > this.quota.live) this.lock(`holds more than ${this.quota.live} cgroups at once`);
      else if (tooDeep.length) this.lock(`nested cgroups deeper than ${this.quota.depth}`);
    }
    if (this.locked && this.mode === 'v1') {
      let acted = false;
      for (const { t, dirs } of perTree) acted = this.trim(t, dirs) || acted;
      // a group made between this look's walk and its chown is answered by its own
      // event; one more look shortly after anything was done catches one whose event
      // came before the walk, and stops once a look finds nothing to do
      if (acted) this.lookAgainSoon();
    }
    if (!this.locked && this.mode === 'v2') {
      for (const { t, dirs } of perTree) this.narrow(t, dirs.length - 1);
    }
  }

  /** v2: the kernel refuses any mkdir beyond what the lifetime budget has left */
  private narrow(t: Tree, live: number): void {
    const allowed = Math.min(this.quota.live, live + Math.max(0, this.quota.created - this.created));
    if (t.maxDescendants === allowed) return;
    try {
      writeFileSync(join(t.root, 'cgroup.max.descendants'), String(allowed));
      t.maxDescendants = allowed;
    } catch { /* going away */ }
  }

  private lock(reason: string): void {
    if (this.locked) return;
    this.locked = reason;
    if (this.mode === 'v2') {
      for (const t of this.trees) {
        try { writeFileSync(join(t.root, 'cgroup.max.descendants'), '0'); } catch { /* going away */ }
      }
    }
    this.onLock({ kind: 'locked', reason });
  }

  private lookAgain: NodeJS.Timeout | null = null;

  private lookAgainSoon(): void {
    if (this.lookAgain || this.stopped) return;
    this.lookAgain = setTimeout(() => { this.lookAgain = null; this.check(); }, 250);
    this.lookAgain.unref();
  }

  /** v1, locked: every directory back to host root, and the groups beyond the budgets removed; true if it did anything */
  private trim(t: Tree, dirs: string[]): boolean {
    let acted = false;
    // only what is not host root's yet: a chown is an inotify event like a mkdir, and
    // chowning every look would make the next look, forever
    for (const d of dirs) {
      try {
        const st = lstatSync(d);
        if (st.uid !== 0 || st.gid !== 0) { chownSync(d, 0, 0); acted = true; }
      } catch { /* removed meanwhile */ }
    }
    // a learner who got ahead of us: the newest groups go first, deepest first
    const extra = dirs.filter((d) => d !== t.root)
      .map((d) => ({ d, ino: t.seen.get(d) ?? 0, depth: d.split('/').length }))
      .sort((a, b) => b.ino - a.ino);
    const tooDeep = extra.filter((e) => e.depth - t.root.split('/').length > this.quota.depth);
    const over = extra.filter((e) => !tooDeep.includes(e)).slice(0, Math.max(0, extra.length - tooDeep.length - this.quota.live));
    for (const { d } of [...tooDeep, ...over].sort((a, b) => b.depth - a.depth)) { removeGroup(d); acted = true; }
    return acted;
  }
}

/** an over-budget group: its processes go up to the parent first, then it is removed */
function removeGroup(dir: string): void {
  const parent = join(dir, '..');
  for (const sub of walk(dir)) {
    let pids: string[] = [];
    try { pids = readFileSync(join(sub, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean); } catch { /* gone */ }
    for (const p of pids) {
      try { writeFileSync(join(parent, 'cgroup.procs'), p); } catch { /* exited */ }
    }
    try { rmdirSync(sub); } catch { /* busy or gone: the next look tries again */ }
  }
}

/** every directory of a tree, deepest first */
export function walk(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    let entries: import('node:fs').Dirent[] = [];
    try { entries = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) if (e.isDirectory()) visit(join(d, e.name));
    out.push(d);
  };
  if (existsSync(dir)) visit(dir);
  return out;
}
