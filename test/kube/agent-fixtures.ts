/**
 * For the node agent's tests: real TLS material made with the openssl CLI (one CA
 * for the agent's server certificate and the fronts' client certificate, as the
 * install's Secrets have it, and a second, unrelated CA for a client that must be
 * refused), and a pod locator that maps pod UIDs to real local sandboxes.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandSource, PodLocator, PodSandbox } from '../../lab-server/kube/pod-locator.ts';
import type { LocalSandbox } from '../../lab-server/sandbox/index.ts';

export interface Pem { cert: string; key: string; ca: string }
export interface TestTls { dir: string; server: Pem; client: Pem; rogueClient: Pem; remove(): void }

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ca(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function leaf(dir: string, name: string, signer: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

/** a CA, the agent's certificate (DNS name nslab-agent), a front's client certificate, and a client of another CA */
export function makeTestTls(): TestTls {
  const dir = mkdtempSync(join(tmpdir(), 'nslab-agent-tls-'));
  ca(dir, 'ca');
  ca(dir, 'rogue-ca');
  leaf(dir, 'agent', 'ca', 'subjectAltName=DNS:nslab-agent\nextendedKeyUsage=serverAuth\n');
  leaf(dir, 'front', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf(dir, 'rogue-front', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const caPem = read('ca.crt');
  return {
    dir,
    server: { cert: read('agent.crt'), key: read('agent.key'), ca: caPem },
    client: { cert: read('front.crt'), key: read('front.key'), ca: caPem },
    rogueClient: { cert: read('rogue-front.crt'), key: read('rogue-front.key'), ca: caPem },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** a local sandbox as the agent serves a pod: its own probe target and command log */
export function podSandboxOf(podUid: string, s: LocalSandbox): PodSandbox {
  const commands: CommandSource = { all: () => s.commands(), subscribe: (l) => s.onCommand(l) };
  return { podUid, target: s.probe.target, alive: () => s.state === 'running', commands: () => commands };
}

/** Pods that are local sandboxes: the agent's probe runs against the sandbox's own target. */
export class SandboxPodLocator implements PodLocator {
  private readonly pods = new Map<string, LocalSandbox>();
  /** how many times the agent asked for a pod (proof that a request went through the agent) */
  lookups = 0;

  add(sandbox: LocalSandbox): string {
    const uid = randomUUID();
    this.pods.set(uid, sandbox);
    return uid;
  }

  locate(podUid: string): PodSandbox | null {
    this.lookups++;
    const s = this.pods.get(podUid);
    return s ? podSandboxOf(podUid, s) : null;
  }
}
