import { alternativeTranscriptTests, lessonTests } from './harness.ts';

lessonTests('user-namespace');
// graded with Korean messages the results must be the same
lessonTests('user-namespace', { lang: 'ko' });

alternativeTranscriptTests('user-namespace');
