/**
 * Every lesson's solution under the sandbox pod's conditions (test/kube/pod-conditions.ts,
 * docs/kubernetes-pod-conditions.md), graded exactly as the lesson tests grade it
 * (test/lessons/harness.ts): the solution for this host's cgroup kind, typed into a
 * fresh sandbox, every step's check run from outside.
 *
 * And what the pod must not lack, shown by the step that breaks without it: a
 * masked /proc makes /proc/sys read-only (no IPC sysctl in a child namespace),
 * and the read-only cgroupfs every runtime gives an unprivileged container leaves
 * the learner no cgroup to make.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeTranscript, prepareLesson, readTranscript } from '../../lab-server/grade/grade.ts';
import { formatText, type GradeReport } from '../../lab-server/grade/report.ts';
import { currentHostFacts, hostKey, solutionFor } from '../../lab-server/lessons/host-conditions.ts';
import { LessonCatalog } from '../../lab-server/lessons/loader.ts';
import type { LocalBackend } from '../../lab-server/sandbox/index.ts';
import type { PodConditions } from '../../lab-server/sandbox/oci-spec.ts';
import { podBackend, SANDBOX_POD } from './pod-conditions.ts';

const catalog = new LessonCatalog();
const host = currentHostFacts();
const lessonIds = readdirSync(catalog.dir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();

function solutionOf(id: string): string {
  const dir = path.join(catalog.dir, id);
  const name = solutionFor(readdirSync(dir), host);
  if (!name) throw new Error(`no solution transcript for a ${hostKey(host)} host in ${dir}`);
  return path.join(dir, name);
}

/** a back end whose every sandbox is set up as the given pod, for one describe block */
function podGrader(pod: PodConditions) {
  let backend: LocalBackend;
  beforeAll(async () => { backend = await podBackend(pod); });
  afterAll(async () => { await backend?.destroyAll(); });
  return async (id: string): Promise<GradeReport> => {
    const file = solutionOf(id);
    return gradeTranscript(await prepareLesson(id, 'en', catalog), await readTranscript(file), { backend, lang: 'en' });
  };
}

const failedSteps = (r: GradeReport) => r.steps.filter((s) => !s.passed).map((s) => s.id);

describe(`every lesson's solution in the sandbox pod (procMount Unmasked, writable cgroupfs) on a ${hostKey(host)} host`, () => {
  const grade = podGrader(SANDBOX_POD);
  for (const id of lessonIds) {
    it(`${id}: ${path.basename(solutionOf(id))} passes every step`, async () => {
      const report = await grade(id);
      expect(failedSteps(report), formatText(report, solutionOf(id))).toEqual([]);
    });
  }
});

describe('with the runtime\'s masked /proc (no procMount: Unmasked)', () => {
  const grade = podGrader({ ...SANDBOX_POD, procMount: 'Default' });
  it('ipc-deep-dive cannot set an IPC sysctl in a child namespace: /proc/sys is read-only', async () => {
    const report = await grade('ipc-deep-dive');
    expect(failedSteps(report), formatText(report, 'ipc-deep-dive')).toEqual(['ipc-limits']);
  });
});

describe('with the read-only cgroupfs of an unprivileged container (no writable cgroups on the node)', () => {
  const grade = podGrader({ ...SANDBOX_POD, cgroupfs: 'ro' });
  it('process-isolation cannot make a memory cgroup', async () => {
    const report = await grade('process-isolation');
    expect(failedSteps(report), formatText(report, 'process-isolation')).toEqual(['memory-limit', 'oom-kill']);
  });
});
