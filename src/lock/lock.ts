import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Digest } from '../store/digest.js';
import type { Locked } from '../sources/source.js';
import { ManifestError, errnoCode } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { TOOL } from '../version.js';
import type { Target } from '../box/target.js';
import type { ProbeRef } from '../probe/load.js';

export const LOCK_VERSION = 1;

export interface Lock {
  lockVersion: typeof LOCK_VERSION;
  tool: { name: string; version: string };
  /** When the lock was resolved; a bundle built from it is dated so unless SOURCE_DATE_EPOCH says otherwise. */
  created: string;
  manifest: { path: string; inputsDigest: Digest };
  /**
   * The inputs digest of each source section (manifest key → digest of the section with the target): a
   * build that re-locks a changed manifest keeps the artifacts of the sections whose digest is the same.
   * Absent in locks written before it existed (they are then resolved again in full).
   */
  sections?: Record<string, Digest>;
  /** The manifest's target; `probe` when it was resolved for one box (`--target <probe>`). */
  target: Target & { probe?: ProbeRef };
  artifacts: Locked[];
}

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/) as unknown as z.ZodType<Digest>;

const provenance = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('manifest-pin'), manifest: z.string() }),
  z.strictObject({ kind: z.literal('signed-index'), index: z.string(), indexDigest: digest, signer: z.string() }),
  z.strictObject({ kind: z.literal('index-hash'), index: z.string() }),
]);

export const lockedSchema = z.strictObject({
  kind: z.enum(['file', 'apt', 'pip', 'hf']),
  id: z.string().min(1),
  name: z.string().min(1),
  version: z.string().min(1),
  digest,
  size: z.int().nonnegative(),
  url: z.string(),
  purl: z.string().startsWith('pkg:'),
  provenance,
  meta: z.record(z.string(), z.string()).optional(),
});

const lockSchema = z.strictObject({
  lockVersion: z.literal(LOCK_VERSION),
  tool: z.strictObject({ name: z.string(), version: z.string() }),
  created: z.iso.datetime(),
  manifest: z.strictObject({ path: z.string(), inputsDigest: digest }),
  sections: z.record(z.string(), digest).optional(),
  target: z.strictObject({
    os: z.string(),
    arch: z.enum(['amd64', 'arm64']),
    python: z.string().optional(),
    probe: z.strictObject({ digest, inputsDigest: digest, hostname: z.string(), created: z.string() }).optional(),
  }),
  artifacts: z.array(lockedSchema),
});

export function newLock(o: Omit<Lock, 'lockVersion' | 'tool'>): Lock {
  const artifacts = [...o.artifacts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { lockVersion: LOCK_VERSION, tool: { ...TOOL }, ...o, artifacts };
}

/** The lock made for the box of `probe` (none: for any box). A lock is an input of one box, like of one manifest. */
export function withProbe(lock: Lock, probe: ProbeRef | undefined): Lock {
  if (!probe) return lock;
  return {
    ...lock,
    target: { ...lock.target, probe: { digest: probe.digest, inputsDigest: probe.inputsDigest, hostname: probe.hostname, created: probe.created } },
  };
}

/** Why a lock does not fit the box a build is for (undefined: it fits); the box's facts are what count, not the file's date. */
export function probeStale(lock: Lock, probe: ProbeRef | undefined): string | undefined {
  const had = lock.target.probe;
  if (!had && !probe) return undefined;
  if (!had) return `it was resolved for an empty box, and --target gives the probe of ${probe!.hostname}`;
  if (!probe) return `it was resolved for the box ${had.hostname} (probe of ${had.created}) and this build has no --target`;
  if (had.inputsDigest !== probe.inputsDigest)
    return `it was resolved for the probe of ${had.hostname} of ${had.created}, and --target gives another box (${probe.hostname}, ${probe.created})`;
  return undefined;
}

/** Stable JSON: fixed key order from construction, two-space indent, trailing newline. */
export function serializeLock(lock: Lock): string {
  return `${JSON.stringify(lock, null, 2)}\n`;
}

export async function writeLock(path: string, lock: Lock): Promise<void> {
  await writeFileAtomic(path, serializeLock(lock));
}

export async function readLock(path: string): Promise<Lock> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ManifestError({
      code: errnoCode(err) === 'ENOENT' ? 'LOCK_MISSING' : 'LOCK_READ',
      message: `cannot read lock file ${path}${errnoCode(err) === 'ENOENT' ? ': no such file' : ''}`,
      subject: path,
      hint: 'run "vault-bundle lock <manifest>" first (or build without --frozen)',
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ManifestError({
      code: 'LOCK_READ',
      message: `${path} is not valid JSON (${(err as Error).message})`,
      subject: path,
      hint: 'regenerate it with "vault-bundle lock <manifest>"',
    });
  }
  const r = lockSchema.safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ManifestError({
      code: 'LOCK_READ',
      message: `${path}: ${i.path.join('.') || '(top level)'}: ${i.message}`,
      subject: path,
      hint: 'the lock was edited or written by another version; regenerate it with "vault-bundle lock <manifest>"',
    });
  }
  return r.data;
}

/** `<manifest>.lock.json` next to the manifest, e.g. manifests/quickstart.yaml → manifests/quickstart.lock.json. */
export function defaultLockPath(manifestPath: string): string {
  return manifestPath.replace(/\.ya?ml$/i, '') + '.lock.json';
}
