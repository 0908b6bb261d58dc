/**
 * The session socket's plain numbers: terminal count and size bounds, and the close
 * codes (session-protocol.ts explains them). Part of the contract floor; unlike the
 * rest of it, the web app imports this file at run time, which is why it imports
 * nothing at all (docs/architecture.md, "web/"): the browser bundle gets these
 * constants and nothing else of the server.
 */

/** terminals per session; terminal numbers are 1..MAX_TERMINALS */
export const MAX_TERMINALS = 4;
/** bounds for a terminal size; anything else is rejected with `bad-size` */
export const MIN_COLS = 2;
export const MAX_COLS = 500;
export const MIN_ROWS = 1;
export const MAX_ROWS = 200;
/** largest WebSocket message the server accepts (bigger: close 1009) */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;
/** largest binary payload the server sends in one frame (header excluded) */
export const MAX_SERVER_FRAME_BYTES = 64 * 1024;

export const CloseCode = {
  /** normal: the client closed, or the session was deleted by its owner */
  normal: 1000,
  /** the server is shutting down */
  goingAway: 1001,
  /** repeated malformed messages */
  policy: 1008,
  /** a message bigger than MAX_CLIENT_MESSAGE_BYTES */
  tooBig: 1009,
  /** too many sockets waiting for their hello right now; retry shortly */
  tryAgainLater: 1013,
  /** missing or wrong token, or no hello in time */
  unauthorized: 4001,
  /** the Origin header is not allowed (cross-site WebSocket hijacking guard) */
  badOrigin: 4003,
  /** no such session (never existed, expired, reaped or deleted) */
  unknownSession: 4004,
  /** a newer socket for the same session took over (e.g. the page was reloaded in another tab) */
  replaced: 4009,
  /** the session ended: idle timeout, lifetime over, or deleted */
  sessionEnded: 4010,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
