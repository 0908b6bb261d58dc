/**
 * The transcript runner on a real sandbox: heredocs (continuation prompts), an
 * interactive Python session, Ctrl-C, a second terminal, nested shells and `exit`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TranscriptRunner } from '../../lab-server/grade/runner.ts';
import { parseTranscript } from '../../lab-server/grade/transcript.ts';
import { createSandboxBackend, type LocalBackend } from '../../lab-server/sandbox/index.ts';

let backend: LocalBackend;
beforeAll(async () => {
  backend = createSandboxBackend();
  await backend.checkHost();
  await backend.images.ensureBuilt('default', (l) => console.log(l));
});
afterAll(async () => { await backend?.destroyAll(); });

it('types a transcript the way a learner would', async () => {
  const sandbox = await backend.create({ label: 'runner test' });
  // the runner's default quiet period: with 800 ms, a loaded TCG guest (docs/vm.md) let a
  // line go while bash was between two readline calls, and the tty ate the Ctrl-V before the Tab
  const runner = new TranscriptRunner(sandbox, { quietMs: 1500 });
  const { transcript, problems } = parseTranscript([
    '## heredoc: continuation prompts',
    'cat > /tmp/prog.c <<EOF',
    '#include <stdio.h>',
    'int main(void) { puts("compiled"); return 0; }',
    'EOF',
    'gcc -o /tmp/prog /tmp/prog.c && /tmp/prog > /tmp/prog.out',
    "printf 'a:\\n' > /tmp/Makefile; cat >> /tmp/Makefile <<'EOF'",
    '\techo tab-ok',
    'EOF',
    `[ "$(sed -n 2p /tmp/Makefile)" = "$(printf '\\techo tab-ok')" ] && echo tab-ok > /tmp/make.out`,
    'python3',
    'open("/tmp/py.out", "w").write("from python")',
    'exit()',
    'sleep 600',
    '#!ctrl c',
    'echo after-ctrl-c > /tmp/ctrlc.out',
    'unshare --uts bash',
    'hostname inner; echo $NSLAB_TERM > /tmp/nested.out',
    'exit',
    '#!term 2',
    'echo $NSLAB_TERM > /tmp/term2.out',
    '#!sleep 0.2',
    '#!term 1',
    'exit',
    'echo reopened > /tmp/reopened.out',
  ].join('\n'), 'inline');
  expect(problems).toEqual([]);
  try {
    await runner.run(transcript);
    const r = await sandbox.exec(['/bin/bash', '-c', 'cat /tmp/prog.out /tmp/py.out; echo; cat /tmp/make.out /tmp/ctrlc.out /tmp/nested.out /tmp/term2.out /tmp/reopened.out']);
    expect(r.stdout).toBe('compiled\nfrom python\ntab-ok\nafter-ctrl-c\n1\n2\nreopened\n');
    expect(runner.terminalText(1)).toContain('compiled');
    expect(runner.terminalText(2)).toContain('echo $NSLAB_TERM');
    // every line that ran in a shell is in the command log, in order
    const cmds = sandbox.commands().filter((e) => e.kind === 'cmd').map((e) => e.command);
    expect(cmds).toEqual(expect.arrayContaining(['unshare --uts bash', 'echo reopened > /tmp/reopened.out']));
  } finally {
    runner.close();
    await sandbox.destroy();
  }
});

it('in a heredoc, waits for the continuation prompt however long the shell takes to show it', async () => {
  const sandbox = await backend.create({ label: 'runner heredoc test' });
  // PS2's command substitution runs before readline takes the terminal back: for 2 s
  // the tty is in canonical mode, where a typed Ctrl-V is the tty's own LNEXT and the
  // Tab after it reaches readline bare (completion). A short quiet period lets the
  // line go in that window; only the "> " prompt says the shell is reading.
  const runner = new TranscriptRunner(sandbox, { quietMs: 300 });
  const { transcript, problems } = parseTranscript([
    "PS2='$(sleep 2)> '",
    "cat > /tmp/Makefile <<'EOF'",
    'all:',
    '\techo tab-ok',
    'EOF',
    `[ "$(sed -n 2p /tmp/Makefile)" = "$(printf '\\techo tab-ok')" ] && echo tab-ok > /tmp/make.out`,
  ].join('\n'), 'inline');
  expect(problems).toEqual([]);
  try {
    await runner.run(transcript);
    const r = await sandbox.exec(['/bin/bash', '-c', 'cat -A /tmp/Makefile; cat /tmp/make.out']);
    expect(r.stdout).toBe('all:$\n^Iecho tab-ok$\ntab-ok\n');
  } finally {
    runner.close();
    await sandbox.destroy();
  }
});

it('waits for a silent command that keeps the sandbox busy, and not for one that sleeps', async () => {
  const sandbox = await backend.create({ label: 'runner busy test' });
  const how = new Map<string, string>();
  // a short quiet period, as a slow machine makes the real one: a silent compile outlasts it
  const runner = new TranscriptRunner(sandbox, { quietMs: 300, onLine: (_n, text, _ms, end) => how.set(text, end) });
  // the busy process itself leaves the file as its last act: after it, the shell's own
  // bookkeeping (touch, the prompt's report) may be slow and idle under emulation
  const busy = "sh -c 'end=$(($(date +%s) + 3)); while [ $(date +%s) -lt $end ]; do :; done; : > /tmp/busy-done'";
  const { transcript, problems } = parseTranscript([
    busy,
    '#!term 2',
    'test -e /tmp/busy-done && echo seen > /tmp/seen || echo missed > /tmp/seen',
    '#!term 1',
    'sleep 30',
    '#!ctrl c',
  ].join('\n'), 'inline');
  expect(problems).toEqual([]);
  try {
    await runner.run(transcript);
    expect((await sandbox.exec(['cat', '/tmp/seen'])).stdout).toBe('seen\n');
    expect(how.get(busy)).not.toBe('timeout');
    // idle silence still lets the line go
    expect(how.get('sleep 30')).toBe('quiet');
  } finally {
    runner.close();
    await sandbox.destroy();
  }
});

it('waits for a silent command blocked in the kernel that uses no CPU (a compiler on a slow disk)', async () => {
  const sandbox = await backend.create({ label: 'runner blocked test' });
  const how = new Map<string, string>();
  const runner = new TranscriptRunner(sandbox, { quietMs: 300, onLine: (_n, text, _ms, end) => how.set(text, end) });
  // The parent of a vfork() sleeps uninterruptibly (state D) until its child exits, as a
  // process waiting for a 9p or NFS read does; the child sleeps: no CPU is used at all.
  // The parent leaves the file as its last act.
  const program = [
    '#include <fcntl.h>',
    '#include <time.h>',
    '#include <unistd.h>',
    'int main(void) {',
    '  if (vfork() == 0) { struct timespec t = { 3, 0 }; nanosleep(&t, 0); _exit(0); }',
    '  return close(open("/tmp/blocked-done", O_CREAT | O_WRONLY, 0644));',
    '}',
  ].join('\n');
  const built = await sandbox.exec(['sh', '-c', `cat > /tmp/blocked.c <<'EOF'\n${program}\nEOF\ngcc -o /tmp/blocked /tmp/blocked.c`]);
  expect(built.stderr).toBe('');
  expect(built.code).toBe(0);
  const { transcript, problems } = parseTranscript([
    '/tmp/blocked',
    '#!term 2',
    'test -e /tmp/blocked-done && echo seen > /tmp/seen || echo missed > /tmp/seen',
  ].join('\n'), 'inline');
  expect(problems).toEqual([]);
  try {
    await runner.run(transcript);
    expect((await sandbox.exec(['cat', '/tmp/seen'])).stdout).toBe('seen\n');
    expect(how.get('/tmp/blocked')).not.toBe('timeout');
  } finally {
    runner.close();
    await sandbox.destroy();
  }
});

it('knows a heredoc when a line opens one', async () => {
  const { opensHeredoc } = await import('../../lab-server/grade/runner.ts');
  for (const l of ["cat > f <<'EOF'", 'cat <<EOF', 'cat <<-END > f', 'cat << "X"', 'python3 - <<\\EOF', 'a; cat >> m <<EOF && b']) expect(opensHeredoc(l), l).toBe(true);
  for (const l of ['cat <<< "$x"', 'echo $((1 << 2))', 'echo "<<"', 'ls -l']) expect(opensHeredoc(l), l).toBe(false);
});

it('gives up on a transcript that never lets go of the terminal', async () => {
  const sandbox = await backend.create({ label: 'runner test 2' });
  const runner = new TranscriptRunner(sandbox, { lineTimeoutMs: 1000, totalTimeoutMs: 2500 });
  const { transcript } = parseTranscript('yes\necho one\necho two\necho three\necho four\n', 'endless.txt');
  try {
    await expect(runner.run(transcript)).rejects.toThrow(/gave up at line \d of endless.txt: the transcript ran longer than 3 s/);
  } finally {
    runner.close();
    await sandbox.destroy();
  }
});

it('after typing ahead of a silent command, pairs each later line with its own command-log event', async () => {
  const { CheckEngine } = await import('../../lab-server/checks/engine.ts');
  const { defineChecks, pass, pending } = await import('../../lab-server/checks/api.ts');
  const sandbox = await backend.create({ label: 'runner test 3' });
  const checks = defineChecks({
    // passes only while /tmp/flag exists: the transcript removes it right after making it
    flag: async (lab) => {
      const init = (await lab.processes()).find((p) => p.pid === 1)!;
      return (await lab.readFile(init.hostPid, '/tmp/flag')) !== null ? pass() : pending();
    },
  });
  const engine = new CheckEngine({ sandbox, checks, steps: ['flag'], lang: 'en', pollMs: 0 });
  const ends: string[] = [];
  const runner = new TranscriptRunner(sandbox, {
    engine,
    quietMs: 1000,
    onLine: (_l, text, _ms, how) => {
      // was this line's own event in the log when its wait ended?
      const own = sandbox.commands().some((e) => e.kind === 'cmd' && e.command === text);
      ends.push(`${text}: ${how}${own ? '' : ' (not its own event)'}`);
      // the silent command ends shortly after the next line was typed ahead of it,
      // so its late event arrives while the runner waits for `touch`
      if (text.startsWith('cat')) setTimeout(() => { void sandbox.exec(['/bin/sh', '-c', 'echo > /tmp/f']); }, 150);
    },
  });
  const { transcript } = parseTranscript('mkfifo /tmp/f\ncat /tmp/f > /dev/null\nsleep 0.3; touch /tmp/flag\nrm /tmp/flag\n', 'typeahead.txt');
  try {
    engine.start();
    await runner.run(transcript);
    expect(ends).toEqual(['mkfifo /tmp/f: prompt', 'cat /tmp/f > /dev/null: quiet (not its own event)', 'sleep 0.3; touch /tmp/flag: prompt', 'rm /tmp/flag: prompt']);
    // the third line's own event was awaited (not cat's late one), so the checks saw the flag before `rm`
    expect(engine.statuses()[0].status).toBe('pass');
  } finally {
    engine.stop();
    runner.close();
    await sandbox.destroy();
  }
});
