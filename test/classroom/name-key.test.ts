/**
 * Display names that read the same on the board get the same key; names that
 * only share letters, or are written in another script, do not.
 */
import { describe, expect, it } from 'vitest';
import { lookalikeOf, nameKey } from '../../lab-server/classroom/name-key.ts';

describe('nameKey: names that look the same on the board', () => {
  it.each([
    ['Ada', '\u0410da', 'Cyrillic capital A'],
    ['Ada', 'Ad\u0430', 'Cyrillic small a'],
    ['Ada', 'Ａｄａ', 'full width'],
    ['Ada', '𝐀𝐝𝐚', 'mathematical bold'],
    ['Ada', 'ADA', 'case'],
    ['Adal', 'AdaI', 'capital I for small l'],
    ['Ali', 'A1i', 'digit one for small l'],
    ['Bo', 'B0', 'digit zero for O'],
    ['Mia', 'rnia', 'rn for m'],
    ['Ada Lovelace', 'Ada  Lovelace', 'doubled space'],
    ['Tom', '\u03a4\u03bfm', 'Greek capital tau and small omicron'],
    ['José', 'Jose\u0301', 'combining accent (NFKC)'],
  ])('%s and %s (%s)', (a, b) => {
    expect(nameKey(a)).toBe(nameKey(b));
  });

  it.each([
    ['Ada', 'Adam'],
    ['Ada', 'Ada2'],
    ['Ada', 'Aida'],
    ['Mia', 'Nia'],
    ['김민수', '김민준'],
    ['王小明', '王小朋'],
    ['李', '季'],
    ['Иван', 'Ivan'],
  ])('%s and %s stay apart', (a, b) => {
    expect(nameKey(a)).not.toBe(nameKey(b));
  });

  it('finds the look-alike among the names taken', () => {
    expect(lookalikeOf('\u0410da', ['Bob', 'Ada'])).toBe('Ada');
    expect(lookalikeOf('Adam', ['Bob', 'Ada'])).toBeUndefined();
    expect(lookalikeOf('김민수', ['김민수'])).toBe('김민수');
  });
});
