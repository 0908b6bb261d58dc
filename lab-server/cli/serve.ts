/**
 * nslab serve [--port 8080] [--host 127.0.0.1]   (env NSLAB_PORT, NSLAB_HOST)
 *
 * Starts the lab server with the local sandbox back end and the lesson engine, or,
 * with NSLAB_BACKEND=kubernetes, as a front whose sandboxes are pods (kube-front.ts).
 * Sandboxes a crashed previous server left behind are reaped first; SIGINT/SIGTERM
 * close every session and destroy its sandbox before exiting.
 */
import { createLessonsPlugin } from '../checks/plugin.ts';
import { createApp } from '../http/app.ts';
import type { LessonsPlugin } from '../http/plugins.ts';
import { createSandboxBackend, type LocalBackend } from '../sandbox/index.ts';
import type { SandboxBackend } from '../sandbox/types.ts';
import { kubeFront, type KubeFront } from './kube-front.ts';
import { hostInfo } from '../sandbox/host.ts';
import { assessHostPools, formatNeeds, readHostFacts, type PoolFinding } from '../sandbox/host-limits.ts';
import { applyRaises, plannedRaises, raisedLine, sessionCapForHost } from '../sandbox/host-tuning.ts';
import { defaultLessonsDir, LessonCatalog } from '../lessons/loader.ts';
import { DEFAULTS, loadSettings, type Settings } from '../config/settings.ts';
import { setupClassroom } from './classroom-setup.ts';
import { describeStore } from '../classroom/open-store.ts';
import { poolPlan } from './doctor.ts';
import { imageStoreHint } from './image-store-hint.ts';

const USAGE = 'usage: nslab serve [--port PORT] [--host HOST]   (env NSLAB_PORT, NSLAB_HOST; default 127.0.0.1:8080)';

/** `settings` gives the defaults (NSLAB_PORT, NSLAB_HOST); the flags win. */
export function parseServeArgs(args: string[], settings: Pick<Settings, 'NSLAB_PORT' | 'NSLAB_HOST'>): { port: number; host: string } | string {
  let port = String(settings.NSLAB_PORT ?? DEFAULTS.port);
  let host = settings.NSLAB_HOST ?? DEFAULTS.host;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag === '--port' || flag === '--host') {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') return `${flag} needs a value\n${USAGE}`;
      if (flag === '--port') port = v; else host = v;
    } else if (a === '-h' || a === '--help') return USAGE;
    else return `unknown argument ${a}\n${USAGE}`;
  }
  const p = Number(port);
  if (!/^\d+$/.test(port) || p < 0 || p > 65535) return `port must be a number 0..65535, got "${port}"\n${USAGE}`;
  return { port: p, host };
}

const poolLine = (f: PoolFinding) => `${f.sysctl} = ${f.current ?? '(absent)'}${f.recommended === null ? '' : `, needs ${formatNeeds(f)}`}${f.fix ? `; fix: ${f.fix}` : ''}`;

/**
 * Operator preflight (docs/security.md, known gap 5), never a reason not to start:
 * raise what is safe to raise (host-tuning.ts) and say so in one line; what is
 * left is a risk under a hostile load, not a fault, so it is a warning that points
 * to `nslab doctor`.
 */
function hostPoolsAtStart(maxSessions: number, warmPool: number, limits: Parameters<typeof poolPlan>[0]['limits'], settings: Settings): void {
  try {
    const plan = poolPlan({ maxSessions, warmPool, limits, cgroupMode: hostInfo().cgroupMode });
    const sandboxes = maxSessions + warmPool;
    let findings = assessHostPools(plan, readHostFacts());
    if (settings.NSLAB_HOST_TUNING !== 'off') {
      const raises = plannedRaises(findings);
      if (raises.length) {
        const { applied, failed } = applyRaises(raises);
        if (applied.length) console.log(`nslab: ${raisedLine(applied, sandboxes)}`);
        for (const f of failed) console.error(`nslab: could not raise ${f.raise.sysctl} to ${f.raise.to} (${f.reason})`);
        findings = assessHostPools(plan, readHostFacts());
      }
    }
    const left = findings.filter((f) => f.severity === 'warn' || f.severity === 'error');
    if (left.length) {
      console.error(`nslab: warning: ${left.length} host-wide limit(s) below what ${sandboxes} sandboxes could take; the lab runs, but learners trying hard could exhaust them for everybody (\`nslab doctor\` says why):`);
      for (const f of left) console.error(`nslab:   ${poolLine(f)}`);
    }
  } catch (e) {
    console.error(`nslab: host pool check failed (${(e as Error).message}); run nslab doctor`);
  }
}

/** `settings`: read once by cli.ts; everything below gets its settings from this object */
export async function run(args: string[], settings: Settings = loadSettings()): Promise<number> {
  const parsed = parseServeArgs(args, settings);
  if (typeof parsed === 'string') { console.error(parsed); return parsed.startsWith('usage') ? 0 : 2; }
  let backend: SandboxBackend;
  let local: LocalBackend | null = null;
  let kube: KubeFront | null = null;
  if ((settings.NSLAB_BACKEND ?? DEFAULTS.backend) === 'kubernetes') {
    kube = kubeFront(settings, (l) => console.error(`nslab: ${l}`));
    console.log(`nslab: ${kube.describe}`);
    backend = kube.backend;
    await backend.checkHost();
  } else {
    backend = local = createSandboxBackend({}, settings);
    await local.checkHost();
    const hint = imageStoreHint(settings, local.images.root);
    if (hint) console.error(hint);
    await local.images.ensureBuilt('default', (l) => console.error(l));
  }
  const reaped = await backend.reapOrphans();
  if (reaped) console.error(`nslab: reaped ${reaped} sandbox(es) left behind by a previous server`);

  // the annotation makes the compiler check the lesson engine against the plug-in shape
  const catalog = new LessonCatalog({ dir: defaultLessonsDir(settings) });
  const lessonsPlugin: LessonsPlugin = createLessonsPlugin({ catalog });
  // the classroom (docs/classroom.md): workshops, board and exports; wraps the lessons plug-in
  let classroom;
  try {
    classroom = await setupClassroom({ lessons: lessonsPlugin, catalog, settings, log: (l) => console.error(`nslab: ${l}`) });
  } catch (e) {
    console.error(`nslab: cannot open the classroom store (${describeStore(settings)}): ${(e as Error).message}`);
    return 2;
  }
  const lessons = classroom.lessons;
  // a couple of sandboxes kept warm: a learner opening a lesson gets a prompt without a cold start
  const warmPool = settings.NSLAB_POOL ?? DEFAULTS.servePool;
  // without NSLAB_MAX_SESSIONS, as many sessions as the host's RAM holds sandboxes
  let maxSessions = settings.NSLAB_MAX_SESSIONS;
  // a front's RAM holds no sandbox: the cluster's size is the operator's to set
  if (maxSessions === undefined && !local) maxSessions = classroom.suggestedMaxSessions;
  if (maxSessions === undefined && local) {
    const memTotalBytes = readHostFacts().memTotalBytes;
    const memoryBytes = local.cfg.limits.memoryBytes;
    maxSessions = sessionCapForHost({ wanted: classroom.suggestedMaxSessions, warmPool, memoryBytes, memTotalBytes });
    if (maxSessions < classroom.suggestedMaxSessions) {
      console.log(`nslab: ${maxSessions} sessions at most: ${(memTotalBytes / 1024 ** 3).toFixed(1)} GiB of RAM holds that many sandboxes of ${Math.round(memoryBytes / 1048576)} MiB, plus ${warmPool} kept warm (NSLAB_MAX_SESSIONS sets another number)`);
    }
  }
  const lab = createApp({ backend, lessons, settings, maxSessions });
  classroom.connect(lab);
  if (local) hostPoolsAtStart(lab.sessions.config.maxSessions, warmPool, local.cfg.limits, settings);
  let addr;
  try {
    addr = await lab.listen(parsed.port, parsed.host);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    console.error(`nslab: cannot listen on ${parsed.host}:${parsed.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use (try --port)' : err.message}`);
    await lab.close();
    return 2;
  }
  local?.setPoolSize(warmPool);
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  console.log(`nslab: lab server listening on http://${shownHost}:${addr.port}/  (${lab.sessions.config.maxSessions} sessions max; Ctrl-C to stop)`);
  // the instructor link carries the secret (docs/classroom.md)
  console.log(`nslab: instructor board: ${classroom.instructorUrl(`http://${shownHost}:${addr.port}`)}${classroom.secretFromEnv ? '  (secret from NSLAB_INSTRUCTOR_SECRET)' : '  (secret generated now; set NSLAB_INSTRUCTOR_SECRET to keep it across restarts)'}`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) { console.error('nslab: forced exit'); process.exit(130); }
      stopping = true;
      console.error(`nslab: ${sig}: closing ${lab.sessions.size} session(s) and their sandboxes...`);
      classroom.close() // progress is saved; sandboxes go with the sessions
        .then(() => lab.close())
        .then(() => backend.destroyAll())
        .then(() => kube?.close())
        .then(() => { console.error('nslab: stopped'); resolve(0); }, (e: Error) => { console.error(`nslab: shutdown: ${e.message}`); resolve(1); });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
