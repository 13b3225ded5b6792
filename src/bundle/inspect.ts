import type { BundleIndex } from './index.js';
import { SUMS_SIG } from './layout.js';
import { loadBundle } from './load.js';
import type { SourceKind } from '../sources/source.js';
import { type InstallTarget, installOf } from '../sbom/install.js';

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
  byKind: Partial<Record<SourceKind, { count: number; bytes: number; artifacts: InspectArtifact[] }>>;
  /** Files that install setuid, setgid or world-writable: listed apart so that none goes unseen. */
  specialModes: { id: string; name: string; install: InstallTarget }[];
}

export interface InspectArtifact {
  id: string;
  name: string;
  version: string;
  size: number;
  digest: string;
  /** A file's destination and mode on the box. */
  install?: InstallTarget;
}

export async function inspectBundle(location: string): Promise<InspectResult> {
  const { reader, index: idx } = await loadBundle(location);
  const byKind: InspectResult['byKind'] = {};
  const specialModes: InspectResult['specialModes'] = [];
  let bytes = 0;
  for (const a of idx.artifacts) {
    const k = (byKind[a.kind] ??= { count: 0, bytes: 0, artifacts: [] });
    k.count++;
    k.bytes += a.size;
    const install = installOf(a);
    k.artifacts.push({ id: a.id, name: a.name, version: a.version, size: a.size, digest: a.digest, ...(install ? { install } : {}) });
    if (install?.flags.length) specialModes.push({ id: a.id, name: a.name, install });
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
    specialModes,
  };
}
