import { alternativeTranscriptTests, lessonTests } from './harness.ts';

lessonTests('ipc-namespace');
// graded with Chinese messages the results must be the same
lessonTests('ipc-namespace', { lang: 'zh' });

alternativeTranscriptTests('ipc-namespace');
