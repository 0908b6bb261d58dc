/**
 * pods/exec of the in-process API server: the WebSocket channels of
 * v5.channel.k8s.io (and v4, which lacks the close stream), in front of a real
 * local sandbox's spawnPty (tty=true) or spawnProcess.
 */
import type { WebSocket } from 'ws';
import type { Sandbox } from '../../../lab-server/sandbox/types.ts';
import { execStatus } from './status.ts';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

export interface ExecParams { command: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }

export function parseExecParams(q: URLSearchParams): ExecParams | string {
  const command = q.getAll('command');
  if (command.length === 0) return 'you must specify at least 1 command';
  const bool = (k: string) => q.get(k) === 'true' || q.get(k) === '1';
  const p = { command, tty: bool('tty'), stdin: bool('stdin'), stdout: bool('stdout'), stderr: bool('stderr') };
  if (!p.stdin && !p.stdout && !p.stderr) return 'you must specify at least 1 of stdin, stdout, stderr';
  if (p.tty && p.stderr) return 'tty and stderr cannot both be true';
  return p;
}

export function serveExec(ws: WebSocket, sandbox: Sandbox, p: ExecParams, onEnd: () => void, onResize?: (cols: number, rows: number) => void): void {
  const v5 = ws.protocol === 'v5.channel.k8s.io';
  const send = (ch: number, data: Buffer | string) => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([ch]), Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8')]));
  };
  let finished = false;
  const finish = (code: number) => {
    if (finished) return;
    finished = true;
    send(3, JSON.stringify(execStatus(code, p.command)));
    ws.close(1000);
    onEnd();
  };
  if (p.tty) {
    // The local sandbox's terminal runs script(1) between its pty and the shell's, and
    // script takes the size once at its start: a resize that came before it was
    // listening would be lost. So the process starts at the first size the client
    // sends (or 80x24 if none comes at once); a pod's shell reads its pty directly.
    let pty: ReturnType<Sandbox['spawnPty']> | null = null;
    const early: Buffer[] = [];
    const size = (body: Buffer): { cols: number; rows: number } | null => {
      try {
        const { Width, Height } = JSON.parse(body.toString()) as { Width: number; Height: number };
        return Width > 0 && Height > 0 ? { cols: Width, rows: Height } : null;
      } catch { return null; /* a bad resize message is ignored, as the kubelet does */ }
    };
    const start = (cols: number, rows: number) => {
      if (pty || finished) return;
      clearTimeout(fallback);
      pty = sandbox.spawnPty({ terminal: 0, command: p.command, cols, rows });
      pty.onData((d) => { if (p.stdout) send(1, d); });
      pty.onExit(({ exitCode, signal }) => finish(signal ? 128 + signal : exitCode));
      for (const b of early.splice(0)) pty.write(b);
    };
    const fallback = setTimeout(() => start(80, 24), 300);
    ws.on('message', (data: Buffer) => {
      if (data.length === 0) return;
      const body = data.subarray(1);
      if (data[0] === 0 && p.stdin) { if (pty) pty.write(body); else early.push(Buffer.from(body)); }
      else if (data[0] === 4) {
        const sz = size(body);
        if (sz) onResize?.(sz.cols, sz.rows);
        if (sz && pty) pty.resize(sz.cols, sz.rows);
        else if (sz) start(sz.cols, sz.rows);
      }
    });
    // the client went away: the runtime closes the pty, the shell gets its hangup
    ws.on('close', () => {
      clearTimeout(fallback);
      if (!finished) { finished = true; onEnd(); try { pty?.kill('SIGHUP'); } catch { /* gone */ } }
    });
    return;
  }
  const child = sandbox.spawnProcess(p.command);
  child.stdout.on('data', (b: Buffer) => { if (p.stdout) send(1, b); });
  child.stderr.on('data', (b: Buffer) => { if (p.stderr) send(2, b); });
  child.stdin.on('error', () => { /* the command did not read its input */ });
  if (!p.stdin) child.stdin.end();
  child.on('close', (code, signal) => finish(code ?? (signal ? 137 : 1)));
  child.on('error', () => finish(126));
  ws.on('message', (data: Buffer) => {
    if (data.length === 0) return;
    const body = data.subarray(1);
    if (data[0] === 0 && p.stdin) child.stdin.write(body);
    else if (data[0] === 255 && v5 && body[0] === 0) child.stdin.end();
  });
  ws.on('close', () => { if (!finished) { finished = true; onEnd(); child.kill('SIGTERM'); } });
}
