/**
 * What only the SQLite store has, on a real file in a temp dir: its migrations and
 * pragmas, the file's bytes, the read-only handle; plus codes and tokens. What every
 * store must do is in store-conformance.ts, run on SQLite and PostgreSQL.
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
