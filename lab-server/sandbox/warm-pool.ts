/**
 * Ready sandboxes kept warm, default image and limits, terminal 1 already at a
 * prompt (LocalSandbox.prespawnTerminal), so that a learner gets a prompt without
 * waiting for a cold start. Refills run one at a time, in the background.
 */
import type { LocalSandbox } from './local-sandbox.ts';

/** after a sandbox is taken: later, not at once (see refillSoon) */
const REFILL_DELAY_MS = 300;
const REFILL_RETRY_MS = 5000;

export class WarmPool {
  private pool: LocalSandbox[] = [];
  private refilling: Promise<void> | null = null;
  private refillTimer: NodeJS.Timeout | null = null;
  private closed = false;

  /** `coldCreate` makes one default sandbox; `target` is how many to keep */
  constructor(private readonly coldCreate: () => Promise<LocalSandbox>, private target: number) {}

  get size(): number {
    return this.pool.length;
  }

  /** how many the pool keeps when full */
  get wanted(): number {
    return this.target;
  }

  has(s: LocalSandbox): boolean {
    return this.pool.includes(s);
  }

  sandboxes(): readonly LocalSandbox[] {
    return [...this.pool];
  }

  /** Keep `size` sandboxes warm (0 turns the pool off); the ones beyond it are destroyed. */
  setTarget(size: number): void {
    this.target = Math.max(0, Math.floor(size));
    for (const extra of this.pool.splice(this.target)) void extra.destroy();
    this.refill();
  }

  /** the oldest kept sandbox, if it is still running (a dead one is dropped) */
  take(): LocalSandbox | null {
    const warm = this.pool.shift();
    return warm && warm.state === 'running' ? warm : null;
  }

  /** resolves when the pool is full (for benchmarks and tests) */
  async ready(): Promise<void> {
    while (this.pool.length < this.target && !this.closed) {
      this.refill();
      await (this.refilling ?? new Promise((r) => setTimeout(r, 50)));
    }
  }

  /**
   * Refill shortly. Later, not now: a refill forks processes on this event loop,
   * which would hold back the prompt the learner is about to get.
   */
  refillSoon(): void {
    this.scheduleRefill(REFILL_DELAY_MS);
  }

  /** Stops refilling and forgets the kept sandboxes (the caller destroys them) until resume(). */
  async pause(): Promise<void> {
    this.closed = true;
    if (this.refillTimer) clearTimeout(this.refillTimer);
    this.refillTimer = null;
    await this.refilling;
    this.pool = [];
  }

  resume(): void {
    this.closed = false;
  }

  /** one pending refill at a time; pause cancels it */
  private scheduleRefill(ms: number): void {
    if (this.refillTimer || this.closed) return;
    this.refillTimer = setTimeout(() => { this.refillTimer = null; this.refill(); }, ms);
    this.refillTimer.unref();
  }

  private refill(): void {
    if (this.refilling || this.closed || this.pool.length >= this.target) return;
    this.refilling = (async () => {
      while (this.pool.length < this.target && !this.closed) {
        try {
          const s = await this.coldCreate();
          try {
            await s.prespawnTerminal();
          } catch (err) {
            await s.destroy();
            throw err;
          }
          if (this.closed || this.pool.length >= this.target) { await s.destroy(); break; }
          this.pool.push(s);
          s.onExit(() => {
            const i = this.pool.indexOf(s);
            if (i >= 0) { this.pool.splice(i, 1); this.refill(); }
          });
        } catch (err) {
          if (this.closed) break;
          console.error(`nslab: warm pool refill failed (retrying in ${REFILL_RETRY_MS / 1000} s): ${(err as Error).message}`);
          this.scheduleRefill(REFILL_RETRY_MS);
          break;
        }
      }
    })().finally(() => { this.refilling = null; });
  }
}
