/**
 * Whether the socket of a session wants the namespace map, and the last snapshot
 * (docs/namespace-map.md, "Subscribing"). The hub sets `wanted` from `map-subscribe`
 * / `map-unsubscribe` and from the socket going away; the check engine listens and
 * builds the map in its probe rounds only while someone wants it.
 */
import type { NamespaceMapChannel } from '../contract/lessons-plugin.ts';
import type { NsmapSnapshot } from '../contract/namespace-map.ts';

export class MapSubscription implements NamespaceMapChannel {
  private on = false;
  private readonly listeners = new Set<(wanted: boolean) => void>();
  /** the last snapshot pushed for the current sandbox (re-sent to a new subscriber) */
  last: NsmapSnapshot | null = null;

  constructor(private readonly deliver: (snapshot: NsmapSnapshot) => void, private readonly log?: (line: string) => void) {}

  get wanted(): boolean { return this.on; }

  set(wanted: boolean): void {
    if (wanted === this.on) return;
    this.on = wanted;
    for (const l of [...this.listeners]) {
      try { l(wanted); } catch (e) { this.log?.(`map listener threw: ${(e as Error).message}`); }
    }
  }

  onWanted(listener: (wanted: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  push(snapshot: NsmapSnapshot): void {
    this.last = snapshot;
    if (this.on) this.deliver(snapshot);
  }
}
