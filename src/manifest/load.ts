import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { type Digest, digestOf } from '../store/digest.js';
import { ManifestError, errnoCode } from '../util/errors.js';
import { limits } from '../util/limits.js';
import { closest } from '../util/suggest.js';
import { type Manifest, manifestJsonSchema, manifestSchema } from './schema.js';

export interface LoadedManifest {
  path: string;
  dir: string;
  manifest: Manifest;
  /**
   * Digest of what resolution depends on (target and source sections, canonical JSON). Name, version and
   * comments are left out on purpose: bumping the bundle version must not force a re-lock.
   */
  inputsDigest: Digest;
}

export async function loadManifest(path: string): Promise<LoadedManifest> {
  const abs = resolve(path);
  let text: string;
  try {
    const buf = await readFile(abs);
    if (buf.byteLength > limits.maxManifestBytes) throw Object.assign(new Error('too large'), { code: 'EFBIG' });
    text = buf.toString('utf8');
  } catch (err) {
    throw new ManifestError({
      code: 'MANIFEST_READ',
      message: `cannot read manifest ${path}: ${readWhy(err)}`,
      subject: path,
      hint:
        errnoCode(err) === 'EISDIR'
          ? `give the manifest YAML file in that folder (e.g. ${path.replace(/\/+$/, '')}/<name>.yaml), not the folder`
          : 'give the path of a manifest YAML file; "vault-bundle schema" prints every field a manifest can have',
    });
  }
  const manifest = parseManifest(text, path);
  return { path: abs, dir: dirname(abs), manifest, inputsDigest: inputsDigestOf(manifest) };
}

/** Why a manifest could not be read, in words (never Node's "EISDIR: illegal operation on a directory, read"). */
function readWhy(err: unknown): string {
  switch (errnoCode(err)) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'it is a folder, not a manifest file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EFBIG':
      return `larger than ${limits.maxManifestBytes} bytes: not a manifest`;
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** Parses and validates manifest text; errors name `file:line` and the field. */
export function parseManifest(text: string, file: string): Manifest {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line;
    throw new ManifestError({
      code: 'MANIFEST_YAML',
      message: `${file}:${line}: invalid YAML: ${e.message.split('\n')[0]}`,
      subject: `${file}:${line}`,
      hint: 'fix the YAML syntax at that line (indentation, quotes, a duplicate key)',
    });
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${file}: a manifest is a YAML mapping (name, version, target, ...)`,
      subject: file,
      hint: 'a manifest starts with name:, version: and target:; "vault-bundle schema" prints every field (docs/reference.md has an example)',
    });
  }
  const r = manifestSchema.safeParse(data);
  if (!r.success) throw issueError(r.error.issues, doc, lc, file);
  return r.data;
}

type Issue = z.core.$ZodIssue;
type Path = (string | number)[];

const isRootMiss = (branch: readonly Issue[]) =>
  branch.length === 1 && branch[0]!.path.length === 0 && (branch[0]!.code === 'invalid_type' || branch[0]!.code === 'invalid_value');

function describeExpected(i: Issue): string {
  if (i.code === 'invalid_value') return i.values.map((v) => JSON.stringify(v)).join(' or ');
  if (i.code === 'invalid_type')
    return (
      ({ array: 'a list', string: 'text', object: 'a mapping', number: 'a number', boolean: 'true or false' } as Record<string, string>)[i.expected] ??
      i.expected
    );
  return i.message;
}

/**
 * zod reports a union that matched no alternative as one "Invalid input" holding every alternative's issues.
 * Read it as the alternative the writer most likely meant: the one that got furthest (its keys known, its
 * kind of value right); when the value was of the wrong kind for all of them, say what would do.
 */
function flattenIssues(issues: readonly Issue[], prefix: Path = []): { issue: Issue; path: Path }[] {
  const out: { issue: Issue; path: Path }[] = [];
  for (const issue of issues) {
    const path: Path = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (issue.code !== 'invalid_union' || issue.errors.length === 0) {
      out.push({ issue, path });
    } else if (issue.errors.every(isRootMiss)) {
      const expected = issue.errors.map((b) => describeExpected(b[0]!)).join(' or ');
      out.push({ issue: { ...issue, message: `expected ${expected}` }, path });
    } else {
      const score = (b: readonly Issue[]) =>
        (isRootMiss(b) ? 1000 : 0) + 10 * b.reduce((n, i) => n + (i.code === 'unrecognized_keys' ? i.keys.length : 0), 0) + b.length;
      const best = issue.errors.reduce((a, b) => (score(b) < score(a) ? b : a));
      out.push(...flattenIssues(best, path));
    }
  }
  return out;
}

/** The field names the JSON Schema allows at `path` (through lists and alternatives), for "did you mean". */
function knownKeys(path: readonly (string | number)[]): Set<string> {
  type S = { properties?: Record<string, S>; items?: S; anyOf?: S[]; oneOf?: S[]; allOf?: S[] };
  const expand = (s: S): S[] => [s, ...[...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])].flatMap(expand)];
  let at: S[] = expand(manifestJsonSchema());
  for (const seg of path) {
    at = at.flatMap((s) => (typeof seg === 'number' ? (s.items ? [s.items] : []) : s.properties?.[seg] ? [s.properties[seg]] : [])).flatMap(expand);
  }
  return new Set(at.flatMap((s) => Object.keys(s.properties ?? {})));
}

function issueError(issues: readonly Issue[], doc: Document, lc: LineCounter, file: string): ManifestError {
  const lines = flattenIssues(issues)
    .slice(0, 5)
    .map(({ issue, path: at }) => {
      let path = at;
      let node = doc.getIn(path, true) as Node | undefined;
      let what = issue.message;
      if (issue.code === 'invalid_union' && node !== undefined) {
        what = `${what}; YAML read ${JSON.stringify(doc.getIn(path))}`;
      } else if (issue.code === 'invalid_type' && node !== undefined && issue.expected === 'array' && !isSeq(node)) {
        const v = doc.getIn(path);
        what = `expected a list; YAML read ${JSON.stringify(v)}: write [${typeof v === 'string' ? v : JSON.stringify(v)}]`;
      } else if (issue.code === 'unrecognized_keys') {
        const key = issue.keys[0] ?? '';
        const parent = doc.getIn(path, true);
        if (isMap(parent)) {
          const pair = parent.items.find((it) => (it.key as { value?: unknown } | null)?.value === key);
          node = (pair?.key as Node | undefined) ?? node;
        }
        const meant = issue.keys.map((k) => closest(k, knownKeys(path)));
        path = [...path, key];
        what = `unknown field${issue.keys.length > 1 ? `s ${issue.keys.map((k) => `"${k}"`).join(', ')}` : ` "${key}"`}`;
        const hints = issue.keys.flatMap((k, i) => (meant[i] ? [issue.keys.length > 1 ? `"${meant[i]}" for "${k}"` : `"${meant[i]}"`] : []));
        if (hints.length) what += ` (did you mean ${hints.join(', ')}?)`;
      } else if (issue.code === 'invalid_type' && node !== undefined && issue.expected === 'string') {
        what = `expected text; YAML read ${JSON.stringify(doc.getIn(path))} as a ${typeof doc.getIn(path)}: put it in quotes`;
      } else if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && node === undefined) {
        what = `missing required field (${issue.code === 'invalid_union' ? issue.message : `expected ${describeExpected(issue)}`})`;
        // Point at the closest existing parent.
        for (let k = path.length - 1; k >= 0 && node === undefined; k--) {
          const n = doc.getIn(path.slice(0, k), true);
          if (isMap(n) || isSeq(n)) node = n;
        }
      }
      const line = node?.range ? lc.linePos(node.range[0]).line : undefined;
      const field = fieldName(path);
      return { at: `${file}${line ? `:${line}` : ''}`, field, what };
    });
  const first = lines[0]!;
  const message = lines.map((l) => `${l.at}: ${l.field || '(top level)'}: ${l.what}`).join('\n');
  return new ManifestError({
    code: 'MANIFEST_FIELD',
    message,
    subject: `${first.at}: ${first.field}`,
    hint: 'fix the field named above; "vault-bundle schema" prints the JSON Schema of every field (editors complete from it)',
  });
}

export function fieldName(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/**
 * Digest of what one source section resolves from: the section and the target (a new target changes every
 * section's artifacts). A re-lock keeps the artifacts of each section whose digest did not change.
 */
export function sectionInputsDigest(m: Manifest, section: string): Digest {
  const value = (m as Record<string, unknown>)[section];
  return digestOf(
    createHash('sha256')
      .update(JSON.stringify(canonical({ target: m.target, [section]: value ?? null })))
      .digest('hex'),
  );
}

export function inputsDigestOf(m: Manifest): Digest {
  const { name: _n, version: _v, description: _d, $schema: _s, ...inputs } = m;
  return digestOf(
    createHash('sha256')
      .update(JSON.stringify(canonical(inputs)))
      .digest('hex'),
  );
}
