import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';

/** Where a successful install stamps the box's version (the seed's GAP-8 metadata file). */
export const DEFAULT_IMAGE_VERSION = '/etc/vault-ai/image-version.json';

/** The system state folder (install's default as root): only its stamp is the system's. */
const SYSTEM_STATE_DIR = '/var/lib/vault-bundle';

/**
 * Where install stamps the box when --image-version is not given: /etc/vault-ai/image-version.json for the
 * system install (root, default state folder); beside the journal for any other (a non-root run, --state-dir
 * elsewhere: a test root, a user-level install), which never overwrites the system's stamp.
 */
export function defaultImageVersion(stateDir: string): string {
  return stateDir === SYSTEM_STATE_DIR ? DEFAULT_IMAGE_VERSION : join(stateDir, 'image-version.json');
}

/**
 * /etc/vault-ai/image-version.json: which bundle this box runs. The seed's fields (version, build_date,
 * git_commit, description) in its snake_case, then what names the exact bundle and how it got here.
 * Written by a complete install (and a rollback) only; a partial or failed run never changes it.
 */
export const imageVersionSchema = z.looseObject({
  version: z.string(),
  build_date: z.string(),
  git_commit: z.string().optional(),
  description: z.string().optional(),
  bundle: z.string(),
  /** sha256 of the installed bundle's bundle.json: names that exact bundle. */
  bundle_digest: z.string(),
  /** Fingerprint of the key whose signature verified (install --key); absent for an unsigned install. */
  signer: z.string().optional(),
  target: z.looseObject({ os: z.string(), arch: z.string(), python: z.string().optional() }),
  installed_at: z.string(),
  /** The version the stamp named before this install, absent on a box's first. */
  previous_version: z.string().optional(),
  /** How the box got here: a plain install, or a rollback from a newer version. */
  via: z.enum(['install', 'rollback']).optional(),
});

export type ImageVersion = z.infer<typeof imageVersionSchema>;

/** The stamp, or undefined when there is none or it is not ours to read (hand-edited, torn): never a crash. */
export async function readImageVersion(file: string = DEFAULT_IMAGE_VERSION): Promise<ImageVersion | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const r = imageVersionSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** Stable bytes: two-space JSON, trailing newline (a rollback restores a stamp byte for byte). */
export function serializeImageVersion(v: ImageVersion): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}

/** Written atomically (temp + rename): a reader sees the old stamp or the new one, never half. */
export async function writeImageVersion(file: string, v: ImageVersion): Promise<void> {
  await writeFileAtomic(file, serializeImageVersion(v));
}
