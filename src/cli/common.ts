import type { HashedFile } from '../bundle/verify.js';
import { fstatSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { LoadedManifest } from '../manifest/load.js';
import type { BuildCtx } from '../sources/source.js';
import type { Reporter } from '../util/events.js';
import { escapeName } from '../util/escape.js';
import { parseBytes } from '../util/format.js';
import { type OutputMode, makeRenderer } from './render.js';

/** The options given before the command (`vault-bundle --json verify …`). */
export interface GlobalOpts {
  json?: boolean;
  quiet?: boolean;
  debug?: boolean;
  cacheDir?: string;
  concurrency: number;
  /** HTTP streams at once for big files fetched in byte ranges (build); undefined: from --concurrency. */
  streams?: number;
}

/**
 * What every verb's file gets from main: the output mode (settled once the global options are parsed: read it
 * inside an action), the global options, Ctrl-C's signal, a way to print its result, the build context, and
 * the exit code to end with.
 */
export interface Cli {
  readonly mode: OutputMode;
  readonly globals: GlobalOpts;
  readonly signal: AbortSignal;
  /** The result: human text on stdout, a `{"type":"result",…}` line with --json, nothing with --quiet. */
  emit: (human: string, data: unknown) => void;
  /** The context sources resolve and fetch in, for a loaded manifest, reporting through `report`. */
  ctxFor(report: Reporter): Promise<(m: LoadedManifest) => BuildCtx>;
  /** The exit code when the command completes without an exception (a failed verify, audit or smoke check). */
  exit(code: number): void;
}

/** Runs `fn` with the progress renderer of this mode; its progress line is cleared before the caller prints. */
export async function rendered<T>(cli: Cli, fn: (report: Reporter) => Promise<T>): Promise<T> {
  const r = makeRenderer(cli.mode);
  try {
    return await fn(r.report);
  } finally {
    r.finish();
  }
}

/** `--help`'s closing lines: a few example invocations. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return n;
}

/** A file option given empty (`--key ""`, `--key=$UNSET`) would otherwise read as not given: a key check skipped. */
export function nonEmptyPath(v: string): string {
  if (!v.trim()) throw new InvalidArgumentError('expected a file path, got an empty value');
  return v;
}

export function byteSize(v: string): number {
  const n = parseBytes(v);
  if (n === undefined || n < 1024 * 1024) throw new InvalidArgumentError('expected a size of at least 1 MiB, such as 1GiB or 700MB');
  return n;
}

export function fraction(v: string): number {
  const n = Number(v);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError('expected a fraction such as 0.1 (10 %)');
  return n;
}

/** A path as the user reads it: relative to here when that is short (no climbing out twice), else absolute. */
export function shown(p: string): string {
  const r = relative(process.cwd(), p);
  return !r ? p : r.startsWith('../..') ? resolve(p) : r;
}

/** Whether `path` is this process's stdout (the same file, pipe or device). */
export function isStdout(path: string): boolean {
  try {
    const a = fstatSync(1);
    const b = statSync(path);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

/** One phrase for the signature in verify's and install's summary line; nothing for an unsigned bundle checked without a key (with a key, unsigned fails). */
export function signatureNote(s: { status: string; signer?: string } | undefined): string {
  if (!s) return '';
  if (s.status === 'valid') return `signature by ${s.signer ?? '?'} valid`;
  if (s.status === 'unchecked') return 'signed, signature not checked (give --key)';
  return '';
}

/** verify/install of `oci://registry/repo:tag|@digest`: pulled into the cache first (<cache>/oci/<manifest digest>). */
async function pulledBundle(cli: Cli, ref: string): Promise<string> {
  const [{ bundleArg }, { defaultCacheDir }] = await Promise.all([import('../oci/open.js'), import('../context.js')]);
  const cacheDir = cli.globals.cacheDir ? resolve(cli.globals.cacheDir) : defaultCacheDir();
  return rendered(cli, (report) => bundleArg(ref, { cacheDir, concurrency: cli.globals.concurrency, report, signal: cli.signal }));
}

/**
 * `install`/`verify` given a served bundle's URL: the bundle fetched into the cache (`<cache>/served/…`), each file
 * checked against its SHA256SUMS, then the local folder is what they verify and install. Anything else is as given.
 */
export async function localBundle(cli: Cli, bundle: string): Promise<{ location: string; hashed?: Map<string, HashedFile> }> {
  // A local path loads nothing more (verify on the box starts as fast as before).
  if (bundle.startsWith('oci://')) return { location: await pulledBundle(cli, bundle) };
  if (!/^https?:\/\//i.test(bundle)) return { location: bundle };
  const { pullServedBundle } = await import('../site/pull.js');
  const { pullClient } = await import('../fetch/pull-client.js');
  const { limits } = await import('../util/limits.js');
  // Not from context.js: that loads the build's HTTP client (undici) and store, which a pull does not use.
  const { defaultCacheDir } = await import('../util/cache-dir.js');
  const cacheDir = cli.globals.cacheDir ? resolve(cli.globals.cacheDir) : defaultCacheDir();
  const token = process.env.VAULT_BUNDLE_TOKEN;
  const http = await pullClient(limits);
  const { dir, hashed } = await pullServedBundle(bundle, cacheDir, {
    http,
    signal: cli.signal,
    concurrency: cli.globals.concurrency,
    ...(token ? { token } : {}),
  }).finally(() => http.close());
  process.stderr.write(`fetched ${escapeName(bundle)} into ${dir} (every file checked against its SHA256SUMS)\n`);
  return { location: dir, hashed };
}
