/**
 * Request shapes of the classroom API (zod, validated at the HTTP boundary).
 * Imports nothing but zod so that web/ may import it for types.
 */
import { z } from 'zod';

const lessonId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lesson ids look like "03-ipc-namespace"');

export const createWorkshopSchema = z.strictObject({
  title: z.string().trim().min(1, 'give the workshop a title').max(120),
  lessons: z.array(lessonId).min(1, 'pick at least one lesson').max(50),
  /** ISO time or ms since epoch; optional */
  endsAt: z.union([z.iso.datetime({ offset: true }), z.number().int().positive()]).nullable().optional()
    .transform((v) => (v === undefined || v === null ? null : typeof v === 'number' ? v : Date.parse(v))),
});
export type CreateWorkshopRequest = z.input<typeof createWorkshopSchema>;

/**
 * Characters that draw nothing although they are letters or symbols (Hangul fillers,
 * the braille blank, the combining grapheme joiner, ...): a name made of them is an
 * invisible row on the board, and "Ada" plus one of them looks exactly like "Ada".
 * Variation selectors are the exception (U+FE0F is part of how emoji such as ❤️ are typed).
 */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\u2800]/u;
const VARIATION_SELECTORS = /[\uFE00-\uFE0F]/gu;

/** Display names appear on a projected board: printable, visible, trimmed, short. */
export const displayNameSchema = z.string()
  .transform((s) => s.normalize('NFC').replace(/\s+/g, ' ').trim())
  .pipe(z.string().min(1, 'enter your name').max(40, 'names are at most 40 characters')
    .refine((s) => !/[\p{Cc}\p{Cf}\p{Co}\p{Cn}]/u.test(s) && !INVISIBLE.test(s.replace(VARIATION_SELECTORS, '')), 'the name contains characters that cannot be shown')
    .refine((s) => /[\p{L}\p{N}\p{P}\p{S}]/u.test(s), 'a name needs at least one letter, digit or symbol')
    // Thai and Indic scripts stack two or three marks on a letter; "zalgo" text stacks dozens over the rows around it
    .refine((s) => !/\p{M}{5}/u.test(s), 'too many accent marks on one letter'));

export const joinSchema = z.strictObject({
  code: z.string().max(20),
  name: displayNameSchema,
});
export type JoinRequest = z.input<typeof joinSchema>;

export const openLessonSchema = z.strictObject({ lang: z.enum(['en', 'ko', 'zh']).default('en') });

export const boardQuerySchema = z.object({
  stuck: z.coerce.number().min(0).max(24 * 60).optional(),
});

export const exportQuerySchema = z.object({
  format: z.enum(['csv', 'json', 'junit']).default('json'),
  learner: z.string().max(64).optional(),
});

/** A grade report as `nslab grade --format json` prints it (DESIGN.md). */
export const gradeReportSchema = z.object({
  lesson: z.string().max(64),
  steps: z.array(z.object({ id: z.string().max(64), title: z.string().max(500), passed: z.boolean(), message: z.string().max(10_000) })).max(500),
  passed: z.number().int().min(0),
  total: z.number().int().min(0),
});

export const attachGradingSchema = z.strictObject({
  report: gradeReportSchema,
  /** the learner's display name in this workshop, when the transcript is theirs */
  learner: z.string().max(40).optional(),
  source: z.string().max(200).default('nslab grade'),
});

// ------------------------------------------------------------ board socket

export const boardClientMessageSchema = z.discriminatedUnion('type', [
  /** without a secret, the socket's upgrade request must carry the instructor's sign-in cookie */
  z.strictObject({ type: z.literal('hello'), secret: z.string().max(256).optional() }),
  /** stuckMinutes: this board's own "stuck" threshold (default: the server's NSLAB_STUCK_MINUTES) */
  z.strictObject({ type: z.literal('subscribe'), workshop: z.string().max(20), stuckMinutes: z.number().min(0).max(24 * 60).optional() }),
  z.strictObject({ type: z.literal('watch'), learner: z.string().max(64) }),
  z.strictObject({ type: z.literal('unwatch') }),
  z.strictObject({ type: z.literal('ping'), id: z.union([z.string().max(64), z.number()]).optional() }),
]);
export type BoardClientMessage = z.infer<typeof boardClientMessageSchema>;

/** what the board socket sends (JSON text frames); terminal output of a watch comes as binary [terminal, bytes...] */
export type BoardServerMessage =
  | { type: 'welcome' }
  | { type: 'board'; board: unknown }
  | { type: 'watch-started'; learner: string; name: string; session: string }
  | { type: 'watch-terminal'; terminal: number; state: 'opened' | 'exited' }
  | { type: 'watch-ended'; learner: string; reason: string }
  | { type: 'watch-lagged'; droppedBytes: number }
  | { type: 'pong'; id?: string | number }
  | { type: 'error'; code: string; message: string };

export const BOARD_SOCKET_PATH = '/api/classroom/socket';
