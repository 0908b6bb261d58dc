/**
 * A pod's command log, read by the node agent from the host side. The image's bash
 * hook writes to the FIFO /run/nslab/cmdlog as on one host; on a node no server made
 * it, so the probe helper (helpers/nslab-probe.c, `cmdlog`) opens it as the pod's
 * init sees it (making it first when missing), refuses anything but a FIFO, and
 * copies what the shells write to us. Lines are parsed as on one host
 * (command-log.ts) and given host pids by the same feed (command-feed.ts).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { CommandFeed } from '../sandbox/command-feed.ts';
import { commandLineSplitter } from '../sandbox/command-log.ts';

/** where the image's bash hook writes (sandbox-images/default/files/etc/nslab/bash-hook.sh) */
export const COMMAND_LOG_PATH = '/run/nslab/cmdlog';
const OPENED = 'nslab-cmdlog open\n';
const MAX_STDERR = 4096;

export class PodCommandLog {
  readonly feed: CommandFeed;
  private child: ChildProcessWithoutNullStreams;
  private _ended: string | null = null;
  /** resolves once the FIFO is open (events written from then on are read), rejects if it cannot be */
  readonly opened: Promise<void>;

  constructor(helperBin: string, initPid: number, hostPids: () => number[], path = COMMAND_LOG_PATH) {
    this.feed = new CommandFeed(hostPids);
    // no environment: its fork joins the pod's namespaces (probe-helper.ts)
    this.child = spawn(helperBin, ['cmdlog', String(initPid), path], { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
    this.child.stdin.end();
    let stderr = '';
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (d: string) => { if (stderr.length < MAX_STDERR) stderr += d; });
    const split = commandLineSplitter((e) => this.feed.push(e));
    let head = '';
    let open = false;
    let resolveOpen!: () => void;
    let rejectOpen!: (e: Error) => void;
    this.opened = new Promise((resolve, reject) => { resolveOpen = resolve; rejectOpen = reject; });
    this.opened.catch(() => { /* also reported by ended() */ });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      if (open) { split(chunk); return; }
      head += chunk;
      if (head.length < OPENED.length) return;
      if (!head.startsWith(OPENED)) { this.close(); return; }
      open = true;
      resolveOpen();
      split(head.slice(OPENED.length));
    });
    const end = (why: string) => {
      if (this._ended) return;
      this._ended = why;
      rejectOpen(new Error(why));
    };
    this.child.on('error', (err) => end(`cannot start the probe helper: ${err.message}`));
    this.child.on('exit', (code, signal) => end(stderr.trim() || `the command-log reader ended (${signal ?? code})`));
  }

  /** why the log ended (the FIFO could not be opened, the reader died, close()), or null while it runs */
  ended(): string | null {
    return this._ended;
  }

  close(): void {
    this.child.kill('SIGKILL');
    this.feed.unsubscribeAll();
  }
}
