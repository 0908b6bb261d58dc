/** Shared helpers for tests that run real sandboxes. */
import { readFileSync } from 'node:fs';
import { createSandboxBackend, type LocalBackend } from '../../lab-server/sandbox/index.ts';
import type { CommandEvent, Sandbox } from '../../lab-server/sandbox/types.ts';

let backend: LocalBackend | null = null;

export async function testBackend(): Promise<LocalBackend> {
  if (!backend) {
    backend = createSandboxBackend();
    await backend.checkHost();
    await backend.images.ensureBuilt('default', (l) => console.log(l));
  }
  return backend;
}

/** run a shell script inside; returns stdout+stderr merged in order-insensitive form */
export async function sh(s: Sandbox, script: string, input?: string, timeoutMs = 120_000) {
  return s.exec(['/bin/bash', '-c', script], { input, timeoutMs });
}

/** a pty shell inside with helpers to type and wait for command-log events */
export function terminal(s: Sandbox, n = 1) {
  const term = s.spawnPty({ terminal: n, cols: 120, rows: 40 });
  let screen = '';
  term.onData((d) => { screen += d; });
  const events = () => s.commands().filter((e) => e.terminal === n);
  const waitFor = async (pred: (e: CommandEvent) => boolean, what: string): Promise<CommandEvent> => {
    for (let i = 0; i < 400; i++) {
      const hit = events().find(pred);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no command-log event: ${what}\nscreen:\n${screen}`);
  };
  return {
    term,
    get screen() { return screen; },
    events,
    waitFor,
    /** type a line and wait until a shell reports it finished */
    async run(line: string): Promise<CommandEvent> {
      const before = s.commands().length;
      term.write(`${line}\r`);
      return waitFor((e) => s.commands().indexOf(e) >= before && (e.kind === 'cmd' || e.kind === 'ready'), `after '${line}'`);
    },
    async ready() { return waitFor((e) => e.kind === 'ready', 'first prompt'); },
  };
}

/**
 * The OOM score the driver gives a sandbox's PID 1: -1000, set from the host, where
 * host root holds CAP_SYS_RESOURCE (bit 24), which lowering a score takes; 0 where
 * it does not (some VMs' root, this CI machine's among them). docs/security.md, "cgroup v2 hosts".
 */
export function initOomScore(): number {
  const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];
  return ((BigInt(`0x${capEff}`) >> 24n) & 1n) === 1n ? -1000 : 0;
}
