import { alternativeTranscriptTests, lessonTests } from './harness.ts';

lessonTests('build-a-container');
// graded with Chinese messages the results must be the same
lessonTests('build-a-container', { lang: 'zh' });

alternativeTranscriptTests('build-a-container');
