/**
 * The SQLite store on a real file in a temp dir: migrations, restart survival (close
 * and reopen), step result semantics, codes and tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CODE_ALPHABET, CODE_PATTERN, generateJoinCode, generateToken, hashToken, normalizeJoinCode } from '../../lab-server/classroom/codes.ts';
import { RateLimiter } from '../../lab-server/lib/rate-limit.ts';
import { loadMigrations, migrate, schemaVersion, SqliteClassroomStore } from '../../lab-server/classroom/sqlite-store.ts';
import { NameTakenError } from '../../lab-server/classroom/store.ts';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'nslab-classroom-'));
  file = path.join(dir, 'data', 'classroom.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('migrations', () => {
  it('creates the schema in WAL mode with foreign keys, once', async () => {
    const store = new SqliteClassroomStore({ file });
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(schemaVersion(store.db)).toBe(loadMigrations().length);
    const tables = store.db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all().map((r) => (r as { name: string }).name);
    expect(tables).toEqual(expect.arrayContaining(['workshops', 'workshop_lessons', 'learners', 'learner_sessions', 'step_results', 'grading_runs', 'schema_migrations']));
    // applying again is a no-op
    expect(migrate(store.db)).toEqual([]);
    await store.close();
    const again = new SqliteClassroomStore({ file });
    expect(migrate(again.db)).toEqual([]);
    await again.close();
  });

  it('upgrades a version-1 database in place, keeping its rows', async () => {
    const db = new Database(file.replace(/data\/classroom.db$/, 'v1.db'));
    const v1 = loadMigrations().slice(0, 1);
    expect(migrate(db, v1)).toEqual([1]);
    db.prepare("INSERT INTO workshops (id, code, title, created_at) VALUES ('w', 'ABCDEF', 'old', 1)").run();
    db.prepare("INSERT INTO learners (id, workshop_id, display_name, token_hash, joined_at, last_seen_at) VALUES ('l', 'w', 'Old', 'h', 1, 1)").run();
    db.prepare("INSERT INTO learner_sessions (id, learner_id, lesson_id, started_at) VALUES ('s', 'l', 'x', 2)").run();
    db.close();
    const store = new SqliteClassroomStore({ file: file.replace(/data\/classroom.db$/, 'v1.db') });
    expect(schemaVersion(store.db)).toBe(loadMigrations().length);
    expect((await store.sessions('l'))[0]).toMatchObject({ id: 's', server: null, endedAt: null });
    // a pre-v2 session has no server: it is ended on recovery
    expect(await store.endOpenSessions('server-restart', 3, () => true)).toBe(1);
    await store.close();
  });

  it('upgrades a version-3 database: step results from before keep their message, with no translations', async () => {
    const old = file.replace(/data\/classroom.db$/, 'v3.db');
    const db = new Database(old);
    expect(migrate(db, loadMigrations().slice(0, 3))).toEqual([1, 2, 3]);
    db.prepare("INSERT INTO workshops (id, code, title, created_at) VALUES ('w', 'ABCDEF', 'old', 1)").run();
    db.prepare("INSERT INTO learners (id, workshop_id, display_name, token_hash, joined_at, last_seen_at) VALUES ('l', 'w', 'Old', 'h', 1, 1)").run();
    db.prepare("INSERT INTO step_results (learner_id, lesson_id, step_id, status, message, updated_at) VALUES ('l', 'x', 's', 'fail', '아직입니다', 2)").run();
    db.close();
    const store = new SqliteClassroomStore({ file: old });
    expect(schemaVersion(store.db)).toBe(loadMigrations().length);
    expect(await store.stepResults('w')).toMatchObject([{ stepId: 's', status: 'fail', message: '아직입니다', messages: null }]);
    // the next check round adds the translations to the old row
    expect(await store.recordSteps('l', 'x', [{ stepId: 's', status: 'fail', message: '아직입니다', messages: { ko: '아직입니다', en: 'Not yet' } }], 3))
      .toMatchObject([{ messages: { ko: '아직입니다', en: 'Not yet' } }]);
    await store.close();
  });

  it('recovery ends only the sessions of servers that are gone', async () => {
    const { serverId, serverRunning } = await import('../../lab-server/classroom/service.ts');
    const store = new SqliteClassroomStore({ file });
    const w = await store.createWorkshop({ title: 't', lessons: ['x'], endsAt: null }, generateJoinCode);
    const l = await store.addLearner({ workshopId: w.id, displayName: 'Ivy', tokenHash: 'i' });
    // a live process that is not us: our parent (vitest's main process)
    const alive = serverId(process.ppid);
    const dead = alive.replace(/:[^:]+$/, ':not-a-start-time');
    await store.startSession({ id: 'live', learnerId: l.id, lessonId: 'x', server: alive });
    await store.startSession({ id: 'gone', learnerId: l.id, lessonId: 'x', server: dead });
    expect(serverRunning(alive)).toBe(true);
    expect(serverRunning(dead)).toBe(false);
    expect(serverRunning(serverId())).toBe(false); // a restarted server never keeps its own old rows
    expect(await store.endOpenSessions('server-restart', 5, serverRunning)).toBe(1);
    const byId = Object.fromEntries((await store.sessions(l.id)).map((s) => [s.id, s]));
    expect(byId.gone).toMatchObject({ endedAt: 5, endReason: 'server-restart' });
    expect(byId.live).toMatchObject({ endedAt: null });
    await store.close();
  });

  it('a failing migration rolls back entirely and leaves the previous version', () => {
    const db = new Database(path.join(dir, 'x.db'));
    const good = loadMigrations();
    const broken = [...good, { version: good.length + 1, name: 'broken', sql: 'CREATE TABLE half (x INTEGER); INSERT INTO nope VALUES (1);' }];
    expect(() => migrate(db, broken)).toThrow(/nope/);
    expect(schemaVersion(db)).toBe(good.length);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half'").get()).toEqual({ n: 0 });
    db.close();
  });

  it('refuses a database from a newer nslab', () => {
    const db = new Database(path.join(dir, 'y.db'));
    migrate(db);
    db.prepare('INSERT INTO schema_migrations VALUES (999, ?, ?)').run('future', Date.now());
    expect(() => migrate(db)).toThrow(/newer nslab/);
    db.close();
  });

  it('foreign keys are enforced', async () => {
    const store = new SqliteClassroomStore({ file });
    await expect(store.addLearner({ workshopId: 'nope', displayName: 'x', tokenHash: 'h' })).rejects.toThrow(/FOREIGN KEY/);
    await store.close();
  });
});

describe('store', () => {
  it('keeps workshops, learners, sessions, step results and grading runs across close and reopen', async () => {
    let store = new SqliteClassroomStore({ file });
    const w = await store.createWorkshop({ title: 'Namespaces 101', lessons: ['b-lesson', 'a-lesson'], endsAt: null }, generateJoinCode, 1000);
    expect(w.lessons).toEqual(['b-lesson', 'a-lesson']);
    const token = generateToken();
    const l = await store.addLearner({ workshopId: w.id, displayName: 'Ada', tokenHash: hashToken(token) }, 2000);
    await store.startSession({ id: 's1', learnerId: l.id, lessonId: 'b-lesson' }, 3000);
    await store.recordSteps(l.id, 'b-lesson', [{ stepId: 'one', status: 'pass', message: null }, { stepId: 'two', status: 'fail', message: 'not yet' }], 4000);
    await store.addGradingRun({ workshopId: w.id, learnerId: l.id, lessonId: 'b-lesson', source: 'ada.txt', passed: 1, total: 2, report: { lesson: 'b-lesson', steps: [], passed: 1, total: 2 } }, 5000);
    await store.close();

    store = new SqliteClassroomStore({ file });
    expect(await store.workshopByCode(w.code.toLowerCase())).toEqual(w);
    expect((await store.learnerByTokenHash(hashToken(token)))?.displayName).toBe('Ada');
    expect(await store.endOpenSessions('server-restart', 6000)).toBe(1);
    expect((await store.sessions(l.id))[0]).toMatchObject({ id: 's1', endedAt: 6000, endReason: 'server-restart' });
    const steps = await store.learnerStepResults(l.id);
    expect(steps.find((s) => s.stepId === 'one')).toMatchObject({ status: 'pass', firstPassAt: 4000 });
    expect(steps.find((s) => s.stepId === 'two')).toMatchObject({ status: 'fail', message: 'not yet' });
    expect((await store.gradingRuns(w.id))[0]).toMatchObject({ source: 'ada.txt', passed: 1, total: 2, report: { lesson: 'b-lesson' } });
    await store.close();
  });

  it('never stores a learner token, only its hash', async () => {
    const store = new SqliteClassroomStore({ file });
    const w = await store.createWorkshop({ title: 't', lessons: ['x'], endsAt: null }, generateJoinCode);
    const token = generateToken();
    await store.addLearner({ workshopId: w.id, displayName: 'Bo', tokenHash: hashToken(token) });
    await store.close();
    const { readFileSync } = await import('node:fs');
    const bytes = Buffer.concat([readFileSync(file), ...['-wal'].map((s) => { try { return readFileSync(file + s); } catch { return Buffer.alloc(0); } })]);
    expect(bytes.includes(Buffer.from(token))).toBe(false);
    expect(bytes.includes(Buffer.from(hashToken(token)))).toBe(true);
  });

  it('a passed step stays passed and keeps its first pass time', async () => {
    const store = new SqliteClassroomStore({ file });
    const w = await store.createWorkshop({ title: 't', lessons: ['x'], endsAt: null }, generateJoinCode);
    const l = await store.addLearner({ workshopId: w.id, displayName: 'Cy', tokenHash: 'h1' });
    expect(await store.recordSteps(l.id, 'x', [{ stepId: 's', status: 'fail', message: 'no' }], 10)).toHaveLength(1);
    expect(await store.recordSteps(l.id, 'x', [{ stepId: 's', status: 'fail', message: 'no' }], 11)).toHaveLength(0);
    expect(await store.recordSteps(l.id, 'x', [{ stepId: 's', status: 'pass', message: null }], 20)).toHaveLength(1);
    expect(await store.recordSteps(l.id, 'x', [{ stepId: 's', status: 'pending', message: null }], 30)).toHaveLength(0);
    expect(await store.recordSteps(l.id, 'x', [{ stepId: 's', status: 'pass', message: null }], 40)).toHaveLength(0);
    expect((await store.learnerStepResults(l.id))[0]).toMatchObject({ status: 'pass', firstPassAt: 20 });
    await store.close();
  });

  it('self-paced learners: found by token hash only, first pass time kept, across close and reopen', async () => {
    const store = new SqliteClassroomStore({ file });
    const a = await store.addSelfPacedLearner(hashToken('tok-a'), 1000);
    await store.addSelfPacedLearner(hashToken('tok-b'), 1000);
    expect(await store.selfPacedLearnerByTokenHash(hashToken('tok-x'))).toBeNull();
    expect(await store.recordSelfPacedPasses(a.id, 'l1', ['s1', 's2'], 2000)).toHaveLength(2);
    // a second pass of the same step changes nothing
    expect(await store.recordSelfPacedPasses(a.id, 'l1', ['s1', 's3'], 3000)).toEqual([{ lessonId: 'l1', stepId: 's3', passedAt: 3000 }]);
    await store.close();
    const again = new SqliteClassroomStore({ file });
    const found = await again.selfPacedLearnerByTokenHash(hashToken('tok-a'), 5000);
    expect(found).toEqual({ id: a.id, createdAt: 1000, lastSeenAt: 5000 });
    expect(await again.selfPacedPasses(a.id)).toEqual([
      { lessonId: 'l1', stepId: 's1', passedAt: 2000 }, { lessonId: 'l1', stepId: 's2', passedAt: 2000 }, { lessonId: 'l1', stepId: 's3', passedAt: 3000 },
    ]);
    const other = await again.selfPacedLearnerByTokenHash(hashToken('tok-b'));
    expect(await again.selfPacedPasses(other!.id)).toEqual([]);
    expect(JSON.stringify(again.db.prepare('SELECT * FROM self_paced_learners').all())).not.toContain('tok-a');
    await again.close();
  });

  it('display names are unique per workshop, ignoring case', async () => {
    const store = new SqliteClassroomStore({ file });
    const w1 = await store.createWorkshop({ title: 't', lessons: ['x'], endsAt: null }, generateJoinCode);
    const w2 = await store.createWorkshop({ title: 't', lessons: ['x'], endsAt: null }, generateJoinCode);
    await store.addLearner({ workshopId: w1.id, displayName: 'Dana', tokenHash: 'a' });
    await expect(store.addLearner({ workshopId: w1.id, displayName: 'dana', tokenHash: 'b' })).rejects.toBeInstanceOf(NameTakenError);
    await store.addLearner({ workshopId: w2.id, displayName: 'Dana', tokenHash: 'c' });
    await store.close();
  });

  it('a name that looks like one taken (another script, full width, I for l) is refused; a different one is not', async () => {
    const store = new SqliteClassroomStore({ file });
    const w = await store.createWorkshop({ title: 't', lessons: ['x'], endsAt: null }, generateJoinCode);
    await store.addLearner({ workshopId: w.id, displayName: 'Dana', tokenHash: 'a' });
    await store.addLearner({ workshopId: w.id, displayName: 'Adal', tokenHash: 'b' });
    for (const impostor of ['D\u0430na', 'Ｄａｎａ', 'AdaI']) {
      const err = await store.addLearner({ workshopId: w.id, displayName: impostor, tokenHash: 'x' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NameTakenError);
      expect((err as NameTakenError).lookalike).toBe(true);
      // the joining person is not told whose name it resembles
      expect((err as Error).message).not.toMatch(/Dana|Adal/);
    }
    await store.addLearner({ workshopId: w.id, displayName: 'Danae', tokenHash: 'c' });
    await store.addLearner({ workshopId: w.id, displayName: '김민수', tokenHash: 'd' });
    expect((await store.learners(w.id)).map((l) => l.displayName).sort()).toEqual(['Adal', 'Dana', 'Danae', '김민수']);
    await store.close();
  });

  it('a join code collision draws a new code', async () => {
    const store = new SqliteClassroomStore({ file });
    const codes = ['AAAAAA', 'AAAAAA', 'BBBBBB'];
    const make = () => codes.shift()!;
    const a = await store.createWorkshop({ title: 'a', lessons: ['x'], endsAt: null }, make);
    const b = await store.createWorkshop({ title: 'b', lessons: ['x'], endsAt: null }, make);
    expect([a.code, b.code]).toEqual(['AAAAAA', 'BBBBBB']);
    await store.close();
  });

  it('a second process (nslab export) can read while the server writes', async () => {
    const server = new SqliteClassroomStore({ file });
    const w = await server.createWorkshop({ title: 't', lessons: ['x'], endsAt: null }, generateJoinCode);
    const reader = new SqliteClassroomStore({ file, readonly: true });
    await server.addLearner({ workshopId: w.id, displayName: 'Eve', tokenHash: 'e' });
    expect((await reader.learners(w.id)).map((l) => l.displayName)).toEqual(['Eve']);
    await reader.close();
    await server.close();
  });
});

describe('codes and tokens', () => {
  it('join codes use the unambiguous alphabet only', () => {
    expect(CODE_ALPHABET).not.toMatch(/[0O1I]/);
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const c = generateJoinCode();
      expect(c).toMatch(CODE_PATTERN);
      expect(c).not.toMatch(/[0O1I]/);
      seen.add(c);
    }
    // 2^30 codes: 5000 draws colliding would mean a broken generator
    expect(seen.size).toBeGreaterThan(4990);
    // every symbol of the alphabet shows up (no bias towards a subset)
    expect(new Set([...seen].join('')).size).toBe(CODE_ALPHABET.length);
  });

  it('normalizes what people type', () => {
    expect(normalizeJoinCode(' k7qx-3 ')).toBeNull(); // too short
    expect(normalizeJoinCode(' k7qx-3m ')).toBe('K7QX3M');
    expect(normalizeJoinCode('k7qx-3mz')).toBeNull(); // too long
    expect(normalizeJoinCode('k7q x3m')).toBe('K7QX3M');
    expect(normalizeJoinCode('K7QX0M')).toBeNull(); // 0 is not in the alphabet
  });

  it('tokens are 256-bit and hashed', () => {
    const t = generateToken();
    expect(Buffer.from(t, 'base64url')).toHaveLength(32);
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(t)).not.toBe(hashToken(generateToken()));
  });

  it('rate limiter: burst, then refill over time', () => {
    let now = 0;
    const rl = new RateLimiter({ burst: 3, perMinute: 6 }, () => now);
    expect([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([true, true, true, false]);
    expect(rl.take('b')).toBe(true);
    expect(rl.retryAfter('a')).toBe(10);
    now += 10_000;
    expect(rl.take('a')).toBe(true);
    expect(rl.take('a')).toBe(false);
  });
});
