/**
 * The integration test every lesson gets. A lesson's test file is one line:
 *
 *   import { lessonTests } from './harness.ts';
 *   lessonTests('ipc-namespace');
 *
 * It proves each check both ways on REAL sandboxes (DESIGN.md "Quality bar"):
 * - `nslab lint` finds no errors in the lesson (files, translations, checks.ts, transcripts);
 * - the solution for this host passes every step (solution.txt, or solution.cgroup-v2.txt
 *   on a cgroup v2 host and solution.cgroup-v1.txt on a v1/hybrid one when the lesson
 *   teaches each its own files: lab-server/lessons/host-conditions.ts);
 *   and, with passed steps watched as in a learner's session, never marks one "passed
 *   earlier; its state is gone" (a step the lesson itself leaves behind is named in
 *   defineChecks' `leftBehind`);
 * - a transcript that only runs `true` passes no step (a fresh sandbox proves nothing);
 * - every near-misses/*.txt that applies on this host fails each step its `## near-miss:`
 *   line names (NAME.cgroup-v2.txt only on v2 hosts, NAME.cgroup-v1.txt only on v1).
 * Transcripts for the other kind of host are not registered at all: this host cannot
 * run them, and the cgroup-v2 VM guest (or a v1 host) runs them.
 * Failures print the whole grade report, so an author sees every step's message.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeTranscript, prepareLesson, readTranscript, type PreparedLesson } from '../../lab-server/grade/grade.ts';
import { lintLesson } from '../../lab-server/grade/lint.ts';
import { formatText, type GradeReport } from '../../lab-server/grade/report.ts';
import type { StepStatus } from '../../lab-server/contract/steps.ts';
import type { Transcript } from '../../lab-server/grade/transcript.ts';
import { appliesTo, currentHostFacts, hostKey, solutionFor } from '../../lab-server/lessons/host-conditions.ts';
import { LessonCatalog } from '../../lab-server/lessons/loader.ts';
import { formatProblem } from '../../lab-server/lessons/problems.ts';
import { createSandboxBackend, type LocalBackend } from '../../lab-server/sandbox/index.ts';

export interface LessonTestOptions {
  /** grade in this language too (messages are localised; results must not change) */
  lang?: 'en' | 'ko' | 'zh';
  /** per-line quiet period for transcripts that drive silent programs */
  quietMs?: number;
}

export function lessonTests(lessonId: string, opts: LessonTestOptions = {}): void {
  const catalog = new LessonCatalog();
  const dir = path.join(catalog.dir, lessonId);
  const host = currentHostFacts();
  // near misses are listed at collection time so each gets a test of its own
  let nearMisses: string[] = [];
  try {
    nearMisses = readdirSync(path.join(dir, 'near-misses')).filter((f) => !f.startsWith('.') && appliesTo(f, host)).sort();
  } catch { /* none yet: lint reports it if a step needs one */ }
  let solution: string | null = null;
  try { solution = solutionFor(readdirSync(dir), host); } catch { /* lint says the folder is missing */ }

  describe(`lesson ${lessonId}${opts.lang ? ` (${opts.lang})` : ""} on a ${hostKey(host)} host`, () => {
    let backend: LocalBackend;
    let lesson: PreparedLesson;

    beforeAll(async () => {
      backend = createSandboxBackend();
      await backend.checkHost();
      await backend.images.ensureBuilt('default', (l) => console.log(l));
      lesson = await prepareLesson(lessonId, opts.lang ?? 'en', catalog);
    });

    afterAll(async () => {
      await backend?.destroyAll();
    });

    const grade = (t: Transcript, more: { watchPassed?: boolean; onStatus?: (changed: StepStatus[]) => void } = {}): Promise<GradeReport> =>
      gradeTranscript(lesson, t, { backend, lang: opts.lang ?? 'en', runner: opts.quietMs ? { quietMs: opts.quietMs } : undefined, ...more });

    it('lints clean', async () => {
      const errors = (await lintLesson(lessonId, catalog)).filter((p) => p.severity === 'error').map(formatProblem);
      expect(errors).toEqual([]);
    });

    it(`${solution ?? 'solution.txt'} passes every step`, async () => {
      expect(solution, `no solution transcript for a ${hostKey(host)} host in ${dir}`).not.toBeNull();
      const stale: string[] = [];
      const report = await grade(await readTranscript(path.join(dir, solution!)), {
        watchPassed: true,
        onStatus: (changed) => { for (const c of changed) if (c.stale) stale.push(`${c.id}: ${c.stale.message}`); },
      });
      const failed = report.steps.filter((s) => !s.passed).map((s) => `${s.id}: ${s.message}`);
      expect(failed, formatText(report, solution!)).toEqual([]);
      // the lesson's own path never tells the learner a step's state is gone
      expect(stale, 'steps marked stale on the intended path: name them in defineChecks\' leftBehind if the lesson means to leave them').toEqual([]);
    });

    it('a transcript of only `true` passes no step', async () => {
      const report = await grade({ file: '(only true)', items: [{ kind: 'type', text: 'true', line: 1 }], nearMiss: null });
      const passed = report.steps.filter((s) => s.passed).map((s) => s.id);
      expect(passed, formatText(report, '(only true)')).toEqual([]);
    });

    for (const name of nearMisses) {
      it(`near miss ${name} fails the steps it names`, async () => {
        const t = await readTranscript(path.join(dir, 'near-misses', name));
        expect(t.nearMiss, `${name} must start with "## near-miss: step-id[, ...]"`).not.toBeNull();
        const report = await grade(t);
        const wronglyPassed = report.steps.filter((s) => t.nearMiss!.includes(s.id) && s.passed).map((s) => s.id);
        expect(wronglyPassed, formatText(report, name)).toEqual([]);
        // and the message says what is missing
        for (const s of report.steps.filter((x) => t.nearMiss!.includes(x.id))) expect(s.message, `${s.id} has no message for the learner`).not.toBe('');
      });
    }
  });
}

/**
 * Other plausible correct paths (short options, other tools) must pass every step
 * too: every lessons/<id>/alternatives/*.txt that applies on this host (same
 * NAME.cgroup-vN.txt rule as near misses) is graded and must pass all steps.
 */
export function alternativeTranscriptTests(lessonId: string): void {
  const altDir = fileURLToPath(new URL(`../../lessons/${lessonId}/alternatives`, import.meta.url));
  describe(`${lessonId}: alternative correct transcripts`, () => {
    let backend: LocalBackend;
    let lesson: PreparedLesson;
    beforeAll(async () => {
      backend = createSandboxBackend();
      await backend.checkHost();
      await backend.images.ensureBuilt('default', (l) => console.log(l));
      lesson = await prepareLesson(lessonId, 'en');
    });
    afterAll(async () => { await backend?.destroyAll(); });
    const host = currentHostFacts();
    for (const name of readdirSync(altDir).filter((f) => f.endsWith('.txt') && appliesTo(f, host)).sort()) {
      it(`${name} passes every step`, async () => {
        const report = await gradeTranscript(lesson, await readTranscript(path.join(altDir, name)), { backend, lang: 'en' });
        expect(report.steps.filter((s) => !s.passed).map((s) => s.id), formatText(report, name)).toEqual([]);
      });
    }
  });
}
