/** nslab shell [--image NAME]: an interactive sandbox shell on this terminal, like `docker run -it`. */
import { loadSettings, type Settings } from '../config/settings.ts';
import { createSandboxBackend } from '../sandbox/index.ts';
import { parseSandboxArgs } from './sandbox-args.ts';

const USAGE = 'usage: nslab shell [--image NAME]';

export async function run(args: string[], settings: Settings = loadSettings()): Promise<number> {
  const parsed = parseSandboxArgs(args, USAGE);
  if (typeof parsed === 'string') { console.error(parsed); return 2; }
  if (parsed.rest.length) { console.error(`nslab shell takes no command (use nslab exec)\n${USAGE}`); return 2; }
  const backend = createSandboxBackend({}, settings);
  await backend.reapOrphans();
  const sandbox = await backend.create({ image: parsed.image, label: 'nslab shell' });
  const term = sandbox.spawnPty({ terminal: 1, cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 });
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.resume();
  stdin.on('data', (d: Buffer) => term.write(d.toString('utf8')));
  term.onData((d) => process.stdout.write(d));
  const onResize = () => term.resize(process.stdout.columns || 80, process.stdout.rows || 24);
  process.stdout.on('resize', onResize);
  const code = await new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  process.stdout.off('resize', onResize);
  if (stdin.isTTY) stdin.setRawMode(false);
  stdin.pause();
  await sandbox.destroy();
  return code;
}
