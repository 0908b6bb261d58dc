/**
 * The probe's long-lived helper (helpers/nslab-probe.c): one process per server
 * binary path, started on first use, answering requests in order over its stdin and
 * stdout. Each request is served by a fork of the helper that joins only what that
 * request needs, so a check round costs the server a pipe write and a read per
 * probe, not a fork+exec of `nsenter`, `cat`, `sh` and friends (docs/sandbox.md,
 * "The probe"; docs/benchmarks.md, "Idle sessions").
 *
 * The helper never keeps the server alive: it is unref'd while no request waits.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export type ProbeOp = 'read' | 'ipc' | 'mq' | 'sysctl' | 'owners' | 'nsbatch' | 'net';

export interface HelperAnswer {
  /** 0 ok, 2 no such file, 3 failure, 4 not a regular file (`net`: not a network namespace) */
  code: number;
  /** the data, or the error text when code != 0 */
  text: string;
  /** the same bytes undecoded (a length-framed answer must be split before decoding) */
  raw: Buffer;
}

interface Waiting { resolve: (a: HelperAnswer) => void; reject: (e: Error) => void }

class ProbeHelper {
  private child: ChildProcessWithoutNullStreams | null = null;
  private waiting: Waiting[] = [];
  private buf = Buffer.alloc(0);

  constructor(private readonly bin: string) {}

  /** starts the process now rather than at the first request */
  start(): void {
    this.ensure();
  }

  request(op: ProbeOp, hostPid: number, maxBytes: number, arg = ''): Promise<HelperAnswer> {
    const a = Buffer.from(arg, 'utf8');
    const child = this.ensure();
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.hold(true);
      child.stdin.write(Buffer.concat([Buffer.from(`${op} ${hostPid} ${maxBytes} ${a.length}\n`), a]));
    });
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    // no environment: the server's (settings, secrets) has no business in a process
    // whose forks join sandboxes' namespaces
    const child = spawn(this.bin, [], { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
    this.child = child;
    this.buf = Buffer.alloc(0);
    child.stdout.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.drain(); });
    child.stderr.resume();
    child.stdin.on('error', () => { /* the exit handler fails the waiting requests */ });
    child.on('error', (err) => this.lost(err));
    child.on('exit', (code, signal) => this.lost(new Error(`the probe helper exited (${signal ?? code})`)));
    this.hold(false);
    return child;
  }

  /** answers come back in request order: "CODE LEN\n" then LEN bytes */
  private drain(): void {
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) return;
      const m = /^(\d+) (\d+)$/.exec(this.buf.subarray(0, nl).toString('latin1'));
      if (!m) {
        // a broken frame cannot be re-synchronised: start a fresh helper
        this.child?.kill('SIGKILL');
        return;
      }
      const len = Number(m[2]);
      if (this.buf.length < nl + 1 + len) return;
      const raw = Buffer.from(this.buf.subarray(nl + 1, nl + 1 + len));
      this.buf = this.buf.subarray(nl + 1 + len);
      this.waiting.shift()?.resolve({ code: Number(m[1]), text: raw.toString('utf8'), raw });
      if (!this.waiting.length) this.hold(false);
    }
  }

  private lost(err: Error): void {
    if (!this.child) return;
    this.child = null;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  /** keep the event loop alive only while an answer is awaited */
  private hold(on: boolean): void {
    const c = this.child;
    if (!c) return;
    const streams = [c.stdout, c.stdin, c.stderr] as unknown as { ref?: () => void; unref?: () => void }[];
    if (on) { c.ref(); for (const s of streams) s.ref?.(); } else { c.unref(); for (const s of streams) s.unref?.(); }
  }
}

const helpers = new Map<string, ProbeHelper>();

/** the helper for this binary, shared by every sandbox of the server */
export function probeHelper(bin: string): ProbeHelper {
  let h = helpers.get(bin);
  if (!h) helpers.set(bin, (h = new ProbeHelper(bin)));
  return h;
}
