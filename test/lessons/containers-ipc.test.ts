import { alternativeTranscriptTests, lessonTests } from './harness.ts';

lessonTests('containers-ipc');
// messages are localised; the results must not change
lessonTests('containers-ipc', { lang: 'ko' });

alternativeTranscriptTests('containers-ipc');
