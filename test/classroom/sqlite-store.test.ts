/** The SQLite store against the ClassroomStore contract (store-conformance.ts), on a real database file in a temp dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteClassroomStore } from '../../lab-server/classroom/sqlite-store.ts';
import { classroomStoreConformance } from './store-conformance.ts';

classroomStoreConformance('SQLite', {
  async storage() {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nslab-store-contract-'));
    const file = path.join(dir, 'data', 'classroom.db');
    return {
      open: async () => new SqliteClassroomStore({ file }),
      remove: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});
