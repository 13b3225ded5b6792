/**
 * The first steps of verify's checklist: can the bundle be read, what does SHA256SUMS list, is it signed by
 * the release key, and is the folder exactly what SHA256SUMS lists.
 */
import { IntegrityError } from '../../util/errors.js';
import { limits } from '../../util/limits.js';
import { bundleIndexSchema } from '../index.js';
import { INDEX, PARTS, PART_NAME, SUMS, SUMS_SIG, UNLISTED_ALLOWED, isBundlePath, isOsMetadata } from '../layout.js';
import { readSums } from '../load.js';
import type { BundleEntry } from '../reader.js';
import type { VerifyState } from './state.js';

/**
 * A split bundle has every part, each whole. Nothing past a missing or cut part can be read, so the checklist
 * stops here, naming the parts (and, from the bundle.json that lies loose beside them, the bundle).
 */
export async function partsPresent(s: VerifyState): Promise<void> {
  const split = s.reader.parts;
  if (!split || split.broken.length === 0) return;
  for (const b of split.broken) {
    s.problems.push({
      code: 'PART_MISSING',
      path: b.file,
      message: `${b.file} (part ${b.index + 1} of ${split.files.length}): ${b.why}; copy it again from the build host`,
    });
  }
  const text = await s.reader.read(INDEX, limits.maxIndexBytes).then(
    (b) => b.toString('utf8'),
    () => undefined,
  );
  const idx = bundleIndexSchema.safeParse(parseOrUndefined(text));
  s.stopped = idx.success ? { name: idx.data.name, version: idx.data.version } : {};
}

/**
 * SHA256SUMS, in coreutils `sha256sum` format (parsed strictly: sums.ts), read once: the bytes the signature
 * is checked over are the bytes whose list is trusted. Without it nothing in the folder can be trusted, so
 * its absence is an error, not a problem in the list.
 */
export async function readChecksums(s: VerifyState): Promise<void> {
  const { reader } = s;
  if (!reader.entries.has(SUMS)) {
    throw new IntegrityError({
      code: 'BAD_SUMS',
      message: `${reader.location}: ${reader.entries.has(INDEX) ? `${SUMS} is missing` : 'is not a vault-bundle bundle (no SHA256SUMS)'}`,
      subject: reader.location,
      hint: 'give the folder written by "vault-bundle build"; without its checksum list nothing in it can be trusted',
    });
  }
  s.sums = await readSums(reader);
}

/**
 * With --key: SHA256SUMS.asc is an OpenPGP detached signature (RFC 9580 §5.2.1 type 0x00, a binary-document signature as
 * `gpg --detach-sign` makes) over SHA256SUMS's exact bytes, by one of the given keys, valid at `now`. A key
 * means a signature is required: a copy with SHA256SUMS.asc deleted must not pass as merely "unsigned".
 */
export async function checkSignature(s: VerifyState): Promise<void> {
  const keys = s.keys ?? [];
  const expected = keys.map((k) => k.getFingerprint().toUpperCase());
  if (s.signature.status === 'unsigned') {
    s.signature = { status: 'unsigned', expected };
    // A policy that does not require signatures lets an unsigned bundle through (install warns); a signed one is checked.
    if (s.signatureOptional) return;
    s.problems.push({
      code: 'UNSIGNED',
      path: SUMS_SIG,
      message: `${SUMS_SIG}: missing; the bundle is not signed, and ${s.keySource} requires a signature by ${s.keySource === '--key' ? 'that key' : 'one of its release keys'}`,
      expected: expected.join(', '),
    });
    return;
  }
  const { checkDetached } = await import('../signature.js'); // OpenPGP only where there is a signature to check
  const signature = await checkDetached(s.sums.bytes, await s.reader.read(SUMS_SIG, limits.maxIndexBytes), keys, s.now);
  s.signature = signature;
  if (signature.status === 'invalid') {
    s.problems.push({
      code: signature.refused ? 'SIGNATURE_REFUSED' : 'SIGNATURE_INVALID',
      path: SUMS_SIG,
      message: signature.reason ?? `${SUMS_SIG}: does not verify`,
      expected: expected.join(', '),
      ...(signature.signer ? { found: signature.signer } : {}),
    });
  }
}

/**
 * The folder is exactly what SHA256SUMS lists, both ways: every entry is listed (OS metadata excepted and
 * ignored), is a plain file, and every listed path is there. An unlisted file where the bundle's own files go
 * is damage (UNLISTED_FILE); one anywhere else is only left over (EXTRA_FILE).
 */
export function compareListing(s: VerifyState): void {
  const { reader, problems } = s;
  for (const [path, e] of reader.entries) {
    if (e.kind === 'dir') continue;
    const listed = s.sums.list.has(path) || UNLISTED_ALLOWED.has(path);
    if (!listed && isOsMetadata(path)) s.ignored.push(path);
    else if (e.kind !== 'file') problems.push({ code: 'NOT_A_FILE', path, message: `${path}: a ${e.what ?? e.kind} has no place in a bundle` });
    else if (!listed && isBundlePath(path)) problems.push({ code: 'UNLISTED_FILE', path, message: `${path}: ${whyUnlisted(path)}` });
    else if (!listed) {
      problems.push({ code: 'EXTRA_FILE', path, message: `${path}: not in the bundle (not listed in ${SUMS}); nothing reads it` });
    }
  }
  const split = reader.parts;
  for (const x of split?.extra ?? []) {
    problems.push({
      code: 'PART_EXTRA',
      path: x.file,
      message: `${x.file} (part ${x.index + 1} of ${split!.files.length}) ${x.why}: those bytes are not part of the bundle (nothing reads them); copy the bundle again from the release medium`,
    });
  }
  for (const path of s.sums.list.keys()) {
    const kind: BundleEntry['kind'] | undefined = reader.entries.get(path)?.kind;
    if (kind === undefined) problems.push({ code: 'MISSING_FILE', path, message: `${path}: listed in ${SUMS} but missing` });
    // A directory (or link) where a listed file should be is neither missing nor hashable: name it.
    else if (kind !== 'file') {
      problems.push({ code: 'NOT_A_FILE', path, message: `${path}: listed in ${SUMS} as a file, but it is a ${kind}` });
    }
  }
}

/** JSON, or undefined for none or for text that is not JSON (a damaged bundle.json only leaves the bundle unnamed). */
function parseOrUndefined(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

function whyUnlisted(path: string): string {
  if (path === PARTS) {
    return `not listed in ${SUMS}: its part sizes and hashes are not covered (a split bundle built before ${SUMS} listed ${PARTS}: rebuild it)`;
  }
  if (PART_NAME.test(path)) {
    return `a part that ${PARTS} does not list (left from another copy of a bundle, or added): nothing reads it`;
  }
  return `not listed in ${SUMS}, though the bundle's own files go there (${SUMS} edited, or another bundle copied into this folder)`;
}
