import { alternativeTranscriptTests, lessonTests } from './harness.ts';

lessonTests('ipc-deep-dive');
// messages are localised; the results must not change
lessonTests('ipc-deep-dive', { lang: 'zh' });

alternativeTranscriptTests('ipc-deep-dive');
