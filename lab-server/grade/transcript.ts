/**
 * Transcript files: what a learner would type, one line at a time.
 *
 *   ## a comment (not typed)
 *   ## near-miss: step-a, step-b     (first line of a near miss: steps that must NOT pass)
 *   #!term 2                          switch to terminal 2, opening it if needed
 *   #!sleep 1.5                       wait 1.5 seconds
 *   #!ctrl c                          press Ctrl-C in the current terminal (extension:
 *                                     stops a foreground program the transcript started)
 *   anything else                     typed, followed by Enter
 *
 * Mistakes in directives are errors with the line number, because a transcript that
 * silently types "#!trem 2" into a shell grades something other than what its author meant.
 */
import { z } from 'zod';
import { STEP_ID } from '../lessons/frontmatter.ts';
import type { Problem } from '../lessons/problems.ts';

export type TranscriptItem =
  | { kind: 'type'; text: string; line: number }
  | { kind: 'term'; terminal: number; line: number }
  | { kind: 'sleep'; ms: number; line: number }
  | { kind: 'ctrl'; char: string; line: number };

export interface Transcript {
  file: string;
  items: TranscriptItem[];
  /** steps a near-miss transcript must not pass (from its `## near-miss:` line), else null */
  nearMiss: string[] | null;
}

export const MAX_TERMINALS = 8;
const MAX_LINE = 4096;
const termSchema = z.coerce.number().int().min(1).max(MAX_TERMINALS);
const sleepSchema = z.coerce.number().min(0).max(600);

export function parseTranscript(text: string, file: string): { transcript: Transcript; problems: Problem[] } {
  const problems: Problem[] = [];
  const items: TranscriptItem[] = [];
  let nearMiss: string[] | null = null;
  const lines = text.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, ''));
  // a final newline does not mean "press Enter once more"
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    const err = (message: string) => problems.push({ file, line, severity: 'error', message });
    if (raw.startsWith('##')) {
      const m = /^##\s*near-miss\s*:(.*)$/i.exec(raw);
      if (m) {
        const ids = m[1].split(/[,\s]+/).filter(Boolean);
        const bad = ids.filter((id) => !STEP_ID.test(id));
        if (!ids.length) err('"## near-miss:" names no steps: list the step ids this transcript must not pass');
        else if (bad.length) err(`"## near-miss:" has invalid step ids: ${bad.join(', ')}`);
        else nearMiss = [...(nearMiss ?? []), ...ids];
      }
      return;
    }
    const d = /^#!\s*([a-z]+)\b\s*(.*)$/.exec(raw);
    if (d) {
      const [, name, arg] = d;
      if (name === 'term') {
        const n = termSchema.safeParse(arg.trim() === '' ? undefined : arg.trim());
        if (!n.success) err(`#!term needs a terminal number 1..${MAX_TERMINALS}, got "${arg.trim()}"`);
        else items.push({ kind: 'term', terminal: n.data, line });
      } else if (name === 'sleep') {
        const s = sleepSchema.safeParse(arg.trim() === '' ? undefined : arg.trim());
        if (!s.success) err(`#!sleep needs seconds (0..600), got "${arg.trim()}"`);
        else items.push({ kind: 'sleep', ms: Math.round(s.data * 1000), line });
      } else if (name === 'ctrl') {
        const c = arg.trim().toLowerCase();
        if (!/^[a-z\\\]^_@]$/.test(c)) err(`#!ctrl needs one key, e.g. "#!ctrl c", got "${arg.trim()}"`);
        else items.push({ kind: 'ctrl', char: c, line });
      } else {
        err(`unknown directive "#!${name}" (known: #!term N, #!sleep S, #!ctrl KEY; "##" starts a comment)`);
      }
      return;
    }
    if (raw.length > MAX_LINE) { err(`line is longer than ${MAX_LINE} characters`); return; }
    // control characters other than tab would be keystrokes nobody can see in the file
    if (/[\x00-\x08\x0b-\x1f\x7f]/.test(raw)) { err('line contains control characters; use "#!ctrl KEY" for key presses'); return; }
    items.push({ kind: 'type', text: raw, line });
  });
  return { transcript: { file, items, nearMiss }, problems };
}

/** The byte a terminal sends for Ctrl+key. */
export function ctrlByte(char: string): string {
  if (char === '@') return '\x00';
  return String.fromCharCode(char.toUpperCase().charCodeAt(0) & 0x1f);
}
