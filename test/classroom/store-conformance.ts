/**
 * The contract of a classroom store (lab-server/classroom/store.ts), as the
 * classroom relies on it: service.ts (joins, admission, recovery after a restart,
 * step results), board.ts and board-socket.ts (learners, sessions and results of a
 * workshop), routes.ts and `nslab export` (workshops, grading runs). One suite,
 * registered for every implementation by a test file of its own
 * (sqlite-store.test.ts, pg-store.test.ts), on real storage.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateJoinCode } from '../../lab-server/classroom/codes.ts';
import { NameTakenError, type ClassroomStore, type Workshop } from '../../lab-server/classroom/store.ts';

export interface ClassroomStoreSubject {
  /** fresh, empty storage of its own */
  storage(): Promise<StoreStorage>;
}

export interface StoreStorage {
  /** a store on this storage; call again (after close, or beside an open one) for another server's view */
  open(): Promise<ClassroomStore>;
  /** removes the storage (every store on it is closed by then) */
  remove(): Promise<void>;
}

export function classroomStoreConformance(name: string, subject: ClassroomStoreSubject): void {
  describe(`ClassroomStore contract: ${name}`, () => {
    let storage: StoreStorage;
    let opened: ClassroomStore[];
    let store: ClassroomStore;
    const open = async () => {
      const s = await storage.open();
      opened.push(s);
      return s;
    };
    const workshop = (title = 'Namespaces', lessons = ['ipc', 'uts'], at = 1000) => store.createWorkshop({ title, lessons, endsAt: null }, generateJoinCode, at);

    beforeEach(async () => {
      storage = await subject.storage();
      opened = [];
      store = await open();
    });
    afterEach(async () => {
      for (const s of opened) await s.close();
      await storage.remove();
    });

    describe('workshops', () => {
      it('keep title, lessons in their order, times; found by id and by code in any case', async () => {
        const w = await store.createWorkshop({ title: 'Namespaces 101', lessons: ['uts', 'ipc', 'pid'], endsAt: 9000 }, () => 'K7QX3M', 1000);
        expect(w).toMatchObject({ code: 'K7QX3M', title: 'Namespaces 101', lessons: ['uts', 'ipc', 'pid'], createdAt: 1000, endsAt: 9000, closedAt: null });
        expect(typeof w.id).toBe('string');
        expect(await store.workshop(w.id)).toEqual(w);
        expect(await store.workshopByCode('k7qx3m')).toEqual(w);
        expect(await store.workshopByCode('K7QX3N')).toBeNull();
        expect(await store.workshop('no-such-id')).toBeNull();
      });

      it('a code already taken is drawn again; codes stay unique', async () => {
        const codes = ['AAAAAA', 'AAAAAA', 'BBBBBB'];
        const draw = () => codes.shift()!;
        const a = await store.createWorkshop({ title: 'a', lessons: ['x'], endsAt: null }, draw, 1);
        const b = await store.createWorkshop({ title: 'b', lessons: ['x'], endsAt: null }, draw, 2);
        expect([a.code, b.code]).toEqual(['AAAAAA', 'BBBBBB']);
        expect((await store.workshopByCode('AAAAAA'))?.title).toBe('a');
      });

      it('are listed newest first', async () => {
        const older = await workshop('older', ['x'], 1000);
        const newer = await workshop('newer', ['x'], 2000);
        expect((await store.listWorkshops()).map((w) => w.id)).toEqual([newer.id, older.id]);
      });

      it('close once: the first close time stays; an unknown workshop is null', async () => {
        const w = await workshop();
        expect(await store.closeWorkshop(w.id, 5000)).toMatchObject({ id: w.id, closedAt: 5000 });
        expect(await store.closeWorkshop(w.id, 6000)).toMatchObject({ closedAt: 5000 });
        expect((await store.workshop(w.id))?.closedAt).toBe(5000);
        expect(await store.closeWorkshop('no-such-id', 7000)).toBeNull();
      });
    });

    describe('learners', () => {
      it('join with their times, are found by id and token hash, and listed in join order', async () => {
        const w = await workshop();
        const b = await store.addLearner({ workshopId: w.id, displayName: 'Bo', tokenHash: 'hash-b' }, 2000);
        const a = await store.addLearner({ workshopId: w.id, displayName: 'Ada', tokenHash: 'hash-a' }, 3000);
        const c = await store.addLearner({ workshopId: w.id, displayName: 'Cy', tokenHash: 'hash-c' }, 3000);
        expect(b).toEqual({ id: b.id, workshopId: w.id, displayName: 'Bo', joinedAt: 2000, lastSeenAt: 2000, currentLesson: null });
        expect(await store.learner(a.id)).toEqual(a);
        expect(await store.learnerByTokenHash('hash-c')).toEqual(c);
        expect(await store.learnerByTokenHash('hash-z')).toBeNull();
        expect(await store.learner('no-such-id')).toBeNull();
        // same join time: the one who joined first comes first
        expect((await store.learners(w.id)).map((l) => l.displayName)).toEqual(['Bo', 'Ada', 'Cy']);
      });

      it('touch sets the last-seen time, and the current lesson only when given', async () => {
        const w = await workshop();
        const l = await store.addLearner({ workshopId: w.id, displayName: 'Eve', tokenHash: 'e' }, 1000);
        await store.touchLearner(l.id, 2000, 'ipc');
        expect(await store.learner(l.id)).toMatchObject({ lastSeenAt: 2000, currentLesson: 'ipc' });
        await store.touchLearner(l.id, 3000);
        expect(await store.learner(l.id)).toMatchObject({ lastSeenAt: 3000, currentLesson: 'ipc', joinedAt: 1000 });
      });

      it('a name taken in the workshop, in any case or a look-alike, is refused; in another workshop it is free', async () => {
        const w1 = await workshop('one');
        const w2 = await workshop('two');
        await store.addLearner({ workshopId: w1.id, displayName: 'Dana', tokenHash: 'a' });
        const same = await store.addLearner({ workshopId: w1.id, displayName: 'dana', tokenHash: 'b' }).catch((e: unknown) => e);
        expect(same).toBeInstanceOf(NameTakenError);
        expect((same as NameTakenError).lookalike).toBe(false);
        const lookalike = await store.addLearner({ workshopId: w1.id, displayName: 'D\u0430na', tokenHash: 'c' }).catch((e: unknown) => e);
        expect(lookalike).toBeInstanceOf(NameTakenError);
        expect((lookalike as NameTakenError).lookalike).toBe(true);
        await store.addLearner({ workshopId: w2.id, displayName: 'Dana', tokenHash: 'd' });
        expect((await store.learners(w1.id)).map((l) => l.displayName)).toEqual(['Dana']);
      });

      it('a name that looks like one taken (another script, full width, I for l) is refused without saying whose; a different one is not', async () => {
        const w = await workshop();
        await store.addLearner({ workshopId: w.id, displayName: 'Dana', tokenHash: 'a' });
        await store.addLearner({ workshopId: w.id, displayName: 'Adal', tokenHash: 'b' });
        for (const impostor of ['D\u0430na', 'Ｄａｎａ', 'AdaI']) {
          const err = await store.addLearner({ workshopId: w.id, displayName: impostor, tokenHash: 'x' }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(NameTakenError);
          expect((err as NameTakenError).lookalike).toBe(true);
          expect((err as Error).message).not.toMatch(/Dana|Adal/);
        }
        await store.addLearner({ workshopId: w.id, displayName: 'Danae', tokenHash: 'c' });
        await store.addLearner({ workshopId: w.id, displayName: '김민수', tokenHash: 'd' });
        expect((await store.learners(w.id)).map((l) => l.displayName).sort()).toEqual(['Adal', 'Dana', 'Danae', '김민수']);
      });

      it('two look-alikes joining at the same moment: exactly one gets in', async () => {
        const w = await workshop();
        const other = await open();
        const tries = await Promise.allSettled([
          store.addLearner({ workshopId: w.id, displayName: 'Ivan', tokenHash: '1' }),
          other.addLearner({ workshopId: w.id, displayName: 'IVAN', tokenHash: '2' }),
          store.addLearner({ workshopId: w.id, displayName: 'Iv\u0430n', tokenHash: '3' }),
        ]);
        expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(1);
        for (const t of tries) if (t.status === 'rejected') expect(t.reason).toBeInstanceOf(NameTakenError);
        expect(await store.learners(w.id)).toHaveLength(1);
      });

      it('a learner of a workshop that does not exist is refused', async () => {
        await expect(store.addLearner({ workshopId: 'no-such-workshop', displayName: 'X', tokenHash: 'x' })).rejects.toThrow();
      });
    });

    describe('lab sessions', () => {
      it('start open, end once, and are listed by learner and by workshop in start order', async () => {
        const w = await workshop();
        const elsewhere = await workshop('elsewhere');
        const ada = await store.addLearner({ workshopId: w.id, displayName: 'Ada', tokenHash: 'a' });
        const bo = await store.addLearner({ workshopId: w.id, displayName: 'Bo', tokenHash: 'b' });
        const cy = await store.addLearner({ workshopId: elsewhere.id, displayName: 'Cy', tokenHash: 'c' });
        expect(await store.startSession({ id: 's1', learnerId: ada.id, lessonId: 'ipc', server: 'host:1:1' }, 100))
          .toEqual({ id: 's1', server: 'host:1:1', learnerId: ada.id, lessonId: 'ipc', startedAt: 100, endedAt: null, endReason: null });
        expect((await store.startSession({ id: 's2', learnerId: bo.id, lessonId: 'uts' }, 100)).server).toBeNull();
        await store.startSession({ id: 's3', learnerId: ada.id, lessonId: 'uts' }, 300);
        await store.startSession({ id: 's4', learnerId: cy.id, lessonId: 'uts' }, 50);
        await store.endSession('s1', 'switched-lesson', 200);
        await store.endSession('s1', 'left', 400);
        expect((await store.sessions(ada.id)).map((s) => [s.id, s.endedAt, s.endReason])).toEqual([['s1', 200, 'switched-lesson'], ['s3', null, null]]);
        expect((await store.workshopSessions(w.id)).map((s) => s.id)).toEqual(['s1', 's2', 's3']);
      });

      it('after a restart, open sessions end unless their server still runs; ended ones are untouched', async () => {
        const w = await workshop();
        const l = await store.addLearner({ workshopId: w.id, displayName: 'Ada', tokenHash: 'a' });
        await store.startSession({ id: 'live', learnerId: l.id, lessonId: 'x', server: 'alive' }, 1);
        await store.startSession({ id: 'gone', learnerId: l.id, lessonId: 'x', server: 'dead' }, 2);
        await store.startSession({ id: 'old', learnerId: l.id, lessonId: 'x', server: null }, 3);
        await store.startSession({ id: 'done', learnerId: l.id, lessonId: 'x', server: 'dead' }, 4);
        await store.endSession('done', 'left', 5);
        const asked: string[] = [];
        expect(await store.endOpenSessions('server-restart', 10, (server) => { asked.push(server); return server === 'alive'; })).toBe(2);
        expect(asked).not.toContain(null);
        const byId = Object.fromEntries((await store.sessions(l.id)).map((s) => [s.id, [s.endedAt, s.endReason]]));
        expect(byId).toEqual({ live: [null, null], gone: [10, 'server-restart'], old: [10, 'server-restart'], done: [5, 'left'] });
        // without a judge, every open session is over
        expect(await store.endOpenSessions('server-restart', 11)).toBe(1);
      });
    });

    describe('step results', () => {
      it('record changes only; a passed step stays passed and keeps its first pass time', async () => {
        const w = await workshop();
        const l = await store.addLearner({ workshopId: w.id, displayName: 'Cy', tokenHash: 'c' });
        const changed = await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'fail', message: 'no queue yet' }, { stepId: 'b', status: 'pending', message: null }], 10);
        expect(changed).toEqual([
          { learnerId: l.id, lessonId: 'ipc', stepId: 'a', status: 'fail', message: 'no queue yet', messages: null, firstPassAt: null, stale: null, updatedAt: 10 },
          { learnerId: l.id, lessonId: 'ipc', stepId: 'b', status: 'pending', message: null, messages: null, firstPassAt: null, stale: null, updatedAt: 10 },
        ]);
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'fail', message: 'no queue yet' }], 11)).toEqual([]);
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'fail', message: 'still no queue' }], 12)).toHaveLength(1);
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'pass', message: null }], 20)).toMatchObject([{ status: 'pass', firstPassAt: 20, updatedAt: 20 }]);
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'fail', message: 'gone' }, { stepId: 'a', status: 'pass', message: null }], 30)).toEqual([]);
        // the same step id in another lesson is another step
        expect(await store.recordSteps(l.id, 'uts', [{ stepId: 'a', status: 'pass', message: null }], 40)).toHaveLength(1);
        const mine = await store.learnerStepResults(l.id);
        expect(mine.find((r) => r.lessonId === 'ipc' && r.stepId === 'a')).toMatchObject({ status: 'pass', message: null, firstPassAt: 20, updatedAt: 20 });
        expect(mine).toHaveLength(3);
      });

      it('keep the message in every language it has; a new translation alone is a change', async () => {
        const w = await workshop();
        const l = await store.addLearner({ workshopId: w.id, displayName: 'Mi', tokenHash: 'm' });
        const ko = '아직 큐가 없습니다';
        const messages = { ko, en: 'no queue yet', zh: '还没有队列' };
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'fail', message: ko, messages }], 10))
          .toMatchObject([{ message: ko, messages }]);
        // the same map in another key order is the same message
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'fail', message: ko, messages: { zh: '还没有队列', en: 'no queue yet', ko } }], 11)).toEqual([]);
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'fail', message: ko, messages: { ko } }], 12)).toMatchObject([{ messages: { ko } }]);
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'fail', message: ko }], 13)).toMatchObject([{ messages: null }]);
        await store.recordSteps(l.id, 'ipc', [{ stepId: 'b', status: 'pending', message: 'run it', messages: { en: 'run it' } }], 14);
        expect((await store.stepResults(w.id)).find((r) => r.stepId === 'b')).toMatchObject({ message: 'run it', messages: { en: 'run it' } });
      });

      it('a passed step whose state is gone keeps its pass and first pass time; the note comes and goes', async () => {
        const w = await workshop();
        const l = await store.addLearner({ workshopId: w.id, displayName: 'Ex', tokenHash: 'x' });
        await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'pass', message: null }], 20);
        const gone = { message: '새 IPC 네임스페이스가 없습니다', messages: { ko: '새 IPC 네임스페이스가 없습니다', en: 'no new IPC namespace' } };
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'pass', message: null, stale: gone }], 30))
          .toMatchObject([{ status: 'pass', firstPassAt: 20, stale: gone, updatedAt: 30 }]);
        // the same note again (in another key order) is no change; a fail never lands on the pass
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'pass', message: null, stale: { message: gone.message, messages: { en: 'no new IPC namespace', ko: gone.message } } }], 31)).toEqual([]);
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'fail', message: 'gone' }], 32)).toEqual([]);
        expect((await store.stepResults(w.id))[0]).toMatchObject({ status: 'pass', message: null, firstPassAt: 20, stale: gone });
        // the state is back
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'pass', message: null }], 40)).toMatchObject([{ status: 'pass', firstPassAt: 20, stale: null }]);
        // a step that is not passed has no such note, whatever is sent
        expect(await store.recordSteps(l.id, 'ipc', [{ stepId: 'b', status: 'pending', message: null, stale: gone }], 50)).toMatchObject([{ status: 'pending', stale: null }]);
      });

      it('a pass and a later fail written at the same moment from two servers: the step stays passed', async () => {
        const w = await workshop();
        const l = await store.addLearner({ workshopId: w.id, displayName: 'Di', tokenHash: 'd' });
        const other = await open();
        await Promise.all([
          store.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'pass', message: null }], 50),
          other.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'fail', message: 'late' }], 60),
          other.recordSteps(l.id, 'ipc', [{ stepId: 'a', status: 'pending', message: null }], 70),
        ]);
        // whichever came first, the pass is what stays
        expect(await store.learnerStepResults(l.id)).toMatchObject([{ status: 'pass', message: null, firstPassAt: 50 }]);
      });

      it('a workshop\'s results are its learners\' only', async () => {
        const w = await workshop();
        const elsewhere = await workshop('elsewhere');
        const a = await store.addLearner({ workshopId: w.id, displayName: 'A', tokenHash: 'a' });
        const b = await store.addLearner({ workshopId: elsewhere.id, displayName: 'B', tokenHash: 'b' });
        await store.recordSteps(a.id, 'ipc', [{ stepId: 's', status: 'pass', message: null }], 1);
        await store.recordSteps(b.id, 'ipc', [{ stepId: 's', status: 'fail', message: 'no' }], 1);
        expect((await store.stepResults(w.id)).map((r) => r.learnerId)).toEqual([a.id]);
        expect((await store.stepResults(elsewhere.id)).map((r) => r.learnerId)).toEqual([b.id]);
      });
    });

    describe('self-paced learners', () => {
      it('are found by token hash only; a step\'s first pass time is kept; all of it there for the next server', async () => {
        const a = await store.addSelfPacedLearner('hash-a', 1000);
        expect(a).toEqual({ id: a.id, createdAt: 1000, lastSeenAt: 1000 });
        await store.addSelfPacedLearner('hash-b', 1000);
        expect(await store.selfPacedLearnerByTokenHash('hash-x')).toBeNull();
        expect(await store.recordSelfPacedPasses(a.id, 'l1', ['s1', 's2'], 2000)).toHaveLength(2);
        // a second pass of the same step changes nothing
        expect(await store.recordSelfPacedPasses(a.id, 'l1', ['s1', 's3'], 3000)).toEqual([{ lessonId: 'l1', stepId: 's3', passedAt: 3000 }]);
        await store.close();
        opened = opened.filter((s) => s !== store);

        const next = await open();
        expect(await next.selfPacedLearnerByTokenHash('hash-a', 5000)).toEqual({ id: a.id, createdAt: 1000, lastSeenAt: 5000 });
        expect(await next.selfPacedPasses(a.id)).toEqual([
          { lessonId: 'l1', stepId: 's1', passedAt: 2000 }, { lessonId: 'l1', stepId: 's2', passedAt: 2000 }, { lessonId: 'l1', stepId: 's3', passedAt: 3000 },
        ]);
        const b = await next.selfPacedLearnerByTokenHash('hash-b');
        expect(await next.selfPacedPasses(b!.id)).toEqual([]);
      });

      it('the same pass from two servers at once is kept once, with one time', async () => {
        const a = await store.addSelfPacedLearner('hash-a', 1000);
        const other = await open();
        const [x, y] = await Promise.all([
          store.recordSelfPacedPasses(a.id, 'l1', ['s1'], 2000),
          other.recordSelfPacedPasses(a.id, 'l1', ['s1'], 2001),
        ]);
        expect(x.length + y.length).toBe(1);
        expect(await store.selfPacedPasses(a.id)).toHaveLength(1);
      });
    });

    describe('instructor sign-ins', () => {
      it('are valid with their secret and age only; a new secret or an expiry removes old ones; sign out one or all', async () => {
        await store.addInstructorSession('t1', 'secret-1', 1000);
        await store.addInstructorSession('t2', 'secret-1', 2000);
        expect(await store.instructorSessionValid('t1', 'secret-1', 0, 3000)).toBe(true);
        expect(await store.instructorSessionValid('t1', 'secret-2', 0, 3000)).toBe(false);
        expect(await store.instructorSessionValid('t1', 'secret-1', 1500, 3000)).toBe(false);
        expect(await store.instructorSessionValid('nope', 'secret-1', 0, 3000)).toBe(false);
        // another server on the same storage knows the sign-in
        const other = await open();
        expect(await other.instructorSessionValid('t2', 'secret-1', 0, 3000)).toBe(true);
        // signing in with a new secret voids every sign-in made with the old one
        await other.addInstructorSession('t3', 'secret-2', 4000);
        expect(await store.instructorSessionValid('t2', 'secret-1', 0, 4100)).toBe(false);
        // sign-ins made before expireBefore are removed
        await store.addInstructorSession('t4', 'secret-2', 5000, 4500);
        expect(await store.instructorSessionValid('t3', 'secret-2', 0, 5100)).toBe(false);
        await store.addInstructorSession('t5', 'secret-2', 5200);
        expect(await store.removeInstructorSessions('t4')).toBe(1);
        expect(await store.instructorSessionValid('t4', 'secret-2', 0, 5300)).toBe(false);
        expect(await store.removeInstructorSessions('t4')).toBe(0);
        await store.addInstructorSession('t6', 'secret-2', 5400);
        expect(await other.removeInstructorSessions(null)).toBe(2);
        expect(await store.instructorSessionValid('t5', 'secret-2', 0, 5500)).toBe(false);
      });
    });

    describe('grading runs', () => {
      it('keep the report as it was given, listed oldest first per workshop', async () => {
        const w = await workshop();
        const elsewhere = await workshop('elsewhere');
        const l = await store.addLearner({ workshopId: w.id, displayName: 'Ada', tokenHash: 'a' });
        const report = { lesson: 'ipc', steps: [{ id: 'a', title: '큐 만들기', passed: true, message: null }], passed: 1, total: 1 };
        const second = await store.addGradingRun({ workshopId: w.id, learnerId: null, lessonId: 'ipc', source: 'anon.txt', passed: 0, total: 1, report: { lesson: 'ipc', steps: [], passed: 0, total: 1 } }, 200);
        const first = await store.addGradingRun({ workshopId: w.id, learnerId: l.id, lessonId: 'ipc', source: 'ada.txt', passed: 1, total: 1, report }, 100);
        await store.addGradingRun({ workshopId: elsewhere.id, learnerId: null, lessonId: 'ipc', source: 'x', passed: 0, total: 0, report: {} }, 150);
        expect(first).toEqual({ id: first.id, workshopId: w.id, learnerId: l.id, lessonId: 'ipc', source: 'ada.txt', passed: 1, total: 1, report, createdAt: 100 });
        expect(first.id).not.toBe(second.id);
        expect(await store.gradingRuns(w.id)).toEqual([first, second]);
      });
    });

    describe('persistence', () => {
      it('everything is there again for the next server, after close and reopen', async () => {
        const w = await store.createWorkshop({ title: 'Kept', lessons: ['b', 'a'], endsAt: 5000 }, generateJoinCode, 1000);
        const l = await store.addLearner({ workshopId: w.id, displayName: '김민수', tokenHash: 'k' }, 1100);
        await store.touchLearner(l.id, 1200, 'b');
        await store.startSession({ id: 's1', learnerId: l.id, lessonId: 'b', server: 'gone' }, 1300);
        const steps = await store.recordSteps(l.id, 'b', [{ stepId: 'one', status: 'pass', message: null }, { stepId: 'two', status: 'fail', message: '还没有' }], 1400);
        const run = await store.addGradingRun({ workshopId: w.id, learnerId: l.id, lessonId: 'b', source: 't.txt', passed: 1, total: 2, report: { passed: 1 } }, 1500);
        await store.closeWorkshop(w.id, 1600);
        await store.close();
        opened = opened.filter((s) => s !== store);

        const next = await open();
        expect(await next.workshop(w.id)).toEqual({ ...w, closedAt: 1600 });
        expect(await next.learnerByTokenHash('k')).toEqual({ ...l, lastSeenAt: 1200, currentLesson: 'b' });
        expect(await next.sessions(l.id)).toMatchObject([{ id: 's1', server: 'gone', endedAt: null }]);
        expect(await next.learnerStepResults(l.id)).toEqual(expect.arrayContaining(steps));
        expect(await next.gradingRuns(w.id)).toEqual([run]);
        expect(await next.endOpenSessions('server-restart', 2000, () => false)).toBe(1);
      });

      it('a second store on the same storage (another process, nslab export) sees what the first writes', async () => {
        const reader = await open();
        const w = await workshop();
        await store.addLearner({ workshopId: w.id, displayName: 'Eve', tokenHash: 'e' });
        expect((await reader.learners(w.id)).map((l) => l.displayName)).toEqual(['Eve']);
        expect((await reader.workshopByCode(w.code))?.id).toBe(w.id);
      });
    });
  });
}
