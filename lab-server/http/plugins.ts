/**
 * The lesson engine plugs into the HTTP server through this interface, so that
 * http/ does not need to know how lessons are loaded or checked, and the server
 * runs (with any lesson id accepted) when no plugin is given, e.g. in terminal
 * tests and benchmarks.
 */
import type { Router } from 'express';
import type { Sandbox } from '../sandbox/types.ts';
import type { StepsEvent } from '../terminal/protocol.ts';

export type Lang = 'en' | 'ko' | 'zh';

/** What the server needs to know about a lesson to start a session for it. */
export interface LessonLaunchInfo {
  id: string;
  /** terminals the lesson uses (1 or 2 ...); the web app opens this many tabs */
  terminals: number;
  /** sandbox image name; default 'default' */
  image?: string;
}

/** The view of one learner session that a plugin gets. */
export interface PluginSession {
  readonly id: string;
  readonly lesson: string;
  readonly lang: Lang;
  /** the session's current sandbox; a reset replaces it (attach is called again) */
  readonly sandbox: Sandbox;
  /** recent text of terminal N (from the scrollback ring, escape sequences removed); '' if not open */
  terminalText(n: number): string;
  /**
   * Send step statuses to the learner's socket. The server keeps the latest one, re-sends
   * it on reconnect and includes it in GET /api/sessions/:id.
   */
  pushSteps(e: Omit<StepsEvent, 'type'>): void;
}

export interface LessonsPlugin {
  /** mounted under /api before the session routes (e.g. GET /api/lessons, GET /api/lessons/:id) */
  router?: Router;
  /** look up the lesson of a POST /api/sessions; null answers 404 "unknown lesson" */
  resolve(id: string, lang: Lang): Promise<LessonLaunchInfo | null> | LessonLaunchInfo | null;
  /**
   * The session has a running sandbox (after create, and again after every reset).
   * Return a function the server calls when that sandbox goes away (reset, delete,
   * reap, death): stop check engines etc. there. Errors are logged, never fatal.
   */
  attach?(session: PluginSession): void | (() => void) | Promise<void | (() => void)>;
}
