import { z } from 'zod';
import { type Lock, lockedSchema } from '../lock/lock.js';
import type { Manifest } from '../manifest/schema.js';
import type { Target } from '../box/target.js';
import type { Digest } from '../store/digest.js';
import type { Locked } from '../sources/source.js';
import { TOOL } from '../version.js';
import { INDEX_SCHEMA } from './layout.js';
import type { RuntimeFile } from '../runtime/carry.js';
import type { ProbeRef } from '../probe/load.js';

/** bundle.json: what the bundle holds and where it came from. The lock's artifacts, with the facts build read from their pinned bytes (facts.ts). */
export interface BundleIndex {
  schema: typeof INDEX_SCHEMA;
  name: string;
  version: string;
  description?: string;
  created: string;
  tool: { name: string; version: string };
  manifest: { path: string; inputsDigest: Digest };
  /** `probe`: the box it was built for (`build --target`), so the field tech sees which box that was. */
  target: Target & { probe?: ProbeRef };
  artifacts: Locked[];
  /** The carried runtime (node and the packed tool), when the bundle has one. */
  runtime?: RuntimeFile[];
  /** A delta bundle: the bundle it was built over, and the blobs it leaves to it. */
  base?: BaseRef;
  /** After this time (ISO 8601, UTC) verify and install refuse the bundle unless --allow-expired (build --expires). */
  expires?: string;
}

/** The base of a delta bundle: which bundle (its bundle.json's sha256) and which blobs come from it. */
export interface BaseRef {
  name: string;
  version: string;
  /** sha256 of the base's bundle.json, so a different bundle of the same name and version is refused. */
  index: Digest;
  /** Blobs the artifacts need that this bundle does not hold: they are in the base. */
  blobs: Digest[];
}

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);

export const bundleIndexSchema = z.looseObject({
  schema: z.literal(INDEX_SCHEMA),
  name: z.string().min(1),
  version: z.string().min(1),
  description: z.string().optional(),
  created: z.iso.datetime(),
  tool: z.looseObject({ name: z.string(), version: z.string() }),
  manifest: z.looseObject({ path: z.string(), inputsDigest: digest }),
  target: z.looseObject({
    os: z.string(),
    arch: z.string(),
    python: z.string().optional(),
    probe: z.looseObject({ digest, inputsDigest: digest, hostname: z.string(), created: z.string() }).optional(),
  }),
  artifacts: z.array(lockedSchema),
  base: z.looseObject({ name: z.string(), version: z.string(), index: digest, blobs: z.array(digest) }).optional(),
  expires: z.iso.datetime().optional(),
});

/** `created`: SOURCE_DATE_EPOCH when set (reproducible-builds.org), else the time the lock was made. */
export function bundleCreated(lock: Lock, env: NodeJS.ProcessEnv = process.env): string {
  const sde = env.SOURCE_DATE_EPOCH;
  if (sde !== undefined && /^\d+$/.test(sde)) return new Date(Number(sde) * 1000).toISOString();
  return lock.created;
}

export function makeIndex(manifest: Manifest, lock: Lock, created: string, runtime: RuntimeFile[] = [], base?: BaseRef): BundleIndex {
  return {
    schema: INDEX_SCHEMA,
    name: manifest.name,
    version: manifest.version,
    ...(manifest.description ? { description: manifest.description } : {}),
    created,
    tool: { ...TOOL },
    manifest: lock.manifest,
    target: lock.target,
    artifacts: lock.artifacts,
    ...(runtime.length ? { runtime } : {}),
    ...(base ? { base } : {}),
  };
}

export function serializeIndex(index: BundleIndex): string {
  return `${JSON.stringify(index, null, 2)}\n`;
}
