import { lessonTests } from './harness.ts';

lessonTests('process-isolation');
