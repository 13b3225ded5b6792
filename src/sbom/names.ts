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
