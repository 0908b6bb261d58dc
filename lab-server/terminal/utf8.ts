/**
 * UTF-8 boundaries. Terminal bytes are cut into frames and the scrollback ring drops
 * its oldest bytes; both cut only where a character starts, so every frame and every
 * replay is valid UTF-8 on its own (Korean and Chinese text never turns into U+FFFD
 * at a frame edge, even for a client that decodes frame by frame).
 */

/** true for 0b10xxxxxx, the bytes that continue a multibyte character */
export function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * The largest cut <= max at which `buf` may be split without cutting a character.
 * If buf[max] is a continuation byte we walk back to the start of that character
 * (at most 3 bytes: UTF-8 characters are at most 4 bytes long). Bytes that are not
 * valid UTF-8 anyway are cut at `max` rather than looping forever.
 */
export function safeCut(buf: Uint8Array, max: number): number {
  if (max >= buf.length) return buf.length;
  let i = max;
  while (i > 0 && max - i < 3 && isContinuation(buf[i])) i--;
  if (isContinuation(buf[i])) return max; // not UTF-8: no boundary nearby
  return i === 0 ? max : i;
}

/** Splits buf into pieces of at most `max` bytes, each ending on a character boundary. */
export function splitUtf8(buf: Buffer, max: number): Buffer[] {
  const out: Buffer[] = [];
  let rest = buf;
  while (rest.length > max) {
    const cut = safeCut(rest, max);
    out.push(rest.subarray(0, cut));
    rest = rest.subarray(cut);
  }
  if (rest.length) out.push(rest);
  return out;
}

/** Index of the first byte at or after `from` that starts a character (skips up to 3 continuation bytes). */
export function nextCharStart(buf: Uint8Array, from: number): number {
  let i = from;
  while (i < buf.length && i - from < 3 && isContinuation(buf[i])) i++;
  return i;
}
