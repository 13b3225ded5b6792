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
  /** A clearsigned file with text outside its signed block, or lines apt's parser refuses (apt's SplitClearSignedFile). */
  | 'unsigned-text'
  /** A signature that no given key makes valid at the time asked about. */
  | 'not-accepted'
  /** A signature whose bytes verify, refused by the time policy (policy.ts): `refusal` says why. */
  | 'refused'
  /** The check itself could not run (openpgp.js refused the inputs). */
  | 'unverifiable';

/** What the time policy refuses in a signature whose bytes verify (gpgv's status words in brackets). */
export type RefusalReason =
  /** The signing key (or signing subkey) has expired at the time of the check [EXPKEYSIG]. */
  | 'key-expired'
  /** The key given holds a revocation of the signing key (or subkey) [REVKEYSIG]. */
  | 'key-revoked'
  /** The signature's own expiration time has passed [EXPSIG]. */
  | 'signature-expired'
  /** The signature is dated before the signing key was created (gpgv: "Time conflict"). */
  | 'signature-before-key'
  /** The signature is dated after the time of the check (a wrong clock, or a forged date). */
  | 'signature-in-future';

export interface Refusal {
  reason: RefusalReason;
  /** Primary fingerprint of the signing key, upper-case hex. */
  key: string;
  /** The signature's creation time. */
  signed: Date;
  /** When the key expired / was revoked / was created, when the signature expired; the check time for signature-in-future. */
  date: Date;
  /** A revocation's stated reason, when it gives one. */
  detail?: string;
}

export class PgpError extends Error {
  /** Set when `failure` is 'refused'. */
  readonly refusal?: Refusal;

  constructor(
    readonly failure: PgpFailure,
    message: string,
    options?: { cause?: unknown; refusal?: Refusal },
  ) {
    super(message, options);
    this.name = 'PgpError';
    if (options?.refusal) this.refusal = options.refusal;
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
