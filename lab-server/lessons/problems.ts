/**
 * A problem found in a lesson: always names the file and, where there is one, the
 * line, so an author can jump straight to it (`lessons/x/lesson.ko.md:12: ...`).
 */
export interface Problem {
  file: string;
  /** 1-based line in the file; absent when the problem is about the file as a whole */
  line?: number;
  severity: 'error' | 'warning';
  message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.severity}: ${p.message}`;
}

/** Thrown when a lesson cannot be served at all; carries every problem found, not just the first. */
export class LessonError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'LessonError';
  }
}
