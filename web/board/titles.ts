/**
 * Lesson and step titles in the interface language for the classroom pages. The
 * server's board and workshop views carry the English titles (exports and every
 * viewer agree on them); the pages swap in the translation the lesson itself ships,
 * looked up by id, and keep the English one where a lesson has none.
 */
import { api } from '../api.ts';
import { getLang, type Lang } from '../i18n.ts';
import type { BoardData } from '../../lab-server/contract/board-protocol.ts';
import type { LearnerView } from '../../lab-server/contract/classroom-api.ts';

export interface LessonTitles { title: string; steps: Map<string, string> }

const cache = new Map<string, Promise<LessonTitles | null>>();

function lessonTitles(id: string, lang: Lang): Promise<LessonTitles | null> {
  const key = `${lang}\u0000${id}`;
  let p = cache.get(key);
  if (!p) {
    p = api.lesson(id, lang).then((l) => ({ title: l.title, steps: new Map(l.steps.map((s) => [s.id, s.title])) }), () => null);
    cache.set(key, p);
  }
  return p;
}

/** titles of these lessons in the interface language (English needs no lookup) */
export async function localTitles(ids: string[]): Promise<Map<string, LessonTitles>> {
  const lang = getLang();
  const out = new Map<string, LessonTitles>();
  if (lang === 'en') return out;
  const found = await Promise.all(ids.map((id) => lessonTitles(id, lang)));
  ids.forEach((id, i) => { if (found[i]) out.set(id, found[i]!); });
  return out;
}

export function localizeBoard(b: BoardData, t: Map<string, LessonTitles>): BoardData {
  if (t.size === 0) return b;
  const step = (lesson: string, id: string, fallback: string) => t.get(lesson)?.steps.get(id) ?? fallback;
  return {
    ...b,
    lessons: b.lessons.map((l) => ({ ...l, title: t.get(l.id)?.title ?? l.title, steps: l.steps.map((s) => ({ ...s, title: step(l.id, s.id, s.title) })) })),
    columns: b.columns.map((c) => ({ ...c, title: step(c.lesson, c.step, c.title) })),
  };
}

export function localizeLearnerView(v: LearnerView, t: Map<string, LessonTitles>): LearnerView {
  if (t.size === 0) return v;
  return {
    ...v,
    lessons: v.lessons.map((l) => ({ ...l, title: t.get(l.id)?.title ?? l.title, steps: l.steps.map((s) => ({ ...s, title: t.get(l.id)?.steps.get(s.id) ?? s.title })) })),
  };
}
