/**
 * The last progress this browser saw per lesson, for the lesson list's "3 of 5"
 * badges on a server that keeps no self-paced progress (a bare lab server without
 * the classroom store); otherwise the list shows what the server keeps.
 */
const key = (lesson: string) => `nslab.progress.${lesson}`;

export function rememberProgress(lesson: string, done: number, total: number): void {
  try {
    localStorage.setItem(key(lesson), JSON.stringify({ done, total }));
  } catch {
    // storage full or disabled: the badge is a nicety
  }
}

export function recalledProgress(lesson: string): { done: number; total: number } | null {
  try {
    const v = JSON.parse(localStorage.getItem(key(lesson)) ?? 'null') as { done?: unknown; total?: unknown } | null;
    if (v && typeof v.done === 'number' && typeof v.total === 'number' && v.total > 0) return { done: v.done, total: v.total };
  } catch {
    // ignore a corrupt entry
  }
  return null;
}
