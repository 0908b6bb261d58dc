/**
 * ACK/watermark back-pressure for one terminal (xterm.js "flow control" guide,
 * as VS Code does it between its pty host and the renderer).
 *
 * The server counts bytes sent to the client and not yet acknowledged. Above the
 * high watermark the pty is paused: node-pty stops reading, the kernel pty buffer
 * fills, and the program inside blocks in write(). So a flood (`yes`) costs
 * neither server memory (bounded by highWater + one pty read + the coalescing
 * buffer) nor CPU while the browser catches up. Below the low watermark it resumes;
 * the gap between the two avoids pausing and resuming on every ack.
 *
 * The pty may be paused for other reasons too (no client attached and the
 * scrollback already overflowing), so pausing is by named reason: the pty runs
 * only when no reason holds.
 */
export interface FlowOptions {
  highWater: number;
  lowWater: number;
}

export const DEFAULT_FLOW: FlowOptions & { ackEveryBytes: number } = {
  // ~ a few frames in flight: big enough for full throughput on loopback and
  // LAN round trips, small enough that Ctrl-C stops a flood within a screenful.
  highWater: 512 * 1024,
  lowWater: 128 * 1024,
  ackEveryBytes: 64 * 1024,
};

export class Pauser {
  private readonly reasons = new Set<string>();
  constructor(private readonly pause: () => void, private readonly resume: () => void) {}

  set(reason: string, on: boolean): void {
    const before = this.reasons.size > 0;
    if (on) this.reasons.add(reason);
    else this.reasons.delete(reason);
    const after = this.reasons.size > 0;
    if (before !== after) (after ? this.pause : this.resume)();
  }

  get paused(): boolean { return this.reasons.size > 0; }
  has(reason: string): boolean { return this.reasons.has(reason); }
}

export class FlowControl {
  private unackedBytes = 0;
  private blocked = false;

  constructor(readonly opts: FlowOptions, private readonly onChange: (blocked: boolean) => void) {
    if (!(opts.lowWater >= 0 && opts.highWater > opts.lowWater)) {
      throw new Error(`flow control needs 0 <= lowWater < highWater (got ${opts.lowWater}, ${opts.highWater})`);
    }
  }

  get unacked(): number { return this.unackedBytes; }
  get isBlocked(): boolean { return this.blocked; }

  sent(bytes: number): void {
    this.unackedBytes += bytes;
    if (!this.blocked && this.unackedBytes > this.opts.highWater) {
      this.blocked = true;
      this.onChange(true);
    }
  }

  /**
   * The client processed `bytes` more. Acks for more than was sent (a buggy or
   * hostile client) cannot make the count negative and so cannot buy credit.
   */
  ack(bytes: number): void {
    this.unackedBytes = Math.max(0, this.unackedBytes - bytes);
    if (this.blocked && this.unackedBytes < this.opts.lowWater) {
      this.blocked = false;
      this.onChange(false);
    }
  }

  /** a new client attached (or the old one left): nothing is in flight any more */
  reset(): void {
    this.unackedBytes = 0;
    if (this.blocked) {
      this.blocked = false;
      this.onChange(false);
    }
  }
}
