/**
 * The languages of nslab: lessons, check messages, the web app and the classroom all
 * speak these. Adding a language starts here (and in docs/authoring-lessons.md).
 */
export const LANGS = ['en', 'ko', 'zh'] as const;
export type Lang = (typeof LANGS)[number];

/** English is the source every other language falls back to. */
export const DEFAULT_LANG: Lang = 'en';

export function isLang(s: unknown): s is Lang {
  return typeof s === 'string' && (LANGS as readonly string[]).includes(s);
}
