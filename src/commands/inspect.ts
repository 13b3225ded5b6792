import { type BundleIndex, bundleIndexSchema } from '../bundle/index.js';
import { INDEX, SUMS_SIG } from '../bundle/layout.js';
import { openBundle } from '../bundle/reader.js';
import type { SourceKind } from '../sources/source.js';
import { UsageError } from '../util/errors.js';
import { limits } from '../util/limits.js';

export interface InspectResult {
  bundle: string;
  name: string;
  version: string;
  description?: string;
  created: string;
  tool: { name: string; version: string };
  target: BundleIndex['target'];
  totals: { artifacts: number; bytes: number };
  /** How the bundle is stored: a folder, a tar, or a split folder (with its parts). */
  form: 'dir' | 'tar' | 'split';
  parts?: { count: number; bytes: number };
  /** A delta: its base and the blobs left to it. */
  base?: { name: string; version: string; blobs: number };
  /** SHA256SUMS.asc is present (checked by verify --key, not here). */
  signed: boolean;
  expires?: string;
  byKind: Partial<Record<SourceKind, { count: number; bytes: number; artifacts: { id: string; name: string; version: string; size: number; digest: string }[] }>>;
}

export async function inspectCommand(location: string): Promise<InspectResult> {
  const reader = await openBundle(location);
  if (!reader.entries.has(INDEX)) {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${location}: no ${INDEX}; not a vault-bundle bundle`,
      subject: location,
      hint: 'give the folder or tar written by "vault-bundle build"',
    });
  }
  const parsed = bundleIndexSchema.safeParse(JSON.parse((await reader.read(INDEX, limits.maxIndexBytes)).toString('utf8')));
  if (!parsed.success) {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${location}: ${INDEX} is not a bundle index this version understands`,
      subject: `${location}/${INDEX}`,
      hint: 'run "vault-bundle verify" on it; it may be damaged or written by a newer version',
    });
  }
  const idx = parsed.data as BundleIndex;
  const byKind: InspectResult['byKind'] = {};
  let bytes = 0;
  for (const a of idx.artifacts) {
    const k = (byKind[a.kind] ??= { count: 0, bytes: 0, artifacts: [] });
    k.count++;
    k.bytes += a.size;
    k.artifacts.push({ id: a.id, name: a.name, version: a.version, size: a.size, digest: a.digest });
    bytes += a.size;
  }
  return {
    bundle: reader.location,
    name: idx.name,
    version: idx.version,
    ...(idx.description ? { description: idx.description } : {}),
    created: idx.created,
    tool: idx.tool,
    target: idx.target,
    totals: { artifacts: idx.artifacts.length, bytes },
    form: reader.form,
    signed: reader.entries.get(SUMS_SIG)?.kind === 'file',
    ...(idx.expires ? { expires: idx.expires } : {}),
    ...(reader.parts ? { parts: { count: reader.parts.files.length, bytes: reader.parts.manifest.whole.size } } : {}),
    ...(idx.base ? { base: { name: idx.base.name, version: idx.base.version, blobs: idx.base.blobs.length } } : {}),
    byKind,
  };
}
