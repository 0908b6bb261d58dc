/**
 * The lab socket protocol: one WebSocket per learner session, at
 *
 *   ws(s)://HOST/api/sessions/:id/socket[?token=TOKEN]
 *
 * multiplexing that session's terminals and its events.
 *
 * Part of the contract floor (docs/architecture.md): the server imports it, the web
 * app imports its types, and it imports nothing but zod and its contract siblings.
 *
 * ## Frames
 *
 * - Binary frames carry terminal bytes, both ways:
 *
 *       byte 0      terminal number (1..MAX_TERMINALS)
 *       bytes 1..   raw UTF-8 bytes (server->client: pty output; client->server: keystrokes)
 *
 *   UTF-8: the server never splits a multibyte character across two frames
 *   (each frame's payload is complete UTF-8 text on its own), so a client may
 *   decode frame by frame. Passing the bytes to xterm.js `write(Uint8Array)` is
 *   the recommended way anyway (its decoder keeps state across writes). Input
 *   from the client should be complete UTF-8 as well (TextEncoder output is);
 *   the server passes it to the pty as is.
 *
 * - Text frames carry JSON control messages, one object per frame, with a `type`.
 *   ClientMessage below lists what the client may send; ServerEvent what it gets.
 *   A malformed or unknown message gets an `error` event (code `bad-message`);
 *   the socket stays open. Repeated garbage closes it with 1008.
 *
 * ## Handshake
 *
 * The token comes either as `?token=` on the socket URL or in the first message,
 * `hello`. A client that gives it in the query still sends `hello` (it carries the
 * terminal size). Until `hello` arrives the server sends nothing. It then answers
 * `welcome` and, for every terminal that is already running (a reconnect),
 * `opened` + `replay-start` + the missed bytes + `replay-end`. The client then
 * opens the terminals it wants (`open`), which is a no-op for open ones.
 *
 * ## Flow control (xterm.js "flow control" guide, ACK/watermark variant)
 *
 * The server counts, per terminal, the bytes it sent that the client has not yet
 * acknowledged. When that exceeds `flow.highWater` the server pauses the pty
 * (the program inside blocks on write, so `yes` costs nothing while the browser
 * catches up); when acknowledgements bring it below `flow.lowWater` it resumes.
 * The client sends `ack {terminal, bytes}` with the number of bytes it has
 * *processed* since its previous ack (use the callback of xterm's write()), at
 * least every `flow.ackEveryBytes` bytes. A client that never acks sees at most
 * `highWater` bytes per terminal and then nothing more.
 * Replayed bytes count like any other output and must be acked too.
 *
 * ## Close codes
 *
 * `CloseCode` (session-constants.ts, with the size bounds): the `reason` string is a
 * human sentence the UI may show.
 */
import { z } from 'zod';
import { LANGS, type Lang } from './lang.ts';
import type { StepsReport } from './steps.ts';
import type { NsmapSnapshot } from './namespace-map.ts';

export {
  CloseCode, MAX_CLIENT_MESSAGE_BYTES, MAX_COLS, MAX_ROWS, MAX_SERVER_FRAME_BYTES, MAX_TERMINALS, MIN_COLS, MIN_ROWS,
} from './session-constants.ts';
import { MAX_COLS, MAX_ROWS, MAX_TERMINALS, MIN_COLS, MIN_ROWS } from './session-constants.ts';

const terminal = z.number().int().min(1).max(MAX_TERMINALS);
const cols = z.number().int().min(MIN_COLS).max(MAX_COLS);
const rows = z.number().int().min(MIN_ROWS).max(MAX_ROWS);

// ---------------------------------------------------------------- client -> server

/** First message. `token` may be omitted if the socket URL carried `?token=`. */
export const helloSchema = z.strictObject({
  type: z.literal('hello'),
  token: z.string().max(256).optional(),
  /** protocol version the client speaks; the server answers with its own in `welcome` */
  version: z.literal(1).optional(),
});
/**
 * Open terminal N (spawn a shell in the sandbox) at the given size. If N is already
 * running this only resizes it (and does not replay again).
 */
export const openSchema = z.strictObject({ type: z.literal('open'), terminal, cols, rows });
/** The client's terminal changed size. Out-of-bounds sizes get `error bad-size` and change nothing. */
export const resizeSchema = z.strictObject({ type: z.literal('resize'), terminal, cols, rows });
/** The client processed `bytes` more bytes of terminal N's output (see flow control). */
export const ackSchema = z.strictObject({ type: z.literal('ack'), terminal, bytes: z.number().int().min(0).max(2 ** 31) });
/** Close terminal N (kill its shell). Terminal 1 may be closed too; `open` brings it back. */
export const closeSchema = z.strictObject({ type: z.literal('close'), terminal });
/** Keep-alive / latency probe; answered with `pong` carrying the same id. */
export const pingSchema = z.strictObject({ type: z.literal('ping'), id: z.union([z.string().max(64), z.number()]).optional() });

/**
 * Start receiving the namespace map (namespace-map.ts): the server answers with a
 * `map` event carrying a full snapshot as soon as its next probe round ends (at
 * once if it has a current one), then a new `map` whenever a round finds the
 * machine changed. Subscribing again is a no-op. The subscription belongs to the
 * socket: a reconnect subscribes again.
 */
export const mapSubscribeSchema = z.strictObject({ type: z.literal('map-subscribe') });
/** Stop receiving `map` events (e.g. the map panel was closed); the server stops collecting the map when no socket wants it. */
export const mapUnsubscribeSchema = z.strictObject({ type: z.literal('map-unsubscribe') });

export const clientMessageSchema = z.discriminatedUnion('type', [helloSchema, openSchema, resizeSchema, ackSchema, closeSchema, pingSchema, mapSubscribeSchema, mapUnsubscribeSchema]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type HelloMessage = z.infer<typeof helloSchema>;
export type OpenMessage = z.infer<typeof openSchema>;
export type ResizeMessage = z.infer<typeof resizeSchema>;
export type AckMessage = z.infer<typeof ackSchema>;
export type MapSubscribeMessage = z.infer<typeof mapSubscribeSchema>;
export type MapUnsubscribeMessage = z.infer<typeof mapUnsubscribeSchema>;

// ---------------------------------------------------------------- server -> client

export interface FlowParams {
  /** pause the pty when this many sent bytes are unacknowledged */
  highWater: number;
  /** resume when acknowledgements bring it below this */
  lowWater: number;
  /** clients should ack at least this often (bytes processed) */
  ackEveryBytes: number;
}

/**
 * Namespace kinds a terminal tab names when its shell is in its own (after
 * `unshare`, `nsenter`, `ip netns exec`...). pid_for_children is left out: a shell
 * whose children go to a new pid namespace is still in its old one.
 */
export const SHELL_NAMESPACE_KINDS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const;
export type ShellNamespaceKind = (typeof SHELL_NAMESPACE_KINDS)[number];

export interface TerminalInfo {
  terminal: number;
  cols: number;
  rows: number;
  /** see ShellNamespacesEvent; absent until the shell has reported */
  namespaces?: ShellNamespaceKind[];
}

/** Answer to `hello`: the session as the server sees it. */
export interface WelcomeEvent {
  type: 'welcome';
  version: 1;
  session: string;
  lesson: string;
  lang: Lang;
  /** terminals running right now (they will be replayed next) */
  terminals: TerminalInfo[];
  maxTerminals: number;
  /** terminals the lesson asks for (open at least these) */
  lessonTerminals: number;
  flow: FlowParams;
  maxMessageBytes: number;
}
/** Terminal N is running (after `open`, or on reconnect for each running terminal). */
export interface OpenedEvent { type: 'opened'; terminal: number; cols: number; rows: number; /** true if this is an existing shell being re-attached */ reattached: boolean }
/**
 * Replayed bytes of terminal N follow (binary frames) until `replay-end`. The client
 * should reset its terminal before writing them. `truncated`: older output was
 * dropped from the bounded scrollback, so the replay starts mid-stream.
 */
export interface ReplayStartEvent { type: 'replay-start'; terminal: number; bytes: number; truncated: boolean }
export interface ReplayEndEvent { type: 'replay-end'; terminal: number }
/** Terminal N's shell ended (the learner typed `exit`, or it was killed). `open` starts a new one. */
export interface ExitedEvent { type: 'exited'; terminal: number; exitCode: number; signal: number | null }
/** The terminal's size as the server applied it (echo of `resize`, clamped never: bad sizes are rejected). */
export interface ResizedEvent { type: 'resized'; terminal: number; cols: number; rows: number }

/** One command-log entry: a shell finished a command (or printed its first prompt). */
export interface CommandLogEvent {
  type: 'command';
  kind: 'ready' | 'cmd' | 'prompt';
  terminal: number;
  command: string;
  status: number;
  /** ms since epoch, server clock */
  at: number;
}

/**
 * The namespaces in which the shell at terminal N's prompt differs from the
 * sandbox's own (its PID 1's), from the command log's report at each prompt: empty
 * for the terminal's usual shell, ['uts'] inside `unshare --uts bash`. Sent when it
 * changes (and after a terminal's new shell reports); `welcome` carries the current
 * value in `terminals`.
 */
export interface ShellNamespacesEvent { type: 'shell'; terminal: number; namespaces: ShellNamespaceKind[] }

/**
 * Pushed by the lesson engine: every step's status (`steps`) and which ids changed
 * since the previous push (`changed`). The last one is re-sent on reconnect.
 */
export interface StepsEvent extends StepsReport { type: 'steps' }

/**
 * The namespace map, to subscribed sockets only (`map-subscribe`): always a full,
 * bounded snapshot (never a diff), sent after a probe round whose snapshot differs
 * from the last one sent (seq and time aside). A client highlights what changed by
 * comparing with the previous snapshot it drew (namespaces by id, processes by pid,
 * objects by id/name).
 */
export interface MapEvent { type: 'map'; snapshot: NsmapSnapshot }

/**
 * The sandbox died under the session (lifetime over, killed, crashed). Terminals are
 * gone; the client should offer "reset" (POST /api/sessions/:id/reset).
 */
export interface SandboxDiedEvent { type: 'sandbox-died'; reason: string }
/**
 * Every process of the sandbox except its init was killed at once (the learner ran
 * `kill -9 -1`: the kernel spares only PID 1 and the caller, whose terminal dies
 * with it). The shells are gone, and so is everything that ran in the background
 * (servers, processes holding namespaces open). The sandbox itself still runs:
 * `open` starts new shells in it, and a reset (POST /api/sessions/:id/reset) gives
 * a fresh one. The client should offer both. Re-sent on reconnect until a terminal
 * is opened again.
 */
export interface SandboxEmptiedEvent { type: 'sandbox-emptied'; reason: string }
/**
 * The session got a fresh sandbox (someone called reset). All terminals were closed;
 * the client should clear its terminals and `open` them again.
 */
export interface SessionResetEvent { type: 'session-reset' }
/**
 * The session will end soon: 'idle' = nothing typed for a long time (any keystroke or
 * `open` postpones it; acks and pings do not), 'lifetime' = the sandbox reaches its
 * lifetime limit (a reset gives a fresh one). `inMs` from now. Sent once per period.
 */
export interface ExpiringEvent { type: 'expiring'; reason: 'idle' | 'lifetime'; inMs: number }
export interface PongEvent { type: 'pong'; id?: string | number }

export type ErrorCode =
  | 'bad-message' // not JSON, unknown type, wrong fields
  | 'bad-size' // cols/rows out of bounds
  | 'bad-terminal' // terminal number out of range, or not open (input/resize to a closed terminal)
  | 'not-ready' // message before hello
  | 'input-overflow' // the program is not reading its input: 1 MiB waits already, or it waited for seconds; input was dropped
  | 'spawn-failed' // the sandbox could not start a shell
  | 'sandbox-dead' // the session's sandbox is gone; reset it
  | 'internal';
/** Something the client sent was refused; `message` is a human sentence. The socket stays open. */
export interface ErrorEvent { type: 'error'; code: ErrorCode; message: string; terminal?: number }

export type ServerEvent =
  | WelcomeEvent | OpenedEvent | ReplayStartEvent | ReplayEndEvent | ExitedEvent | ResizedEvent
  | CommandLogEvent | ShellNamespacesEvent | StepsEvent | MapEvent | SandboxDiedEvent | SandboxEmptiedEvent | SessionResetEvent | ExpiringEvent | PongEvent | ErrorEvent;
export type ServerEventType = ServerEvent['type'];

// ---------------------------------------------------------------- binary framing helpers

/** Builds a binary frame: [terminal, ...payload]. Works with Uint8Array (browser) and Buffer (node). */
export function encodeTerminalFrame(terminal: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.byteLength + 1);
  out[0] = terminal;
  out.set(payload, 1);
  return out;
}

/** Splits a binary frame; null if it is empty or names no valid terminal. */
export function decodeTerminalFrame(frame: Uint8Array): { terminal: number; data: Uint8Array } | null {
  if (frame.byteLength < 1) return null;
  const terminal = frame[0];
  if (terminal < 1 || terminal > MAX_TERMINALS) return null;
  return { terminal, data: frame.subarray(1) };
}

// ---------------------------------------------------------------- HTTP API shapes (JSON bodies)

/** POST /api/sessions body */
export const createSessionSchema = z.strictObject({
  lesson: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lesson must be a lesson id like "03-ipc-namespace"'),
  lang: z.enum(LANGS).default('en'),
});
export type CreateSessionRequest = z.input<typeof createSessionSchema>;

/** POST /api/sessions answer (201), GET /api/sessions/:id answer (without token) */
export interface SessionInfo {
  id: string;
  lesson: string;
  lang: Lang;
  /** path of the socket, relative to the server */
  socket: string;
  createdAt: string;
  /** when the sandbox's lifetime ends (ISO time) */
  expiresAt: string;
  /** idle sessions (no socket, no input) are ended after this */
  idleTimeoutMs: number;
  terminals: TerminalInfo[];
  lessonTerminals: number;
  state: 'running' | 'dead';
  /** the lesson engine's latest step statuses, if it pushed any */
  steps: StepsEvent | null;
}
export interface CreateSessionResponse extends SessionInfo {
  /** send as `Authorization: Bearer TOKEN` on HTTP calls, and in `hello` (or ?token=) on the socket */
  token: string;
}
