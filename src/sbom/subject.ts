import type { RuntimeFile } from '../runtime/carry.js';
import type { Locked } from '../sources/source.js';
import type { Target } from '../box/target.js';

/**
 * What an SBOM describes: the part of a bundle's index (bundle.json) that names the bundle and its contents.
 * A BundleIndex is one; sbom/ reads no more of it, so bundle/ can write the SBOM without sbom/ leaning back.
 */
export interface SbomSubject {
  name: string;
  version: string;
  description?: string;
  created: string;
  tool: { name: string; version: string };
  target: Target;
  artifacts: readonly Locked[];
  runtime?: readonly RuntimeFile[];
}
