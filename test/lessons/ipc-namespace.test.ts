import { lessonTests } from './harness.ts';

lessonTests('ipc-namespace');
