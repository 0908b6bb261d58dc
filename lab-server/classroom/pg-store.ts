/**
 * ClassroomStore on PostgreSQL (node-postgres, `pg`): the store for several lab
 * server fronts sharing one database (docs/classroom-store.md). SQLite stays the
 * embedded default for one host.
 *
 * Nothing here assumes it is the only writer: there is no cache of rows in the
 * process, every rule the classroom relies on is enforced in the database.
 * - A passed step stays passed: one `INSERT ... ON CONFLICT DO UPDATE ... WHERE
 *   status <> 'pass'` per step, so two fronts writing the same step cannot
 *   downgrade it with a read-modify-write race.
 * - Look-alike names: a join locks its workshop row (FOR NO KEY UPDATE), so joins to
 *   one workshop take turns across fronts; a unique index on lower(display_name)
 *   backs the case-insensitive rule.
 * - Migrations run under an advisory lock, each in its own transaction (PostgreSQL
 *   has transactional DDL), so fronts starting together apply each one once.
 * - Live boards: a front announces a workshop's change with NOTIFY and every other
 *   front LISTENs (change-relay.ts), so a board on any front refreshes at once.
 * - Which fronts are running: each front holds a session-level advisory lock named
 *   after its server id for as long as its store is open; a front starting up ends
 *   the open lab sessions only of servers whose lock nobody holds (crashed or
 *   stopped fronts), wherever they ran.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { z } from 'zod';
import { generateId } from './codes.ts';
import { loadMigrationFiles, type Migration } from './migration-files.ts';
import { lookalikeOf } from './name-key.ts';
import { toLearner, toSession } from './store-rows.ts';
import {
  type ClassroomStore, type GradingRun, type Learner, type LearnerSession, NameTakenError,
  type NewWorkshop, type SelfPacedLearner, type SelfPacedPass, type StaleNote, type StepResult, type StepUpdate, type Workshop,
} from './store.ts';

export const PG_MIGRATIONS_DIR = fileURLToPath(new URL('./migrations-pg/', import.meta.url));

export function loadPgMigrations(dir = PG_MIGRATIONS_DIR): Migration[] {
  return loadMigrationFiles(dir);
}

/** pg_advisory_lock key serializing migrations: "nslab" in ASCII */
const MIGRATION_LOCK = '474615181666';

/** the advisory lock key of a server id: 64 bits of its SHA-256, as a signed bigint */
export function serverLockKey(server: string): string {
  return createHash('sha256').update(`nslab-server:${server}`).digest().readBigInt64BE(0).toString();
}

/** postgres://user:secret@host/db with the password hidden, for logs and errors */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

// bigint (int8) columns hold ms since epoch: well inside Number's exact range, and the
// classroom wants numbers, not the strings pg returns for int8 by default
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text'))) as typeof pg.types.getTypeParser,
};

/** Applies pending migrations; returns the versions applied now. */
export async function migratePg(pool: pg.Pool, migrations = loadPgMigrations()): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)');
      const current = await pgSchemaVersion(client);
      if (current > migrations.length) {
        throw new Error(`the classroom database is at schema version ${current} but this nslab knows only up to ${migrations.length}: it was written by a newer nslab`);
      }
      const applied: number[] = [];
      for (const m of migrations.filter((x) => x.version > current)) {
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`classroom migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(m.version);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

export async function pgSchemaVersion(db: pg.Pool | pg.PoolClient): Promise<number> {
  const exists = await db.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS e");
  if (!exists.rows[0].e) return 0;
  return Number((await db.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations')).rows[0].v);
}

// rows are checked as they come back: a hand-edited database should fail here, not deep in the board
const workshopRow = z.object({
  id: z.string(), code: z.string(), title: z.string(), created_at: z.number(),
  ends_at: z.number().nullable(), closed_at: z.number().nullable(), lessons: z.array(z.string()),
});
const stepRow = z.object({
  learner_id: z.string(), lesson_id: z.string(), step_id: z.string(), status: z.enum(['pass', 'fail', 'pending']),
  message: z.string().nullable(), messages: z.unknown(), stale: z.unknown().optional(), first_pass_at: z.number().nullable(), updated_at: z.number(),
});
const messagesJson = z.record(z.string(), z.string());
const staleJson = z.object({ message: z.string().nullable(), messages: messagesJson.nullable() });
const gradingRow = z.object({
  id: z.string(), workshop_id: z.string(), learner_id: z.string().nullable(), lesson_id: z.string(), source: z.string(),
  passed: z.number(), total: z.number(), report: z.unknown(), created_at: z.number(),
});
const selfLearnerRow = z.object({ id: z.string(), created_at: z.number(), last_seen_at: z.number() });
const selfPassRow = z.object({ lesson_id: z.string(), step_id: z.string(), passed_at: z.number() });

const toWorkshop = (r: unknown): Workshop => {
  const w = workshopRow.parse(r);
  return { id: w.id, code: w.code, title: w.title, lessons: w.lessons, createdAt: w.created_at, endsAt: w.ends_at, closedAt: w.closed_at };
};
const toStep = (r: unknown): StepResult => {
  const s = stepRow.parse(r);
  // a damaged messages value reads as "none": the board falls back to message
  const messages = s.messages === null ? null : messagesJson.safeParse(s.messages).data ?? null;
  // a damaged stale value reads as "not stale": the pass is what counts
  const stale = s.stale == null ? null : staleJson.safeParse(s.stale).data ?? null;
  return { learnerId: s.learner_id, lessonId: s.lesson_id, stepId: s.step_id, status: s.status, message: s.message, messages, firstPassAt: s.first_pass_at, stale, updatedAt: s.updated_at };
};
const toGrading = (r: unknown): GradingRun => {
  const g = gradingRow.parse(r);
  return { id: g.id, workshopId: g.workshop_id, learnerId: g.learner_id, lessonId: g.lesson_id, source: g.source, passed: g.passed, total: g.total, report: g.report, createdAt: g.created_at };
};
const toSelfLearner = (r: unknown): SelfPacedLearner => {
  const l = selfLearnerRow.parse(r);
  return { id: l.id, createdAt: l.created_at, lastSeenAt: l.last_seen_at };
};
const toSelfPass = (r: unknown): SelfPacedPass => {
  const p = selfPassRow.parse(r);
  return { lessonId: p.lesson_id, stepId: p.step_id, passedAt: p.passed_at };
};

/** no translations is NULL, as in the SQLite store; jsonb compares maps regardless of key order */
const messagesParam = (m: Record<string, string> | null | undefined): string | null => (m && Object.keys(m).length ? JSON.stringify(m) : null);
const staleParam = (n: StaleNote | null | undefined): string | null => (n ? JSON.stringify({ message: n.message, messages: messagesParam(n.messages) === null ? null : n.messages }) : null);

const WORKSHOP_SELECT = 'SELECT w.*, ARRAY(SELECT lesson_id FROM workshop_lessons x WHERE x.workshop_id = w.id ORDER BY position) AS lessons FROM workshops w';

/** NOTIFY channel of board changes between fronts; the payload names the workshop */
const CHANGES_CHANNEL = 'nslab_classroom_changed';
const changeMessage = z.object({ origin: z.string(), workshop: z.string() });

/** SQLSTATEs of a transaction that lost a race and may simply be run again */
const RETRYABLE = new Set(['40001', '40P01']);
const UNIQUE_VIOLATION = '23505';
const pgCode = (err: unknown) => (err as { code?: string }).code;
const pgConstraint = (err: unknown) => (err as { constraint?: string }).constraint;

export interface PgStoreOptions {
  /** postgres://user:password@host:5432/database (NSLAB_DATABASE_URL) */
  url: string;
  /** an existing database at the current schema, without migrating it, in read-only transactions (nslab export) */
  readonly?: boolean;
  /**
   * this front's server id (service.ts serverId()): held as an advisory lock while the
   * store is open, so other fronts know its lab sessions are live
   */
  server?: string;
  /** connections of this process at most (default 10) */
  maxConnections?: number;
  log?: (line: string) => void;
}

export class PgClassroomStore implements ClassroomStore {
  /** ends each connection of its own (dedicated()) */
  private readonly dedicatedStops = new Set<() => Promise<void>>();
  private closed = false;
  /** tells this store's own change announcements apart from other fronts' */
  private readonly origin = generateId();

  private constructor(readonly pool: pg.Pool, private readonly opts: PgStoreOptions) {}

  /** connects, migrates (unless read-only) and takes the server lock */
  static async open(opts: PgStoreOptions): Promise<PgClassroomStore> {
    const log = opts.log ?? ((l: string) => console.warn(`nslab classroom: ${l}`));
    const config: pg.PoolConfig = {
      connectionString: opts.url,
      max: opts.maxConnections ?? 10,
      application_name: 'nslab',
      types,
    };
    const pool = new pg.Pool(config);
    // on each connection rather than as `options`: values in the URL win over the config, and a URL may carry options of its own
    if (opts.readonly) pool.on('connect', (c) => { c.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY').catch(() => {}); });
    // an idle connection the server dropped must not crash the front: the pool replaces it
    pool.on('error', (err) => log(`PostgreSQL connection lost (${err.message}); a new one is opened on the next query`));
    const store = new PgClassroomStore(pool, { ...opts, log });
    try {
      if (opts.readonly) {
        const [have, want] = [await pgSchemaVersion(pool), loadPgMigrations().length];
        if (have !== want) throw new Error(`the classroom database ${redactDatabaseUrl(opts.url)} is at schema version ${have}; start the server once to migrate it`);
      } else {
        await migratePg(pool);
      }
      if (opts.server) await store.holdServerLock(opts.server);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    return store;
  }

  /**
   * A connection of its own for as long as the store is open, set up by `setup` (take a
   * lock, LISTEN): what it holds lives and dies with the connection, so a lost one is
   * opened and set up again. Returns a function that ends it.
   */
  private async dedicated(what: string, setup: (c: pg.Client) => Promise<void>): Promise<() => Promise<void>> {
    let client: pg.Client | null = null;
    let stopped = false;
    const log = (line: string) => this.opts.log?.(line);
    const live = () => !stopped && !this.closed;
    // until it works again (the database may be restarting): once a second
    const retry = () => setTimeout(() => { if (live()) connect().catch((e: Error) => { log(`could not open the connection for ${what} again (${e.message}); retrying`); retry(); }); }, 1000).unref();
    const connect = async () => {
      const c = new pg.Client({ connectionString: this.opts.url, application_name: `nslab (${what})`, types });
      const lost = (why: string) => {
        if (client !== c || !live()) return;
        log(`PostgreSQL connection for ${what} lost (${why}); opening it again`);
        client = null;
        c.end().catch(() => {});
        retry();
      };
      c.on('error', (err) => lost(err.message));
      c.on('end', () => lost('closed by the server'));
      try {
        await c.connect();
        await setup(c);
      } catch (err) {
        await c.end().catch(() => {});
        throw err;
      }
      if (!live()) { await c.end().catch(() => {}); return; }
      client = c;
    };
    await connect();
    const stop = async () => {
      stopped = true;
      this.dedicatedStops.delete(stop);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    };
    this.dedicatedStops.add(stop);
    return stop;
  }

  private async holdServerLock(server: string): Promise<void> {
    // shared: two stores of one process (tests, a tool beside the server) both hold it without waiting
    await this.dedicated('this front\'s lock', async (c) => { await c.query('SELECT pg_advisory_lock_shared($1)', [serverLockKey(server)]); });
  }

  /** Tells the other stores on this database (other fronts) that a workshop's board changed. */
  async announceChange(workshopId: string): Promise<void> {
    await this.pool.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, JSON.stringify({ origin: this.origin, workshop: workshopId })]);
  }

  /** Hears what other stores on this database announce (not this one's own announcements). */
  async onChange(listener: (workshopId: string) => void): Promise<() => Promise<void>> {
    return this.dedicated('board changes', async (c) => {
      c.on('notification', (n) => {
        if (n.channel !== CHANGES_CHANNEL || !n.payload) return;
        let raw: unknown;
        try { raw = JSON.parse(n.payload); } catch { return; }
        const m = changeMessage.safeParse(raw);
        if (m.success && m.data.origin !== this.origin) listener(m.data.workshop);
      });
      await c.query(`LISTEN ${CHANGES_CHANNEL}`);
    });
  }

  /** Is the server with this id holding its lock, i.e. running somewhere with its store open? */
  async serverLive(server: string): Promise<boolean> {
    const { rows } = await this.pool.query(
      "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND ((classid::bigint << 32) | objid::bigint) = $1::bigint AND objsubid = 1) AS live",
      [serverLockKey(server)],
    );
    return rows[0].live as boolean;
  }

  /** runs fn in a transaction on one connection; a deadlock or serialization failure is retried */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const c = await this.pool.connect();
      try {
        await c.query('BEGIN');
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        if (RETRYABLE.has(pgCode(err) ?? '') && attempt < 5) continue;
        throw err;
      } finally {
        c.release();
      }
    }
  }

  async createWorkshop(input: NewWorkshop, makeCode: () => string, at = Date.now()): Promise<Workshop> {
    const id = generateId();
    for (let attempt = 0; ; attempt++) {
      const code = makeCode();
      try {
        await this.tx(async (c) => {
          await c.query('INSERT INTO workshops (id, code, title, created_at, ends_at) VALUES ($1, $2, $3, $4, $5)', [id, code, input.title, at, input.endsAt]);
          await c.query('INSERT INTO workshop_lessons (workshop_id, position, lesson_id) SELECT $1, p - 1, l FROM unnest($2::text[]) WITH ORDINALITY AS t(l, p)', [id, input.lessons]);
        });
        return (await this.workshop(id))!;
      } catch (err) {
        // a collision on the unique code: draw again (rare: 2^30 codes)
        if (pgCode(err) === UNIQUE_VIOLATION && pgConstraint(err) === 'workshops_code_key' && attempt < 20) continue;
        throw err;
      }
    }
  }

  async workshop(id: string): Promise<Workshop | null> {
    const { rows } = await this.pool.query(`${WORKSHOP_SELECT} WHERE w.id = $1`, [id]);
    return rows[0] ? toWorkshop(rows[0]) : null;
  }

  async workshopByCode(code: string): Promise<Workshop | null> {
    const { rows } = await this.pool.query(`${WORKSHOP_SELECT} WHERE w.code = $1`, [code.toUpperCase()]);
    return rows[0] ? toWorkshop(rows[0]) : null;
  }

  async listWorkshops(): Promise<Workshop[]> {
    return (await this.pool.query(`${WORKSHOP_SELECT} ORDER BY w.created_at DESC, w.id`)).rows.map(toWorkshop);
  }

  async closeWorkshop(id: string, at = Date.now()): Promise<Workshop | null> {
    await this.pool.query('UPDATE workshops SET closed_at = COALESCE(closed_at, $1) WHERE id = $2', [at, id]);
    return this.workshop(id);
  }

  async addLearner(input: { workshopId: string; displayName: string; tokenHash: string }, at = Date.now()): Promise<Learner> {
    const id = generateId();
    try {
      await this.tx(async (c) => {
        // joins to one workshop take turns, on every front: the look-alike check and the insert see the same names
        await c.query('SELECT 1 FROM workshops WHERE id = $1 FOR NO KEY UPDATE', [input.workshopId]);
        const taken = (await c.query('SELECT display_name FROM learners WHERE workshop_id = $1', [input.workshopId])).rows.map((r) => r.display_name as string);
        const clash = lookalikeOf(input.displayName, taken);
        if (clash !== undefined) throw new NameTakenError(input.displayName, clash.toLowerCase() !== input.displayName.toLowerCase());
        await c.query('INSERT INTO learners (id, workshop_id, display_name, token_hash, joined_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $5)',
          [id, input.workshopId, input.displayName, input.tokenHash, at]);
      });
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION && pgConstraint(err) === 'learners_name_per_workshop') throw new NameTakenError(input.displayName);
      throw err;
    }
    return (await this.learner(id))!;
  }

  async learner(id: string): Promise<Learner | null> {
    const { rows } = await this.pool.query('SELECT * FROM learners WHERE id = $1', [id]);
    return rows[0] ? toLearner(rows[0]) : null;
  }

  async learnerByTokenHash(tokenHash: string): Promise<Learner | null> {
    const { rows } = await this.pool.query('SELECT * FROM learners WHERE token_hash = $1', [tokenHash]);
    return rows[0] ? toLearner(rows[0]) : null;
  }

  async learners(workshopId: string): Promise<Learner[]> {
    return (await this.pool.query('SELECT * FROM learners WHERE workshop_id = $1 ORDER BY joined_at, seq', [workshopId])).rows.map(toLearner);
  }

  async touchLearner(id: string, at: number, currentLesson?: string): Promise<void> {
    if (currentLesson === undefined) await this.pool.query('UPDATE learners SET last_seen_at = $1 WHERE id = $2', [at, id]);
    else await this.pool.query('UPDATE learners SET last_seen_at = $1, current_lesson = $2 WHERE id = $3', [at, currentLesson, id]);
  }

  async startSession(s: { id: string; learnerId: string; lessonId: string; server?: string | null }, at = Date.now()): Promise<LearnerSession> {
    const { rows } = await this.pool.query('INSERT INTO learner_sessions (id, learner_id, lesson_id, started_at, server) VALUES ($1, $2, $3, $4, $5) RETURNING *',
      [s.id, s.learnerId, s.lessonId, at, s.server ?? null]);
    return toSession(rows[0]);
  }

  async endSession(id: string, reason: string, at = Date.now()): Promise<void> {
    await this.pool.query('UPDATE learner_sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL', [at, reason, id]);
  }

  /**
   * `stillRunning` can only judge servers on this host (service.ts serverRunning);
   * a server that holds its lock in the database (another front, on any host) is
   * running too.
   */
  async endOpenSessions(reason: string, at = Date.now(), stillRunning: (server: string) => boolean = () => false): Promise<number> {
    const open = (await this.pool.query('SELECT DISTINCT server FROM learner_sessions WHERE ended_at IS NULL')).rows.map((r) => r.server as string | null);
    const gone: (string | null)[] = [];
    for (const server of open) {
      if (server !== null && (stillRunning(server) || await this.serverLive(server))) continue;
      gone.push(server);
    }
    if (!gone.length) return 0;
    const named = gone.filter((s): s is string => s !== null);
    const { rowCount } = await this.pool.query(
      'UPDATE learner_sessions SET ended_at = $1, end_reason = $2 WHERE ended_at IS NULL AND (server = ANY($3::text[]) OR ($4 AND server IS NULL))',
      [at, reason, named, gone.includes(null)],
    );
    return rowCount ?? 0;
  }

  async sessions(learnerId: string): Promise<LearnerSession[]> {
    return (await this.pool.query('SELECT * FROM learner_sessions WHERE learner_id = $1 ORDER BY started_at, seq', [learnerId])).rows.map(toSession);
  }

  async workshopSessions(workshopId: string): Promise<LearnerSession[]> {
    return (await this.pool.query('SELECT s.* FROM learner_sessions s JOIN learners l ON l.id = s.learner_id WHERE l.workshop_id = $1 ORDER BY s.started_at, s.seq', [workshopId]))
      .rows.map(toSession);
  }

  async recordSteps(learnerId: string, lessonId: string, updates: StepUpdate[], at = Date.now()): Promise<StepResult[]> {
    return this.tx(async (c) => {
      const changed: StepResult[] = [];
      for (const u of updates) {
        // one statement per step: a passed step stays passed (DESIGN.md) and an unchanged
        // one is not rewritten, decided by the database under the row lock, not by a read before
        const stale = u.status === 'pass' ? staleParam(u.stale) : null;
        const { rows } = await c.query(`INSERT INTO step_results (learner_id, lesson_id, step_id, status, message, messages, stale, first_pass_at, updated_at)
          VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9)
          ON CONFLICT (learner_id, lesson_id, step_id) DO UPDATE SET status = EXCLUDED.status, message = EXCLUDED.message, messages = EXCLUDED.messages,
            stale = EXCLUDED.stale, first_pass_at = COALESCE(step_results.first_pass_at, EXCLUDED.first_pass_at), updated_at = EXCLUDED.updated_at
          WHERE step_results.status <> 'pass'
            AND (step_results.status, step_results.message, step_results.messages, step_results.stale) IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.message, EXCLUDED.messages, EXCLUDED.stale)
          RETURNING *`,
        [learnerId, lessonId, u.stepId, u.status, u.message, messagesParam(u.messages), stale, u.status === 'pass' ? at : null, at]);
        if (!rows[0] && u.status === 'pass') {
          // a passed row takes one change only: whether its state is still there (never the pass or its time)
          const marked = await c.query(`UPDATE step_results SET stale = $4::jsonb, updated_at = $5
            WHERE learner_id = $1 AND lesson_id = $2 AND step_id = $3 AND status = 'pass' AND stale IS DISTINCT FROM $4::jsonb RETURNING *`,
          [learnerId, lessonId, u.stepId, stale, at]);
          if (marked.rows[0]) changed.push(toStep(marked.rows[0]));
          continue;
        }
        if (rows[0]) changed.push(toStep(rows[0]));
      }
      return changed;
    });
  }

  async stepResults(workshopId: string): Promise<StepResult[]> {
    return (await this.pool.query('SELECT r.* FROM step_results r JOIN learners l ON l.id = r.learner_id WHERE l.workshop_id = $1 ORDER BY r.learner_id, r.lesson_id, r.step_id', [workshopId]))
      .rows.map(toStep);
  }

  async learnerStepResults(learnerId: string): Promise<StepResult[]> {
    return (await this.pool.query('SELECT * FROM step_results WHERE learner_id = $1 ORDER BY lesson_id, step_id', [learnerId])).rows.map(toStep);
  }

  async addSelfPacedLearner(tokenHash: string, at = Date.now()): Promise<SelfPacedLearner> {
    const id = generateId();
    await this.pool.query('INSERT INTO self_paced_learners (id, token_hash, created_at, last_seen_at) VALUES ($1, $2, $3, $3)', [id, tokenHash, at]);
    return { id, createdAt: at, lastSeenAt: at };
  }

  async selfPacedLearnerByTokenHash(tokenHash: string, at = Date.now()): Promise<SelfPacedLearner | null> {
    const { rows } = await this.pool.query('UPDATE self_paced_learners SET last_seen_at = $1 WHERE token_hash = $2 RETURNING *', [at, tokenHash]);
    return rows[0] ? toSelfLearner(rows[0]) : null;
  }

  async recordSelfPacedPasses(learnerId: string, lessonId: string, stepIds: string[], at = Date.now()): Promise<SelfPacedPass[]> {
    return this.tx(async (c) => {
      const added: SelfPacedPass[] = [];
      for (const stepId of stepIds) {
        const { rowCount } = await c.query('INSERT INTO self_paced_passes (learner_id, lesson_id, step_id, passed_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [learnerId, lessonId, stepId, at]);
        if (rowCount) added.push({ lessonId, stepId, passedAt: at });
      }
      return added;
    });
  }

  async selfPacedPasses(learnerId: string): Promise<SelfPacedPass[]> {
    return (await this.pool.query('SELECT lesson_id, step_id, passed_at FROM self_paced_passes WHERE learner_id = $1 ORDER BY passed_at, seq', [learnerId])).rows.map(toSelfPass);
  }

  async addInstructorSession(tokenHash: string, secretHash: string, at = Date.now(), expireBefore = 0): Promise<void> {
    await this.tx(async (c) => {
      await c.query('DELETE FROM instructor_sessions WHERE created_at < $1 OR secret_hash <> $2', [expireBefore, secretHash]);
      await c.query('INSERT INTO instructor_sessions (token_hash, secret_hash, created_at, last_seen_at) VALUES ($1, $2, $3, $3)', [tokenHash, secretHash, at]);
    });
  }

  async instructorSessionValid(tokenHash: string, secretHash: string, notBefore: number, at = Date.now()): Promise<boolean> {
    const { rowCount } = await this.pool.query('UPDATE instructor_sessions SET last_seen_at = $1 WHERE token_hash = $2 AND secret_hash = $3 AND created_at >= $4', [at, tokenHash, secretHash, notBefore]);
    return (rowCount ?? 0) > 0;
  }

  async removeInstructorSessions(tokenHash: string | null): Promise<number> {
    const r = tokenHash === null
      ? await this.pool.query('DELETE FROM instructor_sessions')
      : await this.pool.query('DELETE FROM instructor_sessions WHERE token_hash = $1', [tokenHash]);
    return r.rowCount ?? 0;
  }

  async addGradingRun(run: Omit<GradingRun, 'id' | 'createdAt'>, at = Date.now()): Promise<GradingRun> {
    const { rows } = await this.pool.query('INSERT INTO grading_runs (id, workshop_id, learner_id, lesson_id, source, passed, total, report, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9) RETURNING *',
      [generateId(), run.workshopId, run.learnerId, run.lessonId, run.source, run.passed, run.total, JSON.stringify(run.report), at]);
    return toGrading(rows[0]);
  }

  async gradingRuns(workshopId: string): Promise<GradingRun[]> {
    return (await this.pool.query('SELECT * FROM grading_runs WHERE workshop_id = $1 ORDER BY created_at, seq', [workshopId])).rows.map(toGrading);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // ending the lock's connection releases the lock: this front no longer counts as running
    await Promise.all([...this.dedicatedStops].map((stop) => stop()));
    await this.pool.end();
  }
}
