/**
 * Wiring of the classroom into `nslab serve`. This is the one place that knows both
 * the lab server (http/) and the classroom: DESIGN.md's dependency direction keeps
 * classroom/ from importing http/, so the adapter from the server's SessionManager
 * to the classroom's LabSessionPort lives here, next to serve.ts.
 */
import { Router } from 'express';
import { originAllowed } from '../http/security.ts';
import type { LabServer } from '../http/app.ts';
import { ApiError } from '../contract/api-error.ts';
import type { SessionManager } from '../http/sessions.ts';
import type { LessonsPlugin } from '../http/plugins.ts';
import type { LessonCatalog } from '../lessons/loader.ts';
import { createBoardSocketServer, mountBoardSocket, type BoardSocketServer } from '../classroom/board-socket.ts';
import { generateToken } from '../classroom/codes.ts';
import { withClassroom } from '../classroom/plugin.ts';
import { InstructorSessions } from '../classroom/instructor-sessions.ts';
import { createClassroomRouter } from '../classroom/routes.ts';
import { Classroom, LabFullError, serverId, type ClassroomOptions, type LabSessionPort, type WatchSink } from '../classroom/service.ts';
import { SelfPaced } from '../classroom/self-paced.ts';
import { createSelfPacedRouter } from '../classroom/self-paced-routes.ts';
import { relayBoardChanges } from '../classroom/change-relay.ts';
import { describeStore, openClassroomStore, usesPostgres } from '../classroom/open-store.ts';
import { SqliteClassroomStore } from '../classroom/sqlite-store.ts';
import type { ClassroomStore } from '../classroom/store.ts';
import { allowedOrigins, loadSettings, type Settings } from '../config/settings.ts';
import { suggestedMaxSessions } from './doctor.ts';
import type { TerminalSession } from '../terminal/terminal.ts';

/** LabSessionPort on the lab server's SessionManager. */
export function labSessionPort(sessions: SessionManager): LabSessionPort {
  return {
    async create({ lesson, lang }) {
      try {
        const { session, token } = await sessions.create(lesson, lang);
        return { id: session.id, token };
      } catch (err) {
        if (err instanceof ApiError && (err.code === 'full' || err.status === 503)) throw new LabFullError(err.message, err.retryAfterSeconds ?? 10);
        throw err;
      }
    },
    async end(id) {
      const s = sessions.get(id);
      if (s) await sessions.end(s, 'deleted');
    },
    alive(id) {
      const s = sessions.get(id);
      return !!s && !s.ended;
    },
    watch(id, sink: WatchSink) {
      const s = sessions.get(id);
      if (!s || s.ended) return null;
      const subs = new Map<number, { t: TerminalSession; off: () => void }>();
      let stopped = false;
      // terminals come and go (the learner opens tab 2, types `exit`, resets): the set
      // is re-read a few times a second; output itself arrives through observe() at once
      const sync = () => {
        if (stopped) return;
        if (s.ended) { stop(); sink.ended('the learner\'s session ended'); return; }
        for (const [n, sub] of subs) {
          if (s.hub.terminal(n) !== sub.t) { sub.off(); subs.delete(n); sink.terminal({ terminal: n, state: 'exited' }); }
        }
        for (const info of s.hub.terminalInfo()) {
          const t = s.hub.terminal(info.terminal);
          if (!t || subs.get(info.terminal)?.t === t) continue;
          sink.terminal({ terminal: info.terminal, state: 'opened' });
          // the replay is drawn at the learner's width, not re-wrapped at the watcher's
          sink.size({ terminal: info.terminal, cols: t.cols, rows: t.rows });
          // flush + snapshot + subscribe in one synchronous step: no byte is lost or doubled
          t.flush();
          const replay = t.scrollback.snapshot();
          if (replay.length) sink.data(info.terminal, replay);
          const offData = t.observe((chunk) => sink.data(info.terminal, chunk));
          const offSize = t.observeSize((size) => sink.size({ terminal: info.terminal, ...size }));
          subs.set(info.terminal, { t, off: () => { offData(); offSize(); } });
        }
      };
      const timer = setInterval(sync, 250);
      const stop = () => {
        stopped = true;
        clearInterval(timer);
        for (const sub of subs.values()) sub.off();
        subs.clear();
      };
      sync();
      return stop;
    },
    watchMap(id, deliver) {
      const s = sessions.get(id);
      if (!s || s.ended) return null;
      return s.hub.map.watch(deliver);
    },
  };
}

export interface ClassroomSetup {
  classroom: Classroom;
  /** progress of learners on the public lesson list, kept in the same store */
  selfPaced: SelfPaced;
  /** the lessons plug-in with classroom sessions and the /api/classroom routes */
  lessons: LessonsPlugin;
  instructorSecret: string;
  /** the secret came from NSLAB_INSTRUCTOR_SECRET (true) or was generated now */
  secretFromEnv: boolean;
  /** sessions the lab server should allow when NSLAB_MAX_SESSIONS is not set */
  suggestedMaxSessions: number;
  /** after createApp: sessions port, board socket */
  connect(lab: LabServer, allowedOrigins?: readonly string[]): void;
  instructorUrl(base: string): string;
  close(): Promise<void>;
}

export async function setupClassroom(opts: {
  lessons: LessonsPlugin;
  catalog: LessonCatalog;
  /** the NSLAB_* settings read at start (config/settings.ts); default: read from the environment now */
  settings?: Settings;
  /** the store to keep the classroom in; default the SQLite store on `dbFile`, or the one the settings name (open-store.ts) */
  store?: ClassroomStore;
  dbFile?: string;
  /** capacity, stuckMinutes, ... (defaults come from the settings) */
  classroom?: Partial<Omit<ClassroomOptions, 'store' | 'catalog'>>;
  log?: (line: string) => void;
}): Promise<ClassroomSetup> {
  const settings = opts.settings ?? loadSettings();
  if (!opts.store && !opts.dbFile && usesPostgres(settings) && settings.NSLAB_INSTRUCTOR_SECRET === undefined) {
    // every front would make up its own secret, and a sign-in on one front deletes the
    // sign-ins made with another secret (instructor-sessions.ts): the board would keep signing out
    throw new Error('NSLAB_DATABASE_URL is set: set NSLAB_INSTRUCTOR_SECRET too, the same on every front sharing the database (docs/classroom-store.md)');
  }
  const store = opts.store
    ?? (opts.dbFile ? new SqliteClassroomStore({ file: opts.dbFile }) : await openClassroomStore(settings, { server: serverId(), log: opts.log }));
  if (!opts.store && !opts.dbFile && usesPostgres(settings)) opts.log?.(`classroom: kept in ${describeStore(settings)}`);
  const classroom = new Classroom({ log: opts.log, settings, ...opts.classroom, store, catalog: opts.catalog });
  // several fronts on one database: a change through one refreshes the boards on all
  const stopRelay = await relayBoardChanges(classroom, store, opts.log);
  const ended = await classroom.recover();
  if (ended) opts.log?.(`classroom: ${ended} learner session(s) of the previous server are over; their learners get fresh sandboxes with their progress`);
  // the settings schema refuses a secret shorter than 16 characters
  const fromEnv = settings.NSLAB_INSTRUCTOR_SECRET !== undefined;
  const instructorSecret = settings.NSLAB_INSTRUCTOR_SECRET ?? generateToken();

  const selfPaced = new SelfPaced({ store, catalog: opts.catalog, log: opts.log });

  const router = Router();
  if (opts.lessons.router) router.use(opts.lessons.router);
  const instructorSessions = new InstructorSessions(store, instructorSecret);
  router.use('/classroom', createClassroomRouter({ classroom, instructorSecret, instructorSessions }));
  router.use('/self', createSelfPacedRouter(selfPaced));
  const lessons = { ...withClassroom(opts.lessons, classroom, { log: opts.log, selfPaced }), router } as LessonsPlugin;

  let board: BoardSocketServer | null = null;
  return {
    classroom,
    selfPaced,
    lessons,
    instructorSecret,
    secretFromEnv: fromEnv,
    suggestedMaxSessions: suggestedMaxSessions(classroom.capacity),
    connect(lab, origins = allowedOrigins(settings)) {
      classroom.sessions = labSessionPort(lab.sessions);
      selfPaced.sessions = classroom.sessions;
      board = createBoardSocketServer({ classroom, instructorSecret, signedIn: (req) => instructorSessions.signedIn(req), originAllowed: (req) => originAllowed(req, origins).ok, log: opts.log });
      mountBoardSocket(lab.server, board);
    },
    // the secret travels in the URL fragment, which browsers never send to a server or in a Referer
    instructorUrl: (base) => `${base.replace(/\/$/, '')}/#/instructor/${encodeURIComponent(instructorSecret)}`,
    async close() {
      board?.close();
      await classroom.shutdown();
      await stopRelay();
      await store.close();
    },
  };
}
