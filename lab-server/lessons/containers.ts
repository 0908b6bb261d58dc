/**
 * Normalises `:::` container fences before markdown-it sees them.
 *
 * markdown-it-container closes a container at the first bare fence with at least as
 * many colons as its opener, so the natural way to write a hint inside a step
 *
 *     ::: step make-queue Make a queue
 *     ::: hint
 *     ...
 *     :::
 *     :::
 *
 * would close the step at the hint's closer. Authors should not have to count colons,
 * so this pass matches openers and closers like brackets and rewrites each pair with
 * enough colons (a container gets 3 + its nesting height). Line count and positions are
 * unchanged, so line numbers in errors still point into the author's file. It also
 * reports unclosed containers and stray closers, with lines.
 */
import type { Problem } from './problems.ts';

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const OPENER = /^( {0,3}):{3,}\s*(\S.*)$/;
const CLOSER = /^( {0,3}):{3,}\s*$/;

interface Node { open: number; close: number; height: number; children: Node[] }

/** Container kinds the renderer knows; anything else is an author's typo, reported with its line. */
export const CONTAINER_KINDS = ['step', 'hint', 'solution', 'note', 'warning', 'only', 'map'] as const;

export function normalizeContainers(file: string, body: string, bodyOffset: number): { text: string; problems: Problem[] } {
  const lines = body.split('\n');
  const problems: Problem[] = [];
  const stack: Node[] = [];
  const all: Node[] = [];
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const f = FENCE.exec(line);
    if (fence) {
      // a code fence closes with the same character, at least as long, nothing after it
      if (f && f[1][0] === fence[0] && f[1].length >= fence.length && line.trim() === f[1]) fence = null;
      continue;
    }
    if (f) { fence = f[1]; continue; }
    const opener = OPENER.exec(line);
    if (opener) {
      const kind = opener[2].split(/\s+/)[0];
      if (!(CONTAINER_KINDS as readonly string[]).includes(kind)) {
        problems.push({ file, line: i + 1 + bodyOffset, severity: 'error', message: `unknown container "::: ${kind}" (known: ${CONTAINER_KINDS.join(', ')})` });
      }
      const node: Node = { open: i, close: -1, height: 1, children: [] };
      stack[stack.length - 1]?.children.push(node);
      stack.push(node);
      all.push(node);
    } else if (CLOSER.test(line)) {
      const node = stack.pop();
      if (!node) {
        problems.push({ file, line: i + 1 + bodyOffset, severity: 'error', message: '":::" closes nothing: there is no open ::: step / hint / solution here' });
        continue;
      }
      node.close = i;
    }
  }
  for (const node of stack) {
    problems.push({ file, line: node.open + 1 + bodyOffset, severity: 'error', message: `container "${lines[node.open].trim()}" is never closed: add a line ":::" after its content` });
  }
  const height = (n: Node): number => (n.height = 1 + Math.max(0, ...n.children.map(height)));
  for (const n of all) if (!stack.includes(n)) height(n);
  for (const n of all) {
    if (n.close < 0) continue;
    const colons = ':'.repeat(2 + n.height);
    lines[n.open] = lines[n.open].replace(/^( {0,3}):{3,}/, `$1${colons}`);
    lines[n.close] = lines[n.close].replace(/^( {0,3}):{3,}/, `$1${colons}`);
  }
  return { text: lines.join('\n'), problems };
}
