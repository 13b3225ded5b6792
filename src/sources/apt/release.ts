import { createHash } from 'node:crypto';
import { type Digest, digestOf } from '../../store/digest.js';
import { UpstreamError } from '../../util/errors.js';
import { PgpError, type RefusalReason } from '../../pgp/errors.js';
import { isoTime } from '../../pgp/policy.js';
import { readSignature, verifyClearsigned, verifyDetached } from '../../pgp/verify.js';
import type { Keyring } from './keyring.js';

export interface ReleaseFile {
  sha256: string;
  size: number;
}

/** A Release file whose signature was verified; every field comes from the verified text only. */
export interface VerifiedRelease {
  url: string;
  digest: Digest;
  signer: string;
  fields: Record<string, string>;
  /** SHA256 section: path relative to dists/<suite>/ → hash and size. */
  files: Map<string, ReleaseFile>;
  acquireByHash: boolean;
  validUntil?: Date;
  date?: Date;
}

const MAX_RELEASE = 16 << 20;

/**
 * apt's clock-skew tolerance for a Release `Date` ahead of the local clock: Acquire::Max-FutureTime, 10 seconds by
 * default (apt-pkg/deb/debmetaindex.cc: NotBefore = Date - MaxFuture; acquire-item.cc refuses while now < NotBefore).
 */
export const MAX_FUTURE_SECONDS = 10;

/**
 * Fetches and verifies a suite's Release (Debian RepositoryFormat, "Release files"): InRelease (clearsigned)
 * first, else Release + Release.gpg (detached). The signature is checked before a single field is parsed.
 */
export async function fetchRelease(
  fetchBytes: (url: string, maxLength: number) => Promise<Buffer>,
  base: string,
  keyring: Keyring,
  o: { now: Date; checkValidUntil: boolean; checkDate?: boolean; subject: string },
): Promise<VerifiedRelease> {
  const get = (path: string) => fetchBytes(`${base}/${path}`, MAX_RELEASE);
  let raw: Buffer;
  let verified: { text: string; signer: string };
  let url = `${base}/InRelease`;
  try {
    raw = await get('InRelease');
    verified = await checkInRelease(raw.toString('utf8'), keyring, url, o.now);
  } catch (err) {
    if (!(err instanceof UpstreamError) || err.code !== 'NOT_FOUND') throw err;
    url = `${base}/Release`;
    raw = await get('Release');
    const sig = await get('Release.gpg');
    verified = { text: raw.toString('utf8'), signer: await checkReleaseGpg(raw, sig, keyring, url, o.now) };
  }
  const release = parseRelease(verified.text);
  const r: VerifiedRelease = {
    url,
    digest: digestOf(createHash('sha256').update(raw).digest('hex')),
    signer: verified.signer,
    ...release,
  };
  // apt's Check-Date (default on) guards both dates; "check-date: false" turns off both, as in apt.
  if (o.checkDate === false) return r;
  if (r.date && r.date.getTime() - MAX_FUTURE_SECONDS * 1000 > o.now.getTime()) {
    const ahead = Math.round((r.date.getTime() - o.now.getTime()) / 1000);
    throw new UpstreamError({
      code: 'RELEASE_NOT_YET_VALID',
      message: `${o.subject}: ${url} is not valid yet: its Date is ${isoTime(r.date)}, ${ahead} s ahead of this machine's clock (${isoTime(o.now)}; apt allows ${MAX_FUTURE_SECONDS} s)`,
      subject: o.subject,
      hint: "check this machine's clock (timedatectl); if it is right, the mirror's is not or the file was forged: use another mirror (\"check-date: false\" on that source accepts it knowingly, as apt's Check-Date=no does)",
    });
  }
  // RepositoryFormat: "Valid-Until … clients should not trust the file after that date" (stops replay of old,
  // vulnerable indices). An explicit override in the manifest switches it off, as apt's Check-Valid-Until does.
  if (o.checkValidUntil && r.validUntil && r.validUntil.getTime() < o.now.getTime()) {
    throw new UpstreamError({
      code: 'INDEX_EXPIRED',
      message: `${o.subject}: ${url} expired on ${r.validUntil.toISOString()} (Valid-Until)`,
      subject: o.subject,
      hint: 'the mirror serves stale metadata: use an up-to-date mirror; for a snapshot archive set "check-valid-until: false" on that source',
    });
  }
  return r;
}

/** InRelease (clearsigned): a text that is not clearsigned names no keyring; a bad signature names it. */
async function checkInRelease(text: string, keyring: Keyring, url: string, date: Date): Promise<{ text: string; signer: string }> {
  try {
    return await verifyClearsigned(text, keyring.keys, date);
  } catch (err) {
    if (err instanceof PgpError && err.failure === 'not-cleartext') throw sigError(url, `not a clearsigned InRelease (${err.message})`);
    if (err instanceof PgpError && err.failure === 'unsigned-text') {
      throw new UpstreamError({
        code: 'UNSIGNED_TEXT',
        message: `${url}: ${err.message}; apt refuses an InRelease with anything outside its signed block, and so do we`,
        subject: url,
        hint: 'the mirror serves an altered InRelease (tampering, or a broken mirror or proxy): use another mirror and tell the repository owner',
      });
    }
    throw sigError(url, (err as Error).message, keyring, err);
  }
}

/** Release + Release.gpg (detached). */
async function checkReleaseGpg(data: Buffer, sig: Buffer, keyring: Keyring, url: string, date: Date): Promise<string> {
  try {
    return (await verifyDetached(data, await readSignature(sig), keyring.keys, date)).signer;
  } catch (err) {
    throw sigError(url, (err as Error).message, keyring, err);
  }
}

/** What to do about a signature the time policy refused (src/pgp/policy.ts). */
const REFUSAL_HINTS: Record<RefusalReason, string> = {
  'key-expired':
    "the repository's signing key has expired (apt refuses it too: EXPKEYSIG): fetch its current key from the repository owner (an extended or new key) into the signed-by keyring, or use a mirror signed with it",
  'key-revoked':
    'the repository owner revoked this key (apt refuses it too: REVKEYSIG): do not use files signed by it; get the new key from the owner and a mirror signed with it',
  'signature-expired': 'the mirror serves a stale InRelease whose signature expired (apt: EXPSIG): use an up-to-date mirror',
  'signature-before-key': "the file's signature date is impossible for its key: a forged file or a wrong clock where it was signed; use another mirror",
  'signature-in-future': "check this machine's clock (timedatectl); if it is right, the file was signed with a wrong clock or forged: use another mirror",
};

function sigError(url: string, why: string, keyring?: Keyring, cause?: unknown): UpstreamError {
  if (cause instanceof PgpError && cause.refusal) {
    return new UpstreamError({
      code: 'SIGNATURE_REFUSED',
      message: `${url}: signature refused: ${why}${keyring ? ` (checked against ${keyring.label})` : ''}`,
      subject: url,
      hint: REFUSAL_HINTS[cause.refusal.reason],
      cause,
    });
  }
  return new UpstreamError({
    code: 'SIGNATURE_INVALID',
    message: `${url}: signature check failed (${why})${keyring ? ` against ${keyring.label}` : ''}`,
    subject: url,
    hint: 'the repository is not signed by the keyring given in "signed-by", or the file was altered in transit; check the keyring (or fingerprint) and the mirror',
  });
}

/** Parses Release fields (deb822, one stanza); multi-line hash sections are kept as their raw text. */
export function parseRelease(text: string): Omit<VerifiedRelease, 'url' | 'digest' | 'signer'> {
  const fields: Record<string, string> = {};
  let key = '';
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (key) fields[key] += `\n${line.trim()}`;
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    key = line.slice(0, i).trim();
    fields[key] = line.slice(i + 1).trim();
  }
  const files = new Map<string, ReleaseFile>();
  const sha = Object.entries(fields).find(([k]) => k.toLowerCase() === 'sha256')?.[1] ?? '';
  for (const l of sha.split('\n')) {
    const m = /^([0-9a-f]{64})\s+(\d+)\s+(\S+)$/.exec(l.trim());
    if (m) files.set(m[3]!, { sha256: m[1]!, size: Number(m[2]) });
  }
  const date = (k: string) => {
    const v = fields[k];
    const t = v ? Date.parse(v.replace(/\bUTC\b/, 'GMT')) : NaN;
    return Number.isFinite(t) ? new Date(t) : undefined;
  };
  const validUntil = date('Valid-Until');
  const d = date('Date');
  return {
    fields,
    files,
    acquireByHash: /^yes$/i.test(fields['Acquire-By-Hash'] ?? ''),
    ...(validUntil ? { validUntil } : {}),
    ...(d ? { date: d } : {}),
  };
}
