import { PackageURL } from 'packageurl-js';

// Names both SBOM writers (and the reviewer's component list) give to things that are not artifacts.

/** What a local model's version is. */
export function localVersionFrom(v: string | undefined): string {
  return v === 'hf-cache'
    ? 'the snapshot of a local HF cache folder (not checked against the Hub)'
    : 'sha1 over its files (path and sha256 of each); no Hub commit';
}

/** "@scope/name" as CycloneDX's group and name. */
export function npmName(full: string): { group?: string; name: string } {
  const m = /^(@[^/]+)\/(.+)$/.exec(full);
  return m ? { group: m[1]!, name: m[2]! } : { name: full };
}

/** The purl of an npm package (a scope's "@" percent-encoded, as the purl spec says). */
export function npmPurl(name: string, version: string): string {
  const { group, name: n } = npmName(name);
  return new PackageURL('npm', group, n, version, undefined, undefined).toString();
}

export function runtimePackageRef(path: string, p: { name: string; version: string }): string {
  return `runtime:${path}#npm:${p.name}@${p.version}`;
}

/**
 * The strongest hash of a Subresource Integrity string (`sha512-<base64>`, as package-lock.json writes an npm
 * package's registry tarball), as hex.
 */
export function sriHash(integrity: string | undefined): { alg: 'SHA-512' | 'SHA-384' | 'SHA-256'; hex: string } | undefined {
  const order = ['sha512', 'sha384', 'sha256'] as const;
  const parts = (integrity ?? '').split(/\s+/).map((p) => /^(sha512|sha384|sha256)-([A-Za-z0-9+/]+={0,2})$/.exec(p));
  for (const alg of order) {
    const m = parts.find((x) => x?.[1] === alg);
    if (m) return { alg: `SHA-${alg.slice(3)}` as 'SHA-512' | 'SHA-384' | 'SHA-256', hex: Buffer.from(m[2]!, 'base64').toString('hex') };
  }
  return undefined;
}
