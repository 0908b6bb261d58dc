/** Transcript parsing and report formats (the JSON shape is a public contract). */
import { describe, expect, it } from 'vitest';
import { buildReport, formatJson, formatJunit, formatSummary, formatText } from '../../lab-server/grade/report.ts';
import { plainText } from '../../lab-server/grade/runner.ts';
import { ctrlByte, parseTranscript } from '../../lab-server/grade/transcript.ts';

describe('transcripts', () => {
  it('types lines, switches terminals, sleeps, skips comments and reads the near-miss header', () => {
    const { transcript, problems } = parseTranscript('## near-miss: a, b-2\n## just a comment\nunshare --ipc bash\n#!term 2\n#!sleep 0.5\n\n#!ctrl c\n#!/bin/sh is typed\necho "## not a comment"\n', 'x.txt');
    expect(problems).toEqual([]);
    expect(transcript.nearMiss).toEqual(['a', 'b-2']);
    expect(transcript.items).toEqual([
      { kind: 'type', text: 'unshare --ipc bash', line: 3 },
      { kind: 'term', terminal: 2, line: 4 },
      { kind: 'sleep', ms: 500, line: 5 },
      { kind: 'type', text: '', line: 6 },
      { kind: 'ctrl', char: 'c', line: 7 },
      { kind: 'type', text: '#!/bin/sh is typed', line: 8 },
      { kind: 'type', text: 'echo "## not a comment"', line: 9 },
    ]);
  });

  it('handles CRLF files and has no trailing empty line', () => {
    expect(parseTranscript('ls\r\npwd\r\n', 'x').transcript.items.map((i) => i.kind === 'type' && i.text)).toEqual(['ls', 'pwd']);
  });

  it('names the line of every bad directive', () => {
    const { problems } = parseTranscript('#!term\n#!term 99\n#!sleep soon\n#!wait 2\n## near-miss:\nok\nbad\x07bell\n', 't.txt');
    expect(problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      '1: #!term needs a terminal number 1..8, got ""',
      '2: #!term needs a terminal number 1..8, got "99"',
      '3: #!sleep needs seconds (0..600), got "soon"',
      '4: unknown directive "#!wait" (known: #!term N, #!sleep S, #!ctrl KEY; "##" starts a comment)',
      '5: "## near-miss:" names no steps: list the step ids this transcript must not pass',
      '7: line contains control characters; use "#!ctrl KEY" for key presses',
    ]);
  });

  it('maps #!ctrl keys to control bytes and strips terminal escapes', () => {
    expect(ctrlByte('c')).toBe('\x03');
    expect(ctrlByte('d')).toBe('\x04');
    expect(plainText('\x1b[?2004h\x1b[1;32mroot@nslab\x1b[0m:~# ls\r\n\x1b]0;title\x07a\r\n')).toBe('root@nslab:~# ls\na\n');
  });
});

describe('reports', () => {
  const steps = [{ id: 'a', title: 'Step A' }, { id: 'b', title: 'Step <B>' }, { id: 'c', title: 'C' }];
  const report = buildReport('demo', steps, [
    { id: 'a', status: 'pass', message: null, passedAt: 1 },
    { id: 'b', status: 'fail', message: 'make a queue first & then "look"', passedAt: null },
    { id: 'c', status: 'pending', message: null, passedAt: null },
  ]);

  it('JSON has exactly the documented shape', () => {
    const j = JSON.parse(formatJson(report));
    expect(j).toEqual({
      lesson: 'demo',
      steps: [
        { id: 'a', title: 'Step A', passed: true, message: '' },
        { id: 'b', title: 'Step <B>', passed: false, message: 'make a queue first & then "look"' },
        { id: 'c', title: 'C', passed: false, message: 'not done: the transcript never reached this step' },
      ],
      passed: 1,
      total: 3,
    });
    expect(Object.keys(j)).toEqual(['lesson', 'steps', 'passed', 'total']);
  });

  it('JUnit escapes and counts failures; text is readable', () => {
    const x = formatJunit(report, 'sol.txt');
    expect(x).toContain('<testsuite name="demo (sol.txt)" tests="3" failures="2" errors="0" skipped="0">');
    expect(x).toContain('name="b: Step &lt;B&gt;"');
    expect(x).toContain('message="make a queue first &amp; then &quot;look&quot;"');
    expect(x).toContain('<testcase classname="demo" name="a: Step A"/>');
    const t = formatText(report);
    expect(t).toContain('PASS  a     Step A');
    expect(t).toContain('→ make a queue first & then "look"');
    expect(t.trim().endsWith('1/3 steps passed')).toBe(true);
  });

  it('summarises a batch, errors included', () => {
    const s = formatSummary([{ file: 'alice.txt', report, error: null }, { file: 'bob.txt', report: null, error: 'bad transcript' }], 'text');
    expect(s).toContain('alice.txt      1/3  b, c');
    expect(s).toContain('bob.txt      ERROR  bad transcript');
    expect(JSON.parse(formatSummary([{ file: 'alice.txt', report, error: null }], 'json'))).toEqual([{ file: 'alice.txt', passed: 1, total: 3, failed: ['b', 'c'], error: null }]);
  });
});

describe('readTranscript', () => {
  it('refuses files beyond the size limit instead of typing megabytes', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const { readTranscript, MAX_TRANSCRIPT_BYTES } = await import('../../lab-server/grade/grade.ts');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nslab-t-'));
    try {
      const big = path.join(dir, 'big.txt');
      await writeFile(big, 'x'.repeat(MAX_TRANSCRIPT_BYTES + 1));
      await expect(readTranscript(big)).rejects.toThrow(/the limit is 1048576/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
