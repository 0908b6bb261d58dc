/**
 * Moving NSLAB_DATA used to move the image store with it, so the next start quietly
 * built the image again, for minutes. NSLAB_IMAGES now names the store on its own
 * (docs/server.md); when it is not set and the store it defaults to has no image
 * while the usual place has one, `nslab serve` says so before it builds.
 */
import path from 'node:path';
import { DEFAULTS, type Settings } from '../config/settings.ts';
import { Images } from '../sandbox/images.ts';

/** the image store of a server with no NSLAB_DATA and no NSLAB_IMAGES */
export const USUAL_IMAGES_DIR = path.join(DEFAULTS.dataDir, 'images');

/** a line for the operator, or null when there is nothing to say */
export function imageStoreHint(settings: Settings, imagesDir: string, name = 'default', usual = USUAL_IMAGES_DIR): string | null {
  if (settings.NSLAB_IMAGES || path.resolve(imagesDir) === path.resolve(usual)) return null;
  if (new Images(imagesDir).manifest(name)) return null;
  let there: boolean;
  try { there = new Images(usual).manifest(name) !== null; } catch { there = false; }
  if (!there) return null;
  return `nslab: no image '${name}' in ${imagesDir} (NSLAB_DATA moved the image store), but ${usual} has one: `
    + `set NSLAB_IMAGES=${usual} to use it instead of building another copy now`;
}
