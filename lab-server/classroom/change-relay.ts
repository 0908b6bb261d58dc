/**
 * Live boards across fronts: the Classroom says "changed" in its own process only
 * (board-socket.ts listens); with several fronts on one database, a change made
 * through front A must refresh the board open on front B. The store carries the
 * news between processes (PostgreSQL: NOTIFY/LISTEN), this relays it both ways.
 * Changes heard from other fronts are emitted here but never announced again, so
 * fronts do not echo each other forever.
 */
import type { Classroom } from './service.ts';
import type { ClassroomStore } from './store.ts';

/** changes within this long go out as one announcement per workshop (a queue's polls emit often) */
const COALESCE_MS = 100;

export async function relayBoardChanges(classroom: Classroom, store: ClassroomStore, log: (line: string) => void = () => {}): Promise<() => Promise<void>> {
  if (!store.announceChange || !store.onChange) return async () => {};
  const announce = store.announceChange.bind(store);
  let relaying = false;
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    timer = null;
    const sent = [...pending].map((id) => announce(id).catch((err: Error) => log(`could not tell the other fronts about a board change: ${err.message}`)));
    pending.clear();
    return Promise.all(sent);
  };
  const outgoing = (workshopId: string) => {
    if (relaying) return;
    pending.add(workshopId);
    timer ??= setTimeout(() => void flush(), COALESCE_MS);
  };
  classroom.on('changed', outgoing);
  const stopListening = await store.onChange((workshopId) => {
    // emit is synchronous: the flag covers exactly the listeners this call runs
    relaying = true;
    try {
      classroom.emit('changed', workshopId);
    } finally {
      relaying = false;
    }
    // a workshop closed on another front closes here too
    classroom.changedElsewhere(workshopId).catch((err: Error) => log(`after a change on another front: ${err.message}`));
  });
  return async () => {
    classroom.off('changed', outgoing);
    if (timer) { clearTimeout(timer); await flush(); }
    await stopListening();
  };
}
