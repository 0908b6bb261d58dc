/**
 * Host conditions: the few facts about the server's host that change what a lesson
 * must say. Today that is only the cgroup version: on a cgroup v2 host the learner's
 * sandbox has one tree with memory.max / memory.events, on a v1 or hybrid host one
 * tree per controller with memory.limit_in_bytes / memory.oom_control, and a lesson
 * that shows both makes every learner work out which half applies.
 *
 * One vocabulary serves every place a lesson varies by host:
 * - Markdown: `::: only cgroup-v2` ... `:::` (render.ts shows it only on such hosts);
 * - transcripts: `solution.cgroup-v2.txt`, `near-misses/x.cgroup-v1.txt` apply only
 *   on such hosts; a name without a condition applies everywhere.
 * Lint checks every variant whatever host it runs on, so an author on a v1 machine
 * still learns about a broken v2 block.
 */
import { hostInfo } from '../sandbox/host.ts';

export const HOST_CONDITIONS = ['cgroup-v1', 'cgroup-v2'] as const;
export type HostCondition = (typeof HOST_CONDITIONS)[number];

/** What a lesson may depend on. Hybrid hosts count as v1: the learner sees v1 controllers. */
export interface HostFacts { cgroup: 'v1' | 'v2' }

/** Every kind of host a lesson can be shown on; lint renders and checks each. */
export const HOST_VARIANTS: readonly HostFacts[] = [{ cgroup: 'v1' }, { cgroup: 'v2' }];

/** A stable name for a variant ('cgroup-v2'): the key of LessonVersion.variants. */
export type HostKey = `cgroup-${HostFacts['cgroup']}`;
export const hostKey = (f: HostFacts): HostKey => `cgroup-${f.cgroup}`;

export function isHostCondition(s: string): s is HostCondition {
  return (HOST_CONDITIONS as readonly string[]).includes(s);
}

export function holds(c: HostCondition, f: HostFacts): boolean {
  return c === `cgroup-${f.cgroup}`;
}

export function hostFactsFor(cgroupMode: 'v2' | 'hybrid'): HostFacts {
  return { cgroup: cgroupMode === 'v2' ? 'v2' : 'v1' };
}

/**
 * The facts of the machine this process runs on. A machine without usable cgroups
 * (an author previewing lessons on a laptop, a CI lint job in a container) gets v2:
 * it is what every current distribution boots with, so it is the likeliest host the
 * lesson will be served on.
 */
export function currentHostFacts(): HostFacts {
  try {
    return hostFactsFor(hostInfo().cgroupMode);
  } catch {
    return { cgroup: 'v2' };
  }
}

export interface TranscriptName {
  /** the name without the condition: `solution.txt` for `solution.cgroup-v2.txt` */
  base: string;
  condition: HostCondition | null;
  /** set when the name carries a condition nslab does not know (a typo would otherwise make the file silently apply everywhere) */
  error: string | null;
}

/** `too-big.cgroup-v1.txt` → base too-big.txt, condition cgroup-v1; `too-big.txt` → no condition. */
export function parseTranscriptName(name: string): TranscriptName {
  const m = /^(.+)\.([^.]+)\.txt$/.exec(name);
  if (!m) return { base: name, condition: null, error: null };
  if (isHostCondition(m[2])) return { base: `${m[1]}.txt`, condition: m[2], error: null };
  return {
    base: name, condition: null,
    error: `"${m[2]}" in the file name is not a host condition (known: ${HOST_CONDITIONS.join(', ')}; a transcript is NAME.txt, or NAME.CONDITION.txt to apply only on such hosts)`,
  };
}

/** Whether a transcript file applies on a host (files with a bad condition apply nowhere: lint reports them). */
export function appliesTo(name: string, f: HostFacts): boolean {
  const t = parseTranscriptName(name);
  return !t.error && (t.condition === null || holds(t.condition, f));
}

/**
 * The solution transcript for a host among a lesson folder's file names:
 * `solution.<condition>.txt` for a condition that holds, else `solution.txt`, else null.
 */
export function solutionFor(names: readonly string[], f: HostFacts): string | null {
  const specific = names.find((n) => {
    const t = parseTranscriptName(n);
    return t.base === 'solution.txt' && t.condition !== null && holds(t.condition, f);
  });
  if (specific) return specific;
  return names.includes('solution.txt') ? 'solution.txt' : null;
}

/** `solution.txt` and every `solution.<condition>.txt` (the files lint must read). */
export function isSolutionName(name: string): boolean {
  return /^solution(\.[^.]+)?\.txt$/.test(name);
}
