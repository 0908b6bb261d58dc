/**
 * Prometheus text exposition, written by hand: a handful of counters, gauges and
 * one histogram do not justify a client library.
 */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    this.buckets.forEach((b, i) => { if (v <= b) this.counts[i]++; });
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

export class Metrics {
  readonly createSeconds = new Histogram('nslab_session_create_seconds', 'Time to create a session (sandbox ready), seconds.', [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]);
  terminalBytesOut = 0;
  terminalBytesIn = 0;
  sessionsCreated = 0;
  sessionsEnded: Record<string, number> = {};
  rejected: Record<string, number> = {};

  render(gauges: { sessions: number; sandboxes: number; sockets: number; terminals: number; pausedTerminals: number; maxSessions: number }): string {
    const g = (name: string, help: string, v: number, type = 'gauge') => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${v}`;
    const labelled = (name: string, help: string, label: string, values: Record<string, number>) =>
      [`# HELP ${name} ${help}`, `# TYPE ${name} counter`, ...Object.entries(values).map(([k, v]) => `${name}{${label}="${k}"} ${v}`)].join('\n');
    return [
      g('nslab_sessions_active', 'Learner sessions alive.', gauges.sessions),
      g('nslab_sessions_max', 'Configured cap on concurrent sessions.', gauges.maxSessions),
      g('nslab_sandboxes', 'Sandboxes alive in this server process.', gauges.sandboxes),
      g('nslab_sockets', 'Session sockets attached.', gauges.sockets),
      g('nslab_terminals_open', 'Terminals (ptys) running.', gauges.terminals),
      g('nslab_terminals_paused', 'Terminals paused by flow control.', gauges.pausedTerminals),
      g('nslab_sessions_created_total', 'Sessions created.', this.sessionsCreated, 'counter'),
      labelled('nslab_sessions_ended_total', 'Sessions ended, by reason.', 'reason', this.sessionsEnded),
      labelled('nslab_sessions_rejected_total', 'Session creations refused, by reason.', 'reason', this.rejected),
      labelled('nslab_terminal_bytes_total', 'Bytes through terminals.', 'direction', { out: this.terminalBytesOut, in: this.terminalBytesIn }),
      this.createSeconds.render(),
    ].join('\n') + '\n';
  }
}
