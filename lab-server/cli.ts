/**
 * `nslab <command> [args]`. Each command lives in lab-server/cli/<name>.ts and
 * exports `run(args: string[]): Promise<number>` (the exit code). Exit codes:
 * 0 success, 1 the thing ran and failed (e.g. a graded step failed), 2 usage or
 * environment error.
 */
import { loadSettings, SettingsError, type Settings } from './config/settings.ts';

type Command = { summary: string; load: () => Promise<{ run(args: string[], settings: Settings): Promise<number> }> };

const commands: Record<string, Command> = {
  serve: { summary: 'start the lab server', load: () => import('./cli/serve.ts') },
  doctor: { summary: 'check this host for nslab: requirements and system-wide kernel pools: doctor [--json] [--sessions N]', load: () => import('./cli/doctor.ts') },
  shell: { summary: 'interactive shell in a fresh sandbox: shell [--image NAME]', load: () => import('./cli/shell.ts') },
  exec: { summary: 'run one command in a fresh sandbox: exec [--image NAME] -- CMD ARGS...', load: () => import('./cli/exec.ts') },
  image: { summary: 'sandbox images: image build [NAME] | image list | image ensure [NAME]', load: () => import('./cli/image.ts') },
  grade: { summary: 'grade transcripts: grade LESSON FILE|DIR [--format json|junit|text] [--lang en|ko|zh]', load: () => import('./cli/grade.ts') },
  lessons: { summary: 'list lessons and their step ids', load: () => import('./cli/lessons.ts') },
  lint: { summary: 'validate every lesson', load: () => import('./cli/lint.ts') },
  export: { summary: 'export a workshop: export CODE --format csv|json|junit', load: () => import('./cli/export.ts') },
  kube: { summary: 'the Kubernetes install as YAML: kube render [--values FILE] [--learners N] [--pod ID]', load: () => import('./cli/kube.ts') },
  attach: { summary: 'attach grade reports to a workshop: attach CODE REPORT.json|- ... [--learner NAME | --learner-from-file]', load: () => import('./cli/attach.ts') },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return ['usage: nslab <command> [args]', '', ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    console.error(`nslab: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  // every NSLAB_* setting, read once here and passed to the command (config/settings.ts)
  let settings: Settings;
  try {
    settings = loadSettings(process.env);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    console.error(`nslab ${name}: ${err.message}`);
    return 2;
  }
  let mod;
  try {
    mod = await cmd.load();
  } catch (err) {
    console.error(`nslab: command '${name}' is not available in this build (${(err as Error).message})`);
    return 2;
  }
  return mod.run(rest, settings);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    const e = err as Error;
    console.error(`nslab: ${e?.name === 'HostError' ? e.message : (e?.stack ?? String(err))}`);
    process.exitCode = 2;
  },
);
