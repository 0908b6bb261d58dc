/**
 * Grade reports. The JSON shape is the public contract from DESIGN.md:
 *   {"lesson", "steps": [{"id","title","passed","message"}], "passed", "total"}
 * JUnit is for CI dashboards (one testcase per step), text is for people.
 */
import type { StepStatus } from '../contract/steps.ts';

export interface StepReport { id: string; title: string; passed: boolean; message: string }
export interface GradeReport { lesson: string; steps: StepReport[]; passed: number; total: number }
export type ReportFormat = 'json' | 'junit' | 'text';
export const REPORT_FORMATS: readonly ReportFormat[] = ['json', 'junit', 'text'];
export const REPORT_EXT: Record<ReportFormat, string> = { json: 'json', junit: 'xml', text: 'txt' };

const NOT_DONE = 'not done: the transcript never reached this step';

export function buildReport(lesson: string, steps: { id: string; title: string }[], statuses: StepStatus[]): GradeReport {
  const byId = new Map(statuses.map((s) => [s.id, s]));
  const out = steps.map((step): StepReport => {
    const s = byId.get(step.id);
    const passed = s?.status === 'pass';
    return { id: step.id, title: step.title, passed, message: s?.message ?? (passed ? '' : NOT_DONE) };
  });
  return { lesson, steps: out, passed: out.filter((s) => s.passed).length, total: out.length };
}

export function formatJson(r: GradeReport): string {
  return `${JSON.stringify({ lesson: r.lesson, steps: r.steps.map(({ id, title, passed, message }) => ({ id, title, passed, message })), passed: r.passed, total: r.total }, null, 2)}\n`;
}

const xml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
    // characters XML 1.0 cannot carry at all (terminal output may contain them)
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');

export function formatJunit(r: GradeReport, transcript?: string): string {
  const failures = r.total - r.passed;
  const suiteName = transcript ? `${r.lesson} (${transcript})` : r.lesson;
  const cases = r.steps.map((s) => {
    const open = `    <testcase classname="${xml(r.lesson)}" name="${xml(`${s.id}: ${s.title}`)}"`;
    return s.passed ? `${open}/>` : `${open}>\n      <failure message="${xml(s.message)}" type="step-failed">${xml(s.message)}</failure>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="nslab" tests="${r.total}" failures="${failures}" errors="0">`,
    `  <testsuite name="${xml(suiteName)}" tests="${r.total}" failures="${failures}" errors="0" skipped="0">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

export function formatText(r: GradeReport, transcript?: string): string {
  const w = Math.max(4, ...r.steps.map((s) => s.id.length));
  const lines = [`${r.lesson}${transcript ? ` — ${transcript}` : ''}`];
  for (const s of r.steps) {
    lines.push(`  ${s.passed ? 'PASS' : 'FAIL'}  ${s.id.padEnd(w)}  ${s.title}`);
    if (!s.passed && s.message) lines.push(`        ${' '.repeat(w)}  → ${s.message}`);
  }
  lines.push(`${r.passed}/${r.total} steps passed`, '');
  return lines.join('\n');
}

export function formatReport(r: GradeReport, format: ReportFormat, transcript?: string): string {
  if (format === 'json') return formatJson(r);
  if (format === 'junit') return formatJunit(r, transcript);
  return formatText(r, transcript);
}

export interface SummaryRow { file: string; report: GradeReport | null; error: string | null }

/** The "grade all submissions" table: one row per transcript. */
export function formatSummary(rows: SummaryRow[], format: ReportFormat): string {
  if (format === 'json') {
    return `${JSON.stringify(rows.map((r) => ({
      file: r.file,
      passed: r.report?.passed ?? 0,
      total: r.report?.total ?? 0,
      failed: r.report ? r.report.steps.filter((s) => !s.passed).map((s) => s.id) : [],
      error: r.error,
    })), null, 2)}\n`;
  }
  if (format === 'junit') {
    const suites = rows.map((r) => r.report
      ? formatJunit(r.report, r.file).split('\n').filter((l) => l.startsWith('  ')).join('\n')
      : `  <testsuite name="${xml(r.file)}" tests="1" failures="0" errors="1" skipped="0">\n    <testcase classname="nslab" name="${xml(r.file)}">\n      <error message="${xml(r.error ?? '')}"/>\n    </testcase>\n  </testsuite>`);
    const tests = rows.reduce((n, r) => n + (r.report?.total ?? 1), 0);
    const failures = rows.reduce((n, r) => n + (r.report ? r.report.total - r.report.passed : 0), 0);
    const errors = rows.filter((r) => !r.report).length;
    return ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="nslab" tests="${tests}" failures="${failures}" errors="${errors}">`, ...suites, '</testsuites>', ''].join('\n');
  }
  const fw = Math.max(10, ...rows.map((r) => r.file.length));
  const lines = [`${'transcript'.padEnd(fw)}  passed  failed steps`];
  for (const r of rows) {
    if (!r.report) { lines.push(`${r.file.padEnd(fw)}  ${'ERROR'.padStart(6)}  ${r.error}`); continue; }
    const failed = r.report.steps.filter((s) => !s.passed).map((s) => s.id);
    lines.push(`${r.file.padEnd(fw)}  ${`${r.report.passed}/${r.report.total}`.padStart(6)}  ${failed.join(', ') || '-'}`);
  }
  const complete = rows.filter((r) => r.report && r.report.passed === r.report.total).length;
  lines.push(`${complete}/${rows.length} transcripts passed every step`, '');
  return lines.join('\n');
}
