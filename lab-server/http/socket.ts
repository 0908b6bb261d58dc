/**
 * WebSocket upgrade on /api/sessions/:id/socket. Every refusal happens *after*
 * the upgrade, as a close with a 4xxx code and a reason, because a browser cannot
 * see the HTTP status of a failed handshake and the UI should say what went wrong.
 * A refused socket gets nothing but the close frame.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { CloseCode, helloSchema, MAX_CLIENT_MESSAGE_BYTES } from '../contract/session-protocol.ts';
import { originAllowed } from './security.ts';
import type { SessionManager } from './sessions.ts';

const SOCKET_PATH = /^\/api\/sessions\/([A-Za-z0-9_-]{1,64})\/socket$/;

export interface SocketOptions {
  allowedOrigins: readonly string[];
  helloTimeoutMs?: number;
  /** sockets past the upgrade but before hello, over all sessions; more are closed with 1013 */
  maxPendingSockets?: number;
  log: (line: string) => void;
}

export function attachSockets(server: Server, sessions: SessionManager, opts: SocketOptions): WebSocketServer {
  // maxPayload: ws closes with 1009 on anything bigger, before buffering it all
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false });
  const helloTimeoutMs = opts.helloTimeoutMs ?? 10_000;
  const maxPending = opts.maxPendingSockets ?? 256;
  let pending = 0;

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let url: URL;
    try { url = new URL(req.url ?? '/', 'http://x'); } catch { socket.destroy(); return; }
    const m = SOCKET_PATH.exec(url.pathname);
    if (!m) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nNo WebSocket here; sessions use /api/sessions/ID/socket\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const origin = originAllowed(req, opts.allowedOrigins);
      if (!origin.ok) {
        opts.log(`socket refused: origin ${JSON.stringify(origin.origin).slice(0, 100)} not allowed`);
        ws.close(CloseCode.badOrigin, 'This page is not allowed to open lab sessions (bad Origin).');
        return;
      }
      const session = sessions.get(m[1]);
      if (!session) {
        ws.close(CloseCode.unknownSession, 'No such session: it ended or never existed. Start the lesson again.');
        return;
      }
      const queryToken = url.searchParams.get('token');
      if (queryToken !== null && !session.checkToken(queryToken)) {
        ws.close(CloseCode.unauthorized, 'Wrong session token.');
        return;
      }
      // sockets waiting for hello hold memory and a timer; a flood of them is refused
      if (pending >= maxPending) {
        ws.close(CloseCode.tryAgainLater, 'The lab server is busy; try again in a moment.');
        return;
      }
      pending++;
      let counted = true;
      const settle = () => { if (counted) { counted = false; pending--; } };
      // wait for hello; nothing is sent before it
      const timer = setTimeout(() => ws.close(CloseCode.unauthorized, `No hello within ${Math.round(helloTimeoutMs / 1000)} s.`), helloTimeoutMs);
      const onFirst = (data: RawData, isBinary: boolean) => {
        clearTimeout(timer);
        settle();
        ws.off('message', onFirst);
        let hello;
        try {
          hello = isBinary ? null : helloSchema.safeParse(JSON.parse(data.toString()));
        } catch { hello = null; }
        if (!hello || !hello.success) {
          ws.close(CloseCode.unauthorized, 'The first message must be {"type":"hello","token":...}.');
          return;
        }
        const token = hello.data.token ?? queryToken;
        if (!session.checkToken(token)) {
          ws.close(CloseCode.unauthorized, token ? 'Wrong session token.' : 'Missing session token.');
          return;
        }
        if (session.ended) {
          ws.close(CloseCode.unknownSession, 'No such session: it ended or never existed. Start the lesson again.');
          return;
        }
        session.touch();
        ws.on('close', () => session.touch()); // the idle clock starts when the tab goes away
        session.hub.attachSocket(ws);
      };
      ws.on('message', onFirst);
      ws.on('close', () => { clearTimeout(timer); settle(); });
      ws.on('error', (e) => opts.log(`socket error (session ${session.id}): ${e.message}`));
    });
  });
  return wss;
}

export type { WebSocket };
