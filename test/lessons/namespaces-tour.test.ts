import { alternativeTranscriptTests, lessonTests } from './harness.ts';

lessonTests('namespaces-tour');

alternativeTranscriptTests('namespaces-tour');
