import { alternativeTranscriptTests, lessonTests } from './harness.ts';

lessonTests('mount-namespace');
// graded with Korean messages the results must be the same
lessonTests('mount-namespace', { lang: 'ko' });

alternativeTranscriptTests('mount-namespace');
