/**
 * One configuration path (lab-server/config/settings.ts): every NSLAB_* setting in one
 * schema, a bad value is an error naming the variable, and docs/server.md lists the
 * same variables with the same defaults.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serveMaxSessions } from '../../lab-server/cli/doctor.ts';
import { imageStoreHint } from '../../lab-server/cli/image-store-hint.ts';
import { Images } from '../../lab-server/sandbox/images.ts';
import { loadSettings, SETTING_NAMES, SHOWN_DEFAULTS, SettingsError } from '../../lab-server/config/settings.ts';
import { createApp } from '../../lab-server/http/app.ts';
import { loadDriverConfig } from '../../lab-server/sandbox/config.ts';
import type { SandboxBackend } from '../../lab-server/sandbox/types.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'lab-server/cli.ts');

/** the rows of docs/server.md's Configuration table: name -> default cell */
function documented(): Map<string, string> {
  const md = readFileSync(path.join(ROOT, 'docs/server.md'), 'utf8');
  const section = md.slice(md.indexOf('## Configuration'), md.indexOf('\n## ', md.indexOf('## Configuration') + 1));
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const m = /^\| `(NSLAB_[A-Z_]+)` \| ([^|]*) \|/.exec(line);
    if (m) rows.set(m[1], m[2].trim());
  }
  return rows;
}

describe('settings', () => {
  it('parse what is set and leave the rest to each reader\'s default', () => {
    const s = loadSettings({ NSLAB_IDLE_MINUTES: '0.5', NSLAB_MAX_SESSIONS: '7', NSLAB_POOL: '', NSLAB_ALLOWED_ORIGINS: 'https://a.example, https://b.example', PATH: '/bin' });
    expect(s).toMatchObject({ NSLAB_IDLE_MINUTES: 0.5, NSLAB_MAX_SESSIONS: 7, NSLAB_POOL: undefined });
    expect(s.NSLAB_PORT).toBeUndefined();
  });

  it('a bad value is an error that names the variable and its value', () => {
    for (const [name, value, why] of [
      ['NSLAB_IDLE_MINUTES', 'ten', /NSLAB_IDLE_MINUTES="ten" must be a number above 0/],
      ['NSLAB_IDLE_MINUTES', '0', /NSLAB_IDLE_MINUTES="0" must be a number above 0/],
      ['NSLAB_MAX_SESSIONS', '2.5', /NSLAB_MAX_SESSIONS="2.5" must be a whole number/],
      ['NSLAB_CREATE_BURST', '-1', /NSLAB_CREATE_BURST="-1"/],
      ['NSLAB_CLASSROOM_CAPACITY', 'lots', /NSLAB_CLASSROOM_CAPACITY="lots" must be a whole number from 1 to 10000/],
      ['NSLAB_STUCK_MINUTES', '9999', /NSLAB_STUCK_MINUTES="9999" must be a number from 0 to 1440/],
      ['NSLAB_PORT', 'http', /NSLAB_PORT="http"/],
      ['NSLAB_DATA', 'relative/dir', /NSLAB_DATA="relative\/dir" must be an absolute path/],
      ['NSLAB_HOST_TUNING', 'no', /NSLAB_HOST_TUNING="no" must be on or off/],
    ] as const) {
      expect(() => loadSettings({ [name]: value }), `${name}=${value}`).toThrow(SettingsError);
      expect(() => loadSettings({ [name]: value })).toThrow(why);
    }
    // the secret's value is never repeated
    expect(() => loadSettings({ NSLAB_INSTRUCTOR_SECRET: 'short-secret' })).toThrow(/^(?!.*short-secret).*NSLAB_INSTRUCTOR_SECRET must be at least 16 characters/);
    // nor a database URL's (it may carry a password)
    expect(() => loadSettings({ NSLAB_DATABASE_URL: 'mysql://nslab:hunter2@db/nslab' })).toThrow(/^(?!.*hunter2).*NSLAB_DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(loadSettings({ NSLAB_DATABASE_URL: 'postgresql://nslab:hunter2@db:5432/nslab' }).NSLAB_DATABASE_URL).toBe('postgresql://nslab:hunter2@db:5432/nslab');
  });

  it('every reader takes the same schema: the server, the classroom numbers, the driver', () => {
    // http/app.ts used to turn a bad value into its default silently
    const saved = process.env.NSLAB_IDLE_MINUTES;
    process.env.NSLAB_IDLE_MINUTES = 'ten';
    try {
      // throws before the backend is touched
      expect(() => createApp({ backend: {} as SandboxBackend, webRoot: null })).toThrow(/NSLAB_IDLE_MINUTES="ten"/);
    } finally {
      if (saved === undefined) delete process.env.NSLAB_IDLE_MINUTES; else process.env.NSLAB_IDLE_MINUTES = saved;
    }
    expect(serveMaxSessions(loadSettings({ NSLAB_CLASSROOM_CAPACITY: '60' }))).toBe(70);
    expect(serveMaxSessions(loadSettings({ NSLAB_MAX_SESSIONS: '7', NSLAB_CLASSROOM_CAPACITY: '60' }))).toBe(7);
    expect(() => loadDriverConfig({ NSLAB_MEMORY_MB: 'lots' })).toThrow(/NSLAB_MEMORY_MB="lots"/);
  });

  it('NSLAB_IMAGES keeps the image store apart from NSLAB_DATA; moving only the data says so before a build', async () => {
    expect(loadDriverConfig({}).imagesDir).toBe('/var/lib/nslab/images');
    expect(loadDriverConfig({ NSLAB_DATA: '/srv/nslab' }).imagesDir).toBe('/srv/nslab/images');
    expect(loadDriverConfig({ NSLAB_DATA: '/srv/nslab', NSLAB_IMAGES: '/var/lib/nslab/images' })).toMatchObject({ dataDir: '/srv/nslab', imagesDir: '/var/lib/nslab/images' });
    expect(() => loadDriverConfig({ NSLAB_IMAGES: 'images' })).toThrow(/NSLAB_IMAGES="images" must be an absolute path/);

    // a real store on disk: an image built in the usual place, a data directory moved elsewhere
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'nslab-image-store-'));
    try {
      const usual = path.join(tmp, 'usual', 'images');
      mkdirSync(path.join(usual, 'default'), { recursive: true });
      writeFileSync(path.join(usual, 'default', 'image.erofs'), '');
      writeFileSync(path.join(usual, 'default', 'manifest.json'), JSON.stringify({ name: 'default', recipe: 'r', suite: 's', builtAt: 'then', bytes: 1 }));
      const moved = loadSettings({ NSLAB_DATA: path.join(tmp, 'moved') });
      const movedImages = loadDriverConfig({ NSLAB_DATA: path.join(tmp, 'moved') }).imagesDir;
      expect(imageStoreHint(moved, movedImages, 'default', usual)).toBe(
        `nslab: no image 'default' in ${movedImages} (NSLAB_DATA moved the image store), but ${usual} has one: set NSLAB_IMAGES=${usual} to use it instead of building another copy now`);
      // pointing NSLAB_IMAGES at it finds the image and says nothing
      const kept = loadSettings({ NSLAB_DATA: path.join(tmp, 'moved'), NSLAB_IMAGES: usual });
      const keptImages = loadDriverConfig({ NSLAB_DATA: path.join(tmp, 'moved'), NSLAB_IMAGES: usual }).imagesDir;
      expect((await new Images(keptImages).status('default')).built).toMatchObject({ name: 'default', recipe: 'r' });
      expect(imageStoreHint(kept, keptImages, 'default', usual)).toBeNull();
      // nothing built anywhere: a first build, nothing to point at
      expect(imageStoreHint(moved, movedImages, 'default', path.join(tmp, 'nowhere'))).toBeNull();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('nslab doctor refuses a bad value too (it used to plan with 20 sessions instead)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'doctor', '--json'], { encoding: 'utf8', env: { ...process.env, NSLAB_MAX_SESSIONS: 'many' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/NSLAB_MAX_SESSIONS="many" must be a whole number/);
  });

  it('nslab serve refuses to start on a bad value, naming it', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0'], { encoding: 'utf8', env: { ...process.env, NSLAB_IDLE_MINUTES: 'ten' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/NSLAB_IDLE_MINUTES="ten" must be a number above 0/);
  });

  it('docs/server.md lists exactly the schema\'s variables, with its defaults', () => {
    const rows = documented();
    expect([...rows.keys()].sort()).toEqual([...SETTING_NAMES].sort());
    for (const name of SETTING_NAMES) expect(rows.get(name), name).toBe(SHOWN_DEFAULTS[name]);
  });
});
