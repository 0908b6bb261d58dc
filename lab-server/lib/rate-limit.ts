/**
 * Token buckets: `burst` requests at once, refilled at `perMinute`. One bucket
 * (TokenBucket) or one per key (RateLimiter, e.g. per client address): session
 * creations (http/app.ts), classroom joins and wrong instructor secrets
 * (classroom/routes.ts, classroom/board-socket.ts), a sandbox's command-log lines
 * (sandbox/command-feed.ts).
 *
 * A ground-floor utility (docs/architecture.md): imports nothing of ours.
 */
export interface BucketOptions {
  /** bucket size: this many requests at once */
  burst: number;
  /** refill rate, tokens per minute */
  perMinute: number;
  /** most keys tracked (RateLimiter); the least recently used ones are forgotten first */
  maxKeys?: number;
}

export class TokenBucket {
  private tokens: number;
  private at: number;
  constructor(readonly opts: BucketOptions, private readonly now: () => number = Date.now) {
    this.tokens = opts.burst;
    this.at = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.opts.burst, this.tokens + ((t - this.at) / 60_000) * this.opts.perMinute);
    this.at = t;
  }

  /** true when a token was taken */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** seconds until one token is available (0: available now); takes nothing */
  retryAfter(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.max(1, Math.ceil(((1 - this.tokens) / this.opts.perMinute) * 60));
  }

  /** the bucket refilled completely: nothing to remember about this key */
  get full(): boolean {
    this.refill();
    return this.tokens >= this.opts.burst;
  }
}

export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  constructor(readonly opts: BucketOptions, private readonly now: () => number = Date.now) {}

  private bucket(key: string): TokenBucket {
    let b = this.buckets.get(key);
    if (b) {
      // most recently used last, so the first key is the one to forget
      this.buckets.delete(key);
    } else {
      b = new TokenBucket(this.opts, this.now);
      if (this.buckets.size >= (this.opts.maxKeys ?? 50_000)) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    return b;
  }

  /** seconds until one token is available for `key` (0: available now); takes nothing */
  retryAfter(key: string): number {
    return this.bucket(key).retryAfter();
  }

  /** true when a token was taken */
  take(key: string): boolean {
    return this.bucket(key).take();
  }

  /** take a token, or say how long to wait: 0 when taken, else seconds (at least 1) */
  takeOrWait(key: string): number {
    const b = this.bucket(key);
    return b.take() ? 0 : b.retryAfter();
  }

  /** forget full buckets, so the map does not keep every address ever seen */
  prune(): void {
    for (const [k, b] of this.buckets) if (b.full) this.buckets.delete(k);
  }
}
