/**
 * The check engine's gap-filling poll (lab-server/checks/poll-backoff.ts) on a fake
 * clock: doubling while quiet, the bound, reset on events and changes.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PollBackoff } from '../../lab-server/checks/poll-backoff.ts';

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

/** a poll whose rounds the test finishes by hand */
function harness(base: number, max: number) {
  const at: number[] = [];
  const rounds: ((changed: boolean) => void)[] = [];
  const b = new PollBackoff(base, max, () => {
    at.push(Date.now());
    return new Promise<boolean>((resolve) => rounds.push(resolve));
  });
  const finish = async (changed = false) => { rounds.shift()!(changed); await vi.advanceTimersByTimeAsync(0); };
  return { b, at, finish };
}

describe('poll backoff', () => {
  it('doubles the wait after each quiet round up to its bound', async () => {
    const { b, at, finish } = harness(100, 450);
    const t0 = Date.now();
    b.start();
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(b.delayMs);
      await finish();
    }
    expect(at.map((t) => t - t0)).toEqual([100, 300, 700, 1150, 1600]);
    expect(b.delayMs).toBe(450);
    b.stop();
  });

  it('goes back to its base after an event or a round that changed something', async () => {
    const { b, at, finish } = harness(100, 10_000);
    b.start();
    for (let i = 0; i < 4; i++) { await vi.advanceTimersByTimeAsync(b.delayMs); await finish(); }
    expect(b.delayMs).toBe(1600);
    b.reset();
    expect(b.delayMs).toBe(100);
    const t = Date.now();
    await vi.advanceTimersByTimeAsync(100);
    expect(at.at(-1)! - t).toBe(100);
    await finish();
    expect(b.delayMs).toBe(200);
    await vi.advanceTimersByTimeAsync(200);
    await finish(true);
    expect(b.delayMs).toBe(100);
    b.stop();
  });

  it('an event during a running round wins over that round\'s result', async () => {
    const { b, at, finish } = harness(100, 10_000);
    b.start();
    await vi.advanceTimersByTimeAsync(100);
    await finish();
    await vi.advanceTimersByTimeAsync(200);
    expect(at).toHaveLength(2);
    b.reset();
    await finish();
    // the quiet round that ended after the event does not double the delay again
    expect(b.delayMs).toBe(100);
    await vi.advanceTimersByTimeAsync(100);
    expect(at).toHaveLength(3);
    b.stop();
  });

  it('stops polling when stopped', async () => {
    const { b, at } = harness(100, 1000);
    b.start();
    b.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(at).toHaveLength(0);
  });
});
