/**
 * Exports of the progress matrix: CSV (spreadsheets), JSON (scripts) and JUnit XML
 * per learner (CI dashboards and LMS importers that already read JUnit). All three
 * come from BoardData, so they agree with the board.
 */
import type { BoardData } from '../contract/board-protocol.ts';
import type { GradingRun } from './store.ts';

export type ExportFormat = 'csv' | 'json' | 'junit';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'json', 'junit'];
export const EXPORT_CONTENT_TYPE: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
  junit: 'application/xml; charset=utf-8',
};
export const EXPORT_EXT: Record<ExportFormat, string> = { csv: 'csv', json: 'json', junit: 'xml' };

const iso = (ms: number | null): string => (ms === null ? '' : new Date(ms).toISOString());

/**
 * RFC 4180 field. Display names are typed by learners: a name like `=HYPERLINK(...)`
 * would run as a formula when the instructor opens the CSV, so fields starting with
 * a formula character get a leading apostrophe (the OWASP "CSV injection" advice).
 */
export function csvField(v: string | number): string {
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Excel reads a CSV file without a byte order mark in the system's ANSI code page,
 * which turns 민지 or 李雷 into mojibake; with the UTF-8 BOM it reads UTF-8. Other
 * spreadsheets and RFC 4180 readers accept (or skip) the mark.
 */
export const UTF8_BOM = '\ufeff';

export function toCsv(b: BoardData): string {
  const header = ['learner', 'joined_at', 'passed', 'total', 'current_step', 'minutes_on_step', ...b.columns.map((c) => `${c.lesson}/${c.step}`)];
  const rows = b.learners.map((l) => [
    l.name, iso(l.joinedAt), l.passed, b.columns.length,
    l.current ? `${l.current.lesson}/${l.current.step}` : '', l.current ? Math.floor(l.current.minutes) : '',
    // a passed cell carries its first pass time: "when" is what instructors grade on
    ...l.cells.map((c) => (c.status === 'pass' ? `pass ${iso(c.passedAt)}` : c.status ?? '')),
  ]);
  return `${UTF8_BOM}${[header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n')}\r\n`;
}

export interface JsonExport {
  format: 'nslab-workshop-progress';
  version: 1;
  exportedAt: string;
  workshop: { code: string; title: string; lessons: string[]; createdAt: string; endsAt: string | null; closedAt: string | null };
  steps: { lesson: string; step: string; title: string; passedBy: number }[];
  learners: {
    name: string; joinedAt: string; passed: number; total: number; complete: boolean;
    current: { lesson: string; step: string; minutes: number } | null;
    steps: { lesson: string; step: string; status: string; passedAt: string | null; message: string | null }[];
  }[];
  gradingRuns: { learner: string | null; lesson: string; source: string; passed: number; total: number; createdAt: string; report: unknown }[];
}

export function toJsonExport(b: BoardData, runs: GradingRun[] = []): JsonExport {
  const names = new Map(b.learners.map((l) => [l.id, l.name]));
  const w = b.workshop;
  return {
    format: 'nslab-workshop-progress',
    version: 1,
    exportedAt: iso(b.generatedAt),
    workshop: { code: w.code, title: w.title, lessons: w.lessons, createdAt: iso(w.createdAt), endsAt: w.endsAt === null ? null : iso(w.endsAt), closedAt: w.closedAt === null ? null : iso(w.closedAt) },
    steps: b.columns.map((c, i) => ({ lesson: c.lesson, step: c.step, title: c.title, passedBy: b.counts[i] })),
    learners: b.learners.map((l) => ({
      name: l.name, joinedAt: iso(l.joinedAt), passed: l.passed, total: b.columns.length, complete: l.complete,
      current: l.current ? { lesson: l.current.lesson, step: l.current.step, minutes: Math.floor(l.current.minutes) } : null,
      steps: l.cells.map((c, i) => ({ lesson: b.columns[i].lesson, step: b.columns[i].step, status: c.status ?? 'not-started', passedAt: c.passedAt === null ? null : iso(c.passedAt), message: c.message })),
    })),
    gradingRuns: runs.map((r) => ({ learner: r.learnerId ? names.get(r.learnerId) ?? null : null, lesson: r.lessonId, source: r.source, passed: r.passed, total: r.total, createdAt: iso(r.createdAt), report: r.report })),
  };
}

export function toJson(b: BoardData, runs: GradingRun[] = []): string {
  return `${JSON.stringify(toJsonExport(b, runs), null, 2)}\n`;
}

const xml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
    // characters XML 1.0 cannot carry at all
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, '');

/**
 * One <testsuite> per learner, one <testcase> per step. `learnerId` limits it to one
 * learner. A step the learner has not reached is <skipped/> (JUnit's "did not run"),
 * not a failure: only a step whose check ran and did not pass is one.
 */
export function toJunit(b: BoardData, learnerId?: string): string {
  const learners = learnerId ? b.learners.filter((l) => l.id === learnerId) : b.learners;
  const count = (l: BoardData['learners'][number]) => {
    const skipped = l.cells.filter((c) => c.status === null).length;
    return { skipped, failures: b.columns.length - l.passed - skipped };
  };
  const total = learners.length * b.columns.length;
  const failures = learners.reduce((n, l) => n + count(l).failures, 0);
  const skipped = learners.reduce((n, l) => n + count(l).skipped, 0);
  const suites = learners.map((l) => {
    const cases = l.cells.map((c, i) => {
      const col = b.columns[i];
      const open = `    <testcase classname="${xml(`${b.workshop.code}.${col.lesson}`)}" name="${xml(`${col.step}: ${col.title}`)}"`;
      if (c.status === 'pass') return `${open}/>`;
      if (c.status === null) return `${open}>\n      <skipped message="not started"/>\n    </testcase>`;
      const msg = c.message ?? `step ${c.status}`;
      return `${open}>\n      <failure message="${xml(msg)}" type="step-${c.status}"/>\n    </testcase>`;
    });
    const n = count(l);
    return [
      `  <testsuite name="${xml(l.name)}" tests="${b.columns.length}" failures="${n.failures}" errors="0" skipped="${n.skipped}" timestamp="${iso(l.joinedAt).replace(/\.\d+Z$/, '')}">`,
      ...cases,
      '  </testsuite>',
    ].join('\n');
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(`nslab ${b.workshop.code} ${b.workshop.title}`)}" tests="${total}" failures="${failures}" errors="0" skipped="${skipped}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

export function formatExport(b: BoardData, format: ExportFormat, runs: GradingRun[] = [], learnerId?: string): string {
  if (format === 'csv') return toCsv(b);
  if (format === 'json') return toJson(b, runs);
  return toJunit(b, learnerId);
}
