/**
 * A bounded byte ring per terminal: what a reconnecting client replays. It holds
 * the last `maxBytes` bytes of output as the chunks they arrived in (no copying
 * on push); when full, whole old chunks are dropped, and the oldest kept chunk is
 * trimmed to start on a UTF-8 character boundary.
 *
 * A replay that starts mid-stream may also start inside an escape sequence; the
 * client resets its terminal before replaying, so the worst case is a few stray
 * characters at the top of the replay, never a broken terminal state for long.
 */
import { nextCharStart } from './utf8.ts';

export class ScrollbackRing {
  private chunks: Buffer[] = [];
  private total = 0;
  private dropped = false;

  constructor(readonly maxBytes: number) {
    if (!(Number.isInteger(maxBytes) && maxBytes > 0)) throw new Error(`scrollback size must be a positive integer, got ${maxBytes}`);
  }

  /** bytes held now (<= maxBytes) */
  get size(): number { return this.total; }
  /** true once some output was dropped because the ring was full */
  get truncated(): boolean { return this.dropped; }

  push(data: Buffer): void {
    if (data.length === 0) return;
    // a single chunk larger than the ring: keep only its tail
    if (data.length >= this.maxBytes) {
      const start = nextCharStart(data, data.length - this.maxBytes);
      this.chunks = [data.subarray(start)];
      this.total = data.length - start;
      this.dropped = true;
      return;
    }
    this.chunks.push(data);
    this.total += data.length;
    if (this.total <= this.maxBytes) return;
    this.dropped = true;
    let excess = this.total - this.maxBytes;
    while (excess > 0 && this.chunks[0].length <= excess) {
      excess -= this.chunks[0].length;
      this.total -= this.chunks[0].length;
      this.chunks.shift();
    }
    if (excess > 0) {
      const first = this.chunks[0];
      const start = nextCharStart(first, excess);
      this.chunks[0] = first.subarray(start);
      this.total -= start;
    }
  }

  /** everything held, oldest first, as one buffer */
  snapshot(): Buffer {
    if (this.chunks.length !== 1) {
      this.chunks = this.chunks.length ? [Buffer.concat(this.chunks, this.total)] : [];
    }
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  clear(): void {
    this.chunks = [];
    this.total = 0;
    this.dropped = false;
  }
}

/** Terminal output as plain text: CSI/OSC/other escape sequences and CRs removed (for checks that read the screen). */
export function stripAnsi(s: string): string {
  return s
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '') // OSC ... BEL/ST
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '') // CSI
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b[P^_][^\x1b]*\x1b\\/g, '') // DCS, PM, APC
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b[()*+][0-~]|\x1b[=>78cDEHMNOZ]/g, '')
    .replace(/\r+\n/g, '\n')
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}
