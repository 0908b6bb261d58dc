/**
 * Calls to /api/classroom. The learner token lives in localStorage (it must survive
 * closing the tab and a server restart: it is the learner's only identity). The
 * instructor secret is kept nowhere: the instructor link trades it once for an
 * HttpOnly sign-in cookie that the browser sends with every same-origin call, which
 * page scripts cannot read and the instructor can revoke (sign out).
 */
import { ApiError } from '../api.ts';
import type { BoardData } from '../../lab-server/contract/board-protocol.ts';
import type { LearnerView, OpenLessonResult, WorkshopInfo } from '../../lab-server/contract/classroom-api.ts';

const LEARNER_KEY = 'nslab.learner';

export function learnerToken(): string | null {
  try {
    const v = JSON.parse(localStorage.getItem(LEARNER_KEY) ?? 'null') as { token?: unknown } | null;
    return v && typeof v.token === 'string' ? v.token : null;
  } catch {
    return null;
  }
}
export function setLearnerToken(token: string | null): void {
  if (token) localStorage.setItem(LEARNER_KEY, JSON.stringify({ token }));
  else localStorage.removeItem(LEARNER_KEY);
}

async function request<T>(method: string, url: string, token: string | null, body?: unknown, raw = false): Promise<T> {
  const headers: Record<string, string> = { Accept: raw ? '*/*' : 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError('network error: is the lab server running?', 0);
  }
  if (raw && res.ok) return (await res.blob()) as T;
  const text = await res.text();
  let data: unknown = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; retryAfterSeconds?: number } } | null)?.error;
    throw new ApiError(err?.message ?? `${res.status} ${res.statusText}`, res.status, err?.retryAfterSeconds ?? null, err?.code ?? null);
  }
  return data as T;
}

const C = '/api/classroom';
const enc = encodeURIComponent;

export const classroomApi = {
  join: (code: string, name: string) => request<{ token: string; learner: { id: string; name: string }; workshop: { code: string; title: string } }>('POST', `${C}/join`, null, { code, name }),
  me: (token: string) => request<LearnerView>('GET', `${C}/me`, token),
  openLesson: (token: string, lesson: string, lang: string) => request<OpenLessonResult>('POST', `${C}/me/lessons/${enc(lesson)}/session`, token, { lang }),
  leave: (token: string) => request<void>('DELETE', `${C}/me/session`, token),

  /** the secret link: this browser is signed in as the instructor from now on (cookie) */
  signIn: (secret: string) => request<void>('POST', `${C}/instructor/session`, secret),
  signOut: (everywhere = false) => request<void>('DELETE', `${C}/instructor/session${everywhere ? '?everywhere=1' : ''}`, null),
  workshops: () => request<WorkshopInfo[]>('GET', `${C}/workshops`, null),
  createWorkshop: (body: { title: string; lessons: string[]; endsAt: string | null }) => request<WorkshopInfo>('POST', `${C}/workshops`, null, body),
  board: (code: string, stuckMinutes?: number) => request<BoardData>('GET', `${C}/workshops/${enc(code)}${stuckMinutes !== undefined ? `?stuck=${stuckMinutes}` : ''}`, null),
  gradingRuns: (code: string) => request<{ id: string; learnerId: string | null; lessonId: string; source: string; passed: number; total: number; createdAt: number }[]>('GET', `${C}/workshops/${enc(code)}/grading-runs`, null),
  close: (code: string) => request<WorkshopInfo>('POST', `${C}/workshops/${enc(code)}/close`, null, {}),
  exportFile: (code: string, format: 'csv' | 'json' | 'junit') => request<Blob>('GET', `${C}/workshops/${enc(code)}/export?format=${format}`, null, undefined, true),
};

export const classroomHref = {
  join: (code?: string) => (code ? `#/join/${enc(code)}` : '#/join'),
  workshop: () => '#/workshop',
  lesson: (id: string) => `#/workshop/lessons/${enc(id)}`,
  instructor: () => '#/instructor',
  board: (code: string) => `#/instructor/w/${enc(code)}`,
};
