import { type LoadedBundle, checkAgainstSums } from '../bundle/load.js';
import { SBOM } from '../bundle/layout.js';
import { IntegrityError } from '../util/errors.js';
import { limits } from '../util/limits.js';

/** The CycloneDX SBOM exactly as the bundle ships it, checked against the SHA256SUMS the bundle was loaded with. */
export async function readShippedSbom(b: LoadedBundle): Promise<Buffer> {
  if (!b.reader.entries.has(SBOM)) {
    throw new IntegrityError({
      code: 'MISSING_FILE',
      message: `${b.location}: ${SBOM} is missing`,
      subject: `${b.location}/${SBOM}`,
      hint: 'run "vault-bundle verify" on it; copy the bundle again from the build host',
    });
  }
  // Read again (a tar or a stick can change under us): these bytes are the ones checked and printed.
  const bytes = await b.reader.read(SBOM, limits.maxIndexBytes);
  checkAgainstSums(b.sums, SBOM, bytes, b.location);
  return bytes;
}
