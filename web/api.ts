/**
 * HTTP calls to the lab server. Errors keep the server's own message and any
 * Retry-After, because "lab is full, retry in 20 s" is something the learner should
 * read as the server wrote it, not as "HTTP 503".
 */
import { t, type Lang } from './i18n.ts';
import type { SelfPacedOpenResult, SelfPacedProgress } from '../lab-server/contract/classroom-api.ts';
import type { CreateSessionResponse, SessionInfo as ServerSessionInfo } from '../lab-server/contract/session-protocol.ts';

export interface LessonSummary { id: string; title: string; summary: string; order: number; minutes: number; requires: string[] }
export interface LessonView {
  id: string;
  title: string;
  summary?: string;
  lang: Lang;
  fallback?: boolean;
  html: string;
  steps: { id: string; title: string }[];
  terminals?: number;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** seconds, from Retry-After or the body */
    readonly retryAfter: number | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Not an error to retry but an ending: the machine cannot be had any more (the
 * workshop was closed). The lesson page says what happened in plain words and
 * offers the one next step.
 */
export class SessionEnding extends Error {
  constructor(readonly title: string, readonly body: string, readonly next: { label: string; href: string }) {
    super(title);
    this.name = 'SessionEnding';
  }
}

async function request<T>(method: string, url: string, opts: { body?: unknown; token?: string } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  } catch {
    throw new ApiError(t('net.error'), 0);
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // a proxy's HTML error page: the status line is all we can show
  }
  if (!res.ok) {
    const obj = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
    const errField = obj.error;
    const header = Number(res.headers.get('Retry-After'));
    // contract/api-error.ts: every HTTP error body is {error: {code, message, retryAfterSeconds?}}
    const errObj = (errField && typeof errField === 'object' ? errField : {}) as Record<string, unknown>;
    const bodyRetry = Number(errObj.retryAfterSeconds ?? obj.retryAfter);
    const retryAfter = Number.isFinite(header) && header > 0 ? header : Number.isFinite(bodyRetry) && bodyRetry > 0 ? bodyRetry : null;
    const message =
      (typeof errField === 'string' && errField) ||
      (typeof errObj.message === 'string' && errObj.message) ||
      (typeof obj.message === 'string' && obj.message) ||
      `${res.status} ${res.statusText}`;
    const code = typeof errObj.code === 'string' ? errObj.code : typeof obj.code === 'string' ? obj.code : null;
    throw new ApiError(message, res.status, retryAfter, code);
  }
  return data as T;
}

/**
 * Classroom (docs/classroom.md): while a workshop lesson is open, its session is the
 * learner's seat in the workshop (POST /api/classroom/me/...), not an anonymous one,
 * so progress is recorded for the instructor and restored after a restart.
 */
let sessionProvider: ((lesson: string, lang: Lang) => Promise<CreateSessionResponse>) | null = null;
export function setSessionProvider(p: typeof sessionProvider): void { sessionProvider = p; }

/** A self-paced learner's progress per lesson, as the server keeps it (GET /api/self/progress). */
export type SelfProgress = SelfPacedProgress;
export type StartedSession = CreateSessionResponse & { restoredSteps?: number };

/**
 * A self-paced session: the server knows this browser by its learner cookie, so the
 * learner's live machine comes back in any tab, and a fresh machine starts with the
 * steps already passed. A server without the classroom store (a bare lab server)
 * has no /api/self: then an anonymous session, as before.
 */
async function selfPacedSession(lesson: string, lang: Lang): Promise<StartedSession> {
  let r: SelfPacedOpenResult;
  try {
    r = await request<SelfPacedOpenResult>('POST', `/api/self/lessons/${encodeURIComponent(lesson)}/session`, { body: { lang } });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && e.code === 'not-found') return request<CreateSessionResponse>('POST', '/api/sessions', { body: { lesson, lang } });
    throw e;
  }
  const info = await request<ServerSessionInfo>('GET', `/api/sessions/${encodeURIComponent(r.session.id)}`, { token: r.session.token });
  return { ...info, id: r.session.id, token: r.session.token, restoredSteps: r.restoredSteps } as StartedSession;
}

export const api = {
  lessons: (lang: Lang) => request<LessonSummary[]>('GET', `/api/lessons?lang=${encodeURIComponent(lang)}`),
  lesson: (id: string, lang: Lang) => request<LessonView>('GET', `/api/lessons/${encodeURIComponent(id)}?lang=${encodeURIComponent(lang)}`),
  createSession: (lesson: string, lang: Lang): Promise<StartedSession> => sessionProvider ? sessionProvider(lesson, lang) : selfPacedSession(lesson, lang),
  /** null when the server keeps no self-paced progress (a bare lab server) or cannot be reached */
  selfProgress: () => request<SelfProgress>('GET', '/api/self/progress').catch((): null => null),
  session: (id: string, token: string) => request<ServerSessionInfo>('GET', `/api/sessions/${encodeURIComponent(id)}`, { token }),
  reset: (id: string, token: string) => request<Record<string, unknown>>('POST', `/api/sessions/${encodeURIComponent(id)}/reset`, { token, body: {} }),
  endSession: (id: string, token: string) => request<unknown>('DELETE', `/api/sessions/${encodeURIComponent(id)}`, { token }),
};

/**
 * {id, token} per lesson in sessionStorage: a reload in this tab re-attaches at once.
 * Another tab asks the server, which gives the same machine to the same learner.
 */
const sessionKey = (lesson: string) => `nslab.session.${lesson}`;

export function storedSession(lesson: string): { id: string; token: string } | null {
  try {
    const v = JSON.parse(sessionStorage.getItem(sessionKey(lesson)) ?? 'null') as unknown;
    if (v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string' && typeof (v as { token?: unknown }).token === 'string') {
      return { id: (v as { id: string }).id, token: (v as { token: string }).token };
    }
  } catch {
    // corrupt entry: behave as if there were none
  }
  return null;
}

export function storeSession(lesson: string, s: { id: string; token: string } | null): void {
  if (s) sessionStorage.setItem(sessionKey(lesson), JSON.stringify({ id: s.id, token: s.token }));
  else sessionStorage.removeItem(sessionKey(lesson));
}
