import { createHash } from 'node:crypto';
import { PackageURL } from 'packageurl-js';
import type { BundleIndex } from '../bundle/index.js';
import type { Locked, SourceKind } from '../sources/source.js';
import type { Digest } from '../store/digest.js';
import { type InstallTarget, installOf } from '../sbom/install.js';
import { npmPurl, runtimePackageRef } from '../sbom/names.js';

/**
 * What a reviewer reads as one thing: an apt package, a wheel, a file, a model (all files of repo@commit
 * together, as the CycloneDX SBOM nests them) or a file of the carried runtime.
 */
export interface Component {
  /** Unique in the bundle: the artifact id, `hf:<repo>@<commit>` or `runtime:<path>`. */
  key: string;
  /** npm: a package packed into the carried runtime's script. */
  kind: SourceKind | 'runtime' | 'npm';
  name: string;
  version: string;
  purl: string;
  /** Identity across versions: the purl without version, with only the qualifiers that name another thing (arch). */
  identity: string;
  license?: string;
  /** No licence: where it is instead, or why not (apt: the copyright file, not machine-readable). */
  licenseNote?: string;
  size: number;
  /** The blob's digest; for a model, a digest over its files (path and digest of each, sorted). */
  digest: Digest;
  /** A model's files (path → digest). */
  files?: Record<string, Digest>;
  url?: string;
  /** A file's destination and mode on the box. */
  install?: InstallTarget;
  /** npm: package-lock.json's integrity of its registry tarball (its `digest` is the packed script's). */
  integrity?: string;
}

/** Qualifiers that make another package rather than another version (a .deb for another architecture). */
const IDENTITY_QUALIFIERS = new Set(['arch']);

/** The purl without its version and without the qualifiers that only describe this one version. */
export function identityOf(purl: string): string {
  try {
    const p = PackageURL.fromString(purl);
    const q: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.qualifiers ?? {})) if (IDENTITY_QUALIFIERS.has(k) && v) q[k] = v;
    return new PackageURL(p.type, p.namespace, p.name, undefined, Object.keys(q).length ? q : undefined, p.subpath).toString();
  } catch {
    return purl.replace(/@[^?#]*/, '');
  }
}

export function componentsOf(index: BundleIndex): Component[] {
  const out: Component[] = [];
  const models = new Map<string, { c: Component; items: Locked[] }>();
  for (const a of index.artifacts) {
    const repo = a.meta?.repo;
    const commit = a.meta?.commit;
    if (a.kind === 'hf' && repo && commit && a.meta?.path !== undefined) {
      const key = `hf:${repo}@${commit}`;
      let m = models.get(key);
      if (!m) {
        const c: Component = {
          key,
          kind: 'hf',
          name: repo,
          version: commit,
          purl: a.purl,
          identity: identityOf(a.purl),
          size: 0,
          digest: a.digest,
          files: {},
          ...(a.meta.license ? { license: a.meta.license } : {}),
        };
        models.set(key, (m = { c, items: [] }));
        out.push(c);
      }
      m.items.push(a);
      m.c.size += a.size;
      m.c.files![a.meta.path] = a.digest;
      continue;
    }
    const install = installOf(a);
    out.push({
      key: a.id,
      kind: a.kind,
      name: a.name,
      version: a.version,
      purl: a.purl,
      identity: identityOf(a.purl),
      size: a.size,
      digest: a.digest,
      ...(a.meta?.license ? { license: a.meta.license } : a.meta?.licenseNote ? { licenseNote: a.meta.licenseNote } : {}),
      ...(/^https?:/.test(a.url) ? { url: a.url } : {}),
      ...(install ? { install } : {}),
    });
  }
  for (const { c } of models.values()) {
    const h = createHash('sha256');
    for (const p of Object.keys(c.files!).sort()) h.update(`${p}\0${c.files![p]}\n`);
    c.digest = `sha256:${h.digest('hex')}`;
  }
  for (const rf of index.runtime ?? []) {
    out.push({
      key: `runtime:${rf.path}`,
      kind: 'runtime',
      name: rf.name,
      version: rf.version,
      purl: rf.purl,
      identity: identityOf(rf.purl),
      size: rf.size,
      digest: rf.digest,
    });
    for (const p of rf.packages ?? []) {
      const purl = npmPurl(p.name, p.version);
      out.push({
        key: runtimePackageRef(rf.path, p),
        kind: 'npm',
        name: p.name,
        version: p.version,
        purl,
        identity: identityOf(purl),
        // Inside the script: the bytes of the script that are its code (counted in the script's size too).
        size: p.bytes ?? 0,
        digest: rf.digest,
        ...(p.integrity ? { integrity: p.integrity } : {}),
        ...(p.license ? { license: p.license } : {}),
      });
    }
  }
  return out;
}
