/**
 * Checks for the IPC namespace lesson.
 *
 * State steps (`unshare-ipc`, `create-queue`) look at processes, their namespace
 * inodes and the System V tables of each IPC namespace through the probe. Steps that
 * change nothing (`inspect-shell`, `compare-links`) use the command log;
 * `check-from-parent` needs both: the hidden queue must still exist, and a shell in
 * the sandbox's own IPC namespace must have listed the queues after it was made.
 * The texts are in messages.<lang>.json.
 */
import {
  defineChecks, fail, msg, pass, pending,
  type CommandEvent, type Lab, type NamespaceSet, type ProcessInfo, type SysvQueue,
} from '../../lab-server/checks/api.ts';

const OTHER_KINDS = ['cgroup', 'mnt', 'net', 'pid', 'pid_for_children', 'time', 'user', 'uts'] as const satisfies readonly (keyof NamespaceSet)[];

/** `ls -l /proc/$$/ns`, `ls -al /proc/self/ns/`, `readlink /proc/123/ns/*`, `stat -L /proc/$$/ns/ipc`, `file ...` */
const NS_LISTING = /(?:\bls\b(?:\s+-{1,2}[\w-]+)*\s+-\w*l\w*\b[^;|&]*|\breadlink\b[^;|&]*|\bstat\b[^;|&]*|\bfile\b[^;|&]*|\bdiff\b[^;|&]*)\/proc\/(\$\$|\$BASHPID|self|\d+)\/ns\b/;
/** the same with any expression for the pid, e.g. `/proc/$(cat /tmp/child.pid)/ns` */
const ANY_NS_LISTING = /(?:\bls\b(?:\s+-{1,2}[\w-]+)*\s+-\w*l\w*\b|\breadlink\b|\bstat\b|\bfile\b|\bdiff\b)[^;|&]*\/proc\/[^;|&]*?\/ns\b/;
const SHOWS_PID = /\becho\b[^;|&]*\$(\$|BASHPID|\{\$\})|\bps\b|\bpstree\b/;
/** a command that lists the System V message queues of the shell's own IPC namespace */
function listsQueues(command: string): boolean {
  if (/\bnsenter\b/.test(command)) return false; // that looks into another namespace
  return command.split(/[;&|()]+/).map((s) => s.trim()).some((s) =>
    /^(sudo\s+)?ipcs(\s+(-\w*[qa]\w*|--queues|--all|-\w+))*$/.test(s) && !/^ipcs\s+-[ms]\s*$/.test(s)
    || /^(sudo\s+)?lsipc\s+(-\w*q\w*|--queues)\b/.test(s)
    || /^cat\s+\/proc\/sysvipc\/msg$/.test(s));
}

interface HiddenQueue { ns: number; queue: SysvQueue }

/** queues that exist in a child IPC namespace and not in the sandbox's own */
async function hiddenQueues(lab: Lab): Promise<{ hidden: HiddenQueue[]; childNs: number; rootQueues: SysvQueue[] }> {
  const init = await lab.init();
  const rootQueues = (await lab.ipc(init.hostPid)).queues;
  const rootKeys = new Set(rootQueues.map((q) => q.key).filter((k) => k !== 0));
  const hidden: HiddenQueue[] = [];
  const children = await lab.newNamespaces('ipc');
  for (const [ns, proc] of children) {
    const ipc = await lab.ipc(proc.hostPid).catch(() => null); // the process may have just exited
    for (const queue of ipc?.queues ?? []) {
      if (queue.key === 0 || !rootKeys.has(queue.key)) hidden.push({ ns, queue });
    }
  }
  return { hidden, childNs: children.size, rootQueues };
}

export default defineChecks({
  'inspect-shell': async (lab) => {
    const log = lab.commandsRun();
    const listed = log.some((e) => NS_LISTING.test(e.command) && (e.status === 0 || /\bdiff\b/.test(e.command)));
    const pid = log.some((e) => SHOWS_PID.test(e.command) && e.status === 0);
    if (listed && pid) return pass();
    if (listed) {
      return pending(msg('inspect-shell.pid-missing'));
    }
    if (log.some((e) => /\/proc\/(\$\$|self|\d+)\/ns\b/.test(e.command) && /\bls\b/.test(e.command))) {
      return pending(msg('inspect-shell.plain-ls'));
    }
    return pending(msg('inspect-shell.not-yet'));
  },

  'unshare-ipc': async (lab) => {
    const root = await lab.rootNamespaces();
    const procs = await lab.processes();
    const byHost = new Map(procs.map((p) => [p.hostPid, p]));
    const candidates = (await lab.shells()).filter((p) => p.ns.ipc !== root.ipc);
    /** the nearest ancestor outside p's IPC namespace: the shell `unshare` was typed into */
    const outside = (p: ProcessInfo): NamespaceSet => {
      let q = byHost.get(p.hostPpid);
      while (q && q.ns.ipc === p.ns.ipc) q = byHost.get(q.hostPpid);
      return q ? q.ns : root;
    };
    for (const p of candidates) {
      const ref = outside(p);
      if (OTHER_KINDS.every((k) => p.ns[k] === ref[k])) return pass();
    }
    if (candidates.length) {
      const p = candidates[0];
      const ref = outside(p);
      const differs = OTHER_KINDS.filter((k) => p.ns[k] !== ref[k] && k !== 'pid_for_children');
      return fail(msg('unshare-ipc.other-namespaces-too', { pid: p.pid, kinds: differs.join(', ') }));
    }
    return pending(msg('unshare-ipc.no-new-shell'));
  },

  'create-queue': async (lab) => {
    const { hidden, childNs, rootQueues } = await hiddenQueues(lab);
    if (hidden.length) return pass();
    if (!childNs) {
      if (rootQueues.length) {
        return fail(msg('create-queue.in-sandbox-namespace'));
      }
      return pending(msg('create-queue.no-new-namespace'));
    }
    if (rootQueues.length) {
      return fail(msg('create-queue.made-outside'));
    }
    return pending(msg('create-queue.no-queue-yet'));
  },

  'check-from-parent': async (lab) => {
    const root = await lab.rootNamespaces();
    const { hidden } = await hiddenQueues(lab);
    if (!hidden.length) {
      return pending(msg('check-from-parent.previous-step-first'));
    }
    const log = lab.commands();
    const namespaces = new Set(hidden.map((h) => h.ns));
    // when was the queue made? the first ipcmk (or, failing that, the first command) in its namespace
    const inNs = (e: CommandEvent) => e.ns.ipc !== undefined && namespaces.has(e.ns.ipc);
    let made = log.findIndex((e) => inNs(e) && e.kind === 'cmd' && /\bipcmk\b|msgget/.test(e.command));
    if (made < 0) made = log.findIndex(inNs);
    const after = made < 0 ? log : log.slice(made + 1);
    const looked = after.some((e) => e.kind === 'cmd' && e.ns.ipc === root.ipc && e.status === 0 && listsQueues(e.command));
    if (looked) return pass();
    const inChild = after.some((e) => e.kind === 'cmd' && inNs(e) && listsQueues(e.command));
    return pending(inChild
      ? msg('check-from-parent.listed-inside')
      : msg('check-from-parent.not-yet'));
  },

  'compare-links': async (lab) => {
    const root = await lab.rootNamespaces();
    const procs = await lab.processes();
    const childPids = new Set(procs.filter((p) => p.ns.ipc !== root.ipc).map((p) => String(p.pid)));
    const ok = lab.commandsRun().some((e) => {
      const m = NS_LISTING.exec(e.command);
      if (!m || !(e.status === 0 || (/\bdiff\b/.test(e.command) && e.status === 1))) return false;
      // every /proc/X/ns in the command: one of them must be the child shell's
      for (const x of e.command.matchAll(/\/proc\/(\$\$|\$BASHPID|self|\d+)\/ns\b/g)) {
        if (/^\d+$/.test(x[1]) ? childPids.has(x[1]) : e.ns.ipc !== undefined && e.ns.ipc !== root.ipc) return true;
      }
      return false;
    });
    if (ok) return pass();
    // `ls -l /proc/$(cat child.pid)/ns` from terminal 2: the screen must show a child's ipc link
    const childIpc = new Set<number>(procs.filter((p) => p.ns.ipc !== root.ipc).map((p) => p.ns.ipc));
    for (const e of lab.commands()) if (e.ns.ipc !== undefined && e.ns.ipc !== root.ipc) childIpc.add(e.ns.ipc);
    const shown = lab.commandsRun().some((e) => ANY_NS_LISTING.test(e.command) && !NS_LISTING.test(e.command) && (e.status === 0 || /\bdiff\b/.test(e.command))
      && [...childIpc].some((ino) => lab.terminalText(e.terminal).includes(`ipc:[${ino}]`)));
    if (shown) return pass();
    return pending(msg('compare-links.not-yet'));
  },
});
