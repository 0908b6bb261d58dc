/**
 * The numbered schema files of a classroom store (`NNN_name.sql`), shared by the
 * SQLite store (./migrations) and the PostgreSQL store (./migrations-pg): both keep
 * the same numbering, so version N means the same schema on either (see
 * docs/classroom-store.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface Migration { version: number; name: string; sql: string }

export function loadMigrationFiles(dir: string): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = /^(\d+)_([\w-]+)\.sql$/.exec(file);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2], sql: readFileSync(path.join(dir, file), 'utf8') });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 0; i < out.length; i++) {
    // a gap or a duplicate means two people numbered migrations the same way: fail loudly
    if (out[i].version !== i + 1) throw new Error(`classroom migrations must be numbered 1..n without gaps; found ${out.map((x) => x.version).join(', ')} in ${dir}`);
  }
  return out;
}
