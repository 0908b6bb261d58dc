import { alternativeTranscriptTests, lessonTests } from './harness.ts';

lessonTests('process-isolation');

alternativeTranscriptTests('process-isolation');
