import { createHash } from 'node:crypto';
import { type Digest, digestOf } from '../../store/digest.js';
import { UpstreamError } from '../../util/errors.js';
import { PgpError } from '../../pgp/errors.js';
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
 * Fetches and verifies a suite's Release (Debian RepositoryFormat, "Release files"): InRelease (clearsigned)
 * first, else Release + Release.gpg (detached). The signature is checked before a single field is parsed.
 */
export async function fetchRelease(
  fetchBytes: (url: string, maxLength: number) => Promise<Buffer>,
  base: string,
  keyring: Keyring,
  o: { now: Date; checkValidUntil: boolean; subject: string },
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
    throw sigError(url, (err as Error).message, keyring);
  }
}

/** Release + Release.gpg (detached). */
async function checkReleaseGpg(data: Buffer, sig: Buffer, keyring: Keyring, url: string, date: Date): Promise<string> {
  try {
    return (await verifyDetached(data, await readSignature(sig), keyring.keys, date)).signer;
  } catch (err) {
    throw sigError(url, (err as Error).message, keyring);
  }
}

function sigError(url: string, why: string, keyring?: Keyring): UpstreamError {
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
