import { lessonTests } from './harness.ts';

lessonTests('containers-ipc');
