/**
 * Instructors stay signed in: the secret link is opened once in a browser, which
 * trades the secret for an HttpOnly cookie (POST /api/classroom/instructor/session).
 * Every tab of that browser, and the browser after a restart, then reaches the board
 * without the link; the secret itself is kept nowhere in the browser.
 *
 * Revocable three ways: "Sign out" removes this browser's sign-in, "Sign out
 * everywhere" removes all of them, and a new instructor secret (a restart without
 * NSLAB_INSTRUCTOR_SECRET, or a changed one) voids every sign-in made with the old.
 * Sign-ins expire after `maxAgeMs` (default 30 days) whatever the cookie says.
 */
import type { IncomingMessage } from 'node:http';
import { generateToken, hashToken } from './codes.ts';
import { readCookie, setCookie } from './cookies.ts';
import type { ClassroomStore } from './store.ts';

export const INSTRUCTOR_COOKIE = 'nslab_instructor';

export class InstructorSessions {
  private readonly secretHash: string;
  readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(private readonly store: ClassroomStore, secret: string, opts: { maxAgeMs?: number; now?: () => number } = {}) {
    this.secretHash = hashToken(secret);
    this.maxAgeMs = opts.maxAgeMs ?? 30 * 24 * 3600_000;
    this.now = opts.now ?? Date.now;
  }

  /** a new sign-in; returns the Set-Cookie value */
  async signIn(secure: boolean): Promise<string> {
    const token = generateToken();
    await this.store.addInstructorSession(hashToken(token), this.secretHash, this.now(), this.now() - this.maxAgeMs);
    return setCookie(INSTRUCTOR_COOKIE, token, { maxAgeSeconds: Math.floor(this.maxAgeMs / 1000), sameSite: 'Strict', secure });
  }

  /** the request carries a live sign-in of the current secret */
  async signedIn(req: IncomingMessage): Promise<boolean> {
    const token = readCookie(req, INSTRUCTOR_COOKIE);
    if (!token) return false;
    return this.store.instructorSessionValid(hashToken(token), this.secretHash, this.now() - this.maxAgeMs, this.now());
  }

  /** signs this browser (or every browser) out; returns the Set-Cookie value that clears the cookie */
  async signOut(req: IncomingMessage, everywhere: boolean, secure: boolean): Promise<string> {
    const token = readCookie(req, INSTRUCTOR_COOKIE);
    if (everywhere) await this.store.removeInstructorSessions(null);
    else if (token) await this.store.removeInstructorSessions(hashToken(token));
    return setCookie(INSTRUCTOR_COOKIE, '', { maxAgeSeconds: 0, sameSite: 'Strict', secure });
  }
}
