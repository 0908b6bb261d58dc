/**
 * When the check engine looks again without being told to: a gap-filling poll that
 * backs off while nothing happens and snaps back when something does.
 *
 * Events (a command finished, a prompt, a cgroup event file changed) already start a
 * round at once; the poll is only for what no event announces, such as a background
 * job finishing. A quiet session therefore needs few rounds: the delay starts at
 * `baseMs`, doubles after every round that found nothing new, and stops growing at
 * `maxMs`, so a change nobody announces is still seen within `maxMs`. Any event or
 * any status change brings the delay back to `baseMs` (docs/authoring-lessons.md, "When checks run").
 * `maxMs === baseMs` is the old fixed-interval poll.
 */
export class PollBackoff {
  private delay: number;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** bumped by reset(): a poll that was running then does not move the delay */
  private generation = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    /** runs one poll; resolves true when the round changed something */
    private readonly poll: () => Promise<boolean>,
  ) {
    if (!(baseMs > 0) || !(maxMs >= baseMs)) throw new Error(`poll backoff needs 0 < base (${baseMs}) <= max (${maxMs})`);
    this.delay = baseMs;
  }

  /** the wait before the next poll, in ms */
  get delayMs(): number {
    return this.delay;
  }

  start(): void {
    this.arm();
  }

  /** something happened: poll again soon, and keep polling often for a while */
  reset(): void {
    if (this.stopped) return;
    this.generation++;
    if (this.delay === this.baseMs && this.timer) return;
    this.delay = this.baseMs;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const generation = this.generation;
      const done = (changed: boolean) => {
        // an event during the round has already reset the delay and armed the timer
        if (this.stopped || generation !== this.generation) return;
        this.delay = changed ? this.baseMs : Math.min(this.maxMs, this.delay * 2);
        this.arm();
      };
      this.poll().then(done, () => done(false));
    }, this.delay);
    this.timer.unref();
  }
}
