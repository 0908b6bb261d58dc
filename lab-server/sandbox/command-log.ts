/**
 * The command log: every interactive bash in the sandbox writes one line per
 * prompt into a FIFO the driver made (see sandbox-images/default/files/etc/nslab/bash-hook.sh).
 * The learner can write to it too, so a line is only ever evidence of what a
 * shell *said*; checks of state use the probe. Lines are parsed strictly and
 * junk is dropped.
 */
import { openSync, constants } from 'node:fs';
import { Socket } from 'node:net';
import { z } from 'zod';
import { NAMESPACE_KINDS, type CommandEvent, type NamespaceKind, type NamespaceSet } from './types.ts';

const MAX_LINE = 8192;

const lineSchema = z.tuple([
  z.literal('nslab1'),
  z.enum(['ready', 'cmd', 'prompt']),
  z.coerce.number().int().min(0).max(1024),
  z.coerce.number().int().positive().max(4_194_304),
  z.coerce.number().int().min(0).max(255),
  z.coerce.number().int().min(0),
  z.string().max(1024),
  z.string().max(MAX_LINE),
]);

function unescape(s: string): string {
  return s.replace(/\\([\\tnr])/g, (_, c: string) => ({ '\\': '\\', t: '\t', n: '\n', r: '\r' })[c] ?? c);
}

export type RawCommandEvent = Omit<CommandEvent, 'hostPid' | 'at'>;

/** Parses one line of the hook's output; null for anything malformed. */
export function parseCommandLine(line: string): RawCommandEvent | null {
  const parsed = lineSchema.safeParse(line.split('\t'));
  if (!parsed.success) return null;
  const [, kind, terminal, pid, status, historyNumber, nsText, command] = parsed.data;
  const ns: Partial<NamespaceSet> = {};
  for (const m of nsText.matchAll(/([a-z_]+):\[(\d+)\]/g)) {
    if ((NAMESPACE_KINDS as readonly string[]).includes(m[1])) ns[m[1] as NamespaceKind] = Number(m[2]);
  }
  return { kind, terminal, pid, status, historyNumber, ns, command: unescape(command) };
}

/**
 * Cuts a stream of the hook's output into lines and hands on the well-formed ones
 * (the FIFO here; on a Kubernetes node, the agent's copy of a pod's FIFO).
 */
export function commandLineSplitter(onLine: (e: RawCommandEvent) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const e = parseCommandLine(line);
      if (e) onLine(e);
    }
    // a hostile writer that never sends a newline must not grow our memory
    if (buffer.length > MAX_LINE) buffer = '';
  };
}

/**
 * Reads a FIFO without tying up a libuv thread: the fd is opened read-write (so
 * it never sees EOF while no shell is writing) and non-blocking, then handed to
 * a net.Socket, which libuv polls like a pipe.
 */
export class CommandLogReader {
  private socket: Socket;

  constructor(fifoPath: string, onLine: (e: RawCommandEvent) => void) {
    const fd = openSync(fifoPath, constants.O_RDWR | constants.O_NONBLOCK);
    this.socket = new Socket({ fd, readable: true, writable: false });
    this.socket.setEncoding('utf8');
    this.socket.on('data', commandLineSplitter(onLine));
    this.socket.on('error', () => { /* the sandbox went away; nothing more to read */ });
  }

  close(): void {
    this.socket.destroy();
  }
}
