import type { LoadedBundle } from '../bundle/load.js';
import { IntegrityError, UsageError } from '../util/errors.js';
import { aptEntries } from './apt.js';
import { hubEntries } from './hub.js';
import { type SitePlan, fileEntries, rawEntries, topEntries } from './plan.js';
import { pypiEntries } from './pypi.js';

/** The whole site of a bundle: the bundle's own files, apt/, simple/ and wheels/, hf/, files/. */
export async function sitePlan(b: LoadedBundle): Promise<SitePlan> {
  const apt = aptEntries(b);
  const pip = await pypiEntries(b);
  const hub = hubEntries(b);
  const files = fileEntries(b);
  const top = await topEntries(b);
  const sig = top.find((e) => e.url === 'SHA256SUMS.asc');
  const raw = [...rawEntries(b), ...(sig ? [{ ...sig, url: `bundle/${sig.url}`, file: `bundle/${sig.file}` }] : [])];
  const entries = [...top, ...(apt?.entries ?? []), ...pip, ...hub.entries, ...files, ...raw];
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.url)) {
      throw new IntegrityError({
        code: 'MISSING_FILE',
        message: `${b.location}: two things of the bundle want the site path ${JSON.stringify(e.url)}`,
        subject: e.url,
        hint: 'rename one of them in the manifest and build again',
      });
    }
    seen.add(e.url);
  }
  return {
    name: b.index.name,
    version: b.index.version,
    entries,
    pathsInfo: hub.pathsInfo,
    has: {
      ...(apt ? { apt: { signed: apt.signed } } : {}),
      pip: pip.length > 0,
      hf: hub.repos.map((r) => ({ type: r.type, repo: r.repo, revisions: r.revisions })),
      files: files.length,
    },
  };
}

/** What a client on the site's network types, for the site at `base` (`http://host:port`, no slash at the end). */
export function clientLines(plan: SitePlan, base: string, o: { keyPath?: string } = {}): string[] {
  const out: string[] = [];
  if (plan.has.apt) {
    const opt = plan.has.apt.signed ? `signed-by=${o.keyPath ?? '/etc/apt/keyrings/<release-key>.gpg'}` : 'trusted=yes';
    out.push(`apt:  echo 'deb [${opt}] ${base}/apt ./' > /etc/apt/sources.list.d/${plan.name}.list && apt-get update`);
  }
  if (plan.has.pip) {
    out.push(`pip:  pip install --index-url ${base}/simple/ --require-hashes -r ${base}/pip/requirements.lock`);
    out.push(`      (or --no-index --find-links ${base}/wheels/)`);
  }
  if (plan.has.hf.length > 0) out.push(`hf:   export HF_ENDPOINT=${base}/hf HF_HUB_OFFLINE=0   (${plan.has.hf.map((r) => r.repo).join(', ')})`);
  if (plan.has.files > 0) out.push(`files: ${base}/files/<name>`);
  out.push(`check: ${base}/SHA256SUMS${plan.entries.some((e) => e.url === 'SHA256SUMS.asc') ? ` and ${base}/SHA256SUMS.asc` : ''}, ${base}/bundle.json`);
  return out;
}

/**
 * The bundle a site is made from: verified first (every byte against SHA256SUMS, the signature with `key`), so a
 * site never serves what the bundle's own checks refuse. A delta bundle is refused (its base holds blobs it lacks).
 */
export async function verifiedBundle(location: string, o: { key?: string; signal?: AbortSignal; threads?: number } = {}): Promise<LoadedBundle> {
  const { verifyBundle, verifyError } = await import('../bundle/verify.js');
  const { loadBundle } = await import('../bundle/load.js');
  const v = await verifyBundle(location, {
    ...(o.key ? { key: o.key } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
  });
  const problems = v.problems.filter((p) => p.code !== 'EXTRA_FILE');
  if (!v.ok && problems.length > 0) throw verifyError({ ...v, problems });
  const b = await loadBundle(location);
  if (b.index.base) {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${location}: a delta bundle over ${b.index.base.name} ${b.index.base.version}: it lacks the blobs its base holds`,
      subject: location,
      hint: 'serve or export a full bundle (build without --base)',
    });
  }
  return b;
}
