/**
 * `pods/exec` over the API server's WebSocket, subprotocol v5.channel.k8s.io
 * (KEP-4006; on by default since Kubernetes 1.30, and nslab needs 1.33): every
 * binary message is one channel byte and its data. 0 stdin, 1 stdout, 2 stderr,
 * 3 the exec's end as a Status JSON, 4 terminal size as JSON {Width, Height}, and
 * 255 "close stream N" (v5's addition: how stdin reaches EOF, which `cat` with
 * input needs). Older subprotocols are not offered: without the close stream an
 * exec with input could never end.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { KubeApi } from './api-client.ts';
import { parseStatus } from './api-client.ts';

export const EXEC_PROTOCOL = 'v5.channel.k8s.io';
export const Channel = { Stdin: 0, Stdout: 1, Stderr: 2, Status: 3, Resize: 4, Close: 255 } as const;
export type Channel = (typeof Channel)[keyof typeof Channel];

export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  tty: boolean;
}

/**
 * The exit code an exec's Status names: Success is 0; NonZeroExitCode carries the
 * code as the cause of reason ExitCode; anything else (the process could not start,
 * the container is gone) is an error of its own.
 */
export function exitCodeOf(statusJson: string): { code: number } | { error: string } {
  let st;
  try { st = parseStatus(JSON.parse(statusJson)); } catch { st = null; }
  if (!st) return { error: `an exec status that is not a Status: ${statusJson.slice(0, 200)}` };
  if (st.status === 'Success') return { code: 0 };
  if (st.reason === 'NonZeroExitCode') {
    const cause = st.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = Number(cause?.message);
    if (Number.isInteger(code)) return { code };
  }
  return { error: st.message ?? st.reason ?? 'the exec failed' };
}

/**
 * One exec. Events: 'open', 'stdout' (Buffer), 'stderr' (Buffer), and once 'end'
 * with { code } or { error } when the stream is over (a status, or a close without one).
 */
export class ExecStream extends EventEmitter {
  private readonly ws: WebSocket;
  private opened = false;
  private ended = false;
  private status: { code: number } | { error: string } | null = null;
  private early: Buffer[] = [];

  constructor(api: KubeApi, req: ExecRequest) {
    super();
    const q = new URLSearchParams();
    for (const c of req.command) q.append('command', c);
    q.set('container', req.container);
    q.set('stdin', 'true');
    q.set('stdout', 'true');
    q.set('stderr', String(!req.tty));
    q.set('tty', String(req.tty));
    const { url, options } = api.wsTarget(`/api/v1/namespaces/${encodeURIComponent(req.namespace)}/pods/${encodeURIComponent(req.pod)}/exec?${q}`);
    this.ws = new WebSocket(url, [EXEC_PROTOCOL], { ...options, perMessageDeflate: false, handshakeTimeout: 30_000 });
    this.ws.on('open', () => {
      if (this.ws.protocol !== EXEC_PROTOCOL) {
        this.finish({ error: `the API server speaks ${this.ws.protocol || 'no exec subprotocol'}, not ${EXEC_PROTOCOL} (Kubernetes 1.30 or later is needed)` });
        this.ws.terminate();
        return;
      }
      this.opened = true;
      for (const m of this.early) this.ws.send(m);
      this.early = [];
      this.emit('open');
    });
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length === 0) return;
      const ch = data[0];
      const body = data.subarray(1);
      if (ch === Channel.Stdout) this.emit('stdout', body);
      else if (ch === Channel.Stderr) this.emit('stderr', body);
      else if (ch === Channel.Status) this.status = exitCodeOf(body.toString('utf8'));
    });
    this.ws.on('unexpected-response', (req, res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let st = null;
        try { st = parseStatus(JSON.parse(text)); } catch { /* not JSON */ }
        this.finish({ error: `exec refused: ${res.statusCode} ${st?.reason ?? res.statusMessage ?? ''}${st?.message ? `: ${st.message}` : ''}` });
        // the handshake failed: nothing more comes on this connection
        req.destroy();
      });
    });
    this.ws.on('error', (e) => this.finish({ error: `exec: ${e.message}` }));
    this.ws.on('close', () => this.finish(this.status ?? { error: 'the exec stream closed without an exit status' }));
  }

  private finish(r: { code: number } | { error: string }): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('end', r);
  }

  /** bytes written but not yet sent: still connecting, or held because the other side does not read */
  get unsent(): number {
    return this.ws.bufferedAmount + this.early.reduce((n, f) => n + f.length, 0);
  }

  get isOpen(): boolean {
    return this.opened && !this.ended;
  }

  private send(ch: Channel, data: Buffer): void {
    if (this.ended) return;
    const frame = Buffer.concat([Buffer.from([ch]), data]);
    if (this.opened) this.ws.send(frame);
    else this.early.push(frame);
  }

  write(data: string | Buffer): void {
    this.send(Channel.Stdin, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  /** EOF on the process's stdin */
  closeStdin(): void {
    this.send(Channel.Close, Buffer.from([Channel.Stdin]));
  }

  resize(cols: number, rows: number): void {
    this.send(Channel.Resize, Buffer.from(JSON.stringify({ Width: cols, Height: rows })));
  }

  /** stop reading: the server's writes back up to the process (flow control) */
  pause(): void { this.ws.pause(); }
  resume(): void { this.ws.resume(); }

  /** ends the stream; the API server then ends the process's side (EOF, and a hangup for a terminal) */
  close(): void {
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else this.ws.close(1000);
  }
}
