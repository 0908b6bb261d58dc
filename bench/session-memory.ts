/**
 * bench/session-memory: what each process an idle session keeps costs, by role, as
 * RSS and PSS (smem-style, from /proc/PID/smaps_rollup), averaged over SESSIONS idle
 * sandboxes each with terminal 1 at a prompt. The shell itself (bash) is listed
 * apart: the target is what the session costs beyond it.
 *
 * usage: nice -n 19 node --import tsx bench/session-memory.ts [--sessions 20] [--json FILE] [--write-docs]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createSandboxBackend, type LocalSandbox } from '../lab-server/sandbox/index.ts';
import { hostInfo } from '../lab-server/sandbox/host.ts';
import { firstPrompt, table, writeSection } from './lib.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SESSIONS = arg('sessions', 20);

interface Proc { pid: number; ppid: number; comm: string; rss: number; pss: number }

function readProc(pid: number): Proc | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(roll)?.[1] ?? 0);
    return { pid, ppid, comm, rss: kib('Rss'), pss: kib('Pss') };
  } catch { return null; }
}

function allProcs(): Proc[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map((n) => readProc(Number(n))).filter((p): p is Proc => p !== null);
}

/** the helpers' binaries carry a hash of their source (host-helpers.ts): nslab-reaper-1a2b -> nslab-reaper */
function name(p: Proc): string {
  return p.comm.replace(/^(nslab-[a-z]+)-[0-9a-f]*$/, '$1');
}

/** pid and every descendant */
function tree(root: number, procs: Proc[]): Proc[] {
  const out: Proc[] = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    const p = procs.find((x) => x.pid === pid);
    if (p) out.push(p);
    for (const c of procs) if (c.ppid === pid) todo.push(c.pid);
  }
  return out;
}

async function main() {
  const backend = createSandboxBackend();
  await backend.reapOrphans();
  backend.setPoolSize(0);
  const sessions: { s: LocalSandbox; term: number }[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const s = await backend.create({ label: 'bench memory' });
    sessions.push({ s, term: (await firstPrompt(s)).pid });
  }
  await new Promise((r) => setTimeout(r, 1500));
  const procs = allProcs();
  // role -> summed rss, pss, count over all sessions
  const roles = new Map<string, { rss: number; pss: number; n: number }>();
  const add = (role: string, p: Proc) => {
    const r = roles.get(role) ?? { rss: 0, pss: 0, n: 0 };
    r.rss += p.rss; r.pss += p.pss; r.n++;
    roles.set(role, r);
  };
  for (const { s, term } of sessions) {
    const inSandbox = new Set((await s.probe.processes()).map((p) => p.hostPid));
    const runner = (s as unknown as { runner: { pid?: number } | null }).runner?.pid;
    const seen = new Set<number>();
    for (const [root, side] of [[runner, 'sandbox'], [term, 'terminal']] as const) {
      if (!root) continue;
      for (const p of tree(root, procs)) {
        if (seen.has(p.pid)) continue;
        seen.add(p.pid);
        const where = inSandbox.has(p.pid) ? 'in the sandbox' : 'host side';
        add(`${side}: ${name(p)} (${where})`, p);
      }
    }
    // in the sandbox but under neither tree (a crun that detached leaves its process to the reaper)
    for (const pid of inSandbox) {
      if (seen.has(pid)) continue;
      const p = procs.find((x) => x.pid === pid);
      if (p) add(`sandbox: ${name(p)} (in the sandbox)`, p);
    }
  }
  // ours only: other servers on the host have their own
  const probe = procs.filter((p) => p.ppid === process.pid && p.comm.startsWith('nslab-probe'));
  const rows = [...roles.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([role, r]) => [role, (r.n / SESSIONS).toFixed(2), r.rss / r.n / 1024, r.pss / r.n / 1024]);
  const isShell = (role: string) => role.includes(': bash ');
  const sum = (shell: boolean, k: 'rss' | 'pss') => [...roles.entries()].filter(([role]) => isShell(role) === shell).reduce((a, [, r]) => a + r[k], 0) / SESSIONS / 1024;
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const out = [
    `Per-session memory, ${new Date().toISOString()}, cgroups ${hostInfo().cgroupMode}, load average ${load}, ${SESSIONS} idle sessions with terminal 1 at a prompt`,
    '',
    table(['process (role)', 'per session', 'RSS MiB each', 'PSS MiB each'], rows),
    '',
    table(['per idle session', 'RSS MiB', 'PSS MiB'], [
      ['every resident process but the shell', sum(false, 'rss'), sum(false, 'pss')],
      ['the shell (bash)', sum(true, 'rss'), sum(true, 'pss')],
      [`server-wide, shared by every session: nslab-probe (${probe.length}), per session`, probe.reduce((a, p) => a + p.rss, 0) / 1024 / SESSIONS, probe.reduce((a, p) => a + p.pss, 0) / 1024 / SESSIONS],
    ].map(([a, b, c]) => [a as string, (b as number).toFixed(2), (c as number).toFixed(2)])),
  ].join('\n');
  console.log(out);
  await Promise.all(sessions.map(({ s }) => s.destroy()));
  if (process.argv.includes('--write-docs')) writeSection('Per-session memory', out);
  const jsonAt = process.argv.indexOf('--json');
  if (jsonAt > 0) writeFileSync(process.argv[jsonAt + 1]!, JSON.stringify({ load, sessions: SESSIONS, roles: Object.fromEntries(roles), beyondShell: { rss: sum(false, 'rss'), pss: sum(false, 'pss') }, shell: { rss: sum(true, 'rss'), pss: sum(true, 'pss') } }));
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
