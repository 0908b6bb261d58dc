/**
 * The session socket (lab-server/contract/session-protocol.ts): one WebSocket multiplexing
 * the session's terminals and its events. This class owns reconnecting and the
 * wire format; it knows nothing about xterm or the DOM.
 *
 * The protocol's types come type-only from the contract; its numbers (close codes,
 * size bounds) from session-constants.ts, the one contract file the web app may load at
 * run time because it imports nothing (docs/architecture.md). The rest of the contract
 * would pull zod and server code into the bundle.
 */
import type { ClientMessage, FlowParams, ServerEvent } from '../../lab-server/contract/session-protocol.ts';
import { CloseCode, MAX_COLS, MAX_ROWS, MAX_TERMINALS, MIN_COLS, MIN_ROWS } from '../../lab-server/contract/session-constants.ts';

export type { FlowParams, ServerEvent };

export const CLOSE = CloseCode;

/** welcome.maxTerminals is authoritative once connected */
export const DEFAULT_MAX_TERMINALS = MAX_TERMINALS;
export const SIZE_BOUNDS = { minCols: MIN_COLS, maxCols: MAX_COLS, minRows: MIN_ROWS, maxRows: MAX_ROWS } as const;

export type ConnectionState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'open' }
  /** closed for good: reconnecting would not help (bad token, session gone, replaced ...) */
  | { kind: 'closed'; code: number; reason: string; retryable: boolean }
  | { kind: 'waiting'; code: number; reason: string; retryInMs: number; attempt: number };

export interface SocketHandlers {
  onState(state: ConnectionState): void;
  onEvent(event: ServerEvent): void;
  onData(terminal: number, data: Uint8Array): void;
}

/** Codes after which trying again cannot succeed without the user (or a new session). */
const FINAL = new Set<number>([CLOSE.unauthorized, CLOSE.badOrigin, CLOSE.unknownSession, CLOSE.replaced, CLOSE.sessionEnded, CLOSE.normal, CLOSE.policy, CLOSE.tooBig]);

const PING_EVERY_MS = 25_000;

export class LabSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private disposed = false;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly sessionId: string,
    private readonly token: string,
    private readonly handlers: SocketHandlers,
  ) {}

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  connect(): void {
    if (this.disposed) return;
    this.clearTimers();
    this.ws?.close();
    this.attempt++;
    this.handlers.onState({ kind: 'connecting', attempt: this.attempt });
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // the token goes in `hello`, not the URL, so it never lands in access logs
    const ws = new WebSocket(`${proto}//${location.host}/api/sessions/${encodeURIComponent(this.sessionId)}/socket`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (ws !== this.ws) return;
      this.send({ type: 'hello', token: this.token, version: 1 });
      this.pingTimer = setInterval(() => this.send({ type: 'ping' }), PING_EVERY_MS);
    });
    ws.addEventListener('message', (e: MessageEvent<string | ArrayBuffer>) => {
      if (ws !== this.ws) return;
      if (typeof e.data === 'string') {
        let event: ServerEvent;
        try {
          event = JSON.parse(e.data) as ServerEvent;
        } catch {
          return;
        }
        if (event.type === 'welcome') {
          this.attempt = 0;
          this.handlers.onState({ kind: 'open' });
        }
        this.handlers.onEvent(event);
        return;
      }
      const frame = new Uint8Array(e.data);
      if (frame.byteLength < 1) return;
      this.handlers.onData(frame[0], frame.subarray(1));
    });
    ws.addEventListener('close', (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.clearTimers();
      if (this.disposed) return;
      const reason = e.reason || '';
      if (FINAL.has(e.code)) {
        this.handlers.onState({ kind: 'closed', code: e.code, reason, retryable: e.code === CLOSE.replaced });
        return;
      }
      // 1006 (network blip, server restart), 1001 (server going away), 1011 ...:
      // back off, capped, with jitter so a restarted server is not hit by everyone at once
      const base = Math.min(15_000, 500 * 2 ** Math.min(this.attempt, 5));
      const retryInMs = Math.round(base / 2 + Math.random() * base / 2);
      this.handlers.onState({ kind: 'waiting', code: e.code, reason, retryInMs, attempt: this.attempt });
      this.retryTimer = setTimeout(() => this.connect(), retryInMs);
    });
  }

  /** reconnect at once (the "reconnect now" button, or after a reset) */
  reconnect(): void {
    this.attempt = 0;
    this.connect();
  }

  send(msg: ClientMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  input(terminal: number, data: string): void {
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    const bytes = this.encoder.encode(data);
    // stay under the server's message limit even for a huge paste
    const CHUNK = 32 * 1024;
    for (let i = 0; i < bytes.byteLength; i += CHUNK) {
      const part = bytes.subarray(i, i + CHUNK);
      const frame = new Uint8Array(part.byteLength + 1);
      frame[0] = terminal;
      frame.set(part, 1);
      this.ws.send(frame);
    }
  }

  dispose(): void {
    this.disposed = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    ws?.close(CLOSE.normal);
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
  }
}
