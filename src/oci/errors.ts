import { VaultError } from '../util/errors.js';

export type OciCode =
  | 'OCI_REF'
  | 'OCI_UNAUTHORIZED'
  | 'OCI_DENIED'
  | 'OCI_NOT_FOUND'
  | 'OCI_RATE_LIMITED'
  | 'OCI_HTTP'
  | 'OCI_NETWORK'
  | 'OCI_NOT_A_BUNDLE'
  | 'OCI_BAD_MANIFEST'
  | 'OCI_INSECURE';

/** A registry or an OCI layout did not give or take what was asked: exit 3, like any upstream. */
export class OciError extends VaultError<OciCode> {
  override readonly exitCode = 3;
}

/** Text from a registry (an error body, a header) as one short printable line. */
export function clean(s: string, max = 300): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const one = s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}
