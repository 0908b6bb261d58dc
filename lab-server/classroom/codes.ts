/**
 * Join codes, learner tokens and the instructor secret.
 *
 * Join codes are read aloud and copied from a projector, so the alphabet leaves out
 * the look-alikes 0/O and 1/I. Six characters from 32 symbols is 2^30 codes; with a
 * handful of live workshops and joins rate-limited per client (lib/rate-limit.ts),
 * guessing a live code by enumeration is hopeless. Codes come from the CSPRNG, never
 * a counter, so one code says nothing about the next.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export const CODE_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
export const CODE_LENGTH = 6;
export const CODE_PATTERN = new RegExp(`^[${CODE_ALPHABET}]{${CODE_LENGTH}}$`);

export function generateJoinCode(): string {
  let s = '';
  for (let i = 0; i < CODE_LENGTH; i++) s += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return s;
}

/** What a person typed → the canonical code, or null. Lower case and spaces/dashes are forgiven. */
export function normalizeJoinCode(input: string): string | null {
  const c = input.toUpperCase().replace(/[\s-]/g, '');
  return CODE_PATTERN.test(c) ? c : null;
}

/** 256 random bits, URL-safe: goes in Authorization headers and socket URLs. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Only this hash is stored: a leaked database file does not let anyone act as a learner. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Random ids for rows (workshops, learners, grading runs): unguessable, not sequential. */
export function generateId(): string {
  return randomBytes(12).toString('base64url');
}

/** Constant-time comparison of a presented secret with the expected one (hashing first equalizes lengths). */
export function secretMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
