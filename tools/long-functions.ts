// Lists the functions, methods and arrow functions of TypeScript files that span more than N lines, longest first.
// The house keeps functions in src/ to 80 lines (shared/design/house.md); test/structure.test.ts holds it there
// with this walker. A function's length runs from its first line (its name, or `async`/`export` before it) to its
// closing brace, nested functions included; a nested function is also measured on its own.
//
//   npx tsx tools/long-functions.ts [--max N] [DIR|FILE ...]      (defaults: --max 80, src)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** One function that spans more lines than allowed. */
export interface LongFunction {
  file: string;
  /** 1-based line of the function's start. */
  line: number;
  name: string;
  lines: number;
}

/** The name a reader would search for: the declaration's own, else the variable, property or argument it is bound to. */
function nameOf(node: ts.FunctionLikeDeclaration, sf: ts.SourceFile): string {
  if (node.name) return node.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const p = node.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) return p.name.getText(sf);
  if (ts.isCallExpression(p)) return `(argument of ${p.expression.getText(sf).slice(0, 40)})`;
  return '(anonymous)';
}

/** The node whose text a reader sees as the function: the variable statement for `const f = () => …`. */
function spanOf(node: ts.FunctionLikeDeclaration): ts.Node {
  const list = ts.isVariableDeclaration(node.parent) ? node.parent.parent : undefined;
  if (list && ts.isVariableDeclarationList(list) && list.declarations.length === 1 && ts.isVariableStatement(list.parent)) return list.parent;
  return node;
}

/** Every function-like node of one source text longer than `max` lines. */
export function longFunctionsIn(file: string, text: string, max: number): LongFunction[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const fn = node;
      const span = spanOf(fn);
      const first = sf.getLineAndCharacterOfPosition(span.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(span.getEnd()).line;
      const lines = last - first + 1;
      if (lines > max) out.push({ file, line: first + 1, name: nameOf(fn, sf), lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The .ts files under each path (a file stands for itself), sorted; declaration files left out. */
export function tsFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) {
      for (const name of readdirSync(p).sort()) if (name !== 'node_modules') walk(join(p, name));
    } else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  };
  for (const p of paths) walk(p);
  return out;
}

/** The functions longer than `max` lines in the .ts files under `paths`, longest first; paths relative to `cwd`. */
export function longFunctions(paths: string[], max: number, cwd = process.cwd()): LongFunction[] {
  const all = tsFiles(paths).flatMap((f) => longFunctionsIn(relative(cwd, f), readFileSync(f, 'utf8'), max));
  return all.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line);
}

function main(argv: string[]): number {
  let max = 80;
  const paths: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--max') max = Number(argv[++i]);
    else if (a.startsWith('--max=')) max = Number(a.slice(6));
    else paths.push(a);
  }
  if (!Number.isInteger(max) || max < 1) {
    process.stderr.write('usage: npx tsx tools/long-functions.ts [--max N] [DIR|FILE ...]\n');
    return 64;
  }
  const found = longFunctions(paths.length ? paths : ['src'], max);
  for (const f of found) process.stdout.write(`${String(f.lines).padStart(4)}  ${f.file}:${f.line}  ${f.name}\n`);
  return found.length ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
