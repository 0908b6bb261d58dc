/**
 * The progress matrix (time on step, stuck, counts), the export formats on hostile
 * names, and the export/attach commands on a real database file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBoard } from '../../lab-server/classroom/board.ts';
import type { LessonSteps } from '../../lab-server/contract/board-protocol.ts';
import { generateJoinCode } from '../../lab-server/classroom/codes.ts';
import { toCsv, toJsonExport, toJunit } from '../../lab-server/classroom/export.ts';
import { SqliteClassroomStore } from '../../lab-server/classroom/sqlite-store.ts';
import type { Learner, StepResult, Workshop } from '../../lab-server/classroom/store.ts';
import { parseCsv, parseXml } from './helpers.ts';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../..');
const MIN = 60_000;
const dir = mkdtempSync(path.join(os.tmpdir(), 'nslab-board-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lessons: LessonSteps[] = [
  { id: 'l1', title: 'One', steps: [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }] },
  { id: 'l2', title: 'Two', steps: [{ id: 'c', title: 'C <&> "q"' }] },
];
const workshop: Workshop = { id: 'w', code: 'ABCDEF', title: 'T & <x>', lessons: ['l1', 'l2'], createdAt: 0, endsAt: null, closedAt: null };
const learner = (id: string, name: string, joinedAt: number, currentLesson: string | null = null): Learner => ({ id, workshopId: 'w', displayName: name, joinedAt, lastSeenAt: joinedAt, currentLesson });
const pass = (learnerId: string, lessonId: string, stepId: string, at: number): StepResult => ({ learnerId, lessonId, stepId, status: 'pass', message: null, messages: null, firstPassAt: at, stale: null, updatedAt: at });

function board(now: number, admission: 'active' | 'queued' | 'offline' = 'active') {
  return buildBoard({
    workshop, lessons, now, stuckMinutes: 10,
    learners: [learner('u1', 'Slow', 0, 'l1'), learner('u2', 'Fast', 0, 'l1'), learner('u3', '=cmd|\x07bell', 0)],
    results: [
      pass('u2', 'l1', 'a', 2 * MIN), pass('u2', 'l1', 'b', 3 * MIN),
      { learnerId: 'u1', lessonId: 'l1', stepId: 'a', status: 'fail', message: 'try `unshare`', messages: { en: 'try `unshare`', ko: '`unshare`를 써 보세요' }, firstPassAt: null, stale: null, updatedAt: 5 * MIN },
      pass('u2', 'l2', 'c', 20 * MIN),
    ],
    sessions: [{ id: 's1', server: null, learnerId: 'u1', lessonId: 'l1', startedAt: 1 * MIN, endedAt: null, endReason: null }],
    admission: () => ({ state: admission, position: admission === 'queued' ? 1 : null }),
    capacity: { active: 3, queued: 0, limit: 40 },
  });
}

describe('board', () => {
  it('computes time on the current step, stuck learners and counts', () => {
    const b = board(12 * MIN);
    const [slow, fast, other] = b.learners;
    expect(b.columns.map((c) => `${c.lesson}/${c.step}`)).toEqual(['l1/a', 'l1/b', 'l2/c']);
    expect(slow.current).toMatchObject({ lesson: 'l1', step: 'a', since: 1 * MIN, message: 'try `unshare`' });
    // every language of the message travels with the cell, for a board in another language
    expect(slow.current!.messages).toEqual({ en: 'try `unshare`', ko: '`unshare`를 써 보세요' });
    expect(slow.cells[0]).toMatchObject({ status: 'fail', messages: { ko: '`unshare`를 써 보세요' } });
    expect(fast.cells[0].messages).toBeNull();
    expect(slow.current!.minutes).toBeCloseTo(11);
    expect(slow.stuck).toBe(true);
    expect(fast.complete).toBe(true);
    expect(fast.current).toBeNull();
    expect(fast.stuck).toBe(false);
    // never opened a lesson: on the first step of the first lesson since joining
    expect(other.current).toMatchObject({ lesson: 'l1', step: 'a', since: 0 });
    expect(b.counts).toEqual([1, 1, 1]);
    expect(b.onStep).toEqual([2, 0, 0]);
    // under the threshold nobody is stuck; without a sandbox nobody is stuck either
    expect(board(5 * MIN).learners[0].stuck).toBe(false);
    expect(board(60 * MIN, 'queued').learners.every((l) => !l.stuck)).toBe(true);
  });

  it('exports survive hostile names and titles', () => {
    const b = board(12 * MIN);
    const rows = parseCsv(toCsv(b), { bom: true });
    expect(rows).toHaveLength(4);
    expect(rows[3][0]).toBe("'=cmd|\x07bell");
    expect(rows[2].slice(6)).toEqual([`pass ${new Date(2 * MIN).toISOString()}`, `pass ${new Date(3 * MIN).toISOString()}`, `pass ${new Date(20 * MIN).toISOString()}`]);
    expect(rows[1].slice(6)).toEqual(['fail', '', '']);
    // one check ran and failed; the five steps nobody reached are skipped, not failed
    expect(parseXml(toJunit(b))).toEqual({ root: 'testsuites', suites: 3, cases: 9, failures: 1, skipped: 5 });
    expect(toJunit(b)).toMatch(/<testsuites [^>]*failures="1" errors="0" skipped="5">/);
    expect(toJunit(b, 'u1')).toMatch(/<testsuite name="Slow" tests="3" failures="1" errors="0" skipped="2"/);
    expect(parseXml(toJunit(b, 'u2'))).toEqual({ root: 'testsuites', suites: 1, cases: 3, failures: 0, skipped: 0 });
    const j = JSON.parse(JSON.stringify(toJsonExport(b)));
    expect(j.learners[0].steps[0]).toMatchObject({ status: 'fail', message: 'try `unshare`' });
    expect(j.learners[2].steps[0].status).toBe('not-started');
  });
});

describe('CSV for spreadsheets', () => {
  it('starts with a UTF-8 BOM, so Excel reads Korean and Chinese names as UTF-8', () => {
    const b = buildBoard({
      workshop, lessons, now: 0, stuckMinutes: 10,
      learners: [learner('k', '민지', 0), learner('z', '李雷', 0)], results: [], sessions: [],
      admission: () => ({ state: 'offline', position: null }), capacity: { active: 0, queued: 0, limit: 40 },
    });
    const bytes = Buffer.from(toCsv(b), 'utf8');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(parseCsv(toCsv(b), { bom: true }).map((r) => r[0])).toEqual(['learner', '민지', '李雷']);
  });
});

describe('nslab export and nslab attach', () => {
  it('export csv|json|junit and attach a grade report, on a real database file', async () => {
    const dbFile = path.join(dir, 'classroom.db');
    const store = new SqliteClassroomStore({ file: dbFile });
    const w = await store.createWorkshop({ title: 'CLI', lessons: ['sample-hostname'], endsAt: null }, generateJoinCode);
    const a = await store.addLearner({ workshopId: w.id, displayName: 'Ada', tokenHash: 'h1' });
    await store.addLearner({ workshopId: w.id, displayName: 'Bo', tokenHash: 'h2' });
    await store.recordSteps(a.id, 'sample-hostname', [{ stepId: 'look', status: 'pass', message: null }]);
    // the "server" keeps its connection open while the commands run
    const env = { ...process.env, NSLAB_CLASSROOM_DB: dbFile };
    const nslab = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'lab-server/cli.ts', ...args], { cwd: REPO, env });

    const csv = await nslab('export', w.code.toLowerCase(), '--format', 'csv');
    expect(parseCsv(csv.stdout, { bom: true }).map((r) => r[0])).toEqual(['learner', 'Ada', 'Bo']);
    const json = JSON.parse((await nslab('export', w.code, '--format', 'json')).stdout);
    expect(json.learners.map((l: { passed: number }) => l.passed)).toEqual([1, 0]);
    expect(parseXml((await nslab('export', w.code, '--format', 'junit')).stdout)).toEqual({ root: 'testsuites', suites: 2, cases: 6, failures: 0, skipped: 5 });
    const out = path.join(dir, 'junit');
    await nslab('export', w.code, '--format', 'junit', '--out', out);
    expect(readdirSync(out).sort()).toEqual(['Ada.xml', 'Bo.xml']);
    expect(parseXml(readFileSync(path.join(out, 'Ada.xml'), 'utf8'))).toEqual({ root: 'testsuites', suites: 1, cases: 3, failures: 0, skipped: 2 });

    const report = path.join(dir, 'ada.json');
    (await import('node:fs')).writeFileSync(report, JSON.stringify({ lesson: 'sample-hostname', steps: [{ id: 'look', title: 'Look', passed: true, message: '' }], passed: 1, total: 3 }));
    await nslab('attach', w.code, report, '--learner', 'ada');
    expect((await store.gradingRuns(w.id))[0]).toMatchObject({ learnerId: a.id, source: 'ada.json', passed: 1, total: 3 });
    const json2 = JSON.parse((await nslab('export', w.code, '--format', 'json')).stdout);
    expect(json2.gradingRuns[0]).toMatchObject({ learner: 'Ada', lesson: 'sample-hostname', passed: 1 });

    // a graded folder: each report to the learner of the same name; the summary is skipped
    const reports = path.join(dir, 'reports');
    (await import('node:fs')).mkdirSync(reports, { recursive: true });
    for (const [n, p] of [['Ada', 2], ['bo', 0]] as const) {
      (await import('node:fs')).writeFileSync(path.join(reports, `${n}.json`), JSON.stringify({ lesson: 'sample-hostname', steps: [], passed: p, total: 3 }));
    }
    (await import('node:fs')).writeFileSync(path.join(reports, 'summary.json'), '[]');
    await nslab('attach', w.code, path.join(reports, 'Ada.json'), path.join(reports, 'bo.json'), path.join(reports, 'summary.json'), '--learner-from-file');
    const runs = await store.gradingRuns(w.id);
    expect(runs.slice(1).map((r) => [r.source, r.passed, r.learnerId])).toEqual([['Ada.json', 2, a.id], ['bo.json', 0, expect.any(String)]]);
    (await import('node:fs')).writeFileSync(path.join(reports, 'nobody.json'), JSON.stringify({ lesson: 'sample-hostname', steps: [], passed: 1, total: 3 }));
    await expect(nslab('attach', w.code, path.join(reports, 'Ada.json'), path.join(reports, 'nobody.json'), '--learner-from-file')).rejects.toMatchObject({ code: 2 });
    expect(await store.gradingRuns(w.id)).toHaveLength(3); // all or nothing

    await expect(nslab('export', 'ZZZZZZ')).rejects.toMatchObject({ code: 2 });
    await expect(nslab('export', w.code, '--format', 'xlsx')).rejects.toMatchObject({ code: 2 });
    await expect(nslab('attach', w.code, path.join(dir, 'missing.json'))).rejects.toMatchObject({ code: 2 });
    await store.close();
  });
});
