/**
 * Lessons graded through the Kubernetes back end: `nslab grade`'s path (grade/,
 * checks/, the terminal runner) on sandboxes that are pods of the in-process API
 * server, every keystroke over pods/exec v5. The checks' view is the local
 * sandbox's own until the node agent's replaces it (apiserver/harness.ts).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeTranscript, prepareLesson, readTranscript } from '../../lab-server/grade/grade.ts';
import type { KubeBackend } from '../../lab-server/kube/kube-backend.ts';
import { kubeBackend, startApiServer } from './apiserver/harness.ts';
import type { FakeApiServer } from './apiserver/server.ts';

let server: FakeApiServer;
let backend: KubeBackend;

beforeAll(async () => {
  server = await startApiServer();
  backend = kubeBackend(server);
  await backend.checkHost();
});
afterAll(async () => {
  await backend?.destroyAll();
  await backend?.close();
  await server?.close();
});

describe('grading through pods', () => {
  it.each(['ipc-namespace', 'mount-namespace'])('%s: the solution passes every step', async (id) => {
    const lesson = await prepareLesson(id);
    const report = await gradeTranscript(lesson, await readTranscript(path.join('lessons', id, 'solution.txt')), { backend });
    expect(report.steps.filter((s) => !s.passed).map((s) => `${s.id}: ${s.message}`)).toEqual([]);
    expect(report.passed).toBe(report.total);
    // each grade's pod is gone with its sandbox
    expect(backend.list()).toEqual([]);
  });

  it('ipc-namespace: a near miss does not pass its step', async () => {
    const lesson = await prepareLesson('ipc-namespace');
    const file = path.join('lessons', 'ipc-namespace', 'near-misses', 'queue-before-unshare.txt');
    const report = await gradeTranscript(lesson, await readTranscript(file), { backend });
    // the steps its front line names fail; the steps before them pass
    const failed = report.steps.filter((s) => !s.passed).map((s) => s.id);
    expect(failed).toEqual(expect.arrayContaining(['create-queue', 'check-from-parent']));
    expect(report.passed).toBeGreaterThan(0);
  });
});
