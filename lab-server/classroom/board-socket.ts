/**
 * The instructor's board socket at /api/classroom/socket: live board snapshots for
 * one workshop and a read-only watch of one learner's terminals.
 *
 *   client -> server (JSON text frames, boardClientMessageSchema):
 *     {type:'hello', secret?}         first message, within 10 s; without the secret,
 *                                     the upgrade must carry the instructor's sign-in cookie
 *     {type:'subscribe', workshop}    board snapshots of that workshop from now on
 *     {type:'watch', learner}         terminal output of that learner (replay, then live)
 *     {type:'watch-map-subscribe'}   during a watch: that learner's namespace map too
 *     {type:'watch-map-unsubscribe'} {type:'unwatch'} {type:'ping'}
 *   server -> client: BoardServerMessage (JSON), and during a watch binary frames
 *     [terminal number, ...output bytes] as on the learner's own socket.
 *
 * Read-only by construction: the watch subscribes to output through
 * LabSessionPort.watch, which has no input path at all, and a binary frame from the
 * board is refused, never forwarded anywhere.
 *
 * Snapshots are whole boards (40 learners × a few dozen steps is a few KiB), sent at
 * most every `throttleMs` while changes arrive, and every `refreshMs` anyway so that
 * "time on step" and "stuck" move without any event.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { secretMatches } from './codes.ts';
import { RateLimiter } from '../lib/rate-limit.ts';
import { BOARD_SOCKET_PATH, boardClientMessageSchema, type BoardServerMessage } from '../contract/board-protocol.ts';
import type { Classroom } from './service.ts';
import type { Workshop } from './store.ts';

export const BoardClose = { policy: 1008, tooBig: 1009, unauthorized: 4001, badOrigin: 4003, goingAway: 1001 } as const;

export interface BoardSocketOptions {
  classroom: Classroom;
  instructorSecret: string;
  /** the upgrade request carries a signed-in instructor's cookie (instructor-sessions.ts) */
  signedIn?: (req: IncomingMessage) => Promise<boolean>;
  /** same-origin check of the upgrade (cross-site WebSocket hijacking); the server passes its own */
  originAllowed: (req: IncomingMessage) => boolean;
  helloTimeoutMs?: number;
  throttleMs?: number;
  refreshMs?: number;
  /** a watcher whose socket has this much unsent data gets frames dropped (and is told) */
  watchBufferBytes?: number;
  log?: (line: string) => void;
}

const MAX_MESSAGE_BYTES = 16 * 1024;
const MAX_BAD = 20;

export interface BoardSocketServer {
  /** true when the request was for the board socket (and is now handled) */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): void;
}

export function createBoardSocketServer(opts: BoardSocketOptions): BoardSocketServer {
  const log = opts.log ?? ((l: string) => console.warn(`nslab classroom: ${l}`));
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
  const { classroom } = opts;
  // as for the HTTP routes: wrong secrets per address are limited (a hand-set secret may be weak)
  const failedSecrets = new RateLimiter({ burst: 20, perMinute: 10 });

  const handle = (ws: WebSocket, req: IncomingMessage) => {
    const send = (m: BoardServerMessage) => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m)); };
    if (!opts.originAllowed(req)) {
      ws.close(BoardClose.badOrigin, 'This page is not allowed to open the board (bad Origin).');
      return;
    }
    let authed = false;
    // looked up once, at the upgrade: the cookie cannot change on an open socket
    const byCookie = opts.signedIn ? opts.signedIn(req).catch(() => false) : Promise.resolve(false);
    let bad = 0;
    let workshop: Workshop | null = null;
    let stuckMinutes: number | undefined;
    let unsubscribe: (() => void) | null = null;
    let stopWatch: (() => void) | null = null;
    let pending: NodeJS.Timeout | null = null;
    let lastSent = 0;
    let refresh: NodeJS.Timeout | null = null;

    const helloTimer = setTimeout(() => ws.close(BoardClose.unauthorized, 'No hello within 10 s.'), opts.helloTimeoutMs ?? 10_000);
    const refuse = (code: string, message: string) => {
      send({ type: 'error', code, message });
      if (++bad > MAX_BAD) ws.close(BoardClose.policy, 'Too many refused messages.');
    };

    const pushBoard = async () => {
      pending = null;
      if (!workshop) return;
      lastSent = Date.now();
      try {
        // re-read: closing the workshop changes it
        const w = (await classroom.store.workshop(workshop.id)) ?? workshop;
        send({ type: 'board', board: await classroom.board(w, { stuckMinutes }) });
      } catch (err) {
        log(`board of ${workshop.code} failed: ${(err as Error).stack ?? err}`);
      }
    };
    const schedule = () => {
      if (pending) return;
      const wait = Math.max(0, lastSent + (opts.throttleMs ?? 250) - Date.now());
      pending = setTimeout(() => void pushBoard(), wait);
    };

    /** the watched session, for its namespace map */
    let watchedSession: string | null = null;
    let stopMap: (() => void) | null = null;
    const endMap = () => { stopMap?.(); stopMap = null; };
    const endWatch = () => { endMap(); stopWatch?.(); stopWatch = null; watchedSession = null; };

    const watchMap = () => {
      endMap();
      if (!watchedSession || !stopWatch) return refuse('not-watching', 'watch a learner first');
      const limit = opts.watchBufferBytes ?? 1024 * 1024;
      const stop = classroom.sessions?.watchMap?.(watchedSession, (snapshot) => {
        // a map is whole each time: one the socket has no room for is skipped, the next replaces it
        if (ws.readyState !== ws.OPEN || ws.bufferedAmount > limit) return;
        send({ type: 'watch-map', snapshot });
      });
      if (!stop) return refuse('no-map', 'this learner\'s namespace map is not available');
      stopMap = stop;
    };

    const watch = async (learnerId: string) => {
      endWatch();
      if (!workshop) return refuse('not-subscribed', 'subscribe to a workshop first');
      const handle = classroom.learnerSession(workshop.id, learnerId);
      if (!handle || !classroom.sessions) return refuse('no-session', 'this learner has no running sandbox right now');
      const learner = await classroom.store.learner(learnerId);
      // the client resets its terminals on watch-started; the replay follows it
      send({ type: 'watch-started', learner: learnerId, name: learner?.displayName ?? '', session: handle.id });
      const limit = opts.watchBufferBytes ?? 1024 * 1024;
      let dropped = 0;
      /** false once this watch ended or was replaced by another */
      let live = true;
      const wsId = workshop.id;
      const unwatch = classroom.sessions.watch(handle.id, {
        data(terminal, bytes) {
          if (ws.readyState !== ws.OPEN) return;
          if (ws.bufferedAmount > limit) { dropped += bytes.byteLength; return; }
          if (dropped) { send({ type: 'watch-lagged', droppedBytes: dropped }); dropped = 0; }
          const frame = Buffer.allocUnsafe(bytes.byteLength + 1);
          frame[0] = terminal;
          frame.set(bytes, 1);
          ws.send(frame, { binary: true });
        },
        terminal(e) { send({ type: 'watch-terminal', terminal: e.terminal, state: e.state }); },
        size(e) { send({ type: 'watch-size', terminal: e.terminal, cols: e.cols, rows: e.rows }); },
        ended(reason) {
          if (!live) return;
          live = false;
          stopWatch = null;
          endMap();
          watchedSession = null;
          send({ type: 'watch-ended', learner: learnerId, reason });
          if (workshop?.id === wsId) schedule();
        },
      });
      if (!unwatch) return refuse('no-session', 'this learner has no running sandbox right now');
      if (!live) { unwatch(); return; }
      stopWatch = () => { live = false; unwatch(); };
      watchedSession = handle.id;
    };

    const onMessage = async (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        // the board is read-only: keystrokes have nowhere to go
        if (!authed) { ws.close(BoardClose.unauthorized, 'The first message must be {"type":"hello","secret":...}.'); return; }
        return refuse('read-only', 'the board is read-only: it cannot type into a learner\'s terminal');
      }
      let raw: unknown;
      try { raw = JSON.parse(toBuffer(data).toString('utf8')); } catch { raw = undefined; }
      const parsed = boardClientMessageSchema.safeParse(raw);
      if (!authed) {
        clearTimeout(helloTimer);
        const addr = req.socket.remoteAddress ?? 'unknown';
        if (failedSecrets.retryAfter(addr) > 0) {
          ws.close(BoardClose.unauthorized, `Too many wrong instructor secrets; try again in ${failedSecrets.retryAfter(addr)} s.`);
          return;
        }
        const hello = parsed.success && parsed.data.type === 'hello' ? parsed.data : null;
        const ok = hello !== null && (hello.secret !== undefined ? secretMatches(hello.secret, opts.instructorSecret) : await byCookie);
        if (ws.readyState !== ws.OPEN) return;
        if (!ok) {
          failedSecrets.take(addr);
          ws.close(BoardClose.unauthorized, 'Wrong or missing instructor secret.');
          return;
        }
        authed = true;
        send({ type: 'welcome' });
        return;
      }
      if (!parsed.success) {
        const i = parsed.error.issues[0];
        return refuse('bad-message', `bad message: ${i ? `${i.path.join('.') || '(message)'}: ${i.message}` : 'invalid'}`);
      }
      const m = parsed.data;
      switch (m.type) {
        case 'hello': return;
        case 'ping': return send({ type: 'pong', ...(m.id !== undefined ? { id: m.id } : {}) });
        case 'subscribe': {
          const w = await classroom.workshopByCode(m.workshop);
          if (!w) return refuse('unknown-workshop', 'no workshop has this code');
          // the same workshop again (e.g. a new stuck threshold) keeps the watch going
          if (workshop?.id !== w.id) endWatch();
          unsubscribe?.();
          workshop = w;
          stuckMinutes = m.stuckMinutes;
          const listener = (id: string) => { if (id === w.id) schedule(); };
          classroom.on('changed', listener);
          unsubscribe = () => classroom.off('changed', listener);
          if (refresh) clearInterval(refresh);
          refresh = setInterval(schedule, opts.refreshMs ?? 15_000);
          await pushBoard();
          return;
        }
        case 'watch': return watch(m.learner);
        case 'unwatch': return endWatch();
        case 'watch-map-subscribe': return watchMap();
        case 'watch-map-unsubscribe': return endMap();
      }
    };

    // one message at a time, in order: a hello answered from the sign-in cookie waits
    // for the store, and the subscribe sent right behind it must not overtake it
    let queue = Promise.resolve();
    ws.on('message', (data, isBinary) => {
      queue = queue.then(() => onMessage(data, isBinary)).catch((err: unknown) => {
        log(`board socket: ${(err as Error).stack ?? err}`);
        send({ type: 'error', code: 'internal', message: 'the board could not do that' });
      });
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      if (pending) clearTimeout(pending);
      if (refresh) clearInterval(refresh);
      unsubscribe?.();
      endWatch();
    });
    ws.on('error', (e) => log(`board socket error: ${e.message}`));
  };

  return {
    handleUpgrade(req, socket, head) {
      let pathname: string;
      try { pathname = new URL(req.url ?? '/', 'http://x').pathname; } catch { return false; }
      if (pathname !== BOARD_SOCKET_PATH) return false;
      wss.handleUpgrade(req, socket, head, (ws) => handle(ws, req));
      return true;
    },
    close() {
      for (const ws of wss.clients) ws.close(BoardClose.goingAway, 'The lab server is shutting down.');
      wss.close();
    },
  };
}

/**
 * Put the board socket in front of the server's other upgrade handlers: the lab
 * server answers 404 to any upgrade path it does not know, so the board must see the
 * request first, and everything else is passed on unchanged.
 */
export function mountBoardSocket(server: import('node:http').Server, board: BoardSocketServer): void {
  const others = server.listeners('upgrade') as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
  server.removeAllListeners('upgrade');
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (board.handleUpgrade(req, socket, head)) return;
    for (const l of others) l.call(server, req, socket, head);
  });
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
