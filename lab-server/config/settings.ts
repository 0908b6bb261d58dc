/**
 * Every NSLAB_* setting of the lab server, in one schema. `nslab` (cli.ts) reads the
 * environment once at start (loadSettings) and passes the result down to the command; a bad value
 * stops the start with an error that names the variable, never a silent default.
 * docs/server.md's "Configuration" table lists the same variables with the same
 * defaults (test/server/settings.test.ts compares them).
 *
 * A ground floor: imports nothing of ours, so every floor may take its settings.
 */
import { z } from 'zod';

/** An empty value (`NSLAB_POOL=` in an env file) means "not set". */
const unset = (v: unknown) => (v === '' ? undefined : v);
const number = (what: string, check: (n: z.ZodNumber) => z.ZodNumber) =>
  z.preprocess(unset, check(z.coerce.number({ error: `must be ${what}` })).optional());
const whole = (min: number, max: number) => number(`a whole number from ${min} to ${max}`, (n) => n.int({ error: `must be a whole number from ${min} to ${max}` }).min(min, { error: `must be a whole number from ${min} to ${max}` }).max(max, { error: `must be a whole number from ${min} to ${max}` }));
const positive = (max = Number.MAX_SAFE_INTEGER) => number('a number above 0', (n) => n.positive({ error: 'must be a number above 0' }).max(max, { error: `must be a number above 0 and at most ${max}` }));
const text = () => z.preprocess(unset, z.string().optional());
const absolutePath = () => z.preprocess(unset, z.string().startsWith('/', { error: 'must be an absolute path' }).optional());

/** name -> schema of the raw environment value (before defaults: a missing value stays undefined) */
const fields = {
  // where the server listens (`--port`/`--host` win)
  NSLAB_PORT: whole(0, 65_535),
  NSLAB_HOST: text(),
  // sessions (http/)
  NSLAB_MAX_SESSIONS: whole(1, 100_000),
  // `off`: nslab serve leaves the host's sysctls alone (sandbox/host-tuning.ts)
  NSLAB_HOST_TUNING: z.preprocess(unset, z.enum(['on', 'off'], { error: 'must be on or off' }).optional()),
  NSLAB_IDLE_MINUTES: positive(),
  NSLAB_INACTIVE_MINUTES: positive(),
  NSLAB_CREATE_PER_MINUTE: positive(),
  NSLAB_CREATE_BURST: positive(),
  NSLAB_ALLOWED_ORIGINS: z.preprocess(unset, z.string().optional()),
  NSLAB_TRUST_PROXY: text(),
  // the sandbox driver (sandbox/)
  NSLAB_DATA: absolutePath(),
  // built sandbox images: apart from NSLAB_DATA, so moving the data does not mean a rebuild
  NSLAB_IMAGES: absolutePath(),
  NSLAB_RUN: absolutePath(),
  NSLAB_INSTANCE: z.preprocess(unset, z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, { error: 'must be lower-case letters, digits and dashes (at most 32)' }).optional()),
  NSLAB_MEMORY_MB: whole(1, 1 << 20),
  NSLAB_PIDS: whole(1, 1 << 22),
  NSLAB_CPUS: positive(64),
  NSLAB_DISK_MB: whole(1, 1 << 20),
  NSLAB_LIFETIME_MIN: whole(1, 1 << 20),
  NSLAB_POOL: whole(0, 64),
  // a slow or emulated host (the cgroup v2 test VM runs under qemu TCG) needs longer
  NSLAB_START_SECONDS: whole(1, 600),
  NSLAB_CGROUP_ROOT: text(),
  // where sandboxes run: this host (crun), or pods of a Kubernetes cluster (docs/kubernetes.md)
  NSLAB_BACKEND: z.preprocess(unset, z.enum(['local', 'kubernetes'], { error: 'must be local or kubernetes' }).optional()),
  // a front outside the cluster: the API server's URL and a token file of the ServiceAccount nslab-front
  NSLAB_KUBE_API_URL: z.preprocess(unset, z.string().regex(/^https?:\/\/\S+$/, { error: 'must be an http:// or https:// URL' }).optional()),
  NSLAB_KUBE_TOKEN_FILE: absolutePath(),
  NSLAB_KUBE_CA_FILE: absolutePath(),
  // the namespace of the sandbox pods, and the install's (the node agents')
  NSLAB_KUBE_NAMESPACE: z.preprocess(unset, z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { error: 'must be a namespace name (lower-case letters, digits, dashes)' }).optional()),
  NSLAB_AGENT_NAMESPACE: z.preprocess(unset, z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { error: 'must be a namespace name (lower-case letters, digits, dashes)' }).optional()),
  // the front's client certificate for the node agents (tls.crt, tls.key, ca.crt), and their port
  NSLAB_AGENT_TLS_DIR: absolutePath(),
  NSLAB_AGENT_PORT: whole(1, 65_535),
  // lessons
  NSLAB_LESSONS: text(),
  // the classroom
  NSLAB_CLASSROOM_DB: text(),
  // PostgreSQL instead of the SQLite file, for several fronts on one database (docs/classroom-store.md)
  NSLAB_DATABASE_URL: z.preprocess(unset, z.string().regex(/^postgres(ql)?:\/\/\S+$/, { error: 'must be a postgres:// or postgresql:// URL' }).optional()),
  NSLAB_CLASSROOM_CAPACITY: whole(1, 10_000),
  NSLAB_STUCK_MINUTES: number('a number from 0 to 1440', (n) => n.min(0, { error: 'must be a number from 0 to 1440' }).max(24 * 60, { error: 'must be a number from 0 to 1440' })),
  NSLAB_INSTRUCTOR_SECRET: z.preprocess(unset, z.string().min(16, { error: 'must be at least 16 characters (it is the only thing between the internet and the board)' }).optional()),
};

export const settingsSchema = z.object(fields);
export type SettingName = keyof typeof fields;
export const SETTING_NAMES = Object.keys(fields) as SettingName[];

/** What the commands get: set values parsed, unset ones undefined (each reader knows its default, below). */
export type Settings = z.output<typeof settingsSchema>;

/**
 * The defaults as docs/server.md shows them: where a reader applies a default, it is
 * this one (DEFAULTS below holds the numbers).
 */
export const SHOWN_DEFAULTS: Record<SettingName, string> = {
  NSLAB_PORT: '8080',
  NSLAB_HOST: '127.0.0.1',
  NSLAB_MAX_SESSIONS: "20 (serve: the classroom's suggestion, capped to what the RAM holds)",
  NSLAB_HOST_TUNING: 'on',
  NSLAB_IDLE_MINUTES: '10',
  NSLAB_INACTIVE_MINUTES: '60',
  NSLAB_CREATE_PER_MINUTE: '30',
  NSLAB_CREATE_BURST: '20',
  NSLAB_ALLOWED_ORIGINS: '(none)',
  NSLAB_TRUST_PROXY: 'off',
  NSLAB_DATA: '/var/lib/nslab',
  NSLAB_IMAGES: '$NSLAB_DATA/images',
  NSLAB_RUN: '/run/nslab',
  NSLAB_INSTANCE: 'default',
  NSLAB_MEMORY_MB: '512',
  NSLAB_PIDS: '512',
  NSLAB_CPUS: '1',
  NSLAB_DISK_MB: '256',
  NSLAB_LIFETIME_MIN: '240',
  NSLAB_POOL: '0 (serve: 2)',
  NSLAB_START_SECONDS: '15',
  NSLAB_CGROUP_ROOT: '(found at start)',
  NSLAB_BACKEND: 'local',
  NSLAB_KUBE_API_URL: '(in the cluster: its own)',
  NSLAB_KUBE_TOKEN_FILE: '(in the cluster: the ServiceAccount\'s)',
  NSLAB_KUBE_CA_FILE: '(in the cluster: the ServiceAccount\'s; outside it: the system CAs)',
  NSLAB_KUBE_NAMESPACE: 'nslab-sandboxes',
  NSLAB_AGENT_NAMESPACE: 'nslab',
  NSLAB_AGENT_TLS_DIR: '/etc/nslab/tls',
  NSLAB_AGENT_PORT: '7443',
  NSLAB_LESSONS: '<checkout>/lessons',
  NSLAB_CLASSROOM_DB: '$NSLAB_DATA/classroom.db',
  NSLAB_DATABASE_URL: '(none: SQLite)',
  NSLAB_CLASSROOM_CAPACITY: '40',
  NSLAB_STUCK_MINUTES: '10',
  NSLAB_INSTRUCTOR_SECRET: '(generated at each start)',
};

/** The numbers behind SHOWN_DEFAULTS that readers use. */
export const DEFAULTS = {
  port: 8080,
  host: '127.0.0.1',
  maxSessions: 20,
  idleMinutes: 10,
  inactiveMinutes: 60,
  createPerMinute: 30,
  createBurst: 20,
  dataDir: '/var/lib/nslab',
  runDir: '/run/nslab',
  instance: 'default',
  servePool: 2,
  startSeconds: 15,
  classroomCapacity: 40,
  stuckMinutes: 10,
  backend: 'local',
  agentTlsDir: '/etc/nslab/tls',
} as const;

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

/**
 * The settings in `env`; throws SettingsError naming every bad variable and its value,
 * e.g. `NSLAB_IDLE_MINUTES="ten" must be a number above 0`.
 */
export function loadSettings(env: Readonly<Record<string, string | undefined>> = process.env): Settings {
  const parsed = settingsSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => {
    const name = String(i.path[0]);
    const value = env[name] ?? '';
    // secrets never reach a log (a database URL may carry a password)
    if (name === 'NSLAB_INSTRUCTOR_SECRET' || name === 'NSLAB_DATABASE_URL') return `${name} ${i.message}`;
    return `${name}="${value.length > 60 ? `${value.slice(0, 60)}...` : value}" ${i.message}`;
  });
  throw new SettingsError(`bad nslab setting${lines.length > 1 ? 's' : ''} (see docs/server.md): ${lines.join('; ')}`);
}

/** NSLAB_ALLOWED_ORIGINS as a list: comma-separated, blanks dropped. */
export function allowedOrigins(s: Settings): string[] {
  return s.NSLAB_ALLOWED_ORIGINS?.split(',').map((o) => o.trim()).filter(Boolean) ?? [];
}

/** NSLAB_TRUST_PROXY as express takes it: a hop count ("1") or a trust list ("loopback"); off when unset. */
export function trustProxy(s: Settings): boolean | number | string {
  const v = s.NSLAB_TRUST_PROXY;
  return v ? (/^\d+$/.test(v) ? Number(v) : v) : false;
}
