/**
 * Checks for the user namespace lesson.
 *
 * State steps read from the host what the kernel says about each shell's user
 * namespace: its parent, the uid that made it, uid_map, gid_map and setgroups
 * (`unmapped-shell`, `write-maps`), and which user namespace owns a mount
 * namespace with a tmpfs in it (`tmpfs-not-clock`). Shells of uid 1000 cannot
 * write to the command log (its FIFO belongs to the sandbox's root), so those
 * steps never rely on it; `where-am-i` and `ownership` are typed in root shells and
 * change nothing, so they use the log. The texts are in messages.<lang>.json.
 */
import {
  defineChecks, fail, mapsInside, msg, pass, pending,
  type Lab, type MountInfo, type ProcessInfo, type UserNamespaceInfo,
} from '../../lab-server/checks/api.ts';

/** `cat /proc/self/uid_map`, `cat /proc/$$/gid_map`, `cat /proc/1/uid_map` ... */
const READS_MAP = /\b(cat|head|tail|less|more|grep|awk)\b[^;|&]*\/proc\/(self|\$\$|\$BASHPID|\d+)\/[ug]id_map\b/;
const SHOWS_ID = /(^|[;&|(]\s*)(id|whoami)\b/;
/** lsns showing who owns what: the ONS column, or the owner tree */
const LSNS_OWNERS = /\blsns\b[^;|&]*(\bONS\b|--tree[= ]owner\b|-T\s*owner\b|-\w*T\w*\b[^;|&]*(-t|--type)\b|(-t|--type)\b[^;|&]*-\w*T\w*\b)/;

interface NestedShell { proc: ProcessInfo; user: UserNamespaceInfo }

/** live shells in a user namespace made directly inside the sandbox's, with what the kernel says about it */
async function nestedShells(lab: Lab): Promise<NestedShell[]> {
  const root = await lab.rootNamespaces();
  const out: NestedShell[] = [];
  for (const proc of await lab.shells()) {
    if (proc.ns.user === root.user) continue;
    const user = await lab.userNamespace(proc.hostPid).catch(() => null); // it may have just exited
    if (user && user.parent === root.user) out.push({ proc, user });
  }
  return out;
}

const mapped = (u: UserNamespaceInfo) => mapsInside(u.uidMap, 0) && mapsInside(u.gidMap, 0);

/** tmpfs mounts a process sees that the sandbox's PID 1 does not have */
function newTmpfs(mounts: MountInfo[], initMounts: MountInfo[]): MountInfo[] {
  // by device, not by place: every tmpfs is a filesystem of its own (its own anonymous
  // device), a copy made by unshare keeps it, and a new one can sit where one was (/mnt)
  const known = new Set(initMounts.filter((m) => m.fsType === 'tmpfs').map((m) => m.device));
  return mounts.filter((m) => m.fsType === 'tmpfs' && !known.has(m.device));
}

export default defineChecks({
  'where-am-i': async (lab) => {
    const log = lab.commandsRun();
    const map = log.some((e) => READS_MAP.test(e.command) && e.status === 0);
    const id = log.some((e) => SHOWS_ID.test(e.command) && e.status === 0);
    if (map && id) return pass();
    if (map) return pending(msg('where-am-i.id-missing'));
    if (id) return pending(msg('where-am-i.map-missing'));
    return pending(msg('where-am-i.not-yet'));
  },

  'unmapped-shell': async (lab) => {
    const shells = await nestedShells(lab);
    const byUser = shells.filter((s) => s.user.ownerUid !== 0);
    if (byUser.some((s) => s.user.uidMap.length === 0)) return pass();
    if (byUser.length) return pending(msg('unmapped-shell.already-mapped'));
    if (shells.length) return fail(msg('unmapped-shell.made-by-root', { pid: shells[0].proc.pid }));
    return pending(msg('unmapped-shell.not-yet'));
  },

  'write-maps': async (lab) => {
    const shells = (await nestedShells(lab)).filter((s) => s.user.ownerUid !== 0);
    if (shells.some((s) => mapped(s.user) && s.user.uid === 0)) return pass();
    if (!shells.length) {
      const byRoot = (await nestedShells(lab)).length > 0;
      return byRoot ? fail(msg('write-maps.made-by-root')) : pending(msg('write-maps.no-shell'));
    }
    // the shell furthest along decides the advice
    const best = [...shells].sort((a, b) => progress(b.user) - progress(a.user))[0];
    const { user, proc } = best;
    const pid = proc.pid;
    const owner = user.ownerUid;
    if (!user.uidMap.length) return pending(msg('write-maps.uid-map-empty', { pid, uid: owner }));
    if (!mapsInside(user.uidMap, 0)) return fail(msg('write-maps.root-not-mapped', { pid, map: formatMap(user.uidMap) }));
    if (!user.gidMap.length) {
      return user.setgroups === 'allow'
        ? pending(msg('write-maps.setgroups-first', { pid }))
        : pending(msg('write-maps.gid-map-empty', { pid, gid: owner }));
    }
    return fail(msg('write-maps.root-group-not-mapped', { pid, map: formatMap(user.gidMap) }));
  },

  'tmpfs-not-clock': async (lab) => {
    const root = await lab.rootNamespaces();
    const init = await lab.init();
    const initMounts = await lab.mounts(init.hostPid);
    let inSandboxUserNs = false;
    let mountNsOfOwn = false;
    let found = false;
    for (const [, p] of await lab.newNamespaces('mnt')) {
      const owners = await lab.namespaceOwners(p.hostPid).catch(() => null);
      if (!owners) continue;
      const fresh = newTmpfs(await lab.mounts(p.hostPid).catch(() => []), initMounts);
      if (owners.mnt === root.user) { if (fresh.length) inSandboxUserNs = true; continue; }
      mountNsOfOwn = true;
      if (fresh.length) found = true;
    }
    const refused = [1, 2, 3, 4].some((n) => /date: cannot set date: Operation not permitted|settimeofday: Operation not permitted/.test(lab.terminalText(n)));
    if (found && refused) return pass();
    if (found) return pending(msg('tmpfs-not-clock.clock-not-tried'));
    if (inSandboxUserNs) return fail(msg('tmpfs-not-clock.sandbox-user-ns'));
    if (mountNsOfOwn) return pending(msg('tmpfs-not-clock.no-tmpfs'));
    return pending(msg('tmpfs-not-clock.not-yet'));
  },

  'ownership': async (lab) => {
    const root = await lab.rootNamespaces();
    // something must be owned by a user namespace other than the sandbox's: the mount namespace of the last step
    let owned = false;
    for (const [, p] of await lab.newNamespaces('mnt')) {
      const owners = await lab.namespaceOwners(p.hostPid).catch(() => null);
      if (owners?.mnt !== undefined && owners.mnt !== root.user) owned = true;
    }
    if (!owned) return pending(msg('ownership.previous-step-first'));
    const log = lab.commandsRun();
    if (log.some((e) => LSNS_OWNERS.test(e.command) && e.status === 0 && e.ns.user === root.user)) return pass();
    if (log.some((e) => /\blsns\b/.test(e.command))) return pending(msg('ownership.no-owner-column'));
    return pending(msg('ownership.not-yet'));
  },
}, {
  // the lesson moves from the unmapped shell to `unshare -r` as uid 1000 (a shell that
  // started unmapped never gets capabilities: no_new_privs): leaving it is the plan
  leftBehind: ['unmapped-shell', 'write-maps'],
});

/** how far a shell's maps are: uid_map, then setgroups, then gid_map */
function progress(u: UserNamespaceInfo): number {
  return (u.uidMap.length ? 1 : 0) + (u.setgroups === 'deny' ? 1 : 0) + (u.gidMap.length ? 1 : 0);
}

function formatMap(map: UserNamespaceInfo['uidMap']): string {
  return map.map((r) => `${r.inside} ${r.outside} ${r.count}`).join('; ');
}
