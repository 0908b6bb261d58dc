/**
 * A sandbox's command log as the floors above see it (Sandbox.commands and
 * onCommand): raw lines from the FIFO (command-log.ts) in, each given the host
 * pid of the shell that reported it, kept in order, a bounded history, listeners.
 */
import type { RawCommandEvent } from './command-log.ts';
import { readFileSync, readlinkSync } from 'node:fs';
import { TokenBucket } from '../lib/rate-limit.ts';
import type { CommandEvent } from './types.ts';

const MAX_COMMAND_EVENTS = 5000;
const EVENT_BURST = 200;
const EVENT_RATE = 50;

export class CommandFeed {
  private events: CommandEvent[] = [];
  private listeners = new Set<(e: CommandEvent) => void>();
  /** serialises host-pid resolution so events keep their order */
  private chain: Promise<void> = Promise.resolve();
  /** command-log lines dropped because a flood exceeded the budget below */
  dropped = 0;
  private pending = 0;
  private readonly budget = new TokenBucket({ burst: EVENT_BURST, perMinute: EVENT_RATE * 60 });

  /**
   * `holdBack` sees each event before it is published and may keep it (returns
   * true): the sandbox's pre-started terminal keeps its shell's first 'ready'.
   */
  constructor(
    /** host pids of the sandbox's processes, where a reporting shell is looked for */
    private readonly hostPids: () => number[],
    private readonly holdBack: (e: CommandEvent) => boolean = () => false,
  ) {}

  /**
   * Each line costs a process scan to find the shell's host pid, and the FIFO is
   * writable by the learner: a budget (a burst, then a steady rate far above any
   * human's typing) keeps a forged flood from monopolising the server's event loop.
   */
  push(e: RawCommandEvent): void {
    const at = Date.now();
    // no token is spent on a line dropped for the queue being full
    if (this.pending >= EVENT_BURST || !this.budget.take()) {
      this.dropped++;
      return;
    }
    this.pending++;
    this.chain = this.chain.then(async () => {
      this.pending--;
      let hostPid: number | null = null;
      try {
        hostPid = resolveShellPid(this.hostPids(), e.pid, e.ns.pid);
      } catch { /* sandbox going away */ }
      const event: CommandEvent = { ...e, hostPid, at };
      if (this.holdBack(event)) return;
      this.publish(event);
    });
  }

  /** publishes an event held back earlier, after the events already on their way */
  publishInOrder(event: CommandEvent): void {
    this.chain = this.chain.then(() => this.publish(event));
  }

  private publish(event: CommandEvent): void {
    this.events.push(event);
    if (this.events.length > MAX_COMMAND_EVENTS) this.events.splice(0, this.events.length - MAX_COMMAND_EVENTS);
    for (const l of this.listeners) {
      try { l(event); } catch (err) { console.error('nslab: command listener failed', err); }
    }
  }

  all(): readonly CommandEvent[] {
    return this.events;
  }

  subscribe(listener: (e: CommandEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  unsubscribeAll(): void {
    this.listeners.clear();
  }
}

/**
 * The host pid of a shell that reported itself as `pid` in the pid namespace
 * `pidNs`: only NSpid and one namespace link per candidate, not a full probe
 * scan (this runs for every prompt).
 */
function resolveShellPid(candidates: readonly number[], pid: number, pidNs: number | undefined): number | null {
  for (const hostPid of candidates) {
    let status: string;
    try { status = readFileSync(`/proc/${hostPid}/status`, 'utf8'); } catch { continue; }
    const nsPids = /^NSpid:(.*)$/m.exec(status)?.[1].trim().split(/\s+/) ?? [];
    if (Number(nsPids[nsPids.length - 1]) !== pid) continue;
    if (pidNs === undefined) return hostPid;
    try {
      if (readlinkSync(`/proc/${hostPid}/ns/pid`) === `pid:[${pidNs}]`) return hostPid;
    } catch { /* exited */ }
  }
  return null;
}
