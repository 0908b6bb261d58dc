/**
 * The two cookies of the classroom: a self-paced learner's (self-paced-routes.ts) and
 * a signed-in instructor's (instructor-sessions.ts). Both hold 256 random bits
 * (base64url) whose SHA-256 is all the store keeps, both are HttpOnly (a script on
 * the page, injected or not, cannot read them), limited to /api, and Secure when the
 * request came over HTTPS (req.secure honours the server's trust-proxy setting).
 */
import type { IncomingMessage } from 'node:http';

/** The value of one cookie from the Cookie header (RFC 6265); null unless it looks like one of our tokens. */
export function readCookie(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0 || part.slice(0, i).trim() !== name) continue;
    const v = part.slice(i + 1).trim();
    return /^[A-Za-z0-9_-]{1,256}$/.test(v) ? v : null;
  }
  return null;
}

/**
 * A Set-Cookie value. `sameSite`: Lax for the learner (a link from a chat or an LMS
 * still opens their lesson with their progress), Strict for the instructor (no
 * request started by another site carries it).
 */
export function setCookie(name: string, value: string, o: { maxAgeSeconds: number; sameSite: 'Lax' | 'Strict'; secure: boolean }): string {
  return `${name}=${value}; Path=/api; Max-Age=${o.maxAgeSeconds}; HttpOnly; SameSite=${o.sameSite}${o.secure ? '; Secure' : ''}`;
}
