/**
 * Checks for the mount namespace lesson.
 *
 * Every step is judged on mount tables: /proc/PID/mountinfo of the sandbox's PID 1
 * (the sandbox's own mount namespace, what terminal 2 sees) and of one live process
 * per new mount namespace, read from the host through the probe, plus each process's
 * root directory (readlink /proc/PID/root from the host: '/' unless it ran chroot).
 * `shared-propagation` also asks the command log in which namespace the mount command
 * ran: a copy made at unshare time and a mount that propagated later look the same
 * in the tables. The texts are in messages.<lang>.json.
 */
import {
  arePeers, defineChecks, describeSource, fail, mountTable, mountedDir, msg, pass, pending, propagationName, sameFsLocation,
  type Lab, type MountInfo, type MountTable, type ProcessInfo,
} from '../../lab-server/checks/api.ts';

/** where the lesson asks for the bind mount, and of what */
const BIND_SOURCE = '/tmp/site';
const BIND_TARGET = '/srv/www';

/**
 * Mount points the sandbox itself sets up (docs/sandbox.md): a copy of them is in
 * every new mount namespace, so they say nothing about what the learner did.
 */
const SANDBOX_MOUNTS = /^\/(?:$|usr$|etc$|opt$|var(?:$|\/tmp$)|proc(?:$|\/)|dev(?:$|\/)|sys(?:$|\/)|run(?:$|\/))/;

interface Namespace { ns: number; proc: ProcessInfo; table: MountTable }

const sameMount = (a: MountInfo | undefined, b: MountInfo | undefined) =>
  !!a && !!b && sameFsLocation(mountedDir(a), mountedDir(b));

/** the sandbox's own mount table (PID 1's) */
async function sandboxTable(lab: Lab): Promise<MountTable> {
  const table = await mountTable(lab, (await lab.init()).hostPid);
  if (!table) throw new Error("cannot read the sandbox's own mount table");
  return table;
}

/**
 * One live process (and its table) per new mount namespace, first seen first. A
 * process's mountinfo shows only what is below its root, so where one process of the
 * namespace ran chroot, another one whose root is the namespace's '/' speaks for it.
 */
async function newMountNamespaces(lab: Lab): Promise<Namespace[]> {
  const procs = await lab.processes();
  const out: Namespace[] = [];
  for (const [ns, first] of await lab.newNamespaces('mnt')) {
    const proc = first.root === '/' ? first : procs.find((p) => p.ns.mnt === ns && p.state !== 'Z' && p.root === '/') ?? first;
    const table = await mountTable(lab, proc.hostPid);
    if (table) out.push({ ns, proc, table });
  }
  return out;
}

/**
 * Does the sandbox's root mount still sit at '/' in this table? Then the process stands
 * on it, even with another mount stacked on '/' (`mount -t tmpfs x /` hides nothing
 * from a process whose root is the mount below). After pivot_root the old root is
 * elsewhere (put_old) or gone, never at '/'.
 */
const onSandboxRoot = (table: MountTable, sandbox: MountTable) =>
  table.mounts.some((m) => m.mountPoint === '/' && sameMount(m, sandbox.at('/')));

/** namespaces whose processes still stand on the sandbox's root filesystem (no chroot, no pivot_root) */
async function sameRootNamespaces(lab: Lab, sandbox: MountTable): Promise<Namespace[]> {
  return (await newMountNamespaces(lab)).filter((n) => n.proc.root === '/' && onSandboxRoot(n.table, sandbox));
}

/** mounts of `table` that the sandbox's table has, with the same filesystem at the same place */
const alsoInSandbox = (m: MountInfo, sandbox: MountTable) => sameMount(sandbox.at(m.mountPoint), m);

/** does the command (one line as typed) mount something at or by the name of `where`? */
function mountsAt(command: string, where: string): boolean {
  const base = where.split('/').filter(Boolean).at(-1) ?? '';
  return command.split(/[;&|()]+/).some((part) => {
    const s = part.trim();
    return /^(sudo\s+)?mount\s/.test(s) && !/--make-|\bremount\b|--move\b/.test(s) && (s.includes(where) || (!!base && s.split(/\s+/).some((w) => w.replace(/\/+$/, '').endsWith(base))));
  });
}

/** a process of a namespace that ran pivot_root: its '/' is another mount, its root directory still '/' */
interface Switched { proc: ProcessInfo; table: MountTable; oldRoot: MountInfo[] }

async function pivoted(lab: Lab, sandbox: MountTable): Promise<{ pivoted: Switched[]; chrooted: ProcessInfo[] }> {
  const out: Switched[] = [];
  for (const n of await newMountNamespaces(lab)) {
    if (n.proc.root !== '/' || onSandboxRoot(n.table, sandbox)) continue;
    out.push({ proc: n.proc, table: n.table, oldRoot: n.table.mounts.filter((m) => sameMount(m, sandbox.at('/'))) });
  }
  const chrooted = (await lab.processes()).filter((p) => p.state !== 'Z' && p.root !== '/' && p.root !== '');
  return { pivoted: out, chrooted };
}

export default defineChecks({
  'private-mount': async (lab) => {
    const sandbox = await sandboxTable(lab);
    const spaces = await sameRootNamespaces(lab, sandbox);
    if (!spaces.length) return pending(msg('private-mount.no-namespace'));
    let inBoth: MountInfo | undefined;
    for (const n of spaces) {
      for (const m of n.table.mounts) {
        if (m.fsType !== 'tmpfs') continue;
        if (!alsoInSandbox(m, sandbox)) return pass();
        if (!SANDBOX_MOUNTS.test(m.mountPoint)) inBoth ??= m;
      }
    }
    if (inBoth) {
      return fail(msg('private-mount.seen-by-both', { path: inBoth.mountPoint, propagation: propagationName(inBoth) }));
    }
    return pending(msg('private-mount.no-mount'));
  },

  'shared-propagation': async (lab) => {
    const sandbox = await sandboxTable(lab);
    const spaces = await sameRootNamespaces(lab, sandbox);
    const log = lab.commandsRun().filter((e) => e.status === 0);
    let madeOutside: MountInfo | undefined;
    let privateCopy: MountInfo | undefined;
    let slaveCopy: MountInfo | undefined;
    for (const n of spaces) {
      for (const m of n.table.mounts) {
        if (SANDBOX_MOUNTS.test(m.mountPoint)) continue;
        const there = sandbox.at(m.mountPoint);
        const parent = n.table.parent(m);
        const parentThere = there && sandbox.parent(there);
        if (there && sameMount(there, m) && arePeers(there, m) && parent && parentThere && arePeers(parent, parentThere)) {
          // in both tables, one peer group, under one shared parent: mounted in this
          // namespace after unshare (and propagated), or copied along by unshare?
          if (log.some((e) => e.ns.mnt === n.ns && mountsAt(e.command, m.mountPoint))) return pass();
          madeOutside ??= m;
          continue;
        }
        // a shared mount of the sandbox's that arrived private (or as a slave) in the new namespace
        if (!there && parent) {
          const parentInSandbox = sandbox.at(parent.mountPoint);
          if (parentInSandbox && sameMount(parentInSandbox, parent) && parentInSandbox.propagation.shared !== null) {
            if (propagationName(parent) === 'private') privateCopy ??= parent;
            else if (parent.propagation.shared === null && parent.propagation.master !== null) slaveCopy ??= parent;
          }
        }
      }
    }
    if (privateCopy) return fail(msg('shared-propagation.private-copy', { path: privateCopy.mountPoint }));
    if (slaveCopy) return fail(msg('shared-propagation.slave-copy', { path: slaveCopy.mountPoint }));
    if (madeOutside) return fail(msg('shared-propagation.made-outside', { path: madeOutside.mountPoint }));
    const shared = sandbox.mounts.find((m) => !SANDBOX_MOUNTS.test(m.mountPoint) && m.propagation.shared !== null);
    if (!shared) return pending(msg('shared-propagation.no-shared-mount'));
    if (!spaces.length) return pending(msg('shared-propagation.no-namespace', { path: shared.mountPoint }));
    return pending(msg('shared-propagation.no-mount', { path: shared.mountPoint }));
  },

  'bind-mount': async (lab) => {
    const sandbox = await sandboxTable(lab);
    const spaces = await sameRootNamespaces(lab, sandbox);
    let wrong: { shown: string } | undefined;
    for (const n of spaces) {
      const m = n.table.at(BIND_TARGET);
      if (!m) continue;
      if (sameFsLocation(mountedDir(m), n.table.locate(BIND_SOURCE))) {
        if (!alsoInSandbox(m, sandbox)) return pass();
        continue;
      }
      wrong ??= { shown: describeSource(m) };
    }
    if (wrong) return fail(msg('bind-mount.wrong-dir', { shown: wrong.shown }));
    const inSandbox = sandbox.at(BIND_TARGET);
    if (inSandbox) return fail(msg('bind-mount.in-sandbox-namespace'));
    if (!spaces.length) return pending(msg('bind-mount.no-namespace'));
    return pending(msg('bind-mount.not-yet'));
  },

  'pivot-root': async (lab) => {
    const sandbox = await sandboxTable(lab);
    const { pivoted: done, chrooted } = await pivoted(lab, sandbox);
    if (done.length) return pass();
    if (chrooted.length) return fail(msg('pivot-root.chroot', { root: chrooted[0].root }));
    if (!(await newMountNamespaces(lab)).length) return pending(msg('pivot-root.no-namespace'));
    return pending(msg('pivot-root.not-yet'));
  },

  'detach-old-root': async (lab) => {
    const sandbox = await sandboxTable(lab);
    const { pivoted: done } = await pivoted(lab, sandbox);
    if (!done.length) return pending(msg('detach-old-root.pivot-first'));
    if (done.some((p) => !p.oldRoot.length)) return pass();
    return fail(msg('detach-old-root.still-mounted', { path: done[0].oldRoot[0].mountPoint }));
  },
}, {
  // each step starts from a fresh `unshare --mount` shell (the lesson says to `exit`
  // the last one): that the earlier namespaces are gone is the plan, not something to redo
  leftBehind: ['private-mount', 'shared-propagation', 'bind-mount'],
});
