/**
 * nslab agent --port N [--host H] [--tls-dir DIR] [--cgroup-root DIR]
 * The node agent of a Kubernetes install (docs/kubernetes.md, "The node agent"): runs
 * in the host PID namespace of a sandbox node and answers the fronts' probe
 * requests for the sandbox pods there, over mutual TLS. DIR holds tls.crt, tls.key
 * and ca.crt (the Secret the DaemonSet mounts at /etc/nslab/tls).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../config/settings.ts';
import { startAgent } from '../kube/agent-server.ts';
import { CgroupPodLocator } from '../kube/pod-locator.ts';
import { driverConfig } from '../sandbox/config.ts';
import { ensureHelper } from '../sandbox/host-helpers.ts';

const USAGE = 'usage: nslab agent --port N [--host ADDRESS] [--tls-dir /etc/nslab/tls] [--cgroup-root /sys/fs/cgroup]';

export interface AgentArgs { port: number; host: string; tlsDir: string; cgroupRoot: string }

/** the arguments, or a message saying what is wrong with them */
export function parseAgentArgs(args: string[]): AgentArgs | string {
  const out: Partial<AgentArgs> = { host: '0.0.0.0', tlsDir: '/etc/nslab/tls', cgroupRoot: '/sys/fs/cgroup' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (!['--port', '--host', '--tls-dir', '--cgroup-root'].includes(a)) return `unknown argument ${a}`;
    if (v === undefined) return `${a} needs a value`;
    i++;
    if (a === '--port') {
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) return `--port must be a port number 1..65535, not ${v}`;
      out.port = Number(v);
    } else if (a === '--host') out.host = v;
    else if (a === '--tls-dir') out.tlsDir = v;
    else out.cgroupRoot = v;
  }
  if (out.port === undefined) return '--port is required';
  return out as AgentArgs;
}

export async function run(args: string[], settings: Settings): Promise<number> {
  if (args[0] === '-h' || args[0] === '--help') { console.log(USAGE); return 0; }
  const parsed = parseAgentArgs(args);
  if (typeof parsed === 'string') { console.error(`nslab agent: ${parsed}\n${USAGE}`); return 2; }
  let tls;
  try {
    const read = (f: string) => readFileSync(join(parsed.tlsDir, f));
    tls = { cert: read('tls.crt'), key: read('tls.key'), ca: read('ca.crt') };
  } catch (err) {
    console.error(`nslab agent: cannot read the TLS material in ${parsed.tlsDir} (tls.crt, tls.key, ca.crt): ${(err as Error).message}`);
    return 2;
  }
  // the server image ships the helper built (its root filesystem is read-only on the node)
  const helperBin = ensureHelper(driverConfig(settings).dataDir, 'nslab-probe');
  const locator = new CgroupPodLocator({ helperBin, cgroupRoot: parsed.cgroupRoot });
  const agent = await startAgent({ port: parsed.port, host: parsed.host, tls, locator, helperBin });
  console.log(`nslab agent: listening on ${parsed.host}:${agent.port} (mutual TLS; pods under ${parsed.cgroupRoot})`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  locator.close();
  await agent.close();
  return 0;
}
