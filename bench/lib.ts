/** Small helpers shared by the benchmarks: percentiles and table printing. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(1)) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r: (string | number)[]) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(cells[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

export function memUsedBytes(): number {
  const m = Object.fromEntries(
    readFileSync('/proc/meminfo', 'utf8').split('\n').filter(Boolean).map((l: string) => {
      const [k, v] = l.split(':');
      return [k, Number(v.trim().split(' ')[0]) * 1024];
    }),
  ) as Record<string, number>;
  return m.MemTotal - m.MemAvailable;
}

/** replaces the "## <name>" section of docs/benchmarks.md, leaving the others alone */
export function writeSection(name: string, body: string): void {
  const file = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { text = '# Benchmarks\n\nTables printed by the scripts in bench/, latest run first. Each compares nslab with a baseline measured in the same run.\n'; }
  const section = `## ${name}\n\n\`\`\`\n${body}\n\`\`\`\n`;
  const re = new RegExp(`## ${name}\\n[\\s\\S]*?(?=\\n## |$)`);
  text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}`;
  writeFileSync(file, text);
}
