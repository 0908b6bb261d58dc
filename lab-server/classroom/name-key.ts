/**
 * When two display names read the same on the instructor's board.
 *
 * Names are unique per workshop so the board tells learners apart, but "unique"
 * must mean "looks different": a learner who joins as "Аda" (Cyrillic А), "Ａｄａ"
 * (full width) or "AdaI" (capital I) would otherwise sit on the board as a second
 * "Ada"/"Adal", and the instructor could help, watch or grade the wrong person.
 *
 * The key folds what looks alike: NFKC (full width, mathematical and circled
 * letters), the `confusables` library's map of look-alike letters from other
 * scripts to Latin (Cyrillic, Greek, accented forms), the few ASCII pairs that
 * many fonts draw the same (I l 1 |, O 0, m rn, as in Unicode's confusables.txt),
 * and case. Why `confusables`: it is small, has no dependencies and covers the
 * scripts people use to impersonate Latin names; no maintained npm package ships
 * Unicode's full UTS #39 skeleton. Names in other scripts (한국어, 中文) are kept as
 * they are, so only a true look-alike is refused.
 */
import { remove } from 'confusables';

const ASCII_LOOKALIKES: Readonly<Record<string, string>> = { I: 'l', '1': 'l', '|': 'l', '0': 'O' };

export function nameKey(name: string): string {
  const folded = remove(name.normalize('NFKC'));
  return [...folded].map((c) => ASCII_LOOKALIKES[c] ?? c).join('')
    .toLowerCase()
    .replace(/m/g, 'rn')
    .replace(/\s+/g, ' ')
    .trim();
}

/** the first of `taken` that looks like `name`, if any */
export function lookalikeOf(name: string, taken: readonly string[]): string | undefined {
  const key = nameKey(name);
  return taken.find((t) => nameKey(t) === key);
}
