/** Options shared by `nslab shell` and `nslab exec`. */
export interface SandboxArgs { image: string; rest: string[] }

export function parseSandboxArgs(args: string[], usage: string): SandboxArgs | string {
  let image = 'default';
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') { rest.push(...args.slice(i + 1)); break; }
    if (a === '--image') {
      const v = args[++i];
      if (!v) return `--image needs a name\n${usage}`;
      image = v;
    } else if (a.startsWith('--image=')) image = a.slice('--image='.length);
    else if (a === '-h' || a === '--help') return usage;
    else if (a.startsWith('-')) return `unknown option ${a}\n${usage}`;
    else rest.push(a);
  }
  return { image, rest };
}
