/**
 * Token buckets per key (client address). Two are used for joins:
 * - failed attempts (unknown code) are limited tightly: they are what enumeration
 *   looks like;
 * - successful joins more loosely: a whole classroom often shares one public address
 *   behind the school's NAT, and 40 people joining in the same minute is normal.
 * The map is bounded so a flood of distinct addresses cannot grow memory without limit.
 */
export interface BucketOptions {
  /** bucket size: this many requests at once */
  burst: number;
  /** refill rate, tokens per minute */
  perMinute: number;
  /** most keys tracked; the least recently used ones are forgotten first */
  maxKeys?: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(readonly opts: BucketOptions, private readonly now: () => number = Date.now) {}

  private bucket(key: string): { tokens: number; at: number } {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(this.opts.burst, b.tokens + ((t - b.at) / 60_000) * this.opts.perMinute);
      b.at = t;
    } else {
      b = { tokens: this.opts.burst, at: t };
      if (this.buckets.size >= (this.opts.maxKeys ?? 50_000)) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    return b;
  }

  /** seconds until one token is available (0: available now); takes nothing */
  retryAfter(key: string): number {
    const b = this.bucket(key);
    return b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) / this.opts.perMinute) * 60);
  }

  /** true when a token was taken */
  take(key: string): boolean {
    const b = this.bucket(key);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
