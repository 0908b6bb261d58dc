/**
 * Checks for the namespaces tour. `list-namespaces` and `compare-with-init` change
 * nothing, so the command log is their evidence. `new-uts` looks at state (UTS
 * namespaces and the hostnames inside them). `nsenter-uts` needs both: the renamed
 * namespace must still exist, and a shell outside it must have run a command inside
 * it with `nsenter --uts` after it got its name. The texts are in messages.<lang>.json.
 */
import { defineChecks, fail, msg, pass, pending, type Lab, type ProcessInfo } from '../../lab-server/checks/api.ts';

const ORIGINAL = 'nslab';
const PROC_NS = /\/proc\/(\$\$|\$BASHPID|self|\d+|\$\w+|\$\{\w+\})\/ns\b/g;

/** a command that shows where namespace links point (not just their names) */
function showsLinks(command: string): boolean {
  return command.split(/[;&|]+/).some((s) => /\/proc\/[^;&|]*?\/ns\b/.test(s) && (
    /\bls\b(\s+-{1,2}[\w-]+)*\s+-\w*l/.test(s) || /\breadlink\b|\bstat\b|\bfile\b|\bdiff\b/.test(s)));
}

/** the options of the first `nsenter` in a command line: does it enter the UTS namespace, and of which pid */
function nsenterOptions(command: string): { uts: boolean; target?: string } {
  // $(...) and `...` count as one word, whatever spaces they hold
  const flat = command.replace(/\$\([^()]*\)|`[^`]*`/g, '$SUB');
  const words = flat.slice(flat.search(/\bnsenter\b/)).split(/\s+/).slice(1);
  let uts = false;
  let target: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '--' || !w.startsWith('-')) break;
    if (w === '-t' || w === '--target') { target = words[++i]; continue; }
    if (w.startsWith('--target=')) { target = w.slice(9); continue; }
    if (w === '--uts' || w === '--all') { uts = true; continue; }
    if (w.startsWith('--uts=')) { uts = true; target = /^--uts=\/proc\/([^/]+)\/ns\/uts$/.exec(w)?.[1] ?? target; continue; }
    if (/^-[a-zA-Z]+/.test(w) && !w.startsWith('--')) {
      const letters = w.slice(1);
      if (/[ua]/.test(letters.replace(/t.*$/, ''))) uts = true;
      const t = /t(.*)$/.exec(letters);
      if (t) target = t[1] || words[++i];
    }
  }
  return { uts, target: target !== undefined && /^\d+$/.test(target) ? target : undefined };
}

/** processes in a UTS namespace other than the sandbox's whose hostname was changed */
async function renamed(lab: Lab): Promise<{ proc: ProcessInfo; name: string }[]> {
  const root = await lab.rootNamespaces();
  const current = await sandboxHostname(lab);
  const out: { proc: ProcessInfo; name: string }[] = [];
  const seen = new Map<number, string | null>();
  for (const proc of await lab.processes()) {
    if (proc.ns.uts === root.uts || proc.state === 'Z') continue;
    if (!seen.has(proc.ns.uts)) seen.set(proc.ns.uts, await lab.hostname(proc.hostPid).catch(() => null));
    const name = seen.get(proc.ns.uts);
    if (name && name !== ORIGINAL && name !== current) out.push({ proc, name });
  }
  return out;
}

async function sandboxHostname(lab: Lab): Promise<string> {
  return lab.hostname((await lab.init()).hostPid);
}

export default defineChecks({
  'list-namespaces': async (lab) => {
    const log = lab.commandsRun();
    if (log.some((e) => showsLinks(e.command) && (e.status === 0 || /\bdiff\b/.test(e.command)))) return pass();
    if (log.some((e) => /\/proc\/[^/\s]+\/ns\b/.test(e.command) && /\bls\b/.test(e.command))) {
      return pending(msg('list-namespaces.plain-ls'));
    }
    return pending(msg('list-namespaces.not-yet'));
  },

  'compare-with-init': async (lab) => {
    const log = lab.commandsRun();
    const refs = (c: string) => [...c.matchAll(PROC_NS)].map((m) => m[1]);
    // one command that looks at PID 1 and at another process, e.g. diff <(...) <(...)
    const together = log.some((e) => {
      const r = refs(e.command);
      return showsLinks(e.command) && r.includes('1') && r.some((x) => x !== '1') && (e.status === 0 || (/\bdiff\b/.test(e.command) && e.status === 1));
    });
    if (together) return pass();
    // or PID 1's links listed on their own, after the shell's
    const firstOwn = log.findIndex((e) => showsLinks(e.command) && refs(e.command).some((x) => x !== '1') && e.status === 0);
    const initAfter = firstOwn >= 0 && log.slice(firstOwn).some((e) => showsLinks(e.command) && refs(e.command).includes('1') && e.status === 0);
    if (initAfter) return pass();
    return pending(msg('compare-with-init.not-yet'));
  },

  'new-uts': async (lab) => {
    const current = await sandboxHostname(lab);
    if (current !== ORIGINAL) {
      return fail(msg('new-uts.renamed-machine', { current, original: ORIGINAL }));
    }
    if ((await renamed(lab)).length) return pass();
    const root = await lab.rootNamespaces();
    if ((await lab.processes()).some((p) => p.ns.uts !== root.uts)) {
      return fail(msg('new-uts.name-unchanged'));
    }
    return pending(msg('new-uts.no-new-namespace'));
  },

  'nsenter-uts': async (lab) => {
    const root = await lab.rootNamespaces();
    const named = await renamed(lab);
    if (!named.length) {
      return pending(msg('nsenter-uts.previous-step-first'));
    }
    const namedNs = new Set(named.map((r) => r.proc.ns.uts));
    const pidsInNamed = new Set(named.map((r) => String(r.proc.pid)));
    const log = lab.commands();
    const firstInside = log.findIndex((e) => e.ns.uts !== undefined && namedNs.has(e.ns.uts));
    const after = firstInside < 0 ? log : log.slice(firstInside + 1);
    let wrongTarget = false;
    let noUts = false;
    for (const e of after) {
      if (e.kind !== 'cmd' || e.ns.uts !== root.uts || !/\bnsenter\b/.test(e.command)) continue;
      const opts = nsenterOptions(e.command);
      if (!opts.uts) { noUts = true; continue; }
      // a literal target pid must be one of the renamed namespace's processes
      const target = opts.target;
      if (target !== undefined && !pidsInNamed.has(target)) { wrongTarget = true; continue; }
      // a computed target ($(cat file)): the terminal must have shown the new name
      const screen = lab.terminalText(e.terminal);
      if (target === undefined && screen !== '' && !named.some((r) => new RegExp(`(^|\\n)${r.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[ \\t]*(\\n|$)`).test(screen))) { wrongTarget = true; continue; }
      if (e.status === 0) return pass();
    }
    if (wrongTarget) {
      return fail(msg('nsenter-uts.wrong-target', { pids: [...pidsInNamed].slice(0, 5).join(', ') }));
    }
    if (noUts) {
      return fail(msg('nsenter-uts.no-uts-option'));
    }
    return pending(msg('nsenter-uts.not-yet'));
  },
});
