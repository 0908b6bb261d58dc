import { lessonTests } from './harness.ts';

lessonTests('sample-hostname');
// the same transcripts graded with Korean messages must give the same results
lessonTests('sample-hostname', { lang: 'ko' });
