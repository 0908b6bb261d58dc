import { lessonTests } from './harness.ts';

lessonTests('namespaces-tour');
