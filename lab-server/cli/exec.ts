/** nslab exec [--image NAME] -- CMD ARGS...: one command in a fresh sandbox; its output streams, its status is ours. */
import { loadSettings, type Settings } from '../config/settings.ts';
import { createSandboxBackend } from '../sandbox/index.ts';
import { parseSandboxArgs } from './sandbox-args.ts';

const USAGE = 'usage: nslab exec [--image NAME] -- CMD [ARGS...]';

export async function run(args: string[], settings: Settings = loadSettings()): Promise<number> {
  const parsed = parseSandboxArgs(args, USAGE);
  if (typeof parsed === 'string') { console.error(parsed); return 2; }
  if (!parsed.rest.length) { console.error(`nslab exec needs a command\n${USAGE}`); return 2; }
  const backend = createSandboxBackend({}, settings);
  await backend.reapOrphans();
  const sandbox = await backend.create({ image: parsed.image, label: 'nslab exec' });
  try {
    // piped, not inherited: our terminal (or /dev/null) must never reach crun, which
    // would hand it to the sandbox's root (docs/security.md, known gap 7)
    const child = sandbox.spawnProcess(parsed.rest);
    child.stdout.pipe(process.stdout);
    child.stderr.pipe(process.stderr);
    if (process.stdin.isTTY) child.stdin.end();
    else process.stdin.pipe(child.stdin);
    child.stdin.on('error', () => { /* the command did not read its input */ });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const code = await new Promise<number>((resolve) => child.on('close', (c, s) => resolve(c ?? (s ? 128 + 15 : 1))));
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    process.stdin.unpipe(child.stdin);
    process.stdin.pause();
    return code;
  } finally {
    await sandbox.destroy();
  }
}
