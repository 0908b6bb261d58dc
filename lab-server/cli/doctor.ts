/**
 * nslab doctor [--json] [--sessions N]
 *
 * Operator preflight, without changing anything: what `nslab serve` needs from the
 * host (root, the kernel floor, crun, user namespaces, erofs, cgroups, the default
 * image; a warning when Ubuntu's AppArmor strips nested user namespaces), then the
 * host's system-wide kernel pools against the sandboxes the server may run
 * (lab-server/sandbox/host-limits.ts; docs/security.md, known gap 5).
 * Exit 0 when nothing is at "error", 1 otherwise, 2 on a usage error.
 */
import { execFileSync } from 'node:child_process';
import { DEFAULTS, loadSettings, type Settings } from '../config/settings.ts';
import { driverConfig } from '../sandbox/config.ts';
import { hostInfo, hostRequirements, readSysctlFile } from '../sandbox/host.ts';
import { checkAppArmorUserns } from '../sandbox/kernel.ts';
import { hostCgroupRootFacts, planCgroupRoot } from '../sandbox/cgroup-root.ts';
import { plannedRaises, sessionCapForHost } from '../sandbox/host-tuning.ts';
import { assessHostPools, formatNeeds, readHostFacts, SYSCTL_D_FILE, type PoolFinding, type PoolPlan, type Severity } from '../sandbox/host-limits.ts';
import { Images } from '../sandbox/images.ts';
import type { SandboxLimits } from '../sandbox/types.ts';
import { MAX_TERMINALS } from '../contract/session-protocol.ts';

const USAGE = 'usage: nslab doctor [--json] [--sessions N]   (default N: what nslab serve allows: NSLAB_MAX_SESSIONS, else NSLAB_CLASSROOM_CAPACITY + 10 capped to what the RAM holds)';

export interface RequirementRow { check: string; severity: Severity; detail: string; fix: string | null }

export interface DoctorReport {
  plan: { maxSessions: number; warmPool: number; sandboxes: number; memoryBytes: number; pids: number; ptys: number; cgroupMode: 'v2' | 'hybrid' | null };
  requirements: RequirementRow[];
  findings: PoolFinding[];
  counts: Record<Severity, number>;
  ok: boolean;
}

/** The sessions `nslab serve` allows with this environment (serve.ts + http/app.ts + cli/classroom-setup.ts). */
export function serveMaxSessions(settings: Settings): number {
  return settings.NSLAB_MAX_SESSIONS ?? suggestedMaxSessions(settings.NSLAB_CLASSROOM_CAPACITY ?? DEFAULTS.classroomCapacity);
}

/** every classroom seat needs a sandbox, plus room for people on the public lesson list */
export function suggestedMaxSessions(classroomCapacity: number): number {
  return Math.max(DEFAULTS.maxSessions, classroomCapacity + 10);
}

/** The pool plan of a lab server with these numbers (serve uses it with its live values). */
export function poolPlan(p: { maxSessions: number; warmPool: number; limits: SandboxLimits; cgroupMode: 'v2' | 'hybrid' }): PoolPlan {
  return { maxSessions: p.maxSessions, warmPool: p.warmPool, limits: p.limits, terminalsPerSession: MAX_TERMINALS, cgroupMode: p.cgroupMode };
}

async function imageRow(imagesDir: string): Promise<RequirementRow> {
  try {
    const s = await new Images(imagesDir).status('default');
    if (!s.built) return { check: 'image default', severity: 'warn', detail: `not built in ${imagesDir} (NSLAB_IMAGES; nslab serve builds it at start, which takes minutes)`, fix: 'bin/nslab image build' };
    const what = `built ${s.built.builtAt}, ${Math.round(s.built.bytes / 1048576)} MiB`;
    if (s.stale) return { check: 'image default', severity: 'warn', detail: `${what}, but its recipe changed (nslab serve rebuilds it at start)`, fix: 'bin/nslab image build' };
    return { check: 'image default', severity: 'ok', detail: what, fix: null };
  } catch (e) {
    return { check: 'image default', severity: 'error', detail: (e as Error).message.split('\n')[0], fix: 'check NSLAB_IMAGES and sandbox-images/default/' };
  }
}

/**
 * Whether nslab may make its groups where it would (cgroup-root.ts): on a systemd v2
 * host only below a unit with Delegate=yes. An error exactly when `nslab serve` would
 * refuse to start.
 */
function delegationRow(mode: 'v2' | 'hybrid', settings: Settings): RequirementRow {
  const check = 'cgroup delegation';
  if (mode === 'hybrid') return { check, severity: 'ok', detail: 'hybrid host: nslab\'s groups are <v1 hierarchy>/nslab/<id> (systemd delegates no v1 hierarchy)', fix: null };
  try {
    const plan = planCgroupRoot(hostCgroupRootFacts(settings));
    if (plan.kind === 'undelegated') return { check, severity: 'error', detail: plan.detail, fix: plan.fix };
    return { check, severity: 'ok', detail: plan.detail, fix: null };
  } catch (e) {
    const err = e as Error & { fix?: string };
    return { check, severity: 'error', detail: err.message.split('\n')[0], fix: err.fix ?? 'docs/server.md, "Running under systemd"' };
  }
}

/**
 * A limit that `nslab serve` raises by itself at start (host-tuning.ts) does not stop
 * the lab: it is a note, with the fix that keeps the raise across reboots.
 */
export function serveRaises(findings: PoolFinding[], settings: Pick<Settings, 'NSLAB_HOST_TUNING'>): PoolFinding[] {
  if (settings.NSLAB_HOST_TUNING === 'off') return findings;
  const raises = new Map(plannedRaises(findings).map((r) => [r.sysctl, r]));
  return findings.map((f) => {
    const r = raises.get(f.sysctl);
    return r ? { ...f, severity: 'info', why: `${f.why} nslab serve raises it to ${r.to} at start, until reboot (NSLAB_HOST_TUNING=off stops that); the fix keeps it.` } : f;
  });
}

export async function doctorReport(opts: { sessions?: number; settings?: Settings; env?: NodeJS.ProcessEnv } = {}): Promise<DoctorReport> {
  const settings = opts.settings ?? loadSettings(opts.env ?? process.env);
  const cfg = driverConfig(settings);
  const requirements: RequirementRow[] = hostRequirements().map((r) => ({ check: r.name, severity: r.ok ? 'ok' : 'error', detail: r.detail, fix: r.ok ? null : r.fix }));
  const crun = requirements.find((r) => r.check === 'crun');
  if (crun?.severity === 'ok') {
    try { crun.detail += ` (${execFileSync('crun', ['--version'], { encoding: 'utf8' }).split('\n')[0]})`; } catch { /* version is decoration */ }
  }
  requirements.push(await imageRow(cfg.imagesDir));
  // a warning, not an error: sandboxes start, but learners' `unshare -U` steps fail
  const aa = checkAppArmorUserns(readSysctlFile('/proc/sys/kernel/apparmor_restrict_unprivileged_userns'));
  requirements.push({ check: 'apparmor userns', severity: aa.restricted ? 'warn' : 'ok', detail: aa.detail, fix: aa.restricted ? aa.fix : null });
  let cgroupMode: 'v2' | 'hybrid' | null = null;
  try { cgroupMode = hostInfo().cgroupMode; } catch { /* the cgroups row says why */ }
  if (cgroupMode) requirements.push(delegationRow(cgroupMode, settings));
  // nslab serve keeps 2 sandboxes warm unless NSLAB_POOL says otherwise
  const warmPool = settings.NSLAB_POOL ?? DEFAULTS.servePool;
  // what nslab serve allows: without NSLAB_MAX_SESSIONS, capped to what the RAM holds
  const maxSessions = opts.sessions ?? (settings.NSLAB_MAX_SESSIONS !== undefined ? serveMaxSessions(settings)
    : sessionCapForHost({ wanted: serveMaxSessions(settings), warmPool, memoryBytes: cfg.limits.memoryBytes, memTotalBytes: readHostFacts().memTotalBytes }));
  const findings = serveRaises(assessHostPools(poolPlan({ maxSessions, warmPool, limits: cfg.limits, cgroupMode: cgroupMode ?? 'v2' }), readHostFacts()), settings);
  const counts: Record<Severity, number> = { ok: 0, info: 0, warn: 0, error: 0 };
  for (const x of [...requirements, ...findings]) counts[x.severity]++;
  return {
    plan: { maxSessions, warmPool, sandboxes: maxSessions + warmPool, memoryBytes: cfg.limits.memoryBytes, pids: cfg.limits.pids, ptys: cfg.limits.ptys, cgroupMode },
    requirements, findings, counts, ok: counts.error === 0,
  };
}

const plural = (k: number, one: string, many = `${one}s`) => `${k} ${k === 1 ? one : many}`;

const MARK: Record<Severity, string> = { ok: 'ok', info: 'info', warn: 'WARN', error: 'ERROR' };

/** Word-wraps `text` to `width` columns, every line after the first indented by `indent`. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) { lines.push(line); line = word; } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join(`\n${indent}`);
}

export function renderReport(r: DoctorReport, width = Math.max(80, Math.min(process.stdout.columns ?? 100, 120))): string {
  const p = r.plan;
  const out: string[] = [];
  out.push(`nslab doctor: can this host run ${plural(p.sandboxes, 'sandbox', 'sandboxes')} (${plural(p.maxSessions, 'session')} + ${p.warmPool} warm) of ${Math.round(p.memoryBytes / 1048576)} MiB, ${p.pids} pids, ${p.ptys} ptys each?`);
  out.push('', 'Host requirements');
  const cw = Math.max(...r.requirements.map((q) => q.check.length), 5);
  out.push(`  ${'STATUS'.padEnd(6)}  ${'CHECK'.padEnd(cw)}  DETAIL`);
  for (const q of r.requirements) {
    const ind = ' '.repeat(2 + 6 + 2 + cw + 2);
    out.push(`  ${MARK[q.severity].padEnd(6)}  ${q.check.padEnd(cw)}  ${wrap(q.detail, width - ind.length, ind)}`);
    if (q.fix) out.push(`${ind}fix: ${q.fix}`);
  }
  out.push('', 'System-wide kernel pools (docs/security.md, known gap 5)');
  const sw = Math.max(...r.findings.map((f) => f.sysctl.length));
  const vw = Math.max(7, ...r.findings.map((f) => (f.current ?? '-').length));
  out.push(`  ${'STATUS'.padEnd(6)}  ${'SYSCTL'.padEnd(sw)}  ${'CURRENT'.padStart(vw)}  NEEDS`);
  const ind = '          ';
  for (const f of r.findings) {
    out.push(`  ${MARK[f.severity].padEnd(6)}  ${f.sysctl.padEnd(sw)}  ${(f.current ?? '-').padStart(vw)}  ${formatNeeds(f)}`);
    if (f.severity === 'ok') continue;
    out.push(`${ind}${wrap(`why: ${f.why}`, width - ind.length - 5, ind + '     ')}`);
    if (f.fix) out.push(`${ind}${wrap(`fix: ${f.fix}`, width - ind.length - 5, ind + '     ')}`);
  }
  const lines = r.findings.filter((f) => f.sysctlD && (f.severity === 'warn' || f.severity === 'error')).map((f) => f.sysctlD!);
  if (lines.length) {
    out.push('', `Every sysctl fix above at once: put these lines in ${SYSCTL_D_FILE}, then run \`sysctl --system\`:`, '');
    for (const l of lines) out.push(`    ${l}`);
  }
  const c = r.counts;
  out.push('', `${c.error} error(s), ${c.warn} warning(s), ${c.info} note(s), ${c.ok} ok. ${r.ok ? 'Nothing blocks nslab serve.' : 'Fix the errors before putting learners on this host.'}`);
  return out.join('\n');
}

export async function run(args: string[], settings: Settings = loadSettings()): Promise<number> {
  let json = false;
  let sessions: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-h' || a === '--help') { console.log(USAGE); return 0; }
    if (a === '--json') { json = true; continue; }
    if (a === '--sessions' || a.startsWith('--sessions=')) {
      const v = a.includes('=') ? a.slice('--sessions='.length) : args[++i];
      if (!v || !/^\d+$/.test(v) || Number(v) < 1) { console.error(`--sessions needs a positive number\n${USAGE}`); return 2; }
      sessions = Number(v);
      continue;
    }
    console.error(`unknown argument ${a}\n${USAGE}`);
    return 2;
  }
  let report: DoctorReport;
  try {
    report = await doctorReport({ sessions, settings });
  } catch (e) {
    console.error(`nslab doctor: ${(e as Error).message}`);
    return 2;
  }
  console.log(json ? JSON.stringify(report, null, 2) : renderReport(report));
  return report.ok ? 0 : 1;
}
