/**
 * The import graph of the repository as the TypeScript compiler parses it, and the
 * rules of docs/architecture.md (the floors and what each may import) checked on it.
 * Kept apart from the test so that the rules can be fed a made-up graph.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface ImportEdge {
  /** importing file, relative to the repository root */
  from: string;
  /** the specifier as written */
  specifier: string;
  /** the imported file relative to the root when the specifier is relative, else null (a package) */
  to: string | null;
  /** erased at compile time: `import type`, `export type ... from`, `import('x').T` in a type */
  typeOnly: boolean;
  line: number;
}

/** Every import, re-export and dynamic import of one source text. */
export function importsOf(file: string, text: string): ImportEdge[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edges: ImportEdge[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean, node: ts.Node) => {
    if (!spec || !ts.isStringLiteralLike(spec)) return;
    const specifier = spec.text;
    const to = specifier.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)) : null;
    edges.push({ from: file, specifier, to, typeOnly, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      // under verbatimModuleSyntax `import { type A } from 'x'` still loads 'x' at run
      // time (as `import {} from 'x'`): only `import type` is erased
      add(node.moduleSpecifier, node.importClause?.isTypeOnly === true, node);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly, node);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly, node);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false, node);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true, node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

/** The TypeScript files under `dirs` (relative to root), found on disk. */
export function sourceFiles(root: string, dirs: string[]): string[] {
  return dirs.flatMap((d) => (readdirSync(path.join(root, d), { recursive: true }) as string[])
    .filter((f) => /\.tsx?$/.test(f) && !f.split(path.sep).includes('node_modules'))
    .map((f) => path.posix.join(d, f.split(path.sep).join('/'))));
}

export function readImports(root: string, files: string[]): ImportEdge[] {
  return files.flatMap((f) => importsOf(f, readFileSync(path.join(root, f), 'utf8')));
}

/** The floors of docs/architecture.md, lowest first, by path. */
export type Area =
  | 'contract' | 'config' | 'lib' | 'sandbox' | 'kube' | 'lessons' | 'terminal' | 'checks' | 'grade' | 'classroom' | 'http' | 'cli'
  | 'web' | 'lesson-checks' | 'other';

export function areaOf(file: string): Area {
  if (file === 'lab-server/cli.ts') return 'cli';
  const m = /^lab-server\/([a-z-]+)\//.exec(file);
  if (m) {
    const dir = m[1];
    const known: Area[] = ['contract', 'config', 'lib', 'sandbox', 'kube', 'lessons', 'terminal', 'checks', 'grade', 'classroom', 'http', 'cli'];
    return (known as string[]).includes(dir) ? (dir as Area) : 'other';
  }
  if (file.startsWith('web/')) return 'web';
  if (/^lessons\/[^/]+\/.+\.ts$/.test(file)) return 'lesson-checks';
  return 'other';
}

/** What each server floor may import besides itself (docs/architecture.md). */
export const MAY_IMPORT: Partial<Record<Area, readonly Area[]>> = {
  contract: [],
  config: [],
  lib: [],
  sandbox: ['contract', 'config', 'lib'],
  kube: ['sandbox', 'contract', 'config', 'lib'],
  lessons: ['sandbox', 'contract', 'config', 'lib'],
  terminal: ['sandbox', 'contract', 'config', 'lib'],
  checks: ['lessons', 'sandbox', 'contract', 'config', 'lib'],
  grade: ['checks', 'lessons', 'sandbox', 'contract', 'config', 'lib'],
  classroom: ['checks', 'lessons', 'sandbox', 'contract', 'config', 'lib'],
  http: ['classroom', 'terminal', 'grade', 'checks', 'lessons', 'sandbox', 'contract', 'config', 'lib'],
  cli: ['http', 'classroom', 'terminal', 'grade', 'checks', 'lessons', 'kube', 'sandbox', 'contract', 'config', 'lib'],
};

/** The one file lessons' checks.ts may import from the server. */
export const CHECKS_API = 'lab-server/checks/api.ts';

/**
 * Contract files the web app may load at run time: plain constants that import
 * nothing at all, so the browser bundle gets them and nothing else of the server.
 */
export const WEB_RUNTIME_CONTRACT = ['lab-server/contract/session-constants.ts'];

export interface Violation { rule: string; edge: ImportEdge }

/** The first rule of docs/architecture.md this import breaks, or null. */
export function brokenRule(e: ImportEdge): string | null {
  const from = areaOf(e.from);
  if (from === 'other' && e.from.startsWith('lab-server/')) return 'every server module sits on a floor of docs/architecture.md';
  // the floor the browser shares: packages only when they run anywhere (zod), never node's
  if (WEB_RUNTIME_CONTRACT.includes(e.from)) return 'a contract file the web app loads at run time imports nothing';
  if (from === 'contract' && e.to === null && (e.specifier.startsWith('node:') || e.specifier === 'express' || e.specifier === 'ws')) return 'the contract imports no server-only package';
  if (e.to === null) return null;
  const to = areaOf(e.to);
  if (from === 'web' && !e.to.startsWith('web/')) {
    if (to !== 'contract') return 'web imports nothing of the server but the contract';
    if (!e.typeOnly && !WEB_RUNTIME_CONTRACT.includes(e.to)) return 'web imports the contract with `import type` only (at run time only its constants files)';
  }
  if (from === 'lesson-checks' && e.to !== CHECKS_API && !(e.to.startsWith('lessons/') && e.to.split('/')[1] === e.from.split('/')[1])) {
    return "lessons' checks import only the checks API (lab-server/checks/api.ts)";
  }
  if (to === 'http' && from !== 'http' && from !== 'cli' && from !== 'other') return 'nothing imports http (only the cli wires it)';
  const allowed = MAY_IMPORT[from];
  if (allowed && to !== from && !allowed.includes(to)) {
    return from === 'contract' || from === 'config' || from === 'lib' ? `${from} imports nothing of ours` : `${from} imports only ${allowed.join(', ')}`;
  }
  return null;
}

/** Every import in `edges` that breaks an arrow of docs/architecture.md. */
export function violations(edges: ImportEdge[]): Violation[] {
  return edges.flatMap((edge) => {
    const rule = brokenRule(edge);
    return rule ? [{ rule, edge }] : [];
  });
}

export function describe(v: Violation): string {
  return `${v.edge.from}:${v.edge.line} imports ${v.edge.specifier}${v.edge.typeOnly ? ' (type only)' : ''}: ${v.rule}`;
}
