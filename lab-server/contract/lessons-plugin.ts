/**
 * The lesson engine plugs into the HTTP server through this shape, so that http/
 * does not need to know how lessons are loaded or checked, and the server runs (with
 * any lesson id accepted) when no plugin is given, e.g. in terminal tests and
 * benchmarks. The lesson engine (checks/plugin.ts) implements it, the classroom
 * (classroom/plugin.ts) wraps it, http/ calls it: all three import it from here.
 *
 * Generic in the sandbox and router types so that this floor imports nothing of ours
 * (nor express): http/plugins.ts names the concrete ones.
 */
import type { Lang } from './lang.ts';
import type { StepsReport } from './steps.ts';
import type { NsmapSnapshot } from './namespace-map.ts';

/**
 * The namespace map's link between a session's socket and its check engine: the
 * socket says whether anyone is looking (`map-subscribe`), the engine then builds a
 * snapshot in each probe round and pushes it here.
 */
export interface NamespaceMapChannel {
  /** a socket of the session is subscribed to the map right now */
  readonly wanted: boolean;
  /** called when `wanted` changes; returns the unsubscribe function */
  onWanted(listener: (wanted: boolean) => void): () => void;
  /** a snapshot that differs from the last one pushed */
  push(snapshot: NsmapSnapshot): void;
}

/** What the server needs to know about a lesson to start a session for it. */
export interface LessonLaunchInfo {
  id: string;
  /** terminals the lesson uses (1 or 2 ...); the web app opens this many tabs */
  terminals: number;
  /** sandbox image name; default 'default' */
  image?: string;
}

/** The view of one learner session that a plugin gets. */
export interface PluginSession<S> {
  readonly id: string;
  readonly lesson: string;
  readonly lang: Lang;
  /** the session's current sandbox; a reset replaces it (attach is called again) */
  readonly sandbox: S;
  /** recent text of terminal N (from the scrollback ring, escape sequences removed); '' if not open */
  terminalText(n: number): string;
  /**
   * Send step statuses to the learner's socket. The server keeps the latest one, re-sends
   * it on reconnect and includes it in GET /api/sessions/:id.
   */
  pushSteps(e: StepsReport): void;
  /** the namespace map's channel; absent where nobody can look at a map (grading) */
  readonly map?: NamespaceMapChannel;
}

/** Called when a session's sandbox goes away; may return nothing. */
export type Detach = () => void;

export interface LessonsPlugin<S, R = unknown> {
  /** mounted under /api before the session routes (e.g. GET /api/lessons, GET /api/lessons/:id) */
  router?: R;
  /** look up the lesson of a POST /api/sessions; null answers 404 "unknown lesson" */
  resolve(id: string, lang: Lang): Promise<LessonLaunchInfo | null> | LessonLaunchInfo | null;
  /**
   * The session has a running sandbox (after create, and again after every reset).
   * Return a function the server calls when that sandbox goes away (reset, delete,
   * reap, death): stop check engines etc. there. Errors are logged, never fatal.
   */
  attach?(session: PluginSession<S>): void | Detach | Promise<void | Detach>;
}
