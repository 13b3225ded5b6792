/**
 * Why an OpenPGP input was refused. The module's callers wrap it in their own coded error (apt's
 * SIGNATURE_INVALID upstream error, the bundle's BAD_KEY usage error or invalid signature status).
 */
export type PgpFailure =
  /** Bytes that are not an OpenPGP key or keyring. */
  | 'not-keys'
  /** Bytes that are not an OpenPGP signature. */
  | 'not-signature'
  /** Text that is not a clearsigned message. */
  | 'not-cleartext'
  /** A signature that no given key makes valid at the time asked about. */
  | 'not-accepted'
  /** The check itself could not run (openpgp.js refused the inputs). */
  | 'unverifiable';

export class PgpError extends Error {
  constructor(
    readonly failure: PgpFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PgpError';
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
