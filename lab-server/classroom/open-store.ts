/**
 * Which classroom store a command uses, from the settings: PostgreSQL when
 * NSLAB_DATABASE_URL is set (several fronts on one database), else the SQLite file
 * (NSLAB_CLASSROOM_DB or $NSLAB_DATA/classroom.db). See docs/classroom-store.md.
 */
import type { Settings } from '../config/settings.ts';
import { PgClassroomStore, redactDatabaseUrl } from './pg-store.ts';
import { defaultDbFile, SqliteClassroomStore } from './sqlite-store.ts';
import type { ClassroomStore } from './store.ts';

export interface OpenStoreOptions {
  /** export-style readers: no migration, no writes */
  readonly?: boolean;
  /** the front's server id (service.ts serverId()), so other fronts on a shared database see it running */
  server?: string;
  log?: (line: string) => void;
}

export function usesPostgres(settings: Settings): boolean {
  return settings.NSLAB_DATABASE_URL !== undefined;
}

/** where the classroom lives, fit for a log line (no password) */
export function describeStore(settings: Settings): string {
  return settings.NSLAB_DATABASE_URL ? `PostgreSQL ${redactDatabaseUrl(settings.NSLAB_DATABASE_URL)}` : defaultDbFile(settings);
}

export async function openClassroomStore(settings: Settings, opts: OpenStoreOptions = {}): Promise<ClassroomStore> {
  if (settings.NSLAB_DATABASE_URL !== undefined) {
    // two places for the same data is a mistake worth stopping for, not a precedence rule to remember
    if (settings.NSLAB_CLASSROOM_DB !== undefined) throw new Error('set NSLAB_DATABASE_URL (PostgreSQL) or NSLAB_CLASSROOM_DB (SQLite), not both');
    return PgClassroomStore.open({ url: settings.NSLAB_DATABASE_URL, readonly: opts.readonly, server: opts.server, log: opts.log });
  }
  return new SqliteClassroomStore({ file: defaultDbFile(settings), readonly: opts.readonly });
}
