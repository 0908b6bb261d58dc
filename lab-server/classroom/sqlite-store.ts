/**
 * ClassroomStore on SQLite (better-sqlite3): one file, `classroom.db`, in the data
 * directory the operator sets (NSLAB_DATA, default /var/lib/nslab).
 *
 * - WAL mode: the board reads while learners' step results are written, without
 *   readers blocking the writer; `synchronous=NORMAL` is durable across a process
 *   crash (kill -9), which is the failure a lab server actually sees.
 * - foreign_keys on, so a learner cannot point at a workshop that does not exist.
 * - busy_timeout: `nslab export` may open the same file while the server runs.
 * - Migrations are the numbered .sql files in ./migrations, each applied in its own
 *   transaction together with its row in schema_migrations, so a crash mid-migration
 *   leaves the previous version intact.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { generateId } from './codes.ts';
import { loadMigrationFiles, type Migration } from './migration-files.ts';
import { DEFAULTS, loadSettings, type Settings } from '../config/settings.ts';
import { lookalikeOf } from './name-key.ts';
import { toLearner, toSession } from './store-rows.ts';
import {
  type ClassroomStore, type GradingRun, type Learner, type LearnerSession, NameTakenError,
  type NewWorkshop, type SelfPacedLearner, type SelfPacedPass, type StaleNote, type StepResult, type StepUpdate, type Workshop,
} from './store.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
export const DB_FILE = 'classroom.db';

/** NSLAB_DATA, default /var/lib/nslab */
export function dataDir(settings: Settings = loadSettings()): string {
  return path.resolve(settings.NSLAB_DATA ?? DEFAULTS.dataDir);
}

/**
 * The database file: NSLAB_CLASSROOM_DB when set (e.g. to keep it on another disk, or
 * a throwaway one in tests), else <NSLAB_DATA>/classroom.db next to the images.
 */
export function defaultDbFile(settings: Settings = loadSettings()): string {
  return settings.NSLAB_CLASSROOM_DB ? path.resolve(settings.NSLAB_CLASSROOM_DB) : path.join(dataDir(settings), DB_FILE);
}

export type { Migration };

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return loadMigrationFiles(dir);
}

/** Applies pending migrations; returns the versions applied now. */
export function migrate(db: Database.Database, migrations = loadMigrations()): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const current = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
  const latest = migrations.length;
  if (current > latest) {
    throw new Error(`classroom.db is at schema version ${current} but this nslab knows only up to ${latest}: it was written by a newer nslab`);
  }
  const applied: number[] = [];
  for (const m of migrations.filter((x) => x.version > current)) {
    // IMMEDIATE: take the write lock before reading, so two processes starting at
    // once cannot both apply the same migration
    db.transaction(() => {
      const again = (db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version));
      if (again) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      applied.push(m.version);
    }).immediate();
  }
  return applied;
}

export function schemaVersion(db: Database.Database): number {
  return (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
}

// Rows come back from SQLite as plain objects; zod keeps a hand-edited or corrupted
// database from turning into wrong types deep in the board code.
const workshopRow = z.object({
  id: z.string(), code: z.string(), title: z.string(), created_at: z.number(),
  ends_at: z.number().nullable(), closed_at: z.number().nullable(), lessons: z.string().nullable(),
});
const stepRow = z.object({
  learner_id: z.string(), lesson_id: z.string(), step_id: z.string(), status: z.enum(['pass', 'fail', 'pending']),
  message: z.string().nullable(), messages: z.string().nullable().optional(), stale: z.string().nullable().optional(),
  first_pass_at: z.number().nullable(), updated_at: z.number(),
});
const staleJson = z.object({ message: z.string().nullable(), messages: z.record(z.string(), z.string()).nullable() });

/** the stale column: a damaged value reads as "not stale" (the pass is what counts) */
function parseStale(text: string | null | undefined): StaleNote | null {
  if (!text) return null;
  try {
    const r = staleJson.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

function staleText(note: StaleNote | null | undefined): string | null {
  return note ? JSON.stringify({ message: note.message, messages: note.messages ? JSON.parse(messagesText(note.messages) ?? 'null') : null }) : null;
}
const messagesJson = z.record(z.string(), z.string());

/** the messages column: a hand-edited or damaged value reads as "none" (the board falls back to message) */
function parseMessages(text: string | null | undefined): Record<string, string> | null {
  if (!text) return null;
  try {
    const r = messagesJson.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** stored with sorted keys, so equal maps are equal text and an unchanged message is not rewritten */
function messagesText(m: Record<string, string> | null | undefined): string | null {
  if (!m || Object.keys(m).length === 0) return null;
  return JSON.stringify(Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}
const gradingRow = z.object({
  id: z.string(), workshop_id: z.string(), learner_id: z.string().nullable(), lesson_id: z.string(), source: z.string(),
  passed: z.number(), total: z.number(), report: z.string(), created_at: z.number(),
});

const selfLearnerRow = z.object({ id: z.string(), created_at: z.number(), last_seen_at: z.number() });
const selfPassRow = z.object({ lesson_id: z.string(), step_id: z.string(), passed_at: z.number() });
const toSelfLearner = (r: unknown): SelfPacedLearner => {
  const l = selfLearnerRow.parse(r);
  return { id: l.id, createdAt: l.created_at, lastSeenAt: l.last_seen_at };
};
const toSelfPass = (r: unknown): SelfPacedPass => {
  const p = selfPassRow.parse(r);
  return { lessonId: p.lesson_id, stepId: p.step_id, passedAt: p.passed_at };
};

const toWorkshop = (r: unknown): Workshop => {
  const w = workshopRow.parse(r);
  return { id: w.id, code: w.code, title: w.title, lessons: w.lessons ? w.lessons.split('\n') : [], createdAt: w.created_at, endsAt: w.ends_at, closedAt: w.closed_at };
};
const toStep = (r: unknown): StepResult => {
  const s = stepRow.parse(r);
  return { learnerId: s.learner_id, lessonId: s.lesson_id, stepId: s.step_id, status: s.status, message: s.message, messages: parseMessages(s.messages), firstPassAt: s.first_pass_at, stale: parseStale(s.stale), updatedAt: s.updated_at };
};
const toGrading = (r: unknown): GradingRun => {
  const g = gradingRow.parse(r);
  return { id: g.id, workshopId: g.workshop_id, learnerId: g.learner_id, lessonId: g.lesson_id, source: g.source, passed: g.passed, total: g.total, report: JSON.parse(g.report), createdAt: g.created_at };
};

// lesson ids never contain a newline (LESSON_ID pattern), so group_concat with '\n' is unambiguous
const WORKSHOP_SELECT = `SELECT w.*, (SELECT group_concat(lesson_id, char(10)) FROM (SELECT lesson_id FROM workshop_lessons WHERE workshop_id = w.id ORDER BY position)) AS lessons FROM workshops w`;

export interface SqliteStoreOptions {
  /** the database file; default defaultDbFile() */
  file?: string;
  /** open an existing database without creating or migrating it (read-only tools like export) */
  readonly?: boolean;
}

export class SqliteClassroomStore implements ClassroomStore {
  readonly db: Database.Database;
  readonly file: string;

  constructor(opts: SqliteStoreOptions = {}) {
    this.file = opts.file ?? defaultDbFile();
    if (!opts.readonly) mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    this.db = new Database(this.file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      migrate(this.db);
    } else if (schemaVersion(this.db) !== loadMigrations().length) {
      throw new Error(`${this.file} is at schema version ${schemaVersion(this.db)}; start the server once to migrate it`);
    }
  }

  async createWorkshop(input: NewWorkshop, makeCode: () => string, at = Date.now()): Promise<Workshop> {
    const id = generateId();
    const insert = this.db.transaction((code: string) => {
      this.db.prepare('INSERT INTO workshops (id, code, title, created_at, ends_at) VALUES (?, ?, ?, ?, ?)').run(id, code, input.title, at, input.endsAt);
      const add = this.db.prepare('INSERT INTO workshop_lessons (workshop_id, position, lesson_id) VALUES (?, ?, ?)');
      input.lessons.forEach((lesson, i) => add.run(id, i, lesson));
    });
    for (let attempt = 0; ; attempt++) {
      const code = makeCode();
      try {
        insert(code);
        return (await this.workshop(id))!;
      } catch (err) {
        const e = err as { code?: string; message?: string };
        // a collision on the unique code: draw again (rare: 2^30 codes)
        if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' && /workshops\.code/.test(e.message ?? '') && attempt < 20) continue;
        throw err;
      }
    }
  }

  async workshop(id: string): Promise<Workshop | null> {
    const r = this.db.prepare(`${WORKSHOP_SELECT} WHERE w.id = ?`).get(id);
    return r ? toWorkshop(r) : null;
  }

  async workshopByCode(code: string): Promise<Workshop | null> {
    const r = this.db.prepare(`${WORKSHOP_SELECT} WHERE w.code = ?`).get(code.toUpperCase());
    return r ? toWorkshop(r) : null;
  }

  async listWorkshops(): Promise<Workshop[]> {
    return this.db.prepare(`${WORKSHOP_SELECT} ORDER BY w.created_at DESC`).all().map(toWorkshop);
  }

  async closeWorkshop(id: string, at = Date.now()): Promise<Workshop | null> {
    this.db.prepare('UPDATE workshops SET closed_at = COALESCE(closed_at, ?) WHERE id = ?').run(at, id);
    return this.workshop(id);
  }

  async addLearner(input: { workshopId: string; displayName: string; tokenHash: string }, at = Date.now()): Promise<Learner> {
    const id = generateId();
    // check and insert under one write lock (IMMEDIATE): two look-alikes joining at once cannot both get in
    const insert = this.db.transaction(() => {
      const taken = this.db.prepare('SELECT display_name FROM learners WHERE workshop_id = ?').pluck().all(input.workshopId) as string[];
      const clash = lookalikeOf(input.displayName, taken);
      if (clash !== undefined) throw new NameTakenError(input.displayName, clash.toLowerCase() !== input.displayName.toLowerCase());
      this.db.prepare('INSERT INTO learners (id, workshop_id, display_name, token_hash, joined_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, input.workshopId, input.displayName, input.tokenHash, at, at);
    });
    try {
      insert.immediate();
    } catch (err) {
      if (err instanceof NameTakenError) throw err;
      const e = err as { code?: string; message?: string };
      if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' && /display_name/.test(e.message ?? '')) throw new NameTakenError(input.displayName);
      throw err;
    }
    return (await this.learner(id))!;
  }

  async learner(id: string): Promise<Learner | null> {
    const r = this.db.prepare('SELECT * FROM learners WHERE id = ?').get(id);
    return r ? toLearner(r) : null;
  }

  async learnerByTokenHash(tokenHash: string): Promise<Learner | null> {
    const r = this.db.prepare('SELECT * FROM learners WHERE token_hash = ?').get(tokenHash);
    return r ? toLearner(r) : null;
  }

  async learners(workshopId: string): Promise<Learner[]> {
    return this.db.prepare('SELECT * FROM learners WHERE workshop_id = ? ORDER BY joined_at, rowid').all(workshopId).map(toLearner);
  }

  async touchLearner(id: string, at: number, currentLesson?: string): Promise<void> {
    if (currentLesson === undefined) this.db.prepare('UPDATE learners SET last_seen_at = ? WHERE id = ?').run(at, id);
    else this.db.prepare('UPDATE learners SET last_seen_at = ?, current_lesson = ? WHERE id = ?').run(at, currentLesson, id);
  }

  async startSession(s: { id: string; learnerId: string; lessonId: string; server?: string | null }, at = Date.now()): Promise<LearnerSession> {
    this.db.prepare('INSERT INTO learner_sessions (id, learner_id, lesson_id, started_at, server) VALUES (?, ?, ?, ?, ?)').run(s.id, s.learnerId, s.lessonId, at, s.server ?? null);
    return toSession(this.db.prepare('SELECT * FROM learner_sessions WHERE id = ?').get(s.id));
  }

  async endSession(id: string, reason: string, at = Date.now()): Promise<void> {
    this.db.prepare('UPDATE learner_sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL').run(at, reason, id);
  }

  async endOpenSessions(reason: string, at = Date.now(), stillRunning: (server: string) => boolean = () => false): Promise<number> {
    return this.db.transaction(() => {
      const open = this.db.prepare('SELECT id, server FROM learner_sessions WHERE ended_at IS NULL').all() as { id: string; server: string | null }[];
      const end = this.db.prepare('UPDATE learner_sessions SET ended_at = ?, end_reason = ? WHERE id = ?');
      let n = 0;
      for (const s of open) {
        if (s.server !== null && stillRunning(s.server)) continue;
        end.run(at, reason, s.id);
        n++;
      }
      return n;
    })();
  }

  async sessions(learnerId: string): Promise<LearnerSession[]> {
    return this.db.prepare('SELECT * FROM learner_sessions WHERE learner_id = ? ORDER BY started_at, rowid').all(learnerId).map(toSession);
  }

  async workshopSessions(workshopId: string): Promise<LearnerSession[]> {
    return this.db.prepare('SELECT s.* FROM learner_sessions s JOIN learners l ON l.id = s.learner_id WHERE l.workshop_id = ? ORDER BY s.started_at, s.rowid')
      .all(workshopId).map(toSession);
  }

  async recordSteps(learnerId: string, lessonId: string, updates: StepUpdate[], at = Date.now()): Promise<StepResult[]> {
    const get = this.db.prepare('SELECT * FROM step_results WHERE learner_id = ? AND lesson_id = ? AND step_id = ?');
    const put = this.db.prepare(`INSERT INTO step_results (learner_id, lesson_id, step_id, status, message, messages, stale, first_pass_at, updated_at)
      VALUES (@learner, @lesson, @step, @status, @message, @messages, @stale, @firstPass, @at)
      ON CONFLICT (learner_id, lesson_id, step_id) DO UPDATE SET status = @status, message = @message, messages = @messages, stale = @stale,
        first_pass_at = COALESCE(step_results.first_pass_at, @firstPass), updated_at = @at`);
    // only on a passed row: the pass itself is never written over
    const setStale = this.db.prepare(`UPDATE step_results SET stale = @stale, updated_at = @at
      WHERE learner_id = @learner AND lesson_id = @lesson AND step_id = @step AND status = 'pass'`);
    return this.db.transaction(() => {
      const changed: StepResult[] = [];
      for (const u of updates) {
        const before = get.get(learnerId, lessonId, u.stepId);
        const prev = before ? toStep(before) : null;
        const stale = u.status === 'pass' ? staleText(u.stale) : null;
        // a passed step stays passed (DESIGN.md): a later fail/pending does not undo it;
        // only whether its state is still there changes
        if (prev?.status === 'pass') {
          if (u.status !== 'pass' || staleText(prev.stale) === stale) continue;
          setStale.run({ learner: learnerId, lesson: lessonId, step: u.stepId, stale, at });
          changed.push(toStep(get.get(learnerId, lessonId, u.stepId)));
          continue;
        }
        const messages = messagesText(u.messages);
        if (prev && prev.status === u.status && prev.message === u.message && messagesText(prev.messages) === messages && staleText(prev.stale) === stale) continue;
        put.run({ learner: learnerId, lesson: lessonId, step: u.stepId, status: u.status, message: u.message, messages, stale, firstPass: u.status === 'pass' ? at : null, at });
        changed.push(toStep(get.get(learnerId, lessonId, u.stepId)));
      }
      return changed;
    })();
  }

  async stepResults(workshopId: string): Promise<StepResult[]> {
    return this.db.prepare('SELECT r.* FROM step_results r JOIN learners l ON l.id = r.learner_id WHERE l.workshop_id = ?').all(workshopId).map(toStep);
  }

  async learnerStepResults(learnerId: string): Promise<StepResult[]> {
    return this.db.prepare('SELECT * FROM step_results WHERE learner_id = ?').all(learnerId).map(toStep);
  }

  async addSelfPacedLearner(tokenHash: string, at = Date.now()): Promise<SelfPacedLearner> {
    const id = generateId();
    this.db.prepare('INSERT INTO self_paced_learners (id, token_hash, created_at, last_seen_at) VALUES (?, ?, ?, ?)').run(id, tokenHash, at, at);
    return { id, createdAt: at, lastSeenAt: at };
  }

  async selfPacedLearnerByTokenHash(tokenHash: string, at = Date.now()): Promise<SelfPacedLearner | null> {
    const r = this.db.prepare('UPDATE self_paced_learners SET last_seen_at = ? WHERE token_hash = ? RETURNING *').get(at, tokenHash);
    return r ? toSelfLearner(r) : null;
  }

  async recordSelfPacedPasses(learnerId: string, lessonId: string, stepIds: string[], at = Date.now()): Promise<SelfPacedPass[]> {
    const put = this.db.prepare('INSERT INTO self_paced_passes (learner_id, lesson_id, step_id, passed_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING');
    return this.db.transaction(() => stepIds.filter((s) => put.run(learnerId, lessonId, s, at).changes > 0).map((stepId) => ({ lessonId, stepId, passedAt: at })))();
  }

  async selfPacedPasses(learnerId: string): Promise<SelfPacedPass[]> {
    return this.db.prepare('SELECT lesson_id, step_id, passed_at FROM self_paced_passes WHERE learner_id = ? ORDER BY passed_at, rowid').all(learnerId).map(toSelfPass);
  }

  async addInstructorSession(tokenHash: string, secretHash: string, at = Date.now(), expireBefore = 0): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM instructor_sessions WHERE created_at < ? OR secret_hash != ?').run(expireBefore, secretHash);
      this.db.prepare('INSERT INTO instructor_sessions (token_hash, secret_hash, created_at, last_seen_at) VALUES (?, ?, ?, ?)').run(tokenHash, secretHash, at, at);
    })();
  }

  async instructorSessionValid(tokenHash: string, secretHash: string, notBefore: number, at = Date.now()): Promise<boolean> {
    return this.db.prepare('UPDATE instructor_sessions SET last_seen_at = ? WHERE token_hash = ? AND secret_hash = ? AND created_at >= ?').run(at, tokenHash, secretHash, notBefore).changes > 0;
  }

  async removeInstructorSessions(tokenHash: string | null): Promise<number> {
    return (tokenHash === null
      ? this.db.prepare('DELETE FROM instructor_sessions').run()
      : this.db.prepare('DELETE FROM instructor_sessions WHERE token_hash = ?').run(tokenHash)).changes;
  }

  async addGradingRun(run: Omit<GradingRun, 'id' | 'createdAt'>, at = Date.now()): Promise<GradingRun> {
    const id = generateId();
    this.db.prepare('INSERT INTO grading_runs (id, workshop_id, learner_id, lesson_id, source, passed, total, report, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, run.workshopId, run.learnerId, run.lessonId, run.source, run.passed, run.total, JSON.stringify(run.report), at);
    return toGrading(this.db.prepare('SELECT * FROM grading_runs WHERE id = ?').get(id));
  }

  async gradingRuns(workshopId: string): Promise<GradingRun[]> {
    return this.db.prepare('SELECT * FROM grading_runs WHERE workshop_id = ? ORDER BY created_at, rowid').all(workshopId).map(toGrading);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
