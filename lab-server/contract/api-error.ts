/**
 * The one error shape of the HTTP API: every error answer, from the sessions API, the
 * lessons routes and the classroom API alike, is
 *
 *   {"error": {"code", "message"[, "retryAfterSeconds"]}}
 *
 * with a message a person can act on (a full sentence), and a Retry-After header when
 * retrying later helps.
 */
export interface ApiErrorBody { error: { code: string; message: string; retryAfterSeconds?: number } }

/** Thrown by server code that answers HTTP; the route turns it into the body above. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly retryAfterSeconds?: number) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The part of an HTTP response sendError needs (express' Response fits; no framework import here). */
export interface JsonResponse {
  setHeader(name: string, value: string): unknown;
  status(code: number): { json(body: unknown): unknown };
}

export function sendError(res: JsonResponse, e: ApiError): void {
  if (e.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(e.retryAfterSeconds));
  const body: ApiErrorBody = { error: { code: e.code, message: e.message, ...(e.retryAfterSeconds !== undefined ? { retryAfterSeconds: e.retryAfterSeconds } : {}) } };
  res.status(e.status).json(body);
}
