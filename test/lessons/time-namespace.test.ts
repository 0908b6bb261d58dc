import { alternativeTranscriptTests, lessonTests } from './harness.ts';

lessonTests('time-namespace');
// graded with Chinese messages the results must be the same
lessonTests('time-namespace', { lang: 'zh' });

alternativeTranscriptTests('time-namespace');
