/**
 * The arrows of docs/architecture.md, read from the real imports: a change that
 * breaks one fails here, naming the file, the line and the rule.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { areaOf, describe as explain, importsOf, readImports, sourceFiles, violations, type ImportEdge } from './imports.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** an edge as importsOf would report it for `import ... from '<spec>'` in `from` */
const edge = (from: string, specifier: string, typeOnly = false): ImportEdge =>
  importsOf(from, `import ${typeOnly ? 'type ' : ''}{ x } from '${specifier}';`)[0];

describe('the real tree', () => {
  const files = sourceFiles(ROOT, ['lab-server', 'web', 'lessons']);
  const edges = readImports(ROOT, files);

  it('reads the imports of every floor', () => {
    // a reader that found nothing would pass every rule: make sure it sees the tree
    for (const area of ['contract', 'sandbox', 'lessons', 'terminal', 'checks', 'grade', 'classroom', 'http', 'cli', 'web', 'lesson-checks'] as const) {
      expect(edges.some((e) => areaOf(e.from) === area), area).toBe(true);
    }
    expect(edges.some((e) => e.from.startsWith('web/') && e.to?.startsWith('lab-server/contract/'))).toBe(true);
  });

  it('keeps every arrow of docs/architecture.md', () => {
    expect(violations(edges).map(explain)).toEqual([]);
  });
});

describe('the rules fail on a broken arrow', () => {
  const cases: [string, ImportEdge, RegExp][] = [
    ['the contract importing the sandbox', edge('lab-server/contract/steps.ts', '../sandbox/types.ts', true), /contract imports nothing of ours/],
    ['the contract importing a node module', edge('lab-server/contract/lang.ts', 'node:fs'), /no server-only package/],
    ['web importing the contract at run time', edge('web/lesson/pane.ts', '../../lab-server/contract/steps.ts'), /`import type` only/],
    ['web importing the session protocol at run time', edge('web/term/connection.ts', '../../lab-server/contract/session-protocol.ts'), /`import type` only/],
    ['the constants the web loads importing zod', edge('lab-server/contract/session-constants.ts', 'zod'), /loads at run time imports nothing/],
    ['the constants the web loads importing a contract sibling', edge('lab-server/contract/session-constants.ts', './lang.ts', true), /loads at run time imports nothing/],
    ['web importing the classroom service', edge('web/board/client.ts', '../../lab-server/classroom/service.ts', true), /nothing of the server but the contract/],
    ["a lesson's checks importing the sandbox", edge('lessons/ipc-namespace/checks.ts', '../../lab-server/sandbox/probe.ts'), /only the checks API/],
    ["a lesson's checks importing the check engine", edge('lessons/ipc-namespace/checks.ts', '../../lab-server/checks/engine.ts'), /only the checks API/],
    ['the classroom importing http', edge('lab-server/classroom/routes.ts', '../http/sessions.ts', true), /nothing imports http/],
    ['the sandbox importing the terminal', edge('lab-server/sandbox/local.ts', '../terminal/flow.ts'), /sandbox imports only contract, config, lib/],
    ['the sandbox importing the lessons', edge('lab-server/sandbox/probe.ts', '../lessons/loader.ts', true), /sandbox imports only/],
    ['checks importing the classroom', edge('lab-server/checks/engine.ts', '../classroom/store.ts'), /checks imports only/],
    ['a ground-floor utility importing the contract', edge('lab-server/lib/rate-limit.ts', '../contract/lang.ts', true), /lib imports nothing of ours/],
    ['a server folder on no floor', edge('lab-server/misc/util.ts', '../sandbox/types.ts'), /sits on a floor/],
  ];
  it.each(cases)('%s', (_name, e, rule) => {
    const found = violations([e]);
    expect(found).toHaveLength(1);
    expect(found[0].rule).toMatch(rule);
  });

  it('lets the allowed arrows through', () => {
    const fine = [
      edge('web/lesson/pane.ts', '../../lab-server/contract/steps.ts', true),
      edge('web/board/client.ts', '../api.ts'),
      edge('web/term/connection.ts', '../../lab-server/contract/session-constants.ts'),
      edge('lessons/ipc-namespace/checks.ts', '../../lab-server/checks/api.ts'),
      edge('lab-server/cli/serve.ts', '../http/app.ts'),
      edge('lab-server/http/app.ts', '../classroom/routes.ts'),
      edge('lab-server/checks/engine.ts', '../contract/steps.ts'),
      edge('lab-server/sandbox/local.ts', '../contract/lang.ts'),
      edge('lab-server/contract/session-protocol.ts', 'zod'),
      edge('test/server/http.test.ts', '../../lab-server/http/app.ts'),
    ];
    expect(violations(fine).map(explain)).toEqual([]);
  });
});

describe('reading imports', () => {
  it('tells type-only imports from run-time ones, re-exports and dynamic imports included', () => {
    const text = [
      "import type { A } from './a.ts';",
      "import { type B } from './b.ts';",
      "import C from './c.ts';",
      "import './d.ts';",
      "export type { E } from './e.ts';",
      "export { F } from './f.ts';",
      "const g = await import('./g.ts');",
      "let h: import('./h.ts').H;",
      "import { z } from 'zod';",
    ].join('\n');
    const got = importsOf('web/x/y.ts', text).map((e) => [e.specifier, e.to, e.typeOnly, e.line]);
    expect(got).toEqual([
      ['./a.ts', 'web/x/a.ts', true, 1],
      // verbatimModuleSyntax keeps `import {} from './b.ts'`: it loads b at run time
      ['./b.ts', 'web/x/b.ts', false, 2],
      ['./c.ts', 'web/x/c.ts', false, 3],
      ['./d.ts', 'web/x/d.ts', false, 4],
      ['./e.ts', 'web/x/e.ts', true, 5],
      ['./f.ts', 'web/x/f.ts', false, 6],
      ['./g.ts', 'web/x/g.ts', false, 7],
      ['./h.ts', 'web/x/h.ts', true, 8],
      ['zod', null, false, 9],
    ]);
  });
});
