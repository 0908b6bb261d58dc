/**
 * Sandbox images: sandbox-images/<name>/build.sh makes an erofs file; the driver
 * loop-mounts it read-only once per recipe and bind-mounts parts of it
 * (idmapped) into every sandbox. A read-only *filesystem* matters: a learner can
 * remount their bind read-write, but the superblock still refuses writes.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { HostError } from './types.ts';

const run = promisify(execFile);
const projectRoot = resolve(import.meta.dirname, '..', '..');
export const recipesDir = join(projectRoot, 'sandbox-images');

const nameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'image names are lower-case letters, digits and dashes');
const manifestSchema = z.object({ name: z.string(), recipe: z.string(), suite: z.string(), builtAt: z.string(), bytes: z.number() });
export type ImageManifest = z.infer<typeof manifestSchema>;

export interface ImageStatus {
  name: string;
  hasRecipe: boolean;
  built: ImageManifest | null;
  /** true when the built image's recipe differs from the recipe in the repository */
  stale: boolean;
}

export class Images {
  /** `root`: the image store (DriverConfig.imagesDir), one directory per image */
  constructor(readonly root: string) {}

  private dir(name: string): string {
    return join(this.root, nameSchema.parse(name));
  }

  async recipeHash(name: string): Promise<string | null> {
    const script = join(recipesDir, nameSchema.parse(name), 'build.sh');
    if (!existsSync(script)) return null;
    const { stdout } = await run('bash', [script, '--recipe']);
    return stdout.trim();
  }

  manifest(name: string): ImageManifest | null {
    const file = join(this.dir(name), 'manifest.json');
    if (!existsSync(file) || !existsSync(join(this.dir(name), 'image.erofs'))) return null;
    return manifestSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  }

  async status(name: string): Promise<ImageStatus> {
    const recipe = await this.recipeHash(name);
    const built = this.manifest(name);
    return { name, hasRecipe: recipe !== null, built, stale: recipe !== null && built !== null && built.recipe !== recipe };
  }

  async list(): Promise<ImageStatus[]> {
    const names = new Set<string>();
    if (existsSync(recipesDir)) for (const n of readdirSync(recipesDir)) if (existsSync(join(recipesDir, n, 'build.sh'))) names.add(n);
    const built = this.root;
    if (existsSync(built)) for (const n of readdirSync(built)) names.add(n);
    return Promise.all([...names].sort().map((n) => this.status(n)));
  }

  /** Runs the recipe's build script, streaming its progress lines to `log`. */
  async build(name: string, log: (line: string) => void = (l) => console.log(l)): Promise<ImageManifest> {
    const script = join(recipesDir, nameSchema.parse(name), 'build.sh');
    if (!existsSync(script)) throw new HostError(`no recipe for image '${name}' (looked for ${script})`, `use one of: ${readdirSync(recipesDir).join(', ')}`);
    mkdirSync(this.dir(name), { recursive: true });
    await new Promise<void>((ok, ko) => {
      const child = spawn('bash', [script, this.dir(name)], { stdio: ['ignore', 'pipe', 'pipe'] });
      const tail: string[] = [];
      const onData = (buf: Buffer) => {
        for (const line of buf.toString().split('\n')) {
          if (!line.trim()) continue;
          tail.push(line); if (tail.length > 30) tail.shift();
          if (line.startsWith('[') || line.startsWith('image ')) log(line);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', ko);
      child.on('exit', (code) => code === 0 ? ok() : ko(new HostError(`building image '${name}' failed (exit ${code}):\n${tail.join('\n')}`, 'check network access to the Debian mirror and that mmdebstrap and erofs-utils are installed (scripts/setup.sh)')));
    });
    const m = this.manifest(name);
    if (!m) throw new Error(`build of '${name}' wrote no manifest`);
    return m;
  }

  /** Builds the image if it is missing or its recipe changed. */
  async ensureBuilt(name: string, log?: (line: string) => void): Promise<ImageManifest> {
    const st = await this.status(name);
    if (st.built && !st.stale) return st.built;
    if (!st.hasRecipe) {
      if (st.built) return st.built;
      throw new HostError(`image '${name}' is neither built nor has a recipe`, `add sandbox-images/${name}/build.sh`);
    }
    log?.(st.built ? `image '${name}': recipe changed, rebuilding in ${this.root}` : `image '${name}': not built in ${this.root} (NSLAB_IMAGES): building it now, which takes minutes`);
    return this.build(name, log);
  }

  /**
   * The read-only root of the image, mounted once per recipe version (so a
   * rebuild never pulls the floor from under running sandboxes). Serialised
   * with flock: several servers or test workers may ask at once.
   */
  async mountedRoot(name: string): Promise<string> {
    const m = this.manifest(name);
    if (!m) throw new HostError(`image '${name}' is not built`, `run: bin/nslab image build ${name}`);
    const dir = this.dir(name);
    const mnt = join(dir, 'mnt', m.recipe.slice(0, 16));
    if (isMountPoint(mnt)) return mnt;
    mkdirSync(mnt, { recursive: true });
    const script = `mountpoint -q "$1" || mount -t erofs -o loop,ro "$2" "$1"`;
    try {
      await run('flock', [join(dir, '.mount.lock'), 'sh', '-c', script, 'sh', mnt, join(dir, 'image.erofs')]);
    } catch (err) {
      throw new HostError(`cannot mount image '${name}': ${(err as Error).message}`, 'the kernel needs erofs and loop devices (modprobe erofs loop)');
    }
    return mnt;
  }
}

export function isMountPoint(path: string): boolean {
  const target = resolve(path);
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === target);
}
