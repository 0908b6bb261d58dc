import { alternativeTranscriptTests, lessonTests } from './harness.ts';

lessonTests('network-namespace');
// graded with Korean messages the results must be the same
lessonTests('network-namespace', { lang: 'ko' });

alternativeTranscriptTests('network-namespace');
