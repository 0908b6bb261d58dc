/** nslab image build [NAME] | list | ensure [NAME] [--quiet] */
import { loadSettings, type Settings } from '../config/settings.ts';
import { driverConfig } from '../sandbox/config.ts';
import { Images } from '../sandbox/images.ts';

export async function run(args: string[], settings: Settings = loadSettings()): Promise<number> {
  const quiet = args.includes('--quiet');
  const [sub, name = 'default'] = args.filter((a) => a !== '--quiet');
  const images = new Images(driverConfig(settings).imagesDir);
  const log = (l: string) => { if (!quiet) console.log(l); };
  switch (sub) {
    case 'build': {
      const m = await images.build(name, (l) => console.log(l));
      console.log(`built ${m.name}: ${(m.bytes / 1048576).toFixed(0)} MiB, recipe ${m.recipe.slice(0, 12)}`);
      return 0;
    }
    case 'ensure': {
      const m = await images.ensureBuilt(name, (l) => console.log(l));
      log(`image ${m.name} ready (recipe ${m.recipe.slice(0, 12)}, built ${m.builtAt})`);
      return 0;
    }
    case 'list': {
      const rows = await images.list();
      if (!rows.length) { console.log('no images (recipes live in sandbox-images/)'); return 0; }
      console.log(['NAME'.padEnd(16), 'STATE'.padEnd(10), 'SIZE'.padStart(8), '  BUILT'].join(''));
      for (const r of rows) {
        const state = !r.built ? 'not built' : r.stale ? 'stale' : 'ready';
        const size = r.built ? `${(r.built.bytes / 1048576).toFixed(0)} MiB` : '-';
        console.log([r.name.padEnd(16), state.padEnd(10), size.padStart(8), '  ' + (r.built?.builtAt ?? '-')].join(''));
      }
      return 0;
    }
    default:
      console.error('usage: nslab image build [NAME] | nslab image list | nslab image ensure [NAME]');
      return 2;
  }
}
