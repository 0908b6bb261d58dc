/**
 * Whether anyone looks at a session's namespace map, and the last snapshot
 * (docs/namespace-map.md, "Subscribing"). Two kinds of viewers: the session's own
 * socket (the hub sets it from `map-subscribe` / `map-unsubscribe` and from the socket
 * going away) and read-only watchers (the instructor's board watching this learner).
 * The check engine listens to `wanted` and builds the map in its probe rounds only
 * while at least one of them looks.
 */
import type { NamespaceMapChannel } from '../contract/lessons-plugin.ts';
import type { NsmapSnapshot } from '../contract/namespace-map.ts';

export class MapSubscription implements NamespaceMapChannel {
  private socketOn = false;
  private readonly watchers = new Set<(snapshot: NsmapSnapshot) => void>();
  private readonly listeners = new Set<(wanted: boolean) => void>();
  /** the last snapshot pushed for the current sandbox (re-sent to a new subscriber) */
  last: NsmapSnapshot | null = null;

  constructor(private readonly deliver: (snapshot: NsmapSnapshot) => void, private readonly log?: (line: string) => void) {}

  /** the socket or a watcher looks */
  get wanted(): boolean { return this.socketOn || this.watchers.size > 0; }

  /** the session's own socket is subscribed */
  get subscribed(): boolean { return this.socketOn; }

  /** the session's own socket subscribes (true) or stops (false) */
  set(subscribed: boolean): void {
    const before = this.wanted;
    this.socketOn = subscribed;
    this.changed(before);
  }

  /**
   * A read-only watcher wants the map too: it gets the last snapshot at once (if any)
   * and every later push, until the returned function is called.
   */
  watch(deliver: (snapshot: NsmapSnapshot) => void): () => void {
    const before = this.wanted;
    this.watchers.add(deliver);
    if (this.last) this.safely(deliver, this.last);
    this.changed(before);
    return () => {
      const was = this.wanted;
      if (this.watchers.delete(deliver)) this.changed(was);
    };
  }

  onWanted(listener: (wanted: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  push(snapshot: NsmapSnapshot): void {
    this.last = snapshot;
    if (this.socketOn) this.deliver(snapshot);
    for (const w of [...this.watchers]) this.safely(w, snapshot);
  }

  private changed(before: boolean): void {
    const now = this.wanted;
    if (now === before) return;
    for (const l of [...this.listeners]) {
      try { l(now); } catch (e) { this.log?.(`map listener threw: ${(e as Error).message}`); }
    }
  }

  private safely(deliver: (snapshot: NsmapSnapshot) => void, snapshot: NsmapSnapshot): void {
    try { deliver(snapshot); } catch (e) { this.log?.(`map watcher threw: ${(e as Error).message}`); }
  }
}
