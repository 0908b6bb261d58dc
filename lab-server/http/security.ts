/** Security headers and the WebSocket Origin check. */
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/**
 * CSP for the web app. xterm.js sets inline styles on its elements and injects a
 * <style> element, and shiki's highlighted code carries inline styles, so styles
 * need 'unsafe-inline'; scripts never do. The socket is same-origin; 'self' covers
 * ws:/wss: in CSP 3 browsers, the explicit ws:// and wss:// host forms cover the rest.
 */
export function securityHeaders(req: Request, res: Response, next: NextFunction): void {
  const host = req.headers.host && /^[A-Za-z0-9.\-:[\]]+$/.test(req.headers.host) ? req.headers.host : null;
  const connect = host ? `'self' ws://${host} wss://${host}` : `'self'`;
  res.setHeader('Content-Security-Policy', [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src ${connect}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=()');
  next();
}

/**
 * Cross-site WebSocket hijacking guard. Browsers always send Origin on a WebSocket
 * handshake and pages cannot forge it; we accept the server's own origin (Origin's
 * host equals the Host the browser connected to, which also holds behind vite's dev
 * proxy) and any configured extra origins. A missing Origin means a non-browser
 * client (tests, CLI), which has no ambient credentials to abuse and still needs
 * the session token.
 */
export function originAllowed(req: IncomingMessage, allowed: readonly string[]): { ok: true } | { ok: false; origin: string } {
  const origin = req.headers.origin;
  if (origin === undefined) return { ok: true };
  if (allowed.includes('*') || allowed.includes(origin)) return { ok: true };
  let host: string;
  try { host = new URL(origin).host; } catch { return { ok: false, origin }; }
  if (host && req.headers.host && host.toLowerCase() === req.headers.host.toLowerCase()) return { ok: true };
  return { ok: false, origin };
}
