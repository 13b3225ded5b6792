import type { LoadedBundle } from '../bundle/load.js';
import { SBOM } from '../bundle/layout.js';
import { IntegrityError } from '../util/errors.js';
import { limits } from '../util/limits.js';

/** The CycloneDX SBOM exactly as the bundle ships it. */
export async function readShippedSbom(b: LoadedBundle): Promise<Buffer> {
  if (!b.reader.entries.has(SBOM)) {
    throw new IntegrityError({
      code: 'MISSING_FILE',
      message: `${b.location}: ${SBOM} is missing`,
      subject: `${b.location}/${SBOM}`,
      hint: 'run "vault-bundle verify" on it; copy the bundle again from the build host',
    });
  }
  return b.reader.read(SBOM, limits.maxIndexBytes);
}
