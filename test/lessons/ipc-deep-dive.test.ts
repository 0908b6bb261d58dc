import { lessonTests } from './harness.ts';

lessonTests('ipc-deep-dive');
