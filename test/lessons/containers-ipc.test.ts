import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeTranscript, prepareLesson, readTranscript, type PreparedLesson } from '../../lab-server/grade/grade.ts';
import { formatText } from '../../lab-server/grade/report.ts';
import { createSandboxBackend, type LocalBackend } from '../../lab-server/sandbox/index.ts';
import { lessonTests } from './harness.ts';

lessonTests('containers-ipc');
// messages are localised; the results must not change
lessonTests('containers-ipc', { lang: 'ko' });

// other plausible correct paths (short options, other tools) must pass every step too
const altDir = fileURLToPath(new URL('./containers-ipc.alternatives', import.meta.url));
describe('containers-ipc: alternative correct transcripts', () => {
  let backend: LocalBackend;
  let lesson: PreparedLesson;
  beforeAll(async () => {
    backend = createSandboxBackend();
    await backend.checkHost();
    await backend.images.ensureBuilt('default', (l) => console.log(l));
    lesson = await prepareLesson('containers-ipc', 'en');
  });
  afterAll(async () => { await backend?.destroyAll(); });
  for (const name of readdirSync(altDir).filter((f) => f.endsWith('.txt')).sort()) {
    it(`${name} passes every step`, async () => {
      const report = await gradeTranscript(lesson, await readTranscript(path.join(altDir, name)), { backend, lang: 'en' });
      expect(report.steps.filter((s) => !s.passed).map((s) => s.id), formatText(report, name)).toEqual([]);
    });
  }
});
