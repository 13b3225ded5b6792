/**
 * The middle of verify's checklist: bundle.json parses as an index, it is the bundle its parts belong to, it
 * has not expired, and it agrees with the blobs in the folder.
 */
import { hexOf } from '../../store/digest.js';
import { limits } from '../../util/limits.js';
import { type BundleIndex, bundleIndexSchema } from '../index.js';
import { BLOBS_DIR, INDEX, PARTS, SUMS, blobPath } from '../layout.js';
import type { VerifyState } from './state.js';

/** bundle.json parses as JSON and as an index of this version (bundle/index.ts's schema); the first issue is named. */
export async function readIndex(s: VerifyState): Promise<void> {
  if (s.reader.entries.get(INDEX)?.kind !== 'file') return; // already reported as missing or not a file
  try {
    const raw: unknown = JSON.parse((await s.reader.read(INDEX, limits.maxIndexBytes)).toString('utf8'));
    const r = bundleIndexSchema.safeParse(raw);
    if (!r.success) {
      const i = r.error.issues[0]!;
      s.problems.push({ code: 'BAD_INDEX', path: INDEX, message: `${INDEX}: ${i.path.join('.')}: ${i.message}` });
    } else s.index = r.data as BundleIndex;
  } catch (err) {
    s.problems.push({ code: 'BAD_INDEX', path: INDEX, message: `${INDEX}: not valid JSON (${(err as Error).message})` });
  }
}

/** A split bundle's parts.json names the same bundle as bundle.json: not the parts of another bundle. */
export function partsMatchIndex(s: VerifyState): void {
  const { index } = s;
  const split = s.reader.parts;
  if (!index || !split) return;
  if (split.manifest.name === index.name && split.manifest.version === index.version) return;
  s.problems.push({
    code: 'BAD_PARTS',
    path: PARTS,
    message: `${PARTS} is for ${split.manifest.name} ${split.manifest.version}, ${INDEX} for ${index.name} ${index.version}: parts of another bundle`,
    expected: `${index.name} ${index.version}`,
    found: `${split.manifest.name} ${split.manifest.version}`,
  });
}

/**
 * Freeze protection (the TUF specification's client workflow, "check for a freeze attack" against each role's
 * `expires`): a bundle past its `expires` is refused, so an old, validly signed bundle cannot be replayed for ever. --allow-expired accepts
 * it knowingly (reported as expired, not as a problem). Rollback, a lower version than the box has installed,
 * needs the box's install journal: install checks it.
 */
export function checkExpiry(s: VerifyState): void {
  const { index, now } = s;
  if (!index?.expires) return;
  s.expired = Date.parse(index.expires) <= now.getTime();
  if (!s.expired || s.options.allowExpired) return;
  const days = Math.floor((now.getTime() - Date.parse(index.expires)) / 86_400_000);
  s.problems.push({
    code: 'EXPIRED',
    path: INDEX,
    message: `${INDEX}: ${index.name} ${index.version} expired on ${index.expires}${days > 0 ? ` (${days} day(s) ago)` : ''}; get a current bundle, or accept it knowingly with --allow-expired`,
    expected: `before ${index.expires}`,
    found: now.toISOString(),
  });
}

/**
 * bundle.json and the blobs agree both ways (content addressing, as an OCI image layout's blobs/sha256/):
 * every artifact has its blob, of its size, listed in SHA256SUMS under its digest, and every blob belongs to an
 * artifact. A delta's artifacts whose blobs it leaves to its base are set aside for the base step.
 */
export function indexVsBlobs(s: VerifyState): void {
  const { index, reader, problems } = s;
  if (!index) return;
  const fromBase = new Set(index.base?.blobs ?? []);
  const referenced = new Set<string>();
  for (const a of index.artifacts) {
    const p = blobPath(hexOf(a.digest));
    referenced.add(p);
    const e = reader.entries.get(p);
    if (!e && fromBase.has(a.digest)) {
      if (!s.needBase.some((b) => b.digest === a.digest)) s.needBase.push(a);
      continue;
    }
    if (!e) {
      problems.push({ code: 'MISSING_BLOB', path: p, message: `${a.id}: its blob ${p} is missing` });
      continue;
    }
    if (e.size !== a.size) {
      problems.push({
        code: 'SIZE_MISMATCH',
        path: p,
        message: `${a.id}: ${p} has ${e.size} bytes, bundle.json says ${a.size}`,
        expected: String(a.size),
        found: String(e.size),
      });
    }
    const listed = s.sums.list.get(p);
    if (listed !== undefined && listed !== hexOf(a.digest)) {
      problems.push({
        code: 'DIGEST_MISMATCH',
        path: p,
        message: `${a.id}: ${SUMS} and bundle.json disagree about ${p}`,
        expected: hexOf(a.digest),
        found: listed,
      });
    }
  }
  for (const [path, e] of reader.entries) {
    if (e.kind === 'file' && path.startsWith(`${BLOBS_DIR}/`) && !referenced.has(path) && !s.ignored.includes(path)) {
      problems.push({ code: 'UNREFERENCED_BLOB', path, message: `${path}: a blob that no artifact in bundle.json names` });
    }
  }
}
