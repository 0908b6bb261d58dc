/**
 * Checks for the sample lesson. `new-uts` looks at state (namespaces and hostnames
 * through the probe); `look` changes nothing, so the command log is its evidence;
 * `check-outside` needs both: the new namespace must still exist and the learner must
 * have asked for the hostname from the sandbox's own UTS namespace afterwards.
 * The texts are in messages.<lang>.json.
 */
import { defineChecks, fail, msg, pass, pending, type Lab, type ProcessInfo } from '../../lab-server/checks/api.ts';

const ORIGINAL = 'nslab';
const HOSTNAME_QUERY = /^\s*(hostname|uname\s+-n|uname\s+-a|cat\s+\/proc\/sys\/kernel\/hostname)\s*(;|$)/;

/** Processes in a UTS namespace other than the sandbox's, with the hostname they see. */
async function renamedShells(lab: Lab): Promise<{ proc: ProcessInfo; name: string }[]> {
  const root = await lab.rootNamespaces();
  const out: { proc: ProcessInfo; name: string }[] = [];
  for (const proc of await lab.processes()) {
    if (proc.ns.uts === root.uts) continue;
    const name = await lab.hostname(proc.hostPid).catch(() => null);
    if (name !== null && name !== ORIGINAL) out.push({ proc, name });
  }
  return out;
}

async function sandboxHostname(lab: Lab): Promise<string> {
  return lab.hostname((await lab.init()).hostPid);
}

export default defineChecks({
  look: async (lab) => {
    const seen = lab.commandsRun().some((e) => /readlink\s+(-\w+\s+)*\/proc\/(\$\$|self|\d+)\/ns\/uts|ls\s+(-\w+\s+)*\/proc\/(\$\$|self|\d+)\/ns\b|lsns/.test(e.command));
    return seen ? pass() : pending(msg('look.not-yet'));
  },

  'new-uts': async (lab) => {
    const current = await sandboxHostname(lab);
    if (current !== ORIGINAL) {
      return fail(msg('new-uts.renamed-machine', { current, original: ORIGINAL }));
    }
    if ((await renamedShells(lab)).length) return pass();
    const root = await lab.rootNamespaces();
    const inNew = (await lab.processes()).some((p) => p.ns.uts !== root.uts);
    if (inNew) {
      return fail(msg('new-uts.name-unchanged'));
    }
    return pending(msg('new-uts.no-new-namespace'));
  },

  'check-outside': async (lab) => {
    const renamed = await renamedShells(lab);
    if (!renamed.length) {
      return pending(msg('check-outside.previous-step-first'));
    }
    const root = await lab.rootNamespaces();
    const log = lab.commands();
    const renamedNs = new Set(renamed.map((r) => r.proc.ns.uts));
    // the query must come after something happened in the renamed namespace
    const firstInNew = log.findIndex((e) => e.ns.uts !== undefined && renamedNs.has(e.ns.uts));
    const asked = firstInNew >= 0 && log.slice(firstInNew).some((e) => e.kind === 'cmd' && e.ns.uts === root.uts && HOSTNAME_QUERY.test(e.command));
    if (asked) return pass();
    return pending(msg('check-outside.ask-in-terminal-2'));
  },
});
