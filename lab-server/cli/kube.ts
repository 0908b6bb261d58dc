/**
 * nslab kube render [--values FILE.json|FILE.yaml] [--learners N] [--pod ID]
 * The Kubernetes install as YAML on stdout (docs/kubernetes.md); --pod prints the
 * pod one sandbox would get instead, to read or to try against the admission policy.
 */
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { renderInstall } from '../kube/render.ts';
import { sandboxPod } from '../kube/sandbox-pod.ts';
import { resolveValues } from '../kube/values.ts';

const USAGE = 'usage: nslab kube render [--values FILE.json|FILE.yaml] [--learners N] [--pod SANDBOX_ID]';

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '-h' || sub === '--help') { console.log(USAGE); return 0; }
  if (sub !== 'render') { console.error(USAGE); return 2; }
  let values: Record<string, unknown> = {};
  let pod: string | null = null;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const next = () => {
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    try {
      if (a === '--values') {
        const file = next();
        let text: string;
        try { text = readFileSync(file, 'utf8'); } catch (err) { throw new UsageError(`cannot read ${file}: ${(err as Error).message}`); }
        let parsed: unknown;
        try { parsed = parse(text); } catch (err) { throw new UsageError(`${file} is not YAML or JSON: ${(err as Error).message}`); }
        if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new UsageError(`${file}: expected a map of values at the top`);
        values = { ...values, ...(parsed as Record<string, unknown> | null ?? {}) };
      } else if (a === '--learners') {
        values.learners = Number(next());
      } else if (a === '--pod') {
        pod = next();
      } else {
        throw new UsageError(`unknown argument ${a}`);
      }
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      console.error(`nslab kube render: ${err.message}\n${USAGE}`);
      return 2;
    }
  }
  let v;
  try {
    v = resolveValues(values);
  } catch (err) {
    if (!(err instanceof z.ZodError)) throw err;
    console.error(`nslab kube render: bad values:\n${err.issues.map((i) => `  ${i.path.join('.') || '(top)'}: ${i.message}`).join('\n')}`);
    return 2;
  }
  if (pod !== null) {
    try {
      process.stdout.write(stringify(sandboxPod(v, { id: pod, course: 'example', learner: 'example' }), { lineWidth: 0 }));
    } catch (err) {
      console.error(`nslab kube render: ${(err as Error).message}`);
      return 2;
    }
    return 0;
  }
  process.stdout.write(renderInstall(v));
  return 0;
}

class UsageError extends Error {}
