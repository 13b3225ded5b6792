import { createHash } from 'node:crypto';
import * as CDX from '@cyclonedx/cyclonedx-library';
import type { SbomSubject } from './subject.js';
import type { RuntimeFile } from '../runtime/carry.js';
import { BLOBS_DIR } from '../store/store.js';
import { hexOf } from '../store/digest.js';
import type { Locked, SourceKind } from '../sources/source.js';
import { installOf } from './install.js';
import { cdxLicense, licenceProperties } from './licence-facts.js';
import { localVersionFrom, npmName, npmPurl, runtimePackageRef, sriHash } from './names.js';

const { Models: M, Enums: E } = CDX;
const SPEC = CDX.Spec.Spec1dot6;

const componentType: Record<SourceKind, CDX.Enums.ComponentType> = {
  apt: E.ComponentType.Library,
  pip: E.ComponentType.Library,
  hf: E.ComponentType.MachineLearningModel,
  file: E.ComponentType.File,
};

/**
 * CycloneDX 1.6 JSON generated from the bundle index alone (so the SBOM cannot disagree with the lock).
 * Deterministic: the serial number derives from the content, the timestamp is the bundle's `created`.
 */
export function sbomJson(index: SbomSubject): string {
  const bom = new M.Bom();
  bom.serialNumber = `urn:uuid:${uuidFrom(index)}`;
  bom.metadata.timestamp = new Date(index.created);
  bom.metadata.tools.components.add(new M.Component(E.ComponentType.Application, index.tool.name, { version: index.tool.version }));
  const root = new M.Component(E.ComponentType.Application, index.name, {
    version: index.version,
    bomRef: `bundle:${index.name}@${index.version}`,
    description: index.description,
  });
  bom.metadata.component = root;
  const refs = new Map<string, CDX.Models.Component>();
  const models = new Map<string, CDX.Models.Component>();
  for (const a of index.artifacts) {
    const c = component(a);
    refs.set(a.id, c);
    if (a.kind === 'hf' && a.meta?.repo && a.meta.commit) {
      // A model is one machine-learning-model component (its purl names repo@commit); its files are sub-components.
      const key = `hf:${a.meta.repo}@${a.meta.commit}`;
      let model = models.get(key);
      if (!model) {
        model = modelComponent(a, a.meta.repo, a.meta.commit, key);
        models.set(key, model);
        bom.components.add(model);
        root.dependencies.add(model.bomRef);
      }
      model.components.add(c);
      continue;
    }
    bom.components.add(c);
    root.dependencies.add(c.bomRef);
  }
  // The carried runtime is software that runs on the box too.
  for (const rf of index.runtime ?? []) {
    const c = runtimeComponent(rf);
    bom.components.add(c);
    root.dependencies.add(c.bomRef);
  }
  // Dependency edges a source recorded (apt Depends, pip Requires-Dist): meta.dependsOn = "id id id".
  for (const a of index.artifacts) {
    const deps = a.meta?.dependsOn?.split(' ').filter(Boolean) ?? [];
    const c = refs.get(a.id)!;
    for (const d of deps) {
      const target = refs.get(d);
      if (target) c.dependencies.add(target.bomRef);
    }
  }
  // The normalized tree as the library's JsonSerializer would stringify it, without that string and a parse of it
  // (the SBOM is made at a build's last high point; ~3 MB less RSS for a 560-package SBOM, same bytes). The
  // serializer's only other step, making empty or repeated bom-refs unique, has nothing to do: every ref is unique.
  const normalized = new CDX.Serialize.JSON.Normalize.Factory(SPEC).makeForBom().normalize(bom, { sortLists: true }) as unknown as BomJson;
  return `${JSON.stringify(forConsumers(normalized), null, 2)}\n`;
}

/** A model: one machine-learning-model component (its purl names repo@commit) that holds its files. */
function modelComponent(a: Locked, repo: string, commit: string, key: string): CDX.Models.Component {
  const meta = a.meta ?? {};
  const [ns, name] = repo.split('/') as [string, string];
  const model = new M.Component(E.ComponentType.MachineLearningModel, name, {
    group: ns,
    version: commit,
    purl: a.purl as unknown as CDX.Models.Component['purl'],
    bomRef: key,
  });
  if (meta.license) model.licenses.add(cdxLicense(meta.license));
  for (const [k, v] of licenceProperties(meta)) model.properties.add(new M.Property(k, v));
  model.properties.add(new M.Property('vault-bundle:kind', 'hf'));
  if (meta.origin === 'local') {
    // A local folder: no Hub revision to claim, and the version may be no Hub commit at all.
    model.properties.add(new M.Property('vault-bundle:origin', 'local folder'));
    model.properties.add(new M.Property('vault-bundle:version-from', localVersionFrom(meta.versionFrom)));
  } else model.properties.add(new M.Property('vault-bundle:revision', meta.revision ?? ''));
  return model;
}

/** A file of the carried runtime, with the npm packages packed into it. */
function runtimeComponent(rf: RuntimeFile): CDX.Models.Component {
  const c = new M.Component(E.ComponentType.Application, rf.name, {
    version: rf.version,
    purl: rf.purl as unknown as CDX.Models.Component['purl'],
    bomRef: `runtime:${rf.path}`,
  });
  c.hashes.set(E.HashAlgorithm['SHA-256'], hexOf(rf.digest));
  c.properties.add(new M.Property('vault-bundle:path', rf.path));
  if (rf.origin) c.properties.add(new M.Property('vault-bundle:origin', rf.origin));
  // The npm packages packed into the script run on the box too: listed, so audit and scanners see them.
  for (const p of rf.packages ?? []) {
    const sub = new M.Component(E.ComponentType.Library, npmName(p.name).name, {
      ...(npmName(p.name).group ? { group: npmName(p.name).group } : {}),
      version: p.version,
      purl: npmPurl(p.name, p.version) as unknown as CDX.Models.Component['purl'],
      bomRef: runtimePackageRef(rf.path, p),
    });
    if (p.license) sub.licenses.add(cdxLicense(p.license));
    const sri = sriHash(p.integrity); // package-lock.json's integrity of the registry tarball
    if (sri) sub.hashes.set(E.HashAlgorithm[sri.alg], sri.hex);
    sub.properties.add(new M.Property('vault-bundle:kind', 'npm'));
    if (p.bytes !== undefined) sub.properties.add(new M.Property('vault-bundle:bytes-in-script', String(p.bytes)));
    c.components.add(sub);
  }
  return c;
}

interface BomJson {
  metadata?: { timestamp?: string };
  dependencies?: { ref: string; dependsOn?: string[] }[];
}

/**
 * What strict consumers need beyond the schema: cdxgen's `cdx-validate --strict` wants `dependsOn` on every
 * `dependencies` entry (`[]` for a leaf), and `cdx-convert` to SPDX 3 takes a timestamp in whole seconds only.
 */
function forConsumers(bom: BomJson): BomJson {
  if (bom.metadata?.timestamp) bom.metadata.timestamp = bom.metadata.timestamp.replace(/\.\d+Z$/, 'Z');
  for (const d of bom.dependencies ?? []) d.dependsOn ??= [];
  return bom;
}

function component(a: Locked): CDX.Models.Component {
  const isModelFile = a.kind === 'hf' && a.meta?.path !== undefined;
  const c = new M.Component(isModelFile ? E.ComponentType.File : componentType[a.kind], isModelFile ? a.meta!.path! : a.name, {
    version: a.version,
    ...(isModelFile ? {} : { purl: a.purl as unknown as CDX.Models.Component['purl'] }),
    bomRef: a.id,
  });
  if (isModelFile) c.properties.add(new M.Property('vault-bundle:git-oid', a.meta!.gitOid ?? ''));
  c.hashes.set(E.HashAlgorithm['SHA-256'], hexOf(a.digest));
  if (/^https?:/.test(a.url)) {
    c.externalReferences.add(new M.ExternalReference(a.url, E.ExternalReferenceType.Distribution));
  }
  const lic = a.meta?.license;
  if (lic) c.licenses.add(cdxLicense(lic));
  for (const [k, v] of licenceProperties(isModelFile ? undefined : a.meta)) c.properties.add(new M.Property(k, v));
  c.properties.add(new M.Property('vault-bundle:kind', a.kind));
  c.properties.add(new M.Property('vault-bundle:blob', `${BLOBS_DIR}/${hexOf(a.digest)}`));
  c.properties.add(new M.Property('vault-bundle:size', String(a.size)));
  c.properties.add(new M.Property('vault-bundle:provenance', a.provenance.kind));
  const inst = installOf(a);
  if (inst) {
    c.properties.add(new M.Property('vault-bundle:install-dest', inst.dest));
    c.properties.add(new M.Property('vault-bundle:install-mode', inst.mode));
    if (inst.flags.length) c.properties.add(new M.Property('vault-bundle:install-mode-flags', inst.flags.join(',')));
  }
  if (a.provenance.kind === 'signed-index') {
    c.properties.add(new M.Property('vault-bundle:signed-index', a.provenance.index));
    c.properties.add(new M.Property('vault-bundle:signer', a.provenance.signer));
  } else if (a.provenance.kind === 'index-hash') {
    c.properties.add(new M.Property('vault-bundle:index', a.provenance.index));
  }
  return c;
}

/** A name-based UUID (RFC 4122 §4.3 layout, sha256 instead of sha1) of what the bundle is. */
function uuidFrom(index: SbomSubject): string {
  const h = createHash('sha256')
    .update(`${index.name}\0${index.version}\0${index.created}\0`)
    .update(index.artifacts.map((a) => `${a.id}=${a.digest}`).join('\n'))
    .digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** Validates SBOM JSON against the CycloneDX 1.6 schema; returns null when valid, else the errors. */
export async function validateSbom(json: string): Promise<unknown> {
  return new CDX.Validation.JsonStrictValidator(SPEC.version).validate(json);
}
