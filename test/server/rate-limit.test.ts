/** The one token bucket (lab-server/lib/rate-limit.ts) as the sessions API uses it. */
import { describe, expect, it } from 'vitest';
import { RateLimiter, TokenBucket } from '../../lab-server/lib/rate-limit.ts';

describe('token buckets', () => {
  it('takeOrWait: 0 while tokens last, then the whole seconds until the next one', () => {
    let now = 0;
    const rl = new RateLimiter({ burst: 2, perMinute: 30 }, () => now);
    expect([rl.takeOrWait('a'), rl.takeOrWait('a'), rl.takeOrWait('a')]).toEqual([0, 0, 2]);
    now += 1500;
    expect(rl.takeOrWait('a')).toBe(1);
    now += 500;
    expect(rl.takeOrWait('a')).toBe(0);
  });

  it('prune forgets full buckets only; maxKeys forgets the least recently used', () => {
    let now = 0;
    const rl = new RateLimiter({ burst: 1, perMinute: 60, maxKeys: 2 }, () => now);
    rl.take('a');
    rl.take('b');
    rl.take('c'); // 'a' is forgotten: it comes back with a full bucket
    expect(rl.take('a')).toBe(true);
    // without the bound it would still be spent
    const unbounded = new RateLimiter({ burst: 1, perMinute: 60 }, () => now);
    unbounded.take('a');
    unbounded.take('b');
    unbounded.take('c');
    expect(unbounded.take('a')).toBe(false);
    const p = new RateLimiter({ burst: 2, perMinute: 60 }, () => now);
    p.take('x');
    p.prune();
    expect(p.retryAfter('x')).toBe(0);
    expect(p.take('x') && !p.take('x')).toBe(true); // still one spent: pruning kept it
  });

  it('a single bucket refills at its rate and never above its burst', () => {
    let now = 0;
    const b = new TokenBucket({ burst: 3, perMinute: 60 }, () => now);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    now += 10 * 60_000;
    expect(b.full).toBe(true);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
  });
});
