/**
 * The Kubernetes back end's pure parts: the pod it posts (valid, and admitted by the
 * install's own admission policy, which refuses other limits), quantities, exec
 * Status codes, why a pod ended, and the exec wrapper.
 */
import { run } from '@bufbuild/cel';
import * as core from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { sandboxPolicyRules } from '../../lab-server/kube/admission-policy.ts';
import { urlConnection } from '../../lab-server/kube/api-client.ts';
import { exitCodeOf } from '../../lab-server/kube/exec-stream.ts';
import { KubeBackend, podEnd } from '../../lab-server/kube/kube-backend.ts';
import { execArgv } from '../../lab-server/kube/kube-sandbox.ts';
import type { Pod } from '../../lab-server/kube/pod-watch.ts';
import { formatBytes, formatCpu, parseQuantity } from '../../lab-server/kube/quantity.ts';
import { resolveValues } from '../../lab-server/kube/values.ts';

const V = resolveValues({});
const backend = new KubeBackend({ connection: urlConnection('http://127.0.0.1:1', 't'), values: V, install: 'parts', viewFor: () => { throw new Error('not used'); } });

function celValue(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(celValue);
  if (x !== null && typeof x === 'object') return new Map(Object.entries(x).map(([k, v]) => [k, celValue(v)]));
  if (typeof x === 'number' && Number.isInteger(x)) return BigInt(x);
  return x;
}
const refused = (pod: unknown) => sandboxPolicyRules(V).filter((r) => run(r.expression, { object: celValue(pod) } as never) !== true).map((r) => r.message);

describe('the pod the back end posts', () => {
  it('with the default limits: valid, admitted by the policy, the limits the values give', () => {
    const pod = backend.podFor('abc123', backend.defaultLimits, { hostname: 'Contract', label: 'session 7' });
    expect(() => new core.Pod(pod).validate()).not.toThrow();
    expect(refused(pod)).toEqual([]);
    expect(pod.spec!.containers[0].resources!.limits).toMatchObject({ cpu: V.sandbox.cpu, memory: V.sandbox.memory, 'ephemeral-storage': V.sandbox.ephemeralStorage });
    expect(pod.spec!.activeDeadlineSeconds).toBe(V.sandbox.lifetimeSeconds);
    expect(pod.spec!.hostname).toBe('contract');
    expect(pod.metadata!.labels).toMatchObject({ 'nslab.io/install': 'parts', 'nslab.io/sandbox': 'abc123' });
    expect(JSON.parse(pod.metadata!.annotations!['nslab.io/limits'])).toEqual({ pids: backend.defaultLimits.pids, ptys: backend.defaultLimits.ptys });
    expect(JSON.stringify(pod)).not.toContain('session 7');
  });

  it('a shorter lifetime is admitted (rounded up to seconds); other memory is refused by the limits rule', () => {
    const short = backend.podFor('abc124', { ...backend.defaultLimits, lifetimeMs: 1500 }, {});
    expect(short.spec!.activeDeadlineSeconds).toBe(2);
    expect(refused(short)).toEqual([]);
    const big = backend.podFor('abc125', { ...backend.defaultLimits, memoryBytes: 2 * 2 ** 30 }, {});
    expect(big.spec!.containers[0].resources!.limits!.memory).toBe('2Gi');
    expect(refused(big)).toEqual([expect.stringMatching(/limited to cpu/)]);
  });

  it('a create asking past the install\'s lifetime or for another image is refused before any call', async () => {
    await expect(backend.create({ limits: { lifetimeMs: (V.sandbox.lifetimeSeconds + 1) * 1000 } })).rejects.toThrow(/past the install's/);
    await expect(backend.create({ image: 'other' })).rejects.toThrow(/runs only its sandbox image/);
  });
});

describe('quantities', () => {
  it('reads what pods use and writes sizes that round-trip', () => {
    expect([parseQuantity('512Mi'), parseQuantity('1Gi'), parseQuantity('500m'), parseQuantity('2'), parseQuantity('1k')]).toEqual([512 * 2 ** 20, 2 ** 30, 0.5, 2, 1000]);
    for (const q of ['512Mi', '1Gi', '256Mi', '3Ki']) expect(formatBytes(parseQuantity(q))).toBe(q);
    expect(formatBytes(1000)).toBe('1000');
    expect([formatCpu(1), formatCpu(0.25), formatCpu(2)]).toEqual(['1', '250m', '2']);
    expect(() => parseQuantity('1e3')).toThrow(/quantity/);
    expect(() => formatBytes(0)).toThrow();
  });
});

describe('the end of an exec (channel 3)', () => {
  it('Success is 0, NonZeroExitCode carries its code, anything else is an error', () => {
    expect(exitCodeOf('{"metadata":{},"status":"Success"}')).toEqual({ code: 0 });
    expect(exitCodeOf(JSON.stringify({ metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with non-zero exit code', details: { causes: [{ reason: 'ExitCode', message: '42' }] } }))).toEqual({ code: 42 });
    expect(exitCodeOf(JSON.stringify({ metadata: {}, status: 'Failure', reason: 'InternalError', message: 'container not found ("sandbox")' }))).toEqual({ error: 'container not found ("sandbox")' });
    expect(exitCodeOf(JSON.stringify({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: 'x' }] } }))).toHaveProperty('error');
    expect(exitCodeOf('not json')).toHaveProperty('error');
  });
});

describe('why a pod ended', () => {
  const pod = (status: Pod['status']): Pod => ({ metadata: { name: 'p' }, status });
  it('deleted, deadline, evicted, its init gone; nothing while it runs', () => {
    expect(podEnd('DELETED', pod({ phase: 'Running' }))).toMatch(/deleted/);
    expect(podEnd('MODIFIED', pod({ phase: 'Failed', reason: 'DeadlineExceeded' }))).toMatch(/lifetime limit/);
    expect(podEnd('MODIFIED', pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }))).toMatch(/evicted from its node: The node was low/);
    expect(podEnd('MODIFIED', pod({ phase: 'Failed', containerStatuses: [{ name: 'sandbox', state: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }] }))).toMatch(/init process exited: OOMKilled, code 137/);
    expect(podEnd('MODIFIED', pod({ phase: 'Running' }))).toBeNull();
    expect(podEnd('ADDED', pod({ phase: 'Pending' }))).toBeNull();
  });
});

describe('the exec wrapper', () => {
  it('enters the directory and sets the environment, values passed as they are; bad names refused', () => {
    expect(execArgv(['bash', '-i'], { A: 'x y', B: "it's" }, '/root')).toEqual(['/bin/sh', '-c', 'cd "$1" || exit 127; shift; exec /usr/bin/env "$@"', 'nslab-exec', '/root', '--', 'A=x y', "B=it's", 'bash', '-i']);
    expect(() => execArgv(['true'], { 'A=B': '1' }, '/')).toThrow(/bad environment variable name/);
  });
});
