/**
 * bench/v2-column: the sandbox benchmark on this host beside the same benchmark in
 * the cgroup v2 VM (Debian 12's 6.1 kernel under qemu TCG, docs/vm.md). Emulation
 * makes every absolute time 10-20x longer, so the VM's column is ratios only: each
 * row over the `crun run bash -c true` baseline measured in the same run, on the
 * same machine.
 * usage: node --import tsx bench/v2-column.ts HOST.json VM.json [--write-docs]
 *   (each from `bench/sandbox.ts --json FILE`; the VM one through scripts/vm/run.sh -o)
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { table, writeSection } from './lib.ts';

const Report = z.object({
  at: z.string(), cgroupMode: z.string(), kernel: z.string(), runs: z.number(), idle: z.number(),
  p50: z.object({ unshare: z.number(), crun: z.number(), create: z.number(), prompt: z.number(), pooled: z.number(), destroy: z.number(), stall: z.number() }),
  memory: z.object({ perSandboxMiB: z.number(), shellMiB: z.number(), destroyAllMs: z.number() }),
});
type Report = z.infer<typeof Report>;

const [hostFile, vmFile] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (!hostFile || !vmFile) {
  console.error('usage: node --import tsx bench/v2-column.ts HOST.json VM.json [--write-docs]');
  process.exit(2);
}
const load = (f: string): Report => {
  const parsed = Report.safeParse(JSON.parse(readFileSync(f, 'utf8')));
  if (!parsed.success) throw new Error(`${f} is not a bench/sandbox.ts --json report: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
};
const host = load(hostFile);
const vm = load(vmFile);
const ratio = (r: Report, v: number) => `${(v / r.p50.crun).toFixed(2)}x`;
const rows: [string, keyof Report['p50']][] = [
  ['baseline: unshare (7 namespaces) bash -c true', 'unshare'],
  ['nslab create (sandbox up, init ready)', 'create'],
  ['nslab create-to-first-prompt (terminal 1, command log)', 'prompt'],
  ['nslab create-to-first-prompt from the warm pool', 'pooled'],
  ['nslab destroy (one sandbox)', 'destroy'],
];
const out = [
  `Sandbox benchmark, host beside the cgroup v2 VM: p50 of each row over the p50 of \`crun run bash -c true\` in the same run (${host.runs} runs on the host, ${vm.runs} in the VM)`,
  '',
  table(['what', `host: ${host.cgroupMode}, ${host.kernel}`, `VM: ${vm.cgroupMode}, ${vm.kernel} (TCG, ratios only)`], [
    ...rows.map(([what, k]) => [what, ratio(host, host.p50[k]), ratio(vm, vm.p50[k])]),
    ['baseline `crun run bash -c true` itself (ms)', host.p50.crun.toFixed(1), `${vm.p50.crun.toFixed(1)} (emulated)`],
    [`memory per idle sandbox (${host.idle} / ${vm.idle} alive, MiB)`, host.memory.perSandboxMiB.toFixed(2), vm.memory.perSandboxMiB.toFixed(2)],
  ]),
  '',
  `Host run ${host.at}, VM run ${vm.at}. Memory is not emulated (the same pages are charged), so it compares`,
  'directly: on v2 a sandbox\'s group is charged its socket buffers and kernel memory in the one `memory.current`.',
].join('\n');
console.log(out);
if (process.argv.includes('--write-docs')) writeSection('Sandbox: this host and the cgroup v2 VM', out);
